/**
 * Start-up survival: the Kaplan–Meier product-limit estimator over team
 * records, by admission cohort, at 6, 12, 24 and 36 months.
 *
 * Our definition (no official formula exists, ref §4; docs/indicators.md):
 * - time is days from admission (local dates);
 * - the event (failure) is an exit: status exited, dated before the
 *   evaluation date;
 * - graduation is not a failure: a graduated team is censored at its
 *   graduation date (it left successfully; we stop following it there). A
 *   graduated team without a date is censored at the evaluation date;
 * - a team still incubating, or one that left on or after the evaluation
 *   date, is right-censored at the evaluation date: a young team that has
 *   not failed yet is not counted as a failure;
 * - an exited team without an exit date cannot be placed in time and is left
 *   out (counted in `undated`);
 * - a milestone of m months is round(m × 365.25 / 12) days (183, 365, 731,
 *   1096).
 *
 * At a time with both exits and censorings, the exits are counted first
 * (censored teams are at risk at their own time), the usual convention.
 * Pure.
 */
import { SURVIVAL_MILESTONES_MONTHS } from './catalogue.js';
import type { TeamRecord } from './inputs.js';
import { dateDay } from './periods.js';
import { round4, type NullReason } from './values.js';

export interface SurvivalSubject {
  readonly id: string;
  /** Follow-up time, days (≥ 0). */
  readonly time: number;
  /** true: failed (exited) at `time`; false: censored at `time`. */
  readonly event: boolean;
}

export interface KmStep {
  readonly time: number;
  /** Subjects with follow-up ≥ time. */
  readonly atRisk: number;
  readonly events: number;
  readonly censored: number;
  /** S(time): the estimate just after `time` (4 decimals). */
  readonly survival: number;
  /** Greenwood's variance of S(time); null once every subject at risk has failed at some time (S = 0). */
  readonly variance: number | null;
}

export interface MilestoneEstimate {
  readonly months: number;
  readonly days: number;
  /** S(days); null when no subject is at risk at `days` and the curve has not reached 0. */
  readonly survival: number | null;
  readonly variance: number | null;
  readonly atRisk: number;
  /** Events and censorings at times ≤ days. */
  readonly events: number;
  readonly censored: number;
  readonly nullReason: NullReason | null;
}

export interface KmCurve {
  readonly subjects: number;
  readonly events: number;
  readonly censored: number;
  /** One step per distinct follow-up time, in time order. */
  readonly steps: readonly KmStep[];
  readonly milestones: readonly MilestoneEstimate[];
}

export const milestoneDays = (months: number): number => Math.round((months * 365.25) / 12);

/** The Kaplan–Meier estimate over subjects (any order; ties as described above). */
export function kaplanMeier(subjects: readonly SurvivalSubject[], milestonesMonths: readonly number[] = SURVIVAL_MILESTONES_MONTHS): KmCurve {
  const byTime = new Map<number, { events: number; censored: number }>();
  for (const s of subjects) {
    if (!(Number.isFinite(s.time) && s.time >= 0)) throw new RangeError(`survival subject ${s.id}: time ${s.time} is not a non-negative number`);
    const e = byTime.get(s.time) ?? { events: 0, censored: 0 };
    if (s.event) e.events++;
    else e.censored++;
    byTime.set(s.time, e);
  }
  const times = [...byTime.keys()].sort((a, b) => a - b);
  const raw: { time: number; atRisk: number; events: number; censored: number; s: number; gw: number | null }[] = [];
  let atRisk = subjects.length;
  let s = 1;
  let gwSum: number | null = 0;
  for (const t of times) {
    const { events, censored } = byTime.get(t)!;
    if (events > 0) {
      s *= 1 - events / atRisk;
      if (gwSum !== null) gwSum = atRisk > events ? gwSum + events / (atRisk * (atRisk - events)) : null;
    }
    raw.push({ time: t, atRisk, events, censored, s, gw: gwSum });
    atRisk -= events + censored;
  }
  const steps: KmStep[] = raw.map((r) => ({ time: r.time, atRisk: r.atRisk, events: r.events, censored: r.censored, survival: round4(r.s), variance: r.gw === null ? null : round4(r.s * r.s * r.gw) }));
  const milestones = milestonesMonths.map((months): MilestoneEstimate => {
    const days = milestoneDays(months);
    let sv = 1;
    let gw: number | null = 0;
    let events = 0;
    let censored = 0;
    for (const r of raw) {
      if (r.time > days) break;
      sv = r.s;
      gw = r.gw;
      events += r.events;
      censored += r.censored;
    }
    const risk = subjects.filter((x) => x.time >= days).length;
    const variance = gw === null ? null : round4(sv * sv * gw);
    if (subjects.length === 0) return { months, days, survival: null, variance: null, atRisk: 0, events: 0, censored: 0, nullReason: 'no-subjects' };
    // Every team failed by now: survival is known to be 0. Otherwise, with no one left at risk, it is unknown.
    if (risk === 0 && sv > 0) return { months, days, survival: null, variance: null, atRisk: 0, events, censored, nullReason: 'no-one-at-risk' };
    return { months, days, survival: round4(sv), variance, atRisk: risk, events, censored, nullReason: null };
  });
  return { subjects: subjects.length, events: raw.reduce((a, r) => a + r.events, 0), censored: raw.reduce((a, r) => a + r.censored, 0), steps, milestones };
}

/** A team as a survival subject at the evaluation day `end` (the first day after the period); null when not yet admitted or not placeable. */
export function survivalSubject(t: TeamRecord, end: number): SurvivalSubject | 'undated' | null {
  const admitted = dateDay(t.admittedOn, `team ${t.id} admittedOn`);
  if (admitted >= end) return null;
  const censorAt = (day: number): SurvivalSubject => ({ id: t.id, time: Math.min(day, end) - admitted, event: false });
  switch (t.status) {
    case 'incubating':
      return censorAt(end);
    case 'graduated': {
      const on = t.graduatedOn ?? t.exitOn;
      return censorAt(on ? Math.max(admitted, dateDay(on, `team ${t.id} graduatedOn`)) : end);
    }
    case 'exited': {
      if (!t.exitOn) return 'undated';
      const left = Math.max(admitted, dateDay(t.exitOn, `team ${t.id} exitOn`));
      return left < end ? { id: t.id, time: left - admitted, event: true } : censorAt(end);
    }
  }
}

export interface CohortSurvival {
  /** Admission year ('2025'), or 'all' for every cohort together. */
  readonly cohort: string;
  readonly curve: KmCurve;
}

export interface SurvivalReport {
  /** The evaluation date: the first local date after the period (day number). */
  readonly evaluationDay: number;
  readonly all: KmCurve;
  /** By admission year, oldest first. */
  readonly cohorts: readonly CohortSurvival[];
  /** Exited teams with no exit date (left out). */
  readonly undated: readonly string[];
}

/** Survival of all teams admitted before day `end`, pooled and by admission year. */
export function survival(teams: readonly TeamRecord[], end: number): SurvivalReport {
  const all: SurvivalSubject[] = [];
  const byCohort = new Map<string, SurvivalSubject[]>();
  const undated: string[] = [];
  for (const t of teams) {
    const s = survivalSubject(t, end);
    if (s === null) continue;
    if (s === 'undated') {
      undated.push(t.id);
      continue;
    }
    all.push(s);
    const cohort = t.admittedOn.slice(0, 4);
    const l = byCohort.get(cohort);
    if (l) l.push(s);
    else byCohort.set(cohort, [s]);
  }
  const cohorts = [...byCohort.keys()].sort().map((cohort) => ({ cohort, curve: kaplanMeier(byCohort.get(cohort)!) }));
  return { evaluationDay: end, all: kaplanMeier(all), cohorts, undated: undated.sort() };
}
