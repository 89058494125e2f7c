/**
 * Drains the journal into InfluxDB. It runs on the journal's writer thread
 * (gateway/journal/journal-worker.ts), beside the only writing connection, so
 * that parsing and encoding stay off the event loop that serves MQTT. The cursor advances, durably, only after
 * InfluxDB has confirmed a batch, so a crash or an outage replays from the
 * cursor; the replay is harmless because a record always becomes the same point
 * (core/points.ts), which InfluxDB overwrites rather than duplicates.
 *
 * What to do with a failed write follows the client's verdict: retry with
 * exponential backoff (network, 5xx, 429), split the batch (413), or drop it
 * after recording why (400: InfluxDB refused the data itself, and has written
 * the rest of a partial batch).
 */
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { toPoint } from '../../core/points.js';
import type { JournalRecord, SignalClass } from '../../core/signals.js';
import { toLine } from './line-protocol.js';

/** A journal row as the sink sees it: the record still in its stored (JSON) form. */
export interface SinkRow {
  readonly seq: number;
  readonly cls: SignalClass;
  readonly body: string;
}

/** What the sink needs from the journal. */
export interface SinkSource {
  /** The sink's durable cursor: every record up to it is in InfluxDB. */
  getCursor(): number;
  lastSeq(): number;
  /** Unsent records (after the cursor), shedding accounted for. */
  pending(): number;
  read(afterSeq: number, limit: number): SinkRow[];
  /** Advances the cursor durably; `classes` are those of the records now delivered. */
  advance(seq: number, classes: readonly SignalClass[]): void;
  /** Records why InfluxDB refused a batch (the journal's rejects table). */
  recordRefusal(detail: string): void;
  /** Commit time of the oldest record after `seq`, or null. */
  oldestCommitAfter(seq: number): number | null;
  onCommitted(listener: (rows: readonly SinkRow[]) => void): () => void;
}

/** Counters the sink reports (to Prometheus metrics, across the thread boundary). */
export interface SinkCounters {
  written(points: number): void;
  failed(action: 'retry' | 'split' | 'drop' | 'fatal'): void;
}

export type SinkWriteResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly action: 'retry' | 'split' | 'drop' | 'fatal'; readonly status?: number; readonly message: string; readonly retryAfterMs?: number };

export interface InfluxWriter {
  write(body: string, precision: 'ns'): Promise<SinkWriteResult>;
}

export interface SinkOptions {
  readonly journal: SinkSource;
  readonly writer: InfluxWriter;
  readonly counters: SinkCounters;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Points per write (InfluxDB's own guidance: 5,000–10,000). */
  readonly batchSize: number;
  /** Wait this long for a batch to fill before writing a partial one. */
  readonly lingerMs: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  /** Raise the sink_down alarm after failing this long. */
  readonly alarmAfterMs: number;
  /** Called on 'fatal' results (e.g. database not found) before retrying; may fix the cause. */
  readonly onFatal?: (message: string) => Promise<void>;
}

export interface SinkStats {
  readonly cursor: number;
  readonly state: 'idle' | 'writing' | 'retrying' | 'stopped';
  readonly lastError: string | null;
  readonly failingSince: number | null;
  readonly written: number;
  readonly lagRecords: number;
  readonly lagSeconds: number;
}

export class InfluxSink {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private stopWaiters = new Set<() => void>();
  private cursor = 0;
  private state: SinkStats['state'] = 'stopped';
  private lastError: string | null = null;
  private failingSince: number | null = null;
  private alarmed = false;
  private written = 0;
  private backoff: number;
  private batchLimit: number;
  private unsubscribe: (() => void) | null = null;
  /**
   * Live tail: while the sink is caught up it takes committed records straight
   * from the journal's commit events, without reading and parsing them back.
   * When it falls behind (an outage, a burst larger than the tail), it reads
   * the journal from its cursor until it has caught up again.
   */
  private live: SinkRow[] | null = null;

  constructor(private readonly opts: SinkOptions) {
    this.backoff = opts.minBackoffMs;
    this.batchLimit = opts.batchSize;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.cursor = this.opts.journal.getCursor();
    this.unsubscribe = this.opts.journal.onCommitted((batch) => {
      if (this.live) {
        if (this.live.length + batch.length > this.opts.batchSize * 4) this.live = null;
        else for (const r of batch) this.live.push(r);
      }
      this.poke();
    });
    this.loop = this.run().catch((err: unknown) => {
      this.opts.logger.fatal({ err }, 'influx sink loop crashed');
    });
  }

  /** Stops after the write in flight (if any) settles, waiting at most timeoutMs. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.poke();
    for (const w of this.stopWaiters) w();
    if (this.loop) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.loop, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.state = 'stopped';
  }

  /** Resolves once everything journaled so far is in InfluxDB (for tests and graceful shutdown). */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.opts.journal.lastSeq() <= this.cursor) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  stats(): SinkStats {
    const j = this.opts.journal;
    const oldest = this.running || this.state === 'stopped' ? safe(() => j.oldestCommitAfter(this.cursor)) : null;
    return {
      cursor: this.cursor,
      state: this.state,
      lastError: this.lastError,
      failingSince: this.failingSince,
      written: this.written,
      lagRecords: j.pending(),
      lagSeconds: oldest === null ? 0 : Math.max(0, (this.opts.clock.now() - oldest) / 1000),
    };
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private waitForData(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private available(): number {
    if (this.live) return this.live.length;
    return this.opts.journal.lastSeq() - this.cursor;
  }

  /** The next batch, from the live tail or from the journal on disk. */
  private nextBatch(): SinkRow[] {
    if (this.live) return this.live.slice(0, this.batchLimit);
    return this.opts.journal.read(this.cursor, this.batchLimit);
  }

  private async run(): Promise<void> {
    const { journal, logger } = this.opts;
    while (this.running) {
      if (!this.live && this.cursor >= journal.lastSeq()) this.live = [];
      const available = this.available();
      if (available <= 0) {
        this.state = 'idle';
        await this.waitForData();
        continue;
      }
      if (available < this.batchLimit && this.opts.lingerMs > 0) {
        // Let a batch build up: one write of 5,000 points costs InfluxDB far less than 100 of 50.
        await this.delay(this.opts.lingerMs);
        if (!this.running) break;
      }
      const items = this.nextBatch();
      if (items.length === 0) {
        // Only shed records were left between the cursor and the end.
        this.cursor = journal.lastSeq();
        continue;
      }
      this.state = 'writing';
      const body = encode(items, logger);
      const result = await this.opts.writer.write(body, 'ns');
      if (result.ok) {
        this.commit(items, items.length);
        continue;
      }
      this.opts.counters.failed(result.action);
      switch (result.action) {
        case 'split':
          if (this.batchLimit > 1) {
            this.batchLimit = Math.max(1, Math.floor(this.batchLimit / 2));
            logger.warn({ batchLimit: this.batchLimit }, 'InfluxDB refused the batch as too large: halving it');
            continue;
          }
          this.drop(items, result.message);
          continue;
        case 'drop':
          this.drop(items, result.message);
          continue;
        case 'fatal':
          await this.fail(result.message, result.retryAfterMs);
          try {
            await this.opts.onFatal?.(result.message);
          } catch (err) {
            logger.warn({ err }, 'InfluxDB repair attempt failed');
          }
          continue;
        case 'retry':
          await this.fail(result.message, result.retryAfterMs);
          continue;
      }
    }
  }

  /** Sleeps for ms, or until stop(); new journal data does not cut it short (a backoff must hold). */
  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stopWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopWaiters.add(done);
    });
  }

  private commit(items: readonly SinkRow[], n: number): void {
    const last = items[items.length - 1]!.seq;
    this.opts.journal.advance(
      last,
      items.map((i) => i.cls),
    );
    if (this.live) this.live.splice(0, items.length);
    this.cursor = last;
    this.written += n;
    this.opts.counters.written(n);
    this.backoff = this.opts.minBackoffMs;
    if (this.batchLimit < this.opts.batchSize) this.batchLimit = Math.min(this.opts.batchSize, this.batchLimit * 2);
    if (this.failingSince !== null) {
      const downForS = (this.opts.clock.now() - this.failingSince) / 1000;
      if (this.alarmed) this.opts.logger.warn({ alarm: 'sink_restored', downForS }, 'InfluxDB writes restored');
      this.failingSince = null;
      this.alarmed = false;
      this.lastError = null;
    }
  }

  private drop(rows: readonly SinkRow[], message: string): void {
    const { journal, logger } = this.opts;
    logger.error({ fromSeq: rows[0]!.seq, toSeq: rows[rows.length - 1]!.seq, message }, 'InfluxDB refused points as invalid; batch skipped (still in the journal)');
    journal.recordRefusal(`journal seq ${rows[0]!.seq}..${rows[rows.length - 1]!.seq}: ${message}`.slice(0, 2000));
    this.commit(rows, 0);
  }

  private async fail(message: string, retryAfterMs?: number): Promise<void> {
    const now = this.opts.clock.now();
    this.state = 'retrying';
    this.lastError = message;
    if (this.failingSince === null) this.failingSince = now;
    if (!this.alarmed && now - this.failingSince >= this.opts.alarmAfterMs) {
      this.alarmed = true;
      this.opts.logger.error({ alarm: 'sink_down', since: new Date(this.failingSince).toISOString(), message }, 'InfluxDB unreachable: signals are kept in the journal');
    }
    const delay = Math.max(retryAfterMs ?? 0, this.backoff * (0.5 + Math.random() / 2));
    this.backoff = Math.min(this.opts.maxBackoffMs, this.backoff * 2);
    if (this.running) await this.delay(delay);
  }
}

function encode(rows: readonly SinkRow[], logger: Logger): string {
  const lines: string[] = [];
  for (const row of rows) {
    try {
      lines.push(toLine(toPoint(JSON.parse(row.body) as JournalRecord)));
    } catch (err) {
      logger.error({ err, seq: row.seq }, 'journal record could not be encoded as a point; skipped');
    }
  }
  return lines.join('\n');
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}
