/**
 * The sessioniser: journal records (signals, access decisions, machine
 * sessions) in, usage sessions out. One piece of code for the live view (the
 * gateway feeds it records as they are journaled), for billing (the server
 * feeds it a period read back from InfluxDB) and for an audit (the auditor
 * feeds it the raw log), with the same sessions every time.
 *
 * Written as a step function over an ordered stream. `push` takes one record;
 * `advance` moves time on (the gateway's clock, or the end of the stream);
 * both return the sessions that closed. The whole state is plain data
 * (`snapshot`/`restore`), so a run can stop after any record and resume.
 *
 * Order. Records are processed in (ts, key) order. Devices reconnecting with
 * a backlog deliver late and out of order, so pushed records wait in a buffer
 * until the newest time seen has moved `allowedLatenessMs` past them; within
 * that lateness any arrival order gives the same sessions. A record older than
 * what has already been processed is *too late*: it is counted (`late`) and
 * not used here. Billing and audits run on the complete, sorted stream from
 * InfluxDB, where nothing is late, so they see every record; only the live
 * view can miss one that came later than the allowed lateness.
 *
 * Sessions (docs/utilisation.md):
 * - desk: a desk sensor's occupied periods; a vacancy shorter than
 *   `deskMergeGapMs` is a flicker, not a new session; sessions shorter than
 *   `deskMinDurationMs` are dropped.
 * - presence: a member in a space, from a granted entry to a granted exit
 *   (decisions at doors); without an exit, to the space's presence timeout or
 *   its closing time, whichever comes first, marked inferred.
 * - machine: power above the machine's running threshold (hysteresis: it
 *   keeps running down to `hysteresis` below it); a dip shorter than the
 *   machine's idle time (idleOffS, default 600 s) is idle time inside the
 *   session; energy from the meter's counter (resets handled), or from power
 *   over time where the meter has no counter. Attributed to the member whose
 *   machine session (badge at the machine) was running when it started.
 * Gaps: a sensor or meter reported offline (health online=false) leaves an
 * unknown interval until it reports again: sessions end where knowledge ends
 * (marked inferred), and the gap is emitted so utilisation shows it as
 * unknown, not as free.
 *
 * Pure: no clock, no I/O; time comes from the records and from `advance`.
 */
import type { Period } from '../access/time.js';
import { openingCalendar, openState, type ExtraOpenDate, type OpeningCalendar } from './calendar.js';
import { energyDeltaKwh } from '../energy.js';
import type { DecisionRecord, JournalRecord, OccupancySignal, PowerSignal, SessionRecord, HealthSignal } from '../signals.js';
import type { Site } from '../site/model.js';

export type UsageKind = 'desk' | 'presence' | 'machine';

/** Where a session came from: the first and last record it rests on, and how many. */
export interface Evidence {
  readonly first: string;
  readonly last: string;
  readonly count: number;
}

export interface UsageSession {
  readonly kind: UsageKind;
  /** Deterministic: kind, resource and start (and member for presence). */
  readonly id: string;
  /** Desk, space (presence) or machine id. */
  readonly resource: string;
  readonly space: string | null;
  readonly memberId: string | null;
  /** The member's team when the access decision (entry, badge at the machine) was made; null when none or not known. */
  readonly teamId: string | null;
  readonly start: number;
  readonly end: number;
  /** The end is not observed: a timeout, closing time, a sensor or meter going quiet or offline. */
  readonly endInferred: boolean;
  readonly endReason: EndReason;
  /** Machines: time above the running threshold, and idle time inside the session (ms). */
  readonly runningMs: number | null;
  readonly idleMs: number | null;
  /** Machines: energy used, Wh (rounded to 0.001). */
  readonly energyWh: number | null;
  /** Machines: the access session (badge at the machine) it is attributed by. */
  readonly accessSessionId: string | null;
  readonly evidence: Evidence;
}

export type EndReason = 'vacated' | 'exit' | 'timeout' | 'closing' | 'idle' | 'offline' | 'silent' | 'open';

/** A stretch in which a device could not say anything (offline): unknown, not free. */
export interface UnknownGap {
  readonly kind: 'gap';
  readonly device: string;
  /** Desk, space or machine the device watches. */
  readonly resource: string;
  readonly from: number;
  readonly to: number;
}

export interface SessioniserOptions {
  readonly allowedLatenessMs?: number;
  readonly deskMergeGapMs?: number;
  readonly deskMinDurationMs?: number;
  /** Fraction below the running threshold a running machine still counts as running (default 0.2). */
  readonly hysteresis?: number;
  /** A meter silent this long ends the machine session at its last reading (default 15 min). */
  readonly meterSilenceMs?: number;
}

/** What the sessioniser needs from a site, as plain data. */
export interface SessioniserConfig {
  readonly allowedLatenessMs: number;
  readonly deskMergeGapMs: number;
  readonly deskMinDurationMs: number;
  readonly hysteresis: number;
  readonly meterSilenceMs: number;
  readonly timezone: string;
  /** Occupancy sensor → desk (and its space). */
  readonly deskSensors: Readonly<Record<string, { readonly desk: string; readonly space: string }>>;
  /** Desk → its space. */
  readonly desks: Readonly<Record<string, string>>;
  /** Power meter → machine. */
  readonly machineMeters: Readonly<Record<string, string>>;
  readonly machines: Readonly<Record<string, { readonly space: string; readonly thresholdW: number; readonly idleMs: number }>>;
  readonly spaces: Readonly<Record<string, { readonly timeoutMs: number; readonly hours: readonly Period[] | null }>>;
  /** The site's closed dates (YYYY-MM-DD) and make-up working days: with a space's hours, its calendar (core/usage/calendar.ts). */
  readonly closedDates?: readonly string[];
  readonly extraOpenDates?: readonly ExtraOpenDate[];
}

export const DEFAULTS = {
  allowedLatenessMs: 60_000,
  deskMergeGapMs: 5 * 60_000,
  deskMinDurationMs: 2 * 60_000,
  hysteresis: 0.2,
  meterSilenceMs: 15 * 60_000,
  presenceTimeoutMs: 8 * 3600_000,
  machineIdleMs: 600_000,
} as const;

export function sessioniserConfig(site: Site, o: SessioniserOptions = {}): SessioniserConfig {
  const deskSensors: Record<string, { desk: string; space: string }> = {};
  const machineMeters: Record<string, string> = {};
  for (const d of site.devices.values()) {
    if (d.kind === 'occupancy-sensor' && d.target?.type === 'desk') {
      const desk = site.desks.get(d.target.id);
      if (desk) deskSensors[d.id] = { desk: desk.id, space: desk.space };
    }
    if (d.kind === 'power-meter' && d.target?.type === 'equipment') machineMeters[d.id] = d.target.id;
  }
  const machines: Record<string, { space: string; thresholdW: number; idleMs: number }> = {};
  for (const e of site.equipment.values()) machines[e.id] = { space: e.space, thresholdW: e.runningThresholdW ?? 0, idleMs: (e.idleOffS ?? DEFAULTS.machineIdleMs / 1000) * 1000 };
  const spaces: Record<string, { timeoutMs: number; hours: readonly Period[] | null }> = {};
  for (const s of site.spaces.values()) {
    spaces[s.id] = { timeoutMs: s.presenceTimeoutS !== undefined ? s.presenceTimeoutS * 1000 : DEFAULTS.presenceTimeoutMs, hours: s.openingHours ?? site.file.site.openingHours ?? null };
  }
  return {
    allowedLatenessMs: o.allowedLatenessMs ?? DEFAULTS.allowedLatenessMs,
    deskMergeGapMs: o.deskMergeGapMs ?? DEFAULTS.deskMergeGapMs,
    deskMinDurationMs: o.deskMinDurationMs ?? DEFAULTS.deskMinDurationMs,
    hysteresis: o.hysteresis ?? DEFAULTS.hysteresis,
    meterSilenceMs: o.meterSilenceMs ?? DEFAULTS.meterSilenceMs,
    timezone: site.timezone,
    closedDates: (site.file.site.closedDates ?? []).map((c) => (typeof c === 'string' ? c : c.date)),
    extraOpenDates: (site.file.site.extraOpenDates ?? []).map((e) => ({ ...e })),
    deskSensors,
    desks: Object.fromEntries([...site.desks.values()].map((d) => [d.id, d.space])),
    machineMeters,
    machines,
    spaces,
  };
}

// ---------------------------------------------------------------------------
// State: plain data only (JSON round-trips), so a run can be snapshotted anywhere.

interface Ev {
  first: string;
  last: string;
  count: number;
}

interface DeskOpen {
  start: number;
  /** When the sensor last said vacant while the session was open (a flicker or the end). */
  vacatedAt: number | null;
  ev: Ev;
}

interface PresenceOpen {
  teamId?: string | null;
  start: number;
  ev: Ev;
}

interface MachineRun {
  start: number;
  /** Time of the last reading, and whether it was running. */
  lastTs: number;
  running: boolean;
  /** Since when readings have been below the running level (an idle stretch), if they are. */
  idleSince: number | null;
  runningMs: number;
  idleMs: number;
  energyKwh: number;
  memberId: string | null;
  teamId?: string | null;
  accessSessionId: string | null;
  /** When its one live silence deadline is due (older ones are stale). */
  silenceAt: number;
  ev: Ev;
}

interface MeterState {
  lastTs: number | null;
  lastCounter: number | null;
  lastPowerW: number | null;
}

type Timer = [at: number, kind: 'desk' | 'presence' | 'machine', id: string, member: string];

export interface SessionState {
  /** Newest record time seen (the watermark). */
  newest: number;
  /** Records waiting for the watermark, in (ts, key) order. */
  buffer: JournalRecord[];
  /** The last record processed (ts, key): anything before it is too late. */
  doneTs: number;
  doneKey: string;
  late: number;
  desks: Record<string, DeskOpen>;
  presence: Record<string, Record<string, PresenceOpen>>;
  machines: Record<string, MachineRun>;
  meters: Record<string, MeterState>;
  /** The access session running on each machine (badge at the machine). */
  access: Record<string, { sessionId: string; memberId: string; teamId?: string | null }>;
  /** Devices reported offline, since when. */
  offline: Record<string, number>;
  /** Pending deadlines, a binary min-heap by time (stale entries are skipped when they fire). */
  timers: Timer[];
}

export function initialState(): SessionState {
  return { newest: -Infinity, buffer: [], doneTs: -Infinity, doneKey: '', late: 0, desks: {}, presence: {}, machines: {}, meters: {}, access: {}, offline: {}, timers: [] };
}

export type Output = UsageSession | UnknownGap;

/** A desk session still open: occupied, or vacated less than the merge gap ago (`vacatedAt`). */
export interface OpenDesk {
  readonly start: number;
  readonly vacatedAt: number | null;
}

/** A machine session still open: running now, or in an idle stretch since `idleSince`. */
export interface OpenMachine {
  readonly start: number;
  readonly running: boolean;
  readonly idleSince: number | null;
  /** Time of the meter's last reading. */
  readonly lastTs: number;
  readonly memberId: string | null;
  readonly accessSessionId: string | null;
}

/** Everything open at a moment (Sessioniser.openSessions): the live view's input. Plain data. */
export interface OpenSessions {
  readonly at: number;
  readonly desks: Readonly<Record<string, OpenDesk>>;
  /** Space → member → since (a granted entry). */
  readonly presence: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly machines: Readonly<Record<string, OpenMachine>>;
  /** The badge session running at each machine. */
  readonly access: Readonly<Record<string, { readonly sessionId: string; readonly memberId: string }>>;
  /** Desk sensors and meters reported offline, since when. */
  readonly offline: Readonly<Record<string, number>>;
}

const before = (ts: number, key: string, ts2: number, key2: string): boolean => ts < ts2 || (ts === ts2 && key < key2);

export class Sessioniser {
  private readonly s: SessionState;
  /**
   * Records before it in the buffer are processed, and dropped in bulk once
   * they are half of it: taking them off one release at a time moved the whole
   * buffer (a minute of records) on every push.
   */
  private head = 0;

  constructor(
    private readonly cfg: SessioniserConfig,
    state: SessionState = initialState(),
  ) {
    this.s = state;
  }

  /** A copy of the state (plain data). */
  snapshot(): SessionState {
    this.compact();
    return JSON.parse(JSON.stringify(this.s, (_k, v: unknown) => (v === -Infinity ? '-Infinity' : v)), (_k, v: unknown) => (v === '-Infinity' ? -Infinity : v)) as SessionState;
  }

  static restore(cfg: SessioniserConfig, state: SessionState): Sessioniser {
    return new Sessioniser(cfg, state);
  }

  /** Records dropped because they came after later ones had been processed. */
  get late(): number {
    return this.s.late;
  }

  /** Takes one record; returns what closed as the watermark moved. */
  push(r: JournalRecord): Output[] {
    const s = this.s;
    if (!before(s.doneTs, s.doneKey, r.ts, r.key)) {
      s.late++;
      return [];
    }
    // Insert in (ts, key) order; arrivals are mostly in order, so search from the end.
    let i = s.buffer.length;
    while (i > this.head && before(r.ts, r.key, s.buffer[i - 1]!.ts, s.buffer[i - 1]!.key)) i--;
    if (i > this.head && s.buffer[i - 1]!.key === r.key && s.buffer[i - 1]!.ts === r.ts) return []; // the same record twice
    if (i === s.buffer.length) s.buffer.push(r);
    else s.buffer.splice(i, 0, r);
    if (r.ts > s.newest) s.newest = r.ts;
    return this.release(s.newest - this.cfg.allowedLatenessMs);
  }

  /**
   * Moves time to `now` (a clock, or the end of a period): records up to
   * now − allowed lateness are processed and deadlines up to then fire.
   */
  advance(now: number): Output[] {
    return this.release(now - this.cfg.allowedLatenessMs);
  }

  /**
   * End of the stream at `end`: everything buffered is processed, deadlines up
   * to `end` fire, and sessions still open are returned closed at `end` with
   * reason `open` (they continue past it). The state is left as it was before
   * the open sessions were cut, so a live run can go on.
   */
  flush(end: number): { closed: Output[]; open: UsageSession[]; openGaps: UnknownGap[] } {
    const closed = this.release(end, true);
    const open: UsageSession[] = [];
    const s = this.s;
    // Devices still offline: unknown up to the end.
    const openGaps: UnknownGap[] = [];
    for (const [device, since] of Object.entries(s.offline)) {
      const resource = this.cfg.deskSensors[device]?.desk ?? this.cfg.machineMeters[device];
      if (resource !== undefined && since < end) openGaps.push({ kind: 'gap', device, resource, from: since, to: end });
    }
    for (const [desk, d] of Object.entries(s.desks)) {
      const space = this.deskSpace(desk);
      const until = d.vacatedAt ?? end;
      open.push(session('desk', desk, space, null, d.start, Math.max(d.start, until), d.vacatedAt !== null, d.vacatedAt !== null ? 'vacated' : 'open', d.ev));
    }
    for (const [space, members] of Object.entries(s.presence)) {
      for (const [member, p] of Object.entries(members)) open.push({ ...session('presence', space, space, member, p.start, end, false, 'open', p.ev), teamId: p.teamId ?? null });
    }
    // A machine still on: known up to its last reading.
    for (const [eq, run] of Object.entries(s.machines)) {
      // Cut where it is last known to work; an idle stretch it is in is not (yet) its time.
      const tail = run.idleSince === null ? 0 : run.lastTs - run.idleSince;
      open.push(this.machineSession(eq, { ...run, idleMs: run.idleMs - tail }, run.idleSince ?? run.lastTs, false, 'open'));
    }
    return { closed, open, openGaps };
  }

  /**
   * What is open at `now`, for the live view (core/usage/live.ts); read-only.
   * The live view cannot wait `allowedLatenessMs` for the watermark, so this
   * answers as if the stream ended now: on a copy of the state, every buffered
   * record is processed and the deadlines up to `now` fire. The sessioniser
   * itself is untouched: records still wait for the watermark, and a late one
   * is placed where it belongs. Costs a copy of the state (the buffer by
   * reference) and the buffered records once more; `buffered` tells the
   * caller how many that is. With `pending` false the buffer is left out:
   * what is open as of the watermark (now − allowed lateness), at the cost of
   * a copy of the state alone.
   */
  openSessions(now: number, pending = true): OpenSessions {
    const { buffer, ...rest } = this.s;
    const probe = new Sessioniser(this.cfg, { ...structuredClone(rest), buffer: pending ? buffer.slice(this.head) : [] });
    if (pending) probe.release(now, true);
    else probe.release(now - this.cfg.allowedLatenessMs);
    const p = probe.s;
    const machines: Record<string, OpenMachine> = {};
    for (const [eq, run] of Object.entries(p.machines)) {
      machines[eq] = { start: run.start, running: run.running, idleSince: run.idleSince, lastTs: run.lastTs, memberId: run.memberId, accessSessionId: run.accessSessionId };
    }
    const desks: Record<string, OpenDesk> = {};
    for (const [desk, d] of Object.entries(p.desks)) desks[desk] = { start: d.start, vacatedAt: d.vacatedAt };
    const presence: Record<string, Record<string, number>> = {};
    for (const [space, members] of Object.entries(p.presence)) {
      const open = Object.entries(members);
      if (open.length > 0) presence[space] = Object.fromEntries(open.map(([m, o]) => [m, o.start]));
    }
    return { at: now, desks, presence, machines, access: p.access, offline: p.offline };
  }

  /** Records waiting for the watermark (what openSessions processes once more). */
  get buffered(): number {
    return this.s.buffer.length - this.head;
  }

  // -------------------------------------------------------------------------

  private release(upTo: number, all = false): Output[] {
    const s = this.s;
    const out: Output[] = [];
    let n = this.head;
    while (n < s.buffer.length && (all || s.buffer[n]!.ts <= upTo)) {
      const r = s.buffer[n]!;
      this.fire(r.ts, out, r.key);
      this.apply(r, out);
      s.doneTs = r.ts;
      s.doneKey = r.key;
      n++;
    }
    this.head = n;
    if (n >= 1024 && 2 * n >= s.buffer.length) this.compact();
    this.fire(upTo, out, null);
    // Deadlines up to upTo have fired: a record from before then would come too late to be placed.
    if (upTo > s.doneTs) {
      s.doneTs = upTo;
      s.doneKey = '\uffff';
    }
    return out;
  }

  private compact(): void {
    if (this.head === 0) return;
    this.s.buffer.splice(0, this.head);
    this.head = 0;
  }

  /** Fires deadlines due at or before t (strictly before when a record at t follows: the record comes first). */
  private fire(t: number, out: Output[], recordKey: string | null): void {
    const s = this.s;
    while (s.timers.length > 0 && (recordKey === null ? s.timers[0]![0] <= t : s.timers[0]![0] < t)) {
      const [at, kind, id, member] = heapPop(s.timers);
      if (kind === 'desk') this.deskDeadline(id, at, out);
      else if (kind === 'presence') this.presenceDeadline(id, member, at, out);
      else this.machineDeadline(id, at, member, out);
    }
  }

  private apply(r: JournalRecord, out: Output[]): void {
    switch (r.kind) {
      case 'occupancy':
        return this.occupancy(r, out);
      case 'power':
        return this.power(r, out);
      case 'health':
        return this.health(r, out);
      case 'decision':
        return this.decision(r, out);
      case 'session':
        return this.accessSession(r);
      // Swipes count through their decisions; hour meters and gateway events carry no usage.
      case 'badge':
      case 'meter':
      case 'system':
        return;
    }
  }

  // Desks ---------------------------------------------------------------------

  private deskSpace(desk: string): string | null {
    return this.cfg.desks[desk] ?? null;
  }

  private occupancy(r: OccupancySignal, out: Output[]): void {
    const where = this.cfg.deskSensors[r.device];
    if (!where) return;
    this.online(r.device, where.desk, r.ts, out);
    const s = this.s;
    const d = s.desks[where.desk];
    if (r.occupied) {
      if (!d) s.desks[where.desk] = { start: r.ts, vacatedAt: null, ev: { first: r.key, last: r.key, count: 1 } };
      else {
        d.vacatedAt = null;
        addEv(d.ev, r.key);
      }
    } else if (d && d.vacatedAt === null) {
      d.vacatedAt = r.ts;
      addEv(d.ev, r.key);
      heapPush(s.timers, [r.ts + this.cfg.deskMergeGapMs, 'desk', where.desk, '']);
    }
  }

  private deskDeadline(desk: string, at: number, out: Output[]): void {
    const d = this.s.desks[desk];
    if (!d || d.vacatedAt === null || d.vacatedAt + this.cfg.deskMergeGapMs !== at) return;
    this.closeDesk(desk, d.vacatedAt, false, 'vacated', out);
  }

  private closeDesk(desk: string, end: number, inferred: boolean, reason: EndReason, out: Output[]): void {
    const d = this.s.desks[desk]!;
    delete this.s.desks[desk];
    if (end - d.start >= this.cfg.deskMinDurationMs) out.push(session('desk', desk, this.deskSpace(desk), null, d.start, end, inferred, reason, d.ev));
  }

  // Presence ------------------------------------------------------------------

  private decision(r: DecisionRecord, out: Output[]): void {
    if (r.target.type !== 'door' || !r.grant || r.memberId === null || r.space === null) return;
    const spaceCfg = this.cfg.spaces[r.space];
    if (!spaceCfg) return;
    const s = this.s;
    const members = (s.presence[r.space] ??= {});
    const open = members[r.memberId];
    if (r.reason === 'exit') {
      if (!open) return;
      addEv(open.ev, r.key);
      delete members[r.memberId];
      out.push({ ...session('presence', r.space, r.space, r.memberId, open.start, r.ts, false, 'exit', open.ev), teamId: open.teamId ?? null });
      return;
    }
    if (open) {
      addEv(open.ev, r.key);
      return;
    }
    members[r.memberId] = { start: r.ts, ev: { first: r.key, last: r.key, count: 1 }, teamId: r.teamId ?? null };
    const deadline = this.presenceDeadlineFrom(r.space, r.ts);
    heapPush(s.timers, [deadline, 'presence', r.space, `${r.memberId}\u0000${r.ts}`]);
  }

  /** When someone who entered at t is taken to have gone: the timeout or the next closing time. */
  private presenceDeadlineFrom(space: string, t: number): number {
    const c = this.cfg.spaces[space]!;
    let deadline = t + c.timeoutMs;
    const opening = openState(spaceCalendar(this.cfg, space), t);
    // Entered while closed (an override): the timeout alone applies.
    if (opening.open && opening.closesAt !== null) deadline = Math.min(deadline, opening.closesAt);
    return deadline;
  }

  private presenceDeadline(space: string, tag: string, at: number, out: Output[]): void {
    const [member, startTs] = tag.split('\u0000') as [string, string];
    const p = this.s.presence[space]?.[member];
    if (!p || p.start !== Number(startTs)) return;
    delete this.s.presence[space]![member];
    const c = this.cfg.spaces[space]!;
    const reason: EndReason = at === p.start + c.timeoutMs ? 'timeout' : 'closing';
    out.push({ ...session('presence', space, space, member, p.start, at, true, reason, p.ev), teamId: p.teamId ?? null });
  }

  // Machines ------------------------------------------------------------------

  private accessSession(r: SessionRecord): void {
    if (r.event === 'start') this.s.access[r.equipment] = { sessionId: r.sessionId, memberId: r.memberId, teamId: r.teamId ?? null };
    else if (this.s.access[r.equipment]?.sessionId === r.sessionId) delete this.s.access[r.equipment];
  }

  private power(r: PowerSignal, out: Output[]): void {
    const eq = this.cfg.machineMeters[r.device];
    if (eq === undefined) return;
    const m = this.cfg.machines[eq];
    if (!m) return;
    this.online(r.device, eq, r.ts, out);
    const s = this.s;
    const meter = (s.meters[r.device] ??= { lastTs: null, lastCounter: null, lastPowerW: null });
    // Energy since the previous reading of this meter.
    let deltaKwh = 0;
    if (meter.lastTs !== null && r.ts > meter.lastTs) {
      if (r.energyKwh !== null && meter.lastCounter !== null) deltaKwh = energyDeltaKwh(meter.lastCounter, r.energyKwh);
      else if (meter.lastPowerW !== null && r.ts - meter.lastTs <= this.cfg.meterSilenceMs) deltaKwh = (((meter.lastPowerW + r.powerW) / 2) * (r.ts - meter.lastTs)) / 3_600_000_000;
    }
    meter.lastTs = r.ts;
    if (r.energyKwh !== null) meter.lastCounter = r.energyKwh;
    meter.lastPowerW = r.powerW;

    const run = s.machines[eq];
    const above = r.powerW > m.thresholdW;
    if (!run) {
      if (!above) return;
      const access = s.access[eq];
      s.machines[eq] = {
        start: r.ts,
        lastTs: r.ts,
        running: true,
        idleSince: null,
        runningMs: 0,
        idleMs: 0,
        energyKwh: 0,
        memberId: access?.memberId ?? null,
        teamId: access?.teamId ?? null,
        accessSessionId: access?.sessionId ?? null,
        silenceAt: r.ts + this.cfg.meterSilenceMs,
        ev: { first: r.key, last: r.key, count: 1 },
      };
      // One silence deadline per session, moved on when it comes due (not one per reading).
      heapPush(s.timers, [r.ts + this.cfg.meterSilenceMs, 'machine', eq, 'silence']);
      return;
    }
    // Between the last reading and this one the machine kept the last reading's state.
    const dt = r.ts - run.lastTs;
    if (run.running) run.runningMs += dt;
    else run.idleMs += dt;
    run.energyKwh += deltaKwh;
    addEv(run.ev, r.key);
    run.lastTs = r.ts;
    const stillRunning = run.running ? r.powerW > m.thresholdW * (1 - this.cfg.hysteresis) : above;
    if (stillRunning) {
      run.running = true;
      run.idleSince = null;
    } else if (run.running) {
      run.running = false;
      run.idleSince = r.ts;
      heapPush(s.timers, [r.ts + m.idleMs, 'machine', eq, 'idle']);
    }
  }

  private machineDeadline(eq: string, at: number, tag: string, out: Output[]): void {
    const run = this.s.machines[eq];
    if (!run) return;
    const m = this.cfg.machines[eq]!;
    if (tag === 'idle') {
      if (run.idleSince === null || at !== run.idleSince + m.idleMs) return;
      // Idle too long: the session ended when the machine went idle; the idle tail is not its time.
      run.idleMs -= run.lastTs - run.idleSince;
      delete this.s.machines[eq];
      out.push(this.machineSession(eq, run, run.idleSince, false, 'idle'));
      return;
    }
    if (at !== run.silenceAt) return;
    if (at < run.lastTs + this.cfg.meterSilenceMs) {
      // It has spoken since: the deadline moves to its last reading's.
      run.silenceAt = run.lastTs + this.cfg.meterSilenceMs;
      heapPush(this.s.timers, [run.silenceAt, 'machine', eq, 'silence']);
      return;
    }
    delete this.s.machines[eq];
    const end = run.idleSince ?? run.lastTs;
    if (run.idleSince !== null) run.idleMs -= run.lastTs - run.idleSince;
    out.push(this.machineSession(eq, run, end, true, 'silent'));
  }

  private machineSession(eq: string, run: MachineRun, end: number, inferred: boolean, reason: EndReason): UsageSession {
    const m = this.cfg.machines[eq]!;
    return {
      ...session('machine', eq, m.space, run.memberId, run.start, end, inferred, reason, run.ev),
      teamId: run.teamId ?? null,
      runningMs: run.runningMs,
      idleMs: Math.max(0, run.idleMs),
      energyWh: Math.round(run.energyKwh * 1_000_000) / 1000,
      accessSessionId: run.accessSessionId,
    };
  }

  // Device health -------------------------------------------------------------

  private health(r: HealthSignal, out: Output[]): void {
    // Battery and link reports say nothing about availability: only `online` does (and any reading).
    // So usage never depends on them, and a period can be read back without them.
    if (r.online === null) return;
    if (r.online) {
      const resource = this.cfg.deskSensors[r.device]?.desk ?? this.cfg.machineMeters[r.device];
      if (resource !== undefined) this.online(r.device, resource, r.ts, out);
      return;
    }
    if (this.s.offline[r.device] !== undefined) return;
    const desk = this.cfg.deskSensors[r.device];
    const eq = this.cfg.machineMeters[r.device];
    if (!desk && eq === undefined) return;
    this.s.offline[r.device] = r.ts;
    // What was open ends where knowledge ends.
    if (desk && this.s.desks[desk.desk]) {
      const d = this.s.desks[desk.desk]!;
      this.closeDesk(desk.desk, d.vacatedAt ?? r.ts, d.vacatedAt === null, d.vacatedAt === null ? 'offline' : 'vacated', out);
    }
    if (eq !== undefined && this.s.machines[eq]) {
      const run = this.s.machines[eq];
      delete this.s.machines[eq];
      const end = run.idleSince ?? run.lastTs;
      if (run.idleSince !== null) run.idleMs -= run.lastTs - run.idleSince;
      out.push(this.machineSession(eq, run, end, true, 'offline'));
    }
  }

  /** Any word from a device that was offline ends its unknown gap. */
  private online(device: string, resource: string, ts: number, out: Output[]): void {
    const since = this.s.offline[device];
    if (since === undefined) return;
    delete this.s.offline[device];
    out.push({ kind: 'gap', device, resource, from: since, to: ts });
  }
}

// A space's compiled calendar per config (configs are plain data, never changed once made).
const calendars = new WeakMap<SessioniserConfig, Map<string, OpeningCalendar>>();

function spaceCalendar(cfg: SessioniserConfig, space: string): OpeningCalendar {
  let bySpace = calendars.get(cfg);
  if (!bySpace) calendars.set(cfg, (bySpace = new Map<string, OpeningCalendar>()));
  let cal = bySpace.get(space);
  if (!cal) bySpace.set(space, (cal = openingCalendar({ timezone: cfg.timezone, hours: cfg.spaces[space]!.hours, closedDates: cfg.closedDates, extraOpenDates: cfg.extraOpenDates })));
  return cal;
}

function session(kind: UsageKind, resource: string, space: string | null, memberId: string | null, start: number, end: number, inferred: boolean, reason: EndReason, ev: Ev): UsageSession {
  return {
    kind,
    id: `${kind}:${resource}:${memberId === null ? '' : `${memberId}:`}${start}`,
    resource,
    space,
    memberId,
    teamId: null,
    start,
    end,
    endInferred: inferred,
    endReason: reason,
    runningMs: null,
    idleMs: null,
    energyWh: null,
    accessSessionId: null,
    evidence: { first: ev.first, last: ev.last, count: ev.count },
  };
}

function addEv(ev: Ev, key: string): void {
  ev.last = key;
  ev.count++;
}

// A binary min-heap on [at, kind, id, member], ordered by at then the rest (deterministic ties).
const less = (a: Timer, b: Timer): boolean => a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && (a[2] < b[2] || (a[2] === b[2] && a[3] < b[3])))));

function heapPush(h: Timer[], t: Timer): void {
  h.push(t);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!less(h[i]!, h[p]!)) break;
    [h[i], h[p]] = [h[p]!, h[i]!];
    i = p;
  }
}

function heapPop(h: Timer[]): Timer {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l]!, h[m]!)) m = l;
      if (r < h.length && less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
  return top;
}
