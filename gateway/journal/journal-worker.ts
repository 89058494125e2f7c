/**
 * The journal's writer thread: owns the only writing SQLite connection, and
 * runs the InfluxDB sink beside it.
 *
 * - Each batch from the main thread becomes one transaction and one fsync;
 *   while it runs, the main thread keeps taking MQTT traffic and gathers the
 *   next batch (group commit), so an fsync never stalls the event loop.
 * - The sink reads what was committed (from memory while caught up, from the
 *   database when behind), encodes line protocol and writes to InfluxDB, all
 *   off the main thread. Its cursor is written by this connection too.
 *
 * - The journal is a Merkle log (docs/audit.md): every row's leaf is appended
 *   in the row's own transaction (./merkle-store.ts), so the tree is durable
 *   exactly when the record is; the hashing runs here, off the main thread.
 *   Checkpoints (signed tree heads) are signed here too, with the gateway's key.
 *
 * Messages: see ./protocol.ts.
 */
import Database from 'better-sqlite3';
import type { KeyObject } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { keyIdOf, rawPublicKey, signCheckpoint, type SignedCheckpoint } from '../../core/audit/checkpoint.js';
import { rootAt } from '../../core/audit/merkle.js';
import type { AuditKeyEvent, SignalClass } from '../../core/signals.js';
import { keyFileStamp, loadOrCreateAuditKey } from './audit-keys.js';
import { SqliteNodeStore } from './merkle-store.js';
import { InfluxV1Client } from '../influx/client.js';
import { InfluxSink, type SinkRow, type SinkSource } from '../sink/influx-sink.js';
import {
  CLASS_BY_CODE,
  CLASS_CODE,
  CLASS_SYSTEM,
  CLASS_TELEMETRY,
  FIELD_SEP,
  RECORD_SEP,
  migrateJournal,
  type BatchReply,
  type CheckpointReply,
  type CheckpointSummary,
  type FromWorker,
  type ShedInfo,
  type SinkReport,
  type ToWorker,
  type WorkerInit,
} from './protocol.js';

const init = workerData as WorkerInit;
const batchBytes = Buffer.from(init.batchBuffer);
const port = parentPort!;
const post = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

const db = new Database(init.path);
db.pragma('journal_mode = WAL');
// FULL: the WAL is fsynced at every commit, so an acknowledged signal survives power loss.
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
db.pragma('wal_autocheckpoint = 4000');
migrateJournal(db);
const tree = new SqliteNodeStore(db);
/** Changes when another connection commits (e.g. `facility audit rotate-key` beside a running gateway). */
let dataVersion = db.pragma('data_version', { simple: true }) as number;

const insert = db.prepare<[string, number, number, number, string]>('INSERT OR IGNORE INTO journal (key, class, ts, at, body) VALUES (?, ?, ?, ?, ?)');
const insertReject = db.prepare<[number, string | null, string, string, string, Buffer]>('INSERT INTO rejects (at, device, topic, reason, detail, payload) VALUES (?, ?, ?, ?, ?, ?)');
const setCursor = db.prepare<[string, number]>('INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq');
const getCursorRow = db.prepare<[string], { seq: number }>('SELECT seq FROM cursors WHERE name = ?');
const readRows = db.prepare<[number, number], { seq: number; class: number; body: string }>('SELECT seq, class, body FROM journal WHERE seq > ? ORDER BY seq LIMIT ?');
const oldestAfter = db.prepare<[number], { at: number }>('SELECT at FROM journal WHERE seq > ? ORDER BY seq LIMIT 1');
// The newest row is never a victim, so a deleted seq can never be handed out again.
const pickVictims = db.prepare<[number, number, number], { seq: number }>(
  'SELECT seq FROM journal WHERE seq > ? AND class = ? AND seq < (SELECT max(seq) FROM journal) ORDER BY seq LIMIT ?',
);
const deleteRange = db.prepare<[number, number, number]>('DELETE FROM journal WHERE seq >= ? AND seq <= ? AND class = ?');
const pruneRejects = db.prepare<[number]>('DELETE FROM rejects WHERE id <= (SELECT max(id) FROM rejects) - ?');

let sinkCursor = getCursorRow.get(init.sinkCursorName)?.seq ?? 0;
const pending = [0, 0, 0, 0];
let lastSeq = 0;
let rejectCount = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM rejects').get()?.n ?? 0;
let shedCounter = 0;
recount();

const total = () => pending[0]! + pending[1]! + pending[2]! + pending[3]!;
const committedListeners = new Set<(rows: readonly SinkRow[]) => void>();

function advanceCursor(name: string, seq: number, delivered: readonly number[]): void {
  setCursor.run(name, seq);
  if (name === init.sinkCursorName) {
    sinkCursor = seq;
    for (let c = 0; c < 4; c++) pending[c]! -= delivered[c]!;
  }
}

function addReject(at: number, device: string | null, topic: string, reason: string, detail: string, payload: Uint8Array): void {
  insertReject.run(at, device, topic, reason, detail, Buffer.from(payload).subarray(0, 1024));
  rejectCount++;
  if (rejectCount > init.maxRejects * 1.1) rejectCount -= pruneRejects.run(init.maxRejects).changes;
}

// ---- checkpoints (docs/audit.md) ---------------------------------------------------------------

interface Audit {
  readonly path: string;
  key: KeyObject;
  keyId: string;
  stamp: string;
}

const origin = `openfacility/${init.site}`;
const keyRow = db.prepare<[string], { retired_at: number | null }>('SELECT retired_at FROM audit_keys WHERE key_id = ?');
const currentKeys = db.prepare<[], { key_id: string }>('SELECT key_id FROM audit_keys WHERE retired_at IS NULL ORDER BY created_at');
const retireKey = db.prepare<[number, string]>('UPDATE audit_keys SET retired_at = ? WHERE key_id = ?');
const addKey = db.prepare<[string, string, number]>('INSERT INTO audit_keys (key_id, public_key, created_at) VALUES (?, ?, ?)');
const newestCheckpoint = db.prepare<[], { size: number; root: Buffer; time: number; key_id: string; sig: string }>('SELECT size, root, time, key_id, sig FROM checkpoints ORDER BY size DESC LIMIT 1');
const addCheckpoint = db.prepare<[number, Buffer, number, string, string]>('INSERT INTO checkpoints (size, root, time, key_id, sig) VALUES (?, ?, ?, ?, ?)');

function openAudit(): Audit | null {
  if (init.auditKeyPath === null) return null;
  const key = loadOrCreateAuditKey(init.auditKeyPath);
  const a: Audit = { path: init.auditKeyPath, key, keyId: keyIdOf(key), stamp: keyFileStamp(init.auditKeyPath) };
  registerKey(a, init.openedAt);
  return a;
}

/**
 * Makes the key file's key the log's signing key, if it is not yet: retires
 * the current one(s) (kept, so their checkpoints keep verifying) and journals
 * an audit_key record, so the key is announced in the log before it signs.
 * A retired key is never taken back into use.
 */
function registerKey(a: Audit, now: number): SinkRow | null {
  return tree.transaction(() => {
    const known = keyRow.get(a.keyId);
    if (known) {
      if (known.retired_at !== null) throw new Error(`the audit key in ${a.path} (${a.keyId}) was retired; it must not sign again (make a new one: facility audit rotate-key)`);
      return null;
    }
    const replaced = currentKeys.all().map((r) => r.key_id);
    for (const id of replaced) retireKey.run(now, id);
    const publicKey = rawPublicKey(a.key).toString('base64');
    addKey.run(a.keyId, publicKey, now);
    const event: AuditKeyEvent = { kind: 'system', key: `system:audit_key:${a.keyId}`, site: init.site, ts: now, event: 'audit_key', keyId: a.keyId, publicKey, replaces: replaced.at(-1) ?? null };
    const body = JSON.stringify(event);
    return { seq: insertSystem(event.key, event.ts, now, body), cls: 'system' as const, body };
  });
}

// Before the sink starts: a key registered now journals its announcement, which the sink then reads as backlog.
const audit = openAudit();

// ---- the sink, on this thread ------------------------------------------------------------------

let sink: InfluxSink | null = null;
const sinkDelta = { written: 0, failed: { retry: 0, split: 0, drop: 0, fatal: 0 } };
if (init.sink) {
  const cfg = init.sink;
  const logger = pino({ level: init.logLevel, base: { part: 'sink' }, timestamp: pino.stdTimeFunctions.isoTime });
  const client = new InfluxV1Client({ url: cfg.url, db: cfg.db, token: cfg.token ?? undefined, username: cfg.username ?? undefined, password: cfg.password ?? undefined });
  const source: SinkSource = {
    getCursor: () => sinkCursor,
    lastSeq: () => lastSeq,
    pending: total,
    read: (after, limit) => readRows.all(after, limit).map((r) => ({ seq: r.seq, cls: CLASS_BY_CODE[r.class] ?? 'telemetry', body: r.body })),
    advance: (seq, classes) => {
      const delivered = [0, 0, 0, 0];
      for (const c of classes) delivered[CLASS_CODE[c]]!++;
      advanceCursor(init.sinkCursorName, seq, delivered);
      report();
    },
    recordRefusal: (detail) => addReject(Date.now(), null, 'influx:/write', 'influx_refused', detail, new Uint8Array()),
    oldestCommitAfter: (seq) => oldestAfter.get(seq)?.at ?? null,
    onCommitted: (l) => {
      committedListeners.add(l);
      return () => committedListeners.delete(l);
    },
  };
  sink = new InfluxSink({
    journal: source,
    writer: client,
    counters: {
      written: (n) => (sinkDelta.written += n),
      failed: (action) => {
        sinkDelta.failed[action]++;
        report();
      },
    },
    clock: { now: () => Date.now() },
    logger,
    batchSize: cfg.batchSize,
    lingerMs: cfg.lingerMs,
    minBackoffMs: cfg.minBackoffMs,
    maxBackoffMs: cfg.maxBackoffMs,
    alarmAfterMs: cfg.alarmAfterMs,
    onFatal: async (message) => {
      if (/database not found/i.test(message)) await client.createDatabase();
    },
  });
  sink.start();
  // Lag grows while InfluxDB is away even when nothing is written: report it regularly too.
  setInterval(report, 1000).unref();
}

function report(): void {
  if (!sink) return;
  const r: SinkReport = { type: 'sink', stats: sink.stats(), written: sinkDelta.written, failed: { ...sinkDelta.failed }, lastSeq, pending: [...pending] };
  sinkDelta.written = 0;
  sinkDelta.failed = { retry: 0, split: 0, drop: 0, fatal: 0 };
  post(r);
}

// ---- messages from the main thread -------------------------------------------------------------


port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'batch': {
      const { reply, rows } = commit(msg);
      post(reply, reply.type === 'committed' ? [reply.results.buffer as ArrayBuffer] : []);
      announce(rows);
      return;
    }
    case 'cursor':
      advanceCursor(msg.name, msg.seq, msg.delivered);
      return;
    case 'checkpoint':
      post(checkpoint(msg));
      return;
    case 'stop':
      void (async () => {
        if (sink) {
          await sink.drained(msg.drainMs);
          await sink.stop();
          report();
        }
        db.close();
        post({ type: 'stopped' });
      })();
      return;
  }
});

function commit(msg: Extract<ToWorker, { type: 'batch' }>): { reply: BatchReply; rows: SinkRow[] } {
  const { rejects, at } = msg;
  const n = msg.count;
  const records = n > 0 ? batchBytes.toString('utf8', 0, msg.bytes).split(RECORD_SEP) : [];
  const results = new Float64Array(n).fill(-1);
  const rows: SinkRow[] = [];
  let shed: ShedInfo | null = null;
  noticeOtherWriters();
  try {
    // The tree's transaction: the rows' leaves and nodes are written before it commits.
    tree.transaction(() => {
      let room = init.maxPending - total();
      if (room < n) {
        shed = shedTelemetry(n - room + Math.ceil(init.maxPending / 100), at);
        if (shed) rows.push({ seq: shed.seq, cls: 'system', body: shed.body });
        room = init.maxPending - total();
      }
      for (let i = 0; i < n; i++) {
        // Access and billing records are never shed; past capacity they are refused (not acknowledged).
        if (room <= 0) continue;
        const rec = records[i]!;
        const a = rec.indexOf(FIELD_SEP);
        const b = rec.indexOf(FIELD_SEP, a + 1);
        const c = rec.indexOf(FIELD_SEP, b + 1);
        const cls = Number(rec.slice(a + 1, b));
        const body = rec.slice(c + 1);
        const r = insert.run(rec.slice(0, a), cls, Number(rec.slice(b + 1, c)), at, body);
        if (r.changes === 1) {
          const seq = Number(r.lastInsertRowid);
          tree.appendRow(seq, body);
          results[i] = seq;
          pending[cls]!++;
          if (seq > lastSeq) lastSeq = seq;
          room--;
          rows.push({ seq, cls: CLASS_BY_CODE[cls] as SignalClass, body });
        } else {
          results[i] = 0;
        }
      }
      for (const rj of rejects) addReject(rj.at, rj.device, rj.topic, rj.reason, rj.detail, rj.payload);
    });
  } catch (e) {
    const err = e as Error & { code?: string };
    // The transaction rolled back (and the tree read its frontier again): restore counts from the database's truth.
    recount();
    return { reply: { type: 'failed', id: msg.id, code: err.code === 'SQLITE_FULL' ? 'storage_full' : 'io_error', message: err.message, lastSeq, pending: [...pending] }, rows: [] };
  }
  return { reply: { type: 'committed', id: msg.id, results, shed, lastSeq, pending: [...pending] }, rows };
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
  const seq = insertSystem(event.key, event.ts, at, body);
  return { seq, count: victims.length, fromSeq, toSeq, body };
}

/** Journals a record of the gateway's own, leaf and all (inside the caller's transaction). */
function insertSystem(key: string, ts: number, at: number, body: string): number {
  const r = insert.run(key, CLASS_SYSTEM, ts, at, body);
  if (r.changes !== 1) throw new Error(`system record ${key} is already journaled`);
  const seq = Number(r.lastInsertRowid);
  tree.appendRow(seq, body);
  pending[CLASS_SYSTEM]!++;
  lastSeq = Math.max(lastSeq, seq);
  return seq;
}

/** Another connection committed since we last looked: our counts and the tree's frontier may be stale. */
function noticeOtherWriters(): void {
  const v = db.pragma('data_version', { simple: true }) as number;
  if (v === dataVersion) return;
  dataVersion = v;
  const before = lastSeq;
  recount();
  tree.reload();
  // Rows another connection appended (an audit key registered by `facility audit rotate-key`): the sink's live tail
  // only sees what this thread announces, so announce them, in order, before anything appended here.
  if (lastSeq > before) announce(readRows.all(before, lastSeq - before).map((r) => ({ seq: r.seq, cls: CLASS_BY_CODE[r.class] ?? 'system', body: r.body })));
}

function announce(rows: readonly SinkRow[]): void {
  if (rows.length > 0) for (const l of committedListeners) l(rows);
}

function lastCheckpointSummary(): CheckpointSummary | null {
  const r = newestCheckpoint.get();
  return r ? { size: r.size, time: r.time, keyId: r.key_id } : null;
}

function checkpoint(msg: Extract<ToWorker, { type: 'checkpoint' }>): CheckpointReply {
  if (!audit) return { type: 'checkpoint', id: msg.id, ok: false, message: 'this journal has no audit key (no checkpoints)' };
  try {
    noticeOtherWriters();
    // A rotation replaces the key file: take the new key (and announce it in the log) before signing.
    const stamp = keyFileStamp(audit.path);
    if (stamp !== audit.stamp) {
      const key = loadOrCreateAuditKey(audit.path);
      const next: Audit = { path: audit.path, key, keyId: keyIdOf(key), stamp };
      const row = registerKey(next, msg.at);
      Object.assign(audit, next);
      if (row) announce([row]);
    }
    let signed: SignedCheckpoint | null = null;
    tree.transaction(() => {
      const last = newestCheckpoint.get();
      const size = tree.size();
      if (last && last.size >= size) {
        if (msg.force) signed = { checkpoint: { origin, size: last.size, root: new Uint8Array(last.root), time: last.time }, signature: { keyId: last.key_id, sig: last.sig }, cosignatures: [] };
        return;
      }
      const s = signCheckpoint({ origin, size, root: rootAt(tree, size), time: msg.at }, audit.key);
      addCheckpoint.run(size, Buffer.from(s.checkpoint.root), s.checkpoint.time, s.signature.keyId, s.signature.sig);
      signed = s;
    });
    return { type: 'checkpoint', id: msg.id, ok: true, signed };
  } catch (e) {
    recount();
    return { type: 'checkpoint', id: msg.id, ok: false, message: (e as Error).message };
  }
}

function recount(): void {
  pending.fill(0);
  for (const r of db.prepare<[number], { class: number; n: number }>('SELECT class, count(*) AS n FROM journal WHERE seq > ? GROUP BY class').all(sinkCursor)) pending[r.class] = r.n;
  lastSeq = db.prepare<[], { m: number | null }>('SELECT max(seq) AS m FROM journal').get()?.m ?? 0;
}

post({ type: 'ready', lastSeq, pending: [...pending], lastCheckpoint: lastCheckpointSummary() });
