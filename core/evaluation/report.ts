/**
 * The periodic statistics report: every indicator of the catalogue for a
 * period and for the period before it, with the change and the evidence
 * count, for each site and for all of them together (docs/indicators.md).
 *
 * Several sites are aggregated by merging their inputs and evaluating once:
 * lists are joined (teams and services, which the server may hand to every
 * site, are taken once per id), utilisation parts and workstations are
 * summed. So counts of distinct members and teams are unions, rates come from
 * summed numerators and denominators (never averaged), and survival is
 * estimated over the pooled teams. Sites aggregated together must share a
 * time zone (the local dates of a period must be the same dates). Pure.
 */
import { bookingTotals, type BookingTotals } from './bookings.js';
import { INDICATORS, SERVICE_KINDS, type IndicatorDef, type IndicatorUnit, type ServiceKind } from './catalogue.js';
import type { EvaluationData, ServiceRecord, TeamRecord, UtilisationParts, Workstations } from './inputs.js';
import { lowCost, type LowCost } from './lowcost.js';
import { dayRange, periodOf, previousPeriod, type PeriodKind, type ReportPeriod } from './periods.js';
import { served, type Served } from './served.js';
import { servicesByKind, type ServiceKindTotals } from './services.js';
import { survival, type SurvivalReport } from './survival.js';
import { teamFlows, type TeamFlows } from './teams.js';
import { addParts } from './utilisation.js';
import { change, count, notSupplied, ratio, type Change, type IndicatorValue } from './values.js';

/** The details behind the figures of one period (breakdowns the rows cannot carry). */
export interface EvaluationDetails {
  readonly served: Served | null;
  readonly teams: TeamFlows | null;
  readonly survival: SurvivalReport | null;
  readonly services: Readonly<Record<ServiceKind, ServiceKindTotals>> | null;
  readonly lowCost: LowCost | null;
  readonly bookings: BookingTotals | null;
}

export interface Evaluation {
  readonly period: ReportPeriod;
  /** Indicator id → value, every indicator of the catalogue. */
  readonly values: Readonly<Record<string, IndicatorValue>>;
  readonly details: EvaluationDetails;
}

/** Every indicator of one period from one site's (or several merged sites') data. */
export function evaluate(period: ReportPeriod, input: EvaluationData): Evaluation {
  const { from, to } = period;
  // Teams and services once per id, as when sites are merged, so one site evaluated alone or merged gives the same figures.
  const data: EvaluationData = {
    ...input,
    ...(input.services !== undefined && { services: byIdOnce([input.services], 'service') }),
    ...(input.teams !== undefined && { teams: byIdOnce([input.teams], 'team') }),
  };
  const days = dayRange(period.timezone, from, to);
  const v: Record<string, IndicatorValue> = {};

  // Served: uses and services both count; either alone is enough to compute.
  let sv: Served | null = null;
  if (data.uses !== undefined || data.services !== undefined) {
    sv = served(from, to, data.uses ?? [], data.services ?? [], data.memberTeams);
    v['members-served'] = count(sv.members.length, sv.memberEvidence);
    v['teams-served'] = count(sv.teams.length, sv.teamEvidence);
  }

  let flows: TeamFlows | null = null;
  let surv: SurvivalReport | null = null;
  if (data.teams !== undefined) {
    flows = teamFlows(data.teams, days);
    const e = flows.evidence;
    v['teams-in-residence'] = count(flows.inResidence.length, e);
    v['enterprises-in-residence'] = count(flows.enterprisesInResidence.length, e);
    v['teams-admitted'] = count(flows.admitted.length, e);
    v['teams-graduated'] = count(flows.graduated.length, e);
    v['teams-exited'] = count(flows.exited.length, e);
    v['enterprises-registered'] = count(flows.enterprisesRegistered.length, e);
    v['teams-financed'] = count(flows.financed.length, e);
    v['investment-raised'] = count(flows.investmentMinor, flows.investments);
    surv = survival(data.teams, days.end);
    for (const m of surv.all.milestones) v[`survival-${m.months}m`] = { value: m.survival, evidence: surv.all.subjects, nullReason: m.nullReason };
  }

  let svc: Readonly<Record<ServiceKind, ServiceKindTotals>> | null = null;
  if (data.services !== undefined) {
    svc = servicesByKind(data.services, from, to);
    for (const k of SERVICE_KINDS) {
      const t = svc[k];
      v[`services-${k}-deliveries`] = count(t.deliveries, t.deliveries);
      v[`services-${k}-participants`] = count(t.participants, t.deliveries);
      v[`services-${k}-hours`] = count(t.hours, t.deliveries);
    }
    const held = svc.event.deliveries + svc.training.deliveries;
    v['events-and-trainings'] = count(held, held);
    v['events-and-trainings-attendance'] = count(svc.event.participants + svc.training.participants, held);
  }

  let lc: LowCost | null = null;
  if (data.lines !== undefined) {
    lc = lowCost(data.lines);
    const classed = lc.free + lc.subsidised + lc.full;
    v['low-cost-share'] = ratio(lc.free + lc.subsidised, classed, lc.lines);
    v['value-given-away'] = count(lc.givenAwayMinor, lc.lines + lc.adjustments);
    v['subsidy-rate'] = ratio(lc.givenAwayMinor, lc.referenceMinor, lc.lines + lc.adjustments);
  }

  const u = data.utilisation;
  if (u !== undefined) {
    v['workstation-occupancy'] = ratio(u.occupiedDeskMs, u.availableDeskMs, u.desks);
    v['machine-utilisation'] = ratio(u.runningMachineMs, u.availableMachineMs, u.machineSessions);
    v['lab-utilisation'] = ratio(u.runningLabMachineMs, u.availableLabMachineMs, u.labMachineSessions);
  }
  const ws: Workstations | undefined = data.workstations ?? (u !== undefined ? { total: u.desks } : undefined);
  if (ws !== undefined) {
    v.workstations = count(ws.total, ws.total);
    if (ws.allocated !== undefined && ws.allocated !== null) v['workstation-allocation'] = ratio(ws.allocated, ws.total, ws.total);
  }

  let bk: BookingTotals | null = null;
  if (data.bookings !== undefined) {
    bk = bookingTotals(data.bookings, from, to);
    v['bookings-made'] = count(bk.made, bk.made);
    v['bookings-used'] = count(bk.used, bk.made);
    v['bookings-no-show'] = count(bk.noShows, bk.made);
    v['booked-hours'] = count(bk.bookedHours, bk.made);
    // Of the booked time check-in has decided (used or no-show): bookings still waiting for it would only dilute the share.
    v['booked-hours-used-share'] = ratio(bk.usedMs, bk.decidedMs, bk.used + bk.noShows);
  }

  const values: Record<string, IndicatorValue> = {};
  for (const d of INDICATORS) values[d.id] = v[d.id] ?? notSupplied;
  return { period, values, details: { served: sv, teams: flows, survival: surv, services: svc, lowCost: lc, bookings: bk } };
}

function byIdOnce<T extends { readonly id: string }>(lists: readonly (readonly T[])[], what: string): T[] {
  const seen = new Map<string, T>();
  const out: T[] = [];
  for (const l of lists) {
    for (const x of l) {
      const prev = seen.get(x.id);
      if (prev === undefined) {
        seen.set(x.id, x);
        out.push(x);
      } else if (JSON.stringify(prev) !== JSON.stringify(x)) {
        throw new RangeError(`${what} ${x.id} is given twice with different contents`);
      }
    }
  }
  return out;
}

/**
 * Several sites' data as one: uses and lines joined, teams and services once
 * per id (the same id with different contents is refused: RangeError),
 * roster maps joined (a member mapped to two teams keeps the first site's),
 * utilisation parts and workstations summed, bookings joined. A part supplied by no site stays
 * unsupplied.
 */
export function mergeData(sites: readonly EvaluationData[]): EvaluationData {
  const some = <K extends keyof EvaluationData>(k: K): boolean => sites.some((s) => s[k] !== undefined);
  const lists = <T>(get: (s: EvaluationData) => readonly T[] | undefined): (readonly T[])[] => sites.map(get).filter((l): l is readonly T[] => l !== undefined);
  const memberTeams = new Map<string, string>();
  for (const s of sites) for (const [m, t] of s.memberTeams ?? []) if (!memberTeams.has(m)) memberTeams.set(m, t);
  let utilisation: UtilisationParts | undefined;
  for (const s of sites) if (s.utilisation) utilisation = utilisation ? addParts(utilisation, s.utilisation) : s.utilisation;
  let workstations: Workstations | undefined;
  if (some('workstations') || some('utilisation')) {
    // A site that gives only its utilisation counts its desks as workstations, as `evaluate` does.
    let total = 0;
    let allocated: number | null = 0;
    for (const s of sites) {
      const w = s.workstations ?? (s.utilisation ? { total: s.utilisation.desks } : undefined);
      if (!w) continue;
      total += w.total;
      allocated = allocated !== null && w.allocated !== undefined && w.allocated !== null ? allocated + w.allocated : null;
    }
    workstations = { total, allocated };
  }
  return {
    ...(some('uses') && { uses: lists((s) => s.uses).flat() }),
    ...(some('services') && { services: byIdOnce<ServiceRecord>(lists((s) => s.services), 'service') }),
    ...(memberTeams.size > 0 && { memberTeams }),
    ...(some('teams') && { teams: byIdOnce<TeamRecord>(lists((s) => s.teams), 'team') }),
    ...(some('lines') && { lines: lists((s) => s.lines).flat() }),
    ...(utilisation !== undefined && { utilisation }),
    ...(workstations !== undefined && { workstations }),
    ...(some('bookings') && { bookings: lists((s) => s.bookings).flat() }),
  };
}

export interface ReportRow {
  readonly id: string;
  readonly nameZh: string;
  readonly nameEn: string;
  readonly unit: IndicatorUnit;
  readonly value: number | null;
  readonly previous: number | null;
  readonly change: Change;
  readonly evidence: number;
  readonly previousEvidence: number;
  /** Why value is null, if it is. */
  readonly nullReason: IndicatorValue['nullReason'];
  readonly numerator?: number;
  readonly denominator?: number;
}

export interface ReportSection {
  /** A site's id, or 'total' for the sites together. */
  readonly scope: string;
  readonly rows: readonly ReportRow[];
  readonly details: EvaluationDetails;
  readonly previousDetails: EvaluationDetails;
}

export interface EvaluationReport {
  readonly version: 1;
  readonly period: ReportPeriod;
  readonly previous: ReportPeriod;
  readonly sites: readonly string[];
  /** One section per site, in the order given. */
  readonly bySite: readonly ReportSection[];
  /** All sites together (equal to the only site's figures when there is one). */
  readonly total: ReportSection;
}

export interface SiteData {
  readonly siteId: string;
  readonly current: EvaluationData;
  readonly previous: EvaluationData;
}

export interface ReportInput {
  readonly kind: PeriodKind;
  /** '2026-11', '2026-Q4', '2026'. */
  readonly key: string;
  readonly timezone: string;
  readonly sites: readonly SiteData[];
}

function rows(cur: Evaluation, prev: Evaluation): ReportRow[] {
  return INDICATORS.map((d: IndicatorDef): ReportRow => {
    const a = cur.values[d.id]!;
    const b = prev.values[d.id]!;
    return {
      id: d.id,
      nameZh: d.nameZh,
      nameEn: d.nameEn,
      unit: d.unit,
      value: a.value,
      previous: b.value,
      change: change(a.value, b.value),
      evidence: a.evidence,
      previousEvidence: b.evidence,
      nullReason: a.nullReason,
      ...(a.numerator !== undefined && { numerator: a.numerator, denominator: a.denominator }),
    };
  });
}

function section(scope: string, period: ReportPeriod, prevPeriod: ReportPeriod, current: EvaluationData, previous: EvaluationData): ReportSection {
  const cur = evaluate(period, current);
  const prev = evaluate(prevPeriod, previous);
  return { scope, rows: rows(cur, prev), details: cur.details, previousDetails: prev.details };
}

/** The report of a month, quarter or year, per site and in total. */
export function report(input: ReportInput): EvaluationReport {
  const period = periodOf(input.kind, input.key, input.timezone);
  const prev = previousPeriod(period);
  const ids = input.sites.map((s) => s.siteId);
  if (new Set(ids).size !== ids.length) throw new RangeError('a site is given twice');
  const bySite = input.sites.map((s) => section(s.siteId, period, prev, s.current, s.previous));
  const total = section(
    'total',
    period,
    prev,
    mergeData(input.sites.map((s) => s.current)),
    mergeData(input.sites.map((s) => s.previous)),
  );
  return { version: 1, period, previous: prev, sites: ids, bySite, total };
}

