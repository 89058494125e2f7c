/**
 * Issue 10, retention: old journal rows move to an archive file without
 * breaking verification. A real Journal (writer thread running while rows are
 * archived by another connection): only rows received before the cutoff,
 * covered by a checkpoint and already written to InfluxDB move; the log
 * verifies with the archive, shows the range as deleted without it, and an
 * archived row changed afterwards is named.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { verifyJournal } from '../../core/audit/verify-journal.js';
import type { JournalRecord, OccupancySignal, SignalClass } from '../../core/signals.js';
import { runAuditVerify } from '../../cli/audit.js';
import { archiveJournal } from '../../gateway/journal/archive.js';
import { openJournalAudit } from '../../gateway/journal/audit-source.js';
import { Journal, SINK_CURSOR, type AppendOutcome } from '../../gateway/journal/journal.js';

const DAY = 86_400_000;
const T0 = 1_764_061_200_000;
let now = T0;
const clock = { now: () => now };
const silent = pino({ level: 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const occ = (seq: number): OccupancySignal => ({
  kind: 'occupancy', key: `d1:1:${seq}`, site: 'demo', device: 'd1', deviceKind: 'occupancy-sensor', space: 's', target: null, seq, ts: 1_000 + seq, tsSource: 'device', occupied: seq % 2 === 0,
});

function append(j: Journal, rec: JournalRecord, cls: SignalClass): Promise<AppendOutcome> {
  return new Promise((resolve, reject) => j.append(rec, cls, (err, o) => (err ? reject(err) : resolve(o!))));
}

function verify(dir: string, archives: string[] = []) {
  const s = openJournalAudit(join(dir, 'journal.db'), archives);
  try {
    return verifyJournal(s.input);
  } finally {
    s.close();
  }
}

it('moves settled rows to an archive; the log verifies with it, not without; a changed archived row is named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-archive-'));
  dirs.push(dir);
  const j = new Journal({ path: join(dir, 'journal.db'), site: 'demo', maxPending: 1_000_000, maxRejects: 100, clock, logger: silent, sink: null, audit: { keyPath: join(dir, 'audit-key.pem'), checkpointEveryMs: 3_600_000 } });
  await j.start();
  // Day 0: the audit_key record (seq 1) and signals 2..61; day 40: signals 62..81.
  for (let i = 2; i <= 61; i++) await append(j, occ(i), 'billing');
  now = T0 + 40 * DAY;
  for (let i = 62; i <= 81; i++) await append(j, occ(i), 'billing');
  await j.idle();
  const opts = { journalPath: join(dir, 'journal.db'), beforeAt: T0 + DAY, now: T0 + 40 * DAY, minAgeMs: 30 * DAY, sinkCursor: SINK_CURSOR };

  // A cutoff younger than time.maxPastMs is refused (a device may still resend those records).
  expect(() => archiveJournal({ ...opts, outPath: join(dir, 'young.db'), beforeAt: T0 + 20 * DAY })).toThrow(/older than 30 days/);
  // Nothing checkpointed yet, nothing written to InfluxDB: nothing moves.
  expect(archiveJournal({ ...opts, outPath: join(dir, 'a0.db') })).toMatchObject({ rows: 0, limitedBy: 'checkpoint' });
  expect(existsSync(join(dir, 'a0.db'))).toBe(false);
  expect((await j.checkpoint()).checkpoint.size).toBe(81);
  expect(archiveJournal({ ...opts, outPath: join(dir, 'a0.db') })).toMatchObject({ rows: 0, limitedBy: 'sink' });
  // The sink wrote up to seq 40: the archive stops there.
  j.advanceCursor(SINK_CURSOR, 40);
  await j.checkpoint(); // the writer handles messages in order: the cursor is written when this answers
  expect(archiveJournal({ ...opts, outPath: join(dir, 'a1.db') })).toMatchObject({ rows: 40, fromSeq: 1, toSeq: 40, limitedBy: 'sink' });
  // The sink wrote everything: the rest of day 0 moves, nothing of day 40.
  j.advanceCursor(SINK_CURSOR, 81);
  await j.checkpoint();
  expect(archiveJournal({ ...opts, outPath: join(dir, 'a2.db') })).toMatchObject({ rows: 21, fromSeq: 41, toSeq: 61, limitedBy: 'cutoff' });
  expect(() => archiveJournal({ ...opts, outPath: join(dir, 'a2.db') })).toThrow(/never overwritten/);

  // The gateway goes on: appends and checkpoints after archiving are unaffected.
  for (let i = 82; i <= 90; i++) await append(j, occ(i), 'billing');
  expect((await j.checkpoint()).checkpoint.size).toBe(90);
  expect(j.has('d1:1:70')).toBe(true);
  await j.stop();

  const live = new Database(join(dir, 'journal.db'), { readonly: true });
  expect(live.prepare('SELECT min(seq) AS lo, count(*) AS n FROM journal').get()).toEqual({ lo: 62, n: 29 });
  expect(live.prepare('SELECT count(*) AS n FROM merkle_nodes WHERE level = 0').get()).toEqual({ n: 90 });
  live.close();

  const archives = [join(dir, 'a2.db'), join(dir, 'a1.db')]; // any order
  expect(verify(dir, archives)).toMatchObject({ ok: true, size: 90 });
  const without = verify(dir);
  expect(without.ok).toBe(false);
  expect(without.problems[0]).toMatchObject({ where: 'entry', seq: 1 });
  // Only the first archive: the second's range is missing.
  expect(verify(dir, [join(dir, 'a1.db')]).problems[0]).toMatchObject({ seq: 41 });

  // The CLI reads archives too.
  const lines: string[] = [];
  expect(runAuditVerify(join(dir, 'journal.db'), { out: (l) => lines.push(l), progress: () => undefined }, undefined, archives)).toBe(0);
  expect(lines[0]).toMatch(/with 2 archive\(s\)/);

  // An archived row edited afterwards is named by its seq.
  const a = new Database(join(dir, 'a2.db'));
  a.prepare("UPDATE journal SET body = replace(body, '\"occupied\":true', '\"occupied\":false') WHERE seq = 50").run();
  a.close();
  const broken = verify(dir, archives);
  expect(broken.ok).toBe(false);
  expect(broken.problems[0]).toMatchObject({ where: 'entry', seq: 50 });
});

it('a row both archived and still live (a crash between writing the archive and deleting) is read once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-archive-'));
  dirs.push(dir);
  const j = new Journal({ path: join(dir, 'journal.db'), site: 'demo', maxPending: 1_000_000, maxRejects: 100, clock, logger: silent, sink: null, audit: { keyPath: join(dir, 'audit-key.pem'), checkpointEveryMs: 3_600_000 } });
  now = T0;
  await j.start();
  for (let i = 2; i <= 11; i++) await append(j, occ(i), 'billing');
  now = T0 + 40 * DAY;
  await append(j, occ(12), 'billing');
  await j.checkpoint();
  j.advanceCursor(SINK_CURSOR, 12);
  await j.stop();
  // Copy the live journal, archive from the copy: the original keeps its rows (as after a crash before the delete).
  const copy = join(dir, 'copy.db');
  const src = new Database(join(dir, 'journal.db'), { readonly: true });
  await src.backup(copy);
  src.close();
  expect(archiveJournal({ journalPath: copy, outPath: join(dir, 'a.db'), beforeAt: T0 + DAY, now: T0 + 40 * DAY, minAgeMs: 30 * DAY, sinkCursor: SINK_CURSOR })).toMatchObject({ rows: 11 });
  expect(verify(dir, [join(dir, 'a.db')])).toMatchObject({ ok: true, size: 12 });
});
