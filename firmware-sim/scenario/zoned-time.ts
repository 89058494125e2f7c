/**
 * Local calendar days of the site's IANA time zone, with nothing but Intl:
 * scenarios plan "09:15 on a Tuesday" and need the epoch milliseconds for it,
 * including on daylight-saving days (a 23- or 25-hour day).
 */
const MINUTE = 60_000;
const DAY = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export interface LocalDate {
  readonly year: number;
  /** 1–12 */
  readonly month: number;
  readonly day: number;
}

export interface LocalDateTime extends LocalDate {
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** Throws a RangeError naming the zone if Intl does not know it. */
export function assertTimeZone(timeZone: string): void {
  formatter(timeZone);
}

export function localDateTime(timeZone: string, epochMs: number): LocalDateTime {
  const parts = formatter(timeZone).formatToParts(new Date(epochMs));
  const get = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value ?? NaN);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second') };
}

/** Local time minus UTC at an instant, in ms (Asia/Shanghai: +8 h). */
export function utcOffsetMs(timeZone: string, epochMs: number): number {
  const l = localDateTime(timeZone, epochMs);
  const asUtc = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second);
  return asUtc - (epochMs - (((epochMs % 1000) + 1000) % 1000));
}

/**
 * The instant a local wall time names. Two passes settle the offset; in a
 * spring-forward gap the result lands an hour later, in a fall-back overlap on
 * the first occurrence — both fine for a simulation.
 */
export function zonedToEpoch(timeZone: string, date: LocalDate, minuteOfDay: number): number {
  const guess = Date.UTC(date.year, date.month - 1, date.day) + Math.round(minuteOfDay * MINUTE);
  const first = guess - utcOffsetMs(timeZone, guess);
  const second = guess - utcOffsetMs(timeZone, first);
  return second;
}

export function nextDate(date: LocalDate): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + 1));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** 0 = Sunday … 6 = Saturday. */
export function weekdayOf(date: LocalDate): number {
  return new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
}

/** One local calendar day: its bounds and a local-time → epoch mapping. */
export class LocalDay {
  readonly start: number;
  readonly end: number;
  readonly weekday: number;
  private readonly uniformOffset: boolean;

  constructor(
    readonly timeZone: string,
    readonly index: number,
    readonly date: LocalDate,
  ) {
    this.start = zonedToEpoch(timeZone, date, 0);
    this.end = zonedToEpoch(timeZone, nextDate(date), 0);
    this.weekday = weekdayOf(date);
    this.uniformOffset = this.end - this.start === DAY;
  }

  get isWeekend(): boolean {
    return this.weekday === 0 || this.weekday === 6;
  }

  /** Epoch ms of a local time of this day, given in minutes since local midnight (may exceed 1440). */
  at(minuteOfDay: number): number {
    if (this.uniformOffset) return this.start + Math.round(minuteOfDay * MINUTE);
    return zonedToEpoch(this.timeZone, this.date, minuteOfDay);
  }

  next(): LocalDay {
    return new LocalDay(this.timeZone, this.index + 1, nextDate(this.date));
  }

  /** The local day containing an instant. */
  static containing(timeZone: string, epochMs: number): LocalDay {
    const l = localDateTime(timeZone, epochMs);
    return new LocalDay(timeZone, 0, { year: l.year, month: l.month, day: l.day });
  }
}
