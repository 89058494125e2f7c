/**
 * Live state: what is happening in the site now, from what the sessioniser
 * has open (Sessioniser.openSessions) and what is known of each device.
 * Pure: the gateway's live view (gateway/live/live-view.ts) feeds it, and
 * publishes it retained on MQTT and to the server's live stream
 * (docs/utilisation.md, "Live state"; docs/protocol.md, "Live state topics").
 *
 * - A desk is `occupied` while its desk session is open and not vacated,
 *   `vacant` otherwise, and `unknown` while none of its sensors is known to be
 *   online (no sensor, offline, or not heard from since the gateway started
 *   looking): unknown is never counted as free.
 * - A machine is `running` (power above its threshold), `idle` (an idle
 *   stretch inside a session: changing material, cooling), `off`, or
 *   `unknown` (no meter online). Its member is the one of the badge session
 *   at the machine, else the one the running session is attributed to.
 * - People in a space: open presence sessions (granted entry, no exit yet,
 *   presence timeout or closing time not reached).
 * - A device is `online` from any word of its own, `offline` from a health
 *   signal online:false (its will, its bridge, the gateway's device watch),
 *   `unknown` before either.
 *
 * Personal data: member ids only (never names). Staff see them; a member sees
 * their own id and nobody else's (`forViewer`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { stateTopic } from '../protocol/topics.js';
import type { Signal } from '../signals.js';
import type { Site } from '../site/model.js';
import type { OpenSessions } from './sessioniser.js';

const Since = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });
const MemberId = Type.Union([Type.String(), Type.Null()], { description: 'Member id (never a name); null when nobody, or not yours to see' });

export const DeviceLiveSchema = Type.Object(
  {
    status: Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('unknown')]),
    since: Since('When it went online or offline (ms); null while unknown'),
  },
  { additionalProperties: false },
);

export const DeskLiveSchema = Type.Object(
  {
    space: Type.String(),
    state: Type.Union([Type.Literal('occupied'), Type.Literal('vacant'), Type.Literal('unknown')]),
    since: Since('Occupied: since when (start of the desk session); otherwise null'),
  },
  { additionalProperties: false },
);

export const MachineLiveSchema = Type.Object(
  {
    space: Type.String(),
    state: Type.Union([Type.Literal('running'), Type.Literal('idle'), Type.Literal('off'), Type.Literal('unknown')]),
    since: Since('Running or idle: start of the machine session; otherwise null'),
    memberId: MemberId,
    sessionId: Type.Union([Type.String(), Type.Null()], { description: 'The badge session at the machine (or the one the run is attributed to)' }),
  },
  { additionalProperties: false },
);

export const SpaceLiveSchema = Type.Object(
  {
    desks: Type.Integer({ description: 'Desks in the space' }),
    desksOccupied: Type.Integer(),
    desksUnknown: Type.Integer({ description: 'Desks whose sensors are offline, unknown or missing' }),
    people: Type.Integer({ description: 'Members inside (open presence sessions)' }),
    capacity: Type.Union([Type.Integer(), Type.Null()], { description: 'Safety capacity in people (site file)' }),
    machines: Type.Integer(),
    machinesRunning: Type.Integer({ description: 'Drawing working power now' }),
    machinesInUse: Type.Integer({ description: 'In a session: running, or idle between jobs' }),
  },
  { additionalProperties: false },
);

export const PresenceLiveSchema = Type.Object({ memberId: MemberId, since: Type.Number() }, { additionalProperties: false });

export const LiveTotalsSchema = Type.Object(
  {
    desks: Type.Integer(),
    desksOccupied: Type.Integer(),
    desksUnknown: Type.Integer(),
    people: Type.Integer({ description: 'Members inside anywhere (each counted once)' }),
    machines: Type.Integer(),
    machinesRunning: Type.Integer(),
    machinesInUse: Type.Integer(),
    devicesOnline: Type.Integer(),
    devicesOffline: Type.Integer(),
    devicesUnknown: Type.Integer(),
  },
  { additionalProperties: false },
);

export const LiveStateSchema = Type.Object(
  {
    site: Type.String(),
    at: Type.Number({ description: 'When this state was derived (gateway time, ms)' }),
    totals: LiveTotalsSchema,
    spaces: Type.Record(Type.String(), SpaceLiveSchema),
    presence: Type.Record(Type.String(), Type.Array(PresenceLiveSchema), { description: 'Space → who is inside, by time of entry' }),
    desks: Type.Record(Type.String(), DeskLiveSchema),
    machines: Type.Record(Type.String(), MachineLiveSchema),
    devices: Type.Record(Type.String(), DeviceLiveSchema),
  },
  { additionalProperties: false },
);

/** What changed since the previous state: the entries to replace (entries never disappear). */
export const LiveChangeSchema = Type.Object(
  {
    at: Type.Number(),
    totals: Type.Optional(LiveTotalsSchema),
    spaces: Type.Optional(Type.Record(Type.String(), SpaceLiveSchema)),
    presence: Type.Optional(Type.Record(Type.String(), Type.Array(PresenceLiveSchema))),
    desks: Type.Optional(Type.Record(Type.String(), DeskLiveSchema)),
    machines: Type.Optional(Type.Record(Type.String(), MachineLiveSchema)),
    devices: Type.Optional(Type.Record(Type.String(), DeviceLiveSchema)),
  },
  { additionalProperties: false },
);

export type DeviceLive = Static<typeof DeviceLiveSchema>;
export type DeskLive = Static<typeof DeskLiveSchema>;
export type MachineLive = Static<typeof MachineLiveSchema>;
export type SpaceLive = Static<typeof SpaceLiveSchema>;
export type PresenceLive = Static<typeof PresenceLiveSchema>;
export type LiveTotals = Static<typeof LiveTotalsSchema>;
export type LiveState = Static<typeof LiveStateSchema>;
export type LiveChange = Static<typeof LiveChangeSchema>;

/** The keyed parts of a state (what a change replaces entry by entry). */
export const LIVE_PARTS = ['spaces', 'presence', 'desks', 'machines', 'devices'] as const;
type LivePart = (typeof LIVE_PARTS)[number];

// ---------------------------------------------------------------------------
// The site, indexed once.

export interface LiveModel {
  readonly site: string;
  readonly spaces: Readonly<Record<string, { readonly capacity: number | null; readonly desks: readonly string[]; readonly machines: readonly string[] }>>;
  /** Desk → its space and the occupancy sensors watching it. */
  readonly desks: Readonly<Record<string, { readonly space: string; readonly sensors: readonly string[] }>>;
  /** Machine → its space and the power meters metering it. */
  readonly machines: Readonly<Record<string, { readonly space: string; readonly meters: readonly string[] }>>;
  readonly devices: readonly string[];
}

export function liveModel(site: Site): LiveModel {
  const sensors = new Map<string, string[]>();
  const meters = new Map<string, string[]>();
  for (const d of site.devices.values()) {
    if (d.kind === 'occupancy-sensor' && d.target?.type === 'desk') push(sensors, d.target.id, d.id);
    if (d.kind === 'power-meter' && d.target?.type === 'equipment') push(meters, d.target.id, d.id);
  }
  const spaces: Record<string, { capacity: number | null; desks: string[]; machines: string[] }> = {};
  for (const s of site.spaces.values()) spaces[s.id] = { capacity: s.capacity ?? null, desks: [], machines: [] };
  const desks: Record<string, { space: string; sensors: string[] }> = {};
  for (const d of site.desks.values()) {
    desks[d.id] = { space: d.space, sensors: sensors.get(d.id) ?? [] };
    spaces[d.space]?.desks.push(d.id);
  }
  const machines: Record<string, { space: string; meters: string[] }> = {};
  for (const e of site.equipment.values()) {
    machines[e.id] = { space: e.space, meters: meters.get(e.id) ?? [] };
    spaces[e.space]?.machines.push(e.id);
  }
  return { site: site.id, spaces, desks, machines, devices: [...site.devices.keys()] };
}

// ---------------------------------------------------------------------------
// Devices: online, offline or unknown, from their signals in commit order.

const UNKNOWN: DeviceLive = Object.freeze({ status: 'unknown', since: null });

export class DeviceLiveness {
  private readonly states = new Map<string, DeviceLive>();

  /**
   * A committed signal. The gateway leaves out what its device watch concluded
   * about occupancy (a timeout is not the device speaking); the watch's
   * online:false for a silent device is taken like any other.
   */
  observe(s: Signal): void {
    const status = s.kind === 'health' && s.online === false ? 'offline' : 'online';
    const prev = this.states.get(s.device);
    if (prev?.status !== status) this.states.set(s.device, { status, since: s.ts });
  }

  get(device: string): DeviceLive {
    return this.states.get(device) ?? UNKNOWN;
  }
}

// ---------------------------------------------------------------------------
// Derivation.

export function deriveLive(model: LiveModel, open: OpenSessions, device: (id: string) => DeviceLive): LiveState {
  const online = (ids: readonly string[]) => ids.some((id) => device(id).status === 'online');
  const desks: Record<string, DeskLive> = {};
  for (const [id, d] of Object.entries(model.desks)) {
    const o = open.desks[id];
    if (!online(d.sensors)) desks[id] = { space: d.space, state: 'unknown', since: null };
    else if (o && o.vacatedAt === null) desks[id] = { space: d.space, state: 'occupied', since: o.start };
    else desks[id] = { space: d.space, state: 'vacant', since: null };
  }
  const machines: Record<string, MachineLive> = {};
  for (const [id, m] of Object.entries(model.machines)) {
    const run = open.machines[id];
    const badge = open.access[id];
    const memberId = badge?.memberId ?? run?.memberId ?? null;
    const sessionId = badge?.sessionId ?? run?.accessSessionId ?? null;
    if (!online(m.meters)) machines[id] = { space: m.space, state: 'unknown', since: null, memberId, sessionId };
    else if (run) machines[id] = { space: m.space, state: run.running ? 'running' : 'idle', since: run.start, memberId, sessionId };
    else machines[id] = { space: m.space, state: 'off', since: null, memberId, sessionId };
  }
  const presence: Record<string, PresenceLive[]> = {};
  const inside = new Set<string>();
  for (const id of Object.keys(model.spaces)) {
    const members = Object.entries(open.presence[id] ?? {}).map(([memberId, since]) => ({ memberId, since }));
    members.sort((a, b) => a.since - b.since || (a.memberId < b.memberId ? -1 : 1));
    for (const m of members) inside.add(m.memberId);
    presence[id] = members;
  }
  const spaces: Record<string, SpaceLive> = {};
  for (const [id, s] of Object.entries(model.spaces)) {
    const ds = s.desks.map((d) => desks[d]!.state);
    const ms = s.machines.map((m) => machines[m]!.state);
    spaces[id] = {
      desks: ds.length,
      desksOccupied: count(ds, 'occupied'),
      desksUnknown: count(ds, 'unknown'),
      people: presence[id]!.length,
      capacity: s.capacity,
      machines: ms.length,
      machinesRunning: count(ms, 'running'),
      machinesInUse: count(ms, 'running') + count(ms, 'idle'),
    };
  }
  const devices: Record<string, DeviceLive> = {};
  for (const id of model.devices) devices[id] = device(id);
  const deviceStates = Object.values(devices).map((d) => d.status);
  const sum = (k: keyof SpaceLive) => Object.values(spaces).reduce((n, s) => n + (s[k] ?? 0), 0);
  return {
    site: model.site,
    at: open.at,
    totals: {
      desks: sum('desks'),
      desksOccupied: sum('desksOccupied'),
      desksUnknown: sum('desksUnknown'),
      people: inside.size,
      machines: sum('machines'),
      machinesRunning: sum('machinesRunning'),
      machinesInUse: sum('machinesInUse'),
      devicesOnline: count(deviceStates, 'online'),
      devicesOffline: count(deviceStates, 'offline'),
      devicesUnknown: count(deviceStates, 'unknown'),
    },
    spaces,
    presence,
    desks,
    machines,
    devices,
  };
}

/** The entries that differ from `prev` (all of them without one); null when nothing but the time changed. */
export function diffLive(prev: LiveState | null, next: LiveState): LiveChange | null {
  const change: { -readonly [K in keyof LiveChange]: LiveChange[K] } = { at: next.at };
  let changed = false;
  if (!prev || !same(prev.totals, next.totals)) {
    change.totals = next.totals;
    changed = true;
  }
  for (const part of LIVE_PARTS) {
    const entries: Record<string, unknown> = {};
    let any = false;
    const before = prev?.[part] as Readonly<Record<string, unknown>> | undefined;
    for (const [id, v] of Object.entries(next[part])) {
      if (before && same(before[id], v)) continue;
      entries[id] = v;
      any = true;
    }
    if (any) {
      (change as Record<LivePart, unknown>)[part] = entries;
      changed = true;
    }
  }
  return changed ? change : null;
}

/** A state with a change applied (what a stream client does with each `change` event). */
export function applyLiveChange(state: LiveState, change: LiveChange): LiveState {
  return {
    ...state,
    at: change.at,
    totals: change.totals ?? state.totals,
    spaces: { ...state.spaces, ...change.spaces },
    presence: { ...state.presence, ...change.presence },
    desks: { ...state.desks, ...change.desks },
    machines: { ...state.machines, ...change.machines },
    devices: { ...state.devices, ...change.devices },
  };
}

/**
 * What a caller may see: staff (`ownMemberId` undefined) everything; a member
 * their own member id and nobody else's: other people's machine use shows no
 * member, and the lists of who is inside only themselves (the counts stay).
 */
export function forViewer<T extends LiveState | LiveChange>(s: T, ownMemberId: string | null | undefined): T {
  if (ownMemberId === undefined) return s;
  const mine = (id: string | null) => (id !== null && id === ownMemberId ? id : null);
  const out = { ...s };
  if (s.machines) out.machines = Object.fromEntries(Object.entries(s.machines).map(([id, m]) => [id, m.memberId === null || m.memberId === ownMemberId ? m : { ...m, memberId: null, sessionId: null }]));
  if (s.presence) out.presence = Object.fromEntries(Object.entries(s.presence).map(([id, list]) => [id, list.filter((p) => mine(p.memberId) !== null)]));
  return out;
}

// ---------------------------------------------------------------------------
// Retained MQTT state (docs/protocol.md, "Live state topics").

/**
 * Topic → payload of every retained state message: the site's totals, each
 * space's counts, each desk, machine and device. Who is inside a space is not
 * published (only how many): MQTT carries member ids only for machines in use.
 */
export function liveMessages(s: LiveState): Map<string, string> {
  const out = new Map<string, string>();
  out.set(stateTopic(s.site, 'site'), JSON.stringify(s.totals));
  for (const [id, v] of Object.entries(s.spaces)) out.set(stateTopic(s.site, 'spaces', id), JSON.stringify(v));
  for (const [id, v] of Object.entries(s.desks)) out.set(stateTopic(s.site, 'desks', id), JSON.stringify(v));
  for (const [id, v] of Object.entries(s.machines)) out.set(stateTopic(s.site, 'machines', id), JSON.stringify(v));
  for (const [id, v] of Object.entries(s.devices)) out.set(stateTopic(s.site, 'devices', id), JSON.stringify(v));
  return out;
}

// ---------------------------------------------------------------------------

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

const count = <T>(xs: readonly T[], v: T): number => xs.reduce((n, x) => (x === v ? n + 1 : n), 0);

/** Entries are small flat objects (or short lists of them), built in a fixed key order. */
const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);
