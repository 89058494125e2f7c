/**
 * The workday scenario: a deterministic, endless-if-asked stream of what the
 * devices of a site would report through ordinary working days. Pure: no I/O,
 * no clock (time is an input), randomness only from the seed.
 *
 * Shape of the stream:
 *  - one lazy generator per device (occupancy, badges, power samples, health,
 *    offline episodes), merged by time, so memory is O(devices) for any length;
 *  - at `start` every occupancy sensor reports its current state and every
 *    meter its first sample, the way devices announce themselves at boot;
 *  - while a device is offline its events are lost, except that a sensor whose
 *    state changed meanwhile reports the new state when it comes back.
 */
import type { DeviceInfo, Site } from '../../core/site/model.js';
import type { CredentialFormat } from '../../core/signals.js';
import { profile as profileNamed, type MachineProfile, nominalVoltage, profileForClass, type Phase } from './machines.js';
import { mergeByTs } from './merge.js';
import { type DayPlan, type Interval, Planner } from './planner.js';
import { DEFAULT_MEMBERS, type Member, population } from './population.js';
import { Rng } from './rng.js';
import { type Roles, rolesOf, sends } from './roles.js';
import { assertTimeZone } from './zoned-time.js';

export type { Member } from './population.js';

const SEC = 1000;
const MIN = 60 * SEC;
const DAY = 24 * 60 * MIN;

interface EventBase {
  /** Simulated time the device reports (epoch ms, integer). */
  readonly ts: number;
  readonly device: string;
}
export interface BadgeEvent extends EventBase {
  readonly kind: 'badge';
  readonly format: CredentialFormat;
  readonly card: string;
}
export interface OccupancyEvent extends EventBase {
  readonly kind: 'occupancy';
  readonly occupied: boolean;
}
export interface PowerEvent extends EventBase {
  readonly kind: 'power';
  readonly powerW: number;
  /** The meter's cumulative counter: never decreases. */
  readonly energyKwh: number;
  readonly voltageV: number;
  readonly currentA: number;
  readonly on: boolean;
}
export interface HealthEvent extends EventBase {
  readonly kind: 'health';
  readonly batteryPct?: number;
  readonly linkQuality?: number;
}
/** The device drops off the network abruptly (its MQTT will fires). `reboot`: it comes back with a new boot. */
export interface OfflineEvent extends EventBase {
  readonly kind: 'offline';
  readonly reboot: boolean;
}
export interface OnlineEvent extends EventBase {
  readonly kind: 'online';
}
export type SimEvent = BadgeEvent | OccupancyEvent | PowerEvent | HealthEvent | OfflineEvent | OnlineEvent;
export type SimEventKind = SimEvent['kind'];

export interface WorkdayOptions {
  readonly site: Site;
  /** First simulated instant, epoch ms. */
  readonly start: number;
  /** Simulated days from `start` (fractions allowed; Infinity for an endless stream). */
  readonly days: number;
  readonly seed: number;
  /** Size of the member population (default 120). More members, more swipes, desks and jobs. */
  readonly members?: number;
  /** Multiplies machine jobs, meetings and visitor swipes (default 1). */
  readonly intensity?: number;
  /** Offline episodes per device per day (default 0.03). */
  readonly offlineRate?: number;
  /** Power sample period while a machine runs a job (default 10 s) and otherwise (default 60 s). */
  readonly runningSampleMs?: number;
  readonly idleSampleMs?: number;
  /** Health report period (default 15 min, ±90 s jitter). */
  readonly healthEveryMs?: number;
}

interface Tick {
  readonly kind: 'tick';
  readonly ts: number;
  readonly device: string;
}
type Item = SimEvent | Tick;

interface Ctx {
  readonly site: Site;
  readonly seed: number;
  readonly start: number;
  readonly end: number;
  readonly roles: Roles;
  readonly planner: Planner;
  readonly offlineRate: number;
  readonly runningMs: number;
  readonly idleMs: number;
  readonly healthMs: number;
  readonly voltage: number;
}

const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** The member population a workday scenario uses: the cards an access list must know. */
export function workdayMembers(opts: Pick<WorkdayOptions, 'site' | 'seed' | 'members'>): readonly Member[] {
  return population(opts.site, opts.seed, opts.members ?? DEFAULT_MEMBERS);
}

/** Time-ordered simulated events for every device of the site, in [start, start + days). */
export function* workday(opts: WorkdayOptions): Generator<SimEvent, void, undefined> {
  if (!Number.isFinite(opts.start)) throw new RangeError('workday: start must be a finite epoch ms');
  if (!(opts.days > 0)) throw new RangeError('workday: days must be > 0');
  assertTimeZone(opts.site.timezone);
  const start = Math.round(opts.start);
  const end = opts.days === Infinity ? Infinity : start + Math.round(opts.days * DAY);
  const roles = rolesOf(opts.site);
  const members = population(opts.site, opts.seed, opts.members ?? DEFAULT_MEMBERS);
  const ctx: Ctx = {
    site: opts.site,
    seed: opts.seed,
    start,
    end,
    roles,
    planner: new Planner({ site: opts.site, roles, members, seed: opts.seed, start, end, intensity: opts.intensity ?? 1 }),
    offlineRate: opts.offlineRate ?? 0.03,
    runningMs: opts.runningSampleMs ?? 10 * SEC,
    idleMs: opts.idleSampleMs ?? 60 * SEC,
    healthMs: opts.healthEveryMs ?? 15 * MIN,
    voltage: nominalVoltage(opts.site.timezone),
  };
  const streams = [...opts.site.devices.values()].map((d) => deviceStream(ctx, d));
  for (const item of mergeByTs(streams)) {
    if (item.ts >= end) return;
    if (item.kind === 'tick' || item.ts < start) continue;
    yield item;
  }
}

function* deviceStream(ctx: Ctx, device: DeviceInfo): Generator<Item, void, undefined> {
  const subs: Iterator<Item>[] = [];
  // Episodes first: on a tie the device goes offline before it would report.
  if (ctx.offlineRate > 0) subs.push(offlineEpisodes(ctx, device.id));
  const { roles } = ctx;
  switch (device.kind) {
    case 'occupancy-sensor':
      if (sends(device, 'occupancy')) subs.push(occupancy(ctx, device.id));
      break;
    case 'badge-reader':
    case 'door-controller':
      if (sends(device, 'badge')) subs.push(badges(ctx, device.id));
      break;
    case 'power-meter':
      if (sends(device, 'power')) {
        const eq = device.target?.type === 'equipment' ? ctx.site.equipment.get(device.target.id) : undefined;
        if (eq) subs.push(power(ctx, device.id, profileForClass(eq.class), machineJobs(ctx, eq.id)));
        else if (roles.buildingMeters.includes(device.id)) subs.push(power(ctx, device.id, profileNamed('building'), openingHours(ctx, device.id)));
      }
      break;
    case 'zigbee-bridge':
      // A bridge reports only its own availability, which its connection carries: nothing to schedule.
      return;
  }
  // A reader on a serial line has no health report in its wire format (it sends card reads only).
  if (device.serial === null && sends(device, 'health')) subs.push(health(ctx, device));
  yield* offlineFilter(mergeByTs(subs), device.id);
}

/** Drops what a device says while offline; re-announces an occupancy change on return. */
function* offlineFilter(source: Iterable<Item>, device: string): Generator<Item, void, undefined> {
  let offline = false;
  let lastOccupied: boolean | undefined;
  let missedOccupied: boolean | undefined;
  for (const item of source) {
    switch (item.kind) {
      case 'tick':
        yield item;
        break;
      case 'offline':
        offline = true;
        yield item;
        break;
      case 'online':
        offline = false;
        yield item;
        if (missedOccupied !== undefined && missedOccupied !== lastOccupied) {
          lastOccupied = missedOccupied;
          yield { kind: 'occupancy', ts: item.ts, device, occupied: missedOccupied };
        }
        missedOccupied = undefined;
        break;
      case 'occupancy':
        if (offline) missedOccupied = item.occupied;
        else {
          lastOccupied = item.occupied;
          yield item;
        }
        break;
      case 'badge':
      case 'power':
      case 'health':
        if (!offline) yield item;
        break;
    }
  }
}

function* offlineEpisodes(ctx: Ctx, device: string): Generator<Item, void, undefined> {
  const rng = Rng.derive(ctx.seed, 'offline', device);
  let lastEnd = ctx.start;
  for (let i = 0; ; i++) {
    const plan = ctx.planner.plan(i);
    if (!plan) return;
    const { day } = plan;
    yield { kind: 'tick', ts: day.start, device };
    const n = rng.poisson(ctx.offlineRate);
    const starts = Array.from({ length: n }, () => rng.range(day.start, day.end)).sort((a, b) => a - b);
    for (const s of starts) {
      const r = rng.float();
      // Mostly short Wi-Fi or Zigbee dropouts; sometimes a long one (power cut, unplugged).
      const minutes = r < 0.7 ? rng.range(1, 10) : r < 0.95 ? rng.range(10, 60) : rng.range(60, 240);
      const from = Math.round(Math.max(s, lastEnd + MIN));
      if (from < ctx.start + MIN) continue;
      const to = Math.round(from + minutes * MIN);
      lastEnd = to;
      yield { kind: 'offline', ts: from, device, reboot: rng.chance(0.3) };
      yield { kind: 'online', ts: to, device };
    }
  }
}

function* occupancy(ctx: Ctx, device: string): Generator<Item, void, undefined> {
  let announced = false;
  for (let i = 0; ; i++) {
    const plan = ctx.planner.plan(i);
    if (!plan) {
      if (!announced) yield { kind: 'occupancy', ts: ctx.start, device, occupied: false };
      return;
    }
    yield { kind: 'tick', ts: plan.day.start, device };
    const intervals = plan.occupied.get(device) ?? [];
    if (!announced && plan.day.end > ctx.start) {
      // Boot announcement: the state at `start`.
      announced = true;
      const covering = intervals.some((iv) => iv.from <= ctx.start && ctx.start < iv.to);
      yield { kind: 'occupancy', ts: ctx.start, device, occupied: covering };
    }
    for (const iv of intervals) {
      if (iv.to <= ctx.start) continue;
      if (iv.from > ctx.start) yield { kind: 'occupancy', ts: Math.round(iv.from), device, occupied: true };
      yield { kind: 'occupancy', ts: Math.round(iv.to), device, occupied: false };
    }
  }
}

function* badges(ctx: Ctx, device: string): Generator<Item, void, undefined> {
  for (let i = 0; ; i++) {
    const plan = ctx.planner.plan(i);
    if (!plan) return;
    yield { kind: 'tick', ts: plan.day.start, device };
    for (const b of plan.badges.get(device) ?? []) yield { kind: 'badge', ts: b.ts, device, format: 'uid', card: b.card };
  }
}

/** Pulls a machine's jobs day by day from the planner. */
type JobSource = (dayIndex: number) => { readonly dayEnd: number; readonly jobs: readonly Interval[] } | undefined;

function machineJobs(ctx: Ctx, equipment: string): JobSource {
  return (i) => {
    const plan: DayPlan | undefined = ctx.planner.plan(i);
    return plan ? { dayEnd: plan.day.end, jobs: plan.jobs.get(equipment) ?? [] } : undefined;
  };
}

/** A floor's supply: busy in opening hours, base load otherwise. Independent of members. */
function openingHours(ctx: Ctx, device: string): JobSource {
  return (i) => {
    const plan = ctx.planner.plan(i);
    if (!plan) return undefined;
    const { day } = plan;
    const rng = Rng.derive(ctx.seed, 'hours', device, day.index);
    const jobs: Interval[] = [];
    if (!day.isWeekend) jobs.push({ from: day.at(rng.range(6.75, 7.25) * 60), to: day.at(rng.range(21.75, 22.25) * 60) });
    else if (rng.chance(0.5)) jobs.push({ from: day.at(rng.range(8.75, 9.25) * 60), to: day.at(rng.range(17.75, 18.25) * 60) });
    return { dayEnd: day.end, jobs };
  };
}

function* power(ctx: Ctx, device: string, profile: MachineProfile, source: JobSource): Generator<Item, void, undefined> {
  const rng = Rng.derive(ctx.seed, 'power', device);
  const queue: Interval[] = [];
  let plannedUntil = -Infinity;
  let nextDay = 0;
  const planThrough = (t: number): void => {
    while (plannedUntil <= t) {
      const day = source(nextDay++);
      if (!day) {
        plannedUntil = Infinity;
        return;
      }
      for (const j of day.jobs) if (j.to > (queue[queue.length - 1]?.to ?? -Infinity)) queue.push(j);
      plannedUntil = day.dayEnd;
    }
  };

  const idleW = rng.range(profile.idleW[0], profile.idleW[1]);
  let energyKwh = round(rng.range(5, 2000), 3); // the meter was not new when the simulation began
  let t = ctx.start + rng.int(0, Math.min(ctx.runningMs, ctx.idleMs) - 1);
  let lastT = t;
  let lastW = 0;
  let offAt = -Infinity;
  // Phase walk of the current job.
  let phaseJob: Interval | undefined;
  let phases: Generator<Phase, never, undefined> | undefined;
  let phase: Phase | undefined;
  let phaseEnd = 0;
  let jobPf = 0.95;

  while (t < ctx.end) {
    planThrough(t + ctx.idleMs);
    while (queue.length > 0 && queue[0]!.to <= t) {
      const done = queue.shift()!;
      offAt = done.to + rng.range(profile.cooldownMin[0], profile.cooldownMin[1]) * MIN;
    }
    const head = queue[0];
    const job = head && head.from <= t ? head : undefined;
    let watts: number;
    let pf: number;
    let on: boolean;
    let step: number;
    if (job) {
      if (phaseJob !== job) {
        phaseJob = job;
        const jobRng = Rng.derive(ctx.seed, 'job', device, job.from);
        phases = profile.phases(jobRng);
        phase = phases.next().value;
        phaseEnd = job.from + phase.durationMs;
        jobPf = jobRng.range(0.9, 0.98);
      }
      while (t >= phaseEnd) {
        phase = phases!.next().value;
        phaseEnd += phase.durationMs;
      }
      watts = phase!.levelW * (1 + rng.normal(0, phase!.noise));
      pf = jobPf;
      on = true;
      step = ctx.runningMs;
    } else {
      // The interlock switches the machine on when the member badges, shortly before the job.
      on = profile.alwaysOn || t < offAt || (head !== undefined && head.from - t <= 2 * MIN);
      watts = on ? idleW * (1 + rng.normal(0, 0.05)) : 0;
      pf = rng.range(0.6, 0.8);
      step = ctx.idleMs;
      if (head && t + step > head.from) step = Math.max(SEC, head.from - t);
    }
    watts = Math.max(0, round(watts, 1));
    const voltageV = round(ctx.voltage * (1 + rng.normal(0, 0.008)), 1);
    const currentA = watts === 0 ? 0 : round(watts / (voltageV * pf), 3);
    // The meter integrates the power it measured since the last report.
    energyKwh += (lastW * (t - lastT)) / 3_600_000 / 1000;
    yield { kind: 'power', ts: Math.round(t), device, powerW: watts, energyKwh: round(energyKwh, 3), voltageV, currentA, on };
    lastW = watts;
    lastT = t;
    t += step;
  }
}

function* health(ctx: Ctx, device: DeviceInfo): Generator<Item, void, undefined> {
  const rng = Rng.derive(ctx.seed, 'health', device.id);
  const battery = device.kind === 'occupancy-sensor';
  let batteryPct = rng.range(35, 100);
  const drainPerDay = rng.range(0.15, 0.6);
  const link = rng.int(60, 230);
  let t = ctx.start + rng.int(0, ctx.healthMs - 1);
  let lastT = t;
  const jitter = Math.min(90 * SEC, ctx.healthMs / 10);
  while (t < ctx.end) {
    if (battery) {
      batteryPct -= (drainPerDay * (t - lastT)) / DAY;
      // Someone notices the low-battery alarm and swaps the cell within a day or two.
      if (batteryPct < 5 && rng.chance(ctx.healthMs / (1.5 * DAY))) batteryPct = 100;
      batteryPct = Math.max(0, batteryPct);
    }
    const linkQuality = Math.min(255, Math.max(0, Math.round(rng.normal(link, 8))));
    yield battery
      ? { kind: 'health', ts: Math.round(t), device: device.id, batteryPct: Math.round(batteryPct), linkQuality }
      : { kind: 'health', ts: Math.round(t), device: device.id, linkQuality };
    lastT = t;
    t += ctx.healthMs + rng.range(-jitter, jitter);
  }
}
