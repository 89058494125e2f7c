/**
 * core/evaluation/survival.ts: the Kaplan–Meier estimator against a small
 * example computed by hand (ties, censoring, Greenwood variance, milestones),
 * team records as subjects (graduation censored, young teams censored at the
 * evaluation date, exits after it not yet failures), cohorts, and properties:
 * the curve is non-increasing and in [0, 1], and without censoring it is the
 * share still alive.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TeamRecord } from '../../core/evaluation/inputs.js';
import { kaplanMeier, milestoneDays, survival, survivalSubject, type SurvivalSubject } from '../../core/evaluation/survival.js';
import { dayNumber } from '../../core/usage/calendar.js';

const ev = (id: string, time: number): SurvivalSubject => ({ id, time, event: true });
const cs = (id: string, time: number): SurvivalSubject => ({ id, time, event: false });

// Ten teams, follow-up in days: exits (E) at 30, 60, 60, 90; censored (C) at 45, 60, 120, 150, 200, 200.
const TEN = [ev('a', 30), cs('b', 45), ev('c', 60), ev('d', 60), cs('e', 60), ev('f', 90), cs('g', 120), cs('h', 150), cs('i', 200), cs('j', 200)];

describe('Kaplan–Meier, by hand', () => {
  // t   n  d  c   S(t)                       Greenwood Σ d/(n(n−d))            Var = S² Σ
  // 30  10 1  0   1 × 9/10 = 0.9             1/90                               0.81 × 1/90 = 0.009
  // 45   9 0  1   0.9
  // 60   8 2  1   0.9 × 6/8 = 0.675          1/90 + 2/48 = 19/360                0.455625 × 19/360 = 0.024047 → 0.024
  // 90   5 1  0   0.675 × 4/5 = 0.54         19/360 + 1/20 = 37/360              0.2916 × 37/360 = 0.02997 → 0.03
  // 120  4 0  1;  150  3 0 1;  200  2 0 2     (censored at 60 are at risk at 60: exits first)
  const km = kaplanMeier(TEN, [1, 2, 3, 6, 12]);

  it('steps', () => {
    expect(km.steps).toEqual([
      { time: 30, atRisk: 10, events: 1, censored: 0, survival: 0.9, variance: 0.009 },
      { time: 45, atRisk: 9, events: 0, censored: 1, survival: 0.9, variance: 0.009 },
      { time: 60, atRisk: 8, events: 2, censored: 1, survival: 0.675, variance: 0.024 },
      { time: 90, atRisk: 5, events: 1, censored: 0, survival: 0.54, variance: 0.03 },
      { time: 120, atRisk: 4, events: 0, censored: 1, survival: 0.54, variance: 0.03 },
      { time: 150, atRisk: 3, events: 0, censored: 1, survival: 0.54, variance: 0.03 },
      { time: 200, atRisk: 2, events: 0, censored: 2, survival: 0.54, variance: 0.03 },
    ]);
    expect([km.subjects, km.events, km.censored]).toEqual([10, 4, 6]);
  });

  it('milestones: 1, 2, 3, 6 months = 30, 61, 91, 183 days; 12 months (365) has no one left at risk', () => {
    expect([1, 2, 3, 6, 12, 24, 36].map(milestoneDays)).toEqual([30, 61, 91, 183, 365, 731, 1096]);
    expect(km.milestones).toEqual([
      // 30: the exit at 30 counts (≤ 30); at risk: all 10 have follow-up ≥ 30.
      { months: 1, days: 30, survival: 0.9, variance: 0.009, atRisk: 10, events: 1, censored: 0, nullReason: null },
      // 61: at risk 90, 120, 150, 200, 200 = 5; events 30, 60, 60 = 3; censored 45, 60 = 2.
      { months: 2, days: 61, survival: 0.675, variance: 0.024, atRisk: 5, events: 3, censored: 2, nullReason: null },
      { months: 3, days: 91, survival: 0.54, variance: 0.03, atRisk: 4, events: 4, censored: 2, nullReason: null },
      { months: 6, days: 183, survival: 0.54, variance: 0.03, atRisk: 2, events: 4, censored: 4, nullReason: null },
      { months: 12, days: 365, survival: null, variance: null, atRisk: 0, events: 4, censored: 6, nullReason: 'no-one-at-risk' },
    ]);
  });

  it('a cohort that all failed is at 0, not unknown; no subjects is null', () => {
    const km2 = kaplanMeier([ev('a', 10), ev('b', 20)], [1]);
    // 10: 1 × 1/2 = 0.5, Var = 0.25 × 1/(2·1) = 0.125; 20: 0.5 × 0/1 = 0, Greenwood's 1/(1·0) is infinite → null.
    expect(km2.steps.map((s) => [s.survival, s.variance])).toEqual([[0.5, 0.125], [0, null]]);
    expect(km2.milestones[0]).toMatchObject({ survival: 0, atRisk: 0, nullReason: null });
    expect(kaplanMeier([], [6]).milestones[0]).toEqual({ months: 6, days: 183, survival: null, variance: null, atRisk: 0, events: 0, censored: 0, nullReason: 'no-subjects' });
  });

  it('refuses a negative time', () => {
    expect(() => kaplanMeier([ev('a', -1)])).toThrow(RangeError);
  });
});

describe('team records as survival subjects', () => {
  const END = dayNumber('2026-12-01'); // evaluation at the end of November 2026
  const t = (id: string, admittedOn: string, status: TeamRecord['status'], more: Partial<TeamRecord> = {}): TeamRecord => ({ id, admittedOn, status, ...more });

  it.each([
    ['incubating: censored at the evaluation date', t('a', '2026-06-01', 'incubating'), { id: 'a', time: 183, event: false }],
    ['exited: an event at its exit', t('b', '2026-01-01', 'exited', { exitOn: '2026-03-02' }), { id: 'b', time: 60, event: true }],
    ['exited after the evaluation date: not yet a failure', t('c', '2026-11-01', 'exited', { exitOn: '2026-12-15' }), { id: 'c', time: 30, event: false }],
    ['exited on the evaluation date itself: censored', t('c2', '2026-11-01', 'exited', { exitOn: '2026-12-01' }), { id: 'c2', time: 30, event: false }],
    ['graduated: censored at graduation, not a failure', t('d', '2025-01-01', 'graduated', { graduatedOn: '2026-01-01' }), { id: 'd', time: 365, event: false }],
    ['graduated without a date: censored at the evaluation date', t('e', '2026-11-21', 'graduated'), { id: 'e', time: 10, event: false }],
    ['exited the day it was admitted: an event at 0', t('f', '2026-05-05', 'exited', { exitOn: '2026-05-05' }), { id: 'f', time: 0, event: true }],
  ])('%s', (_, team, subject) => {
    expect(survivalSubject(team, END)).toEqual(subject);
  });

  it('not yet admitted: left out; exited without a date: undated', () => {
    expect(survivalSubject(t('g', '2026-12-01', 'incubating'), END)).toBeNull();
    expect(survivalSubject(t('h', '2026-01-01', 'exited'), END)).toBe('undated');
  });

  it('cohorts by admission year, and all together', () => {
    // 2025: x exits after 100 days, y incubating since 2025-12-01 (365 days). 2026: z incubating since 2026-11-01 (30 days).
    const teams = [
      t('x', '2025-01-01', 'exited', { exitOn: '2025-04-11' }),
      t('y', '2025-12-01', 'incubating'),
      t('z', '2026-11-01', 'incubating'),
      t('u', '2025-03-01', 'exited'),
    ];
    const r = survival(teams, END);
    expect(r.cohorts.map((c) => [c.cohort, c.curve.subjects])).toEqual([
      ['2025', 2],
      ['2026', 1],
    ]);
    expect(r.undated).toEqual(['u']);
    // All: times 100 (E), 365 (C), 30 (C). At 6 months (183): S = 1 − 1/2 (at 100, at risk x, y) = 0.5; at risk: y only.
    expect(r.all.milestones[0]).toMatchObject({ months: 6, survival: 0.5, atRisk: 1, events: 1, censored: 1 });
    // 12 months = 365 days: y's follow-up is exactly 365, still at risk.
    expect(r.all.milestones[1]).toMatchObject({ months: 12, survival: 0.5, atRisk: 1 });
    expect(r.all.milestones[2]).toMatchObject({ months: 24, survival: null, nullReason: 'no-one-at-risk' });
    // The 2026 cohort is 30 days old: no estimate at 6 months yet (it is censored, not failed).
    expect(r.cohorts[1]!.curve.milestones[0]).toMatchObject({ survival: null, nullReason: 'no-one-at-risk', events: 0 });
  });
});

describe('Kaplan–Meier properties', () => {
  const subjects = fc.array(
    fc.record({ time: fc.integer({ min: 0, max: 1500 }), event: fc.boolean() }).map(({ time, event }) => ({ time, event })),
    { maxLength: 60 },
  ).map((l) => l.map((s, i): SurvivalSubject => ({ id: `s${i}`, ...s })));

  it('the curve and the milestones are non-increasing and in [0, 1]; counts add up', () => {
    fc.assert(
      fc.property(subjects, (l) => {
        const km = kaplanMeier(l);
        let prev = 1;
        for (const s of km.steps) {
          expect(s.survival).toBeGreaterThanOrEqual(0);
          expect(s.survival).toBeLessThanOrEqual(prev);
          prev = s.survival;
        }
        let prevM = 1;
        for (const m of km.milestones) {
          if (m.survival === null) continue;
          expect(m.survival).toBeGreaterThanOrEqual(0);
          expect(m.survival).toBeLessThanOrEqual(prevM);
          prevM = m.survival;
        }
        expect(km.events + km.censored).toBe(l.length);
        expect(km.steps.reduce((a, s) => a + s.events + s.censored, 0)).toBe(l.length);
      }),
    );
  });

  it('without censoring, S(t) is the share of subjects still alive after t', () => {
    fc.assert(
      fc.property(subjects, (l) => {
        const all = l.map((s) => ({ ...s, event: true }));
        const km = kaplanMeier(all);
        for (const m of km.milestones) {
          if (all.length === 0) continue;
          const alive = all.filter((s) => s.time > m.days).length / all.length;
          expect(m.survival).toBeCloseTo(alive, 3);
        }
      }),
    );
  });
});
