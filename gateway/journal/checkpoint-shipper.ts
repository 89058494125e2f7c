/**
 * Sends the journal's checkpoints and signing keys to the server (issue #10,
 * docs/audit.md "Gateway checkpoints at the server"): a checkpoint kept only on
 * the gateway's own disk proves nothing once the disk is in other hands.
 *
 * - It reads the journal through its own read-only connection (the tables
 *   checkpoints, audit_keys, merkle_nodes), never through the writer thread,
 *   so ingest never waits on it, and the server being away costs nothing but
 *   a retry: the checkpoints stay in the journal until the server has them.
 * - A pass (`sync()`): ask the server for what it kept for this gateway (once,
 *   then after any refusal), announce keys it lacks (or whose retirement it
 *   lacks), then send, oldest first, every checkpoint newer than the newest it
 *   kept, each with an RFC 6962 consistency proof from that one, built from the
 *   journal's stored nodes (core/audit/merkle.ts).
 * - Passes run after every checkpoint the journal signs (`notify()`), and
 *   again after `retryMs` (doubling to `maxRetryMs`) while the server is away
 *   or refuses; a refusal the gateway cannot fix (the server says its history
 *   forked) is logged as an error and retried at the slow pace.
 */
import Database from 'better-sqlite3';
import { consistencyProof, type Hash, type NodeStore } from '../../core/audit/merkle.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from 'pino';

export interface CheckpointShipperOptions {
  /** The journal's SQLite file (opened read-only; it must exist: start the journal first). */
  readonly journalPath: string;
  /** The site id the journal was opened with: its checkpoints' origin is openfacility/<site>. */
  readonly site: string;
  /** The server, e.g. http://server:8080 (the API is under /api/v1). */
  readonly serverUrl: string;
  /** The gateway's API token (role gateway). */
  readonly token: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** First wait after a failed pass, ms (default 5 s), doubling up to maxRetryMs (default 5 min). */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
  /** Injectable for tests; the global fetch by default. */
  readonly fetch?: typeof fetch;
}

interface Kept {
  readonly size: number;
  readonly root: string;
}

export interface ShipperStatus {
  /** The newest checkpoint size the server acknowledged (null: not known yet). */
  readonly acknowledgedSize: number | null;
  /** Checkpoints in the journal newer than that. */
  readonly pending: number;
  /** Why the last pass failed (null when it succeeded). */
  readonly lastError: string | null;
  readonly lastSuccessAt: number | null;
}

export class ShipperRefused extends Error {
  override readonly name = 'ShipperRefused';
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

/** merkle_nodes read-only, as a NodeStore for proofs. */
class ReadOnlyNodes implements NodeStore {
  private readonly select: Database.Statement<[number, number], { hash: Buffer }>;
  private readonly count: Database.Statement<[], { m: number | null }>;
  constructor(db: Database.Database) {
    this.select = db.prepare('SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?');
    this.count = db.prepare('SELECT max(idx) AS m FROM merkle_nodes WHERE level = 0');
  }
  size(): number {
    const m = this.count.get()?.m;
    return m === null || m === undefined ? 0 : m + 1;
  }
  get(level: number, index: number): Hash {
    const r = this.select.get(level, index);
    if (!r) throw new RangeError(`no node at level ${level}, index ${index}`);
    return new Uint8Array(r.hash);
  }
  put(): void {
    throw new Error('read-only');
  }
}

interface CheckpointRow {
  size: number;
  root: Buffer;
  time: number;
  key_id: string;
  sig: string;
}

export class CheckpointShipper {
  private db: Database.Database | null = null;
  private nodes: ReadOnlyNodes | null = null;
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  /** What the server kept, as far as we know; null: ask it. */
  private kept: Kept | null | undefined = undefined;
  private keysKnown = new Map<string, number | null>();
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private wait: number;
  private stopped = false;
  private status: ShipperStatus = { acknowledgedSize: null, pending: 0, lastError: null, lastSuccessAt: null };

  constructor(private readonly opts: CheckpointShipperOptions) {
    this.base = `${opts.serverUrl.replace(/\/+$/, '')}/api/v1/gateways/me`;
    this.fetchFn = opts.fetch ?? fetch;
    this.retryMs = opts.retryMs ?? 5_000;
    this.maxRetryMs = opts.maxRetryMs ?? 300_000;
    this.wait = this.retryMs;
  }

  start(): void {
    if (this.db || this.stopped) return;
    this.db = new Database(this.opts.journalPath, { readonly: true, fileMustExist: true });
    this.nodes = new ReadOnlyNodes(this.db);
    this.notify();
  }

  /** A checkpoint was signed (or the server may be back): run a pass soon. */
  notify(): void {
    if (!this.db || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.pass().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.notify();
      }
    });
  }

  /** One pass now (waits for one in progress first); resolves when it ended, never rejects. */
  async sync(): Promise<ShipperStatus> {
    await this.settled();
    this.notify();
    await this.settled();
    return this.status;
  }

  /** Waits until no pass runs (a pass may start another when notified meanwhile). */
  private async settled(): Promise<void> {
    for (let r = this.running; r !== null; r = this.running) await r;
  }

  current(): ShipperStatus {
    return this.status;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    try {
      if (this.running) await this.running;
    } finally {
      this.db?.close();
      this.db = null;
    }
  }

  private async pass(): Promise<void> {
    try {
      await this.ship();
      this.wait = this.retryMs;
      this.status = { ...this.status, lastError: null, lastSuccessAt: this.opts.clock.now() };
    } catch (e) {
      const err = e as Error;
      const refused = err instanceof ShipperRefused;
      // Ask again what the server kept before the next try: a refusal may mean our idea of it is stale.
      if (refused) this.kept = undefined;
      if (refused && err.status === 409 && err.code !== 'proof_needed') {
        this.opts.logger.error({ code: err.code, detail: err.message }, 'the server refused a journal checkpoint: it does not extend the history the server kept (alarm raised there)');
      } else {
        this.opts.logger.warn({ err: err.message, retryInMs: this.wait }, 'could not send journal checkpoints to the server; will retry');
      }
      this.status = { ...this.status, lastError: err.message };
      if (!this.stopped) {
        this.timer = setTimeout(() => this.notify(), this.wait);
        this.timer.unref();
      }
      this.wait = Math.min(this.wait * 2, this.maxRetryMs);
    }
  }

  private async ship(): Promise<void> {
    const db = this.db;
    if (!db) return;
    if (this.kept === undefined) {
      const state = (await this.call('GET', '/checkpoints?limit=0')) as { latest: { size: number; root: string } | null; keys: { keyId: string; retiredAt: number | null }[] };
      this.kept = state.latest ? { size: state.latest.size, root: state.latest.root } : null;
      this.keysKnown = new Map(state.keys.map((k) => [k.keyId, k.retiredAt]));
    }
    const keys = db.prepare('SELECT key_id, public_key, created_at, retired_at FROM audit_keys ORDER BY created_at').all() as { key_id: string; public_key: string; created_at: number; retired_at: number | null }[];
    const news = keys.filter((k) => !this.keysKnown.has(k.key_id) || (this.keysKnown.get(k.key_id) === null && k.retired_at !== null));
    if (news.length > 0) {
      await this.call('POST', '/keys', { keys: news.map((k) => ({ keyId: k.key_id, publicKey: k.public_key, createdAt: k.created_at, retiredAt: k.retired_at })) });
      for (const k of news) this.keysKnown.set(k.key_id, k.retired_at);
    }
    const from = this.kept?.size ?? -1;
    const rows = db.prepare('SELECT size, root, time, key_id, sig FROM checkpoints WHERE size > ? ORDER BY size').all(from) as CheckpointRow[];
    this.setPending(rows.length);
    if (this.kept && rows.length === 0) {
      const newest = db.prepare('SELECT max(size) AS m FROM checkpoints').get() as { m: number | null };
      if ((newest.m ?? 0) < this.kept.size) throw new Error(`the server keeps a checkpoint of size ${this.kept.size}, larger than any in this journal (was the journal rolled back or replaced?)`);
    }
    const origin = this.origin();
    for (const [i, r] of rows.entries()) {
      const root = r.root.toString('base64');
      const checkpoint = { origin, size: r.size, root, time: r.time, keyId: r.key_id, sig: r.sig };
      const kept = this.kept ?? null;
      const proof = kept && kept.size > 0 ? { fromSize: kept.size, hashes: consistencyProof(this.nodes!, kept.size, r.size).map((h) => Buffer.from(h).toString('base64')) } : undefined;
      await this.call('POST', '/checkpoints', { checkpoint, ...(proof && { proof }) });
      this.kept = { size: r.size, root };
      this.setPending(rows.length - i - 1);
    }
  }

  /** The log's origin, as the journal signs it (the table keeps no origin: it is the site's). */
  private origin(): string {
    return `openfacility/${this.opts.site}`;
  }

  private setPending(n: number): void {
    this.status = { ...this.status, acknowledgedSize: this.kept?.size ?? null, pending: n };
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const res = await this.fetchFn(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.opts.token}`, accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (res.ok) return text === '' ? null : (JSON.parse(text) as unknown);
    let code = 'http_error';
    let detail = text.slice(0, 300);
    try {
      const p = JSON.parse(text) as { code?: unknown; detail?: unknown };
      if (typeof p.code === 'string') code = p.code;
      if (typeof p.detail === 'string') detail = p.detail;
    } catch {
      // Not a problem document (a proxy's page): the status says enough.
    }
    if (res.status >= 500 || res.status === 429) throw new Error(`${method} ${path}: ${res.status} ${detail}`);
    throw new ShipperRefused(res.status, code, detail);
  }
}
