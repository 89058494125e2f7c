/**
 * The journal's writer thread: owns the only writing SQLite connection. Each
 * batch from the main thread becomes one transaction and one fsync; while it
 * runs, the main thread keeps taking MQTT traffic and gathers the next batch
 * (group commit), so an fsync never stalls the event loop.
 *
 * Messages: see ./protocol.ts.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { CLASS_TELEMETRY, CLASS_SYSTEM, migrateJournal, type BatchReply, type ShedInfo, type ToWorker, type WorkerInit } from './protocol.js';

const init = workerData as WorkerInit;
const port = parentPort!;

const db = new Database(init.path);
db.pragma('journal_mode = WAL');
// FULL: the WAL is fsynced at every commit, so an acknowledged signal survives power loss.
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
db.pragma('wal_autocheckpoint = 4000');
migrateJournal(db);

const insert = db.prepare<[string, number, number, number, string]>('INSERT OR IGNORE INTO journal (key, class, ts, at, body) VALUES (?, ?, ?, ?, ?)');
const insertReject = db.prepare<[number, string | null, string, string, string, Buffer]>('INSERT INTO rejects (at, device, topic, reason, detail, payload) VALUES (?, ?, ?, ?, ?, ?)');
const setCursor = db.prepare<[string, number]>('INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq');
// The newest row is never a victim, so a deleted seq can never be handed out again.
const pickVictims = db.prepare<[number, number, number], { seq: number }>(
  'SELECT seq FROM journal WHERE seq > ? AND class = ? AND seq < (SELECT max(seq) FROM journal) ORDER BY seq LIMIT ?',
);
const deleteRange = db.prepare<[number, number, number]>('DELETE FROM journal WHERE seq >= ? AND seq <= ? AND class = ?');
const pruneRejects = db.prepare<[number]>('DELETE FROM rejects WHERE id <= (SELECT max(id) FROM rejects) - ?');

const sinkCursorRow = db.prepare<[string], { seq: number }>('SELECT seq FROM cursors WHERE name = ?').get(init.sinkCursorName);
let sinkCursor = sinkCursorRow?.seq ?? 0;
const pending = [0, 0, 0, 0];
for (const r of db.prepare<[number], { class: number; n: number }>('SELECT class, count(*) AS n FROM journal WHERE seq > ? GROUP BY class').all(sinkCursor)) pending[r.class] = r.n;
let lastSeq = db.prepare<[], { m: number | null }>('SELECT max(seq) AS m FROM journal').get()?.m ?? 0;
let rejectCount = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM rejects').get()?.n ?? 0;
let shedCounter = 0;

const total = () => pending[0]! + pending[1]! + pending[2]! + pending[3]!;

port.postMessage({ type: 'ready', lastSeq, sinkCursor, pending: [...pending], rejectCount });

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'batch':
      port.postMessage(commit(msg));
      return;
    case 'cursor':
      setCursor.run(msg.name, msg.seq);
      if (msg.name === init.sinkCursorName) {
        sinkCursor = msg.seq;
        for (let c = 0; c < 4; c++) pending[c]! -= msg.delivered[c]!;
      }
      return;
    case 'stop':
      db.close();
      port.postMessage({ type: 'stopped' });
      return;
  }
});

function commit(msg: Extract<ToWorker, { type: 'batch' }>): BatchReply {
  const { items, rejects, at } = msg;
  const n = items.length / 4;
  const results = new Array<number>(n).fill(-1);
  let shed: ShedInfo | null = null;
  try {
    db.transaction(() => {
      let room = init.maxPending - total();
      if (room < n) {
        shed = shedTelemetry(n - room + Math.ceil(init.maxPending / 100), at);
        room = init.maxPending - total();
      }
      for (let i = 0; i < n; i++) {
        const cls = items[i * 4 + 1] as number;
        // Access and billing records are never shed; past capacity they are refused (not acknowledged).
        if (room <= 0) continue;
        const r = insert.run(items[i * 4] as string, cls, items[i * 4 + 2] as number, at, items[i * 4 + 3] as string);
        if (r.changes === 1) {
          const seq = Number(r.lastInsertRowid);
          results[i] = seq;
          pending[cls]!++;
          if (seq > lastSeq) lastSeq = seq;
          room--;
        } else {
          results[i] = 0;
        }
      }
      for (const rj of rejects) insertReject.run(rj.at, rj.device, rj.topic, rj.reason, rj.detail, Buffer.from(rj.payload).subarray(0, 1024));
    })();
  } catch (e) {
    const err = e as Error & { code?: string };
    // The transaction rolled back: restore counts from the database's truth.
    recount();
    return { type: 'failed', id: msg.id, code: err.code === 'SQLITE_FULL' ? 'storage_full' : 'io_error', message: err.message, stats: stats() };
  }
  rejectCount += rejects.length;
  if (rejects.length > 0 && rejectCount > init.maxRejects * 1.1) rejectCount -= pruneRejects.run(init.maxRejects).changes;
  return { type: 'committed', id: msg.id, results, shed, stats: stats() };
}

function shedTelemetry(target: number, at: number): ShedInfo | null {
  const victims = pickVictims.all(sinkCursor, CLASS_TELEMETRY, target);
  if (victims.length === 0) return null;
  const fromSeq = victims[0]!.seq;
  const toSeq = victims[victims.length - 1]!.seq;
  deleteRange.run(fromSeq, toSeq, CLASS_TELEMETRY);
  pending[CLASS_TELEMETRY]! -= victims.length;
  const event = {
    kind: 'system' as const,
    key: `system:telemetry_shed:${fromSeq}-${toSeq}:${at}:${++shedCounter}`,
    site: init.site,
    ts: at,
    event: 'telemetry_shed' as const,
    count: victims.length,
    fromSeq,
    toSeq,
  };
  const body = JSON.stringify(event);
  const r = insert.run(event.key, CLASS_SYSTEM, event.ts, at, body);
  const seq = Number(r.lastInsertRowid);
  pending[CLASS_SYSTEM]!++;
  lastSeq = Math.max(lastSeq, seq);
  return { seq, count: victims.length, fromSeq, toSeq, body };
}

function recount(): void {
  pending.fill(0);
  for (const r of db.prepare<[number], { class: number; n: number }>('SELECT class, count(*) AS n FROM journal WHERE seq > ? GROUP BY class').all(sinkCursor)) pending[r.class] = r.n;
  lastSeq = db.prepare<[], { m: number | null }>('SELECT max(seq) AS m FROM journal').get()?.m ?? 0;
}

function stats(): BatchReply['stats'] {
  return { lastSeq, pending: [...pending] };
}
