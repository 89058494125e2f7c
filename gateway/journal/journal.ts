/**
 * The durable journal: every accepted signal is appended here, and only once
 * its transaction is on disk (SQLite WAL, synchronous=FULL) does the caller
 * acknowledge the sender.
 *
 * - Group commit on a writer thread (./journal-worker.ts): one batch is being
 *   committed at a time; everything that arrives meanwhile forms the next batch.
 *   The fsync never blocks the event loop, and batches grow with the load.
 * - Idempotence: the key column is UNIQUE; a redelivered message is a no-op that
 *   is still acknowledged, because it is already durable.
 * - Overflow: past `maxPending` unsent records, telemetry is shed oldest-first,
 *   and the shedding itself is journaled as a system record. Access and billing
 *   records are never shed: when only they remain, new appends are refused
 *   (not acknowledged), so devices keep them and retry.
 * - The InfluxDB sink runs on the writer thread too (../sink/influx-sink.ts),
 *   and reports its state here. Cursors and rejects are read through a
 *   read-only connection on this thread (WAL lets it read beside the writer).
 * - The journal is a Merkle log, and the writer signs checkpoints of it
 *   (docs/audit.md): every `audit.checkpointEveryMs` when anything was
 *   appended since the last one, and on request (`checkpoint()`).
 */
import Database from 'better-sqlite3';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { SignedCheckpoint } from '../../core/audit/checkpoint.js';
import type { Clock } from '../../core/clock.js';
import type { JournalRecord, SignalClass } from '../../core/signals.js';
import type { SinkStats } from '../sink/influx-sink.js';
import { BATCH_BUFFER_BYTES, CLASS_BY_CODE, CLASS_CODE, FIELD_SEP, RECORD_SEP, type CheckpointSummary, type FromWorker, type RejectRow, type SinkInit, type SinkReport, type ToWorker, type WorkerInit } from './protocol.js';

export { CLASS_CODE };

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
  /** The InfluxDB sink, run on the writer thread; null for none. */
  readonly sink: SinkInit | null;
  readonly logLevel?: string;
  /** Checkpoints: the signing key's file (created on first start) and how often to sign; absent: none (the tree is kept regardless). */
  readonly audit?: { readonly keyPath: string; readonly checkpointEveryMs: number };
}

export type { CheckpointSummary };

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
  readonly cb: AppendCallback;
}

/** The sink's cursor name; shedding only touches records after it. */
export const SINK_CURSOR = 'influx';

const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './journal-worker.ts' : './journal-worker.js', import.meta.url);

export class Journal {
  private worker: Worker | null = null;
  private reader: Database.Database | null = null;
  /** Prepared once: `has` runs on every swipe. */
  private hasKey: Database.Statement | null = null;
  private readonly batchBuffer = new SharedArrayBuffer(BATCH_BUFFER_BYTES);
  private readonly batchView = new Uint8Array(this.batchBuffer);
  private readonly encoder = new TextEncoder();
  private sink: SinkStats = { cursor: 0, state: 'stopped', lastError: null, failingSince: null, written: 0, lagRecords: 0, lagSeconds: 0 };
  private readonly sinkListeners = new Set<(r: SinkReport) => void>();
  private queue: Pending[] = [];
  /** Keys of access records queued or being committed (not yet visible to the reader). */
  private readonly pendingAccess = new Map<string, number>();
  private rejectQueue: RejectRow[] = [];
  private inFlight: { readonly id: number; readonly batch: Pending[]; readonly sentAt: number } | null = null;
  private scheduled = false;
  private nextId = 1;
  private readonly listeners = new Set<(batch: readonly CommittedRecord[]) => void>();
  private idleWaiters: (() => void)[] = [];
  private lastSeq = 0;
  private pendingByClass: number[] = [0, 0, 0, 0];
  private appended = 0;
  private duplicates = 0;
  private shed = 0;
  private refused = 0;
  private commits = 0;
  private lastCommitMs = 0;
  private failing: string | null = null;
  private stopping = false;
  private lastCheckpointSummary: CheckpointSummary | null = null;
  private readonly checkpointWaiters = new Map<number, { resolve: (s: SignedCheckpoint) => void; reject: (e: Error) => void }>();
  private checkpointTimer: NodeJS.Timeout | null = null;
  private readonly checkpointListeners = new Set<(s: SignedCheckpoint) => void>();

  constructor(private readonly opts: JournalOptions) {}

  async start(): Promise<void> {
    if (this.worker) return;
    const init: WorkerInit = {
      path: this.opts.path,
      site: this.opts.site,
      maxPending: this.opts.maxPending,
      maxRejects: this.opts.maxRejects,
      sinkCursorName: SINK_CURSOR,
      sink: this.opts.sink,
      logLevel: this.opts.logLevel ?? 'info',
      batchBuffer: this.batchBuffer,
      auditKeyPath: this.opts.audit?.keyPath ?? null,
      openedAt: this.opts.clock.now(),
    };
    const worker = workerUrl.pathname.endsWith('.ts')
      ? // Running from TypeScript sources (tests, development): load the writer through tsx.
        new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); });`, { eval: true, workerData: init })
      : new Worker(workerUrl, { workerData: init });
    const ready = await new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`journal ${this.opts.path} could not be opened: ${err.message}`));
      worker.once('error', onError);
      worker.once('message', (m: FromWorker) => {
        worker.off('error', onError);
        if (m.type === 'ready') resolve(m);
        else reject(new Error(`journal writer sent ${m.type} before ready`));
      });
    });
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => this.onWorkerLost(err));
    worker.on('exit', (code) => {
      if (!this.stopping) this.onWorkerLost(new Error(`journal writer exited with code ${code}`));
    });
    this.worker = worker;
    this.lastSeq = ready.lastSeq;
    this.pendingByClass = [...ready.pending];
    this.lastCheckpointSummary = ready.lastCheckpoint;
    if (this.opts.audit) {
      this.checkpointTimer = setInterval(() => this.requestCheckpoint(false), this.opts.audit.checkpointEveryMs);
      this.checkpointTimer.unref();
    }
    this.reader = new Database(this.opts.path, { readonly: true, fileMustExist: true });
    this.opts.logger.info({ path: this.opts.path, lastSeq: this.lastSeq, pending: this.pendingTotal() }, 'journal opened');
  }

  /** Queues a record; the callback runs once it is durable (or refused). */
  append(record: JournalRecord, cls: SignalClass, cb: AppendCallback): void {
    if (!this.worker || this.stopping) {
      cb(new JournalError('closed', 'journal is not open'));
      return;
    }
    const code = CLASS_CODE[cls];
    if (code === CLASS_CODE.access) this.pendingAccess.set(record.key, (this.pendingAccess.get(record.key) ?? 0) + 1);
    this.queue.push({ record, cls: code, cb });
    this.schedule();
  }

  /**
   * Whether a record with this key is in the journal or on its way in. For
   * access records (the check that keeps a replayed swipe from opening a door
   * twice); other keys are answered from the database only.
   */
  has(key: string): boolean {
    if (this.pendingAccess.has(key)) return true;
    this.hasKey ??= this.requireReader().prepare('SELECT 1 FROM journal WHERE key = ?');
    return this.hasKey.get(key) !== undefined;
  }

  /** Records of a class journaled since `sinceTs` (record time), oldest first: for rebuilding state after a restart. */
  readSince(cls: SignalClass, sinceTs: number, limit = 100_000): JournalRecord[] {
    this.requireReader();
    const rows = this.reader!.prepare('SELECT body FROM journal WHERE class = ? AND ts >= ? ORDER BY seq LIMIT ?').all(CLASS_CODE[cls], sinceTs, limit) as { body: string }[];
    return rows.map((r) => JSON.parse(r.body) as JournalRecord);
  }

  /**
   * Calls `fn` with every record committed at or after `sinceAt` (gateway
   * time), in commit order, and the time it was committed; at most the newest
   * `limit`. Returns how many. Rows are streamed, not loaded at once. The
   * first row is found by binary search on seq: commit times ascend with seq
   * (a clock stepped back only moves where the window starts), so older rows
   * are never read.
   */
  replaySince(sinceAt: number, fn: (record: JournalRecord, at: number) => void, limit = Number.MAX_SAFE_INTEGER): number {
    const db = this.requireReader();
    const firstAtOrAfter = db.prepare('SELECT seq, at FROM journal WHERE seq >= ? ORDER BY seq LIMIT 1');
    const max = (db.prepare('SELECT max(seq) AS seq FROM journal').get() as { seq: number | null }).seq ?? 0;
    let lo = 0;
    let hi = max + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = firstAtOrAfter.get(mid) as { seq: number; at: number } | undefined;
      if (row && row.at < sinceAt) lo = row.seq + 1;
      else hi = mid;
    }
    const from = Math.max(lo, max - limit + 1);
    let n = 0;
    for (const row of db.prepare('SELECT at, body FROM journal WHERE seq >= ? ORDER BY seq').iterate(from) as IterableIterator<{ at: number; body: string }>) {
      fn(JSON.parse(row.body) as JournalRecord, row.at);
      n++;
    }
    return n;
  }

  /** The journaled record with the greatest key starting with `prefix` (e.g. a machine's newest hour-meter checkpoint). */
  lastWithPrefix(prefix: string): JournalRecord | null {
    this.requireReader();
    // Keys are compared as text: everything starting with the prefix sorts below prefix + U+FFFF.
    const row = this.reader!.prepare('SELECT body FROM journal WHERE key >= ? AND key < ? ORDER BY key DESC LIMIT 1').get(prefix, `${prefix}\uffff`) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as JournalRecord) : null;
  }

  /**
   * A signed checkpoint of the log as it stands after everything appended so
   * far: a new one when anything was appended since the last, else the last.
   */
  checkpoint(): Promise<SignedCheckpoint> {
    return new Promise((resolve, reject) => {
      if (!this.worker || this.stopping) {
        reject(new JournalError('closed', 'journal is not open'));
        return;
      }
      const id = this.requestCheckpoint(true);
      this.checkpointWaiters.set(id, { resolve, reject });
    });
  }

  /** Called after each checkpoint the writer signs (timer or request; a request answered with the last one too). */
  onCheckpointSigned(listener: (s: SignedCheckpoint) => void): () => void {
    this.checkpointListeners.add(listener);
    return () => this.checkpointListeners.delete(listener);
  }

  /** The newest checkpoint signed (size, time, key id), for /healthz; null before the first. */
  lastCheckpoint(): CheckpointSummary | null {
    return this.lastCheckpointSummary;
  }

  private requestCheckpoint(force: boolean): number {
    const id = this.nextId++;
    // Sent behind the batch in flight (the writer handles messages in order); a queued batch goes after it.
    this.post({ type: 'checkpoint', id, at: this.opts.clock.now(), force });
    return id;
  }

  private onCheckpoint(m: Extract<FromWorker, { type: 'checkpoint' }>): void {
    const waiter = this.checkpointWaiters.get(m.id);
    this.checkpointWaiters.delete(m.id);
    if (m.ok) {
      if (m.signed) {
        const c = m.signed.checkpoint;
        this.lastCheckpointSummary = { size: c.size, time: c.time, keyId: m.signed.signature.keyId };
        if (waiter) waiter.resolve(m.signed);
        for (const l of this.checkpointListeners) {
          try {
            l(m.signed);
          } catch (err) {
            // A listener (e.g. the shipper to the server) must not break checkpointing.
            this.opts.logger.error({ err }, 'a checkpoint listener failed');
          }
        }
      } else if (waiter) {
        waiter.reject(new JournalError('io_error', 'no checkpoint: the log is empty'));
      }
      return;
    }
    this.opts.logger.error({ message: m.message }, 'could not sign a journal checkpoint');
    waiter?.reject(new JournalError('io_error', `could not sign a checkpoint: ${m.message}`));
  }

  /** Rejected payloads are kept for inspection; they ride along with the next commit. */
  reject(input: RejectInput): void {
    if (!this.worker) return;
    this.rejectQueue.push(input);
    this.schedule();
  }

  onCommitted(listener: (batch: readonly CommittedRecord[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  getCursor(name: string): number {
    const row = this.requireReader().prepare('SELECT seq FROM cursors WHERE name = ?').get(name) as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  /**
   * Advances a cursor (written by the writer thread, in order with commits).
   * For the sink cursor, `written` gives the classes of the records now
   * delivered, so the pending counts stay exact. (The InfluxDB sink advances
   * its own cursor on the writer thread; this is for other consumers and tests.)
   */
  advanceCursor(name: string, seq: number, written?: readonly SignalClass[]): void {
    const delivered = [0, 0, 0, 0];
    if (name === SINK_CURSOR && written) for (const c of written) delivered[CLASS_CODE[c]]!++;
    this.post({ type: 'cursor', name, seq, delivered });
  }

  /** The InfluxDB sink's state, as last reported by the writer thread. */
  sinkStats(): SinkStats {
    return this.sink;
  }

  /** Called with every report from the sink (counts since the previous one): for metrics. */
  onSinkReport(listener: (r: SinkReport) => void): () => void {
    this.sinkListeners.add(listener);
    return () => this.sinkListeners.delete(listener);
  }

  /** Resolves true once the sink has written everything journaled so far, false after timeoutMs. */
  async sinkDrained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.sink.cursor >= this.lastSeq && this.pendingTotal() === 0) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  listRejects(limit: number): { at: number; device: string | null; topic: string; reason: string; detail: string }[] {
    return this.requireReader().prepare('SELECT at, device, topic, reason, detail FROM rejects ORDER BY id DESC LIMIT ?').all(limit) as {
      at: number;
      device: string | null;
      topic: string;
      reason: string;
      detail: string;
    }[];
  }

  stats(): JournalStats {
    const p = this.pendingByClass;
    return {
      lastSeq: this.lastSeq,
      pending: this.pendingTotal(),
      pendingByClass: { access: p[0]!, billing: p[1]!, telemetry: p[2]!, system: p[3]! },
      appended: this.appended,
      duplicates: this.duplicates,
      shed: this.shed,
      refused: this.refused,
      commits: this.commits,
      lastCommitMs: this.lastCommitMs,
      failing: this.failing,
    };
  }

  /** Resolves when everything queued so far is committed. */
  idle(): Promise<void> {
    if (!this.inFlight && this.queue.length === 0 && this.rejectQueue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Commits what is queued, gives the sink up to drainMs to write it, then closes. Idempotent. */
  async stop(drainMs = 2000): Promise<void> {
    const worker = this.worker;
    if (!worker || this.stopping) return;
    await this.idle();
    this.stopping = true;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.checkpointTimer = null;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, drainMs + 5000);
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'stopped') {
          clearTimeout(timer);
          resolve();
        }
      });
      worker.postMessage({ type: 'stop', drainMs } satisfies ToWorker);
    });
    await worker.terminate();
    this.reader?.close();
    this.reader = null;
    this.hasKey = null;
    this.worker = null;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    // Gather what this event-loop turn delivers (aedes dispatches a socket read's packets together).
    setImmediate(() => {
      this.scheduled = false;
      this.send();
    });
  }

  private send(): void {
    if (this.inFlight || !this.worker || (this.queue.length === 0 && this.rejectQueue.length === 0)) return;
    const queue = this.queue;
    const rejects = this.rejectQueue;
    this.rejectQueue = [];
    // Write records into the shared buffer until it is full; what does not fit waits for the next batch.
    const view = this.batchView;
    let pos = 0;
    let count = 0;
    for (; count < queue.length; count++) {
      const p = queue[count]!;
      const text = (count > 0 ? RECORD_SEP : '') + p.record.key + FIELD_SEP + p.cls + FIELD_SEP + p.record.ts + FIELD_SEP + JSON.stringify(p.record);
      const r = this.encoder.encodeInto(text, view.subarray(pos));
      if (r.read < text.length) {
        if (count === 0) throw new Error(`journal record of ${text.length} characters does not fit the batch buffer`);
        break;
      }
      pos += r.written;
    }
    const batch = count === queue.length ? queue : queue.slice(0, count);
    this.queue = count === queue.length ? [] : queue.slice(count);
    const id = this.nextId++;
    this.inFlight = { id, batch, sentAt: performance.now() };
    this.post({ type: 'batch', id, at: this.opts.clock.now(), count, bytes: pos, rejects });
  }

  private post(msg: ToWorker): void {
    this.worker?.postMessage(msg);
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'ready' || m.type === 'stopped') return;
    if (m.type === 'checkpoint') {
      this.onCheckpoint(m);
      return;
    }
    this.lastSeq = m.lastSeq;
    this.pendingByClass = [...m.pending];
    if (m.type === 'sink') {
      this.sink = m.stats;
      for (const l of this.sinkListeners) {
        try {
          l(m);
        } catch (err) {
          this.opts.logger.error({ err }, 'sink report listener failed');
        }
      }
      return;
    }
    const flight = this.inFlight;
    if (!flight || flight.id !== m.id) return;
    this.inFlight = null;
    // Committed (or refused): the reader answers for these keys from now on.
    for (const p of flight.batch) {
      if (p.cls !== CLASS_CODE.access) continue;
      const n = this.pendingAccess.get(p.record.key) ?? 0;
      if (n <= 1) this.pendingAccess.delete(p.record.key);
      else this.pendingAccess.set(p.record.key, n - 1);
    }
    this.lastCommitMs = performance.now() - flight.sentAt;
    if (m.type === 'failed') {
      this.failing = `${m.code}: ${m.message}`;
      this.refused += flight.batch.length;
      this.opts.logger.error({ code: m.code, message: m.message }, 'journal commit failed: nothing in this batch is acknowledged');
      const err = new JournalError(m.code, `journal commit failed (${m.message}); the sender will retry`);
      for (const p of flight.batch) p.cb(err);
    } else {
      this.failing = null;
      this.commits++;
      const committed: CommittedRecord[] = [];
      if (m.shed) {
        this.shed += m.shed.count;
        this.opts.logger.warn({ count: m.shed.count, fromSeq: m.shed.fromSeq, toSeq: m.shed.toSeq }, 'journal over capacity: oldest unsent telemetry shed');
        committed.push({ seq: m.shed.seq, cls: 'system', record: JSON.parse(m.shed.body) as JournalRecord });
      }
      let fullErr: JournalError | null = null;
      for (let i = 0; i < flight.batch.length; i++) {
        const p = flight.batch[i]!;
        const r = m.results[i]!;
        if (r > 0) {
          this.appended++;
          committed.push({ seq: r, cls: CLASS_BY_CODE[p.cls]!, record: p.record });
          p.cb(null, { stored: true, seq: r });
        } else if (r === 0) {
          this.duplicates++;
          p.cb(null, { stored: false, duplicate: true });
        } else {
          this.refused++;
          fullErr ??= new JournalError(
            'storage_full',
            `journal holds ${this.pendingTotal()} unsent records (limit ${this.opts.maxPending}) and only access/billing records remain; not acknowledged, the sender keeps it and retries`,
          );
          p.cb(fullErr);
        }
      }
      if (committed.length > 0) {
        committed.sort((a, b) => a.seq - b.seq);
        for (const l of this.listeners) {
          try {
            l(committed);
          } catch (err) {
            this.opts.logger.error({ err }, 'journal listener failed');
          }
        }
      }
    }
    if (this.queue.length > 0 || this.rejectQueue.length > 0) this.send();
    else for (const w of this.idleWaiters.splice(0)) w();
  }

  private onWorkerLost(err: Error): void {
    this.failing = `io_error: ${err.message}`;
    this.opts.logger.fatal({ err }, 'journal writer thread failed; nothing more is acknowledged');
    const flight = this.inFlight;
    this.inFlight = null;
    const jerr = new JournalError('io_error', `journal writer failed: ${err.message}`);
    for (const p of [...(flight?.batch ?? []), ...this.queue]) p.cb(jerr);
    for (const w of this.checkpointWaiters.values()) w.reject(jerr);
    this.checkpointWaiters.clear();
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.checkpointTimer = null;
    this.queue = [];
    this.pendingAccess.clear();
    this.worker = null;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private pendingTotal(): number {
    const p = this.pendingByClass;
    return p[0]! + p[1]! + p[2]! + p[3]!;
  }

  private requireReader(): Database.Database {
    if (!this.reader) throw new JournalError('closed', 'journal is not open');
    return this.reader;
  }
}
