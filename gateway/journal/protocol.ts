/** The journal's schema and the messages between the main thread and the writer thread. */
import type Database from 'better-sqlite3';

export const CLASS_TELEMETRY = 2;
export const CLASS_SYSTEM = 3;

export interface WorkerInit {
  readonly path: string;
  readonly site: string;
  readonly maxPending: number;
  readonly maxRejects: number;
  readonly sinkCursorName: string;
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
  /** items: flat [key, classCode, ts, body, key, classCode, ts, body, …] (cheap to clone). */
  | { readonly type: 'batch'; readonly id: number; readonly at: number; readonly items: (string | number)[]; readonly rejects: RejectRow[] }
  | { readonly type: 'cursor'; readonly name: string; readonly seq: number; readonly delivered: readonly number[] }
  | { readonly type: 'stop' };

export interface WorkerStats {
  readonly lastSeq: number;
  readonly pending: readonly number[];
}

export interface ShedInfo {
  readonly seq: number;
  readonly count: number;
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly body: string;
}

export type BatchReply =
  | {
      readonly type: 'committed';
      readonly id: number;
      /** Per item: journal seq (> 0), 0 = duplicate (already stored), -1 = refused (journal full). */
      readonly results: readonly number[];
      readonly shed: ShedInfo | null;
      readonly stats: WorkerStats;
    }
  | { readonly type: 'failed'; readonly id: number; readonly code: 'storage_full' | 'io_error'; readonly message: string; readonly stats: WorkerStats };

export type FromWorker =
  | { readonly type: 'ready'; readonly lastSeq: number; readonly sinkCursor: number; readonly pending: readonly number[]; readonly rejectCount: number }
  | BatchReply
  | { readonly type: 'stopped' };

const SCHEMA_VERSION = 1;
const MIGRATIONS: readonly string[] = [
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
];

export function migrateJournal(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(`journal schema version ${version} is newer than this program supports (${SCHEMA_VERSION}); upgrade OpenFacility`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
