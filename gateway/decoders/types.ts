/**
 * What every wire format provides (one file per format in this directory):
 * for MQTT formats, the topic layout and access rules of a connection plus a
 * decoder from (message type, payload) to typed signals; for serial formats, a
 * streaming frame parser. Command encoders live in ../encoders/.
 */
import { createHash } from 'node:crypto';
import type { AclReason } from '../../core/protocol/acl.js';
import type { CredentialFormat, Signal } from '../../core/signals.js';
import type { DeviceInfo, Site } from '../../core/site/model.js';

export interface DecodeContext {
  readonly site: string;
  /** The device the message concerns (for a bridge's message: the bridged sensor). */
  readonly device: DeviceInfo;
  readonly topic: string;
  /** Gateway receive time, ms UTC. */
  readonly receivedAt: number;
  /** Unique per received message (gateway run id + counter), for messages without their own sequence. */
  readonly messageId: string;
  /** Device time accepted if within [receivedAt - maxPastMs, receivedAt + maxFutureMs]. */
  readonly maxPastMs: number;
  readonly maxFutureMs: number;
}

export type RejectReason = 'payload_too_large' | 'malformed_json' | 'schema' | 'bad_value';

/** ok with no signals: a message of the format that carries nothing we record (e.g. Tasmota INFO1). */
export type DecodeResult =
  | { readonly ok: true; readonly signals: readonly Signal[] }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

/** Which device an MQTT message concerns, and which of the format's message types it is. */
export interface Route {
  readonly device: DeviceInfo;
  readonly channel: string;
}

export type PublishDecision =
  /** route null: allowed and acknowledged, but nothing to record (e.g. a bridge's message about a device not in the site file). */
  | { readonly ok: true; readonly route: Route | null; readonly ignored?: string }
  | { readonly ok: false; readonly reason: AclReason };

/** The access rules of one authenticated MQTT connection, compiled once when it connects. */
export interface ConnectionPolicy {
  /** A will may only be the device's own availability topic. */
  willAllowed(topic: string): boolean;
  publish(topic: string, retain: boolean): PublishDecision;
  subscribe(filter: string): boolean;
  /** Delivery check (defence in depth, e.g. for retained messages). */
  forward(topic: string): boolean;
}

export interface MqttDecoder {
  readonly transport: 'mqtt';
  /** The policy for a connection authenticated as `device` (a device, or a bridge for its sensors). */
  connection(device: DeviceInfo, site: Site): ConnectionPolicy;
  /**
   * The topic filters a connection of `device` publishes what connection().publish routes on (a
   * bridge: its sensors' too). A gateway on an external broker subscribes to them (as shared
   * subscriptions), and the broker's ACL file lets the device write exactly these. Never a filter that
   * reaches another device's topics; empty for a device that has no connection of its own.
   */
  uplinkFilters(device: DeviceInfo, site: Site): readonly string[];
  /**
   * The filters `device` reads its commands on: the broker's ACL lets the device read them and the
   * gateway, their only writer, write them. Empty for a format the gateway sends nothing.
   */
  commandFilters(device: DeviceInfo, site: Site): readonly string[];
  decode(channel: string, payload: Buffer, ctx: DecodeContext): DecodeResult;
}

/** One card read from a serial reader, or a frame that failed its checks. */
export type SerialRead =
  | { readonly ok: true; readonly credential: { readonly format: CredentialFormat; readonly id: string } }
  | { readonly ok: false; readonly reason: 'checksum' | 'parity' | 'framing' | 'oversize'; readonly detail: string };

/** A streaming parser for one serial reader: bytes in (in any chunking), complete reads out. */
export interface SerialParser {
  push(chunk: Uint8Array, now: number): SerialRead[];
}

export interface SerialDecoder {
  readonly transport: 'serial';
  createParser(device: DeviceInfo): SerialParser;
}

export type Decoder = MqttDecoder | SerialDecoder;

/** Whether a device's own time is plausible enough to use (else the receive time is used). */
export function deviceTimeUsable(deviceTs: number | undefined, ctx: DecodeContext): deviceTs is number {
  return deviceTs !== undefined && deviceTs >= ctx.receivedAt - ctx.maxPastMs && deviceTs <= ctx.receivedAt + ctx.maxFutureMs;
}

/**
 * An idempotence key for formats without sequence numbers: the device, a
 * time (the device's own where the payload has one, else the receive time
 * rounded down to `windowMs`) and a digest of topic and payload. A QoS 1
 * redelivery (same bytes) within the window is stored once; two different
 * messages never share a key. See docs/devices.md, "Duplicates".
 */
export function contentKey(device: string, topic: string, payload: Uint8Array, time: number | string, windowMs = 60_000): string {
  const t = typeof time === 'number' ? Math.floor(time / windowMs) * windowMs : time;
  const h = createHash('sha1').update(topic).update('\u0000').update(payload).digest('base64url').slice(0, 16);
  return `${device}:c:${t}:${h}`;
}
