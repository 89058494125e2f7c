/**
 * A small client for InfluxDB's v1 HTTP API: `/ping`, `/write` (line protocol) and `/query` (InfluxQL).
 *
 * Why v1 and not `/api/v2`: the InfluxDB we run ourselves is the Debian package 1.6.7, which answers 404 on
 * `/api/v2/write` (v2 compatibility endpoints arrived in 1.8). InfluxDB 2.x and 3.x both still serve the v1
 * `/write` and `/query` endpoints ("v1 compatibility API"), so speaking v1 reaches all three.
 *
 * `write()` never throws for HTTP or network problems: it returns a {@link WriteResult} that tells the caller
 * what to do with the batch (retry, split, drop, or stop), with a stable `code` (Telegraf's
 * `plugins/outputs/influxdb_v2/http.go` draws the same lines).
 */

export type WritePrecision = 'ns' | 'ms' | 's';

export interface InfluxV1ClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:8086` (a path prefix such as `https://host/influx` is kept). */
  url: string;
  /** Database (1.x) or, through 2.x's DBRP mapping / 3.x's v1 API, the database name mapped to a bucket. */
  db: string;
  /** Retention policy for writes; omitted → the database's default policy. */
  retentionPolicy?: string;
  /** Basic auth for 1.x with `auth-enabled`, or 2.x v1-compat with a v1 authorization. */
  username?: string;
  password?: string;
  /** Sent as `Authorization: Token <token>` (InfluxDB 2.x/3.x). Takes precedence over username/password. */
  token?: string;
  /** Per-request timeout (headers and body); default 10 000 ms. */
  timeoutMs?: number;
}

/** Transient: the same batch may succeed later. */
export type WriteRetryCode = 'network' | 'timeout' | 'server_error' | 'throttled';
/** The request body was too large for the server: send the batch in smaller parts. */
export type WriteSplitCode = 'too_large';
/** The server rejected (some of) the points; sending them again will fail the same way. */
export type WriteDropCode = 'field_type_conflict' | 'parse_error' | 'beyond_retention' | 'rejected';
/** Configuration problem: no write will succeed until someone changes credentials, database or URL. */
export type WriteFatalCode =
  | 'unauthorized'
  | 'forbidden'
  | 'database_not_found'
  | 'retention_policy_not_found'
  | 'unexpected_status';
export type WriteErrorCode = WriteRetryCode | WriteSplitCode | WriteDropCode | WriteFatalCode;

interface WriteFailureBase {
  ok: false;
  /** HTTP status, absent for network errors and timeouts. */
  status?: number;
  /** InfluxDB's error text (or the network error), for logs. */
  message: string;
}

export interface WriteRetry extends WriteFailureBase {
  action: 'retry';
  code: WriteRetryCode;
  /** From `Retry-After` (429/503), when the server sent one. */
  retryAfterMs?: number;
}

export interface WriteSplit extends WriteFailureBase {
  action: 'split';
  code: WriteSplitCode;
  status: number;
}

export interface WriteDrop extends WriteFailureBase {
  action: 'drop';
  code: WriteDropCode;
  status: number;
  /**
   * True when InfluxDB reported a "partial write": the valid points of the batch WERE stored and only the
   * reported ones were dropped. Either way, resending the same batch will be rejected again.
   */
  partial: boolean;
  /** Number of points the server says it dropped (`dropped=N` in 1.x messages), when it says. */
  dropped?: number;
}

export interface WriteFatal extends WriteFailureBase {
  action: 'fatal';
  code: WriteFatalCode;
}

export type WriteFailure = WriteRetry | WriteSplit | WriteDrop | WriteFatal;
export type WriteResult = { ok: true } | WriteFailure;

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** Each row of a series as column → value (null cells left out), with its time as the query returned it. */
export function* seriesRows(series: InfluxSeries): Generator<{ readonly row: Record<string, unknown>; readonly time: unknown }> {
  const timeAt = series.columns.indexOf('time');
  for (const values of series.values) {
    const row: Record<string, unknown> = {};
    series.columns.forEach((c, i) => {
      if (values[i] !== null) row[c] = values[i];
    });
    yield { row, time: values[timeAt] };
  }
}

export interface InfluxMessage {
  level: string;
  text: string;
}

/** The result of one InfluxQL statement; `series` is empty when the statement returned nothing. */
export interface InfluxStatementResult {
  statementId: number;
  series: InfluxSeries[];
  messages?: InfluxMessage[];
}

export interface QueryOptions {
  /** Database for the query; default the client's `db`. Pass `''` to send none (e.g. `SHOW DATABASES`). */
  db?: string;
  /** Timestamps as integers in this unit; absent → RFC 3339 strings. */
  epoch?: 'ms' | 'ns';
}

/** Thrown by `query()`: InfluxDB's error text, the HTTP status and, for statement errors, which statement. */
export class InfluxQueryError extends Error {
  override readonly name = 'InfluxQueryError';
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly statementId?: number,
  ) {
    super(message);
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Keep GET URLs well under common proxy limits (8 KiB); longer read queries go as POST. */
const MAX_GET_QUERY_LENGTH = 4_000;
/** Error bodies are for logs; do not hold megabytes of HTML from a misconfigured proxy. */
const MAX_ERROR_TEXT = 1_000;

export class InfluxV1Client {
  readonly url: string;
  readonly db: string;
  readonly retentionPolicy: string | undefined;
  private readonly base: URL;
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: InfluxV1ClientOptions) {
    this.url = opts.url;
    this.db = opts.db;
    this.retentionPolicy = opts.retentionPolicy;
    // A trailing slash makes `new URL('write', base)` keep any path prefix.
    this.base = new URL(opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (opts.token !== undefined && opts.token !== '') {
      this.authorization = `Token ${opts.token}`;
    } else if (opts.username !== undefined && opts.username !== '') {
      const raw = `${opts.username}:${opts.password ?? ''}`;
      this.authorization = `Basic ${Buffer.from(raw, 'utf8').toString('base64')}`;
    }
  }

  /** True when the server answers `/ping` with a 2xx (1.x and 2.x answer 204, 3.x 200). Never throws. */
  async ping(): Promise<boolean> {
    try {
      const res = await fetch(this.endpoint('ping'), {
        method: 'GET',
        headers: this.headers(),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  /**
   * Writes newline-joined line protocol. Resolves with what to do next; never throws for HTTP or network
   * problems (a write of an empty body resolves `{ ok: true }` without a request).
   */
  async write(body: string, precision: WritePrecision): Promise<WriteResult> {
    if (body.length === 0) return { ok: true };
    const url = this.endpoint('write');
    url.searchParams.set('db', this.db);
    if (this.retentionPolicy !== undefined && this.retentionPolicy !== '') {
      url.searchParams.set('rp', this.retentionPolicy);
    }
    url.searchParams.set('precision', precision);

    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: this.headers({ 'Content-Type': 'text/plain; charset=utf-8' }),
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // Read the body in the same try: a connection cut mid-response is a network error, not a verdict.
      text = res.status === 204 ? '' : await res.text();
    } catch (err) {
      return networkFailure(err);
    }
    if (res.ok) return { ok: true };
    return classifyWriteFailure(res.status, errorText(res, text), res.headers.get('retry-after'));
  }

  /**
   * Runs InfluxQL. Read-only statements (SELECT/SHOW) go as GET, everything else as POST, as 1.x asks.
   * Throws {@link InfluxQueryError} with InfluxDB's message when the request or any statement fails.
   */
  async query(q: string, opts: QueryOptions = {}): Promise<InfluxStatementResult[]> {
    const url = this.endpoint('query');
    const db = opts.db ?? this.db;
    if (db !== '') url.searchParams.set('db', db);
    if (opts.epoch !== undefined) url.searchParams.set('epoch', opts.epoch);

    const get = isReadOnlyQuery(q) && q.length <= MAX_GET_QUERY_LENGTH;
    let res: Response;
    let text: string;
    try {
      if (get) {
        url.searchParams.set('q', q);
        res = await fetch(url, {
          method: 'GET',
          headers: this.headers({ Accept: 'application/json' }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } else {
        res = await fetch(url, {
          method: 'POST',
          headers: this.headers({
            Accept: 'application/json',
            'Content-Type': 'application/x-www-form-urlencoded',
          }),
          body: new URLSearchParams({ q }).toString(),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      }
      text = await res.text();
    } catch (err) {
      throw new InfluxQueryError(`InfluxDB query failed: ${describeNetworkError(err)}`, undefined);
    }

    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      throw new InfluxQueryError(`InfluxDB query failed (HTTP ${res.status}): ${errorText(res, text)}`, res.status);
    }
    return parseQueryResponse(parsed, res.status);
  }

  /** `CREATE DATABASE` (idempotent in InfluxDB: creating an existing database succeeds). */
  async createDatabase(name: string = this.db): Promise<void> {
    await this.query(`CREATE DATABASE ${quoteIdentifier(name)}`, { db: '' });
  }

  /**
   * Sets how long InfluxDB keeps points (docs/influxdb.md "Retention"): the duration of the retention policy the
   * client writes to (its `retentionPolicy`, else the database's default one, created as `autogen` when there is
   * none). `days` 0 keeps points forever. The shard group duration follows InfluxDB's own defaults for that
   * duration (1 h under 2 days, 1 day up to 6 months, 7 days beyond), since a policy may not be shorter than
   * its shards. Answers the policy and its duration before and after, as InfluxDB reports them.
   */
  async setRetention(days: number): Promise<{ policy: string; before: string | null; after: string }> {
    if (!Number.isSafeInteger(days) || days < 0) throw new RangeError(`retention ${days} is not a whole number of days ≥ 0`);
    const duration = days === 0 ? 'INF' : `${days}d`;
    const shard = days === 0 || days > 180 ? '7d' : days < 2 ? '1h' : '1d';
    const policies = await this.retentionPolicies();
    const target = this.retentionPolicy !== undefined ? policies.find((p) => p.name === this.retentionPolicy) : policies.find((p) => p.default);
    const db = quoteIdentifier(this.db);
    if (!target) {
      const name = this.retentionPolicy ?? 'autogen';
      await this.query(`CREATE RETENTION POLICY ${quoteIdentifier(name)} ON ${db} DURATION ${duration} REPLICATION 1 SHARD DURATION ${shard}${this.retentionPolicy === undefined ? ' DEFAULT' : ''}`, { db: '' });
    } else {
      await this.query(`ALTER RETENTION POLICY ${quoteIdentifier(target.name)} ON ${db} DURATION ${duration} SHARD DURATION ${shard}`, { db: '' });
    }
    const name = target?.name ?? this.retentionPolicy ?? 'autogen';
    const now = (await this.retentionPolicies()).find((p) => p.name === name);
    return { policy: name, before: target?.duration ?? null, after: now?.duration ?? duration };
  }

  /** `SHOW RETENTION POLICIES` of the client's database. */
  async retentionPolicies(): Promise<{ name: string; duration: string; shardGroupDuration: string; default: boolean }[]> {
    const [r] = await this.query(`SHOW RETENTION POLICIES ON ${quoteIdentifier(this.db)}`, { db: '' });
    const series = r?.series[0];
    if (!series) return [];
    const col = (n: string) => series.columns.indexOf(n);
    return series.values.map((v) => ({ name: String(v[col('name')]), duration: String(v[col('duration')]), shardGroupDuration: String(v[col('shardGroupDuration')]), default: v[col('default')] === true }));
  }

  private endpoint(path: string): URL {
    return new URL(path, this.base);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.authorization === undefined ? extra : { ...extra, Authorization: this.authorization };
  }
}

/** InfluxQL identifier quoting: double quotes, with `"` and `\` escaped. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Maps a non-2xx `/write` answer to what the caller should do. Exported for unit tests; the texts matched are
 * those of InfluxDB 1.x (`services/httpd/handler.go`) and the 2.x/3.x v1-compat handlers.
 */
export function classifyWriteFailure(status: number, message: string, retryAfter: string | null): WriteFailure {
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return retryAfterMs === undefined
      ? { ok: false, action: 'retry', code: 'throttled', status, message }
      : { ok: false, action: 'retry', code: 'throttled', status, message, retryAfterMs };
  }
  if (status === 413) return { ok: false, action: 'split', code: 'too_large', status, message };
  if (status === 400 || status === 422) {
    const partial = /partial write/i.test(message);
    const droppedMatch = /dropped=(\d+)/.exec(message);
    const code: WriteDropCode = /field type conflict/i.test(message)
      ? 'field_type_conflict'
      : /unable to parse/i.test(message)
        ? 'parse_error'
        : /beyond retention/i.test(message)
          ? 'beyond_retention'
          : 'rejected';
    const result: WriteDrop = { ok: false, action: 'drop', code, status, message, partial };
    if (droppedMatch?.[1] !== undefined) result.dropped = Number(droppedMatch[1]);
    return result;
  }
  if (status === 401) return { ok: false, action: 'fatal', code: 'unauthorized', status, message };
  if (status === 403) return { ok: false, action: 'fatal', code: 'forbidden', status, message };
  if (status === 404) return { ok: false, action: 'fatal', code: 'database_not_found', status, message };
  // 1.x answers 500 for a missing retention policy: retrying would never help.
  if (/retention policy not found/i.test(message)) {
    return { ok: false, action: 'fatal', code: 'retention_policy_not_found', status, message };
  }
  if (status === 408 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    const code: WriteRetryCode = status === 408 ? 'timeout' : 'server_error';
    return retryAfterMs === undefined
      ? { ok: false, action: 'retry', code, status, message }
      : { ok: false, action: 'retry', code, status, message, retryAfterMs };
  }
  // 3xx (a redirect fetch did not follow), 405, other 4xx: the URL or server is not what we think.
  return { ok: false, action: 'fatal', code: 'unexpected_status', status, message };
}

/** `Retry-After` as delay-seconds or an HTTP-date, in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function networkFailure(err: unknown): WriteRetry {
  if (isTimeout(err)) {
    return { ok: false, action: 'retry', code: 'timeout', message: describeNetworkError(err) };
  }
  return { ok: false, action: 'retry', code: 'network', message: describeNetworkError(err) };
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

/** undici reports `TypeError: fetch failed` with the useful part (ECONNREFUSED …) in `cause`. */
function describeNetworkError(err: unknown): string {
  if (isTimeout(err)) return 'request timed out';
  if (!(err instanceof Error)) return String(err);
  const cause: unknown = err.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code !== undefined ? `${err.message}: ${code} ${cause.message}` : `${err.message}: ${cause.message}`;
  }
  return err.message;
}

/** InfluxDB's error text: JSON `error` (1.x, 3.x) or `message` (2.x), else the header, else the raw body. */
function errorText(res: Response, body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (isRecord(parsed)) {
      if (typeof parsed.error === 'string' && parsed.error !== '') return parsed.error;
      if (typeof parsed.message === 'string' && parsed.message !== '') return parsed.message;
    }
  } catch {
    // not JSON: fall through to the header or raw text
  }
  const header = res.headers.get('x-influxdb-error');
  if (header !== null && header !== '') return header;
  const trimmed = body.trim();
  if (trimmed !== '') return trimmed.slice(0, MAX_ERROR_TEXT);
  return `HTTP ${res.status} ${res.statusText}`.trim();
}

function parseQueryResponse(parsed: unknown, status: number): InfluxStatementResult[] {
  if (!isRecord(parsed)) {
    throw new InfluxQueryError('InfluxDB query failed: response is not a JSON object', status);
  }
  if (typeof parsed.error === 'string') {
    throw new InfluxQueryError(`InfluxDB query failed: ${parsed.error}`, status);
  }
  if (!Array.isArray(parsed.results)) {
    throw new InfluxQueryError('InfluxDB query failed: response has no "results" array', status);
  }
  const out: InfluxStatementResult[] = [];
  for (const [index, raw] of (parsed.results as unknown[]).entries()) {
    if (!isRecord(raw)) {
      throw new InfluxQueryError(`InfluxDB query failed: result ${index} is not an object`, status, index);
    }
    const statementId = typeof raw.statement_id === 'number' ? raw.statement_id : index;
    if (typeof raw.error === 'string') {
      throw new InfluxQueryError(`InfluxDB query failed (statement ${statementId}): ${raw.error}`, status, statementId);
    }
    const series = Array.isArray(raw.series) ? (raw.series as unknown[]).map(toSeries) : [];
    const result: InfluxStatementResult = { statementId, series };
    if (Array.isArray(raw.messages)) {
      result.messages = (raw.messages as unknown[]).filter(isRecord).map((m) => ({
        level: String(m.level),
        text: String(m.text),
      }));
    }
    out.push(result);
  }
  return out;
}

function toSeries(raw: unknown): InfluxSeries {
  if (!isRecord(raw)) return { name: '', columns: [], values: [] };
  const series: InfluxSeries = {
    name: typeof raw.name === 'string' ? raw.name : '',
    columns: Array.isArray(raw.columns) ? (raw.columns as unknown[]).map(String) : [],
    // A SHOW with no rows has a series without `values`.
    values: Array.isArray(raw.values) ? (raw.values as unknown[]).filter(Array.isArray) : [],
  };
  if (isRecord(raw.tags)) {
    const tags: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw.tags)) tags[k] = String(v);
    series.tags = tags;
  }
  return series;
}

/**
 * True when every statement is a SELECT or SHOW without INTO (a SELECT … INTO writes and needs POST).
 * Splits on `;` outside quotes; errs towards POST, which InfluxDB accepts for every statement.
 */
export function isReadOnlyQuery(q: string): boolean {
  const statements = splitStatements(q);
  if (statements.length === 0) return false;
  return statements.every((s) => /^(select|show)\b/i.test(s) && !/\binto\b/i.test(stripQuoted(s)));
}

function splitStatements(q: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (let i = 0; i < q.length; i++) {
    const ch = q[i] as string;
    if (quote !== null) {
      current += ch;
      if (ch === '\\' && i + 1 < q.length) {
        current += q[i + 1] as string;
        i++;
      } else if (ch === quote) {
        quote = null;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current += ch;
    } else if (ch === ';') {
      out.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  out.push(current.trim());
  return out.filter((s) => s !== '');
}

function stripQuoted(s: string): string {
  return s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
