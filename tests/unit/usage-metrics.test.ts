/**
 * core/usage/metrics.ts: hand-computed fixtures for each metric and edge case
 * (opening hours, holidays and make-up days, midnight, unknown gaps, peaks,
 * machine downtime, week and month buckets, members and teams), and
 * properties: buckets add up to the total, utilisation stays in [0, 1], a
 * period split in two adds up to the whole, and desk occupancy and peaks agree
 * with a brute-force count minute by minute.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOpen, localTime, type Period } from '../../core/access/time.js';
import { exampleSiteFile } from '../../core/site/example.js';
import { validateSite } from '../../core/site/validate.js';
import { openingCalendar, type CalendarSpec, type Interval } from '../../core/usage/calendar.js';
import { metricsCalendars, metricsResources, utilisation, type Granularity, type MetricsInput, type MetricsResources, type PeriodMetrics, type UtilisationReport } from '../../core/usage/metrics.js';
import type { UnknownGap, UsageSession } from '../../core/usage/sessioniser.js';

const MIN = 60_000;
const H = 3600_000;
const SH = 'Asia/Shanghai';
const WEEKDAYS: Period = { days: [1, 2, 3, 4, 5], from: '09:00', to: '18:00' };
/** Local wall time in Shanghai (UTC+8, no DST) as an instant. */
const sh = (local: string): number => Date.parse(`${local}:00+08:00`);
// Wednesday 2026-11-25.
const at = (hhmm: string) => sh(`2026-11-25T${hhmm}`);

function session(kind: UsageSession['kind'], resource: string, memberId: string | null, start: number, end: number, extra: Partial<UsageSession> = {}): UsageSession {
  return {
    kind,
    id: `${kind}:${resource}:${memberId ?? ''}:${start}`,
    resource,
    space: null,
    memberId,
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
const desk = (d: string, start: number, end: number) => session('desk', d, null, start, end);
const presence = (space: string, member: string, start: number, end: number) => session('presence', space, member, start, end);
const machine = (m: string, member: string | null, start: number, end: number, runningMs: number, idleMs: number, energyWh: number) =>
  session('machine', m, member, start, end, { runningMs, idleMs, energyWh });
const gap = (device: string, resource: string, from: number, to: number): UnknownGap => ({ kind: 'gap', device, resource, from, to });

const RESOURCES: MetricsResources = {
  spaces: [
    { id: 'cowork', kind: 'open-space' },
    { id: 'lab', kind: 'lab' },
  ],
  desks: ['d1', 'd2', 'd3'].map((id) => ({ id, space: 'cowork', sensors: [`occ-${id}`] })),
  machines: [{ id: 'laser', space: 'lab', meters: ['pm-laser'] }],
};

function calendars(spec: Omit<CalendarSpec, 'timezone'> = { hours: [WEEKDAYS] }, lab: readonly Period[] | null = null): MetricsInput['calendars'] {
  const site = openingCalendar({ timezone: SH, ...spec });
  return { site, spaces: new Map([['cowork', site], ['lab', openingCalendar({ timezone: SH, ...spec, narrowTo: lab })]]) };
}

function run(over: Partial<MetricsInput>): UtilisationReport {
  return utilisation({ sessions: [], gaps: [], resources: RESOURCES, calendars: calendars(), from: at('00:00'), to: sh('2026-11-26T00:00'), granularity: 'day', ...over });
}
const deskOf = (p: PeriodMetrics, id: string) => p.desks.find((d) => d.id === id)!;
const spaceOf = (p: PeriodMetrics, id: string) => p.spaces.find((s) => s.id === id)!;

describe('desks', () => {
  it('a desk used 09:00–12:00 on a day open 09:00–18:00 is 3/9 used', () => {
    const r = run({ sessions: [desk('d1', at('09:00'), at('12:00'))] });
    expect(r.buckets.map((b) => b.key)).toEqual(['2026-11-25']);
    expect(deskOf(r.total, 'd1')).toEqual({ id: 'd1', space: 'cowork', openMs: 9 * H, unknownMs: 0, availableMs: 9 * H, occupiedMs: 3 * H, outsideHoursMs: 0, utilisation: 0.3333 });
    expect(deskOf(r.total, 'd2')).toMatchObject({ occupiedMs: 0, availableMs: 9 * H, utilisation: 0 });
    expect(spaceOf(r.total, 'cowork').desks).toEqual({
      desks: 3,
      availableDeskMs: 27 * H,
      unknownDeskMs: 0,
      occupiedDeskMs: 3 * H,
      outsideHoursDeskMs: 0,
      utilisation: 0.1111,
      averageOccupied: 0.3333,
      peakOccupied: 1,
    });
    expect(r.buckets[0]!.desks).toEqual(r.total.desks);
  });

  it('use outside opening hours is reported apart and not in utilisation', () => {
    const r = run({ sessions: [desk('d1', at('17:00'), at('20:00'))] });
    expect(deskOf(r.total, 'd1')).toMatchObject({ occupiedMs: H, outsideHoursMs: 2 * H, availableMs: 9 * H, utilisation: 0.1111 });
    expect(r.total.site.desks.outsideHoursDeskMs).toBe(2 * H);
  });

  it('a public holiday has no available time: utilisation is null, its use is outside hours', () => {
    const r = run({ sessions: [desk('d1', at('09:00'), at('12:00'))], calendars: calendars({ hours: [WEEKDAYS], closedDates: [{ date: '2026-11-25', name: 'Holiday' }] }) });
    expect(deskOf(r.total, 'd1')).toMatchObject({ openMs: 0, availableMs: 0, occupiedMs: 0, outsideHoursMs: 3 * H, utilisation: null });
    expect(spaceOf(r.total, 'cowork').desks).toMatchObject({ availableDeskMs: 0, utilisation: null, averageOccupied: null, peakOccupied: 0 });
  });

  it('a make-up working day (调休) opens a Saturday', () => {
    const sat = (hhmm: string) => sh(`2026-11-28T${hhmm}`);
    const over = { sessions: [desk('d1', sat('10:00'), sat('12:00'))], from: sat('00:00'), to: sh('2026-11-29T00:00') };
    const open = run({ ...over, calendars: calendars({ hours: [WEEKDAYS], extraOpenDates: [{ date: '2026-11-28', from: '09:00', to: '18:00' }] }) });
    expect(deskOf(open.total, 'd1')).toMatchObject({ openMs: 9 * H, occupiedMs: 2 * H, utilisation: 0.2222 });
    const closed = run(over);
    expect(deskOf(closed.total, 'd1')).toMatchObject({ openMs: 0, occupiedMs: 0, outsideHoursMs: 2 * H, utilisation: null });
  });

  it('a session spanning midnight splits into two day buckets', () => {
    const r = run({ sessions: [desk('d1', at('22:00'), sh('2026-11-26T02:00'))], calendars: calendars({}), to: sh('2026-11-27T00:00') });
    expect(r.buckets.map((b) => [b.key, b.from, b.to, deskOf(b, 'd1').occupiedMs, deskOf(b, 'd1').availableMs])).toEqual([
      ['2026-11-25', at('00:00'), sh('2026-11-26T00:00'), 2 * H, 24 * H],
      ['2026-11-26', sh('2026-11-26T00:00'), sh('2026-11-27T00:00'), 2 * H, 24 * H],
    ]);
    expect(deskOf(r.total, 'd1')).toMatchObject({ occupiedMs: 4 * H, availableMs: 48 * H, utilisation: 0.0833 });
  });

  it('sessions crossing the period are clipped to it', () => {
    const r = run({ sessions: [desk('d1', sh('2026-11-24T17:00'), at('10:00')), desk('d2', at('17:30'), sh('2026-11-26T09:30'))] });
    expect(deskOf(r.total, 'd1')).toMatchObject({ occupiedMs: H, outsideHoursMs: 9 * H });
    expect(deskOf(r.total, 'd2')).toMatchObject({ occupiedMs: 30 * MIN, outsideHoursMs: 6 * H });
  });

  it('an unknown gap of its sensor reduces available time', () => {
    const r = run({ sessions: [desk('d2', at('09:00'), at('12:00'))], gaps: [gap('occ-d2', 'd2', at('12:00'), at('15:00')), gap('occ-nowhere', 'd9', at('12:00'), at('15:00'))] });
    expect(deskOf(r.total, 'd2')).toEqual({ id: 'd2', space: 'cowork', openMs: 9 * H, unknownMs: 3 * H, availableMs: 6 * H, occupiedMs: 3 * H, outsideHoursMs: 0, utilisation: 0.5 });
    expect(deskOf(r.total, 'd1')).toMatchObject({ unknownMs: 0, availableMs: 9 * H });
    expect(spaceOf(r.total, 'cowork').desks).toMatchObject({ availableDeskMs: 24 * H, unknownDeskMs: 3 * H, utilisation: 0.125 });
    expect(r.ignored).toEqual({ sessions: 0, gaps: 1 });
  });

  it('a gap outside opening hours changes nothing; one across closing counts only its open part', () => {
    const r = run({ gaps: [gap('occ-d1', 'd1', at('19:00'), at('23:00')), gap('occ-d2', 'd2', at('17:00'), sh('2026-11-26T10:00'))] });
    expect(deskOf(r.total, 'd1')).toMatchObject({ unknownMs: 0, availableMs: 9 * H });
    expect(deskOf(r.total, 'd2')).toMatchObject({ unknownMs: H, availableMs: 8 * H });
  });

  it('a desk no sensor watches has only unknown time', () => {
    const resources = { ...RESOURCES, desks: [...RESOURCES.desks, { id: 'd4', space: 'cowork', sensors: [] }] };
    const r = run({ resources });
    expect(deskOf(r.total, 'd4')).toMatchObject({ openMs: 9 * H, unknownMs: 9 * H, availableMs: 0, utilisation: null });
  });

  it('peak desks occupied at once, per hour and in total; sessions that only touch do not overlap', () => {
    const r = run({
      sessions: [desk('d1', at('09:00'), at('12:00')), desk('d2', at('10:00'), at('13:00')), desk('d3', at('11:00'), at('11:30'))],
      granularity: 'hour',
    });
    const peaks = Object.fromEntries(r.buckets.map((b) => [b.key.slice(11), spaceOf(b, 'cowork').desks.peakOccupied]));
    expect(peaks).toMatchObject({ '08:00': 0, '09:00': 1, '10:00': 2, '11:00': 3, '12:00': 1, '13:00': 0 });
    expect(r.buckets).toHaveLength(24);
    expect(spaceOf(r.total, 'cowork').desks.peakOccupied).toBe(3);
    expect(r.total.site.desks.peakOccupied).toBe(3);
    // Average over the open day: (3 + 3 + 0.5) desk-hours / 9 h.
    expect(spaceOf(r.total, 'cowork').desks.averageOccupied).toBe(0.7222);

    const touching = run({ sessions: [desk('d1', at('09:00'), at('10:00')), desk('d2', at('10:00'), at('11:00'))] });
    expect(spaceOf(touching.total, 'cowork').desks.peakOccupied).toBe(1);
  });
});

describe('machines', () => {
  it('downtime and an unknown meter gap come off available time; running in downtime is counted apart', () => {
    // 10:00–14:00, running 3 h and idle 1 h: each piece gets 3/4 running, 1/4 idle.
    const r = run({
      sessions: [machine('laser', 'm1', at('10:00'), at('14:00'), 3 * H, H, 800)],
      gaps: [gap('pm-laser', 'laser', at('15:00'), at('16:00'))],
      downtime: new Map<string, Interval[]>([['laser', [{ from: at('13:00'), to: at('15:00') }]]]),
    });
    expect(r.total.machines).toEqual([
      {
        id: 'laser',
        space: 'lab',
        openMs: 9 * H,
        downtimeMs: 2 * H,
        unknownMs: H,
        availableMs: 6 * H,
        runningMs: 2.25 * H,
        idleMs: 0.75 * H,
        outsideHoursMs: 0,
        downtimeRunningMs: 0.75 * H,
        sessions: 1,
        energyWh: 800,
        uniqueMembers: 1,
        utilisation: 0.375,
      },
    ]);
    expect(r.total.site.machines).toMatchObject({ machines: 1, runningMs: 2.25 * H, availableMs: 6 * H, utilisation: 0.375 });
  });

  it('downtime overlapping an unknown gap is downtime, not unknown', () => {
    const r = run({ gaps: [gap('pm-laser', 'laser', at('12:00'), at('14:00'))], downtime: new Map([['laser', [{ from: at('13:00'), to: at('15:00') }]]]) });
    expect(r.total.machines[0]).toMatchObject({ downtimeMs: 2 * H, unknownMs: H, availableMs: 6 * H });
  });

  it('a session across closing: running after closing is outside hours; energy is split by time; counted where it started', () => {
    const r = run({
      sessions: [machine('laser', 'm1', at('17:00'), at('19:00'), 2 * H, 0, 600)],
      granularity: 'hour',
    });
    expect(r.total.machines[0]).toMatchObject({ runningMs: H, outsideHoursMs: H, sessions: 1, energyWh: 600, utilisation: 0.1111 });
    const byHour = Object.fromEntries(r.buckets.map((b) => [b.key.slice(11), [b.machines[0]!.sessions, b.machines[0]!.energyWh]]));
    expect(byHour['17:00']).toEqual([1, 300]);
    expect(byHour['18:00']).toEqual([0, 300]);
  });

  it('an open-ended session whose idle time overruns its length never counts more than its length', () => {
    const r = run({ sessions: [machine('laser', null, at('09:00'), at('10:00'), 50 * MIN, 30 * MIN, 0)] });
    expect(r.total.machines[0]).toMatchObject({ runningMs: 50 * MIN, idleMs: 10 * MIN, uniqueMembers: 0 });
  });

  it('the space narrows the machine’s open hours', () => {
    const r = run({ calendars: calendars({ hours: [WEEKDAYS] }, [{ days: [1, 2, 3, 4, 5], from: '10:00', to: '16:00' }]), sessions: [machine('laser', 'm1', at('09:00'), at('11:00'), 2 * H, 0, 0)] });
    expect(r.total.machines[0]).toMatchObject({ openMs: 6 * H, runningMs: H, outsideHoursMs: H });
    expect(spaceOf(r.total, 'lab').openMs).toBe(6 * H);
    expect(r.total.site.openMs).toBe(9 * H);
  });
});

describe('presence, members and teams', () => {
  const sessions = [
    presence('cowork', 'm1', at('09:00'), at('12:00')),
    presence('lab', 'm1', at('10:00'), at('11:00')),
    presence('cowork', 'm2', at('11:00'), at('13:00')),
    presence('cowork', 'm3', at('20:00'), at('21:00')),
    machine('laser', 'm4', at('10:00'), at('10:30'), 30 * MIN, 0, 50),
  ];
  const teams = new Map([
    ['m1', 'acme'],
    ['m2', 'acme'],
    ['m4', 'robotics'],
  ]);

  it('person-hours, average and peak people per space; a member in two spaces at once is one person on the site', () => {
    const r = run({ sessions, teams });
    expect(spaceOf(r.total, 'cowork').presence).toEqual({ personMs: 5 * H, outsideHoursPersonMs: H, averagePeople: 0.5556, peakPeople: 2, uniqueMembers: 3 });
    expect(spaceOf(r.total, 'lab').presence).toEqual({ personMs: H, outsideHoursPersonMs: 0, averagePeople: 0.1111, peakPeople: 1, uniqueMembers: 1 });
    // Site: m1 09–12 (once, though in the lab too), m2 11–13: peak 2, 5 person-hours.
    expect(r.total.site.presence).toEqual({ personMs: 5 * H, outsideHoursPersonMs: H, averagePeople: 0.5556, peakPeople: 2, uniqueMembers: 3 });
  });

  it('unique members and teams over presence and machine sessions; members without a team counted apart', () => {
    const r = run({ sessions, teams });
    expect(r.total.site).toMatchObject({ uniqueMembers: 4, uniqueTeams: 2, membersWithoutTeam: 1 });
    expect(r.total.machines[0]!.uniqueMembers).toBe(1);
    const hourly = run({ sessions, teams, granularity: 'hour' });
    const byHour = Object.fromEntries(hourly.buckets.map((b) => [b.key.slice(11), [b.site.uniqueMembers, b.site.uniqueTeams, b.site.membersWithoutTeam]]));
    expect(byHour).toMatchObject({ '09:00': [1, 1, 0], '10:00': [2, 2, 0], '11:00': [2, 1, 0], '12:00': [1, 1, 0], '13:00': [0, 0, 0], '20:00': [1, 0, 1] });
  });

  it('the team recorded with a session (by the access decision) counts over the roster map', () => {
    // m3 has no team in the roster as it is now, but was in "startup-x" when they came in.
    const withTeam = sessions.map((x) => (x.memberId === 'm3' ? { ...x, teamId: 'startup-x' } : x));
    const r = run({ sessions: withTeam, teams });
    expect(r.total.site).toMatchObject({ uniqueMembers: 4, uniqueTeams: 3, membersWithoutTeam: 0 });
  });

  it('sessions naming nothing known are counted as ignored', () => {
    const r = run({ sessions: [desk('d9', at('09:00'), at('10:00')), presence('attic', 'm1', at('09:00'), at('10:00')), session('presence', 'cowork', null, at('09:00'), at('10:00')), machine('cnc', 'm1', at('09:00'), at('10:00'), H, 0, 1)] });
    expect(r.ignored).toEqual({ sessions: 4, gaps: 0 });
    expect(r.total.site.uniqueMembers).toBe(0);
  });
});

describe('buckets', () => {
  it('week buckets start on Monday, local time', () => {
    const r = run({
      calendars: calendars({}),
      from: sh('2026-11-22T00:00'),
      to: sh('2026-12-01T00:00'),
      granularity: 'week',
      // Sunday 23:00 to Monday 01:00 local: one hour in each week.
      sessions: [desk('d1', sh('2026-11-22T23:00'), sh('2026-11-23T01:00'))],
    });
    expect(r.buckets.map((b) => [b.key, b.start, b.from, b.to, deskOf(b, 'd1').occupiedMs])).toEqual([
      ['2026-W47', '2026-11-16T00:00', sh('2026-11-22T00:00'), sh('2026-11-23T00:00'), H],
      ['2026-W48', '2026-11-23T00:00', sh('2026-11-23T00:00'), sh('2026-11-30T00:00'), H],
      ['2026-W49', '2026-11-30T00:00', sh('2026-11-30T00:00'), sh('2026-12-01T00:00'), 0],
    ]);
  });

  it('month buckets start on the 1st, local midnight (16:00 UTC the day before)', () => {
    const r = run({
      calendars: calendars({}),
      from: sh('2026-10-01T00:00'),
      to: sh('2026-12-01T00:00'),
      granularity: 'month',
      sessions: [desk('d1', sh('2026-10-31T23:00'), sh('2026-11-01T01:00'))],
    });
    expect(r.buckets.map((b) => [b.key, new Date(b.from).toISOString(), deskOf(b, 'd1').occupiedMs, deskOf(b, 'd1').availableMs])).toEqual([
      ['2026-10', '2026-09-30T16:00:00.000Z', H, 31 * 24 * H],
      ['2026-11', '2026-10-31T16:00:00.000Z', H, 30 * 24 * H],
    ]);
  });

  it('an empty period has no buckets and an empty total', () => {
    const r = run({ from: at('09:00'), to: at('09:00') });
    expect(r.buckets).toEqual([]);
    expect(r.total).toMatchObject({ key: 'total', from: at('09:00'), to: at('09:00') });
    expect(r.total.site.openMs).toBe(0);
  });

  it('refuses calendars in different time zones and a reversed period', () => {
    const spaces = new Map([['cowork', openingCalendar({ timezone: 'Europe/Berlin' })]]);
    expect(() => run({ calendars: { site: openingCalendar({ timezone: SH }), spaces } })).toThrow(/Europe\/Berlin/);
    expect(() => run({ from: at('10:00'), to: at('09:00') })).toThrow(RangeError);
  });
});

describe('from a site', () => {
  it('the example site: its spaces, desks with their sensors, machines with their meters, and calendars', () => {
    const file = exampleSiteFile({ credentialsFor: () => ({ hash: `sha256$${'A'.repeat(22)}$${'B'.repeat(43)}` }) });
    const r = validateSite({ ...file, site: { ...file.site, closedDates: ['2026-11-25'] } });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const resources = metricsResources(r.site);
    expect(resources.spaces).toHaveLength(6);
    expect(resources.desks).toHaveLength(44);
    expect(resources.desks.find((d) => d.id === 'cw-01')).toEqual({ id: 'cw-01', space: 'cowork', sensors: ['occ-cw-01'] });
    expect(resources.machines.find((m) => m.id === 'laser-1')).toEqual({ id: 'laser-1', space: 'fablab', meters: ['pm-laser-1'] });
    const report = utilisation({
      sessions: [desk('cw-01', at('09:00'), at('10:00')), desk('cw-01', sh('2026-11-26T09:00'), sh('2026-11-26T10:00'))],
      gaps: [],
      resources,
      calendars: metricsCalendars(r.site),
      from: at('00:00'),
      to: sh('2026-11-27T00:00'),
      granularity: 'day',
    });
    // The example site is always open, but closed on the 25th.
    expect(report.buckets.map((b) => [b.key, deskOf(b, 'cw-01').occupiedMs, deskOf(b, 'cw-01').outsideHoursMs, deskOf(b, 'cw-01').availableMs])).toEqual([
      ['2026-11-25', 0, H, 0],
      ['2026-11-26', H, 0, 24 * H],
    ]);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });
});

// ---------------------------------------------------------------------------
// Properties

const DAY0 = sh('2026-11-23T00:00'); // a Monday
const DAYS = 3;
const minute = (m: number) => DAY0 + m * MIN;
const ofMinutes = fc.tuple(fc.integer({ min: -120, max: DAYS * 1440 + 120 }), fc.integer({ min: 0, max: 600 })).map(([a, len]) => [a, a + len] as const);

const world = fc.record({
  hours: fc.constantFrom<Period[] | null>(null, [WEEKDAYS], [{ days: [1, 2, 3], from: '08:30', to: '24:00' }, { days: [2, 4], from: '00:00', to: '03:15' }]),
  holiday: fc.boolean(),
  desks: fc.array(fc.tuple(fc.constantFrom('d1', 'd2', 'd3'), ofMinutes), { maxLength: 25 }),
  gaps: fc.array(fc.tuple(fc.constantFrom('d1', 'd2', 'd3'), ofMinutes), { maxLength: 4 }),
  machines: fc.array(fc.tuple(ofMinutes, fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 5000 }), fc.constantFrom('m1', 'm2', null)), { maxLength: 8 }),
  downtime: fc.array(ofMinutes, { maxLength: 3 }),
  presence: fc.array(fc.tuple(fc.constantFrom('cowork', 'lab'), fc.constantFrom('m1', 'm2', 'm3', 'm4'), ofMinutes), { maxLength: 12 }),
});
type World = typeof world extends fc.Arbitrary<infer T> ? T : never;

function inputOf(w: World, from: number, to: number, granularity: Granularity): MetricsInput {
  const sessions: UsageSession[] = [
    ...w.desks.map(([d, [a, b]]) => desk(d, minute(a), minute(b))),
    // Running and idle as percentages of the session, so they may overrun it together (as open sessions can).
    ...w.machines.map(([[a, b], run, idle, wh, member]) => machine('laser', member, minute(a), minute(b), Math.round(((b - a) * MIN * run) / 100), Math.round(((b - a) * MIN * idle) / 100), wh)),
    ...w.presence.map(([space, member, [a, b]]) => presence(space, member, minute(a), minute(b))),
  ];
  return {
    sessions,
    gaps: w.gaps.map(([d, [a, b]]) => gap(`occ-${d}`, d, minute(a), minute(b))),
    resources: RESOURCES,
    calendars: calendars({ hours: w.hours, closedDates: w.holiday ? ['2026-11-24'] : [] }, [{ days: [1, 2, 3, 4, 5, 6, 7], from: '10:00', to: '20:00' }]),
    from,
    to,
    granularity,
    teams: new Map([['m1', 'acme']]),
    downtime: new Map([['laser', w.downtime.map(([a, b]) => ({ from: minute(a), to: minute(b) }))]]),
  };
}

/** Every additive ms or count of a bucket, by name. */
function additive(p: PeriodMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of p.desks) for (const k of ['openMs', 'unknownMs', 'availableMs', 'occupiedMs', 'outsideHoursMs'] as const) out[`desk.${d.id}.${k}`] = d[k];
  for (const m of p.machines) {
    for (const k of ['openMs', 'downtimeMs', 'unknownMs', 'availableMs', 'runningMs', 'idleMs', 'outsideHoursMs', 'downtimeRunningMs', 'sessions'] as const) out[`machine.${m.id}.${k}`] = m[k];
  }
  for (const s of p.spaces) {
    out[`space.${s.id}.openMs`] = s.openMs;
    out[`space.${s.id}.occupiedDeskMs`] = s.desks.occupiedDeskMs;
    out[`space.${s.id}.availableDeskMs`] = s.desks.availableDeskMs;
    out[`space.${s.id}.personMs`] = s.presence.personMs;
    out[`space.${s.id}.outsideHoursPersonMs`] = s.presence.outsideHoursPersonMs;
  }
  out['site.openMs'] = p.site.openMs;
  out['site.personMs'] = p.site.presence.personMs;
  out['site.occupiedDeskMs'] = p.site.desks.occupiedDeskMs;
  out['site.runningMs'] = p.site.machines.runningMs;
  return out;
}

function sumOf(ps: readonly PeriodMetrics[]): Record<string, number> {
  const acc: Record<string, number> = {};
  for (const p of ps) for (const [k, v] of Object.entries(additive(p))) acc[k] = (acc[k] ?? 0) + v;
  return acc;
}

describe('properties', () => {
  const from = DAY0;
  const to = DAY0 + DAYS * 24 * H;

  it('buckets add up to the total (day and hour buckets), energy to within rounding', () => {
    fc.assert(
      fc.property(world, fc.constantFrom<Granularity>('day', 'hour'), (w, g) => {
        const r = utilisation(inputOf(w, from, to, g));
        expect(sumOf(r.buckets)).toEqual(additive(r.total));
        const energy = r.buckets.reduce((s, b) => s + b.machines[0]!.energyWh, 0);
        expect(Math.abs(energy - r.total.machines[0]!.energyWh)).toBeLessThanOrEqual(0.0005 * (r.buckets.length + 1));
        // Peaks of the whole are the highest peak of a bucket.
        expect(spaceOf(r.total, 'cowork').desks.peakOccupied).toBe(Math.max(...r.buckets.map((b) => spaceOf(b, 'cowork').desks.peakOccupied)));
        expect(r.total.site.presence.peakPeople).toBe(Math.max(...r.buckets.map((b) => b.site.presence.peakPeople)));
      }),
      { numRuns: 150 },
    );
  });

  it('utilisation is always in [0, 1], and used time never exceeds available time', () => {
    fc.assert(
      fc.property(world, (w) => {
        const r = utilisation(inputOf(w, from, to, 'day'));
        for (const p of [...r.buckets, r.total]) {
          const ratios = [
            ...p.desks.map((d) => d.utilisation),
            ...p.machines.map((m) => m.utilisation),
            ...p.spaces.map((s) => s.desks.utilisation),
            p.site.desks.utilisation,
            p.site.machines.utilisation,
          ];
          for (const u of ratios) {
            if (u === null) continue;
            expect(u).toBeGreaterThanOrEqual(0);
            expect(u).toBeLessThanOrEqual(1);
          }
          for (const d of p.desks) expect(d.occupiedMs).toBeLessThanOrEqual(d.availableMs);
          for (const m of p.machines) {
            expect(m.runningMs).toBeLessThanOrEqual(m.availableMs);
            expect(m.availableMs).toBeGreaterThanOrEqual(0);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a period split in two adds up to the whole', () => {
    fc.assert(
      fc.property(world, fc.integer({ min: 0, max: DAYS * 1440 }), fc.integer({ min: 0, max: 59_999 }), (w, cut, ms) => {
        const mid = Math.min(to, minute(cut) + ms);
        const whole = utilisation(inputOf(w, from, to, 'week')).total;
        const a = utilisation(inputOf(w, from, mid, 'week')).total;
        const b = utilisation(inputOf(w, mid, to, 'week')).total;
        const both = sumOf([a, b]);
        // Sessions are counted where they start, so a session cut in two is still one.
        expect(both).toEqual(additive(whole));
      }),
      { numRuns: 150 },
    );
  });

  it('desk occupancy, unknown time and peaks agree with a count minute by minute', () => {
    fc.assert(
      fc.property(world, (w) => {
        const input = inputOf(w, from, to, 'day');
        const r = utilisation(input);
        const hours = w.hours ?? [];
        const covers = (list: readonly (readonly [number, number])[], m: number) => list.some(([a, b]) => a <= m && m < b);
        for (const [k, b] of r.buckets.entries()) {
          let peak = 0;
          const occupied: Record<string, number> = { d1: 0, d2: 0, d3: 0 };
          const unknown: Record<string, number> = { d1: 0, d2: 0, d3: 0 };
          for (let m = k * 1440; m < (k + 1) * 1440; m++) {
            const lt = localTime(minute(m), SH);
            const open = !(w.holiday && lt.date === '2026-11-24') && (hours.length === 0 || isOpen(hours, lt));
            if (!open) continue;
            let now = 0;
            for (const d of ['d1', 'd2', 'd3']) {
              const inGap = covers(w.gaps.filter((g) => g[0] === d).map((g) => g[1]), m);
              if (inGap) unknown[d]! += MIN;
              else if (covers(w.desks.filter((x) => x[0] === d).map((x) => x[1]), m)) {
                occupied[d]! += MIN;
                now++;
              }
            }
            peak = Math.max(peak, now);
          }
          for (const d of ['d1', 'd2', 'd3']) expect([d, deskOf(b, d).occupiedMs, deskOf(b, d).unknownMs]).toEqual([d, occupied[d], unknown[d]]);
          expect(spaceOf(b, 'cowork').desks.peakOccupied).toBe(peak);
        }
      }),
      { numRuns: 60 },
    );
  });
});
