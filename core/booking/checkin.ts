/**
 * Check-in from reality (issue #13): whether a booking was used, from what the
 * sensors and the interlock saw, not from a button pressed. Pure: bookings and
 * usage sessions (core/usage/sessioniser.ts, as the usage read-back gives
 * them) and the time are handed in; the outcomes come back.
 *
 * A member's booking is used when, within the grace period around its start
 * ([from − grace, from + grace)), one of these shows use:
 *  - a machine: a session on that machine, the booked member's or one with
 *    no badge attributed (the meter saw it run);
 *  - a hot desk: the desk's sensor (a desk session), or the member's presence
 *    in the desk's space (their badge at the door);
 *  - a room: a session on the room (its sensor) or the member's presence in it.
 * With no use seen by the end of the grace period it is a no-show: released
 * (the rest of the slot is free again) when auto-release is on, else kept as
 * `no_show` (the slot stays held). Blocks and visitors' bookings are not
 * checked in: nobody's badge can show them used.
 */
import type { UsageSession } from '../usage/sessioniser.js';
import type { ResourceType } from './rules.js';

export interface CheckinBooking {
  readonly id: string;
  readonly resourceType: ResourceType;
  readonly resourceId: string;
  /** The space the resource stands in (a room: itself). */
  readonly space: string;
  readonly memberId: string | null;
  readonly kind: 'booking' | 'block' | 'visitor';
  readonly from: number;
  readonly to: number;
  readonly status: string;
}

export type CheckinSession = Pick<UsageSession, 'kind' | 'resource' | 'space' | 'memberId' | 'start' | 'end'>;

export interface CheckinOutcome {
  readonly id: string;
  readonly status: 'used' | 'no_show' | 'released';
  /** The first use seen (clipped to the booking's start), null for a no-show. */
  readonly usedAt: number | null;
}

export interface CheckinOptions {
  readonly now: number;
  readonly graceMs: number;
  readonly autoRelease: boolean;
}

/** Whether a session shows use of the booked resource by the booked member. */
export function showsUse(b: CheckinBooking, s: CheckinSession): boolean {
  const byMember = s.memberId === null || s.memberId === b.memberId;
  switch (b.resourceType) {
    case 'equipment':
      return s.kind === 'machine' && s.resource === b.resourceId && byMember;
    case 'desk':
      return (s.kind === 'desk' && s.resource === b.resourceId) || (s.kind === 'presence' && s.resource === b.space && s.memberId === b.memberId);
    case 'room':
      return (s.resource === b.resourceId && s.kind !== 'machine' && byMember) || (s.kind === 'presence' && s.space === b.resourceId && s.memberId === b.memberId);
  }
}

/** Outcomes for the confirmed member bookings that can be decided at `now`; bookings not yet decidable are left out. */
export function evaluateCheckins(bookings: readonly CheckinBooking[], sessions: readonly CheckinSession[], o: CheckinOptions): CheckinOutcome[] {
  const out: CheckinOutcome[] = [];
  for (const b of bookings) {
    if (b.kind !== 'booking' || b.status !== 'confirmed') continue;
    const windowFrom = b.from - o.graceMs;
    const windowTo = Math.min(b.to, b.from + o.graceMs);
    let first: number | null = null;
    for (const s of sessions) {
      if (s.start < windowTo && s.end > windowFrom && s.start < o.now && showsUse(b, s)) {
        const at = Math.max(s.start, b.from);
        if (first === null || at < first) first = at;
      }
    }
    if (first !== null) out.push({ id: b.id, status: 'used', usedAt: first });
    else if (o.now >= windowTo) out.push({ id: b.id, status: o.autoRelease ? 'released' : 'no_show', usedAt: null });
  }
  return out;
}

export interface BookedTime {
  readonly bookings: number;
  readonly bookedMs: number;
  /** Booked time of bookings that were used. */
  readonly usedMs: number;
  /** Booked time of no-shows (released or not): booked but unused. */
  readonly unusedMs: number;
  readonly noShows: number;
}

/** Booked, used and booked-but-unused time, by a key of the booking (member, resource). */
export function bookedTime<K extends string>(bookings: readonly (CheckinBooking & { readonly status: string })[], key: (b: CheckinBooking) => K | null): Map<K, BookedTime> {
  const acc = new Map<K, { bookings: number; bookedMs: number; usedMs: number; unusedMs: number; noShows: number }>();
  for (const b of bookings) {
    if (b.status === 'cancelled' || b.status === 'requested') continue;
    const k = key(b);
    if (k === null) continue;
    let a = acc.get(k);
    if (!a) acc.set(k, (a = { bookings: 0, bookedMs: 0, usedMs: 0, unusedMs: 0, noShows: 0 }));
    const ms = b.to - b.from;
    a.bookings++;
    a.bookedMs += ms;
    if (b.status === 'used') a.usedMs += ms;
    if (b.status === 'no_show' || b.status === 'released') {
      a.unusedMs += ms;
      a.noShows++;
    }
  }
  return acc;
}
