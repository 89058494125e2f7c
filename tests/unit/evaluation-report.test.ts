/**
 * core/evaluation/report.ts: every indicator of the catalogue for a period and
 * the one before, with change and evidence; a period with no data (zeros and
 * nulls with reasons, never NaN); several sites aggregated (distinct members
 * and teams as unions, shared records once, rates from summed parts, not
 * averaged); one site aggregated alone equals that site (property).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INDICATORS } from '../../core/evaluation/catalogue.js';
import type { EvaluationData, ServiceRecord, TeamRecord, UtilisationParts } from '../../core/evaluation/inputs.js';
import { periodOf } from '../../core/evaluation/periods.js';
import { evaluate, mergeData, report, type ReportRow } from '../../core/evaluation/report.js';
import { ZERO_PARTS } from '../../core/evaluation/utilisation.js';

const SH = 'Asia/Shanghai';
const sh = (local: string): number => Date.parse(`${local}+08:00`);
const H = 3_600_000;
const NOV = periodOf('month', '2026-11', SH);

const parts = (desks: number, availableH: number, occupiedH: number): UtilisationParts => ({ ...ZERO_PARTS, desks, availableDeskMs: availableH * H, occupiedDeskMs: occupiedH * H });
const use = (id: string, memberId: string, at: string, teamId: string | null = null) => ({ id, memberId, teamId, start: sh(at), end: sh(at) + H });
const svc = (id: string, kind: ServiceRecord['kind'], at: string, memberIds: string[], externalParticipants = 0): ServiceRecord => ({ id, kind, startedAt: sh(at), minutes: 60, memberIds, externalParticipants });

const TEAMS: TeamRecord[] = [
  { id: 't1', admittedOn: '2026-01-10', status: 'incubating', enterpriseRegisteredOn: '2026-11-02' },
  { id: 't2', admittedOn: '2026-11-05', status: 'incubating' },
  { id: 't3', admittedOn: '2025-11-01', status: 'exited', exitOn: '2026-10-20', exitReason: 'funding' },
];
const S1 = svc('s1', 'training', '2026-11-10T14:00', ['m1', 'm3']);

const A: EvaluationData = {
  uses: [use('a1', 'm1', '2026-11-03T09:00', 't1'), use('a2', 'm2', '2026-11-04T09:00')],
  services: [S1],
  teams: TEAMS,
  lines: [
    { amountMinor: 0, referenceMinor: 5000 },
    { amountMinor: 1000, referenceMinor: 1000 },
  ],
  utilisation: parts(10, 100, 10),
  workstations: { total: 10, allocated: 6 },
};
const B: EvaluationData = {
  uses: [use('b1', 'm2', '2026-11-05T09:00'), use('b2', 'm5', '2026-11-06T09:00')],
  services: [S1, svc('s2', 'event', '2026-11-20T19:00', ['m5'], 20)],
  teams: TEAMS,
  lines: [{ amountMinor: 200, referenceMinor: 1000 }],
  utilisation: parts(5, 50, 45),
  workstations: { total: 5, allocated: 5 },
};
const A_OCT: EvaluationData = { uses: [use('a0', 'm1', '2026-10-03T09:00')], teams: TEAMS, utilisation: parts(10, 100, 20) };
const B_OCT: EvaluationData = {};

const row = (rows: readonly ReportRow[], id: string): ReportRow => {
  const r = rows.find((x) => x.id === id);
  if (!r) throw new Error(`no row ${id}`);
  return r;
};

describe('report: two sites, November 2026 against October', () => {
  const r = report({ kind: 'month', key: '2026-11', timezone: SH, sites: [{ siteId: 'a', current: A, previous: A_OCT }, { siteId: 'b', current: B, previous: B_OCT }] });

  it('names the periods and has every indicator of the catalogue, in its order, per site and in total', () => {
    expect(r.period.key).toBe('2026-11');
    expect(r.previous).toMatchObject({ kind: 'month', key: '2026-10', to: NOV.from });
    expect(r.sites).toEqual(['a', 'b']);
    for (const s of [...r.bySite, r.total]) expect(s.rows.map((x) => x.id)).toEqual(INDICATORS.map((d) => d.id));
    expect(row(r.total.rows, 'members-served')).toMatchObject({ nameZh: '服务创业者数量', nameEn: 'Entrepreneurs served', unit: 'people' });
  });

  it('members served: distinct across sites (union), not summed', () => {
    // a: m1, m2 (uses), m1, m3 (s1) → 3. b: m2, m5 (uses), m1, m3 (s1), m5 (s2) → 4. Together {m1, m2, m3, m5} = 4, not 7.
    expect(row(r.bySite[0]!.rows, 'members-served').value).toBe(3);
    expect(row(r.bySite[1]!.rows, 'members-served').value).toBe(4);
    const total = row(r.total.rows, 'members-served');
    // Previous: a's October use by m1 → 1; b gave nothing for October. Change 4 − 1 = 3, relative 3 / 1 = 3.
    // Evidence: uses a1, a2, b1, b2 = 4; s1 once (shared) m1, m3 = 2; s2 m5 = 1 → 7.
    expect(total).toMatchObject({ value: 4, previous: 1, change: { absolute: 3, relative: 3, nullReason: null }, evidence: 7, previousEvidence: 1 });
  });

  it('a service and a team given to both sites count once', () => {
    // s1 is in both lists: 1 training, 2 participants. Teams: t1 and t2 in residence at the end (t3 left in October), not 4.
    expect(row(r.total.rows, 'services-training-deliveries').value).toBe(1);
    expect(row(r.total.rows, 'services-training-participants').value).toBe(2);
    expect(row(r.total.rows, 'teams-in-residence').value).toBe(2);
    expect(row(r.total.rows, 'teams-admitted').value).toBe(1);
    expect(row(r.total.rows, 'enterprises-registered').value).toBe(1);
    // October: t1 and t3 in residence at 10-31? t3 left 10-20 → t1 only; t3's exit is October's.
    expect(row(r.total.rows, 'teams-in-residence').previous).toBe(1);
    expect(row(r.total.rows, 'teams-exited')).toMatchObject({ value: 0, previous: 1, change: { absolute: -1, relative: -1 } });
    // Events and trainings: s1 + s2 = 2, attendance 2 + (1 + 20) = 23.
    expect(row(r.total.rows, 'events-and-trainings').value).toBe(2);
    expect(row(r.total.rows, 'events-and-trainings-attendance').value).toBe(23);
  });

  it('rates from summed parts, never averaged', () => {
    // Occupancy: a 10 h / 100 h = 0.1, b 45 / 50 = 0.9; together 55 / 150 = 0.3667 (the average of rates would be 0.5).
    expect(row(r.bySite[0]!.rows, 'workstation-occupancy').value).toBe(0.1);
    expect(row(r.bySite[1]!.rows, 'workstation-occupancy').value).toBe(0.9);
    expect(row(r.total.rows, 'workstation-occupancy')).toMatchObject({ value: 0.3667, numerator: 55 * H, denominator: 150 * H, previous: 0.2, evidence: 15 });
    // Workstations 10 + 5 = 15; allocated 6 + 5 = 11 → 0.7333 (not (0.6 + 1) / 2 = 0.8).
    expect(row(r.total.rows, 'workstations').value).toBe(15);
    expect(row(r.total.rows, 'workstation-allocation')).toMatchObject({ value: 0.7333, numerator: 11, denominator: 15 });
    // Low cost: a 1 of 2 lines free or subsidised, b 1 of 1 → 2 / 3 = 0.6667 (not 0.75).
    // Given away: reference 5000 + 1000 + 1000 = 7000, fees 0 + 1000 + 200 = 1200 → 5800; rate 5800 / 7000 = 0.8286.
    expect(row(r.total.rows, 'low-cost-share').value).toBe(0.6667);
    expect(row(r.total.rows, 'value-given-away').value).toBe(5800);
    expect(row(r.total.rows, 'subsidy-rate').value).toBe(0.8286);
  });

  it('what no site supplied is null with its reason, and so is its change', () => {
    // October: no lines anywhere.
    expect(row(r.total.rows, 'value-given-away')).toMatchObject({ previous: null, change: { absolute: null, relative: null, nullReason: 'no-previous' } });
    // No machines anywhere: a rate over zero available time.
    expect(row(r.total.rows, 'machine-utilisation')).toMatchObject({ value: null, nullReason: 'zero-denominator' });
  });

  it('details: exit reasons and survival of the pooled teams', () => {
    expect(r.total.previousDetails.teams?.exitReasons).toEqual([{ reason: 'funding', count: 1 }]);
    // Teams as of 2026-12-01: t3 failed after 353 days (2025-11-01 → 2026-10-20), t1 censored at 325, t2 at 26.
    // 6 months (183 days): no exit yet → 1, at risk t1, t3. 12 months (365): t3 exited at 353 with t1 (325) already censored → 1 − 1/1 = 0.
    expect(row(r.total.rows, 'survival-6m')).toMatchObject({ value: 1, evidence: 3 });
    expect(row(r.total.rows, 'survival-12m')).toMatchObject({ value: 0 });
  });
});

function walkNumbers(x: unknown, visit: (n: number) => void): void {
  if (typeof x === 'number') visit(x);
  else if (Array.isArray(x)) for (const v of x) walkNumbers(v, visit);
  else if (x instanceof Map) for (const v of x.values()) walkNumbers(v, visit);
  else if (x !== null && typeof x === 'object') for (const v of Object.values(x)) walkNumbers(v, visit);
}

describe('a period with no data', () => {
  it('empty inputs: counts are 0, rates and survival null with a reason, no NaN anywhere', () => {
    const e = evaluate(NOV, { uses: [], services: [], teams: [], lines: [], utilisation: ZERO_PARTS, workstations: { total: 0, allocated: 0 }, bookings: [] });
    for (const d of INDICATORS) {
      const v = e.values[d.id]!;
      if (d.unit === 'ratio') expect([d.id, v.value, v.nullReason]).toEqual([d.id, null, d.group === 'survival' ? 'no-subjects' : 'zero-denominator']);
      else expect([d.id, v.value, v.nullReason]).toEqual([d.id, 0, null]);
    }
    walkNumbers(e, (n) => expect(Number.isFinite(n)).toBe(true));
  });

  it('nothing supplied: every indicator null, not-supplied; the report has nulls and no NaN', () => {
    const e = evaluate(NOV, {});
    for (const d of INDICATORS) expect(e.values[d.id]).toEqual({ value: null, evidence: 0, nullReason: 'not-supplied' });
    const r = report({ kind: 'quarter', key: '2026-Q4', timezone: SH, sites: [{ siteId: 'a', current: {}, previous: {} }] });
    walkNumbers(r, (n) => expect(Number.isFinite(n)).toBe(true));
    expect(r.total.rows.every((x) => x.value === null && x.change.absolute === null)).toBe(true);
  });
});

describe('merging', () => {
  it('refuses one team given with different contents by two sites', () => {
    expect(() => mergeData([{ teams: [TEAMS[0]!] }, { teams: [{ ...TEAMS[0]!, status: 'exited' }] }])).toThrow(/team t1/);
  });
  it('refuses a site given twice', () => {
    expect(() => report({ kind: 'month', key: '2026-11', timezone: SH, sites: [{ siteId: 'a', current: {}, previous: {} }, { siteId: 'a', current: {}, previous: {} }] })).toThrow(RangeError);
  });
});

describe('property: one site aggregated alone equals that site', () => {
  const day = fc.integer({ min: 0, max: 900 }).map((d) => new Date(Date.UTC(2024, 5, 1) + d * 86_400_000).toISOString().slice(0, 10));
  const instant = fc.integer({ min: sh('2026-09-15T00:00'), max: sh('2026-12-15T00:00') });
  const member = fc.constantFrom('m1', 'm2', 'm3', 'm4');
  const teamId = fc.constantFrom('t1', 't2', 't3');
  const data: fc.Arbitrary<EvaluationData> = fc.record(
    {
      uses: fc.array(fc.record({ id: fc.string(), memberId: fc.option(member), teamId: fc.option(teamId), start: instant, dur: fc.integer({ min: 0, max: 10 * H }) }).map(({ dur, ...u }) => ({ ...u, end: u.start + dur }))),
      services: fc.uniqueArray(
        fc.record({ id: fc.string(), kind: fc.constantFrom('training', 'mentoring', 'event', 'technical', 'investment'), startedAt: instant, minutes: fc.nat(300), memberIds: fc.array(member), externalParticipants: fc.nat(50), teamId: fc.option(teamId) }),
        { selector: (s) => s.id },
      ),
      memberTeams: fc.array(fc.tuple(member, teamId)).map((l) => new Map(l)),
      teams: fc.uniqueArray(
        fc.record({ id: fc.string(), admittedOn: day, status: fc.constantFrom('incubating', 'graduated', 'exited'), exitOn: fc.option(day), exitReason: fc.option(fc.constantFrom('funding', 'moved')), graduatedOn: fc.option(day), enterpriseRegisteredOn: fc.option(day), investments: fc.array(fc.record({ on: day, amountMinor: fc.option(fc.nat(1_000_000)) }), { maxLength: 2 }) }),
        { selector: (t) => t.id },
      ),
      lines: fc.array(fc.record({ amountMinor: fc.integer({ min: -1000, max: 10_000 }), referenceMinor: fc.nat(10_000), kind: fc.constantFrom('charge' as const, 'adjustment' as const) })),
      utilisation: fc.record({ desks: fc.nat(50), availableDeskMs: fc.nat(1e9), occupiedDeskMs: fc.nat(1e9), machines: fc.nat(5), availableMachineMs: fc.nat(1e9), runningMachineMs: fc.nat(1e9), machineSessions: fc.nat(100), labMachines: fc.nat(5), availableLabMachineMs: fc.nat(1e9), runningLabMachineMs: fc.nat(1e9), labMachineSessions: fc.nat(100) }),
      workstations: fc.record({ total: fc.nat(50), allocated: fc.option(fc.nat(50)) }),
    },
    { requiredKeys: [] },
  );

  it('total rows and details equal the site’s, and nothing is NaN', () => {
    fc.assert(
      fc.property(data, data, (current, previous) => {
        const r = report({ kind: 'month', key: '2026-11', timezone: SH, sites: [{ siteId: 'only', current, previous }] });
        expect(r.total.rows).toEqual(r.bySite[0]!.rows);
        expect(r.total.details).toEqual(r.bySite[0]!.details);
        walkNumbers(r, (n) => expect(Number.isNaN(n)).toBe(false));
      }),
      { numRuns: 100 },
    );
  });
});
