/**
 * core/usage/calendar.ts: open intervals of weekly hours with closed dates and
 * make-up working days (调休), across midnight and DST changes, and local
 * buckets (hour, day, ISO week from Monday, month); `openState` (open now,
 * and when it closes: what access decisions and closing time follow).
 * Hand-computed fixtures, and properties: an instant is inside the open
 * intervals exactly when core/access/time.ts says the schedule is open at it,
 * and `openState` agrees with the open intervals whatever order it is asked in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOpen, localTime, type Period } from '../../core/access/time.js';
import { validateSite } from '../../core/site/validate.js';
import { CLOSING_HORIZON_MS, localBuckets, openIntervals, openingCalendar, openState, siteCalendar, spaceOpenState, zoneAround, type Granularity } from '../../core/usage/calendar.js';

const H = 3600_000;
const MIN = 60_000;
const SH = 'Asia/Shanghai';
const WEEKDAYS: Period = { days: [1, 2, 3, 4, 5], from: '09:00', to: '18:00' };
/** Local wall time in Shanghai (UTC+8, no DST) as an instant. */
const sh = (local: string): number => Date.parse(`${local}:00+08:00`);
const span = (from: string, to: string) => ({ from: sh(from), to: sh(to) });

describe('openIntervals', () => {
  it('a weekday open 09:00–18:00 local is one interval, in UTC', () => {
    const cal = openingCalendar({ timezone: SH, hours: [WEEKDAYS] });
    // Wednesday 2026-11-25.
    expect(openIntervals(cal, sh('2026-11-25T00:00'), sh('2026-11-26T00:00'))).toEqual([{ from: Date.parse('2026-11-25T01:00:00Z'), to: Date.parse('2026-11-25T10:00:00Z') }]);
  });

  it('a week of weekday hours: five days, nothing on Saturday and Sunday', () => {
    const cal = openingCalendar({ timezone: SH, hours: [WEEKDAYS] });
    const got = openIntervals(cal, sh('2026-11-23T00:00'), sh('2026-11-30T00:00'));
    expect(got).toEqual(['23', '24', '25', '26', '27'].map((d) => span(`2026-11-${d}T09:00`, `2026-11-${d}T18:00`)));
  });

  it.each([
    ['absent', undefined],
    ['null', null],
  ])('%s hours: always open (one interval, the whole period)', (_name, hours) => {
    const cal = openingCalendar({ timezone: SH, hours });
    expect(openIntervals(cal, sh('2026-11-25T07:30'), sh('2026-11-28T11:00'))).toEqual([span('2026-11-25T07:30', '2026-11-28T11:00')]);
  });

  it('an empty list of hours: never open, as access decisions read it', () => {
    const cal = openingCalendar({ timezone: SH, hours: [] });
    expect(openIntervals(cal, sh('2026-11-25T07:30'), sh('2026-11-28T11:00'))).toEqual([]);
  });

  it('is clipped to the period, and empty for an empty or reversed period', () => {
    const cal = openingCalendar({ timezone: SH, hours: [WEEKDAYS] });
    expect(openIntervals(cal, sh('2026-11-25T10:15'), sh('2026-11-25T12:00'))).toEqual([span('2026-11-25T10:15', '2026-11-25T12:00')]);
    expect(openIntervals(cal, sh('2026-11-25T10:15'), sh('2026-11-25T10:15'))).toEqual([]);
    expect(openIntervals(cal, sh('2026-11-25T12:00'), sh('2026-11-25T10:00'))).toEqual([]);
  });

  it('hours running past midnight join into one interval', () => {
    const cal = openingCalendar({
      timezone: SH,
      hours: [
        { days: [5], from: '20:00', to: '24:00' },
        { days: [6], from: '00:00', to: '02:00' },
      ],
    });
    // Friday 2026-11-27 20:00 to Saturday 02:00.
    expect(openIntervals(cal, sh('2026-11-23T00:00'), sh('2026-11-30T00:00'))).toEqual([span('2026-11-27T20:00', '2026-11-28T02:00')]);
  });

  it('overlapping periods of one day merge', () => {
    const cal = openingCalendar({
      timezone: SH,
      hours: [
        { days: [3], from: '09:00', to: '12:00' },
        { days: [3], from: '11:00', to: '14:00' },
        { days: [3], from: '16:00', to: '17:00' },
      ],
    });
    expect(openIntervals(cal, sh('2026-11-25T00:00'), sh('2026-11-26T00:00'))).toEqual([span('2026-11-25T09:00', '2026-11-25T14:00'), span('2026-11-25T16:00', '2026-11-25T17:00')]);
  });

  it('a closed date (public holiday) has no open time; named or not', () => {
    const cal = openingCalendar({ timezone: SH, hours: [WEEKDAYS], closedDates: ['2026-11-25', { date: '2026-11-26', name: 'Closure' }] });
    expect(openIntervals(cal, sh('2026-11-24T00:00'), sh('2026-11-28T00:00'))).toEqual([span('2026-11-24T09:00', '2026-11-24T18:00'), span('2026-11-27T09:00', '2026-11-27T18:00')]);
  });

  it('a closed date closes always-open hours too', () => {
    const cal = openingCalendar({ timezone: SH, closedDates: ['2026-11-25'] });
    expect(openIntervals(cal, sh('2026-11-24T12:00'), sh('2026-11-26T12:00'))).toEqual([span('2026-11-24T12:00', '2026-11-25T00:00'), span('2026-11-26T00:00', '2026-11-26T12:00')]);
  });

  it('a make-up working day (调休) opens a Saturday with its own hours', () => {
    const cal = openingCalendar({ timezone: SH, hours: [WEEKDAYS], extraOpenDates: [{ date: '2026-11-28', from: '09:00', to: '17:00', name: '调休' }] });
    expect(openIntervals(cal, sh('2026-11-28T00:00'), sh('2026-11-30T00:00'))).toEqual([span('2026-11-28T09:00', '2026-11-28T17:00')]);
  });

  it("an extra open date's hours replace the weekly hours of that date", () => {
    const cal = openingCalendar({ timezone: SH, hours: [WEEKDAYS], extraOpenDates: [{ date: '2026-11-25', from: '07:00', to: '10:00' }, { date: '2026-11-25', from: '20:00', to: '24:00' }] });
    expect(openIntervals(cal, sh('2026-11-25T00:00'), sh('2026-11-26T00:00'))).toEqual([span('2026-11-25T07:00', '2026-11-25T10:00'), span('2026-11-25T20:00', '2026-11-26T00:00')]);
  });

  it('a space narrows the site hours to their intersection', () => {
    const cal = openingCalendar({ timezone: SH, hours: [{ days: [1, 2, 3, 4, 5, 6, 7], from: '08:00', to: '22:00' }], narrowTo: [{ days: [1, 2, 3, 4, 5], from: '07:00', to: '18:00' }] });
    expect(openIntervals(cal, sh('2026-11-27T00:00'), sh('2026-11-29T00:00'))).toEqual([span('2026-11-27T08:00', '2026-11-27T18:00')]);
  });

  it('a DST spring-forward day is an hour shorter (Europe/Berlin, 2026-03-29, 02:00 → 03:00)', () => {
    const cal = openingCalendar({ timezone: 'Europe/Berlin', hours: [{ days: [1, 2, 3, 4, 5, 6, 7], from: '01:00', to: '04:00' }] });
    const got = openIntervals(cal, Date.parse('2026-03-28T23:00:00Z'), Date.parse('2026-03-29T22:00:00Z'));
    // 01:00 CET = 00:00Z; 02:00–03:00 does not exist; 04:00 CEST = 02:00Z.
    expect(got).toEqual([{ from: Date.parse('2026-03-29T00:00:00Z'), to: Date.parse('2026-03-29T02:00:00Z') }]);
  });

  it('a DST fall-back day is an hour longer, the repeated hour open both times (Europe/Berlin, 2026-10-25)', () => {
    const cal = openingCalendar({ timezone: 'Europe/Berlin', hours: [{ days: [1, 2, 3, 4, 5, 6, 7], from: '01:00', to: '04:00' }] });
    const got = openIntervals(cal, Date.parse('2026-10-24T22:00:00Z'), Date.parse('2026-10-25T23:00:00Z'));
    // 01:00 CEST = 23:00Z the day before; 04:00 CET = 03:00Z: four hours.
    expect(got).toEqual([{ from: Date.parse('2026-10-24T23:00:00Z'), to: Date.parse('2026-10-25T03:00:00Z') }]);
  });

  it('ends inside a repeated hour as isOpen does: open until the first 02:30, closed, open again from the second 02:00 (Europe/Berlin)', () => {
    const cal = openingCalendar({ timezone: 'Europe/Berlin', hours: [{ days: [7], from: '00:00', to: '02:30' }] });
    const got = openIntervals(cal, Date.parse('2026-10-24T20:00:00Z'), Date.parse('2026-10-25T06:00:00Z'));
    // 00:00 CEST = 22:00Z; the first 02:30 (CEST) = 00:30Z; 02:00 CET = 01:00Z; 02:30 CET = 01:30Z.
    expect(got).toEqual([
      { from: Date.parse('2026-10-24T22:00:00Z'), to: Date.parse('2026-10-25T00:30:00Z') },
      { from: Date.parse('2026-10-25T01:00:00Z'), to: Date.parse('2026-10-25T01:30:00Z') },
    ]);
  });

  it('from a site file: site hours, a space\'s own hours in their place, closed dates and make-up days', () => {
    const r = validateSite({
      version: 1,
      site: {
        id: 'demo',
        name: 'Demo',
        timezone: 'Asia/Shanghai',
        openingHours: [{ days: [1, 2, 3, 4, 5], from: '08:00', to: '22:00' }],
        closedDates: [{ date: '2026-10-01', name: '国庆节' }, '2026-10-02'],
        extraOpenDates: [{ date: '2026-10-10', from: '09:00', to: '18:00', name: '国庆调休' }],
      },
      spaces: [
        { id: 'cowork', name: 'Co-working', kind: 'open-space' },
        { id: 'lab', name: 'Lab', kind: 'lab', openingHours: [{ days: [1, 2, 3, 4, 5], from: '10:00', to: '16:00' }] },
      ],
    });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const site = siteCalendar(r.site);
    const lab = siteCalendar(r.site, 'lab');
    // Thursday 1 October closed, Friday 2 closed, Saturday 10 a make-up day.
    const week = [sh('2026-09-30T00:00'), sh('2026-10-03T00:00')] as const;
    expect(openIntervals(site, ...week)).toEqual([span('2026-09-30T08:00', '2026-09-30T22:00')]);
    expect(openIntervals(lab, ...week)).toEqual([span('2026-09-30T10:00', '2026-09-30T16:00')]);
    expect(openIntervals(lab, sh('2026-10-10T00:00'), sh('2026-10-11T00:00'))).toEqual([span('2026-10-10T09:00', '2026-10-10T18:00')]);
    expect(() => siteCalendar(r.site, 'nowhere')).toThrow(/no space "nowhere"/);
  });
});

describe('openState: open now, and when it closes', () => {
  const DAY = 24 * H;

  it('open inside the hours, closing at their end; closed outside them, closing "now"', () => {
    const cal = openingCalendar({ timezone: SH, hours: [WEEKDAYS] });
    expect(openState(cal, sh('2026-11-25T10:15'))).toEqual({ open: true, closesAt: sh('2026-11-25T18:00') });
    expect(openState(cal, sh('2026-11-25T18:00') - 1)).toEqual({ open: true, closesAt: sh('2026-11-25T18:00') });
    expect(openState(cal, sh('2026-11-25T18:00'))).toEqual({ open: false, closesAt: sh('2026-11-25T18:00') });
    expect(openState(cal, sh('2026-11-25T08:59'))).toEqual({ open: false, closesAt: sh('2026-11-25T08:59') });
  });

  it('always open: no closing time within the horizon, until a closed date comes within it', () => {
    expect(openState(openingCalendar({ timezone: SH }), sh('2026-11-25T10:00'))).toEqual({ open: true, closesAt: null });
    const holiday = openingCalendar({ timezone: SH, closedDates: ['2026-11-28'] });
    expect(openState(holiday, sh('2026-11-25T10:00'))).toEqual({ open: true, closesAt: sh('2026-11-28T00:00') });
    expect(openState(holiday, sh('2026-11-28T10:00'))).toEqual({ open: false, closesAt: sh('2026-11-28T10:00') });
    // More than the horizon (8 days) ahead: not closing.
    expect(CLOSING_HORIZON_MS).toBe(8 * DAY);
    expect(openState(holiday, sh('2026-11-19T23:59'))).toEqual({ open: true, closesAt: null });
    expect(openState(holiday, sh('2026-11-20T00:01'))).toEqual({ open: true, closesAt: sh('2026-11-28T00:00') });
  });

  it('a stretch past midnight closes where a closed date begins (the evening before a holiday)', () => {
    const late = [
      { days: [1, 2, 3, 4, 5], from: '08:00', to: '24:00' },
      { days: [2, 3, 4, 5, 6], from: '00:00', to: '02:00' },
    ];
    // Wednesday 2025-10-01 is National Day.
    const plain = openingCalendar({ timezone: SH, hours: late });
    const holiday = openingCalendar({ timezone: SH, hours: late, closedDates: ['2025-10-01'] });
    expect(openState(plain, sh('2025-09-30T23:00'))).toEqual({ open: true, closesAt: sh('2025-10-01T02:00') });
    expect(openState(holiday, sh('2025-09-30T23:00'))).toEqual({ open: true, closesAt: sh('2025-10-01T00:00') });
    expect(openState(holiday, sh('2025-10-01T01:00')).open).toBe(false);
    // Minutes belong to the date they fall on: Thursday's own 00:00–02:00 is open, the holiday closed only its own.
    expect(openState(holiday, sh('2025-10-02T01:00'))).toEqual({ open: true, closesAt: sh('2025-10-02T02:00') });
  });

  it('a make-up working day (调休) is open for its hours, and closed outside them', () => {
    const cal = openingCalendar({ timezone: SH, hours: [WEEKDAYS], extraOpenDates: [{ date: '2026-11-28', from: '09:00', to: '17:00' }] });
    expect(openState(cal, sh('2026-11-28T10:00'))).toEqual({ open: true, closesAt: sh('2026-11-28T17:00') });
    expect(openState(cal, sh('2026-11-28T08:00')).open).toBe(false);
    expect(openState(cal, sh('2026-11-28T17:00')).open).toBe(false);
    expect(openState(cal, sh('2026-11-29T10:00')).open).toBe(false);
  });

  it('counts real time across a DST change, not wall-clock time (Europe/Berlin)', () => {
    const cal = openingCalendar({
      timezone: 'Europe/Berlin',
      hours: [
        { days: [6], from: '20:00', to: '24:00' },
        { days: [7], from: '00:00', to: '04:00' },
      ],
    });
    // Saturday 2026-03-28 23:00 CET = 22:00Z; Sunday 04:00 CEST = 02:00Z: 4 h, though the wall clock moves 5.
    expect(openState(cal, Date.parse('2026-03-28T22:00:00Z'))).toEqual({ open: true, closesAt: Date.parse('2026-03-29T02:00:00Z') });
    // Saturday 2026-10-24 23:00 CEST = 21:00Z; Sunday 04:00 CET = 03:00Z: 6 h.
    expect(openState(cal, Date.parse('2026-10-24T21:00:00Z'))).toEqual({ open: true, closesAt: Date.parse('2026-10-25T03:00:00Z') });
    // Inside the repeated hour (02:30 CEST, then 02:30 CET): open both times, with the same closing.
    expect(openState(cal, Date.parse('2026-10-25T00:30:00Z'))).toEqual({ open: true, closesAt: Date.parse('2026-10-25T03:00:00Z') });
    expect(openState(cal, Date.parse('2026-10-25T01:30:00Z'))).toEqual({ open: true, closesAt: Date.parse('2026-10-25T03:00:00Z') });
    expect(openState(cal, Date.parse('2026-10-25T03:00:00Z')).open).toBe(false);
  });

  it('compiles a site\'s calendars once: the same object for a space again, the site\'s for a space without hours of its own', () => {
    const r = validateSite({
      version: 1,
      site: { id: 'demo', name: 'Demo', timezone: SH, openingHours: [WEEKDAYS], closedDates: ['2026-11-25'] },
      spaces: [
        { id: 'cowork', name: 'Co-working', kind: 'open-space' },
        { id: 'lab', name: 'Lab', kind: 'lab', openingHours: [{ days: [1, 2, 3, 4, 5], from: '10:00', to: '16:00' }] },
      ],
    });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(siteCalendar(r.site, 'lab')).toBe(siteCalendar(r.site, 'lab'));
    expect(siteCalendar(r.site, 'cowork')).toBe(siteCalendar(r.site));
    expect(siteCalendar(r.site, 'lab')).not.toBe(siteCalendar(r.site));
    // spaceOpenState: a space's calendar; the site's for a null or unknown space.
    expect(spaceOpenState(r.site, 'lab', sh('2026-11-26T09:30')).open).toBe(false);
    expect(spaceOpenState(r.site, 'cowork', sh('2026-11-26T09:30'))).toEqual({ open: true, closesAt: sh('2026-11-26T18:00') });
    expect(spaceOpenState(r.site, null, sh('2026-11-25T12:00')).open).toBe(false);
    expect(spaceOpenState(r.site, 'nowhere', sh('2026-11-26T12:00')).open).toBe(true);
  });
});

describe('localBuckets', () => {
  const keys = (from: number, to: number, g: Granularity, tz = SH) => localBuckets(from, to, g, zoneAround(tz, from, to)).map((b) => [b.key, b.start, b.from, b.to]);

  it('days start at local midnight; the first and last are clipped to the period', () => {
    expect(keys(sh('2026-11-25T10:00'), sh('2026-11-27T06:00'), 'day')).toEqual([
      ['2026-11-25', '2026-11-25T00:00', sh('2026-11-25T10:00'), sh('2026-11-26T00:00')],
      ['2026-11-26', '2026-11-26T00:00', sh('2026-11-26T00:00'), sh('2026-11-27T00:00')],
      ['2026-11-27', '2026-11-27T00:00', sh('2026-11-27T00:00'), sh('2026-11-27T06:00')],
    ]);
  });

  it('ISO weeks start on Monday, local time', () => {
    // Sunday 2026-11-22 to Wednesday 2026-12-02: the end of W47, all of W48, the start of W49.
    expect(keys(sh('2026-11-22T00:00'), sh('2026-12-02T00:00'), 'week')).toEqual([
      ['2026-W47', '2026-11-16T00:00', sh('2026-11-22T00:00'), sh('2026-11-23T00:00')],
      ['2026-W48', '2026-11-23T00:00', sh('2026-11-23T00:00'), sh('2026-11-30T00:00')],
      ['2026-W49', '2026-11-30T00:00', sh('2026-11-30T00:00'), sh('2026-12-02T00:00')],
    ]);
  });

  it('ISO weeks across a new year belong to the year of their Thursday (2027-01-01 is in 2026-W53)', () => {
    expect(keys(sh('2026-12-31T00:00'), sh('2027-01-05T00:00'), 'week').map((k) => k[0])).toEqual(['2026-W53', '2027-W01']);
  });

  it('months start on the 1st, local midnight', () => {
    expect(keys(sh('2026-10-15T00:00'), sh('2026-12-10T00:00'), 'month')).toEqual([
      ['2026-10', '2026-10-01T00:00', sh('2026-10-15T00:00'), sh('2026-11-01T00:00')],
      ['2026-11', '2026-11-01T00:00', sh('2026-11-01T00:00'), sh('2026-12-01T00:00')],
      ['2026-12', '2026-12-01T00:00', sh('2026-12-01T00:00'), sh('2026-12-10T00:00')],
    ]);
  });

  it('hours are local hours', () => {
    expect(keys(sh('2026-11-25T09:30'), sh('2026-11-25T11:00'), 'hour')).toEqual([
      ['2026-11-25T09:00', '2026-11-25T09:00', sh('2026-11-25T09:30'), sh('2026-11-25T10:00')],
      ['2026-11-25T10:00', '2026-11-25T10:00', sh('2026-11-25T10:00'), sh('2026-11-25T11:00')],
    ]);
  });

  it('DST: a 23-hour and a 25-hour day; the skipped hour has no bucket, the repeated hour one of two hours (Europe/Berlin)', () => {
    const tz = 'Europe/Berlin';
    const days = (from: string, to: string) => keys(Date.parse(from), Date.parse(to), 'day', tz).map(([k, , f, t]) => [k, (Number(t) - Number(f)) / H]);
    expect(days('2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z')).toEqual([['2026-03-29', 23]]);
    expect(days('2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z')).toEqual([['2026-10-25', 25]]);
    const spring = keys(Date.parse('2026-03-29T00:00:00Z'), Date.parse('2026-03-29T03:00:00Z'), 'hour', tz).map((k) => k[0]);
    expect(spring).toEqual(['2026-03-29T01:00', '2026-03-29T03:00', '2026-03-29T04:00']);
    const autumn = keys(Date.parse('2026-10-24T23:00:00Z'), Date.parse('2026-10-25T03:00:00Z'), 'hour', tz).map(([k, , f, t]) => [k, (Number(t) - Number(f)) / H]);
    expect(autumn).toEqual([
      ['2026-10-25T01:00', 1],
      ['2026-10-25T02:00', 2],
      ['2026-10-25T03:00', 1],
    ]);
  });

  it('buckets tile the period exactly, for every granularity', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(SH, 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'),
        fc.constantFrom<Granularity>('hour', 'day', 'week', 'month'),
        fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2027-01-01T00:00:00Z') }),
        fc.integer({ min: 0, max: 40 * 24 * H }),
        (tz, g, from, len) => {
          const b = localBuckets(from, from + len, g, zoneAround(tz, from, from + len));
          if (len === 0) return b.length === 0;
          expect(b[0]!.from).toBe(from);
          expect(b[b.length - 1]!.to).toBe(from + len);
          for (let i = 1; i < b.length; i++) expect(b[i]!.from).toBe(b[i - 1]!.to);
          for (const x of b) expect(x.to).toBeGreaterThan(x.from);
          return true;
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('property: open exactly when isOpen says so', () => {
  const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  const period = fc
    .record({ days: fc.subarray([1, 2, 3, 4, 5, 6, 7], { minLength: 1 }), a: fc.integer({ min: 0, max: 1439 }), len: fc.integer({ min: 1, max: 1440 }) })
    .map(({ days, a, len }): Period => ({ days, from: hhmm(a), to: hhmm(Math.min(1440, a + len)) }));

  it('for random weekly hours, closed and extra dates, in zones with and without DST', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(SH, 'Europe/Berlin', 'America/New_York'),
        fc.array(period, { minLength: 1, maxLength: 4 }),
        // Around the 2026 DST changes in Europe (29 March) and the US (8 March).
        fc.constantFrom(Date.parse('2026-03-05T00:00:00Z'), Date.parse('2026-03-26T00:00:00Z'), Date.parse('2026-10-22T00:00:00Z')),
        fc.subarray(['2026-03-07', '2026-03-08', '2026-03-29', '2026-10-24', '2026-10-25']),
        fc.subarray(['2026-03-06', '2026-03-28', '2026-10-23']),
        fc.array(fc.integer({ min: 0, max: 7 * 24 * 60 - 1 }), { minLength: 30, maxLength: 30 }),
        (tz, hours, from, closed, extraDates, samples) => {
          const extra = extraDates.map((date) => ({ date, from: '10:00', to: '13:30' }));
          const cal = openingCalendar({ timezone: tz, hours, closedDates: closed, extraOpenDates: extra });
          const to = from + 7 * 24 * H;
          const open = openIntervals(cal, from, to);
          for (let i = 1; i < open.length; i++) expect(open[i]!.from).toBeGreaterThan(open[i - 1]!.to);
          for (const m of samples) {
            const t = from + m * MIN;
            const lt = localTime(t, tz);
            const e = extra.find((x) => x.date === lt.date);
            const expected = closed.includes(lt.date) ? false : e ? lt.minute >= 600 && lt.minute < 810 : isOpen(hours, lt);
            expect(open.some((iv) => iv.from <= t && t < iv.to), `${tz} ${new Date(t).toISOString()} (${lt.date} minute ${lt.minute})`).toBe(expected);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('openState agrees with the open intervals, asked in any order (its memo of the window ahead never shows)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(SH, 'Europe/Berlin', 'America/New_York'),
        fc.array(period, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(Date.parse('2026-03-05T00:00:00Z'), Date.parse('2026-03-26T00:00:00Z'), Date.parse('2026-10-22T00:00:00Z')),
        fc.subarray(['2026-03-07', '2026-03-08', '2026-03-29', '2026-10-24', '2026-10-25']),
        fc.subarray(['2026-03-06', '2026-03-28', '2026-10-23']),
        fc.array(fc.integer({ min: 0, max: 14 * 24 * 60 * 60 - 1 }), { minLength: 20, maxLength: 20 }),
        (tz, hours, from, closed, extraDates, samples) => {
          const cal = openingCalendar({ timezone: tz, hours, closedDates: closed, extraOpenDates: extraDates.map((date) => ({ date, from: '10:00', to: '13:30' })) });
          // Oracle: the intervals of a fixed span reaching well past every sample's horizon.
          const open = openIntervals(openingCalendar({ timezone: tz, hours, closedDates: closed, extraOpenDates: extraDates.map((date) => ({ date, from: '10:00', to: '13:30' })) }), from - 2 * 24 * H, from + 30 * 24 * H);
          for (const s of samples) {
            const t = from + s * 1000 + (s % 7) * 13;
            const iv = open.find((x) => x.from <= t && t < x.to);
            const expected = iv ? { open: true, closesAt: iv.to - t >= CLOSING_HORIZON_MS ? null : iv.to } : { open: false, closesAt: t };
            expect(openState(cal, t), `${tz} ${new Date(t).toISOString()}`).toEqual(expected);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
