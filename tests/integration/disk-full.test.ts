/**
 * F6 (test catalogue): the journal's disk fills up. The data directory is a
 * real 4 MB tmpfs; once it is full, appends are refused with `storage_full`
 * (the sender is not acknowledged and keeps the signal), nothing acknowledged
 * is lost, and appends succeed again when space returns.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OccupancySignal } from '../../core/signals.js';
import { Journal, type JournalError } from '../../gateway/journal/journal.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'of-diskfull-'));
  // A small filesystem of its own (the tests run as root, as on the CI machine).
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
});

afterAll(() => {
  try {
    execFileSync('umount', [dir]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const signal = (i: number): OccupancySignal => ({
  kind: 'occupancy',
  key: `occ-1:1:${i}`,
  site: 'demo',
  device: 'occ-1',
  deviceKind: 'occupancy-sensor',
  // A long space id makes each record about a kilobyte.
  space: `space-${'x'.repeat(900)}`,
  target: { type: 'desk', id: 'd1' },
  seq: i,
  ts: 1_000 + i,
  tsSource: 'device',
  occupied: i % 2 === 0,
});

const append = (j: Journal, i: number) =>
  new Promise<{ ok: true } | { ok: false; err: JournalError }>((resolve) => j.append(signal(i), 'billing', (err) => resolve(err ? { ok: false, err } : { ok: true })));

it('refuses (does not acknowledge) when the disk is full, loses nothing acknowledged, and recovers when space returns', async () => {
  const j = new Journal({ path: join(dir, 'journal.db'), site: 'demo', maxPending: 1_000_000, maxRejects: 100, clock: { now: () => 1_000 }, logger: pino({ level: 'silent' }), sink: null });
  await j.start();
  // Fill the filesystem but for ~200 KB.
  const free = () => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };
  writeFileSync(join(dir, 'filler'), Buffer.alloc(Math.max(0, free() - 200 * 1024)));
  const acked: number[] = [];
  let refusal: JournalError | null = null;
  let i = 0;
  for (; i < 5000 && refusal === null; i++) {
    const r = await append(j, i);
    if (r.ok) acked.push(i);
    else refusal = r.err;
  }
  expect(refusal, 'the disk never filled').not.toBeNull();
  expect(refusal!.code).toBe('storage_full');
  expect(acked.length).toBeGreaterThan(10);
  // Still full: refused again, not acknowledged.
  expect(await append(j, i++)).toMatchObject({ ok: false });

  // Space returns: appends succeed again, on the same journal, without a restart.
  rmSync(join(dir, 'filler'));
  const after = await append(j, i++);
  expect(after).toEqual({ ok: true });
  acked.push(i - 1);
  await j.stop();

  // Everything acknowledged is there, once; nothing refused is.
  const db = new Database(join(dir, 'journal.db'), { readonly: true });
  const keys = (db.prepare('SELECT key FROM journal ORDER BY seq').all() as { key: string }[]).map((r) => r.key);
  db.close();
  expect(keys.filter((k) => k.startsWith('occ-1:'))).toEqual(acked.map((n) => `occ-1:1:${n}`));
}, 60_000);
