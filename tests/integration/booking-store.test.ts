/**
 * No double booking across database connections (server/bookings/store.ts):
 * two writers on one SQLite file (two server processes) each check that a
 * slot is free and then insert it. With BEGIN IMMEDIATE the second waits for
 * the first and then sees its booking; in plain (deferred) transactions both
 * checks pass, and the table's trigger (or SQLite's lock) stops the second.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { heldSlots, immediate, isBookingConflict } from '../../server/bookings/store.js';
import { migrate, openSqlite, type ServerDb } from '../../server/db/database.js';
import type { DB } from '../../server/db/schema.js';

let dir: string;
let one: ServerDb;
let two: ServerDb;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'of-bks-'));
  one = openSqlite(join(dir, 'server.db'));
  await migrate(one);
  two = openSqlite(join(dir, 'server.db'));
  await one.insertInto('members').values({ id: 'mem_1', member_no: 'M-1', name: 'A', name_zh: null, email: null, phone: null, team_id: null, status: 'active', joined_on: '2026-01-01', left_on: null, plan_id: null, plan_valid_from: null, plan_valid_to: null, created_at: 0, updated_at: 0 }).execute();
});
afterEach(async () => {
  await one.destroy();
  await two.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const row = (id: string) => ({
  id, site_id: 's', resource_type: 'equipment' as const, resource_id: 'laser-1', kind: 'booking' as const, member_id: 'mem_1', visitor_id: null, title: null,
  from_ms: 1000, to_ms: 2000, hold_to: 2000, status: 'confirmed' as const, used_at: null, checked_at: null, created_at: 0, created_by: 'test', updated_at: 0,
});

/** Check, wait a little (the other connection gets going), insert: what a booking request does. */
async function book(db: Kysely<DB>, id: string, afterCheck: () => void = () => undefined): Promise<string> {
  const held = await heldSlots(db, 's', 'equipment', 'laser-1', 1000, 2000, 0);
  if (held.length > 0) return 'refused by the check';
  afterCheck();
  await new Promise((r) => setTimeout(r, 50));
  await db.insertInto('bookings').values(row(id)).execute();
  return 'booked';
}

it('BEGIN IMMEDIATE: a second writer (another thread, as another process would be) waits, then its check sees the first booking', async () => {
  // The second writer on its own thread: better-sqlite3 waits for a lock synchronously, which on one thread would
  // also stop the first writer from ever committing.
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const Database = require(workerData.driver);
     const db = new Database(workerData.file);
     db.pragma('busy_timeout = 5000');
     parentPort.once('message', () => {
       db.exec('BEGIN IMMEDIATE');
       const n = db.prepare("SELECT count(*) AS n FROM bookings WHERE resource_id = 'laser-1' AND status IN ('confirmed','used','no_show') AND from_ms < 2000 AND hold_to > 1000").get().n;
       db.exec('ROLLBACK');
       db.close();
       parentPort.postMessage(n === 0 ? 'booked' : 'refused by the check');
     });`,
    { eval: true, workerData: { file: join(dir, 'server.db'), driver: createRequire(import.meta.url).resolve('better-sqlite3') } },
  );
  const second = new Promise<string>((resolve) => worker.once('message', resolve));
  const first = await immediate(one, async (db) => {
    const r = await book(db, 'b1', () => worker.postMessage('go'));
    // Hold the lock a while: the other writer is waiting for it now.
    await new Promise((res) => setTimeout(res, 200));
    return r;
  });
  expect(first).toBe('booked');
  expect(await second).toBe('refused by the check');
  await worker.terminate();
});

it('without it, both checks pass and the trigger refuses the second insert', async () => {
  const results = await Promise.allSettled([one.transaction().execute((db) => book(db, 'b1')), two.transaction().execute((db) => book(db, 'b2'))]);
  const failed = results.filter((r) => r.status === 'rejected');
  expect(failed).toHaveLength(1);
  const reason = (failed[0] as PromiseRejectedResult).reason as Error;
  // Either the trigger (the second writer saw the first's row) or SQLite's own write lock refused it.
  expect(isBookingConflict(reason) || /SQLITE_BUSY|database is locked/.test(reason.message)).toBe(true);
  expect(await one.selectFrom('bookings').select('id').execute()).toHaveLength(1);
});
