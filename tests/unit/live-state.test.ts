/**
 * core/usage/live.ts and core/usage/live-points.ts: live state derived from
 * the sessioniser's open sessions (Sessioniser.openSessions) and device
 * liveness, over the example site; what changes, what a member may see, the
 * retained MQTT messages and the per-minute points.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DecisionRecord, HealthSignal, JournalRecord, OccupancySignal, PowerSignal, SessionRecord, Signal } from '../../core/signals.js';
import { allowedChannels, authorizeDeviceForward, authorizeDevicePublish, authorizeDeviceSubscribe } from '../../core/protocol/acl.js';
import { stateFilter, stateTopic } from '../../core/protocol/topics.js';
import { applyLiveChange, deriveLive, DeviceLiveness, diffLive, forViewer, liveMessages, liveModel, type LiveState } from '../../core/usage/live.js';
import { occupancyPoints } from '../../core/usage/live-points.js';
import { isSignal } from '../../core/signals.js';
import { Sessioniser, sessioniserConfig } from '../../core/usage/sessioniser.js';
import { exampleSiteFile } from '../../core/site/example.js';
import { validateSite } from '../../core/site/validate.js';
import { toLine } from '../../gateway/sink/line-protocol.js';

const valid = validateSite(exampleSiteFile({ credentialsFor: () => ({ secret: 'env:X' }) }));
if (!valid.ok) throw new Error('the example site is not valid');
const site = valid.site;
const model = liveModel(site);
const cfg = sessioniserConfig(site);
const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const T0 = Date.parse('2026-11-25T02:00:00Z');

let n = 0;
const common = (device: string, ts: number) => {
  const d = site.devices.get(device)!;
  return { key: `${device}:1:${++n}`, site: site.id, device, deviceKind: d.kind, space: d.space, target: d.target, seq: n, ts, tsSource: 'device' as const };
};
const occ = (device: string, ts: number, occupied: boolean): OccupancySignal => ({ ...common(device, ts), kind: 'occupancy', occupied });
const pow = (device: string, ts: number, powerW: number): PowerSignal => ({ ...common(device, ts), kind: 'power', powerW, energyKwh: null, voltageV: null, currentA: null, on: null });
const health = (device: string, ts: number, online: boolean | null): HealthSignal => ({ ...common(device, ts), kind: 'health', online, batteryPct: null, linkQuality: 200 });
const door = (door: string, member: string, ts: number, reason: 'granted' | 'exit' = 'granted'): DecisionRecord => {
  const space = site.doors.get(door)!.space;
  return { kind: 'decision', key: `dc-${door}:${member}:${ts}:decision`, site: site.id, device: `dc-${door}`, space, target: { type: 'door', id: door }, swipe: `dc-${door}:${ts}`, credential: { format: 'uid', id: 'AA' }, memberId: member, grant: true, reason, override: false, policyVersion: 1, ts, sessionId: null, maxRunMs: null };
};
const session = (equipment: string, member: string, sessionId: string, event: 'start' | 'end', ts: number): SessionRecord => ({
  kind: 'session', key: `session:${sessionId}:${event}`, site: site.id, space: site.equipment.get(equipment)!.space, equipment, sessionId, memberId: member, event, reason: event === 'start' ? 'granted' : 'badge_out', ts, durationMs: null,
});

/** The live state at `at` after these records, as the gateway's live view derives it. */
function liveAt(records: readonly JournalRecord[], at: number): LiveState {
  const s = new Sessioniser(cfg);
  const devices = new DeviceLiveness();
  for (const r of records) {
    if (isSignal(r)) devices.observe(r);
    s.push(r);
  }
  return deriveLive(model, s.openSessions(at), (id) => devices.get(id));
}

describe('desks', () => {
  it.each<[string, () => JournalRecord[], number, LiveState['desks'][string]['state'], number | null]>([
    ['occupied, seconds ago (still inside the allowed lateness)', () => [occ('occ-st-01', T0, true)], T0 + 5 * S, 'occupied', T0],
    ['occupied through a short vacancy, since its start', () => [occ('occ-st-01', T0, true), occ('occ-st-01', T0 + 10 * MIN, false), occ('occ-st-01', T0 + 12 * MIN, true)], T0 + 13 * MIN, 'occupied', T0],
    ['vacant a minute ago (inside the merge gap): vacant now', () => [occ('occ-st-01', T0, true), occ('occ-st-01', T0 + 10 * MIN, false)], T0 + 11 * MIN, 'vacant', null],
    ['vacant for longer than the merge gap', () => [occ('occ-st-01', T0, true), occ('occ-st-01', T0 + 10 * MIN, false)], T0 + 20 * MIN, 'vacant', null],
    ['its sensor reported offline while occupied: unknown, not free', () => [occ('occ-st-01', T0, true), health('occ-st-01', T0 + MIN, false)], T0 + 2 * MIN, 'unknown', null],
    ['its sensor back online after being offline', () => [health('occ-st-01', T0, false), health('occ-st-01', T0 + MIN, null)], T0 + 2 * MIN, 'vacant', null],
    ['its sensor never heard from', () => [], T0, 'unknown', null],
  ])('%s', (_what, records, at, state, since) => {
    const live = liveAt(records(), at);
    expect(live.desks['st-01']).toEqual({ space: 'startup', state, since });
    expect(live.spaces.startup).toMatchObject({ desks: 8, desksOccupied: state === 'occupied' ? 1 : 0, desksUnknown: state === 'unknown' ? 8 : 7 });
  });
});

describe('machines', () => {
  const m1 = 'mem_1';
  it.each<[string, () => JournalRecord[], number, Partial<LiveState['machines'][string]>]>([
    ['running, no badge', () => [pow('pm-reflow-1', T0, 850)], T0 + 10 * S, { state: 'running', since: T0, memberId: null, sessionId: null }],
    ['running for the member badged at it', () => [session('reflow-1', m1, 'ses-1', 'start', T0 - 5 * S), pow('pm-reflow-1', T0, 850)], T0 + 10 * S, { state: 'running', since: T0, memberId: m1, sessionId: 'ses-1' }],
    ['badged, not drawing power yet: off, with its member', () => [pow('pm-reflow-1', T0 - MIN, 3), session('reflow-1', m1, 'ses-1', 'start', T0)], T0 + 10 * S, { state: 'off', since: null, memberId: m1, sessionId: 'ses-1' }],
    ['idle between jobs, inside the session', () => [pow('pm-reflow-1', T0, 850), pow('pm-reflow-1', T0 + MIN, 5)], T0 + 2 * MIN, { state: 'idle', since: T0 }],
    ['idle longer than its idle time: off', () => [pow('pm-reflow-1', T0, 850), pow('pm-reflow-1', T0 + MIN, 5)], T0 + 12 * MIN, { state: 'off', since: null }],
    ['running, then its meter offline: unknown', () => [pow('pm-reflow-1', T0, 850), health('pm-reflow-1', T0 + MIN, false)], T0 + 2 * MIN, { state: 'unknown', since: null }],
    ['its meter never heard from', () => [], T0, { state: 'unknown', since: null, memberId: null }],
  ])('%s', (_what, records, at, expected) => {
    expect(liveAt(records(), at).machines['reflow-1']).toEqual({ space: 'elab', state: 'off', since: null, memberId: null, sessionId: null, ...expected });
  });

  it('counts machines running and in use per space', () => {
    const live = liveAt([pow('pm-reflow-1', T0, 850), pow('pm-solder-1', T0, 60), pow('pm-solder-1', T0 + MIN, 2)], T0 + 2 * MIN);
    expect(live.spaces.elab).toMatchObject({ machines: 2, machinesRunning: 1, machinesInUse: 2 });
    expect(live.totals).toMatchObject({ machines: 10, machinesRunning: 1, machinesInUse: 2 });
  });
});

describe('people', () => {
  it('counts members inside per space, once each in the totals, until they leave or time out', () => {
    const records = [door('main', 'mem_a', T0), door('elab', 'mem_a', T0 + MIN), door('main', 'mem_b', T0 + 2 * MIN)];
    const inside = liveAt(records, T0 + 3 * MIN);
    expect(inside.presence.cowork).toEqual([{ memberId: 'mem_a', since: T0 }, { memberId: 'mem_b', since: T0 + 2 * MIN }]);
    expect(inside.presence.elab).toEqual([{ memberId: 'mem_a', since: T0 + MIN }]);
    expect(inside.presence.fablab).toEqual([]);
    expect([inside.spaces.cowork!.people, inside.spaces.elab!.people, inside.totals.people]).toEqual([2, 1, 2]);
    expect(inside.spaces.elab!.capacity).toBe(10);

    const left = liveAt([...records, door('main', 'mem_b', T0 + 4 * MIN, 'exit')], T0 + 5 * MIN);
    expect(left.presence.cowork).toEqual([{ memberId: 'mem_a', since: T0 }]);
    // No exit: gone after the presence timeout (8 h).
    expect(liveAt(records, T0 + 8 * H + 3 * MIN).totals.people).toBe(0);
  });
});

describe('devices', () => {
  it.each<[string, (t: number) => Signal[], 'online' | 'offline' | 'unknown', number | null]>([
    ['never heard: unknown', () => [], 'unknown', null],
    ['any word of its own: online, since the first', (t) => [health('dc-elab', t, null), health('dc-elab', t + MIN, null)], 'online', T0],
    ['its will or the watch (online:false): offline', (t) => [health('dc-elab', t, null), health('dc-elab', t + MIN, false)], 'offline', T0 + MIN],
    ['back after offline', (t) => [health('dc-elab', t, false), occ('occ-st-01', t, true), health('dc-elab', t + MIN, true)], 'online', T0 + MIN],
  ])('%s', (_what, signals, status, since) => {
    const d = new DeviceLiveness();
    for (const s of signals(T0)) d.observe(s);
    expect(d.get('dc-elab')).toEqual({ status, since });
  });

  it('counts devices by status in the totals', () => {
    const live = liveAt([health('dc-elab', T0, null), health('dc-main', T0, false)], T0 + S);
    expect(live.totals).toMatchObject({ devicesOnline: 1, devicesOffline: 1, devicesUnknown: site.devices.size - 2 });
  });
});

describe('Sessioniser.openSessions', () => {
  // Records of a few devices at random times within the allowed lateness of each other.
  const recordArb = fc.array(
    fc.tuple(fc.integer({ min: 0, max: 40 * MIN }), fc.integer({ min: 0, max: 4 }), fc.boolean()).map(([t, which, flag]): JournalRecord => {
      const ts = T0 + t;
      if (which === 0) return occ('occ-st-01', ts, flag);
      if (which === 1) return occ('occ-st-02', ts, flag);
      if (which === 2) return pow('pm-reflow-1', ts, flag ? 900 : 4);
      if (which === 3) return door('elab', flag ? 'mem_a' : 'mem_b', ts, 'granted');
      return health('occ-st-01', ts, flag ? null : false);
    }),
    { maxLength: 60 },
  );

  it('changes nothing in the sessioniser: the same sessions and state, however often it is asked', () => {
    fc.assert(
      fc.property(recordArb, fc.array(fc.integer({ min: 0, max: 59 }), { maxLength: 10 }), (records, asks) => {
        const asked = new Sessioniser(cfg);
        const plain = new Sessioniser(cfg);
        const closedA: unknown[] = [];
        const closedB: unknown[] = [];
        records.forEach((r, i) => {
          closedA.push(...asked.push(r));
          closedB.push(...plain.push(r));
          if (asks.includes(i)) asked.openSessions(r.ts + 30 * S, i % 2 === 0);
        });
        expect(asked.snapshot()).toEqual(plain.snapshot());
        expect([...closedA, asked.flush(T0 + H)]).toEqual([...closedB, plain.flush(T0 + H)]);
      }),
      { numRuns: 100 },
    );
  });

  it('sees what is still waiting for the watermark; without `pending`, only what the watermark passed', () => {
    const s = new Sessioniser(cfg);
    s.push(occ('occ-st-01', T0, true));
    expect(s.buffered).toBe(1);
    expect(s.openSessions(T0 + S).desks['st-01']).toEqual({ start: T0, vacatedAt: null });
    expect(s.openSessions(T0 + S, false).desks['st-01']).toBeUndefined();
    s.advance(T0 + 61 * S);
    expect(s.buffered).toBe(0);
    expect(s.openSessions(T0 + 61 * S, false).desks['st-01']).toEqual({ start: T0, vacatedAt: null });
  });
});

describe('changes', () => {
  it('are the entries that differ, and nothing when only the time moved', () => {
    const a = liveAt([occ('occ-st-01', T0, true)], T0 + S);
    const b = liveAt([occ('occ-st-01', T0, true)], T0 + 2 * S);
    expect(diffLive(a, b)).toBeNull();
    const c = liveAt([occ('occ-st-01', T0, true), occ('occ-st-02', T0 + S, true)], T0 + 2 * S);
    expect(diffLive(a, c)).toEqual({
      at: T0 + 2 * S,
      totals: c.totals,
      spaces: { startup: c.spaces.startup },
      desks: { 'st-02': { space: 'startup', state: 'occupied', since: T0 + S } },
      devices: { 'occ-st-02': { status: 'online', since: T0 + S } },
    });
    // Without a previous state, everything.
    expect(applyLiveChange(a, diffLive(null, c)!)).toEqual(c);
  });

  it('applied in order over the first state give the last (random streams, states every few records)', () => {
    const recordArb = fc.array(
      fc.tuple(fc.integer({ min: 0, max: 30 * MIN }), fc.constantFrom('occ-st-01', 'occ-st-03', 'pm-reflow-1', 'pm-solder-1', 'dc-elab'), fc.boolean()),
      { minLength: 1, maxLength: 40 },
    );
    fc.assert(
      fc.property(recordArb, (raw) => {
        const records: JournalRecord[] = raw
          .sort((x, y) => x[0] - y[0])
          .map(([t, device, flag]) => (device.startsWith('occ') ? occ(device, T0 + t, flag) : device.startsWith('pm') ? pow(device, T0 + t, flag ? 500 : 1) : door('elab', flag ? 'mem_a' : 'mem_b', T0 + t, flag ? 'granted' : 'exit')));
        const states = records.map((_r, i) => liveAt(records.slice(0, i + 1), records[i]!.ts + S));
        let s = states[0]!;
        for (let i = 1; i < states.length; i++) {
          const c = diffLive(states[i - 1]!, states[i]!);
          if (c) s = applyLiveChange(s, c);
        }
        expect({ ...s, at: 0 }).toEqual({ ...states.at(-1)!, at: 0 });
      }),
      { numRuns: 50 },
    );
  });
});

describe('what a member sees', () => {
  const live = liveAt(
    [door('elab', 'mem_a', T0), door('elab', 'mem_b', T0 + S), session('reflow-1', 'mem_a', 'ses-a', 'start', T0 + 2 * S), pow('pm-reflow-1', T0 + 3 * S, 900), session('solder-1', 'mem_b', 'ses-b', 'start', T0 + 4 * S), pow('pm-solder-1', T0 + 5 * S, 60)],
    T0 + 10 * S,
  );

  it('staff: everything', () => {
    expect(forViewer(live, undefined)).toBe(live);
    expect(live.presence.elab!.map((p) => p.memberId)).toEqual(['mem_a', 'mem_b']);
  });

  it('a member: their own id, nobody else’s, and every count', () => {
    const a = forViewer(live, 'mem_a');
    expect(a.presence.elab).toEqual([{ memberId: 'mem_a', since: T0 }]);
    expect(a.machines['reflow-1']).toMatchObject({ state: 'running', memberId: 'mem_a', sessionId: 'ses-a' });
    expect(a.machines['solder-1']).toEqual({ space: 'elab', state: 'running', since: T0 + 5 * S, memberId: null, sessionId: null });
    expect(a.spaces).toEqual(live.spaces);
    expect(a.totals).toEqual(live.totals);
    expect(JSON.stringify(a)).not.toContain('mem_b');
    const nobody = forViewer(live, '\u0000none');
    expect(JSON.stringify(nobody)).not.toMatch(/mem_|ses-/);
    // Changes too.
    const change = forViewer(diffLive(null, live)!, 'mem_b');
    expect(JSON.stringify(change)).not.toMatch(/mem_a|ses-a/);
  });
});

describe('retained messages and points', () => {
  const live = liveAt([occ('occ-st-01', T0, true), door('elab', 'mem_a', T0), session('reflow-1', 'mem_a', 'ses-a', 'start', T0 + S), pow('pm-reflow-1', T0 + 2 * S, 900)], T0 + 10 * S);

  it('one retained message per space, desk, machine and device, and the totals; member ids only for machines', () => {
    const m = liveMessages(live);
    expect(m.size).toBe(1 + site.spaces.size + site.desks.size + site.equipment.size + site.devices.size);
    expect(m.get('fac/v1/demo-makerspace/state/desks/st-01')).toBe(`{"space":"startup","state":"occupied","since":${T0}}`);
    expect(m.get('fac/v1/demo-makerspace/state/machines/reflow-1')).toBe(`{"space":"elab","state":"running","since":${T0 + 2 * S},"memberId":"mem_a","sessionId":"ses-a"}`);
    expect(m.get('fac/v1/demo-makerspace/state/spaces/elab')).toBe('{"desks":0,"desksOccupied":0,"desksUnknown":0,"people":1,"capacity":10,"machines":2,"machinesRunning":1,"machinesInUse":1}');
    expect(m.get('fac/v1/demo-makerspace/state/devices/pm-reflow-1')).toBe(`{"status":"online","since":${T0 + 2 * S}}`);
    expect(JSON.parse(m.get('fac/v1/demo-makerspace/state/site')!)).toEqual(live.totals);
    expect([...m].filter(([topic]) => !topic.includes('/machines/')).some(([, p]) => p.includes('mem_a'))).toBe(false);
  });

  it('one space_occupancy point per space, every field a float, at the minute', () => {
    const minute = Date.parse('2026-11-25T02:01:00Z');
    const points = occupancyPoints(live, minute);
    expect(points).toHaveLength(site.spaces.size);
    expect(points.map(toLine).find((l) => l.includes('space=elab'))).toBe(
      `space_occupancy,site=demo-makerspace,space=elab capacity=10,desks=0,desks_occupied=0,desks_unknown=0,machines=2,machines_in_use=1,machines_running=1,people=1 ${minute}000000`,
    );
    expect(points.map(toLine).find((l) => l.includes('space=startup'))).toBe(
      `space_occupancy,site=demo-makerspace,space=startup capacity=16,desks=8,desks_occupied=1,desks_unknown=7,machines=0,machines_in_use=0,machines_running=0,people=0 ${minute}000000`,
    );
  });

  it('a space without a capacity in the site file has no capacity field (never 0)', () => {
    const minute = Date.parse('2026-11-25T02:01:00Z');
    const uncapped = { ...live, spaces: { ...live.spaces, elab: { ...live.spaces.elab!, capacity: null } } };
    const elab = occupancyPoints(uncapped, minute).find((p) => p.tags.space === 'elab')!;
    expect(Object.keys(elab.fields)).toEqual(['desks', 'desks_occupied', 'desks_unknown', 'machines', 'machines_in_use', 'machines_running', 'people']);
    expect(occupancyPoints(live, minute).find((p) => p.tags.space === 'elab')!.fields.capacity).toBe(10);
  });

  it('devices may neither publish to the state topics, subscribe to them nor be sent them', () => {
    const d = site.devices.get('occ-st-01')!;
    for (const topic of [stateTopic(site.id, 'site'), stateTopic(site.id, 'desks', 'st-01')]) {
      expect(authorizeDevicePublish(site.id, d, allowedChannels(d), topic, true)).toEqual({ ok: false, reason: 'not_in_scheme' });
      expect(authorizeDeviceSubscribe(site.id, d.id, topic)).toBe(false);
      expect(authorizeDeviceForward(site.id, d.id, topic)).toBe(false);
    }
    expect(authorizeDeviceSubscribe(site.id, d.id, stateFilter(site.id))).toBe(false);
  });
});
