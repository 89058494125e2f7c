/**
 * Utilisation metrics: the sessioniser's sessions and unknown gaps, the site's
 * desks, spaces and machines, and their opening-hours calendars in; per local
 * bucket (hour, day, ISO week, month) and in total: desk occupancy, presence in
 * spaces, machine running time, energy, unique members and teams.
 *
 * Definitions (docs/utilisation.md, "Metrics"):
 * - time counts towards utilisation only inside the resource's *available*
 *   time: open hours (its space's calendar) less unknown time (its sensor or
 *   meter offline) and, for machines, downtime (out of service);
 * - usage outside open hours is reported separately (`outsideHours…`), never
 *   in utilisation, so utilisation = used / available is always in [0, 1];
 * - sessions crossing a bucket or the period's edge are clipped; a machine
 *   session's running and idle time and energy are apportioned by time share.
 *
 * All times are integer ms (ratios rounded to 4 decimals, energy to 0.001 Wh).
 * Intervals are kept as flat sorted arrays [from0, to0, from1, to1, …], and
 * peaks come from one sweep over start/end events, so a month of 500 desks and
 * 40 machines takes a fraction of a second.
 *
 * Pure: no clock, no I/O.
 */
import type { Site, SpaceDef } from '../site/model.js';
import {
  localBuckets,
  openIntervals,
  siteCalendar,
  wallTime,
  zoneAround,
  type Granularity,
  type Interval,
  type OpeningCalendar,
  type Zone,
} from './calendar.js';
import type { UnknownGap, UsageSession } from './sessioniser.js';

export type { Granularity, Interval } from './calendar.js';

// ---------------------------------------------------------------------------
// Inputs

export interface MetricsResources {
  readonly spaces: readonly { readonly id: string; readonly kind: SpaceDef['kind'] }[];
  /**
   * `sensors`: the occupancy sensors watching the desk, whose gaps make its time unknown;
   * absent: gaps are matched by resource id; empty: the desk is not watched, all of its time is unknown.
   */
  readonly desks: readonly { readonly id: string; readonly space: string; readonly sensors?: readonly string[] }[];
  /** `meters` as `sensors` for desks: a machine without a meter has only unknown time. */
  readonly machines: readonly { readonly id: string; readonly space: string; readonly meters?: readonly string[] }[];
}

export interface MetricsCalendars {
  /** The site's calendar: site-wide averages and presence across spaces. */
  readonly site: OpeningCalendar;
  /** Per space (site hours narrowed by the space's); a space missing here has the site's. */
  readonly spaces: ReadonlyMap<string, OpeningCalendar>;
}

export interface MetricsInput {
  readonly sessions: readonly UsageSession[];
  readonly gaps: readonly UnknownGap[];
  readonly resources: MetricsResources;
  readonly calendars: MetricsCalendars;
  /** The period, [from, to), epoch ms. */
  readonly from: number;
  readonly to: number;
  readonly granularity: Granularity;
  /** Member id → team id; members missing here count as members without a team. */
  readonly teams?: ReadonlyMap<string, string>;
  /** Machine id → intervals it was out of service (downtime). */
  readonly downtime?: ReadonlyMap<string, readonly Interval[]>;
}

// ---------------------------------------------------------------------------
// The report (served as JSON; field names are stable)

export interface DeskMetrics {
  readonly id: string;
  readonly space: string;
  /** Open time of the desk's space. */
  readonly openMs: number;
  /** Open time its sensor could not tell (offline, or no sensor). */
  readonly unknownMs: number;
  /** openMs − unknownMs. */
  readonly availableMs: number;
  /** Occupied within available time. */
  readonly occupiedMs: number;
  /** Occupied while its space was closed (not in utilisation). */
  readonly outsideHoursMs: number;
  /** occupiedMs / availableMs; null when nothing was available. */
  readonly utilisation: number | null;
}

export interface DeskAggregate {
  readonly desks: number;
  readonly availableDeskMs: number;
  readonly unknownDeskMs: number;
  readonly occupiedDeskMs: number;
  readonly outsideHoursDeskMs: number;
  /** occupiedDeskMs / availableDeskMs. */
  readonly utilisation: number | null;
  /** Desks occupied on average over open time: occupiedDeskMs / openMs. */
  readonly averageOccupied: number | null;
  /** Most desks occupied at one instant of available time. */
  readonly peakOccupied: number;
}

export interface PresenceMetrics {
  /** Time members were present during open hours, summed over members. */
  readonly personMs: number;
  readonly outsideHoursPersonMs: number;
  /** People present on average over open time: personMs / openMs. */
  readonly averagePeople: number | null;
  /** Most people present at one instant of open time. */
  readonly peakPeople: number;
  /** Members present at any time in the bucket, open or not. */
  readonly uniqueMembers: number;
}

export interface SpaceMetrics {
  readonly id: string;
  readonly kind: SpaceDef['kind'];
  readonly openMs: number;
  readonly desks: DeskAggregate;
  readonly presence: PresenceMetrics;
}

export interface MachineTimes {
  readonly openMs: number;
  /** Open time out of service. */
  readonly downtimeMs: number;
  /** Open time, not out of service, its meter could not tell. */
  readonly unknownMs: number;
  /** openMs − downtimeMs − unknownMs. */
  readonly availableMs: number;
  /** Running within available time. */
  readonly runningMs: number;
  /** Idle inside sessions within available time. */
  readonly idleMs: number;
  /** Running while its space was closed (not in utilisation). */
  readonly outsideHoursMs: number;
  /** Running while open but out of service (not in utilisation). */
  readonly downtimeRunningMs: number;
  /** Sessions that started in the bucket. */
  readonly sessions: number;
  /** Energy of its sessions in the bucket, at any hour. */
  readonly energyWh: number;
  /** Members with a session in the bucket. */
  readonly uniqueMembers: number;
  /** runningMs / availableMs. */
  readonly utilisation: number | null;
}

export interface MachineMetrics extends MachineTimes {
  readonly id: string;
  readonly space: string;
}

export interface MachineAggregate extends MachineTimes {
  readonly machines: number;
}

export interface SiteMetrics {
  /** Open time of the site calendar. */
  readonly openMs: number;
  /** Members with at least one session (presence or machine) in the bucket. */
  readonly uniqueMembers: number;
  /** Teams of those members. */
  readonly uniqueTeams: number;
  readonly membersWithoutTeam: number;
  readonly desks: DeskAggregate;
  /** People on the site: a member in two spaces at once counts once. */
  readonly presence: PresenceMetrics;
  readonly machines: MachineAggregate;
}

export interface PeriodMetrics {
  /** Local label ('2026-11-25', '2026-W48', …; 'total' for the whole period). */
  readonly key: string;
  /** Local start of the bucket, 'YYYY-MM-DDTHH:MM'. */
  readonly start: string;
  readonly from: number;
  readonly to: number;
  readonly site: SiteMetrics;
  /** In the order of the resources given. */
  readonly spaces: readonly SpaceMetrics[];
  readonly desks: readonly DeskMetrics[];
  readonly machines: readonly MachineMetrics[];
}

export interface UtilisationReport {
  readonly version: 1;
  readonly timezone: string;
  readonly from: number;
  readonly to: number;
  readonly granularity: Granularity;
  readonly buckets: readonly PeriodMetrics[];
  readonly total: PeriodMetrics;
  /** Input left out because it names no desk, space or machine given (or no member, for presence). */
  readonly ignored: { readonly sessions: number; readonly gaps: number };
}

// ---------------------------------------------------------------------------
// From a site

/** The resources of a site, with the sensors and meters that watch them. */
export function metricsResources(site: Site): MetricsResources {
  const sensors = new Map<string, string[]>();
  const meters = new Map<string, string[]>();
  for (const d of site.devices.values()) {
    if (d.kind === 'occupancy-sensor' && d.target?.type === 'desk') push(sensors, d.target.id, d.id);
    if (d.kind === 'power-meter' && d.target?.type === 'equipment') push(meters, d.target.id, d.id);
  }
  return {
    spaces: [...site.spaces.values()].map((s) => ({ id: s.id, kind: s.kind })),
    desks: [...site.desks.values()].map((d) => ({ id: d.id, space: d.space, sensors: sensors.get(d.id) ?? [] })),
    machines: [...site.equipment.values()].map((e) => ({ id: e.id, space: e.space, meters: meters.get(e.id) ?? [] })),
  };
}

/** The site's calendar and each space's. */
export function metricsCalendars(site: Site): MetricsCalendars {
  return { site: siteCalendar(site), spaces: new Map([...site.spaces.keys()].map((id) => [id, siteCalendar(site, id)] as const)) };
}

function inStartOrder(list: readonly UsageSession[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i]!.start < list[i - 1]!.start) return false;
  return true;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** Appends the interval [a, b) to k's flat list. */
function pushPair<K>(m: Map<K, number[]>, k: K, a: number, b: number): void {
  const l = m.get(k);
  if (l) l.push(a, b);
  else m.set(k, [a, b]);
}

// ---------------------------------------------------------------------------
// Flat interval sets: sorted, disjoint, non-empty [a0, b0, a1, b1, …]

type Flat = number[];

/** Flat pairs (any order, may overlap or be empty) clipped to [lo, hi) and merged. */
function normalise(raw: readonly number[], lo: number, hi: number): Flat {
  let src = raw;
  for (let i = 2; i < raw.length; i += 2) {
    if (raw[i]! < raw[i - 2]!) {
      // Out of order (rare: sessions arrive per resource in order): sort the pairs by start.
      const order = Array.from({ length: raw.length >> 1 }, (_, j) => j).sort((x, y) => raw[2 * x]! - raw[2 * y]!);
      src = order.flatMap((j) => [raw[2 * j]!, raw[2 * j + 1]!]);
      break;
    }
  }
  const out: Flat = [];
  for (let i = 0; i < src.length; i += 2) {
    const a = Math.max(src[i]!, lo);
    const b = Math.min(src[i + 1]!, hi);
    if (b <= a) continue;
    const n = out.length;
    if (n > 0 && a <= out[n - 1]!) out[n - 1] = Math.max(out[n - 1]!, b);
    else out.push(a, b);
  }
  return out;
}

function intersect(x: Flat, y: Flat): Flat {
  const out: Flat = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const a = Math.max(x[i]!, y[j]!);
    const b = Math.min(x[i + 1]!, y[j + 1]!);
    if (b > a) out.push(a, b);
    if (x[i + 1]! < y[j + 1]!) i += 2;
    else j += 2;
  }
  return out;
}

function subtract(x: Flat, y: Flat): Flat {
  if (y.length === 0) return x;
  const out: Flat = [];
  let j = 0;
  for (let i = 0; i < x.length; i += 2) {
    let a = x[i]!;
    const b = x[i + 1]!;
    while (j < y.length && y[j + 1]! <= a) j += 2;
    let k = j;
    while (k < y.length && y[k]! < b) {
      if (y[k]! > a) out.push(a, y[k]!);
      a = Math.max(a, y[k + 1]!);
      k += 2;
    }
    if (b > a) out.push(a, b);
  }
  return out;
}

/** Index of the bucket holding t: the last k with bounds[k] ≤ t (t within the period). */
function bucketOf(bounds: readonly number[], t: number): number {
  let lo = 0;
  let hi = bounds.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (bounds[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Length of a set within each bucket. */
function measure(set: Flat, bounds: readonly number[]): number[] {
  const out = new Array<number>(bounds.length - 1).fill(0);
  if (set.length === 0) return out;
  let k = bucketOf(bounds, set[0]!);
  for (let i = 0; i < set.length; i += 2) {
    const a = set[i]!;
    const b = set[i + 1]!;
    while (bounds[k + 1]! <= a) k++;
    let x = a;
    for (;;) {
      const end = bounds[k + 1]!;
      if (b <= end) {
        out[k]! += b - x;
        break;
      }
      out[k]! += end - x;
      x = end;
      k++;
    }
  }
  return out;
}

/** Calls f for each piece of [a, b) in a bucket. */
function split(bounds: readonly number[], a: number, b: number, f: (k: number, x: number, y: number) => void): void {
  let k = bucketOf(bounds, a);
  let x = a;
  while (x < b) {
    const y = Math.min(b, bounds[k + 1]!);
    f(k, x, y);
    x = y;
    k++;
  }
}

/** Calls f for each piece of [a, b) inside a set. */
function within(set: Flat, a: number, b: number, f: (x: number, y: number) => void): void {
  // First interval ending after a.
  let lo = 0;
  let hi = set.length >> 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (set[2 * mid + 1]! <= a) lo = mid + 1;
    else hi = mid;
  }
  for (let i = 2 * lo; i < set.length && set[i]! < b; i += 2) {
    const x = Math.max(a, set[i]!);
    const y = Math.min(b, set[i + 1]!);
    if (y > x) f(x, y);
  }
}

// Sweep events: t·2 for an end, t·2 + 1 for a start, sorted, so at equal times ends come first
// (half-open intervals); `delta` is each event's +1 or −1, read once after sorting.
interface Events {
  readonly ev: Float64Array;
  readonly delta: Int8Array;
}

function withDeltas(ev: Float64Array): Events {
  const delta = new Int8Array(ev.length);
  for (let i = 0; i < ev.length; i++) delta[i] = ev[i]! - 2 * Math.floor(ev[i]! / 2) === 1 ? 1 : -1;
  return { ev, delta };
}

function events(lists: readonly Flat[]): Events {
  let n = 0;
  for (const l of lists) n += l.length;
  const ev = new Float64Array(n);
  let p = 0;
  for (const l of lists) {
    for (let i = 0; i < l.length; i += 2) {
      ev[p++] = l[i]! * 2 + 1;
      ev[p++] = l[i + 1]! * 2;
    }
  }
  return withDeltas(ev.sort());
}

/** Sorted event lists merged into one. */
function mergeEvents(lists: readonly Events[]): Events {
  let acc: Float64Array = new Float64Array(0);
  for (const { ev: b } of lists) {
    if (b.length === 0) continue;
    if (acc.length === 0) {
      acc = b;
      continue;
    }
    const out = new Float64Array(acc.length + b.length);
    let i = 0;
    let j = 0;
    let p = 0;
    while (i < acc.length && j < b.length) out[p++] = acc[i]! <= b[j]! ? acc[i++]! : b[j++]!;
    while (i < acc.length) out[p++] = acc[i++]!;
    while (j < b.length) out[p++] = b[j++]!;
    acc = out;
  }
  return withDeltas(acc);
}

/** Most intervals open at one instant, per bucket. */
function peaks({ ev, delta }: Events, bounds: readonly number[]): number[] {
  const n = bounds.length - 1;
  const out = new Array<number>(n).fill(0);
  let i = 0;
  let count = 0;
  for (let k = 0; k < n; k++) {
    const start = bounds[k]! * 2 + 1; // every event at or before the bucket's first instant has happened
    const end = bounds[k + 1]! * 2; // events from the bucket's end on belong to the next
    while (i < ev.length && ev[i]! <= start) count += delta[i++]!;
    let peak = count;
    while (i < ev.length && ev[i]! < end) {
      count += delta[i++]!;
      if (count > peak) peak = count;
    }
    out[k] = peak;
  }
  return out;
}

const ratio = (num: number, den: number): number | null => (den > 0 ? Math.round((num / den) * 10_000) / 10_000 : null);
const wh = (x: number): number => Math.round(x * 1000) / 1000;

// ---------------------------------------------------------------------------
// Preparation: everything that does not depend on the buckets

interface MemberTouches {
  /** Sessions of one member in one scope, in any order: [start, end] clipped to the period (start = end for an instant). */
  readonly spans: Flat;
}

interface DeskPrep {
  readonly id: string;
  readonly space: string;
  readonly open: Flat;
  readonly unknown: Flat;
  readonly occupied: Flat;
  readonly outside: Flat;
}

interface PresencePrep {
  /** Per member: present within open hours, and outside them. */
  readonly inHours: Flat[];
  readonly outside: Flat[];
  readonly touches: Map<string, MemberTouches>;
  readonly peakEvents: Events;
}

interface SpacePrep {
  readonly id: string;
  readonly kind: SpaceDef['kind'];
  readonly open: Flat;
  readonly desks: DeskPrep[];
  readonly deskEvents: Events;
  readonly presence: PresencePrep;
}

interface MachinePrep {
  readonly id: string;
  readonly space: string;
  readonly open: Flat;
  readonly downtime: Flat;
  readonly unknown: Flat;
  readonly available: Flat;
  /** Closed time within the period, and open time out of service: where running is counted apart. */
  readonly closed: Flat;
  readonly openDown: Flat;
  readonly sessions: UsageSession[];
  readonly touches: Map<string, MemberTouches>;
}

interface Prep {
  readonly from: number;
  readonly to: number;
  readonly siteOpen: Flat;
  readonly spaces: SpacePrep[];
  readonly desks: DeskPrep[];
  readonly machines: MachinePrep[];
  readonly sitePresence: PresencePrep;
  readonly siteDeskEvents: Events;
  readonly machineTouches: Map<string, MemberTouches>;
  readonly siteTouches: Map<string, MemberTouches>;
  readonly teams: ReadonlyMap<string, string>;
}

const toFlat = (list: readonly Interval[], lo: number, hi: number): Flat => normalise(list.flatMap((i) => [i.from, i.to]), lo, hi);

function touchesOf(sessions: readonly { memberId: string | null; start: number; end: number }[], from: number, to: number): Map<string, MemberTouches> {
  const byMember = new Map<string, number[]>();
  for (const s of sessions) {
    if (s.memberId === null) continue;
    const a = Math.max(s.start, from);
    const b = Math.min(s.end, to);
    // An instant session counts where it happened; a longer one where it overlaps the period.
    if (s.end > s.start ? b > a : s.start >= from && s.start < to) pushPair(byMember, s.memberId, a, Math.max(a, b));
  }
  return new Map([...byMember].map(([m, spans]) => [m, { spans }] as const));
}

function presencePrep(byMember: Map<string, Flat>, open: Flat, touches: Map<string, MemberTouches>): PresencePrep {
  const inHours: Flat[] = [];
  const outside: Flat[] = [];
  for (const u of byMember.values()) {
    inHours.push(intersect(u, open));
    outside.push(subtract(u, open));
  }
  return { inHours, outside, touches, peakEvents: events(inHours) };
}

function prepare(input: MetricsInput, zone: Zone): { prep: Prep; ignored: { sessions: number; gaps: number } } {
  const { from, to, resources, calendars } = input;
  const tz = calendars.site.timezone;
  const period: Flat = [from, to];
  let ignoredSessions = 0;
  let ignoredGaps = 0;

  const siteOpen = toFlat(openIntervals(calendars.site, from, to, zone), from, to);
  const spaceOpen = new Map<string, Flat>();
  for (const s of resources.spaces) {
    const cal = calendars.spaces.get(s.id) ?? calendars.site;
    if (cal.timezone !== tz) throw new RangeError(`space "${s.id}" has a calendar in ${cal.timezone}, the site's is in ${tz}`);
    spaceOpen.set(s.id, toFlat(openIntervals(cal, from, to, zone), from, to));
  }
  const openOf = (space: string): Flat => {
    const o = spaceOpen.get(space);
    if (!o) throw new RangeError(`"${space}" is not among the spaces given`);
    return o;
  };

  // Gaps, by the device that had them, else by the resource they name.
  const deskBySensor = new Map<string, string>();
  const machineByMeter = new Map<string, string>();
  const deskIds = new Map<string, MetricsResources['desks'][number]>();
  const machineIds = new Map<string, MetricsResources['machines'][number]>();
  for (const d of resources.desks) {
    deskIds.set(d.id, d);
    for (const s of d.sensors ?? []) deskBySensor.set(s, d.id);
  }
  for (const m of resources.machines) {
    machineIds.set(m.id, m);
    for (const s of m.meters ?? []) machineByMeter.set(s, m.id);
  }
  const deskGaps = new Map<string, number[]>();
  const machineGaps = new Map<string, number[]>();
  for (const g of input.gaps) {
    const desk = deskBySensor.get(g.device);
    const machine = machineByMeter.get(g.device);
    if (desk !== undefined) pushPair(deskGaps, desk, g.from, g.to);
    else if (machine !== undefined) pushPair(machineGaps, machine, g.from, g.to);
    else if (deskIds.get(g.resource)?.sensors === undefined && deskIds.has(g.resource)) pushPair(deskGaps, g.resource, g.from, g.to);
    else if (machineIds.get(g.resource)?.meters === undefined && machineIds.has(g.resource)) pushPair(machineGaps, g.resource, g.from, g.to);
    else ignoredGaps++;
  }

  // Sessions by kind and resource, each list in start order (sorted only where it is not already: the
  // sessioniser's output and InfluxDB series come in order per resource).
  const deskSessions = new Map<string, UsageSession[]>();
  const presenceSessions = new Map<string, UsageSession[]>();
  const machineSessions = new Map<string, UsageSession[]>();
  for (const s of input.sessions) {
    switch (s.kind) {
      case 'desk':
        if (deskIds.has(s.resource)) push(deskSessions, s.resource, s);
        else ignoredSessions++;
        break;
      case 'presence':
        if (spaceOpen.has(s.resource) && s.memberId !== null) push(presenceSessions, s.resource, s);
        else ignoredSessions++;
        break;
      case 'machine':
        if (machineIds.has(s.resource)) push(machineSessions, s.resource, s);
        else ignoredSessions++;
        break;
    }
  }
  for (const group of [deskSessions, presenceSessions, machineSessions]) {
    for (const [r, list] of group) if (!inStartOrder(list)) group.set(r, list.slice().sort((a, b) => a.start - b.start));
  }
  const allPresenceSessions = [...presenceSessions.values()].flat();
  const allMachineSessions = [...machineSessions.values()].flat();
  const sitePresence = new Map<string, number[]>();
  for (const s of allPresenceSessions) pushPair(sitePresence, s.memberId!, s.start, s.end);

  const desks: DeskPrep[] = resources.desks.map((d) => {
    const open = openOf(d.space);
    // A desk no sensor watches: all of its time is unknown.
    const gaps = d.sensors !== undefined && d.sensors.length === 0 ? period : normalise(deskGaps.get(d.id) ?? [], from, to);
    const raw: number[] = [];
    for (const x of deskSessions.get(d.id) ?? []) raw.push(x.start, x.end);
    const used = normalise(raw, from, to);
    const available = subtract(open, gaps);
    return { id: d.id, space: d.space, open, unknown: intersect(open, gaps), occupied: intersect(used, available), outside: subtract(used, open) };
  });

  const spaces: SpacePrep[] = resources.spaces.map((s) => {
    const open = openOf(s.id);
    const own = desks.filter((d) => d.space === s.id);
    const sessions = presenceSessions.get(s.id) ?? [];
    const pairs = new Map<string, number[]>();
    for (const x of sessions) pushPair(pairs, x.memberId!, x.start, x.end);
    const byMember = new Map([...pairs].map(([m, raw]) => [m, normalise(raw, from, to)] as const));
    return {
      id: s.id,
      kind: s.kind,
      open,
      desks: own,
      deskEvents: events(own.map((d) => d.occupied)),
      presence: presencePrep(byMember, open, touchesOf(sessions, from, to)),
    };
  });

  const machines: MachinePrep[] = resources.machines.map((m) => {
    const open = openOf(m.space);
    const gaps = m.meters !== undefined && m.meters.length === 0 ? period : normalise(machineGaps.get(m.id) ?? [], from, to);
    const downtime = intersect(open, toFlat(input.downtime?.get(m.id) ?? [], from, to));
    const up = subtract(open, downtime);
    const sessions = machineSessions.get(m.id) ?? [];
    return {
      id: m.id,
      space: m.space,
      open,
      downtime,
      unknown: intersect(up, gaps),
      available: subtract(up, gaps),
      closed: subtract(period, open),
      openDown: downtime,
      sessions,
      touches: touchesOf(sessions, from, to),
    };
  });

  const siteMembers = new Map<string, Flat>();
  for (const [m, pairs] of sitePresence) siteMembers.set(m, normalise(pairs, from, to));
  return {
    prep: {
      from,
      to,
      siteOpen,
      spaces,
      desks,
      machines,
      sitePresence: presencePrep(siteMembers, siteOpen, touchesOf(allPresenceSessions, from, to)),
      // Every desk stands in one of the spaces (openOf checked it).
      siteDeskEvents: mergeEvents(spaces.map((s) => s.deskEvents)),
      machineTouches: touchesOf(allMachineSessions, from, to),
      siteTouches: touchesOf([...allPresenceSessions, ...allMachineSessions], from, to),
      teams: teamsOf([...allPresenceSessions, ...allMachineSessions], input.teams),
    },
    ignored: { sessions: ignoredSessions, gaps: ignoredGaps },
  };
}

/**
 * Member → team: the team the access decisions recorded with the member's sessions (the newest one, if a
 * member changed teams within the period), else the given map (the roster as it is now).
 */
function teamsOf(sessions: readonly UsageSession[], given: ReadonlyMap<string, string> | undefined): ReadonlyMap<string, string> {
  const teams = new Map(given ?? []);
  const newest = new Map<string, number>();
  for (const s of sessions) {
    // Sessions built before teams were recorded may lack the field.
    if (s.memberId === null || s.teamId === null || s.teamId === undefined) continue;
    if ((newest.get(s.memberId) ?? -Infinity) > s.start) continue;
    newest.set(s.memberId, s.start);
    teams.set(s.memberId, s.teamId);
  }
  return teams;
}

// ---------------------------------------------------------------------------
// Measuring over buckets

/** Members touching each bucket; with `teams`, the distinct teams too. */
function uniques(touches: Map<string, MemberTouches>, bounds: readonly number[], teams?: ReadonlyMap<string, string>): { members: number[]; teams: number[]; noTeam: number[] } {
  const n = bounds.length - 1;
  const members = new Array<number>(n).fill(0);
  const noTeam = new Array<number>(n).fill(0);
  const teamSets: Set<string>[] | null = teams ? Array.from({ length: n }, () => new Set<string>()) : null;
  // The last member counted in each bucket: a member's spans are visited together, in any order.
  const last = new Int32Array(n).fill(-1);
  let index = 0;
  for (const [member, t] of touches) {
    const team = teams?.get(member);
    for (let i = 0; i < t.spans.length; i += 2) {
      const a = t.spans[i]!;
      const b = t.spans[i + 1]!;
      const k1 = b > a ? bucketOf(bounds, b - 1) : bucketOf(bounds, a);
      for (let k = bucketOf(bounds, a); k <= k1; k++) {
        if (last[k] === index) continue;
        last[k] = index;
        members[k]!++;
        if (teamSets) {
          if (team !== undefined) teamSets[k]!.add(team);
          else noTeam[k]!++;
        }
      }
    }
    index++;
  }
  return { members, teams: teamSets ? teamSets.map((s) => s.size) : members.map(() => 0), noTeam };
}

const sumInto = (acc: number[], xs: readonly number[]): void => {
  for (let k = 0; k < acc.length; k++) acc[k]! += xs[k]!;
};

interface DeskSeries {
  readonly unknown: number[];
  readonly occupied: number[];
  readonly outside: number[];
}

function deskSeries(d: DeskPrep, bounds: readonly number[]): DeskSeries {
  return { unknown: measure(d.unknown, bounds), occupied: measure(d.occupied, bounds), outside: measure(d.outside, bounds) };
}

/** Desks together: their open time is each desk's (its space's), summed. */
function deskAggregate(series: readonly DeskSeries[], openDeskMs: number, openMs: number, peak: number, k: number): DeskAggregate {
  let unknown = 0;
  let occupied = 0;
  let outside = 0;
  for (const s of series) {
    unknown += s.unknown[k]!;
    occupied += s.occupied[k]!;
    outside += s.outside[k]!;
  }
  const available = openDeskMs - unknown;
  return {
    desks: series.length,
    availableDeskMs: available,
    unknownDeskMs: unknown,
    occupiedDeskMs: occupied,
    outsideHoursDeskMs: outside,
    utilisation: ratio(occupied, available),
    averageOccupied: ratio(occupied, openMs),
    peakOccupied: peak,
  };
}

function presenceSeries(p: PresencePrep, bounds: readonly number[]): (k: number, open: number) => PresenceMetrics {
  const n = bounds.length - 1;
  const person = new Array<number>(n).fill(0);
  const outside = new Array<number>(n).fill(0);
  for (const l of p.inHours) sumInto(person, measure(l, bounds));
  for (const l of p.outside) sumInto(outside, measure(l, bounds));
  const peak = peaks(p.peakEvents, bounds);
  const { members } = uniques(p.touches, bounds);
  return (k, open) => ({
    personMs: person[k]!,
    outsideHoursPersonMs: outside[k]!,
    averagePeople: ratio(person[k]!, open),
    peakPeople: peak[k]!,
    uniqueMembers: members[k]!,
  });
}

/**
 * ⌊part · elapsed / whole⌋, exactly: in doubles while the product is a safe
 * integer (then the division's rounding cannot cross an integer), else in
 * BigInt. Exact, so a piece never gets more than its length.
 */
function share(part: number, elapsed: number, whole: number): number {
  if (elapsed >= whole) return part;
  const product = part * elapsed;
  if (product <= Number.MAX_SAFE_INTEGER) return Math.floor(product / whole);
  return Number((BigInt(part) * BigInt(elapsed)) / BigInt(whole));
}

interface MachineSeries {
  readonly open: number[];
  readonly downtime: number[];
  readonly unknown: number[];
  readonly available: number[];
  readonly running: number[];
  readonly idle: number[];
  readonly outside: number[];
  readonly downRunning: number[];
  readonly sessions: number[];
  readonly energy: number[];
  readonly members: number[];
}

/**
 * A machine's times per bucket. Where within a session it ran and where it
 * idled is not known, only how long: each piece of a session gets running and
 * idle time in proportion to its length, through cumulative functions of the
 * instant (F(y) − F(x)), so pieces always add up to the same whole however
 * the session is cut.
 */
function machineSeries(m: MachinePrep, bounds: readonly number[], from: number, to: number): MachineSeries {
  const n = bounds.length - 1;
  const zeros = (): number[] => new Array<number>(n).fill(0);
  const running = zeros();
  const idle = zeros();
  const outside = zeros();
  const downRunning = zeros();
  const sessions = zeros();
  const energy = zeros();
  // Sessions of one machine do not overlap; should two (a meter replaced mid-run), time is counted once,
  // the later session's from where the earlier ended, so running time never exceeds the time there was.
  let counted = -Infinity;
  for (const s of m.sessions) {
    if (s.start >= from && s.start < to) sessions[bucketOf(bounds, s.start)]!++;
    const dur = s.end - s.start;
    if (dur <= 0) {
      if (s.start >= from && s.start < to) energy[bucketOf(bounds, s.start)]! += s.energyWh ?? 0;
      continue;
    }
    const e = s.energyWh ?? 0;
    if (Math.min(s.end, to) > Math.max(s.start, from)) split(bounds, Math.max(s.start, from), Math.min(s.end, to), (k, p, q) => (energy[k]! += (e * (q - p)) / dur));
    const a = Math.max(s.start, from, counted);
    const b = Math.min(s.end, to);
    counted = Math.max(counted, s.end);
    if (b <= a) continue;
    // Running and idle time can only fill the session (the sessioniser's open sessions may count an idle tail past their end).
    const runMs = Math.min(Math.max(Math.round(s.runningMs ?? 0), 0), dur);
    const idleMs = Math.min(Math.max(Math.round(s.idleMs ?? 0), 0), dur - runMs);
    const run = (t: number): number => share(runMs, t - s.start, dur);
    const idl = (t: number): number => share(idleMs, t - s.start, dur);
    const add = (into: number[], f: (t: number) => number) => (x: number, y: number) => split(bounds, x, y, (k, p, q) => (into[k]! += f(q) - f(p)));
    within(m.available, a, b, (x, y) =>
      split(bounds, x, y, (k, p, q) => {
        running[k]! += run(q) - run(p);
        idle[k]! += idl(q) - idl(p);
      }),
    );
    within(m.closed, a, b, add(outside, run));
    within(m.openDown, a, b, add(downRunning, run));
  }
  const open = measure(m.open, bounds);
  const downtime = measure(m.downtime, bounds);
  const unknown = measure(m.unknown, bounds);
  return {
    open,
    downtime,
    unknown,
    available: open.map((o, k) => o - downtime[k]! - unknown[k]!),
    running,
    idle,
    outside,
    downRunning,
    sessions,
    energy,
    members: uniques(m.touches, bounds).members,
  };
}

function machineTimes(s: MachineSeries, k: number): MachineTimes {
  return {
    openMs: s.open[k]!,
    downtimeMs: s.downtime[k]!,
    unknownMs: s.unknown[k]!,
    availableMs: s.available[k]!,
    runningMs: s.running[k]!,
    idleMs: s.idle[k]!,
    outsideHoursMs: s.outside[k]!,
    downtimeRunningMs: s.downRunning[k]!,
    sessions: s.sessions[k]!,
    energyWh: wh(s.energy[k]!),
    uniqueMembers: s.members[k]!,
    utilisation: ratio(s.running[k]!, s.available[k]!),
  };
}

function measureAll(p: Prep, bounds: readonly number[], labels: readonly { key: string; start: string }[]): PeriodMetrics[] {
  const n = bounds.length - 1;
  const zeros = (): number[] => new Array<number>(n).fill(0);

  const desks = new Map(p.desks.map((d) => [d, deskSeries(d, bounds)] as const));
  const spaces = p.spaces.map((s) => ({
    s,
    open: measure(s.open, bounds),
    peak: peaks(s.deskEvents, bounds),
    presence: presenceSeries(s.presence, bounds),
    desks: s.desks.map((d) => desks.get(d)!),
  }));
  const machines = p.machines.map((m) => ({ m, series: machineSeries(m, bounds, p.from, p.to) }));

  const siteOpen = measure(p.siteOpen, bounds);
  const sitePresence = presenceSeries(p.sitePresence, bounds);
  const siteDeskPeak = peaks(p.siteDeskEvents, bounds);
  const site = uniques(p.siteTouches, bounds, p.teams);
  const machineMembers = uniques(p.machineTouches, bounds).members;
  // All desks: their available time is each one's open time less unknown, so sum per desk.
  const deskOpen = zeros();
  for (const s of spaces) for (let k = 0; k < n; k++) deskOpen[k]! += s.open[k]! * s.desks.length;
  const allDeskSeries = [...desks.values()];
  const machineSum = (f: (s: MachineSeries) => number[]): number[] => {
    const acc = zeros();
    for (const { series } of machines) sumInto(acc, f(series));
    return acc;
  };
  const total: MachineSeries = {
    open: machineSum((s) => s.open),
    downtime: machineSum((s) => s.downtime),
    unknown: machineSum((s) => s.unknown),
    available: machineSum((s) => s.available),
    running: machineSum((s) => s.running),
    idle: machineSum((s) => s.idle),
    outside: machineSum((s) => s.outside),
    downRunning: machineSum((s) => s.downRunning),
    sessions: machineSum((s) => s.sessions),
    energy: machineSum((s) => s.energy),
    members: machineMembers,
  };

  const openBySpace = new Map(spaces.map((s) => [s.s.id, s.open] as const));
  const out: PeriodMetrics[] = [];
  for (let k = 0; k < n; k++) {
    const deskMetrics = p.desks.map((d): DeskMetrics => {
      const s = desks.get(d)!;
      const open = openBySpace.get(d.space)![k]!;
      const available = open - s.unknown[k]!;
      return {
        id: d.id,
        space: d.space,
        openMs: open,
        unknownMs: s.unknown[k]!,
        availableMs: available,
        occupiedMs: s.occupied[k]!,
        outsideHoursMs: s.outside[k]!,
        utilisation: ratio(s.occupied[k]!, available),
      };
    });
    out.push({
      key: labels[k]!.key,
      start: labels[k]!.start,
      from: bounds[k]!,
      to: bounds[k + 1]!,
      site: {
        openMs: siteOpen[k]!,
        uniqueMembers: site.members[k]!,
        uniqueTeams: site.teams[k]!,
        membersWithoutTeam: site.noTeam[k]!,
        desks: deskAggregate(allDeskSeries, deskOpen[k]!, siteOpen[k]!, siteDeskPeak[k]!, k),
        presence: sitePresence(k, siteOpen[k]!),
        machines: { machines: machines.length, ...machineTimes(total, k) },
      },
      spaces: spaces.map((s) => ({
        id: s.s.id,
        kind: s.s.kind,
        openMs: s.open[k]!,
        desks: deskAggregate(s.desks, s.open[k]! * s.desks.length, s.open[k]!, s.peak[k]!, k),
        presence: s.presence(k, s.open[k]!),
      })),
      desks: deskMetrics,
      machines: machines.map(({ m, series }) => ({ id: m.id, space: m.space, ...machineTimes(series, k) })),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------

/**
 * Utilisation of a site's desks, spaces and machines over [from, to), per
 * local bucket of the given granularity and in total.
 */
export function utilisation(input: MetricsInput): UtilisationReport {
  const { from, to, granularity } = input;
  if (!Number.isInteger(from) || !Number.isInteger(to) || to < from) throw new RangeError(`the period must be whole ms with from ≤ to, not [${from}, ${to})`);
  const tz = input.calendars.site.timezone;
  const zone = zoneAround(tz, from, to);
  const { prep, ignored } = prepare(input, zone);
  const buckets = localBuckets(from, to, granularity, zone);
  const perBucket = buckets.length > 0 ? measureAll(prep, [buckets[0]!.from, ...buckets.map((b) => b.to)], buckets) : [];
  const [total] = measureAll(prep, [from, to], [{ key: 'total', start: new Date(wallTime(zone, from)).toISOString().slice(0, 16) }]);
  return { version: 1, timezone: tz, from, to, granularity, buckets: perBucket, total: total!, ignored };
}
