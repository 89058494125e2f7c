/**
 * A period's usage from what InfluxDB holds: the raw records read back
 * (core/points.ts `fromPoint`), in time order, through the same sessioniser
 * the gateway runs live (core/usage/sessioniser.ts). This is what billing,
 * reports and the usage API compute from.
 *
 * Reading goes in windows (six hours by default), so memory stays bounded by
 * two windows of records and the sessioniser's state whatever the period;
 * the next window is asked for while the current one is processed. The
 * run starts `lookbackMs` before the period so that sessions already running
 * at its start (a member in since the morning, a desk occupied overnight) are
 * known from their beginning; the sessions returned are those that overlap
 * the period.
 */
import type { JournalRecord } from '../../core/signals.js';
import { fromPoint, MEASUREMENTS, PointReadError } from '../../core/points.js';
import { DEFAULT_LOOKBACK_MS, PeriodCollector, readStart } from '../../core/usage/period.js';
import type { SessioniserConfig, UnknownGap, UsageSession } from '../../core/usage/sessioniser.js';
import { quoteIdentifier, seriesRows, type InfluxV1Client } from '../../gateway/influx/client.js';

/** The measurements the sessioniser reads in full (and device_health: availability changes only). */
export const USAGE_MEASUREMENTS = [MEASUREMENTS.occupancy, MEASUREMENTS.power, MEASUREMENTS.decision, MEASUREMENTS.session] as const;

export interface ReadbackOptions {
  readonly site: string;
  readonly from: number;
  readonly to: number;
  /** Read this long before `from` (default 24 h, at least the longest presence timeout). */
  readonly lookbackMs?: number;
  readonly windowMs?: number;
  /** Called after each window with how far the read has got (0–1), for progress reports. */
  readonly onProgress?: (done: number) => void;
}

export interface PeriodUsage {
  readonly from: number;
  readonly to: number;
  /** Sessions that overlap [from, to), closed within the read. */
  readonly sessions: UsageSession[];
  /** Sessions still open at `to`, cut there (reason `open`). */
  readonly open: UsageSession[];
  /** Unknown stretches (devices offline) that overlap the period. */
  readonly gaps: UnknownGap[];
  /** Records read and used; rows that were not records of ours (with the first problem). */
  readonly records: number;
  readonly unreadable: { readonly count: number; readonly first: string | null };
}

export class UsageReadError extends Error {
  override readonly name = 'UsageReadError';
}

/** Six hours: long enough that InfluxDB's per-query cost is amortised, short enough to bound memory. */
const DEFAULT_WINDOW_MS = 6 * 3600_000;

/** The records of [from, to) for a site, oldest first, in (ts, key) order within each window. */
export async function* readRecords(
  influx: InfluxV1Client,
  o: { site: string; from: number; to: number; windowMs?: number; onWindow?: (end: number) => void },
  unreadable: { count: number; first: string | null },
): AsyncGenerator<JournalRecord[]> {
  const windowMs = o.windowMs ?? DEFAULT_WINDOW_MS;
  const measurements = USAGE_MEASUREMENTS.map(quoteIdentifier).join(',');
  const site = o.site.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  const ask = (start: number) => {
    const end = Math.min(o.to, start + windowMs);
    const span = `"site" = '${site}' AND time >= ${start}ms AND time < ${end}ms`;
    // Health reports without `online` (battery, link) do not bear on usage (the sessioniser ignores them):
    // only availability changes are read.
    const q = `SELECT * FROM ${measurements} WHERE ${span}; SELECT * FROM ${quoteIdentifier(MEASUREMENTS.health)} WHERE ${span} AND ("online" = 0 OR "online" = 1)`;
    return influx.query(q, { epoch: 'ms' });
  };
  let next = o.from < o.to ? ask(o.from) : null;
  for (let start = o.from; start < o.to; start += windowMs) {
    const end = Math.min(o.to, start + windowMs);
    const results = await next!;
    next = end < o.to ? ask(end) : null;
    // A failed prefetch must not go unhandled while this window is processed; it is awaited next turn.
    next?.catch(() => undefined);
    const batch: JournalRecord[] = [];
    for (const series of results.flatMap((r) => r.series)) {
      if ((series as { partial?: boolean }).partial === true) {
        throw new UsageReadError(`InfluxDB cut the answer for ${series.name} short (max-row-limit); raise max-row-limit or read smaller windows`);
      }
      for (const { row, time } of seriesRows(series)) {
        try {
          batch.push(fromPoint(series.name, row, time as number));
        } catch (err) {
          if (!(err instanceof PointReadError)) throw err;
          unreadable.count++;
          unreadable.first ??= `${series.name} at ${String(time)}: ${err.message}`;
        }
      }
    }
    batch.sort((a, b) => a.ts - b.ts || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield batch;
    o.onWindow?.(end);
  }
}

/** Sessions of a period, computed from InfluxDB through the sessioniser (core/usage/period.ts). */
export async function usageForPeriod(influx: InfluxV1Client, cfg: SessioniserConfig, o: ReadbackOptions): Promise<PeriodUsage> {
  if (!(o.from < o.to)) throw new UsageReadError(`the period is empty: from (${o.from}) must be before to (${o.to})`);
  const readFrom = readStart(cfg, o.from, o.lookbackMs ?? DEFAULT_LOOKBACK_MS);
  const collector = new PeriodCollector(cfg, o.from, o.to);
  const unreadable = { count: 0, first: null as string | null };
  let records = 0;
  const span = o.to - readFrom;
  for await (const batch of readRecords(influx, { site: o.site, from: readFrom, to: o.to, ...(o.windowMs !== undefined && { windowMs: o.windowMs }), onWindow: (end) => o.onProgress?.((end - readFrom) / span) }, unreadable)) {
    collector.push(batch);
    records += batch.length;
  }
  return { from: o.from, to: o.to, ...collector.finish(), records, unreadable };
}
