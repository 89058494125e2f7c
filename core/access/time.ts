/**
 * Wall-clock questions in the site's time zone: which weekday and minute it is,
 * whether a weekly schedule is open, and how long until it closes. Pure: the
 * instant is handed in; Intl is a pure function of it.
 */
export interface Period {
  /** ISO weekdays, 1 = Monday … 7 = Sunday. */
  readonly days: readonly number[];
  /** 'HH:MM', inclusive. */
  readonly from: string;
  /** 'HH:MM' or '24:00', exclusive. */
  readonly to: string;
}

export interface LocalTime {
  readonly isoWeekday: number;
  /** Minutes since local midnight, 0–1439. */
  readonly minute: number;
  /** Milliseconds into the current minute (time zones are whole minutes, so this is the UTC value). */
  readonly msIntoMinute: number;
  /** Local calendar date, YYYY-MM-DD. */
  readonly date: string;
}

const WEEKDAY: Readonly<Record<string, number>> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

// A memo of formatters by time zone (constructing one costs far more than using it); no behaviour depends on it.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    formatters.set(tz, f);
  }
  return f;
}

// The last minute converted, per time zone: every swipe in the same minute has the same local fields
// (offsets are whole minutes in every zone since the 1970s), and formatToParts is the costly part of a decision.
const lastMinute = new Map<string, { utcMinute: number; isoWeekday: number; minute: number; date: string }>();

export function localTime(ms: number, tz: string): LocalTime {
  const utcMinute = Math.floor(ms / 60_000);
  const msIntoMinute = ms - utcMinute * 60_000;
  const memo = lastMinute.get(tz);
  if (memo && memo.utcMinute === utcMinute) return { isoWeekday: memo.isoWeekday, minute: memo.minute, msIntoMinute, date: memo.date };
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(ms)) parts[p.type] = p.value;
  const fields = { utcMinute, isoWeekday: WEEKDAY[parts.weekday ?? ''] ?? 1, minute: Number(parts.hour) * 60 + Number(parts.minute), date: `${parts.year}-${parts.month}-${parts.day}` };
  lastMinute.set(tz, fields);
  return { isoWeekday: fields.isoWeekday, minute: fields.minute, msIntoMinute, date: fields.date };
}

const minuteOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether the schedule is open at t. An empty schedule is never open; use `undefined` for "always". */
export function isOpen(schedule: readonly Period[], t: LocalTime): boolean {
  for (const p of schedule) {
    if (p.days.includes(t.isoWeekday) && t.minute >= minuteOf(p.from) && t.minute < minuteOf(p.to)) return true;
  }
  return false;
}

/**
 * Milliseconds from t until the schedule closes, following periods that join
 * across midnight (Mon 08:00–24:00 then Tue 00:00–02:00 is one stretch); 0 when
 * it is closed now. Counted in local wall-clock minutes (a DST change inside the
 * stretch shifts the end by the change; none of our sites observe DST).
 */
export function msUntilClose(schedule: readonly Period[], t: LocalTime): number {
  if (!isOpen(schedule, t)) return 0;
  let day = t.isoWeekday;
  let minute = t.minute;
  let total = -t.msIntoMinute;
  for (let step = 0; step < 8; step++) {
    // the latest end among periods of this day covering `minute`
    let end = -1;
    for (const p of schedule) {
      if (p.days.includes(day) && minute >= minuteOf(p.from) && minute < minuteOf(p.to)) end = Math.max(end, minuteOf(p.to));
    }
    if (end < 0) return total;
    // extend within the same day through periods that start before the current end
    let extended = true;
    while (extended) {
      extended = false;
      for (const p of schedule) {
        if (p.days.includes(day) && minuteOf(p.from) <= end && minuteOf(p.to) > end) {
          end = minuteOf(p.to);
          extended = true;
        }
      }
    }
    total += (end - minute) * 60_000;
    if (end < 1440) return total;
    day = (day % 7) + 1;
    minute = 0;
  }
  return total;
}
