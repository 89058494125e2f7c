/** Check-in from reality (core/booking/checkin.ts) over simulated sessions, and the iCalendar writer's folding and escaping. */
import { describe, expect, it } from 'vitest';
import { bookedTime, evaluateCheckins, type CheckinBooking, type CheckinSession } from '../../core/booking/checkin.js';
import { foldLine, icsText, toICalendar } from '../../core/booking/ical.js';

const MIN = 60_000;
const T = Date.UTC(2026, 10, 26, 2); // a booking's start
const grace = 15 * MIN;

const booking = (over: Partial<CheckinBooking> = {}): CheckinBooking => ({
  id: 'b1', resourceType: 'equipment', resourceId: 'laser-1', space: 'lab', memberId: 'm-a', kind: 'booking', from: T, to: T + 60 * MIN, status: 'confirmed', ...over,
});
const session = (over: Partial<CheckinSession> = {}): CheckinSession => ({ kind: 'machine', resource: 'laser-1', space: 'lab', memberId: 'm-a', start: T + 5 * MIN, end: T + 40 * MIN, ...over });

type Row = [string, CheckinBooking, CheckinSession[], number, boolean, string | null];
const rows: Row[] = [
  ['the machine ran for the member within the grace period', booking(), [session()], T + 10 * MIN, true, 'used'],
  ['the machine ran with no badge attributed (meter only)', booking(), [session({ memberId: null })], T + 10 * MIN, true, 'used'],
  ['someone else ran the machine', booking(), [session({ memberId: 'm-b' })], T + 20 * MIN, true, 'released'],
  ['use began after the grace period', booking(), [session({ start: T + 20 * MIN })], T + 30 * MIN, true, 'released'],
  ['use that began before the booking and ran into it', booking(), [session({ start: T - 30 * MIN, end: T + 2 * MIN })], T + 5 * MIN, true, 'used'],
  ['nothing seen, grace not over: undecided', booking(), [], T + 10 * MIN, true, null],
  ['nothing seen, auto-release off: a held no-show', booking(), [], T + 15 * MIN, false, 'no_show'],
  ['a desk: its sensor saw someone', booking({ resourceType: 'desk', resourceId: 'd20', space: 'cowork' }), [session({ kind: 'desk', resource: 'd20', space: 'cowork', memberId: null })], T + 15 * MIN, true, 'used'],
  ['a desk: the member badged into its space', booking({ resourceType: 'desk', resourceId: 'd20', space: 'cowork' }), [session({ kind: 'presence', resource: 'cowork', space: 'cowork' })], T + 15 * MIN, true, 'used'],
  ['a desk: another member in the space does not count', booking({ resourceType: 'desk', resourceId: 'd20', space: 'cowork' }), [session({ kind: 'presence', resource: 'cowork', space: 'cowork', memberId: 'm-b' })], T + 15 * MIN, true, 'released'],
  ['a room: its sensor', booking({ resourceType: 'room', resourceId: 'room-a', space: 'room-a' }), [session({ kind: 'presence', resource: 'room-a', space: 'room-a', memberId: null })], T + 15 * MIN, true, 'used'],
  ['a block is never checked in', booking({ kind: 'block', memberId: null }), [], T + 30 * MIN, true, null],
  ['a cancelled booking is left alone', booking({ status: 'cancelled' }), [], T + 30 * MIN, true, null],
];

describe('check-in from reality', () => {
  it.each(rows)('%s', (_name, b, sessions, now, autoRelease, expected) => {
    const out = evaluateCheckins([b], sessions, { now, graceMs: grace, autoRelease });
    expect(out[0]?.status ?? null).toBe(expected);
  });

  it('dates the use from the first evidence, never before the booking', () => {
    expect(evaluateCheckins([booking()], [session({ start: T + 7 * MIN }), session({ start: T - 5 * MIN, end: T + MIN })], { now: T + 20 * MIN, graceMs: grace, autoRelease: true })).toEqual([{ id: 'b1', status: 'used', usedAt: T }]);
  });

  it('sums booked, used and booked-but-unused time', () => {
    const all = [booking({ id: 'a', status: 'used' }), booking({ id: 'b', status: 'released' }), booking({ id: 'c', status: 'no_show', memberId: 'm-b' }), booking({ id: 'd', status: 'cancelled' })];
    const by = bookedTime(all, (b) => b.memberId);
    expect(by.get('m-a')).toEqual({ bookings: 2, bookedMs: 120 * MIN, usedMs: 60 * MIN, unusedMs: 60 * MIN, noShows: 1 });
    expect(by.get('m-b')).toEqual({ bookings: 1, bookedMs: 60 * MIN, usedMs: 0, unusedMs: 60 * MIN, noShows: 1 });
  });
});

describe('iCalendar writer', () => {
  it('escapes text and folds long lines at 75 octets without splitting a character', () => {
    expect(icsText('a;b,c\\d\ne')).toBe('a\\;b\\,c\\\\d\\ne');
    const line = `SUMMARY:${'激光切割机'.repeat(10)}`;
    const folded = foldLine(line).split('\r\n');
    expect(folded.length).toBeGreaterThan(1);
    for (const l of folded) expect(new TextEncoder().encode(l).length).toBeLessThanOrEqual(75);
    expect(folded.map((l, i) => (i === 0 ? l : l.slice(1))).join('')).toBe(line);
  });

  it('writes CRLF lines with UTC times', () => {
    const ics = toICalendar('Laser', [{ uid: 'b1@host', from: T, to: T + 60 * MIN, summary: 'Laser', status: 'CONFIRMED', modified: T - MIN }], T - 2 * MIN);
    expect(ics.split('\r\n')).toContain('DTSTART:20261126T020000Z');
    expect(ics.endsWith('END:VCALENDAR\r\n')).toBe(true);
    expect(ics.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });
});
