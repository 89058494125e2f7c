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
import { classOf, isSignal, type JournalRecord, type Signal, type SignalClass } from '../../core/signals.js';
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

  /** The access runner's hook (set by the gateway when access control runs): sees every record first, decides swipes. */
  private onRecords: ((records: readonly JournalRecord[], receivedAt: number) => readonly JournalRecord[]) | null = null;

  constructor(private readonly opts: IngressOptions) {}

  handleSwipes(hook: (records: readonly JournalRecord[], receivedAt: number) => readonly JournalRecord[]): void {
    this.onRecords = hook;
  }

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

  /**
   * Journals records (signals from a decoder or made by the gateway itself,
   * decisions, sessions); cb after they are durable. A badge swipe is first
   * handed to the access runner, which decides and commands at once and adds
   * its decision to what is journaled with the swipe.
   */
  record(input: readonly JournalRecord[], cb: IngressCallback): void {
    const { metrics, journal } = this.opts;
    let records = input;
    if (this.onRecords) {
      const extra = this.onRecords(input, this.opts.clock.now());
      if (extra.length > 0) records = [...input, ...extra];
    }
    let remaining = records.length;
    let failed: Error | null = null;
    if (remaining === 0) {
      cb(null);
      return;
    }
    for (const signal of records) {
      this.child(this.acceptedBy, metrics.accepted, signal.kind).inc();
      journal.append(signal, isSignal(signal) ? classOf(signal, this.opts.classOf?.(signal)) : classOf(signal), (err, outcome) => {
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
