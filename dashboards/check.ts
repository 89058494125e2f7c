/**
 * Every query of a generated dashboard, and a check of what InfluxDB answers
 * to it once Grafana's expansion (./macros.ts) has run: used by
 * tests/integration/dashboards.test.ts against a real influxd, and by the
 * unit tests against recorded answers.
 */
import { ALL, expand, type ExpandOptions, type TimeRange, type Variable } from './macros.js';

/** One query of a dashboard: a panel target or a template variable's query. */
export interface DashboardQuery {
  readonly dashboard: string;
  /** `panel 3 "People per space" A` or `variable site`. */
  readonly where: string;
  readonly kind: 'target' | 'variable';
  readonly query: string;
  readonly resultFormat: 'time_series' | 'table' | null;
  readonly timeFrom: string | null;
  readonly unit: string | null;
  readonly min: number | null;
  readonly max: number | null;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strOr = (v: unknown, d: string | null): string | null => (typeof v === 'string' ? v : d);
const numOr = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** The panels of a dashboard, rows' collapsed panels included. */
function panelsOf(d: Json): Json[] {
  const out: Json[] = [];
  for (const p of arr(d.panels).map(obj)) {
    out.push(p);
    out.push(...arr(p.panels).map(obj));
  }
  return out;
}

/** Every InfluxQL query in a dashboard's JSON, in order: variables first, then panel targets. */
export function dashboardQueries(name: string, dashboard: unknown): DashboardQuery[] {
  const d = obj(dashboard);
  const out: DashboardQuery[] = [];
  for (const v of arr(obj(d.templating).list).map(obj)) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : strOr(obj(v.query).query, '');
    out.push({ dashboard: name, where: `variable ${String(v.name)}`, kind: 'variable', query: q ?? '', resultFormat: null, timeFrom: null, unit: null, min: null, max: null });
  }
  for (const p of panelsOf(d)) {
    const defaults = obj(obj(p.fieldConfig).defaults);
    for (const t of arr(p.targets).map(obj)) {
      if (t.hide === true) continue;
      out.push({
        dashboard: name,
        where: `panel ${String(p.id)} "${String(p.title)}" ${String(t.refId)}`,
        kind: 'target',
        query: strOr(t.query, '') ?? '',
        resultFormat: t.resultFormat === 'table' ? 'table' : 'time_series',
        timeFrom: strOr(p.timeFrom, null),
        unit: strOr(defaults.unit, null),
        min: numOr(defaults.min),
        max: numOr(defaults.max),
      });
    }
  }
  return out;
}

/** The dashboard's variables with every one set to "All" (or its first option), given each one's options. */
export function variablesFor(dashboard: unknown, options: Readonly<Record<string, readonly string[]>>, current: Readonly<Record<string, string | readonly string[]>> = {}): Record<string, Variable> {
  const out: Record<string, Variable> = {};
  for (const v of arr(obj(obj(dashboard).templating).list).map(obj)) {
    const name = String(v.name);
    const includeAll = v.includeAll === true;
    const opts = options[name] ?? [];
    out[name] = { multi: v.multi === true, includeAll, options: opts, current: current[name] ?? (includeAll ? ALL : (opts[0] ?? '')) };
  }
  return out;
}

/** The InfluxDB /query answer for one statement (gateway/influx/client.ts InfluxStatementResult, structurally). */
export interface Answer {
  readonly series: readonly { readonly name: string; readonly tags?: Readonly<Record<string, string>>; readonly columns: readonly string[]; readonly values: readonly (readonly unknown[])[] }[];
}
export type Execute = (influxql: string) => Promise<readonly Answer[]>;
/** Further checks on a query's answer (plausible ranges); returns problems. */
export type Extra = (q: DashboardQuery, answer: Answer) => string[];

export interface CheckResult {
  readonly query: DashboardQuery;
  readonly influxql: string;
  readonly problems: string[];
}

/**
 * Runs one query as Grafana would and checks the answer's shape: exactly one
 * statement, no error, at least one series, the columns Grafana needs (time
 * first for SELECT; `value` for SHOW TAG VALUES), at least one non-null
 * value, every number finite, not negative, and within the panel's min/max.
 */
export async function checkQuery(q: DashboardQuery, opts: Omit<ExpandOptions, 'timeFrom'>, execute: Execute, extra?: Extra): Promise<CheckResult> {
  const influxql = expand(q.query, { ...opts, timeFrom: q.timeFrom });
  const problems: string[] = [];
  let answers: readonly Answer[];
  try {
    answers = await execute(influxql);
  } catch (err) {
    return { query: q, influxql, problems: [`InfluxDB error: ${err instanceof Error ? err.message : String(err)}`] };
  }
  if (answers.length !== 1) problems.push(`expected one statement result, got ${answers.length}`);
  const a = answers[0];
  if (a === undefined) return { query: q, influxql, problems };
  if (a.series.length === 0) problems.push('no series: the query returned no data');
  const isShow = /^\s*SHOW\b/i.test(influxql);
  let values = 0;
  for (const s of a.series) {
    if (isShow) {
      if (!s.columns.includes('value')) problems.push(`series ${s.name}: no "value" column (${s.columns.join(', ')})`);
    } else if (s.columns[0] !== 'time') problems.push(`series ${s.name}: first column is ${String(s.columns[0])}, not time`);
    if (s.values.length === 0) problems.push(`series ${s.name}: no rows`);
    const from = isShow ? 0 : 1;
    for (const row of s.values) {
      for (let i = from; i < row.length; i++) {
        const v = row[i];
        if (v === null || v === undefined) continue;
        values++;
        if (typeof v !== 'number') continue;
        const col = s.columns[i] ?? `#${i}`;
        if (!Number.isFinite(v)) problems.push(`${s.name}.${col}: ${v} is not finite`);
        else if (v < 0) problems.push(`${s.name}.${col}: ${v} is negative`);
        else if (q.min !== null && v < q.min) problems.push(`${s.name}.${col}: ${v} below the panel's min ${q.min}`);
        else if (q.max !== null && v > q.max) problems.push(`${s.name}.${col}: ${v} above the panel's max ${q.max}`);
      }
    }
  }
  if (a.series.length > 0 && values === 0) problems.push('every value is null');
  if (extra) problems.push(...extra(q, a));
  return { query: q, influxql, problems };
}

export type { TimeRange };
