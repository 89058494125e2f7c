/**
 * The durable journal: every accepted signal is appended here, in one SQLite
 * (WAL, synchronous=FULL) transaction per group of signals, and only after that
 * transaction is on disk does the caller acknowledge the sender.
 *
 * - Group commit: appends within one event-loop turn share one transaction and
 *   one fsync (aedes dispatches every packet of a socket read concurrently, and
 *   the flush runs in setImmediate, after the I/O phase has delivered them all).
 * - Idempotence: the key column is UNIQUE; a redelivered message is a no-op that
 *   is still acknowledged, because it is already durable.
 * - Overflow: past `maxPending` unsent records, telemetry is shed oldest-first,
 *   and the shedding itself is journaled as a system record. Access and billing
 *   records are never shed: when only they remain, new appends are refused
 *   (not acknowledged), so devices keep them and retry.
 */
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { JournalRecord, SignalClass, SystemEvent } from '../../core/signals.js';

export const CLASS_CODE: Readonly<Record<SignalClass, number>> = { access: 0, billing: 1, telemetry: 2, system: 3 };
const CLASS_BY_CODE: readonly SignalClass[] = ['access', 'billing', 'telemetry', 'system'];
const TELEMETRY = CLASS_CODE.telemetry;

export type AppendOutcome = { readonly stored: true; readonly seq: number } | { readonly stored: false; readonly duplicate: true };
export type AppendCallback = (err: JournalError | null, outcome?: AppendOutcome) => void;

export class JournalError extends Error {
  constructor(
    readonly code: 'storage_full' | 'io_error' | 'closed',
    message: string,
  ) {
    super(message);
    this.name = 'JournalError';
  }
}

export interface CommittedRecord {
  readonly seq: number;
  readonly cls: SignalClass;
  readonly record: JournalRecord;
}

export interface StoredRow {
  readonly seq: number;
  readonly cls: SignalClass;
  readonly body: string;
}

export interface RejectInput {
  readonly at: number;
  readonly device: string | null;
  readonly topic: string;
  readonly reason: string;
  readonly detail: string;
  readonly payload: Buffer;
}

export interface JournalOptions {
  readonly path: string;
  readonly site: string;
  /** Unsent records kept while InfluxDB is away before telemetry is shed. */
  readonly maxPending: number;
  /** Rejected payloads kept for inspection (oldest pruned). */
  readonly maxRejects: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface JournalStats {
  readonly lastSeq: number;
  readonly pending: number;
  readonly pendingByClass: Readonly<Record<SignalClass, number>>;
  readonly appended: number;
  readonly duplicates: number;
  readonly shed: number;
  readonly refused: number;
  readonly commits: number;
  readonly lastCommitMs: number;
  readonly failing: string | null;
}

interface Pending {
  readonly record: JournalRecord;
  readonly cls: number;
  readonly body: string;
  readonly cb: AppendCallback;
}

const SCHEMA_VERSION = 1;
const MIGRATIONS: readonly string[] = [
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

/** The sink's cursor name; shedding only touches records after it. */
export const SINK_CURSOR = 'influx';

export class Journal {
  private db: Database.Database | null = null;
  private queue: Pending[] = [];
  private rejectQueue: RejectInput[] = [];
  private scheduled = false;
  private readonly listeners = new Set<(batch: readonly CommittedRecord[]) => void>();
  private lastSeq = 0;
  private sinkCursor = 0;
  private readonly pendingByClass = [0, 0, 0, 0];
  private appended = 0;
  private duplicates = 0;
  private shed = 0;
  private refused = 0;
  private commits = 0;
  private lastCommitMs = 0;
  private failing: string | null = null;
  private rejectCount = 0;
  private shedSeq = 0;
  private stmts!: {
    insert: Database.Statement<[string, number, number, number, string]>;
    oldestAfter: Database.Statement<[number], { at: number }>;
    insertReject: Database.Statement<[number, string | null, string, string, string, Buffer]>;
    read: Database.Statement<[number, number], { seq: number; class: number; body: string }>;
    setCursor: Database.Statement<[string, number]>;
  };

  constructor(private readonly opts: JournalOptions) {}

  start(): void {
    if (this.db) return;
    const db = new Database(this.opts.path);
    db.pragma('journal_mode = WAL');
    // FULL: the WAL is fsynced at every commit, so an acknowledged signal survives power loss.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('wal_autocheckpoint = 4000');
    migrate(db);
    this.stmts = {
      insert: db.prepare('INSERT OR IGNORE INTO journal (key, class, ts, at, body) VALUES (?, ?, ?, ?, ?)'),
      oldestAfter: db.prepare('SELECT at FROM journal WHERE seq > ? ORDER BY seq LIMIT 1'),
      insertReject: db.prepare('INSERT INTO rejects (at, device, topic, reason, detail, payload) VALUES (?, ?, ?, ?, ?, ?)'),
      read: db.prepare('SELECT seq, class, body FROM journal WHERE seq > ? ORDER BY seq LIMIT ?'),
      setCursor: db.prepare('INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq'),
    };
    this.db = db;
    this.lastSeq = (db.prepare('SELECT max(seq) AS m FROM journal').get() as { m: number | null }).m ?? 0;
    this.sinkCursor = this.getCursor(SINK_CURSOR);
    const rows = db.prepare('SELECT class, count(*) AS n FROM journal WHERE seq > ? GROUP BY class').all(this.sinkCursor) as {
      class: number;
      n: number;
    }[];
    for (const r of rows) this.pendingByClass[r.class] = r.n;
    this.rejectCount = (db.prepare('SELECT count(*) AS n FROM rejects').get() as { n: number }).n;
    this.opts.logger.info({ path: this.opts.path, lastSeq: this.lastSeq, pending: this.pendingTotal() }, 'journal opened');
  }

  /** Queues a record; the callback runs once it is durable (or refused). */
  append(record: JournalRecord, cls: SignalClass, cb: AppendCallback): void {
    if (!this.db) {
      cb(new JournalError('closed', 'journal is not open'));
      return;
    }
    this.queue.push({ record, cls: CLASS_CODE[cls], body: JSON.stringify(record), cb });
    this.schedule();
  }

  /** Rejected payloads are kept for inspection; they ride along with the next commit. */
  reject(input: RejectInput): void {
    if (!this.db) return;
    this.rejectQueue.push(input);
    this.schedule();
  }

  onCommitted(listener: (batch: readonly CommittedRecord[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  read(afterSeq: number, limit: number): StoredRow[] {
    this.requireDb();
    const rows = this.stmts.read.all(afterSeq, limit);
    return rows.map((r) => ({ seq: r.seq, cls: CLASS_BY_CODE[r.class] ?? 'telemetry', body: r.body }));
  }

  getCursor(name: string): number {
    const row = this.requireDb().prepare('SELECT seq FROM cursors WHERE name = ?').get(name) as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  /**
   * Advances a cursor durably. For the sink cursor, `written` gives the classes
   * of the records now delivered, so the pending counts stay exact.
   */
  advanceCursor(name: string, seq: number, written?: readonly SignalClass[]): void {
    this.requireDb();
    this.stmts.setCursor.run(name, seq);
    if (name === SINK_CURSOR) {
      this.sinkCursor = seq;
      if (written) for (const c of written) this.pendingByClass[CLASS_CODE[c]]!--;
    }
  }

  /** Commit time of the oldest record after `seq` (null when there is none): the sink's lag. */
  oldestCommitAfter(seq: number): number | null {
    this.requireDb();
    return this.stmts.oldestAfter.get(seq)?.at ?? null;
  }

  listRejects(limit: number): { at: number; device: string | null; topic: string; reason: string; detail: string }[] {
    return this.requireDb()
      .prepare('SELECT at, device, topic, reason, detail FROM rejects ORDER BY id DESC LIMIT ?')
      .all(limit) as { at: number; device: string | null; topic: string; reason: string; detail: string }[];
  }

  stats(): JournalStats {
    return {
      lastSeq: this.lastSeq,
      pending: this.pendingTotal(),
      pendingByClass: {
        access: this.pendingByClass[0]!,
        billing: this.pendingByClass[1]!,
        telemetry: this.pendingByClass[2]!,
        system: this.pendingByClass[3]!,
      },
      appended: this.appended,
      duplicates: this.duplicates,
      shed: this.shed,
      refused: this.refused,
      commits: this.commits,
      lastCommitMs: this.lastCommitMs,
      failing: this.failing,
    };
  }

  /** Commits what is queued, then closes. Idempotent. */
  stop(): void {
    if (!this.db) return;
    this.flush();
    this.db.close();
    this.db = null;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private pendingTotal(): number {
    return this.pendingByClass[0]! + this.pendingByClass[1]! + this.pendingByClass[2]! + this.pendingByClass[3]!;
  }

  private flush(): void {
    this.scheduled = false;
    const db = this.db;
    if (!db) return;
    const batch = this.queue;
    const rejects = this.rejectQueue;
    this.queue = [];
    this.rejectQueue = [];
    if (batch.length === 0 && rejects.length === 0) return;

    let accepted = batch;
    const refusedNow: Pending[] = [];
    if (this.pendingTotal() + batch.length > this.opts.maxPending) {
      const room = this.makeRoom(batch.length);
      if (room < batch.length) {
        accepted = batch.slice(0, room);
        refusedNow.push(...batch.slice(room));
      }
    }

    const outcomes: (AppendOutcome | null)[] = new Array<AppendOutcome | null>(accepted.length).fill(null);
    const committed: CommittedRecord[] = [];
    const started = performance.now();
    const at = this.opts.clock.now();
    try {
      db.transaction(() => {
        for (let i = 0; i < accepted.length; i++) {
          const p = accepted[i]!;
          const r = this.stmts.insert.run(p.record.key, p.cls, p.record.ts, at, p.body);
          if (r.changes === 1) {
            const seq = Number(r.lastInsertRowid);
            outcomes[i] = { stored: true, seq };
            committed.push({ seq, cls: CLASS_BY_CODE[p.cls]!, record: p.record });
          } else {
            outcomes[i] = { stored: false, duplicate: true };
          }
        }
        for (const rj of rejects) {
          this.stmts.insertReject.run(rj.at, rj.device, rj.topic, rj.reason, rj.detail, rj.payload.subarray(0, 1024));
        }
      })();
    } catch (e) {
      const err = e as Error & { code?: string };
      const code = err.code === 'SQLITE_FULL' ? 'storage_full' : 'io_error';
      this.failing = `${code}: ${err.message}`;
      this.refused += accepted.length + refusedNow.length;
      this.opts.logger.error({ err, code }, 'journal commit failed: nothing in this batch is acknowledged');
      const jerr = new JournalError(code, `journal commit failed (${err.message}); the sender will retry`);
      for (const p of batch) p.cb(jerr);
      return;
    }
    this.failing = null;
    this.commits++;
    this.lastCommitMs = performance.now() - started;
    for (const c of committed) {
      this.pendingByClass[CLASS_CODE[c.cls]]!++;
      if (c.seq > this.lastSeq) this.lastSeq = c.seq;
    }
    this.appended += committed.length;
    this.duplicates += accepted.length - committed.length;
    this.rejectCount += rejects.length;
    if (rejects.length > 0 && this.rejectCount > this.opts.maxRejects * 1.1) this.pruneRejects();

    if (refusedNow.length > 0) {
      this.refused += refusedNow.length;
      const err = new JournalError(
        'storage_full',
        `journal holds ${this.pendingTotal()} unsent records (limit ${this.opts.maxPending}) and only access/billing records remain; not acknowledged, the sender keeps it and retries`,
      );
      for (const p of refusedNow) p.cb(err);
    }
    for (let i = 0; i < accepted.length; i++) accepted[i]!.cb(null, outcomes[i]!);
    if (committed.length > 0) {
      for (const l of this.listeners) {
        try {
          l(committed);
        } catch (err) {
          this.opts.logger.error({ err }, 'journal listener failed');
        }
      }
    }
  }

  /**
   * Frees room for `wanted` new records by shedding the oldest unsent telemetry.
   * Returns how many of the wanted records fit.
   */
  private makeRoom(wanted: number): number {
    const db = this.db!;
    const excess = this.pendingTotal() + wanted - this.opts.maxPending;
    // Shed a little more than needed (1 % of capacity) so this does not run on every commit.
    const target = excess + Math.ceil(this.opts.maxPending / 100);
    const victims = db
      .prepare('SELECT seq FROM journal WHERE seq > ? AND class = ? ORDER BY seq LIMIT ?')
      .all(this.sinkCursor, TELEMETRY, target) as { seq: number }[];
    if (victims.length > 0) {
      const fromSeq = victims[0]!.seq;
      const toSeq = victims[victims.length - 1]!.seq;
      const now = this.opts.clock.now();
      const event: SystemEvent = {
        kind: 'system',
        key: `system:telemetry_shed:${fromSeq}-${toSeq}:${++this.shedSeq}:${now}`,
        site: this.opts.site,
        ts: now,
        event: 'telemetry_shed',
        count: victims.length,
        fromSeq,
        toSeq,
      };
      db.transaction(() => {
        db.prepare('DELETE FROM journal WHERE seq >= ? AND seq <= ? AND class = ?').run(fromSeq, toSeq, TELEMETRY);
        const r = this.stmts.insert.run(event.key, CLASS_CODE.system, event.ts, now, JSON.stringify(event));
        this.lastSeq = Math.max(this.lastSeq, Number(r.lastInsertRowid));
      })();
      this.pendingByClass[TELEMETRY]! -= victims.length;
      this.pendingByClass[CLASS_CODE.system]!++;
      this.shed += victims.length;
      this.opts.logger.warn({ count: victims.length, fromSeq, toSeq }, 'journal over capacity: oldest unsent telemetry shed');
      for (const l of this.listeners) {
        try {
          l([{ seq: this.lastSeq, cls: 'system', record: event }]);
        } catch (err) {
          this.opts.logger.error({ err }, 'journal listener failed');
        }
      }
    }
    const free = this.opts.maxPending - this.pendingTotal();
    return Math.max(0, Math.min(wanted, free));
  }

  private pruneRejects(): void {
    const db = this.db!;
    const r = db.prepare('DELETE FROM rejects WHERE id <= (SELECT max(id) FROM rejects) - ?').run(this.opts.maxRejects);
    this.rejectCount -= r.changes;
  }

  private requireDb(): Database.Database {
    if (!this.db) throw new JournalError('closed', 'journal is not open');
    return this.db;
  }
}

function migrate(db: Database.Database): void {
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
