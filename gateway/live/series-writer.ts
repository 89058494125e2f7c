/**
 * Writes the live view's derived series (core/usage/live-points.ts) to
 * InfluxDB through the v1 client, beside the journal's sink.
 *
 * These points are not journaled: they are a sample of state that the journal
 * already holds in full (billing recomputes from the raw records). So they are
 * kept in memory while InfluxDB is away — up to `maxPoints` (a day of minutes
 * for a few hundred spaces by default), oldest dropped first — and sent again
 * with the next minute's. What InfluxDB refuses for good (`drop`) is logged and
 * discarded; a configuration problem (`fatal`) is logged and kept for the
 * next attempt. Each point has a fixed time, so sending one twice overwrites it.
 */
import type { Logger } from 'pino';
import type { PointSpec } from '../../core/points.js';
import type { WritePrecision, WriteResult } from '../influx/client.js';
import { toLine } from '../sink/line-protocol.js';

export interface SeriesClient {
  write(body: string, precision: WritePrecision): Promise<WriteResult>;
}

export interface SeriesWriterOptions {
  readonly client: SeriesClient;
  readonly logger: Pick<Logger, 'warn' | 'error' | 'info'>;
  /** Points kept while InfluxDB is away (default 500,000). */
  readonly maxPoints?: number;
}

export interface SeriesStats {
  readonly written: number;
  readonly pending: number;
  readonly dropped: number;
  readonly lastError: string | null;
}

export class SeriesWriter {
  private queue: string[] = [];
  private inFlight: Promise<void> | null = null;
  private written = 0;
  private dropped = 0;
  private lastError: string | null = null;
  private readonly maxPoints: number;

  constructor(private readonly opts: SeriesWriterOptions) {
    this.maxPoints = opts.maxPoints ?? 500_000;
  }

  /** Queues points and starts a write unless one is on its way (the next add or flush sends the rest). */
  add(points: readonly PointSpec[]): void {
    for (const p of points) this.queue.push(toLine(p));
    const over = this.queue.length - this.maxPoints;
    if (over > 0) {
      this.queue.splice(0, over);
      this.dropped += over;
      this.opts.logger.warn({ dropped: over, kept: this.maxPoints }, 'live series: InfluxDB away too long, oldest derived points dropped');
    }
    void this.flush();
  }

  /** Sends what is queued; resolves when that attempt is over (never rejects). */
  flush(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.queue.length === 0) return Promise.resolve();
    const batch = this.queue;
    this.queue = [];
    this.inFlight = this.send(batch).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  stats(): SeriesStats {
    return { written: this.written, pending: this.queue.length, dropped: this.dropped, lastError: this.lastError };
  }

  private async send(batch: string[]): Promise<void> {
    let r: WriteResult;
    try {
      r = await this.opts.client.write(batch.join('\n'), 'ns');
    } catch (err) {
      r = { ok: false, action: 'retry', code: 'network', message: (err as Error).message };
    }
    if (r.ok) {
      if (this.lastError !== null) this.opts.logger.info({ points: batch.length }, 'live series: InfluxDB writes work again');
      this.written += batch.length;
      this.lastError = null;
      return;
    }
    const first = this.lastError === null;
    this.lastError = `${r.code}: ${r.message}`;
    if (r.action === 'drop') {
      this.dropped += batch.length;
      this.opts.logger.error({ code: r.code, message: r.message, points: batch.length }, 'live series: InfluxDB refused the derived points; they are dropped');
      return;
    }
    // retry, split (a day of minutes is far below any body limit), fatal: keep them for the next minute.
    this.queue = [...batch, ...this.queue];
    const log = { code: r.code, message: r.message, pending: this.queue.length };
    if (r.action === 'fatal') this.opts.logger.error(log, 'live series: InfluxDB write failed (check its URL, database and credentials); kept for the next attempt');
    else if (first) this.opts.logger.warn(log, 'live series: InfluxDB write failed; kept and sent again with the next minute');
  }
}
