/**
 * Booked versus used (docs/indicators.md, "Bookings: booked and used"): how
 * many member bookings of machines, hot desks and rooms started in the
 * period, how many check-in found used and how many were no-shows, the
 * hours booked, and the share of the decided booked hours that was used.
 * Check-in decides from the sensors (docs/bookings.md, "Check-in from
 * reality"); this only counts its verdicts. Pure.
 */
import type { BookingRecord } from './inputs.js';
import { round2 } from './values.js';

export interface BookingTotals {
  /** Bookings counted (not cancelled, not a visitor's request still waiting): started in the period. */
  readonly made: number;
  readonly used: number;
  /** no_show, or released by auto-release. */
  readonly noShows: number;
  /** Made but not decided yet: confirmed, its check-in still to come. */
  readonly undecided: number;
  readonly bookedMs: number;
  readonly bookedHours: number;
  readonly usedMs: number;
  /** Booked time of used bookings plus that of no-shows: the denominator of the used share. */
  readonly decidedMs: number;
  /** Booking ids counted, sorted (the evidence). */
  readonly ids: readonly string[];
}

export function bookingTotals(bookings: readonly BookingRecord[], from: number, to: number): BookingTotals {
  let used = 0;
  let noShows = 0;
  let undecided = 0;
  let bookedMs = 0;
  let usedMs = 0;
  let decidedMs = 0;
  const ids: string[] = [];
  for (const b of bookings) {
    if (!(b.from >= from && b.from < to)) continue;
    if (b.status === 'cancelled' || b.status === 'requested') continue;
    const ms = Math.max(0, b.to - b.from);
    ids.push(b.id);
    bookedMs += ms;
    switch (b.status) {
      case 'used':
        used++;
        usedMs += ms;
        decidedMs += ms;
        break;
      case 'no_show':
      case 'released':
        noShows++;
        decidedMs += ms;
        break;
      case 'confirmed':
        undecided++;
        break;
    }
  }
  return { made: ids.length, used, noShows, undecided, bookedMs, bookedHours: round2(bookedMs / 3_600_000), usedMs, decidedMs, ids: ids.sort() };
}
