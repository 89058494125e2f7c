/**
 * Plans one local calendar day at a time: who comes in when, who sits where,
 * who runs which machine, which rooms hold meetings. The plan is coarse
 * (intervals, swipes, jobs); the per-device streams in ./workday.ts turn it
 * into timed signals. Days are planned in order and cached briefly, since
 * device streams read the same day while the merged stream passes through it.
 */
import type { Site } from '../../core/site/model.js';
import { profileForClass, type MachineProfile } from './machines.js';
import type { Member } from './population.js';
import { Rng } from './rng.js';
import type { Roles } from './roles.js';
import { LocalDay } from './zoned-time.js';

const MIN = 60_000;
const SEC = 1000;

export interface Interval {
  readonly from: number;
  readonly to: number;
}

export interface PlannedBadge {
  readonly ts: number;
  readonly card: string;
}

export interface Job extends Interval {
  readonly equipment: string;
  readonly profile: MachineProfile;
}

export interface DayPlan {
  readonly day: LocalDay;
  /** Swipes per reader, time-ordered. */
  readonly badges: ReadonlyMap<string, readonly PlannedBadge[]>;
  /** Occupied intervals per occupancy sensor: sorted, disjoint, separated, inside the day. */
  readonly occupied: ReadonlyMap<string, readonly Interval[]>;
  /** Jobs per machine, time-ordered and disjoint across days (a print may run past midnight). */
  readonly jobs: ReadonlyMap<string, readonly Job[]>;
}

export interface PlannerOptions {
  readonly site: Site;
  readonly roles: Roles;
  readonly members: readonly Member[];
  readonly seed: number;
  /** First instant simulated; day 0 is the local day containing it. */
  readonly start: number;
  /** First instant not simulated (may be Infinity). */
  readonly end: number;
  /** Multiplies machine jobs, meetings and visitors. */
  readonly intensity: number;
}

/** Sorts and merges intervals closer than `gap`; drops pieces shorter than `minLength`. */
export function normalise(intervals: readonly Interval[], gap: number, minLength = 0): Interval[] {
  const sorted = intervals.filter((i) => i.to > i.from).sort((a, b) => a.from - b.from);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.from - last.to < gap) out[out.length - 1] = { from: last.from, to: Math.max(last.to, i.to) };
    else out.push({ from: i.from, to: i.to });
  }
  return out.filter((i) => i.to - i.from >= minLength);
}

/** `base` minus every interval of `holes`. */
export function subtract(base: Interval, holes: readonly Interval[]): Interval[] {
  let pieces: Interval[] = [base];
  for (const h of holes) {
    const next: Interval[] = [];
    for (const p of pieces) {
      if (h.to <= p.from || h.from >= p.to) next.push(p);
      else {
        if (h.from > p.from) next.push({ from: p.from, to: h.from });
        if (h.to < p.to) next.push({ from: h.to, to: p.to });
      }
    }
    pieces = next;
  }
  return pieces;
}

const overlaps = (a: Interval, b: Interval): boolean => a.from < b.to && b.from < a.to;

/** Monday … Friday attendance factors (Friday afternoons empty out early). */
const WEEKDAY_FACTOR = [0, 0.95, 1, 1, 1, 0.85, 0] as const;

interface MutablePlan {
  readonly badges: Map<string, PlannedBadge[]>;
  readonly occupied: Map<string, Interval[]>;
  readonly jobs: Map<string, Job[]>;
}

interface Presence {
  readonly member: Member;
  arrive: number;
  leave: number;
  readonly away: Interval[];
  readonly lunchOut: Interval | null;
}

export class Planner {
  private readonly cache = new Map<number, DayPlan>();
  private next: LocalDay;
  /** Busy machines carry over midnight: an overnight print blocks the next morning. */
  private readonly busyUntil = new Map<string, number>();

  constructor(private readonly o: PlannerOptions) {
    this.next = LocalDay.containing(o.site.timezone, o.start);
  }

  /** The plan of day `index`, or undefined once the day starts after the simulation ends. */
  plan(index: number): DayPlan | undefined {
    const cached = this.cache.get(index);
    if (cached) return cached;
    if (index < this.next.index) throw new Error(`Planner: day ${index} was already evicted (a stream fell more than 4 days behind)`);
    while (this.next.index <= index) {
      const day = this.next;
      if (day.start >= this.o.end) return undefined;
      this.cache.set(day.index, this.planDay(day));
      this.next = day.next();
      // Streams move through the days together; four days back is plenty.
      this.cache.delete(day.index - 4);
    }
    return this.cache.get(index);
  }

  private planDay(day: LocalDay): DayPlan {
    const { site, roles, seed, intensity } = this.o;
    const rng = Rng.derive(seed, 'day', day.date.year, day.date.month, day.date.day);
    const plan: MutablePlan = { badges: new Map(), occupied: new Map(), jobs: new Map() };
    const dayEnd = day.end - MIN;
    const clip = (i: Interval): Interval => ({ from: Math.max(day.start, i.from), to: Math.min(dayEnd, i.to) });
    const pushTo = <T>(map: Map<string, T[]>, key: string, value: T): void => {
      const list = map.get(key);
      if (list) list.push(value);
      else map.set(key, [value]);
    };
    const swipe = (readers: readonly string[] | undefined, ts: number, card: string): void => {
      if (!readers || readers.length === 0 || ts < day.start || ts >= day.end) return;
      for (const r of readers) pushTo(plan.badges, r, { ts: Math.round(ts), card });
    };
    const entranceOf = (m: Member): string[] =>
      roles.entranceReaders.length === 0 ? [] : [roles.entranceReaders[m.entrance % roles.entranceReaders.length]!];
    const exitOf = (m: Member): string[] | null => (roles.exitReaders.length === 0 ? null : [roles.exitReaders[m.entrance % roles.exitReaders.length]!]);

    // 1. Who comes in, when.
    const present: Presence[] = [];
    for (const m of this.o.members) {
      const p = day.isWeekend ? m.weekendAttendance : m.weekdayAttendance * (WEEKDAY_FACTOR[day.weekday] ?? 1);
      if (!rng.chance(p)) continue;
      let arriveMin: number;
      let leaveMin: number;
      if (day.isWeekend) {
        arriveMin = rng.clampedNormal(11 * 60, 60, 9 * 60, 15 * 60);
        leaveMin = Math.min(22.5 * 60, arriveMin + rng.range(120, 360));
      } else {
        arriveMin = rng.clampedNormal(m.arriveMin, 20, 7 * 60, 12 * 60);
        // Residents mostly stay the day; flexible members often come for a morning or an afternoon.
        const shortDay = m.fixedDesk === null ? 0.4 : 0.1;
        if (m.fixedDesk === null && rng.chance(0.3)) arriveMin = rng.clampedNormal(14 * 60, 45, 12.5 * 60, 16 * 60);
        leaveMin = rng.chance(shortDay)
          ? Math.min(23 * 60, arriveMin + rng.range(120, 300))
          : rng.clampedNormal(m.leaveMin, 30, Math.max(arriveMin + 120, 12 * 60), 23 * 60);
      }
      const arrive = day.at(arriveMin);
      const leave = day.at(leaveMin);
      const away: Interval[] = [];
      let lunchOut: Interval | null = null;
      if (arriveMin < 12 * 60 && leaveMin > 14 * 60 && rng.chance(0.7)) {
        const from = day.at(rng.clampedNormal(12.25 * 60, 20, 11.75 * 60, 13.25 * 60));
        const lunch = { from, to: from + rng.range(25, 75) * MIN };
        away.push(lunch);
        if (rng.chance(0.5)) lunchOut = lunch;
      }
      if (leaveMin - arriveMin > 240 && rng.chance(0.35)) {
        const from = day.at(rng.range(14.5 * 60, 17 * 60));
        if (from < leave) away.push({ from, to: from + rng.range(5, 20) * MIN });
      }
      present.push({ member: m, arrive, leave, away, lunchOut });
    }

    // 2. Machine jobs: badge at the lab door and the machine, then run.
    const labPresence = new Map<string, Interval[]>();
    const scheduled = new Map<string, Interval[]>();
    for (const eq of roles.machines) {
      const busy = this.busyUntil.get(eq);
      scheduled.set(eq, busy !== undefined && busy > day.start ? [{ from: -Infinity, to: busy }] : []);
    }
    const machineList = roles.machines
      .map((id) => ({ id, def: site.equipment.get(id)! }))
      .map((m) => ({ ...m, profile: profileForClass(m.def.class) }));
    if (machineList.length > 0) {
      for (const p of present) {
        const n = Math.min(3, rng.poisson(p.member.jobsPerDay * intensity * (day.isWeekend ? 1.3 : 1)));
        for (let k = 0; k < n; k++) {
          const machine = rng.weighted(machineList, (m) => m.profile.popularity);
          const windowFrom = p.arrive + 15 * MIN;
          const windowTo = p.leave - 20 * MIN;
          if (windowTo <= windowFrom) break;
          const durationMin = machine.profile.jobMinutes(rng);
          const attendMin = machine.profile.attendMinutes(durationMin, rng);
          const taken = scheduled.get(machine.id)!;
          let from = rng.range(windowFrom, windowTo);
          // Slide past bookings until the machine is free (with a changeover gap).
          for (let guard = 0; guard < 50; guard++) {
            const clash = taken.find((t) => overlaps(t, { from: from - 3 * MIN, to: from + durationMin * MIN + 3 * MIN }));
            if (!clash) break;
            from = clash.to + rng.range(3, 15) * MIN;
          }
          if (from > windowTo) continue;
          const job: Job = { from: Math.round(from), to: Math.round(from + durationMin * MIN), equipment: machine.id, profile: machine.profile };
          const badgeTs = job.from - rng.range(20, 90) * SEC;
          const labReaders = roles.labDoorReaders.get(machine.def.space);
          const doorTs = badgeTs - rng.range(60, 300) * SEC;
          const attend: Interval = { from: (labReaders ? doorTs : badgeTs) - MIN, to: job.from + attendMin * MIN + rng.range(1, 3) * MIN };
          if (p.away.some((a) => overlaps(a, attend)) || attend.to > day.end - 5 * MIN) continue;
          taken.push(job);
          pushTo(plan.jobs, machine.id, job);
          swipe(labReaders, doorTs, p.member.card);
          swipe(roles.machineReaders.get(machine.id), badgeTs, p.member.card);
          p.away.push(attend);
          pushTo(labPresence, machine.def.space, attend);
          if (attend.to > p.leave) p.leave = attend.to + rng.range(2, 10) * MIN;
          this.busyUntil.set(machine.id, Math.max(this.busyUntil.get(machine.id) ?? 0, job.to));
        }
      }
    }
    for (const jobs of plan.jobs.values()) jobs.sort((a, b) => a.from - b.from);

    // 3. Desks: residents at their fixed desk, flexible members on a free hot desk (if they want one).
    const hotDesks = [...site.desks.values()].filter((d) => d.kind !== 'fixed');
    const hotFreeAt = new Map<string, number>();
    const spacePresence = new Map<string, Interval[]>();
    const byArrival = present.slice().sort((a, b) => a.arrive - b.arrive || a.member.id.localeCompare(b.member.id));
    for (const p of byArrival) {
      let desk = p.member.fixedDesk;
      if (desk === null && hotDesks.length > 0 && rng.chance(0.55)) {
        const free = hotDesks.filter((d) => (hotFreeAt.get(d.id) ?? 0) < p.arrive);
        const home = free.filter((d) => d.space === p.member.homeSpace);
        const pool = home.length > 0 ? home : free;
        if (pool.length > 0) {
          desk = rng.pick(pool).id;
          hotFreeAt.set(desk, p.leave + 5 * MIN);
        }
      }
      const seated: Interval = { from: p.arrive + rng.range(2, 8) * MIN, to: p.leave - rng.range(1, 4) * MIN };
      const space = desk !== null ? (site.desks.get(desk)?.space ?? p.member.homeSpace) : p.member.homeSpace;
      if (space !== null) pushTo(spacePresence, space, { from: p.arrive, to: p.leave });
      if (desk === null) continue;
      const sensors = roles.deskSensors.get(desk);
      if (!sensors) continue;
      const pieces = subtract(seated, normalise(p.away, 0)).map(clip);
      for (const s of sensors) for (const piece of pieces) pushTo(plan.occupied, s, piece);
    }

    // 4. Doors: in on arrival, out on departure (most people), out to lunch and back; a few visitors.
    // Where the site has exit readers people badge out on them (always at lunch: coming back in
    // through an anti-passback door needs it); elsewhere they badge the entrance reader both ways.
    for (const p of present) {
      const readers = entranceOf(p.member);
      const exits = exitOf(p.member) ?? readers;
      swipe(readers, p.arrive, p.member.card);
      if (p.lunchOut) {
        if (exits !== readers) swipe(exits, p.lunchOut.from, p.member.card);
        swipe(readers, p.lunchOut.to, p.member.card);
      }
      if (rng.chance(0.6)) swipe(exits, p.leave, p.member.card);
    }
    for (const reader of roles.entranceReaders) {
      const visitors = rng.poisson((day.isWeekend ? 0.5 : 1.5) * intensity);
      for (let v = 0; v < visitors; v++) {
        const card = rng.hex(8);
        const ts = day.at(rng.range(9.5 * 60, 17.5 * 60));
        swipe([reader], ts, card);
        // An unknown card is refused; people usually try once more.
        if (rng.chance(0.5)) swipe([reader], ts + rng.range(4, 15) * SEC, card);
      }
    }

    // 5. Rooms: meetings in half-hour blocks. Labs and open spaces: whoever is in.
    for (const [spaceId, sensors] of roles.spaceSensors) {
      const space = site.spaces.get(spaceId);
      if (!space) continue;
      let intervals: Interval[];
      if (space.kind === 'room') {
        intervals = [];
        const pStart = (day.isWeekend ? 0.04 : 0.3) * intensity;
        for (let slot = 9 * 60; slot < 18 * 60; ) {
          if (!rng.chance(pStart)) {
            slot += 30;
            continue;
          }
          const length = rng.pick([30, 60, 60, 90, 120]);
          const from = day.at(slot + rng.range(0, 6));
          const to = day.at(slot + length - rng.range(0, 8));
          intervals.push({ from, to });
          slot += length + 30;
        }
      } else if (space.kind === 'lab') {
        intervals = labPresence.get(spaceId) ?? [];
      } else {
        intervals = spacePresence.get(spaceId) ?? [];
      }
      const merged = normalise(intervals.map(clip), 2 * MIN, MIN);
      for (const s of sensors) plan.occupied.set(s, merged.slice());
    }

    // Desk pieces were pushed per member; one desk may have had two members in a day.
    for (const [sensor, intervals] of plan.occupied) plan.occupied.set(sensor, normalise(intervals, 2 * MIN, 3 * MIN));
    for (const list of plan.badges.values()) list.sort((a, b) => a.ts - b.ts);
    return { day, badges: plan.badges, occupied: plan.occupied, jobs: plan.jobs };
  }
}
