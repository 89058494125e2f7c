/**
 * The opening-hours calendar: when a site or a space is open, as instants.
 *
 * A calendar is a weekly schedule in local time (the site's IANA time zone),
 * optionally narrowed by a second one (a space's own hours), plus dated
 * exceptions: closed dates (public holidays, closures) and extra open dates
 * (China's make-up working days, 调休: a weekend date that is open with given
 * hours). `openIntervals` lists the open stretches within [from, to) as
 * half-open UTC intervals; `openState` answers whether it is open at an
 * instant and when it closes (access decisions, the access runner's closing
 * time, the sessioniser's presence end); `localBuckets` cuts a period into
 * hours, days, ISO weeks or months of local time.
 *
 * An instant is open when its local wall-clock time falls inside the open
 * minutes of its local date, the same question `isOpen` in core/access/time.ts
 * answers for one instant. Local time is converted through the zone's actual
 * offsets (found with Intl, pure in the instant), so a day of 23 or 25 hours
 * is measured as such; most of our sites are in Asia/Shanghai, which has no
 * DST, but nothing here assumes it.
 *
 * Pure: no clock, no I/O.
 */
import { localTime, type Period } from '../access/time.js';
import type { Site } from '../site/model.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** A half-open interval of instants [from, to), epoch ms. */
export interface Interval {
  readonly from: number;
  readonly to: number;
}

/** A date the site is closed (local date, YYYY-MM-DD), with an optional name for reports. */
export interface ClosedDate {
  readonly date: string;
  readonly name?: string;
}

/** A date the site is open with these hours whatever its weekly schedule says (调休). */
export interface ExtraOpenDate {
  readonly date: string;
  /** 'HH:MM', inclusive. */
  readonly from: string;
  /** 'HH:MM' or '24:00', exclusive. */
  readonly to: string;
  readonly name?: string;
}

export interface CalendarSpec {
  readonly timezone: string;
  /** Weekly hours; absent or null: always open; an empty list: never open (as access decisions read it). */
  readonly hours?: readonly Period[] | null;
  /** A second weekly schedule the first is narrowed to (a space's own hours); absent, null or empty: no narrowing. */
  readonly narrowTo?: readonly Period[] | null;
  readonly closedDates?: readonly (string | ClosedDate)[];
  readonly extraOpenDates?: readonly ExtraOpenDate[];
}

/** Open minutes of one local day: [from, to) pairs, 0–1440, sorted and disjoint. */
export type MinuteRanges = readonly (readonly [number, number])[];

/** A compiled calendar (build it with `openingCalendar`). */
export interface OpeningCalendar {
  readonly timezone: string;
  /** Open minutes per ISO weekday; index 1 = Monday … 7 = Sunday (index 0 unused). */
  readonly weekly: readonly MinuteRanges[];
  readonly closed: ReadonlySet<string>;
  readonly extra: ReadonlyMap<string, MinuteRanges>;
}

const ALWAYS: MinuteRanges = Object.freeze([Object.freeze([0, 1440] as const)]);

const minuteOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function mergeRanges(list: [number, number][]): MinuteRanges {
  const sorted = list.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

function weekdayRanges(periods: readonly Period[] | null | undefined, weekday: number): MinuteRanges {
  if (!periods) return ALWAYS;
  return mergeRanges(periods.filter((p) => p.days.includes(weekday)).map((p): [number, number] => [minuteOf(p.from), minuteOf(p.to)]));
}

function intersectRanges(a: MinuteRanges, b: MinuteRanges): MinuteRanges {
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i]![0], b[j]![0]);
    const hi = Math.min(a[i]![1], b[j]![1]);
    if (hi > lo) out.push([lo, hi]);
    if (a[i]![1] < b[j]![1]) i++;
    else j++;
  }
  return out;
}

/**
 * Compiles a calendar. A date both closed and extra-open is closed (the site
 * file refuses such a pair). An extra open date's hours replace the weekly
 * hours, narrowed ones included: a make-up working day opens every space for
 * the hours given.
 */
export function openingCalendar(spec: CalendarSpec): OpeningCalendar {
  const weekly: MinuteRanges[] = [[]];
  for (let wd = 1; wd <= 7; wd++) weekly.push(spec.narrowTo && spec.narrowTo.length > 0 ? intersectRanges(weekdayRanges(spec.hours, wd), weekdayRanges(spec.narrowTo, wd)) : weekdayRanges(spec.hours, wd));
  const closed = new Set((spec.closedDates ?? []).map((c) => (typeof c === 'string' ? c : c.date)));
  const extraLists = new Map<string, [number, number][]>();
  for (const e of spec.extraOpenDates ?? []) {
    let l = extraLists.get(e.date);
    if (!l) extraLists.set(e.date, (l = []));
    l.push([minuteOf(e.from), minuteOf(e.to)]);
  }
  const extra = new Map([...extraLists].map(([d, l]) => [d, mergeRanges(l)] as const));
  return { timezone: spec.timezone, weekly, closed, extra };
}

// Compiled calendars per site: a Site is deeply frozen, so an entry never goes stale, and an
// access decision does not compile the calendar again on every swipe. Keyed by the space whose own
// hours apply, '' for the site's (spaces without hours of their own share it).
const siteCalendars = new WeakMap<Site, Map<string, OpeningCalendar>>();

/**
 * The calendar of a site, or of one of its spaces: the space's own
 * `openingHours` where it has them, else the site's (as access decisions
 * read them, core/access/decide.ts), with the site's closed dates and extra
 * open dates. Compiled once per site and space; the result is shared.
 */
export function siteCalendar(site: Site, space?: string): OpeningCalendar {
  const s = site.file.site;
  let hours: readonly Period[] | undefined = s.openingHours;
  let key = '';
  if (space !== undefined) {
    const def = site.spaces.get(space);
    if (!def) throw new RangeError(`site "${site.id}" has no space "${space}"`);
    if (def.openingHours) {
      hours = def.openingHours;
      key = `#${space}`;
    }
  }
  let bySpace = siteCalendars.get(site);
  if (!bySpace) siteCalendars.set(site, (bySpace = new Map<string, OpeningCalendar>()));
  let cal = bySpace.get(key);
  if (!cal) bySpace.set(key, (cal = openingCalendar({ timezone: site.timezone, hours, closedDates: s.closedDates, extraOpenDates: s.extraOpenDates })));
  return cal;
}

// ---------------------------------------------------------------------------
// Open now, and until when: the question access decisions, the access runner's
// closing time and the sessioniser's inferred presence end all ask.

/** How far ahead a closing time is looked for; a stretch open longer than this is "always open". */
export const CLOSING_HORIZON_MS = 8 * DAY_MS;

/** Whether a calendar is open at an instant, and when it closes. */
export interface OpenState {
  readonly open: boolean;
  /**
   * Open: the end of the open stretch holding the instant (one stretch across
   * midnight, cut by a closed date after it), or null when it stays open for
   * the horizon or longer. Closed: the instant itself (it is closing time), so
   * `closesAt - t` is always the time left.
   */
  readonly closesAt: number | null;
}

// Per calendar, its open intervals over a window from the minute of the last question to a day
// past the horizon: asked again within that day, the answer is a binary search, with no Intl call.
const windows = new WeakMap<OpeningCalendar, { readonly from: number; readonly to: number; readonly intervals: readonly Interval[] }>();

/** Whether `cal` is open at t, and when it closes (within `horizonMs`, else null). */
export function openState(cal: OpeningCalendar, t: number, horizonMs: number = CLOSING_HORIZON_MS): OpenState {
  let w = windows.get(cal);
  if (!w || t < w.from || t + horizonMs > w.to) {
    const from = Math.floor(t / MINUTE_MS) * MINUTE_MS;
    const to = from + horizonMs + DAY_MS;
    w = { from, to, intervals: openIntervals(cal, from, to) };
    windows.set(cal, w);
  }
  const iv = w.intervals;
  // The first interval starting after t; the one before it is the only one that can hold t.
  let lo = 0;
  let hi = iv.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (iv[mid]!.from <= t) lo = mid + 1;
    else hi = mid;
  }
  const s = lo > 0 ? iv[lo - 1]! : undefined;
  if (!s || t >= s.to) return { open: false, closesAt: t };
  // An interval reaching the window's end is clipped there; the window reaches past t + horizon.
  return { open: true, closesAt: s.to - t >= horizonMs ? null : s.to };
}

/**
 * `openState` of a space's calendar (its own hours, else the site's; see
 * `siteCalendar`), or of the site's with a null or unknown space: total, for
 * access decisions.
 */
export function spaceOpenState(site: Site, space: string | null, t: number): OpenState {
  return openState(siteCalendar(site, space !== null && site.spaces.has(space) ? space : undefined), t);
}

// ---------------------------------------------------------------------------
// Local dates as day numbers (days since 1970-01-01), and the zone's offsets.

/** 'YYYY-MM-DD' → days since 1970-01-01. */
export function dayNumber(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / DAY_MS;
}

/** Days since 1970-01-01 → 'YYYY-MM-DD'. */
export function dateOfDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** ISO weekday (1 = Monday) of a day number; 1970-01-01 was a Thursday. */
export function isoWeekdayOfDay(day: number): number {
  return (((day % 7) + 10) % 7) + 1;
}

/** The open minutes of a local date. */
export function dayRanges(cal: OpeningCalendar, day: number): MinuteRanges {
  const date = dateOfDay(day);
  if (cal.closed.has(date)) return [];
  return cal.extra.get(date) ?? cal.weekly[isoWeekdayOfDay(day)]!;
}

/** A stretch of instants [from, to) over which the zone's offset (local − UTC, ms) is constant. */
interface OffsetSegment {
  readonly from: number;
  readonly to: number;
  readonly offset: number;
}

/**
 * The zone's offsets around [from, to): constant segments, the first reaching
 * back and the last forward without end. Found by probing once a local day and
 * bisecting to the minute where the offset changed, so it assumes offsets
 * change at most once between two probes a day apart, true of every zone in
 * the tz database since 1970.
 */
export interface Zone {
  readonly timezone: string;
  readonly segments: readonly OffsetSegment[];
}

const wallOf = (t: number, tz: string): number => {
  const lt = localTime(t, tz);
  return dayNumber(lt.date) * DAY_MS + lt.minute * MINUTE_MS + lt.msIntoMinute;
};
const offsetAt = (t: number, tz: string): number => wallOf(t, tz) - t;

export function zoneAround(timezone: string, from: number, to: number): Zone {
  const start = Math.floor(from / MINUTE_MS) * MINUTE_MS - 2 * DAY_MS;
  const end = Math.max(start, to) + 2 * DAY_MS;
  const segments: { from: number; to: number; offset: number }[] = [];
  let t = start;
  let off = offsetAt(t, timezone);
  segments.push({ from: -Infinity, to: Infinity, offset: off });
  while (t < end) {
    const next = t + DAY_MS;
    const nextOff = offsetAt(next, timezone);
    if (nextOff !== off) {
      // Bisect to the first minute with the new offset.
      let lo = t;
      let hi = next;
      while (hi - lo > MINUTE_MS) {
        const mid = lo + Math.floor((hi - lo) / (2 * MINUTE_MS)) * MINUTE_MS;
        if (offsetAt(mid, timezone) === off) lo = mid;
        else hi = mid;
      }
      segments[segments.length - 1]!.to = hi;
      segments.push({ from: hi, to: Infinity, offset: nextOff });
      off = nextOff;
    }
    t = next;
  }
  return { timezone, segments };
}

function segmentAt(z: Zone, t: number): OffsetSegment {
  const segs = z.segments;
  let lo = 0;
  let hi = segs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segs[mid]!.from <= t) lo = mid;
    else hi = mid - 1;
  }
  return segs[lo]!;
}

/** Local wall-clock time of an instant, as ms since 1970-01-01 00:00 local. */
export function wallTime(z: Zone, t: number): number {
  return t + segmentAt(z, t).offset;
}

/** The local day number of an instant. */
export function localDay(z: Zone, t: number): number {
  return Math.floor(wallTime(z, t) / DAY_MS);
}

/**
 * The first instant whose local time is `wall`; where the clock skips over it
 * (a DST gap), the instant it skips at. Increasing in `wall`, so local
 * boundaries cut time into contiguous buckets (a repeated hour falls in one).
 */
export function instantOfWall(z: Zone, wall: number): number {
  for (const s of z.segments) {
    const t = wall - s.offset;
    if (t < s.from) return s.from; // the clock jumped past `wall` as this segment began
    if (t < s.to) return t;
  }
  // Not reached: the last segment runs without end.
  return wall - z.segments[z.segments.length - 1]!.offset;
}

/** The instants whose local time lies in [wallFrom, wallTo): one interval, or two around a repeated hour. */
function instantsOfWall(z: Zone, wallFrom: number, wallTo: number, out: [number, number][]): void {
  for (const s of z.segments) {
    const lo = Math.max(wallFrom - s.offset, s.from);
    const hi = Math.min(wallTo - s.offset, s.to);
    if (hi > lo) out.push([lo, hi]);
  }
}

/**
 * The open stretches of a calendar within [from, to): sorted, disjoint,
 * half-open, clipped to the period; a stretch running past midnight is one
 * interval. `zone` may be passed in to share it between calendars of one
 * zone; it must cover [from, to).
 */
export function openIntervals(cal: OpeningCalendar, from: number, to: number, zone?: Zone): Interval[] {
  if (!(to > from)) return [];
  const z = zone ?? zoneAround(cal.timezone, from, to);
  const pieces: [number, number][] = [];
  const last = localDay(z, to) + 1;
  for (let d = localDay(z, from) - 1; d <= last; d++) {
    for (const [a, b] of dayRanges(cal, d)) instantsOfWall(z, d * DAY_MS + a * MINUTE_MS, d * DAY_MS + b * MINUTE_MS, pieces);
  }
  pieces.sort((x, y) => x[0] - y[0]);
  const out: { from: number; to: number }[] = [];
  for (const [a0, b0] of pieces) {
    const a = Math.max(a0, from);
    const b = Math.min(b0, to);
    if (b <= a) continue;
    const prev = out[out.length - 1];
    if (prev && a <= prev.to) prev.to = Math.max(prev.to, b);
    else out.push({ from: a, to: b });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Local buckets

export type Granularity = 'hour' | 'day' | 'week' | 'month';
export const GRANULARITIES: readonly Granularity[] = ['hour', 'day', 'week', 'month'];

export interface Bucket {
  /** Stable label in local time: '2026-11-25T09:00' (hour), '2026-11-25' (day), '2026-W48' (ISO week), '2026-11' (month). */
  readonly key: string;
  /** Local start of the whole bucket, 'YYYY-MM-DDTHH:MM' (before `from` when the period starts inside it). */
  readonly start: string;
  /** The bucket's instants within the period, [from, to). */
  readonly from: number;
  readonly to: number;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

function isoWeekKey(monday: number): string {
  const thursday = monday + 3;
  const year = Number(dateOfDay(thursday).slice(0, 4));
  const week = Math.floor((thursday - dayNumber(`${year}-01-01`)) / 7) + 1;
  return `${year}-W${pad2(week)}`;
}

function bucketKey(g: Granularity, wall: number): string {
  const iso = new Date(wall).toISOString();
  switch (g) {
    case 'hour':
      return `${iso.slice(0, 13)}:00`;
    case 'day':
      return iso.slice(0, 10);
    case 'week':
      return isoWeekKey(Math.floor(wall / DAY_MS));
    case 'month':
      return iso.slice(0, 7);
  }
}

/** The local start of the bucket holding wall time `wall`. */
function floorWall(g: Granularity, wall: number): number {
  const day = Math.floor(wall / DAY_MS);
  switch (g) {
    case 'hour':
      return Math.floor(wall / HOUR_MS) * HOUR_MS;
    case 'day':
      return day * DAY_MS;
    case 'week':
      return (day - (isoWeekdayOfDay(day) - 1)) * DAY_MS;
    case 'month': {
      const d = new Date(wall);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    }
  }
}

function stepWall(g: Granularity, wall: number, n: number): number {
  switch (g) {
    case 'hour':
      return wall + n * HOUR_MS;
    case 'day':
      return wall + n * DAY_MS;
    case 'week':
      return wall + n * 7 * DAY_MS;
    case 'month': {
      const d = new Date(wall);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1);
    }
  }
}

/**
 * [from, to) cut at local hour, day, ISO week (Monday) or month starts in the
 * zone. The first and last buckets are clipped to the period. A local hour the
 * clock skips (a DST gap) has no instants and is left out; a repeated hour
 * belongs to the bucket it first began.
 */
export function localBuckets(from: number, to: number, granularity: Granularity, zone: Zone): Bucket[] {
  if (!(to > from)) return [];
  const out: Bucket[] = [];
  // One bucket back, in case `from` lies in a repeated stretch that began before its wall time says.
  let wall = stepWall(granularity, floorWall(granularity, wallTime(zone, from)), -1);
  let start = instantOfWall(zone, wall);
  while (start < to) {
    const nextWall = stepWall(granularity, wall, 1);
    const end = instantOfWall(zone, nextWall);
    const a = Math.max(start, from);
    const b = Math.min(end, to);
    if (b > a) out.push({ key: bucketKey(granularity, wall), start: new Date(wall).toISOString().slice(0, 16), from: a, to: b });
    wall = nextWall;
    start = end;
  }
  return out;
}
