/**
 * core/evaluation/bookings.ts and the booking indicators of the report:
 * booked versus used from plain booking records, against a fixture counted
 * by hand (the arithmetic beside each case).
 */
import { describe, expect, it } from 'vitest';
import { bookingTotals } from '../../core/evaluation/bookings.js';
import type { BookingRecord } from '../../core/evaluation/inputs.js';
import { periodOf } from '../../core/evaluation/periods.js';
import { evaluate, mergeData, report } from '../../core/evaluation/report.js';

const SH = 'Asia/Shanghai';
const sh = (local: string): number => Date.parse(`${local}+08:00`);
const NOV = periodOf('month', '2026-11', SH);

const bk = (id: string, status: BookingRecord['status'], from: string, to: string): BookingRecord => ({ id, status, from: sh(from), to: sh(to) });

// November 2026, Shanghai time.
const BOOKINGS: BookingRecord[] = [
  bk('b1', 'used', '2026-11-03T14:00', '2026-11-03T16:00'), // 2 h, used
  bk('b2', 'used', '2026-11-04T09:00', '2026-11-04T09:30'), // 0.5 h, used
  bk('b3', 'released', '2026-11-05T10:00', '2026-11-05T11:00'), // 1 h, no-show (auto-released)
  bk('b4', 'no_show', '2026-11-06T10:00', '2026-11-06T11:30'), // 1.5 h, no-show (slot kept)
  bk('b5', 'confirmed', '2026-11-30T23:00', '2026-12-01T01:00'), // 2 h, not checked in yet; starts in November
  bk('b6', 'cancelled', '2026-11-07T10:00', '2026-11-07T12:00'), // not counted
  bk('b7', 'requested', '2026-11-08T10:00', '2026-11-08T12:00'), // not counted
  bk('b8', 'used', '2026-10-31T23:00', '2026-11-01T01:00'), // starts in October: October's
  bk('b9', 'used', '2026-12-01T00:00', '2026-12-01T01:00'), // December's
];

describe('booked versus used', () => {
  it('counts the bookings starting in the period, by what check-in decided', () => {
    const t = bookingTotals(BOOKINGS, NOV.from, NOV.to);
    // Made: b1–b5 = 5. Used: b1, b2. No-shows: b3, b4. Undecided: b5.
    // Booked: 2 + 0.5 + 1 + 1.5 + 2 = 7 h. Used: 2.5 h. Decided: 2.5 + 1 + 1.5 = 5 h.
    expect(t).toEqual({ made: 5, used: 2, noShows: 2, undecided: 1, bookedMs: 7 * 3_600_000, bookedHours: 7, usedMs: 2.5 * 3_600_000, decidedMs: 5 * 3_600_000, ids: ['b1', 'b2', 'b3', 'b4', 'b5'] });
  });

  it('the indicators: used share of the decided booked hours, 2.5 / 5 = 50 %', () => {
    const v = evaluate(NOV, { bookings: BOOKINGS }).values;
    expect(v['bookings-made']).toEqual({ value: 5, evidence: 5, nullReason: null });
    expect(v['bookings-used']).toEqual({ value: 2, evidence: 5, nullReason: null });
    expect(v['bookings-no-show']).toEqual({ value: 2, evidence: 5, nullReason: null });
    expect(v['booked-hours']).toEqual({ value: 7, evidence: 5, nullReason: null });
    expect(v['booked-hours-used-share']).toEqual({ value: 0.5, numerator: 2.5 * 3_600_000, denominator: 5 * 3_600_000, evidence: 4, nullReason: null });
  });

  it('not supplied: null, not-supplied; supplied but none decided: the share is null (zero denominator), the counts 0', () => {
    const none = evaluate(NOV, {}).values;
    expect(none['bookings-made']).toMatchObject({ value: null, nullReason: 'not-supplied' });
    const waiting = evaluate(NOV, { bookings: [bk('w', 'confirmed', '2026-11-10T10:00', '2026-11-10T11:00')] }).values;
    expect([waiting['bookings-made']!.value, waiting['bookings-used']!.value, waiting['booked-hours']!.value]).toEqual([1, 0, 1]);
    expect(waiting['booked-hours-used-share']).toMatchObject({ value: null, nullReason: 'zero-denominator' });
  });

  it('several sites: bookings joined, the share from summed hours (not an average of shares)', () => {
    // Site a: 1 h used of 1 h decided (100 %). Site b: 0 h used of 3 h decided (0 %). Together 1 / 4 = 25 %, not 50 %.
    const a = { bookings: [bk('a1', 'used', '2026-11-02T10:00', '2026-11-02T11:00')] };
    const b = { bookings: [bk('b1', 'no_show', '2026-11-02T10:00', '2026-11-02T13:00')] };
    expect(evaluate(NOV, mergeData([a, b])).values['booked-hours-used-share']!.value).toBe(0.25);
    const r = report({ kind: 'month', key: '2026-11', timezone: SH, sites: [{ siteId: 'a', current: a, previous: {} }, { siteId: 'b', current: b, previous: {} }] });
    const row = r.total.rows.find((x) => x.id === 'booked-hours')!;
    expect([row.nameZh, row.nameEn, row.unit, row.value, row.previous]).toEqual(['预约时长', 'Booked hours', 'hours', 4, null]);
    expect(r.total.details.bookings?.made).toBe(2);
  });
});
