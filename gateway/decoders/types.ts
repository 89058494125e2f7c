import type { Signal } from '../../core/signals.js';
import type { DeviceInfo } from '../../core/site/model.js';

export interface DecodeContext {
  readonly site: string;
  readonly device: DeviceInfo;
  /** Gateway receive time, ms UTC. */
  readonly receivedAt: number;
  /** Unique per received message (gateway run id + counter), for messages without their own sequence. */
  readonly messageId: string;
  /** Device time accepted if within [receivedAt - maxPastMs, receivedAt + maxFutureMs]. */
  readonly maxPastMs: number;
  readonly maxFutureMs: number;
}

export type RejectReason = 'payload_too_large' | 'malformed_json' | 'schema' | 'bad_value';

export type DecodeResult =
  | { readonly ok: true; readonly signals: readonly Signal[] }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

/** One decoder per wire format: (channel or topic suffix, payload) → typed signals. */
export interface Decoder {
  decode(channel: string, payload: Buffer, ctx: DecodeContext): DecodeResult;
}

/** Whether a device's own time is plausible enough to use (else the receive time is used). */
export function deviceTimeUsable(deviceTs: number | undefined, ctx: DecodeContext): deviceTs is number {
  return deviceTs !== undefined && deviceTs >= ctx.receivedAt - ctx.maxPastMs && deviceTs <= ctx.receivedAt + ctx.maxFutureMs;
}
