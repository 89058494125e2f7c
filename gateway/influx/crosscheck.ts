/**
 * InfluxDB against the journal (docs/audit.md, "Cross-check"): for each hour,
 * the records the journal holds (and has handed to the InfluxDB sink) and the
 * points InfluxDB holds are both turned into line protocol the same way
 * (core/points.ts toPoint, read back with fromPoint), counted and hashed. An
 * hour whose counts or hashes differ names the records missing from InfluxDB,
 * the points InfluxDB has that the journal does not, and the records whose
 * point was changed — so a point edited, deleted or forged directly in
 * InfluxDB is found, not only a change to the journal.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { fromPoint, MEASUREMENTS, PointReadError, toPoint } from '../../core/points.js';
import type { JournalRecord } from '../../core/signals.js';
import { SINK_CURSOR } from '../journal/journal.js';
import { toLine } from '../sink/line-protocol.js';
import { quoteIdentifier, seriesRows, type InfluxV1Client } from './client.js';

const HOUR_MS = 3_600_000;

export interface HourCheck {
  /** Start of the hour, epoch ms (record time). */
  readonly hour: number;
  readonly journal: { readonly count: number; readonly sha256: string };
  readonly influx: { readonly count: number; readonly sha256: string };
  readonly same: boolean;
  /** Record keys in the journal whose point InfluxDB lacks or holds differently (at most 20). */
  readonly missingOrChanged: readonly string[];
  /** Points in InfluxDB the journal does not have as such (record key or line, at most 20). */
  readonly extra: readonly string[];
}

export interface CrossCheck {
  readonly ok: boolean;
  readonly hours: readonly HourCheck[];
  /** Journal records of the span the sink has not written yet (left out of the comparison). */
  readonly unsent: number;
  /** InfluxDB rows that are not points of ours. */
  readonly unreadable: number;
}

const digest = (lines: readonly string[]): string => createHash('sha256').update([...lines].sort().join('\n')).digest('hex');
const keyOfLine = (line: string): string => /record_key="((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line.slice(0, 120);

/** The line a record becomes in InfluxDB. */
const lineOf = (r: JournalRecord): string => toLine(toPoint(r));

export async function crossCheck(o: { journalPath: string; influx: InfluxV1Client; site: string; from: number; to: number; onHour?: (done: number, total: number) => void }): Promise<CrossCheck> {
  const db = new Database(o.journalPath, { readonly: true, fileMustExist: true });
  const byHour = new Map<number, string[]>();
  let unsent = 0;
  try {
    const cursor = (db.prepare('SELECT seq FROM cursors WHERE name = ?').get(SINK_CURSOR) as { seq: number } | undefined)?.seq ?? 0;
    for (const r of db.prepare('SELECT seq, ts, body FROM journal WHERE ts >= ? AND ts < ?').iterate(o.from, o.to) as IterableIterator<{ seq: number; ts: number; body: string }>) {
      if (r.seq > cursor) {
        unsent++;
        continue;
      }
      const rec = JSON.parse(r.body) as JournalRecord;
      if (rec.site !== o.site) continue;
      const hour = Math.floor(r.ts / HOUR_MS) * HOUR_MS;
      let list = byHour.get(hour);
      if (!list) byHour.set(hour, (list = []));
      list.push(lineOf(rec));
    }
  } finally {
    db.close();
  }
  const measurements = Object.values(MEASUREMENTS).map(quoteIdentifier).join(',');
  const site = o.site.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  const hours: HourCheck[] = [];
  let unreadable = 0;
  const first = Math.floor(o.from / HOUR_MS) * HOUR_MS;
  const total = Math.ceil((o.to - first) / HOUR_MS);
  for (let h = first, i = 0; h < o.to; h += HOUR_MS, i++) {
    const start = Math.max(h, o.from);
    const end = Math.min(h + HOUR_MS, o.to);
    const results = await o.influx.query(`SELECT * FROM ${measurements} WHERE "site" = '${site}' AND time >= ${start}ms AND time < ${end}ms`, { epoch: 'ms' });
    const influxLines: string[] = [];
    for (const series of results.flatMap((r) => r.series)) {
      for (const { row, time } of seriesRows(series)) {
        try {
          influxLines.push(lineOf(fromPoint(series.name, row, time as number)));
        } catch (err) {
          if (!(err instanceof PointReadError)) throw err;
          unreadable++;
          influxLines.push(`${series.name} at ${String(time)}: not a point of ours`);
        }
      }
    }
    const journalLines = byHour.get(h) ?? [];
    if (journalLines.length === 0 && influxLines.length === 0) {
      o.onHour?.(i + 1, total);
      continue;
    }
    const j = { count: journalLines.length, sha256: digest(journalLines) };
    const x = { count: influxLines.length, sha256: digest(influxLines) };
    const inInflux = new Set(influxLines);
    const inJournal = new Set(journalLines);
    hours.push({
      hour: h,
      journal: j,
      influx: x,
      same: j.sha256 === x.sha256,
      missingOrChanged: journalLines.filter((l) => !inInflux.has(l)).slice(0, 20).map(keyOfLine),
      extra: influxLines.filter((l) => !inJournal.has(l)).slice(0, 20).map(keyOfLine),
    });
    o.onHour?.(i + 1, total);
  }
  return { ok: hours.every((h) => h.same) && unreadable === 0, hours, unsent, unreadable };
}
