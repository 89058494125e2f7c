/**
 * The gateway's access runner (gateway/access/runner.ts) over a fake clock:
 * what it commands and journals on swipes, and what its periodic checks do
 * with presence and machine sessions (idle, longest run, closing time, out of
 * service; never cutting power mid-job; closing time by the opening calendar,
 * with its closed dates), hour meters, late and replayed
 * swipes, and rebuilding its state from the journal after a restart.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { indexPolicy, type PolicyIndex } from '../../core/access/policy-index.js';
import type { PolicySnapshot } from '../../core/policy/snapshot.js';
import type { BadgeSignal, HealthSignal, JournalRecord, PowerSignal, SessionRecord } from '../../core/signals.js';
import type { Site, SiteFile } from '../../core/site/model.js';
import { AccessRunner } from '../../gateway/access/runner.js';
import type { DeviceCommand } from '../../gateway/encoders/index.js';
import { siteFromFile } from '../harness/site-fixture.js';

const CRED = { secret: 'env:X' } as const;
const file: SiteFile = {
  version: 1,
  site: { id: 'demo', name: 'Demo', timezone: 'Asia/Shanghai', openingHours: [{ days: [1, 2, 3, 4, 5, 6, 7], from: '08:00', to: '22:00' }], closingWarningS: 600 },
  spaces: [
    { id: 'cowork', name: 'Floor', kind: 'open-space', presenceTimeoutS: 3600 },
    { id: 'fablab', name: 'Fab lab', kind: 'lab' },
  ],
  doors: [{ id: 'main', space: 'cowork', antiPassback: true }],
  equipment: [{ id: 'laser-1', space: 'fablab', name: 'Laser', class: 'laser-cutter', runningThresholdW: 200, maxSessionS: 3 * 3600, idleOffS: 300 }],
  devices: [
    { id: 'dc-main', kind: 'door-controller', door: 'main', credentials: CRED },
    { id: 'br-laser-1', kind: 'badge-reader', equipment: 'laser-1', credentials: CRED },
    { id: 'pm-laser-1', kind: 'power-meter', equipment: 'laser-1', credentials: CRED },
  ],
};
const site = siteFromFile(file);

// Wednesday 2026-11-25, 10:00 in Shanghai (UTC+8).
const WED_10 = Date.UTC(2026, 10, 25, 2, 0);
const MIN = 60_000;
const H = 60 * MIN;

const snapshot = (over: Partial<PolicySnapshot> = {}): PolicySnapshot => ({
  version: 7,
  generatedAt: WED_10 - H,
  members: ['a', 'b'].map((m) => ({ id: `m-${m}`, memberNo: m, status: 'active' as const, teamId: null, planId: 'full', planValidFrom: null, planValidTo: null })),
  badges: ['a', 'b'].map((m) => ({ format: 'uid' as const, credential: m.toUpperCase(), memberId: `m-${m}`, status: 'active' as const, override: false })),
  plans: [{ id: 'full', spaces: ['*'], hours: [], quotas: {}, active: true }],
  certifications: ['a', 'b'].map((m) => ({ memberId: `m-${m}`, class: 'laser-cutter', issuedOn: '2026-01-01', expiresOn: null, revoked: false })),
  outOfService: [],
  teams: [],
  ...over,
});

let t = WED_10;
let policy: PolicyIndex;
let commands: { device: string; command: DeviceCommand }[];
/** Everything journaled, in order: what a swipe returns and what the runner records on its own. */
let journal: JournalRecord[];
let seq = 0;

function runner(over: { history?: JournalRecord[]; site?: Site } = {}): AccessRunner {
  const r = new AccessRunner({
    site: over.site ?? site,
    policy: { current: () => policy, ageMs: () => 0 },
    command: (device, command) => {
      commands.push({ device, command });
      return Promise.resolve();
    },
    record: (records) => journal.push(...records),
    journaled: (key) => journal.some((r) => r.key === key),
    history: (since) => (over.history ?? []).filter((r) => (r.kind === 'decision' || r.kind === 'session') && r.ts >= since),
    lastRecord: (prefix) => [...(over.history ?? [])].reverse().find((r) => r.key.startsWith(prefix)) ?? null,
    clock: { now: () => t },
    logger: pino({ level: 'silent' }),
  });
  r.start();
  return r;
}

function origin(device: string) {
  const d = site.devices.get(device)!;
  return { site: 'demo', device, deviceKind: d.kind, space: d.space, target: d.target };
}

function badge(device: string, card: string, ts = t): BadgeSignal {
  return { kind: 'badge', key: `${device}:1:${++seq}`, ...origin(device), seq, ts, tsSource: 'device', credential: { format: 'uid', id: card } };
}

function power(watts: number, ts = t): PowerSignal {
  return { kind: 'power', key: `pm-laser-1:1:${++seq}`, ...origin('pm-laser-1'), seq, ts, tsSource: 'device', powerW: watts, energyKwh: null, voltageV: null, currentA: null, on: null };
}

function health(device: string, ts = t): HealthSignal {
  return { kind: 'health', key: `${device}:1:${++seq}`, ...origin(device), seq, ts, tsSource: 'device', online: null, batteryPct: null, linkQuality: 200 };
}

/** A swipe as the ingress hands it over: decided, its records journaled. */
function swipe(r: AccessRunner, device: string, card: string, ts = t): JournalRecord[] {
  const s = badge(device, card, ts);
  const out = r.onRecords([s], t);
  journal.push(s, ...out);
  return out;
}

const sent = (device: string, type: DeviceCommand['type']) => commands.filter((c) => c.device === device && c.command.type === type).map((c) => c.command);
const sessionEnds = () => journal.filter((r): r is SessionRecord => r.kind === 'session' && r.event === 'end');

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  t = WED_10;
  policy = indexPolicy(snapshot());
  commands = [];
  journal = [];
});
afterEach(() => {
  vi.useRealTimers();
});

describe('machines', () => {
  it('powers a machine on with a session id and its longest run (the machine limit, 3 h)', () => {
    const r = runner();
    const out = swipe(r, 'br-laser-1', 'A');
    expect(out.map((x) => x.kind)).toEqual(['decision', 'session']);
    expect(sent('pm-laser-1', 'power')).toEqual([{ type: 'power', on: true }]);
    const [session] = sent('br-laser-1', 'session');
    expect(session).toMatchObject({ state: 'granted', memberId: 'm-a', maxRunMs: 3 * H, reason: 'granted' });
    expect(sent('br-laser-1', 'feedback')).toMatchObject([{ grant: true, reason: 'granted', led: 'green' }]);
    r.stop();
  });

  it('ends a session left idle: no working power for idleOffS (300 s) switches the machine off', () => {
    const r = runner();
    swipe(r, 'br-laser-1', 'A');
    r.observe([power(5)]);
    t += 299_000;
    r.tick();
    expect(sessionEnds()).toEqual([]);
    t += 2000;
    r.tick();
    expect(sessionEnds().map((s) => [s.reason, s.memberId, s.durationMs])).toEqual([['idle', 'm-a', 301_000]]);
    expect(sent('pm-laser-1', 'power')).toEqual([
      { type: 'power', on: true },
      { type: 'power', on: false },
    ]);
    expect(sent('br-laser-1', 'session').at(-1)).toMatchObject({ state: 'ended', reason: 'idle' });
    r.stop();
  });

  it('keeps a running job alive, and at its longest run warns but never cuts power mid-job; it ends once the machine is idle', () => {
    const r = runner();
    swipe(r, 'br-laser-1', 'A');
    for (let m = 0; m <= 3 * 60 + 20; m++) {
      t = WED_10 + m * MIN;
      r.observe([power(800)]);
      r.tick();
    }
    // 3 h 20 min in, still cutting: one warning, no end, power never switched off.
    expect(sessionEnds()).toEqual([]);
    expect(sent('br-laser-1', 'session').filter((c) => c.type === 'session' && c.state === 'warning')).toHaveLength(1);
    expect(sent('pm-laser-1', 'power')).toEqual([{ type: 'power', on: true }]);
    t += MIN;
    r.observe([power(20)]);
    r.tick();
    expect(sessionEnds().map((s) => s.reason)).toEqual(['max_run']);
    expect(sent('pm-laser-1', 'power').at(-1)).toEqual({ type: 'power', on: false });
    r.stop();
  });

  it('warns 10 minutes before closing and ends the session at closing time only when the machine is idle', () => {
    t = WED_10 + 11 * H; // 21:00 local
    const r = runner();
    swipe(r, 'br-laser-1', 'A');
    expect(sent('br-laser-1', 'session')[0]).toMatchObject({ maxRunMs: H });
    const at = (hhmm: number) => WED_10 + 11 * H + hhmm * MIN;
    for (let m = 0; m <= 75; m++) {
      t = at(m);
      r.observe([power(800)]);
      r.tick();
      const warnings = sent('br-laser-1', 'session').filter((c) => c.type === 'session' && c.state === 'warning');
      if (m < 50) expect(warnings).toEqual([]);
      if (m >= 50) expect(warnings).toMatchObject([{ reason: 'closing' }]);
    }
    expect(sessionEnds()).toEqual([]);
    t = at(76);
    r.observe([power(0)]);
    r.tick();
    expect(sessionEnds().map((s) => s.reason)).toEqual(['closing']);
    r.stop();
  });

  it('refuses new sessions at closing time', () => {
    t = WED_10 + 12 * H + 30 * MIN; // 22:30 local
    const r = runner();
    const [decision] = swipe(r, 'br-laser-1', 'A');
    expect(decision).toMatchObject({ grant: false, reason: 'outside_opening_hours' });
    expect(sent('pm-laser-1', 'power')).toEqual([]);
    r.stop();
  });

  it('ends a session on a machine put out of service once it is idle', () => {
    const r = runner();
    swipe(r, 'br-laser-1', 'A');
    r.observe([power(800)]);
    policy = indexPolicy(snapshot({ version: 8, outOfService: [{ siteId: 'demo', equipmentId: 'laser-1', since: t, reason: 'lens cracked' }] }));
    t += MIN;
    r.observe([power(800)]);
    r.tick();
    expect(sessionEnds()).toEqual([]);
    expect(sent('br-laser-1', 'session').at(-1)).toMatchObject({ state: 'warning', reason: 'out_of_service' });
    t += MIN;
    r.observe([power(3)]);
    r.tick();
    expect(sessionEnds().map((s) => s.reason)).toEqual(['out_of_service']);
    r.stop();
  });

  it('hands a running machine to another certified member with a new session id; the holder badging again ends it', () => {
    const r = runner();
    swipe(r, 'br-laser-1', 'A');
    t += MIN;
    swipe(r, 'br-laser-1', 'B');
    const ids = sent('br-laser-1', 'session').map((c) => (c.type === 'session' ? c.sessionId : null));
    expect(new Set(ids).size).toBe(2);
    expect(sessionEnds().map((s) => [s.reason, s.memberId])).toEqual([['takeover', 'm-a']]);
    t += MIN;
    swipe(r, 'br-laser-1', 'B');
    expect(sessionEnds().map((s) => [s.reason, s.memberId])).toEqual([
      ['takeover', 'm-a'],
      ['badge_out', 'm-b'],
    ]);
    expect(sent('br-laser-1', 'session').at(-1)).toMatchObject({ state: 'ended', sessionId: ids[1] });
    r.stop();
  });
});

describe('presence', () => {
  it('counts a member in, refuses a second entry (anti-passback), and forgets them after the space’s presence timeout', () => {
    const r = runner();
    swipe(r, 'dc-main', 'A');
    expect(r.snapshot().presence).toEqual({ cowork: ['m-a'] });
    expect(swipe(r, 'dc-main', 'A')[0]).toMatchObject({ grant: false, reason: 'anti_passback' });
    t += H + 1000;
    r.tick();
    expect(r.snapshot().presence).toEqual({ cowork: [] });
    expect(swipe(r, 'dc-main', 'A')[0]).toMatchObject({ grant: true });
    r.stop();
  });

  it('empties the spaces at closing time', () => {
    t = WED_10 + 11 * H;
    const r = runner();
    swipe(r, 'dc-main', 'A');
    t = WED_10 + 12 * H + 1000;
    r.tick();
    expect(r.snapshot().presence).toEqual({ cowork: [] });
    r.stop();
  });
});

describe('closing time on the evening before a closed date', () => {
  // Open every day 08:00 until 02:00 the next night; Thursday 2026-11-26 closed.
  const late = [
    { days: [1, 2, 3, 4, 5, 6, 7], from: '08:00', to: '24:00' },
    { days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '02:00' },
  ];
  const plainSite = siteFromFile({ ...file, site: { ...file.site, openingHours: late } });
  const holidaySite = siteFromFile({ ...file, site: { ...file.site, openingHours: late, closedDates: ['2026-11-26'] } });
  const WED_23 = WED_10 + 13 * H;
  const MIDNIGHT = WED_10 + 14 * H;

  it('warns 10 minutes before midnight, not 02:00, and ends the session for closing once the machine is idle', () => {
    t = WED_23;
    const r = runner({ site: holidaySite });
    swipe(r, 'br-laser-1', 'A');
    expect(sent('br-laser-1', 'session')[0]).toMatchObject({ state: 'granted', maxRunMs: H });
    const warnings = () => sent('br-laser-1', 'session').filter((c) => c.type === 'session' && c.state === 'warning');
    for (let m = 0; m <= 65; m++) {
      t = WED_23 + m * MIN;
      r.observe([power(800)]);
      r.tick();
      if (m < 50) expect(warnings()).toEqual([]);
      else expect(warnings()).toMatchObject([{ reason: 'closing' }]);
    }
    // Past midnight and still cutting: power stays on.
    expect(sessionEnds()).toEqual([]);
    t += MIN;
    r.observe([power(0)]);
    r.tick();
    expect(sessionEnds().map((x) => x.reason)).toEqual(['closing']);
    expect(sent('pm-laser-1', 'power').at(-1)).toEqual({ type: 'power', on: false });
    r.stop();
  });

  it('without the closed date the same evening runs on to 02:00', () => {
    t = WED_23;
    const r = runner({ site: plainSite });
    swipe(r, 'br-laser-1', 'A');
    expect(sent('br-laser-1', 'session')[0]).toMatchObject({ state: 'granted', maxRunMs: 3 * H });
    t = MIDNIGHT + MIN;
    r.observe([power(800)]);
    r.tick();
    expect(sent('br-laser-1', 'session').filter((c) => c.type === 'session' && c.state === 'warning')).toEqual([]);
    r.stop();
  });

  it('empties the spaces at midnight', () => {
    for (const [s, cleared] of [
      [plainSite, false],
      [holidaySite, true],
    ] as const) {
      t = WED_23 + 30 * MIN; // within the space's 1 h presence timeout until 00:30
      const r = runner({ site: s });
      swipe(r, 'dc-main', 'A');
      t = MIDNIGHT + 1000;
      r.tick();
      expect(r.snapshot().presence).toEqual({ cowork: cleared ? [] : ['m-a'] });
      r.stop();
      journal = [];
    }
  });
});

describe('what reaches the runner', () => {
  it('decides a swipe once: a redelivery or replay of the same key commands nothing', () => {
    const r = runner();
    const s = badge('dc-main', 'A');
    journal.push(s, ...r.onRecords([s], t));
    const again = r.onRecords([s], t);
    expect(again).toEqual([]);
    expect(sent('dc-main', 'unlock')).toHaveLength(1);
    expect(r.snapshot().counts).toMatchObject({ decisions: 1, duplicates: 1 });
    r.stop();
  });

  it('journals a swipe that sat in a reader’s queue as swipe_late and commands nothing', () => {
    const r = runner();
    r.onRecords([health('dc-main', t - 30)], t);
    t += 5 * MIN;
    const out = r.onRecords([badge('dc-main', 'A', t - 3 * MIN)], t);
    expect(out).toMatchObject([{ kind: 'decision', grant: false, reason: 'swipe_late', memberId: 'm-a' }]);
    expect(commands).toEqual([]);
    expect(r.snapshot().presence).toEqual({});
    expect(r.snapshot().counts.late).toBe(1);
    r.stop();
  });
});

describe('hour meters', () => {
  it('counts running time from power readings, checkpoints it, and carries it over a restart', () => {
    const r = runner();
    for (let m = 0; m <= 10; m++) {
      t = WED_10 + m * MIN;
      r.observe([power(m < 10 ? 800 : 10)]);
    }
    // 10 minutes above the 200 W threshold.
    expect(r.snapshot().hourMeters).toEqual({ 'laser-1': 0.17 });
    t += 5 * MIN;
    r.tick();
    const checkpoints = journal.filter((x) => x.kind === 'meter');
    expect(checkpoints).toMatchObject([{ equipment: 'laser-1', runningMs: 10 * MIN, space: 'fablab' }]);
    r.stop();

    const again = runner({ history: journal });
    expect(again.snapshot().hourMeters).toEqual({ 'laser-1': 0.17 });
    again.stop();
  });

  it('does not count an outage longer than 10 minutes, or a replayed reading, twice', () => {
    const r = runner();
    r.observe([power(800, WED_10)]);
    r.observe([power(800, WED_10 + 2 * H)]);
    r.observe([power(800, WED_10 + H)]);
    expect(r.snapshot().hourMeters['laser-1']).toBe(0.17);
    r.stop();
  });
});

describe('a restart', () => {
  it('rebuilds presence and running sessions from the journal', () => {
    const r = runner();
    swipe(r, 'dc-main', 'A');
    swipe(r, 'br-laser-1', 'B');
    r.stop();
    t += 10 * MIN;
    commands = [];
    const again = runner({ history: journal });
    expect(again.snapshot().presence).toEqual({ cowork: ['m-a'] });
    expect(again.snapshot().sessions).toMatchObject([{ equipment: 'laser-1', memberId: 'm-b' }]);
    expect(swipe(again, 'dc-main', 'A')[0]).toMatchObject({ reason: 'anti_passback' });
    // The restored session keeps its longest run: 3 h from its start, not from the restart.
    for (let m = 10; m <= 181; m++) {
      t = WED_10 + m * MIN;
      again.observe([power(800)]);
      again.tick();
    }
    expect(sessionEnds()).toEqual([]);
    t += MIN;
    again.observe([power(0)]);
    again.tick();
    expect(sessionEnds().map((s) => s.reason)).toEqual(['max_run']);
    again.stop();
  });
});
