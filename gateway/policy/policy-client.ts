/**
 * The gateway's copy of the access policy (server/policy/snapshot.ts), kept so
 * the edge decides without the server:
 *
 * - start() loads the last snapshot from its file first, so after a restart
 *   the gateway can decide at once, even with the server down.
 * - It listens to GET /api/v1/policy/events (Server-Sent Events) and fetches
 *   GET /api/v1/policy (If-None-Match: the version it holds) when the
 *   announced version differs; the stream is reconnected with exponential
 *   backoff. It also polls every pollMs whatever the stream does (a 304 when
 *   nothing changed): a missed event, or a stream that never connects, costs
 *   at most one poll interval.
 * - A new snapshot is checked against the schema before it replaces the one
 *   held (a bad response never replaces a good snapshot), then written
 *   crash-safely (temp file, fsync, rename).
 *
 * Lifecycle: inert constructor, start(), idempotent stop() (a stopped client
 * cannot be started again: build a new one).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { PolicySnapshotSchema, type PolicySnapshot } from '../../core/policy/snapshot.js';
import { writeFileAtomic } from '../auth/secrets.js';

export type { PolicySnapshot };

export interface PolicyClientOptions {
  /** The server's base URL, e.g. http://server.local:8080 (the API is under /api/v1). */
  readonly serverUrl: string;
  /** A gateway token (role gateway, bound to this site). */
  readonly token: string;
  /** The local file holding the last snapshot (under the gateway's data directory). */
  readonly path: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How often to poll /policy regardless of the event stream (default 60 s). */
  readonly pollMs?: number;
  /** Injectable for tests; the global fetch by default. */
  readonly fetch?: typeof fetch;
  /** Event-stream reconnect backoff: first wait and ceiling (default 1 s … 60 s, doubling, ±20 % jitter). */
  readonly reconnect?: { readonly initialMs?: number; readonly maxMs?: number };
  /** A stream silent this long is taken for dead and reconnected (the server sends a comment every 15 s; default 45 s). */
  readonly silenceMs?: number;
  /** Timeout of one GET /policy (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** How long stop() waits for a fetch or file write in progress (default 5 s). */
  readonly stopTimeoutMs?: number;
}

export interface PolicyState {
  readonly snapshot: PolicySnapshot;
  readonly version: number;
  /** When this snapshot was fetched from the server (gateway clock, ms). */
  readonly fetchedAt: number;
}

export type PolicyListener = (state: PolicyState) => void;

/** What the file holds. `format` versions the file itself, not the policy. */
interface PolicyFile {
  readonly format: 1;
  readonly fetchedAt: number;
  readonly snapshot: PolicySnapshot;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/** The first few schema errors, readable in a log line. */
function schemaErrors(value: unknown): string {
  return [...Value.Errors(PolicySnapshotSchema, value)]
    .slice(0, 3)
    .map((e) => `${e.path || '/'}: ${e.message}`)
    .join('; ');
}

/** Parses the saved file; throws saying what is wrong. */
export function parsePolicyFile(text: string): PolicyFile {
  const data = JSON.parse(text) as unknown;
  if (typeof data !== 'object' || data === null) throw new Error('not a JSON object');
  const f = data as Partial<PolicyFile>;
  if (f.format !== 1) throw new Error(`unknown file format ${JSON.stringify(f.format)}`);
  if (typeof f.fetchedAt !== 'number' || !Number.isFinite(f.fetchedAt)) throw new Error('fetchedAt is missing');
  if (!Value.Check(PolicySnapshotSchema, f.snapshot)) throw new Error(`the snapshot does not match the schema: ${schemaErrors(f.snapshot)}`);
  return { format: 1, fetchedAt: f.fetchedAt, snapshot: f.snapshot };
}

export class PolicyClient {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly pollMs: number;
  private readonly log: Logger;
  private readonly listeners = new Set<PolicyListener>();

  private state: PolicyState | null = null;
  /** When the server last confirmed that the version held is its newest. */
  private confirmedAt: number | null = null;
  /** The newest version the event stream announced (null before the first event). */
  private announced: number | null = null;
  private streamConnected = false;

  private started = false;
  private stopping: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private eventsLoop: Promise<void> | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;

  constructor(private readonly opts: PolicyClientOptions) {
    this.base = `${opts.serverUrl.replace(/\/+$/, '')}/api/v1`;
    this.fetchFn = opts.fetch ?? fetch;
    this.pollMs = opts.pollMs ?? 60_000;
    this.log = opts.logger;
  }

  /** Loads the saved snapshot, then follows the server in the background. Resolves once the file is read. */
  async start(): Promise<void> {
    if (this.stopping) throw new Error('PolicyClient: start() after stop()');
    if (this.started) return;
    this.started = true;
    await this.loadFile();
    if (this.stopping) return;
    this.eventsLoop = this.followEvents();
    this.schedulePoll(0);
  }

  /** Stops following the server; waits (bounded) for a fetch or write in progress. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.abort.abort();
      if (this.pollTimer) clearTimeout(this.pollTimer);
      this.pollTimer = null;
      const pending = Promise.all([this.eventsLoop, this.refreshing]).then(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.log.warn('policy client: stop timed out waiting for a fetch or write');
          resolve();
        }, this.opts.stopTimeoutMs ?? 5000);
      });
      await Promise.race([pending, timeout]);
      clearTimeout(timer);
    })();
    return this.stopping;
  }

  /** The snapshot held (from the server or, after a restart, from the file), or null when there is none yet. */
  current(): PolicyState | null {
    return this.state;
  }

  /**
   * How old the policy held is: the time since the server last confirmed it
   * is current (fetched, answered 304, or announced on a live event stream);
   * null when there is no snapshot. For /healthz.
   */
  ageMs(now: number): number | null {
    if (this.state === null || this.confirmedAt === null) return null;
    return Math.max(0, now - this.confirmedAt);
  }

  /** Whether the event stream is connected now. */
  get listening(): boolean {
    return this.streamConnected;
  }

  /** Called with each new snapshot (and the one loaded from the file); returns the unsubscribe function. */
  onChange(listener: PolicyListener): () => void {
    const wrapped: PolicyListener = (s) => listener(s);
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  /**
   * Fetches /policy now (If-None-Match: the version held). Calls are
   * serialised: one asked for while another runs makes one more run after it,
   * so responses are applied in order.
   */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          await this.fetchOnce();
        } while (this.refreshAgain && !this.abort.signal.aborted);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private setState(state: PolicyState, confirmedAt: number): void {
    this.state = state;
    this.confirmedAt = confirmedAt;
    for (const listener of [...this.listeners]) {
      try {
        listener(state);
      } catch (err) {
        this.log.error({ err }, 'policy client: a change listener failed');
      }
    }
  }

  private async loadFile(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.opts.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.log.info({ path: this.opts.path }, 'policy client: no saved policy snapshot yet; waiting for the server');
        return;
      }
      this.log.error({ err, path: this.opts.path }, 'policy client: cannot read the saved policy snapshot; starting without one');
      return;
    }
    try {
      const f = parsePolicyFile(text);
      this.setState({ snapshot: f.snapshot, version: f.snapshot.version, fetchedAt: f.fetchedAt }, f.fetchedAt);
      this.log.info({ path: this.opts.path, version: f.snapshot.version, fetchedAt: f.fetchedAt }, 'policy client: loaded the saved policy snapshot');
    } catch (err) {
      // Never decide on a damaged policy; the next fetch replaces the file.
      this.log.error({ path: this.opts.path, err: (err as Error).message }, 'policy client: the saved policy snapshot is corrupt; ignoring it');
    }
  }

  private schedulePoll(ms: number): void {
    if (this.abort.signal.aborted) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.refresh()
        .catch((err: unknown) => this.log.error({ err }, 'policy client: poll failed'))
        .finally(() => this.schedulePoll(this.pollMs));
    }, ms);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.opts.token}`, ...extra };
  }

  /** One GET /policy. Errors are logged, never thrown: the snapshot held stays in force. */
  private async fetchOnce(): Promise<void> {
    if (this.abort.signal.aborted) return;
    const held = this.state;
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.opts.requestTimeoutMs ?? 30_000)]);
    let res: Response;
    let body: string;
    try {
      res = await this.fetchFn(`${this.base}/policy`, {
        headers: this.headers({ accept: 'application/json', ...(held && { 'if-none-match': `"${held.version}"` }) }),
        signal,
      });
      body = res.status === 304 ? '' : await res.text();
    } catch (err) {
      if (!this.abort.signal.aborted) this.log.warn({ err: (err as Error).message }, 'policy client: cannot reach the server; keeping the policy held');
      return;
    }
    const now = this.opts.clock.now();
    if (res.status === 304) {
      if (held) this.confirmedAt = now;
      return;
    }
    if (res.status !== 200) {
      const level = res.status === 401 || res.status === 403 ? 'error' : 'warn';
      this.log[level]({ status: res.status, body: body.slice(0, 300) }, 'policy client: the server refused the policy request; keeping the policy held');
      return;
    }
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      this.log.error({ length: body.length }, 'policy client: the policy response is not JSON; keeping the policy held');
      return;
    }
    if (!Value.Check(PolicySnapshotSchema, data)) {
      this.log.error({ errors: schemaErrors(data) }, 'policy client: the policy response does not match the schema; keeping the policy held');
      return;
    }
    const snapshot = data;
    // The server is the authority: a lower version means its database was restored; follow it, loudly.
    if (held && snapshot.version < held.version) this.log.warn({ held: held.version, got: snapshot.version }, 'policy client: the server sent an older policy version than held');
    this.setState({ snapshot, version: snapshot.version, fetchedAt: now }, now);
    const file: PolicyFile = { format: 1, fetchedAt: now, snapshot };
    try {
      await mkdir(dirname(this.opts.path), { recursive: true });
      await writeFileAtomic(this.opts.path, `${JSON.stringify(file)}\n`, { mode: 0o600 });
    } catch (err) {
      // Decisions go on with the new snapshot in memory; only a restart would fall back to the older file.
      this.log.error({ err, path: this.opts.path }, 'policy client: cannot save the policy snapshot');
    }
    this.log.info({ version: snapshot.version }, 'policy client: new policy snapshot');
  }

  private backoffMs(attempt: number): number {
    const initial = this.opts.reconnect?.initialMs ?? 1000;
    const max = this.opts.reconnect?.maxMs ?? 60_000;
    const base = Math.min(max, initial * 2 ** Math.min(attempt, 30));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  /** Keeps an event stream open while running; returns when stopped. */
  private async followEvents(): Promise<void> {
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      const progress = { heard: false };
      try {
        await this.streamOnce(progress);
      } catch (err) {
        if (this.abort.signal.aborted) break;
        this.log.warn({ err: (err as Error).message, attempt }, 'policy client: event stream failed; polling until it is back');
      } finally {
        this.streamConnected = false;
      }
      if (this.abort.signal.aborted) break;
      // A stream that delivered events was healthy: start the backoff over.
      if (progress.heard) attempt = 0;
      await sleep(this.backoffMs(attempt), this.abort.signal);
      attempt += 1;
    }
  }

  /** One connection to /policy/events, until it ends; progress.heard says whether it delivered an event. */
  private async streamOnce(progress: { heard: boolean }): Promise<void> {
    const conn = new AbortController();
    const signal = AbortSignal.any([this.abort.signal, conn.signal]);
    const silenceMs = this.opts.silenceMs ?? 45_000;
    let silence: NodeJS.Timeout | undefined;
    const armSilence = (): void => {
      clearTimeout(silence);
      silence = setTimeout(() => conn.abort(new Error(`no data for ${silenceMs} ms`)), silenceMs);
    };
    try {
      armSilence();
      const res = await this.fetchFn(`${this.base}/policy/events`, { headers: this.headers({ accept: 'text/event-stream' }), signal });
      if (res.status !== 200 || !res.body) {
        const text = await res.text().catch(() => '');
        throw new Error(`the server answered ${res.status} to the event stream: ${text.slice(0, 200)}`);
      }
      this.streamConnected = true;
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      // Ending the read on abort does not rely on the fetch implementation tying the body to the signal.
      const cancel = (): void => void reader.cancel().catch(() => undefined);
      if (signal.aborted) cancel();
      else signal.addEventListener('abort', cancel, { once: true });
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        armSilence();
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (this.onEventBlock(block)) progress.heard = true;
        }
        // Any data on a live stream that has announced the version held confirms it is still current.
        if (this.state && this.announced === this.state.version) this.confirmedAt = this.opts.clock.now();
        if (buffer.length > 64 * 1024) throw new Error('an event longer than 64 KiB');
      }
      if (conn.signal.aborted && !this.abort.signal.aborted) throw conn.signal.reason as Error;
    } catch (err) {
      if (conn.signal.aborted && !this.abort.signal.aborted) throw conn.signal.reason as Error;
      throw err;
    } finally {
      clearTimeout(silence);
      conn.abort();
    }
  }

  /** Handles one SSE event block (RFC: lines `field: value`, `:` comments); true for an event with data. */
  private onEventBlock(block: string): boolean {
    let event = 'message';
    let data: string | null = null;
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data = data === null ? value : `${data}\n${value}`;
    }
    if (data === null) return false;
    if (event !== 'version') return true;
    const version = Number(data);
    if (!Number.isSafeInteger(version) || version < 0) {
      this.log.warn({ data }, 'policy client: a version event without a version');
      return true;
    }
    this.announced = version;
    if (this.state && this.state.version === version) this.confirmedAt = this.opts.clock.now();
    else this.refresh().catch((err: unknown) => this.log.error({ err }, 'policy client: refresh failed'));
    return true;
  }
}
