/**
 * Reporting periods: a local month ('2026-11'), quarter ('2026-Q4') or year
 * ('2026') in the site's time zone, as instants [from, to), and the period
 * before it of the same kind. Also the local dates a period covers, for the
 * date-valued team records (admitted, exited, graduated on a local date).
 *
 * Pure: the zone's offsets come from Intl, a pure function of the instant.
 */
import { DAY_MS, dateOfDay, dayNumber, instantOfWall, localDay, zoneAround, type Zone } from '../usage/calendar.js';

export const PERIOD_KINDS = ['month', 'quarter', 'year'] as const;
export type PeriodKind = (typeof PERIOD_KINDS)[number];

export interface ReportPeriod {
  readonly kind: PeriodKind;
  /** '2026-11', '2026-Q4' or '2026'. */
  readonly key: string;
  readonly timezone: string;
  /** Local start and end (exclusive) as instants, epoch ms. */
  readonly from: number;
  readonly to: number;
}

const KEY_PATTERN: Readonly<Record<PeriodKind, RegExp>> = {
  month: /^([0-9]{4})-(0[1-9]|1[0-2])$/,
  quarter: /^([0-9]{4})-Q([1-4])$/,
  year: /^([0-9]{4})$/,
};

/** Months since year 0 of the period's first month, and its length in months. */
function monthsOf(kind: PeriodKind, key: string): { first: number; length: number } {
  const m = KEY_PATTERN[kind].exec(key);
  if (!m) throw new RangeError(`period key "${key}" is not a ${kind} (${kind === 'month' ? 'YYYY-MM' : kind === 'quarter' ? 'YYYY-Qn' : 'YYYY'})`);
  const year = Number(m[1]);
  switch (kind) {
    case 'month':
      return { first: year * 12 + Number(m[2]) - 1, length: 1 };
    case 'quarter':
      return { first: year * 12 + (Number(m[2]) - 1) * 3, length: 3 };
    case 'year':
      return { first: year * 12, length: 12 };
  }
}

function keyOf(kind: PeriodKind, firstMonth: number): string {
  const year = Math.floor(firstMonth / 12);
  const month = firstMonth - year * 12;
  const y = String(year).padStart(4, '0');
  switch (kind) {
    case 'month':
      return `${y}-${String(month + 1).padStart(2, '0')}`;
    case 'quarter':
      return `${y}-Q${Math.floor(month / 3) + 1}`;
    case 'year':
      return y;
  }
}

const wallOfMonth = (monthIndex: number): number => Date.UTC(Math.floor(monthIndex / 12), monthIndex % 12, 1);

/** The local month, quarter or year `key` in `timezone`; throws RangeError on a malformed key. */
export function periodOf(kind: PeriodKind, key: string, timezone: string): ReportPeriod {
  const { first, length } = monthsOf(kind, key);
  const wallFrom = wallOfMonth(first);
  const wallTo = wallOfMonth(first + length);
  const z = zoneAround(timezone, wallFrom - 2 * DAY_MS, wallTo + 2 * DAY_MS);
  return { kind, key: keyOf(kind, first), timezone, from: instantOfWall(z, wallFrom), to: instantOfWall(z, wallTo) };
}

/** The period of the same kind just before `p` (the month, quarter or year before). */
export function previousPeriod(p: ReportPeriod): ReportPeriod {
  const { first, length } = monthsOf(p.kind, p.key);
  return periodOf(p.kind, keyOf(p.kind, first - length), p.timezone);
}

/** The `n` consecutive periods ending with `p`, oldest first (a trend's axis). */
export function periodsUpTo(p: ReportPeriod, n: number): ReportPeriod[] {
  const out: ReportPeriod[] = [];
  for (let q = p, i = 0; i < n; i++, q = previousPeriod(q)) out.unshift(q);
  return out;
}

/**
 * The local dates whose midnight falls in [from, to), as day numbers
 * [first, end) (days since 1970-01-01, core/usage/calendar.ts `dayNumber`).
 * A date-valued event (an admission, an exit) is in the period when its day
 * is in this range. For a period cut at local midnights this is exactly the
 * period's dates.
 */
export interface DayRange {
  readonly first: number;
  readonly end: number;
}

function firstDayAtOrAfter(z: Zone, t: number): number {
  const d = localDay(z, t);
  return instantOfWall(z, d * DAY_MS) < t ? d + 1 : d;
}

export function dayRange(timezone: string, from: number, to: number): DayRange {
  const z = zoneAround(timezone, Math.min(from, to), Math.max(from, to));
  const first = firstDayAtOrAfter(z, from);
  return { first, end: Math.max(first, firstDayAtOrAfter(z, to)) };
}

/** A local date 'YYYY-MM-DD' as a day number; a malformed or impossible date (2026-02-30) is refused with RangeError naming `what`. */
export function dateDay(date: string, what: string): number {
  const d = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(date) ? dayNumber(date) : NaN;
  if (!Number.isFinite(d) || dateOfDay(d) !== date) throw new RangeError(`${what}: "${date}" is not a date (YYYY-MM-DD)`);
  return d;
}
