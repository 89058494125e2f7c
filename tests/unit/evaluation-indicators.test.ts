/**
 * core/evaluation: each indicator against a small fixture computed by hand
 * (the computation is written beside each): entrepreneurs and teams served,
 * team flows, services by kind, low-cost delivery, and the utilisation parts,
 * hour-of-week grid and occupancy series taken from the utilisation metrics.
 */
import { describe, expect, it } from 'vitest';
import type { ServiceRecord, TeamRecord, UseRecord } from '../../core/evaluation/inputs.js';
import { lowCost } from '../../core/evaluation/lowcost.js';
import { dayRange, periodOf, periodsUpTo } from '../../core/evaluation/periods.js';
import { served, servedTrend } from '../../core/evaluation/served.js';
import { servicesByKind } from '../../core/evaluation/services.js';
import { teamFlows } from '../../core/evaluation/teams.js';
import { hourOfWeekGrid, occupancySeries, utilisationParts } from '../../core/evaluation/utilisation.js';
import { openingCalendar } from '../../core/usage/calendar.js';
import { utilisation, type MetricsInput } from '../../core/usage/metrics.js';
import type { UsageSession } from '../../core/usage/sessioniser.js';

const SH = 'Asia/Shanghai';
const sh = (local: string): number => Date.parse(`${local}+08:00`);
const NOV = periodOf('month', '2026-11', SH);
const H = 3_600_000;

const use = (id: string, memberId: string | null, teamId: string | null, start: string, end: string): UseRecord => ({ id, memberId, teamId, start: sh(start), end: sh(end) });
const service = (id: string, kind: ServiceRecord['kind'], at: string, minutes: number, memberIds: string[], externalParticipants = 0, teamId: string | null = null): ServiceRecord => ({
  id,
  kind,
  startedAt: sh(at),
  minutes,
  memberIds,
  externalParticipants,
  teamId,
});

const USES: UseRecord[] = [
  use('u1', 'm1', null, '2026-11-03T09:00', '2026-11-03T12:00'), // m1; team t1 from the roster
  use('u2', 'm2', 't2', '2026-10-31T22:00', '2026-11-01T02:00'), // crosses the start: m2, t2 as recorded
  use('u3', 'm3', 't3', '2026-10-31T20:00', '2026-11-01T00:00'), // ends exactly at the start: not in November
  use('u4', 'm1', null, '2026-11-20T09:00', '2026-11-20T10:00'), // m1 again: evidence only
  use('u5', null, null, '2026-11-04T09:00', '2026-11-04T10:00'), // desk without member or team: nobody
  use('u6', null, 't3', '2026-11-05T09:00', '2026-11-05T10:00'), // a team without a member: t3
];
const SERVICES: ServiceRecord[] = [
  service('s1', 'training', '2026-11-10T14:00', 90, ['m4', 'm4', 'm1'], 5), // m4 listed twice: once
  service('s2', 'mentoring', '2026-11-11T10:00', 45, [], 0, 't4'), // given to team t4
  service('s3', 'event', '2026-12-01T00:00', 60, ['m9'], 10), // December: not in November
  service('s4', 'training', '2026-11-30T23:00', 60, ['m1']),
  service('s5', 'event', '2026-11-15T19:00', 120, ['m2'], 30),
];
const ROSTER = new Map([
  ['m1', 't1'],
  ['m4', 't1'],
]);

describe('entrepreneurs and teams served', () => {
  it('counts members and teams with a use or a participation, once each', () => {
    // Members: m1 (u1, u4, s1, s4), m2 (u2, s5), m4 (s1) → 3. m3's use ended at the period's start; m9's event is in December.
    // Member evidence: uses with a member in the period u1, u2, u4 = 3; participations s1 {m4, m1} = 2, s4 {m1} = 1, s5 {m2} = 1 → 7.
    // Teams: t1 (u1, u4 by roster; s1 m4, m1; s4 m1), t2 (u2), t3 (u6), t4 (s2) → 4.
    // Team evidence: uses u1, u2, u4, u6 = 4; s2 given to t4 = 1; participants with a roster team: s1 m4, m1 = 2, s4 m1 = 1 → 8 (s5's m2 has no roster team).
    const s = served(NOV.from, NOV.to, USES, SERVICES, ROSTER);
    expect(s).toEqual({ members: ['m1', 'm2', 'm4'], teams: ['t1', 't2', 't3', 't4'], memberEvidence: 7, teamEvidence: 8 });
  });

  it('nothing recorded serves nobody', () => {
    expect(served(NOV.from, NOV.to, [], [])).toEqual({ members: [], teams: [], memberEvidence: 0, teamEvidence: 0 });
  });

  it('trend: October and November', () => {
    // October: u2 (ends 11-01 02:00, starts 10-31) m2/t2, u3 m3/t3 → 2 members, 2 teams. November as above: 3 members, 4 teams.
    expect(servedTrend(periodsUpTo(NOV, 2), USES, SERVICES, ROSTER)).toEqual([
      { label: '2026-10', members: 2, teams: 2 },
      { label: '2026-11', members: 3, teams: 4 },
    ]);
  });

  it('a use recorded with a team keeps it whatever the roster says now', () => {
    const s = served(NOV.from, NOV.to, [use('u', 'm1', 'old-team', '2026-11-02T09:00', '2026-11-02T10:00')], [], ROSTER);
    expect(s.teams).toEqual(['old-team']);
  });
});

const team = (id: string, admittedOn: string, status: TeamRecord['status'], more: Partial<TeamRecord> = {}): TeamRecord => ({ id, admittedOn, status, ...more });
const TEAMS: TeamRecord[] = [
  team('A', '2025-03-10', 'incubating', { enterpriseRegisteredOn: '2026-11-05', investments: [{ on: '2026-11-20', amountMinor: 50_000_000 }, { on: '2026-10-02', amountMinor: 1 }] }),
  team('B', '2026-11-01', 'incubating'),
  team('C', '2024-06-01', 'graduated', { graduatedOn: '2026-11-15', enterpriseRegisteredOn: '2025-01-01' }),
  team('D', '2025-01-01', 'exited', { exitOn: '2026-11-30', exitReason: 'funding' }),
  team('E', '2025-05-01', 'exited', { exitOn: '2026-12-01', exitReason: 'moved' }),
  team('F', '2026-12-01', 'incubating'),
  team('G', '2025-02-01', 'exited', { exitOn: '2026-11-03', exitReason: null }),
  team('H', '2025-02-01', 'graduated'),
  team('I', '2026-10-31', 'exited', { exitOn: '2026-11-10', exitReason: ' funding ', investments: [{ on: '2026-11-02' }] }),
];

describe('team flows', () => {
  it('November 2026: residence at the end, admissions, graduations, exits by reason, registrations, financing', () => {
    // In residence on 11-30: A, B (incubating, admitted before 12-01), E (leaves 12-01) → 3. D left on 11-30 itself; C graduated;
    //   F is admitted 12-01; G, I exited; H graduated without a date (undated, counted as gone).
    // Enterprises in residence: A (registered 11-05 < 12-01) → 1.
    // Admitted in November: B (11-01) → 1 (I on 10-31 and F on 12-01 are not).
    // Graduated: C (11-15) → 1. Exited: D (11-30), G (11-03), I (11-10) → 3; reasons funding 2 (D, I trimmed), unspecified 1 (G).
    // Registered: A (11-05) → 1 (C in 2025). Financed: A (11-20; 10-02 is October), I (11-02, no amount) → 2 teams, 2 investments, 50 000 000 fen.
    const f = teamFlows(TEAMS, dayRange(SH, NOV.from, NOV.to));
    expect(f).toEqual({
      inResidence: ['A', 'B', 'E'],
      enterprisesInResidence: ['A'],
      admitted: ['B'],
      graduated: ['C'],
      exited: ['D', 'G', 'I'],
      exitReasons: [
        { reason: 'funding', count: 2 },
        { reason: 'unspecified', count: 1 },
      ],
      enterprisesRegistered: ['A'],
      financed: ['A', 'I'],
      investments: 2,
      investmentMinor: 50_000_000,
      undatedDepartures: ['H'],
      evidence: 9,
    });
  });

  it('no teams: zeros', () => {
    const f = teamFlows([], dayRange(SH, NOV.from, NOV.to));
    expect([f.inResidence.length, f.admitted.length, f.exited.length, f.investmentMinor, f.evidence]).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('services by kind', () => {
  it('deliveries, attendances and hours of services started in the period', () => {
    // training: s1 (90 min; m4, m1 + 5 external = 7), s4 (60 min; m1 = 1) → 2 deliveries, 8 participants (3 members, 5 external),
    //   unique members {m1, m4} = 2, 150 min = 2.5 h.
    // mentoring: s2 (45 min, given to a team, nobody listed) → 1, 0 participants, 0.75 h.
    // event: s5 (120 min; m2 + 30) → 1, 31, 2 h; s3 starts 12-01 00:00, the period's end: not counted.
    const s = servicesByKind(SERVICES, NOV.from, NOV.to);
    expect(s.training).toEqual({ deliveries: 2, participants: 8, memberParticipants: 3, externalParticipants: 5, uniqueMembers: 2, minutes: 150, hours: 2.5, ids: ['s1', 's4'] });
    expect(s.mentoring).toMatchObject({ deliveries: 1, participants: 0, hours: 0.75, ids: ['s2'] });
    expect(s.event).toMatchObject({ deliveries: 1, participants: 31, memberParticipants: 1, externalParticipants: 30, hours: 2, ids: ['s5'] });
    expect(s.technical).toMatchObject({ deliveries: 0, participants: 0, hours: 0, ids: [] });
    expect(s.investment.deliveries).toBe(0);
  });
});

describe('low-cost delivery', () => {
  it('classes lines free, subsidised or full against the reference, and sums the value given away', () => {
    // L1 free (0 of 5000), L2 subsidised (500 of 5000), L3 full (12000 of 12000), L4 has no reference (unclassed);
    // an adjustment of −200 lowers the fees and is not a line.
    // share = (1 + 1) / 3 classed = 0.6667; reference = 5000 + 5000 + 12000 = 22000;
    // fees = 0 + 500 + 12000 + 100 − 200 = 12400; given away = 22000 − 12400 = 9600.
    const lc = lowCost([
      { amountMinor: 0, referenceMinor: 5000, quantity: 1 },
      { amountMinor: 500, referenceMinor: 5000, quantity: 1 },
      { amountMinor: 12000, referenceMinor: 12000, quantity: 60 },
      { amountMinor: 100, referenceMinor: 0 },
      { amountMinor: -200, referenceMinor: 0, kind: 'adjustment' },
    ]);
    expect(lc).toEqual({ lines: 4, free: 1, subsidised: 1, full: 1, unreferenced: 1, adjustments: 1, referenceMinor: 22000, feesMinor: 12400, givenAwayMinor: 9600 });
  });

  it('fees above the reference give nothing away (never negative)', () => {
    expect(lowCost([{ amountMinor: 6000, referenceMinor: 5000 }]).givenAwayMinor).toBe(0);
  });
});

function session(kind: UsageSession['kind'], resource: string, start: number, end: number, extra: Partial<UsageSession> = {}): UsageSession {
  return {
    kind,
    id: `${kind}:${resource}:${start}`,
    resource,
    space: null,
    memberId: null,
    teamId: null,
    start,
    end,
    endInferred: false,
    endReason: 'vacated',
    runningMs: null,
    idleMs: null,
    energyWh: null,
    accessSessionId: null,
    evidence: { first: 'a', last: 'b', count: 2 },
    ...extra,
  };
}

describe('utilisation parts, hour of week, occupancy series (from core/usage/metrics.ts)', () => {
  // Monday 2026-11-23 and Tuesday 11-24, always open (no hours): one desk in a co-working space, one machine in a lab.
  const input = (granularity: MetricsInput['granularity']): MetricsInput => ({
    sessions: [
      session('desk', 'd1', sh('2026-11-23T09:00'), sh('2026-11-23T11:00')),
      session('desk', 'd1', sh('2026-11-24T09:00'), sh('2026-11-24T10:00')),
      session('machine', 'laser', sh('2026-11-23T10:00'), sh('2026-11-23T10:30'), { memberId: 'm1', runningMs: 30 * 60_000, idleMs: 0, energyWh: 100 }),
    ],
    gaps: [],
    resources: { spaces: [{ id: 'cowork', kind: 'open-space' }, { id: 'lab', kind: 'lab' }], desks: [{ id: 'd1', space: 'cowork' }], machines: [{ id: 'laser', space: 'lab' }] },
    calendars: { site: openingCalendar({ timezone: SH }), spaces: new Map() },
    from: sh('2026-11-23T00:00'),
    to: sh('2026-11-25T00:00'),
    granularity,
  });

  it('parts of the total: desk 3 h of 48, machine 0.5 h of 48, all of it in a lab', () => {
    expect(utilisationParts(utilisation(input('day')).total)).toEqual({
      desks: 1,
      availableDeskMs: 48 * H,
      occupiedDeskMs: 3 * H,
      machines: 1,
      availableMachineMs: 48 * H,
      runningMachineMs: 0.5 * H,
      machineSessions: 1,
      labMachines: 1,
      availableLabMachineMs: 48 * H,
      runningLabMachineMs: 0.5 * H,
      labMachineSessions: 1,
    });
  });

  it('hour of week: Monday and Tuesday 09:00 full, Monday 10:00 full, 11:00 empty, Wednesday never available', () => {
    const grid = hourOfWeekGrid(utilisation(input('hour')));
    expect(grid).toHaveLength(168);
    const cell = (wd: number, h: number) => grid[(wd - 1) * 24 + h]!;
    expect(cell(1, 9)).toEqual({ weekday: 1, hour: 9, usedMs: H, availableMs: H, value: 1 });
    expect(cell(1, 10).value).toBe(1);
    expect(cell(2, 9).value).toBe(1);
    expect(cell(1, 11).value).toBe(0);
    expect(cell(3, 9)).toEqual({ weekday: 3, hour: 9, usedMs: 0, availableMs: 0, value: null });
    expect(hourOfWeekGrid(utilisation(input('hour')), 'machines')[9 + 1]!.value).toBe(0.5); // Monday 10:00, 30 of 60 min
    expect(() => hourOfWeekGrid(utilisation(input('day')))).toThrow(RangeError);
  });

  it('occupancy by day: 2 h of 24, then 1 h of 24', () => {
    expect(occupancySeries(utilisation(input('day')))).toEqual([
      { label: '2026-11-23', from: sh('2026-11-23T00:00'), value: 0.0833 },
      { label: '2026-11-24', from: sh('2026-11-24T00:00'), value: 0.0417 },
    ]);
  });
});

describe('malformed team dates', () => {
  it.each([
    [{ id: 'x', admittedOn: '2026-02-30', status: 'incubating' }, /team x admittedOn: "2026-02-30"/],
    [{ id: 'y', admittedOn: '2026-01-01', status: 'exited', exitOn: '1/3/2026' }, /team y exitOn/],
    [{ id: 'z', admittedOn: '2026-01-01', status: 'incubating', investments: [{ on: '2026-13-01' }] }, /team z investment/],
  ] as [TeamRecord, RegExp][])('are refused, naming the team and field: %j', (t, message) => {
    expect(() => teamFlows([t], dayRange(SH, NOV.from, NOV.to))).toThrow(message);
  });
});
