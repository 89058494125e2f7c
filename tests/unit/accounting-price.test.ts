/**
 * core/accounting/price.ts: hand-computed statements for each rule
 * (increments and rounding, starting fee, quota running out mid-session,
 * daily and monthly caps, a rate change mid-month, a session across midnight
 * and the month end, team vs personal billing, free-time grants, overrides,
 * kWh), the worked example of docs/accounting.md, and properties: any input
 * order gives the same statements; pricing months one by one (or from the
 * middle of a month) gives the lines of pricing them together.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { divRound, monthPeriod, priceStatements, resourceClassOf, type FreeTimeGrant, type MemberBilling, type NoShowBooking, type PricingInput, type PricingResources, type PricingResult, type StatementLine } from '../../core/accounting/price.js';
import { parseRateCard, type RateCard, type RateCardInput } from '../../core/accounting/rates.js';
import type { UsageSession } from '../../core/usage/sessioniser.js';

const SH = 'Asia/Shanghai';
/** Local wall time in Shanghai (UTC+8, no DST) as an instant. */
const sh = (local: string): number => Date.parse(`${local}:00+08:00`);
const NOV = monthPeriod(SH, '2026-11');
const DEC = monthPeriod(SH, '2026-12');

const RESOURCES: PricingResources = {
  desks: { 'd-hot': { kind: 'hot' }, 'd-fixed': { kind: 'fixed' } },
  spaces: { cowork: { kind: 'open-space' }, lab1: { kind: 'lab' }, meet: { kind: 'room' } },
  machines: { laser1: { class: 'laser-cutter' }, laser2: { class: 'laser-cutter' }, cnc1: { class: 'cnc' }, printer1: { class: '3d-printer' } },
};

const BASE: RateCardInput = {
  versions: [
    {
      effectiveFrom: '2026-01-01',
      rates: [
        { resourceClass: 'desk:hot', unit: 'day', priceMinor: 500, referencePriceMinor: 5000 },
        { resourceClass: 'desk:fixed', unit: 'day', priceMinor: 800, referencePriceMinor: 6000 },
        { resourceClass: 'space:open-space', unit: 'day', priceMinor: 500, referencePriceMinor: 5000 },
        { resourceClass: 'machine:laser-cutter', unit: 'hour', priceMinor: 3000, referencePriceMinor: 12000, incrementMinutes: 6, rounding: 'up' },
        { resourceClass: 'machine:cnc', unit: 'hour', priceMinor: 6000, referencePriceMinor: 20000, startingFeeMinor: 1000 },
        { resourceClass: 'machine:3d-printer', unit: 'kwh', priceMinor: 100, referencePriceMinor: 150 },
      ],
    },
  ],
};

function card(edit?: (c: RateCardInput) => void): RateCard {
  const c = structuredClone(BASE);
  edit?.(c);
  const parsed = parseRateCard(c);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.card;
}
const rateOf = (c: RateCardInput, cls: string) => c.versions[0]!.rates.find((r) => r.resourceClass === cls)!;

const MEMBERS: Record<string, MemberBilling> = {
  m1: { planId: 'basic', group: null, teamId: null, billTo: 'self' },
  inc: { planId: 'incubated', group: null, teamId: 'team-a', billTo: 'team' },
};
const PLANS = { basic: { quotas: {} }, incubated: { quotas: { 'machine:laser-cutter': 10 } } };

function session(kind: UsageSession['kind'], resource: string, memberId: string | null, from: string, to: string, extra: Partial<UsageSession> = {}): UsageSession {
  const start = sh(from);
  return {
    kind,
    id: `${kind}:${resource}${memberId ? `:${memberId}` : ''}:${start}`,
    resource,
    space: null,
    memberId,
    teamId: null,
    start,
    end: sh(to),
    endInferred: false,
    endReason: kind === 'machine' ? 'idle' : kind === 'desk' ? 'vacated' : 'exit',
    runningMs: null,
    idleMs: null,
    energyWh: null,
    accessSessionId: null,
    evidence: { first: `k:${start}:a`, last: `k:${start}:z`, count: 2 },
    ...extra,
  };
}
const laser = (member: string, from: string, to: string, extra: Partial<UsageSession> = {}) => session('machine', 'laser1', member, from, to, extra);

function run(sessions: UsageSession[], over: Partial<PricingInput> = {}): PricingResult {
  return priceStatements({ sessions, resources: RESOURCES, members: MEMBERS, plans: PLANS, rateCard: card(), timezone: SH, from: NOV.from, to: NOV.to, ...over });
}
/** The lines of one party's statement, reduced to the fields a case checks. */
function lines(r: PricingResult, id = 'm1', kind: 'member' | 'team' = 'member') {
  const st = r.statements.find((s) => s.party.kind === kind && s.party.id === id);
  return (st?.lines ?? []).map((l) => ({
    date: l.date,
    quantity: l.quantity,
    free: l.freeQuantity,
    granted: l.grantedQuantity,
    charged: l.chargedQuantity,
    fee: l.startingFeeMinor,
    amount: l.amountMinor,
    reference: l.referenceMinor,
    subsidy: l.subsidyMinor,
    cap: l.capApplied,
    version: l.rateVersion,
  }));
}
const pick = (ls: ReturnType<typeof lines>, ...keys: (keyof ReturnType<typeof lines>[number])[]) => ls.map((l) => Object.fromEntries(keys.map((k) => [k, l[k]])));

describe('divRound (integer money and quantities)', () => {
  it.each([
    [25, 6, 'up', 5],
    [25, 6, 'nearest', 4],
    [27, 6, 'nearest', 5],
    [27, 6, 'down', 4],
    [24, 6, 'up', 4],
    [0, 6, 'up', 0],
  ] as const)('%i / %i rounded %s is %i', (n, d, mode, want) => {
    expect(divRound(n, d, mode)).toBe(want);
  });
});

describe('monthPeriod', () => {
  it('November 2026 in Shanghai starts and ends at local midnight', () => {
    expect(NOV).toEqual({ from: Date.parse('2026-10-31T16:00:00Z'), to: Date.parse('2026-11-30T16:00:00Z') });
  });
});

describe('resource classes', () => {
  it.each([
    [session('desk', 'd-hot', null, '2026-11-02T09:00', '2026-11-02T10:00'), 'desk:hot'],
    [session('desk', 'd-fixed', null, '2026-11-02T09:00', '2026-11-02T10:00'), 'desk:fixed'],
    [session('presence', 'cowork', 'm1', '2026-11-02T09:00', '2026-11-02T10:00'), 'space:open-space'],
    [session('presence', 'lab1', 'm1', '2026-11-02T09:00', '2026-11-02T10:00'), 'space:lab'],
    [session('presence', 'meet', 'm1', '2026-11-02T09:00', '2026-11-02T10:00'), 'room'],
    [laser('m1', '2026-11-02T09:00', '2026-11-02T10:00'), 'machine:laser-cutter'],
    [session('machine', 'ghost', 'm1', '2026-11-02T09:00', '2026-11-02T10:00'), null],
  ])('%#: %s', (s, want) => {
    expect(resourceClassOf(s, RESOURCES)).toBe(want);
  });
});

describe('hour unit: increments and rounding', () => {
  // Laser 3000 fen/h (50 fen a minute) in 6-minute units, reference 12000 fen/h (200 a minute).
  it.each([
    ['up', '14:27', 30, 1500, 6000],
    ['nearest', '14:27', 30, 1500, 6000], // 27 min = 4.5 units: a half rounds up
    ['nearest', '14:26', 24, 1200, 4800], // 4.33 units → 4
    ['down', '14:27', 24, 1200, 4800],
    ['up', '14:24', 24, 1200, 4800], // whole units are not rounded
  ] as const)('rounding %s, 14:00–%s: %i min, %i fen, reference %i', (rounding, end, minutes, amount, reference) => {
    const r = run([laser('m1', '2026-11-02T14:00', `2026-11-02T${end}`)], { rateCard: card((c) => (rateOf(c, 'machine:laser-cutter').rounding = rounding)) });
    expect(pick(lines(r), 'quantity', 'charged', 'amount', 'reference', 'subsidy')).toEqual([{ quantity: minutes, charged: minutes, amount, reference, subsidy: reference - amount }]);
  });

  it('a minimum: a 3-minute job is billed as 15 minutes', () => {
    const r = run([laser('m1', '2026-11-02T14:00', '2026-11-02T14:03')], { rateCard: card((c) => (rateOf(c, 'machine:laser-cutter').minimumMinutes = 15)) });
    // 3 min → one 6-minute unit → raised to 15 min: 15 × 50 = 750.
    expect(pick(lines(r), 'quantity', 'amount')).toEqual([{ quantity: 15, amount: 750 }]);
  });
});

describe('starting fee', () => {
  // CNC 6000 fen/h (100 a minute), per minute, starting fee 1000, reference 20000/h.
  it('is charged once per session, on its first piece', () => {
    const r = run([session('machine', 'cnc1', 'm1', '2026-11-02T10:00', '2026-11-02T10:45'), session('machine', 'cnc1', 'm1', '2026-11-05T23:30', '2026-11-06T00:30')]);
    expect(pick(lines(r), 'date', 'quantity', 'fee', 'amount', 'reference', 'subsidy')).toEqual([
      { date: '2026-11-02', quantity: 45, fee: 1000, amount: 5500, reference: 15000, subsidy: 9500 },
      { date: '2026-11-05', quantity: 30, fee: 1000, amount: 4000, reference: 10000, subsidy: 6000 },
      { date: '2026-11-06', quantity: 30, fee: 0, amount: 3000, reference: 10000, subsidy: 7000 },
    ]);
  });
});

describe('monthly quota', () => {
  it('is used in time order and runs out in the middle of a session', () => {
    // Incubated: 10 free laser hours (600 min) a month. Billed to the team the sessions recorded.
    const r = run([
      laser('inc', '2026-11-12T09:00', '2026-11-12T09:30', { teamId: 'team-a' }),
      laser('inc', '2026-11-10T09:00', '2026-11-10T12:00', { teamId: 'team-a' }),
      laser('inc', '2026-11-03T09:00', '2026-11-03T17:00', { teamId: 'team-a' }),
    ]);
    expect(pick(lines(r, 'team-a', 'team'), 'date', 'quantity', 'free', 'charged', 'amount', 'reference', 'subsidy')).toEqual([
      { date: '2026-11-03', quantity: 480, free: 480, charged: 0, amount: 0, reference: 96000, subsidy: 96000 },
      // 120 minutes of quota left: 180 = 120 free + 60 charged (3000).
      { date: '2026-11-10', quantity: 180, free: 120, charged: 60, amount: 3000, reference: 36000, subsidy: 33000 },
      { date: '2026-11-12', quantity: 30, free: 0, charged: 30, amount: 1500, reference: 6000, subsidy: 4500 },
    ]);
  });

  it('two sessions starting at the same instant take the quota in session id order, whatever the input order', () => {
    const a = laser('inc', '2026-11-03T09:00', '2026-11-03T17:00', { teamId: 'team-a' });
    const b = session('machine', 'laser2', 'inc', '2026-11-03T09:00', '2026-11-03T17:00', { teamId: 'team-a' });
    for (const order of [[a, b], [b, a]]) {
      const r = run(order);
      expect(r.statements[0]!.lines.map((l) => [l.sessions[0]!.id, l.freeQuantity, l.chargedQuantity, l.amountMinor])).toEqual([
        [a.id, 480, 0, 0],
        [b.id, 120, 360, 18000],
      ]);
    }
  });

  it('applies only while the plan is valid: quota and plan price end with the plan, and start with it', () => {
    // The plan runs 2026-11-05 .. 2026-11-10 (local dates, inclusive). 4 h on the 4th: before the plan,
    // 3000/h → 12000. 4 h on the 10th: inside, free (quota 600 min). 2 h on the 11th: after, 6000.
    const members: Record<string, MemberBilling> = { inc: { ...MEMBERS.inc!, billTo: 'self', planValidFrom: '2026-11-05', planValidTo: '2026-11-10' } };
    const rc = card((c) => {
      rateOf(c, 'machine:laser-cutter').overrides = [{ planId: 'incubated', priceMinor: 1500 }];
    });
    const r = run([laser('inc', '2026-11-04T09:00', '2026-11-04T13:00'), laser('inc', '2026-11-10T09:00', '2026-11-10T13:00'), laser('inc', '2026-11-11T09:00', '2026-11-11T11:00')], { members, rateCard: rc });
    expect(pick(lines(r, 'inc'), 'date', 'free', 'charged', 'amount')).toEqual([
      { date: '2026-11-04', free: 0, charged: 240, amount: 12000 },
      { date: '2026-11-10', free: 240, charged: 0, amount: 0 },
      { date: '2026-11-11', free: 0, charged: 120, amount: 6000 },
    ]);
    // A session across the plan's last midnight: the part on the 10th is free, the part on the 11th is not.
    const across = run([laser('inc', '2026-11-10T23:00', '2026-11-11T01:00')], { members, rateCard: rc });
    expect(pick(lines(across, 'inc'), 'date', 'free', 'charged', 'amount')).toEqual([
      { date: '2026-11-10', free: 60, charged: 0, amount: 0 },
      { date: '2026-11-11', free: 0, charged: 60, amount: 3000 },
    ]);
  });

  it('starts again each month', () => {
    const r = run([laser('inc', '2026-11-30T08:00', '2026-11-30T19:00', { teamId: 'team-a' }), laser('inc', '2026-12-01T09:00', '2026-12-01T10:00', { teamId: 'team-a' })], { to: DEC.to });
    expect(pick(lines(r, 'team-a', 'team'), 'date', 'free', 'charged', 'amount')).toEqual([
      { date: '2026-11-30', free: 600, charged: 60, amount: 3000 },
      { date: '2026-12-01', free: 60, charged: 0, amount: 0 },
    ]);
  });
});

describe('caps', () => {
  it('daily cap per member and class: the line that reaches it is cut, the next day starts afresh', () => {
    const r = run(
      [laser('m1', '2026-11-02T09:00', '2026-11-02T12:00'), laser('m1', '2026-11-02T13:00', '2026-11-02T14:00'), laser('m1', '2026-11-02T15:00', '2026-11-02T15:30'), laser('m1', '2026-11-03T09:00', '2026-11-03T10:00')],
      { rateCard: card((c) => (rateOf(c, 'machine:laser-cutter').dailyCapMinor = 10000)) },
    );
    expect(pick(lines(r), 'date', 'amount', 'reference', 'subsidy', 'cap')).toEqual([
      { date: '2026-11-02', amount: 9000, reference: 36000, subsidy: 27000, cap: null },
      { date: '2026-11-02', amount: 1000, reference: 12000, subsidy: 11000, cap: 'daily' }, // 3000 due, 1000 left under the cap
      { date: '2026-11-02', amount: 0, reference: 6000, subsidy: 6000, cap: 'daily' },
      { date: '2026-11-03', amount: 3000, reference: 12000, subsidy: 9000, cap: null },
    ]);
    expect(r.statements[0]!.totals).toEqual({ lines: 4, grossMinor: 16500, amountMinor: 13000, referenceMinor: 66000, subsidyMinor: 53000 });
  });

  it('monthly cap per member and class (day unit): the fourth day is free', () => {
    const days = ['02', '03', '04', '05'].map((d) => session('presence', 'cowork', 'm1', `2026-11-${d}T09:00`, `2026-11-${d}T18:00`));
    const r = run(days, { rateCard: card((c) => (rateOf(c, 'space:open-space').monthlyCapMinor = 1500)) });
    expect(pick(lines(r), 'date', 'quantity', 'amount', 'reference', 'subsidy', 'cap')).toEqual([
      { date: '2026-11-02', quantity: 1, amount: 500, reference: 5000, subsidy: 4500, cap: null },
      { date: '2026-11-03', quantity: 1, amount: 500, reference: 5000, subsidy: 4500, cap: null },
      { date: '2026-11-04', quantity: 1, amount: 500, reference: 5000, subsidy: 4500, cap: null },
      { date: '2026-11-05', quantity: 1, amount: 0, reference: 5000, subsidy: 5000, cap: 'monthly' },
    ]);
  });
});

describe('day unit', () => {
  it('one line per member and local day, listing every session of that day', () => {
    const r = run([session('presence', 'cowork', 'm1', '2026-11-02T09:00', '2026-11-02T12:00'), session('presence', 'cowork', 'm1', '2026-11-02T14:00', '2026-11-02T18:00')]);
    const st = r.statements[0]!;
    expect(st.lines).toHaveLength(1);
    expect(st.lines[0]!.sessions.map((s) => s.id)).toEqual([`presence:cowork:m1:${sh('2026-11-02T09:00')}`, `presence:cowork:m1:${sh('2026-11-02T14:00')}`]);
    expect(st.lines[0]!.sessions[0]).toEqual({ id: `presence:cowork:m1:${sh('2026-11-02T09:00')}`, first: `k:${sh('2026-11-02T09:00')}:a`, last: `k:${sh('2026-11-02T09:00')}:z`, count: 2 });
    expect(pick(lines(r), 'quantity', 'amount')).toEqual([{ quantity: 1, amount: 500 }]);
  });

  it('desks: hot-desk sessions have no member and are unbilled; a fixed desk is billed to its holder', () => {
    const hot = session('desk', 'd-hot', null, '2026-11-02T09:00', '2026-11-02T12:00');
    const fixed = session('desk', 'd-fixed', null, '2026-11-02T09:00', '2026-11-02T12:00');
    const without = run([hot, fixed]);
    expect(without.statements).toEqual([]);
    expect(without.unbilled).toEqual([
      { sessionId: fixed.id, reason: 'no-member' },
      { sessionId: hot.id, reason: 'no-member' },
    ]);
    const withHolder = run([hot, fixed], { deskHolders: { 'd-fixed': 'm1' } });
    expect(pick(lines(withHolder), 'date', 'amount', 'reference')).toEqual([{ date: '2026-11-02', amount: 800, reference: 6000 }]);
    expect(withHolder.unbilled).toEqual([{ sessionId: hot.id, reason: 'no-member' }]);
  });
});

describe('rate versions and periods', () => {
  it('a rate change mid-month: each piece takes the version of its local date', () => {
    const rc = card((c) => {
      const v2 = structuredClone(c.versions[0]!);
      v2.effectiveFrom = '2026-11-16';
      rateOf({ versions: [v2] }, 'machine:laser-cutter').priceMinor = 4000;
      c.versions.push(v2);
    });
    const r = run([laser('m1', '2026-11-15T23:00', '2026-11-16T01:00')], { rateCard: rc });
    expect(pick(lines(r), 'date', 'quantity', 'amount', 'version')).toEqual([
      { date: '2026-11-15', quantity: 60, amount: 3000, version: '2026-01-01' },
      { date: '2026-11-16', quantity: 60, amount: 4000, version: '2026-11-16' },
    ]);
  });

  it('a session across midnight and the month end is billed in each month for its part there, the starting fee in the first', () => {
    const s = session('machine', 'cnc1', 'm1', '2026-11-30T22:00', '2026-12-01T02:00');
    expect(pick(lines(run([s])), 'date', 'quantity', 'fee', 'amount')).toEqual([{ date: '2026-11-30', quantity: 120, fee: 1000, amount: 13000 }]);
    expect(pick(lines(run([s], DEC)), 'date', 'quantity', 'fee', 'amount')).toEqual([
      { date: '2026-12-01', quantity: 120, fee: 0, amount: 12000 },
    ]);
    expect(run([s], { from: NOV.from, to: DEC.to }).statements[0]!.totals.amountMinor).toBe(25000);
  });

  it('any period: a period starting mid-session bills only the part inside it, without the starting fee', () => {
    const s = session('machine', 'cnc1', 'm1', '2026-11-10T09:00', '2026-11-10T11:00');
    const r = run([s], { from: sh('2026-11-10T10:00'), to: sh('2026-11-10T10:30') });
    expect(r.statements[0]!.lines.map((l) => [l.from, l.to, l.quantity, l.startingFeeMinor, l.amountMinor])).toEqual([[sh('2026-11-10T10:00'), sh('2026-11-10T10:30'), 30, 0, 3000]]);
  });

  it('refuses a session given twice', () => {
    const s = laser('m1', '2026-11-02T09:00', '2026-11-02T10:00');
    expect(() => run([s, s])).toThrow(/given twice/);
  });

  it('usage with no rate for its class or date is listed as unpriced, not dropped', () => {
    const s = session('presence', 'lab1', 'm1', '2026-11-02T09:00', '2026-11-02T10:00');
    const r = run([s]);
    expect(r.statements).toEqual([]);
    expect(r.unpriced).toEqual([{ sessionId: s.id, memberId: 'm1', resourceClass: 'space:lab', date: '2026-11-02', reason: 'no-rate' }]);
  });
});

describe('who pays', () => {
  it("a member billing through a team: the team the session recorded, not the member's current team", () => {
    const members: Record<string, MemberBilling> = {
      a: { planId: 'basic', group: null, teamId: 'team-new', billTo: 'team' },
      b: { planId: 'basic', group: null, teamId: 'team-old', billTo: 'self' },
    };
    const r = run(
      [
        laser('a', '2026-11-02T09:00', '2026-11-02T10:00', { teamId: 'team-old' }),
        laser('b', '2026-11-02T11:00', '2026-11-02T12:00', { teamId: 'team-old' }),
        laser('a', '2026-11-03T09:00', '2026-11-03T10:00', { teamId: null }),
      ],
      { members },
    );
    expect(r.statements.map((s) => [s.party.kind, s.party.id, s.lines.map((l) => `${l.memberId}/${l.teamId ?? '-'}/${l.date}`), s.totals.amountMinor])).toEqual([
      ['member', 'a', ['a/-/2026-11-03'], 3000], // no team recorded: personal
      ['member', 'b', ['b/team-old/2026-11-02'], 3000], // bills to self whatever the team
      ['team', 'team-old', ['a/team-old/2026-11-02'], 3000],
    ]);
  });

  it('sessions of unknown members or resources are unbilled, with the reason', () => {
    const r = run([laser('nobody', '2026-11-02T09:00', '2026-11-02T10:00'), session('machine', 'ghost', 'm1', '2026-11-02T09:00', '2026-11-02T10:00')]);
    expect(r.unbilled.map((u) => u.reason)).toEqual(['unknown-resource', 'unknown-member']);
  });
});

describe('free-time grants', () => {
  const grant: FreeTimeGrant = { memberId: 'm1', resourceClass: 'machine:laser-cutter', from: sh('2026-11-10T10:00'), to: sh('2026-11-10T11:00'), reason: 'teaching the laser induction' };

  it('make the usage they cover free, counted as subsidy', () => {
    const r = run([laser('m1', '2026-11-10T09:30', '2026-11-10T11:30')], { grants: [grant] });
    expect(pick(lines(r), 'quantity', 'granted', 'charged', 'amount', 'reference', 'subsidy')).toEqual([
      { quantity: 30, granted: 0, charged: 30, amount: 1500, reference: 6000, subsidy: 4500 },
      { quantity: 60, granted: 60, charged: 0, amount: 0, reference: 12000, subsidy: 12000 },
      { quantity: 30, granted: 0, charged: 30, amount: 1500, reference: 6000, subsidy: 4500 },
    ]);
    expect(r.statements[0]!.lines[1]!.grant).toBe('teaching the laser induction');
  });

  it('do not use up the quota', () => {
    const r = run([laser('q', '2026-11-10T09:30', '2026-11-10T11:30')], {
      grants: [{ ...grant, memberId: 'q' }],
      members: { q: { planId: 'one', group: null, teamId: null, billTo: 'self' } },
      plans: { one: { quotas: { 'machine:laser-cutter': 1 } } },
    });
    expect(pick(lines(r, 'q'), 'free', 'granted', 'charged')).toEqual([
      { free: 30, granted: 0, charged: 0 },
      { free: 0, granted: 60, charged: 0 },
      { free: 30, granted: 0, charged: 0 },
    ]);
  });
});

describe('overrides by plan and group', () => {
  it.each([
    ['no match', 'basic', null, 3000, null],
    ['group', 'basic', 'student', 2000, 'group:student'],
    ['plan', 'incubated', null, 1500, 'plan:incubated'],
    ['plan and group', 'incubated', 'student', 1000, 'plan:incubated+group:student'],
  ] as const)('%s: one hour costs %#', (_name, planId, group, amount, override) => {
    const rc = card((c) => {
      rateOf(c, 'machine:laser-cutter').overrides = [
        { planId: 'incubated', priceMinor: 1500 },
        { group: 'student', priceMinor: 2000 },
        { planId: 'incubated', group: 'student', priceMinor: 1000 },
      ];
    });
    const r = run([laser('x', '2026-11-02T09:00', '2026-11-02T10:00')], { rateCard: rc, members: { x: { planId, group, teamId: null, billTo: 'self' } }, plans: { basic: { quotas: {} }, incubated: { quotas: {} } } });
    const l = r.statements[0]!.lines[0]!;
    expect([l.unitPriceMinor, l.amountMinor, l.referenceMinor, l.subsidyMinor, l.override]).toEqual([amount, amount, 12000, 12000 - amount, override]);
  });
});

describe('kWh unit', () => {
  it('energy in whole Wh (rounded up), money to the nearest fen', () => {
    // 1234.5 Wh → 1235 Wh; 1235 × 100 / 1000 = 123.5 → 124; reference 1235 × 150 / 1000 = 185.25 → 185.
    const r = run([session('machine', 'printer1', 'm1', '2026-11-02T10:00', '2026-11-02T14:00', { energyWh: 1234.5 })]);
    const l = r.statements[0]!.lines[0]!;
    expect([l.quantityUnit, l.quantity, l.amountMinor, l.referenceMinor, l.subsidyMinor]).toEqual(['wh', 1235, 124, 185, 61]);
  });

  it('a session across midnight shares its energy by time', () => {
    const r = run([session('machine', 'printer1', 'm1', '2026-11-02T22:00', '2026-11-03T04:00', { energyWh: 3000 })]);
    expect(r.statements[0]!.lines.map((l) => [l.date, l.quantity, l.amountMinor])).toEqual([
      ['2026-11-02', 1000, 100],
      ['2026-11-03', 2000, 200],
    ]);
  });

  it('a machine session without energy is unpriced', () => {
    const s = session('machine', 'printer1', 'm1', '2026-11-02T10:00', '2026-11-02T14:00');
    expect(run([s]).unpriced).toEqual([{ sessionId: s.id, memberId: 'm1', resourceClass: 'machine:3d-printer', date: '2026-11-02', reason: 'no-energy' }]);
  });
});

describe('no-show fees', () => {
  // Laser no-show fee 2000 fen (20 元); the incubated plan pays 1000, the student group nothing.
  const feeCard = card((c) => {
    const r = rateOf(c, 'machine:laser-cutter');
    r.noShowFeeMinor = 2000;
    r.overrides = [{ planId: 'incubated', noShowFeeMinor: 1000 }, { group: 'student', priceMinor: 2000, noShowFeeMinor: 0 }];
  });
  const noShow = (bookingId: string, memberId: string, from: string, to: string, resourceClass = 'machine:laser-cutter'): NoShowBooking => ({ bookingId, memberId, resourceClass, from: sh(from), to: sh(to) });

  it('a line per no-show: one booking at the fee, reference = amount, subsidy 0, beside the usage', () => {
    const r = run([laser('m1', '2026-11-05T09:00', '2026-11-05T10:00')], { rateCard: feeCard, noShows: [noShow('bk-1', 'm1', '2026-11-05T14:00', '2026-11-05T16:00')] });
    const st = r.statements[0]!;
    expect(st.lines.map((l) => [l.quantityUnit, l.quantity, l.chargedQuantity, l.unitPriceMinor, l.startingFeeMinor, l.amountMinor, l.referenceMinor, l.subsidyMinor, l.sessions.length, l.booking ?? null])).toEqual([
      ['minute', 60, 60, 3000, 0, 3000, 12000, 9000, 1, null], // the hour used: 30 元 against 120 元
      ['booking', 1, 1, 2000, 0, 2000, 2000, 0, 0, 'bk-1'], // the two hours booked and not used: the fee, not 2 h of laser
    ]);
    const l = st.lines[1]!;
    expect([l.date, l.from, l.to, l.resourceClass, l.unit, l.rateVersion, l.override, l.capApplied]).toEqual(['2026-11-05', sh('2026-11-05T14:00'), sh('2026-11-05T16:00'), 'machine:laser-cutter', 'hour', '2026-01-01', null, null]);
    expect(st.totals).toEqual({ lines: 2, grossMinor: 5000, amountMinor: 5000, referenceMinor: 14000, subsidyMinor: 9000 });
  });

  it('no fee on the card, or a fee overridden to 0, or no rate for the class: no line', () => {
    const none = run([], { noShows: [noShow('bk-1', 'm1', '2026-11-05T14:00', '2026-11-05T16:00')] });
    expect(none.statements).toEqual([]);
    const student = run([], { rateCard: feeCard, members: { s: { planId: 'basic', group: 'student', teamId: null, billTo: 'self' } }, noShows: [noShow('bk-2', 's', '2026-11-05T14:00', '2026-11-05T16:00')] });
    expect(student.statements).toEqual([]);
    const room = run([], { rateCard: feeCard, noShows: [noShow('bk-3', 'm1', '2026-11-05T14:00', '2026-11-05T16:00', 'room')] });
    expect(room.statements).toEqual([]);
  });

  it("the member's override; billed to the team with billTo team; not subject to quota or caps", () => {
    // The incubated member has 10 free laser hours: quota does not cover a fee. A daily cap of 500 caps usage only.
    const capped = card((c) => {
      const r = rateOf(c, 'machine:laser-cutter');
      r.noShowFeeMinor = 2000;
      r.dailyCapMinor = 500;
      r.overrides = [{ planId: 'incubated', noShowFeeMinor: 1000 }];
    });
    const r = run([], { rateCard: capped, noShows: [noShow('bk-a', 'inc', '2026-11-05T14:00', '2026-11-05T15:00'), noShow('bk-b', 'inc', '2026-11-05T16:00', '2026-11-05T17:00')] });
    expect(r.statements.map((s) => [s.party.kind, s.party.id, s.lines.map((l) => [l.booking, l.memberId, l.teamId, l.freeQuantity, l.amountMinor, l.capApplied, l.override]), s.totals.amountMinor])).toEqual([
      ['team', 'team-a', [['bk-a', 'inc', 'team-a', 0, 1000, null, 'plan:incubated'], ['bk-b', 'inc', 'team-a', 0, 1000, null, 'plan:incubated']], 2000],
    ]);
  });

  it('by the local date of its start: in the period and rate version of that date; unknown members unbilled', () => {
    const versioned = card((c) => {
      rateOf(c, 'machine:laser-cutter').noShowFeeMinor = 2000;
      const v2 = structuredClone(c.versions[0]!);
      v2.effectiveFrom = '2026-11-15';
      v2.rates.find((x) => x.resourceClass === 'machine:laser-cutter')!.noShowFeeMinor = 2500;
      c.versions.push(v2);
    });
    const r = run([], {
      rateCard: versioned,
      noShows: [
        noShow('bk-oct', 'm1', '2026-10-31T23:30', '2026-11-01T01:00'), // starts in October (Shanghai time): not November's
        noShow('bk-early', 'm1', '2026-11-14T23:00', '2026-11-15T01:00'), // starts the 14th: the old fee
        noShow('bk-late', 'm1', '2026-11-15T00:00', '2026-11-15T01:00'),
        noShow('bk-dec', 'm1', '2026-12-01T00:00', '2026-12-01T01:00'), // December
        noShow('bk-ghost', 'ghost', '2026-11-15T10:00', '2026-11-15T11:00'),
      ],
    });
    expect(r.statements[0]!.lines.map((l) => [l.booking, l.date, l.amountMinor, l.rateVersion])).toEqual([
      ['bk-early', '2026-11-14', 2000, '2026-01-01'],
      ['bk-late', '2026-11-15', 2500, '2026-11-15'],
    ]);
    expect(r.unbilled).toEqual([{ sessionId: 'booking:bk-ghost', reason: 'unknown-member' }]);
  });

  it('any order of the no-shows gives the same statements', () => {
    const ns = [noShow('b2', 'm1', '2026-11-05T14:00', '2026-11-05T16:00'), noShow('b1', 'm1', '2026-11-05T14:00', '2026-11-05T15:00'), noShow('b3', 'm1', '2026-11-02T14:00', '2026-11-02T15:00')];
    const a = run([], { rateCard: feeCard, noShows: ns });
    const b = run([], { rateCard: feeCard, noShows: [...ns].reverse() });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.statements[0]!.lines.map((l) => l.booking)).toEqual(['b3', 'b1', 'b2']);
  });
});

describe('the worked example of docs/accounting.md', () => {
  it("uses the card docs/accounting.md shows", () => {
    const doc = readFileSync(new URL('../../docs/accounting.md', import.meta.url), 'utf8');
    const json = /```json\n([\s\S]*?)\n```/.exec(doc)![1]!;
    expect(parseRateCard(JSON.parse(json))).toEqual({ ok: true, card: card() });
  });

  it('an incubated member, billed through team-a, in November 2026', () => {
    const r = run([
      session('presence', 'cowork', 'inc', '2026-11-03T08:30', '2026-11-03T18:00', { teamId: 'team-a' }),
      laser('inc', '2026-11-03T09:00', '2026-11-03T17:00', { teamId: 'team-a' }),
      laser('inc', '2026-11-10T09:00', '2026-11-10T11:27', { teamId: 'team-a' }),
      laser('inc', '2026-11-12T14:00', '2026-11-12T14:50', { teamId: 'team-a' }),
    ]);
    const st = r.statements[0]!;
    expect(st.party).toEqual({ kind: 'team', id: 'team-a' });
    expect(st.currency).toBe('CNY');
    expect(st.lines.map((l) => [l.date, l.resourceClass, l.quantity, l.freeQuantity, l.chargedQuantity, l.amountMinor, l.referenceMinor, l.subsidyMinor])).toEqual([
      ['2026-11-03', 'space:open-space', 1, 0, 1, 500, 5000, 4500],
      ['2026-11-03', 'machine:laser-cutter', 480, 480, 0, 0, 96000, 96000],
      ['2026-11-10', 'machine:laser-cutter', 150, 120, 30, 1500, 30000, 28500],
      ['2026-11-12', 'machine:laser-cutter', 54, 0, 54, 2700, 10800, 8100],
    ]);
    expect(st.totals).toEqual({ lines: 4, grossMinor: 4700, amountMinor: 4700, referenceMinor: 141800, subsidyMinor: 137100 });
  });
});

// ---------------------------------------------------------------------------
// Properties

// 'nobody' is not a member, hot desks have no member and 'ghost' is not a resource: unbilled, in every order.
const MEMBER_IDS = ['m1', 'inc', 'p', 'nobody'];
const PROP_MEMBERS: Record<string, MemberBilling> = { ...MEMBERS, p: { planId: 'incubated', group: 'student', teamId: 'team-b', billTo: 'self' } };
const PROP_CARD = card((c) => {
  rateOf(c, 'machine:laser-cutter').dailyCapMinor = 12000;
  rateOf(c, 'space:open-space').monthlyCapMinor = 2000;
});
const arbSession = fc
  .record({
    what: fc.constantFrom(['machine', 'laser1'], ['machine', 'laser2'], ['machine', 'cnc1'], ['machine', 'printer1'], ['presence', 'cowork'], ['desk', 'd-fixed'], ['desk', 'd-hot'], ['machine', 'ghost']),
    member: fc.constantFrom(...MEMBER_IDS),
    team: fc.constantFrom(null, 'team-a', 'team-b'),
    // Late October to early January, on the hour, so that sessions often start together.
    startMin: fc.integer({ min: 0, max: 75 * 24 }).map((h) => h * 60),
    lenMin: fc.integer({ min: 1, max: 2 * 1440 }),
    energyWh: fc.integer({ min: 0, max: 50_000 }),
  })
  .map(({ what, member, team, startMin, lenMin, energyWh }): UsageSession => {
    const start = sh('2026-10-25T00:00') + startMin * 60_000;
    const [kind, resource] = what as ['machine' | 'presence' | 'desk', string];
    return {
      ...session(kind, resource, kind === 'desk' ? null : member, '2026-10-25T00:00', '2026-10-25T00:00'),
      id: `${kind}:${resource}:${member}:${start}`,
      teamId: team,
      start,
      end: start + lenMin * 60_000,
      energyWh: kind === 'machine' ? energyWh / 10 : null,
    };
  });
const arbSessions = fc.uniqueArray(arbSession, { selector: (s) => s.id, maxLength: 25 });
const propRun = (sessions: UsageSession[], period: { from: number; to: number }) =>
  priceStatements({ sessions, resources: RESOURCES, members: PROP_MEMBERS, plans: PLANS, rateCard: PROP_CARD, timezone: SH, grants: [{ memberId: 'p', resourceClass: 'machine:cnc', from: sh('2026-11-20T00:00'), to: sh('2026-11-27T00:00'), reason: 'workshop' }], deskHolders: { 'd-fixed': 'p' }, ...period });
const allLines = (r: PricingResult): string[] => r.statements.flatMap((s) => s.lines.map((l: StatementLine) => JSON.stringify([s.party, l])));

describe('properties', () => {
  it('any order of the input sessions gives byte-identical output', () => {
    fc.assert(
      fc.property(
        arbSessions.chain((ss) => fc.tuple(fc.constant(ss), fc.shuffledSubarray(ss, { minLength: ss.length, maxLength: ss.length }))),
        ([ss, shuffled]) => {
          expect(JSON.stringify(propRun(shuffled, NOV))).toBe(JSON.stringify(propRun(ss, NOV)));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('months priced one by one, or from mid-month, give the lines of the whole stretch priced at once', () => {
    const midNov = sh('2026-11-16T00:00');
    fc.assert(
      fc.property(arbSessions, (ss) => {
        const whole = allLines(propRun(ss, { from: NOV.from, to: DEC.to }));
        const split = [...allLines(propRun(ss, NOV)), ...allLines(propRun(ss, DEC))];
        expect([...split].sort()).toEqual([...whole].sort());
        // From mid-November: the quota and caps used earlier in the month still count.
        const late = allLines(propRun(ss, { from: midNov, to: NOV.to }));
        const lateFromWhole = whole.filter((l) => (JSON.parse(l) as [unknown, StatementLine])[1].from >= midNov && (JSON.parse(l) as [unknown, StatementLine])[1].from < NOV.to);
        expect([...late].sort()).toEqual([...lateFromWhole].sort());
      }),
      { numRuns: 100 },
    );
  });
});
