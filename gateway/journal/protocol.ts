/** The journal's schema and the messages between the main thread and the writer thread. */
import type Database from 'better-sqlite3';
import type { SignedCheckpoint } from '../../core/audit/checkpoint.js';
import type { SignalClass } from '../../core/signals.js';
import type { SinkStats } from '../sink/influx-sink.js';
import { hashExistingRows } from './merkle-store.js';

export const CLASS_CODE: Readonly<Record<SignalClass, number>> = { access: 0, billing: 1, telemetry: 2, system: 3 };
export const CLASS_BY_CODE: readonly SignalClass[] = ['access', 'billing', 'telemetry', 'system'];
export const CLASS_TELEMETRY = CLASS_CODE.telemetry;
export const CLASS_SYSTEM = CLASS_CODE.system;
export const FIELD_SEP = '\u0000';
export const RECORD_SEP = '\u0001';
/** Size of the shared batch buffer; a larger queue is sent in several batches. */
export const BATCH_BUFFER_BYTES = 16 * 1024 * 1024;

export interface SinkInit {
  readonly url: string;
  readonly db: string;
  readonly token: string | null;
  readonly username: string | null;
  readonly password: string | null;
  readonly batchSize: number;
  readonly lingerMs: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly alarmAfterMs: number;
}

export interface WorkerInit {
  readonly path: string;
  readonly site: string;
  readonly maxPending: number;
  readonly maxRejects: number;
  readonly sinkCursorName: string;
  /** null: no InfluxDB sink (tests of the journal alone). */
  readonly sink: SinkInit | null;
  readonly logLevel: string;
  /** The shared batch buffer (BATCH_BUFFER_BYTES). */
  readonly batchBuffer: SharedArrayBuffer;
  /** The checkpoint-signing key (PKCS8 PEM, created on first start); null: no checkpoints (the Merkle tree is kept regardless). */
  readonly auditKeyPath: string | null;
  /** The gateway's clock when the journal was opened (a key registered at start is stamped with it). */
  readonly openedAt: number;
}

/** A checkpoint as the journal keeps it (table checkpoints), and as /healthz reports the last one. */
export interface CheckpointSummary {
  readonly size: number;
  readonly time: number;
  readonly keyId: string;
}

export interface RejectRow {
  readonly at: number;
  readonly device: string | null;
  readonly topic: string;
  readonly reason: string;
  readonly detail: string;
  readonly payload: Uint8Array;
}

export type ToWorker =
  /**
   * A batch of `count` records, written by the main thread as UTF-8 into the shared batch buffer
   * (bytes 0..bytes): "key FIELD_SEP class FIELD_SEP ts FIELD_SEP body", records separated by
   * RECORD_SEP. Only one batch is in flight at a time, so the buffer is reused from the start.
   * Nothing is cloned across threads but this small message. The separators cannot occur inside a
   * record: JSON.stringify escapes control characters, and keys are ids.
   */
  | { readonly type: 'batch'; readonly id: number; readonly at: number; readonly count: number; readonly bytes: number; readonly rejects: RejectRow[] }
  | { readonly type: 'cursor'; readonly name: string; readonly seq: number; readonly delivered: readonly number[] }
  /**
   * Sign a checkpoint of the log as it is now (after every batch sent before). `force`: answer with the
   * newest checkpoint even when nothing was appended since it (on request); otherwise (the timer) that is skipped.
   */
  | { readonly type: 'checkpoint'; readonly id: number; readonly at: number; readonly force: boolean }
  /** Let the sink write what is journaled (at most drainMs), then close. */
  | { readonly type: 'stop'; readonly drainMs: number };

export interface ShedInfo {
  readonly seq: number;
  readonly count: number;
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly body: string;
}

/** Every message from the writer carries its (authoritative) lastSeq and unsent counts by class. */
interface Counts {
  readonly lastSeq: number;
  readonly pending: readonly number[];
}

export type BatchReply =
  | (Counts & {
      readonly type: 'committed';
      readonly id: number;
      /** Per item: journal seq (> 0), 0 = duplicate (already stored), -1 = refused (journal full). */
      readonly results: Float64Array;
      readonly shed: ShedInfo | null;
    })
  | (Counts & { readonly type: 'failed'; readonly id: number; readonly code: 'storage_full' | 'io_error'; readonly message: string });

export type SinkReport = Counts & {
  readonly type: 'sink';
  readonly stats: SinkStats;
  /** Points confirmed, and failures by action, since the previous report. */
  readonly written: number;
  readonly failed: Readonly<Record<'retry' | 'split' | 'drop' | 'fatal', number>>;
};

export type CheckpointReply =
  | { readonly type: 'checkpoint'; readonly id: number; readonly ok: true; readonly signed: SignedCheckpoint | null }
  | { readonly type: 'checkpoint'; readonly id: number; readonly ok: false; readonly message: string };

export type FromWorker =
  | (Counts & { readonly type: 'ready'; readonly lastCheckpoint: CheckpointSummary | null })
  | BatchReply
  | SinkReport
  | CheckpointReply
  | { readonly type: 'stopped' };

/** A schema step: SQL, or a function for steps that compute (v2 hashes the rows already there). */
type Migration = string | ((db: Database.Database) => void);

const MIGRATIONS: readonly Migration[] = [
  // seq is the rowid: the newest row is never deleted (shedding spares it), so max(seq)+1 never
  // reuses a number, and duplicates (INSERT OR IGNORE) consume none: seq stays gap-free but for shedding.
  `CREATE TABLE journal (
     seq   INTEGER PRIMARY KEY,
     key   TEXT    NOT NULL UNIQUE,
     class INTEGER NOT NULL,
     ts    INTEGER NOT NULL,
     at    INTEGER NOT NULL,
     body  TEXT    NOT NULL
   );
   CREATE TABLE cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
   CREATE TABLE rejects (
     id      INTEGER PRIMARY KEY,
     at      INTEGER NOT NULL,
     device  TEXT,
     topic   TEXT NOT NULL,
     reason  TEXT NOT NULL,
     detail  TEXT NOT NULL,
     payload BLOB NOT NULL
   );`,
  // v2: the journal is a Merkle log (docs/audit.md). Leaf i is the row with seq i+1; merkle_nodes holds
  // every perfect subtree (level, index); checkpoints are signed tree heads; audit_keys every signing key
  // ever used (retired ones kept, so old checkpoints keep verifying).
  (db) => {
    db.exec(`CREATE TABLE merkle_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
      CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL, time INTEGER NOT NULL, key_id TEXT NOT NULL, sig TEXT NOT NULL);
      CREATE TABLE audit_keys (key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, created_at INTEGER NOT NULL, retired_at INTEGER);`);
    hashExistingRows(db);
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrateJournal(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(`journal schema version ${version} is newer than this program supports (${SCHEMA_VERSION}); upgrade OpenFacility`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    const step = MIGRATIONS[v]!;
    db.transaction(() => {
      if (typeof step === 'string') db.exec(step);
      else step(db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
