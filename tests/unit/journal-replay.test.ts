/**
 * Journal.replaySince: every record committed since a time, in commit order,
 * with its commit time, at most the newest `limit` — what the live view
 * rebuilds its state from after a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import type { JournalRecord, OccupancySignal, SignalClass } from '../../core/signals.js';
import { Journal, type AppendOutcome } from '../../gateway/journal/journal.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const occ = (seq: number): OccupancySignal => ({
  kind: 'occupancy', key: `d1:1:${seq}`, site: 'demo', device: 'd1', deviceKind: 'occupancy-sensor', space: 's', target: null, seq, ts: 500 + seq, tsSource: 'device', occupied: seq % 2 === 0,
});

function append(j: Journal, rec: OccupancySignal, cls: SignalClass = 'billing'): Promise<AppendOutcome> {
  return new Promise((resolve, reject) => j.append(rec, cls, (err, o) => (err ? reject(err) : resolve(o!))));
}

it('replays what was committed since a time, oldest first, with commit times, the newest `limit` at most', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'journal-'));
  dirs.push(dir);
  let now = 1_000;
  const j = new Journal({ path: join(dir, 'journal.db'), site: 'demo', maxPending: 1_000_000, maxRejects: 100, clock: { now: () => now }, logger: pino({ level: 'silent' }), sink: null });
  await j.start();
  // Commits at 1000 (seq 1–3), 2000 (4–5, one a duplicate), 3000 (6–9).
  const at: Record<number, number> = {};
  let seq = 0;
  for (const [t, count] of [[1_000, 3], [2_000, 2], [3_000, 4]] as const) {
    now = t;
    await Promise.all(Array.from({ length: count }, () => append(j, occ(++seq))));
    for (let s = seq - count + 1; s <= seq; s++) at[s] = t;
  }
  await append(j, occ(4)); // a redelivery: stored once
  const replay = (since: number, limit?: number) => {
    const got: [number, number][] = [];
    const n = j.replaySince(since, (r: JournalRecord, a) => got.push([(r as OccupancySignal).seq, a]), limit);
    expect(n).toBe(got.length);
    return got;
  };
  const all = Array.from({ length: 9 }, (_, i) => [i + 1, at[i + 1]!] as [number, number]);
  expect(replay(0)).toEqual(all);
  expect(replay(1_000)).toEqual(all);
  expect(replay(1_001)).toEqual(all.slice(3));
  expect(replay(2_000)).toEqual(all.slice(3));
  expect(replay(2_500)).toEqual(all.slice(5));
  expect(replay(3_001)).toEqual([]);
  expect(replay(0, 4)).toEqual(all.slice(5));
  expect(replay(2_500, 100)).toEqual(all.slice(5));
  await j.stop();
});

it('replays nothing from an empty journal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'journal-'));
  dirs.push(dir);
  const j = new Journal({ path: join(dir, 'journal.db'), site: 'demo', maxPending: 1000, maxRejects: 100, clock: { now: () => 1 }, logger: pino({ level: 'silent' }), sink: null });
  await j.start();
  expect(j.replaySince(0, () => expect.fail('no records'))).toBe(0);
  await j.stop();
});
