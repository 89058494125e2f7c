/**
 * Uplink messages → decoder → journal. The callback (which releases the PUBACK)
 * runs only after the journal commit is on disk.
 *
 * A payload that fails to decode is still acknowledged: it is recorded in the
 * rejects table with its reason, and re-sending it could never succeed, so
 * withholding the ack would only make the device retry it forever.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { classOf, type Signal, type SignalClass } from '../../core/signals.js';
import type { DeviceInfo } from '../../core/site/model.js';
import { mqttDecoder } from '../decoders/index.js';
import type { Journal } from '../journal/journal.js';
import type { GatewayMetrics } from '../metrics.js';

export interface IngressOptions {
  readonly site: string;
  readonly journal: Journal;
  readonly metrics: GatewayMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Device time accepted within this window around receive time; else receive time is used. */
  readonly maxPastMs: number;
  readonly maxFutureMs: number;
  /** Per-device class overrides (e.g. a power meter that is only telemetry). */
  readonly classOf?: (signal: Signal) => SignalClass | undefined;
}

export type IngressCallback = (err: Error | null) => void;

export class SignalIngress {
  private readonly runId = randomUUID().slice(0, 8);
  private counter = 0;
  /** prom-client children per label value, looked up once (labels() hashes on every call). */
  private readonly receivedBy = new Map<string, { inc(): void }>();
  private readonly acceptedBy = new Map<string, { inc(): void }>();

  constructor(private readonly opts: IngressOptions) {}

  private child(cache: Map<string, { inc(): void }>, counter: { labels(v: string): { inc(): void } }, value: string): { inc(): void } {
    let c = cache.get(value);
    if (!c) {
      c = counter.labels(value);
      cache.set(value, c);
    }
    return c;
  }

  accept(device: DeviceInfo, channel: string, topic: string, payload: Buffer, cb: IngressCallback): void {
    const { metrics, journal } = this.opts;
    this.child(this.receivedBy, metrics.received, channel).inc();
    const receivedAt = this.opts.clock.now();
    const result = mqttDecoder(device.format).decode(channel, payload, {
      site: this.opts.site,
      device,
      topic,
      receivedAt,
      messageId: this.nextMessageId(),
      maxPastMs: this.opts.maxPastMs,
      maxFutureMs: this.opts.maxFutureMs,
    });
    if (!result.ok) {
      metrics.rejected.labels(result.reason).inc();
      journal.reject({ at: receivedAt, device: device.id, topic, reason: result.reason, detail: result.detail, payload });
      this.opts.logger.debug({ device: device.id, topic, reason: result.reason, detail: result.detail }, 'payload rejected');
      cb(null);
      return;
    }
    this.record(result.signals, cb);
  }

  /** Journals signals (from a decoder, or made by the gateway itself); cb after they are durable. */
  record(signals: readonly Signal[], cb: IngressCallback): void {
    const { metrics, journal } = this.opts;
    let remaining = signals.length;
    let failed: Error | null = null;
    if (remaining === 0) {
      cb(null);
      return;
    }
    for (const signal of signals) {
      this.child(this.acceptedBy, metrics.accepted, signal.kind).inc();
      journal.append(signal, classOf(signal, this.opts.classOf?.(signal)), (err, outcome) => {
        if (err) {
          failed = err;
          metrics.refused.labels(err.code).inc();
        } else if (outcome && !outcome.stored) {
          metrics.duplicates.inc();
        } else {
          metrics.journaled.inc();
        }
        if (--remaining === 0) cb(failed);
      });
    }
  }

  /** A run-unique id for signals the gateway makes itself (timeouts, serial reads). */
  nextMessageId(): string {
    return `${this.runId}.${++this.counter}`;
  }

  /** Messages on topics outside the scheme from an authenticated device are refused by the ACL, never decoded. */
  rejectUnrouted(deviceId: string | null, topic: string, reason: string, detail: string, payload: Buffer): void {
    this.opts.metrics.rejected.labels(reason).inc();
    this.opts.journal.reject({ at: this.opts.clock.now(), device: deviceId, topic, reason, detail, payload });
  }
}
