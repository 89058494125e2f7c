/**
 * Grafana's expansion of an InfluxQL query, done here so tests can run every
 * dashboard query against a real InfluxDB exactly as Grafana would send it.
 * Grafana does it in two steps (InfluxQL through its backend, Grafana 9+):
 *
 * 1. The browser replaces dashboard variables (`$site`, `${site}`,
 *    `[[site]]`, `${site:format}`) and `$__from`/`$__to`, and leaves
 *    `$__interval`, `$__interval_ms`, `$interval` and `$timeFilter` alone.
 *    A variable that is neither multi-value nor include-all is regex-escaped
 *    unless it parses as a number; a multi-value or include-all one has each
 *    value escaped for InfluxQL regexes and joined with `|` (no parentheses:
 *    queries write `=~ /^($site)$/`). "All" without a custom all-value means
 *    every option.
 * 2. The backend replaces `$timeFilter` with `time >= <from>ms and time <= <to>ms`,
 *    `$interval` and `$__interval` with the interval in Grafana's units
 *    (`1m`, `30s`, `1h`, `1d`…), and `$__interval_ms` with it in milliseconds.
 *
 * The interval: the range divided by the panel's max data points (its
 * width in pixels unless set), rounded to one of Grafana's round intervals,
 * and never below the panel's or the data source's minimum interval
 * (our data source sets `timeInterval: 1m`). A panel with a relative time
 * override (`timeFrom`, e.g. `5m`) queries the last `timeFrom` up to the
 * dashboard's end instead of the dashboard's range.
 */

export interface TimeRange {
  /** Epoch ms. */
  readonly from: number;
  /** Epoch ms. */
  readonly to: number;
}

/** A template variable as the dashboard defines it and its current selection. */
export interface Variable {
  readonly multi: boolean;
  readonly includeAll: boolean;
  /** Every option the variable offers (what "All" stands for). */
  readonly options: readonly string[];
  /** The selection: one value, several, or `$__all`. */
  readonly current: string | readonly string[];
}

export interface ExpandOptions {
  readonly range: TimeRange;
  /** Dashboard variables by name. */
  readonly variables: Readonly<Record<string, Variable>>;
  /** Max data points of the panel (default: its width, taken as 1,000 px). */
  readonly maxDataPoints?: number;
  /** The panel's `interval` or else the data source's `timeInterval` (e.g. `1m`); none: 1 ms. */
  readonly minInterval?: string | null;
  /** The panel's relative time override (`timeFrom`), e.g. `5m`. */
  readonly timeFrom?: string | null;
}

export const ALL = '$__all';
const MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** `30s`, `5m`, `1h`, `7d`… in ms (a bare number is seconds, as Grafana reads intervals). */
export function parseDuration(s: string): number {
  const m = /^<?(\d+)(ms|s|m|h|d|w|y)?>?$/.exec(s.trim());
  if (m === null) throw new Error(`not a Grafana duration: ${JSON.stringify(s)}`);
  return Number(m[1]) * MS[m[2] ?? 's']!;
}

/** Grafana's round intervals: the upper bound of each band (ms) and what it rounds to. */
const ROUND: readonly (readonly [number, number])[] = [
  [10, 1], [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500],
  [1_500, 1_000], [3_500, 2_000], [7_500, 5_000], [12_500, 10_000], [17_500, 15_000], [25_000, 20_000], [45_000, 30_000],
  [90_000, 60_000], [210_000, 120_000], [450_000, 300_000], [750_000, 600_000], [1_050_000, 900_000], [1_500_000, 1_200_000], [2_700_000, 1_800_000],
  [5_400_000, 3_600_000], [9_000_000, 7_200_000], [16_200_000, 10_800_000], [32_400_000, 21_600_000], [86_400_000, 43_200_000],
  [172_800_000, 86_400_000], [604_800_000, 86_400_000], [1_814_400_000, 604_800_000],
];

export function roundInterval(ms: number): number {
  for (const [upTo, to] of ROUND) if (ms <= upTo) return to;
  return ms < 3_628_800_000 ? 2_592_000_000 : 31_536_000_000;
}

/** An interval in Grafana's units: the largest unit that fits, truncated (`90s` → `1m`). */
export function formatInterval(ms: number): string {
  for (const unit of ['y', 'd', 'h', 'm', 's', 'ms'] as const) {
    const size = MS[unit]!;
    if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  }
  return '1ms';
}

/** The interval Grafana computes for a panel, in ms. */
export function intervalMs(range: TimeRange, maxDataPoints: number, minInterval: string | null | undefined): number {
  const rounded = roundInterval((range.to - range.from) / maxDataPoints);
  const floor = minInterval ? parseDuration(minInterval) : 1;
  return Math.max(rounded, floor);
}

/** The range a panel queries: the dashboard's, or its relative time override's. */
export function panelRange(range: TimeRange, timeFrom: string | null | undefined): TimeRange {
  return timeFrom ? { from: range.to - parseDuration(timeFrom), to: range.to } : range;
}

// Step 1: variables (Grafana's template service with the InfluxDB data source's formatter).

const regexEscape = (v: string): string => v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
const influxRegularEscape = (v: string): string => (Number.isNaN(Number.parseFloat(v)) ? regexEscape(v) : v);
const influxSpecialRegexEscape = (v: string): string => v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');

function selection(v: Variable): string | string[] {
  if (v.current === ALL || (Array.isArray(v.current) && v.current.includes(ALL))) return [...v.options];
  return typeof v.current === 'string' ? v.current : [...v.current];
}

/** The data source's default formatting of a variable's value. */
function influxFormat(value: string | string[], v: Variable): string {
  if (!v.multi && !v.includeAll) return Array.isArray(value) ? value.map(influxRegularEscape).join(',') : influxRegularEscape(value);
  if (typeof value === 'string') return influxSpecialRegexEscape(value);
  return value.map(influxSpecialRegexEscape).join('|');
}

/** Grafana's explicit formats (`${var:format}`), those a query here could use. */
function explicitFormat(value: string | string[], format: string): string {
  const list = Array.isArray(value) ? value : [value];
  switch (format) {
    case 'raw':
      return list.join(',');
    case 'csv':
      return list.join(',');
    case 'pipe':
      return list.join('|');
    case 'regex':
      return list.length === 1 ? regexEscape(list[0]!) : `(${list.map(regexEscape).join('|')})`;
    case 'singlequote':
      return list.map((x) => `'${x.replace(/'/g, "\\'")}'`).join(',');
    case 'doublequote':
      return list.map((x) => `"${x.replace(/"/g, '\\"')}"`).join(',');
    default:
      throw new Error(`variable format ${format} is not supported here`);
  }
}

// $name | [[name]] | [[name:format]] | ${name} | ${name:format}  (Grafana's variable syntax)
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}/g;

/** Step 1 alone: dashboard variables and `$__from`/`$__to`; unknown names (the backend's macros) stay. */
export function interpolateVariables(query: string, variables: Readonly<Record<string, Variable>>, range: TimeRange): string {
  return query.replace(VARIABLE, (whole, a?: string, b?: string, bFormat?: string, c?: string, cFormat?: string) => {
    const name = a ?? b ?? c!;
    const format = bFormat ?? cFormat;
    if (name === '__from' || name === '__to') return String(name === '__from' ? range.from : range.to);
    const v = variables[name];
    if (v === undefined) return whole;
    const value = selection(v);
    return format === undefined ? influxFormat(value, v) : explicitFormat(value, format);
  });
}

/** Step 2 alone: the backend's macros, in its order. */
export function expandMacros(query: string, range: TimeRange, interval: number): string {
  const text = formatInterval(interval);
  return query
    .replaceAll('$timeFilter', `time >= ${Math.trunc(range.from)}ms and time <= ${Math.trunc(range.to)}ms`)
    .replaceAll('$interval', text)
    .replaceAll('$__interval_ms', String(Math.trunc(interval)))
    .replaceAll('$__interval', text);
}

/** A dashboard query as Grafana sends it to InfluxDB for one panel. */
export function expand(query: string, opts: ExpandOptions): string {
  const range = panelRange(opts.range, opts.timeFrom);
  const interval = intervalMs(range, opts.maxDataPoints ?? 1_000, opts.minInterval);
  return expandMacros(interpolateVariables(query, opts.variables, range), range, interval);
}
