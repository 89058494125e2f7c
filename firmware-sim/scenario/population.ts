/**
 * The simulated membership: a fixed, seeded population with habits. Residents
 * hold the fixed desks and come most weekdays; flexible members come less and
 * take hot desks; about half the members use the machines.
 */
import type { Site } from '../../core/site/model.js';
import { Rng } from './rng.js';

export interface Member {
  /** m001, m002, … */
  readonly id: string;
  /** Card id as a `uid` reader reports it: 8 upper-case hex digits, unique in the population. */
  readonly card: string;
  /** Fixed desk held by the member, if any. */
  readonly fixedDesk: string | null;
  /** Open space the member usually works in (their desk's space, or one of the open spaces). */
  readonly homeSpace: string | null;
  /** Probability of coming in on a weekday. */
  readonly weekdayAttendance: number;
  /** Probability of coming in on a Saturday or Sunday. */
  readonly weekendAttendance: number;
  /** Usual arrival and departure, minutes after local midnight. */
  readonly arriveMin: number;
  readonly leaveMin: number;
  /** Expected machine jobs per day present (0 for members who never use the machines). */
  readonly jobsPerDay: number;
  /** Index into the site's entrance readers (the door the member usually uses). */
  readonly entrance: number;
}

export const DEFAULT_MEMBERS = 120;

export function population(site: Site, seed: number, count: number = DEFAULT_MEMBERS): readonly Member[] {
  const rng = Rng.derive(seed, 'members');
  const fixedDesks = [...site.desks.values()].filter((d) => d.kind === 'fixed');
  const openSpaces = [...site.spaces.values()].filter((s) => s.kind === 'open-space').map((s) => s.id);
  const cards = new Set<string>();
  const members: Member[] = [];
  for (let i = 0; i < count; i++) {
    let card = rng.hex(8);
    while (cards.has(card) || card === '00000000') card = rng.hex(8);
    cards.add(card);
    const desk = fixedDesks[i];
    const resident = desk !== undefined;
    const weekdayAttendance = resident ? rng.range(0.7, 0.92) : rng.range(0.1, 0.45);
    members.push({
      id: `m${String(i + 1).padStart(3, '0')}`,
      card,
      fixedDesk: desk?.id ?? null,
      homeSpace: desk?.space ?? (openSpaces.length > 0 ? rng.pick(openSpaces) : null),
      weekdayAttendance,
      weekendAttendance: weekdayAttendance * rng.range(0.05, 0.3),
      arriveMin: rng.clampedNormal(9.5 * 60, 35, 8.5 * 60, 10.5 * 60),
      leaveMin: rng.clampedNormal(18.5 * 60, 60, 17 * 60, 21 * 60),
      jobsPerDay: rng.chance(0.45) ? rng.range(0.2, 1.5) : 0,
      // Most members use the main entrance (index 0); some a side door.
      entrance: rng.chance(0.75) ? 0 : rng.int(0, 7),
    });
  }
  return members;
}
