/**
 * Team flows of a period from the team records: teams in residence at the
 * period's end, admitted, graduated and exited in it (exits by reason),
 * enterprises registered, teams that raised investment (docs/indicators.md).
 *
 * Dates are local dates (YYYY-MM-DD); an event is in the period when its date
 * is one of the period's dates (`DayRange`). A team leaves on its exit or
 * graduation date: it is in residence on every date from its admission up to
 * the day before it leaves. Pure.
 */
import type { TeamRecord } from './inputs.js';
import { dateDay, type DayRange } from './periods.js';

export interface ExitReasonCount {
  readonly reason: string;
  readonly count: number;
}

export interface TeamFlows {
  /** Ids, sorted. */
  readonly inResidence: readonly string[];
  /** In residence at the end with an enterprise registered before the end. */
  readonly enterprisesInResidence: readonly string[];
  readonly admitted: readonly string[];
  readonly graduated: readonly string[];
  readonly exited: readonly string[];
  /** Exits in the period by reason, most frequent first ('unspecified' when none recorded). */
  readonly exitReasons: readonly ExitReasonCount[];
  readonly enterprisesRegistered: readonly string[];
  /** Teams with at least one investment in the period. */
  readonly financed: readonly string[];
  /** Investments in the period, and the sum of those with an amount. */
  readonly investments: number;
  readonly investmentMinor: number;
  /** Graduated or exited teams with no date of leaving: cannot be placed in time (counted as gone at any end after admission). */
  readonly undatedDepartures: readonly string[];
  /** Team records the figures rest on (all given). */
  readonly evidence: number;
}

export const UNSPECIFIED_REASON = 'unspecified';

const inRange = (r: DayRange, date: string | null | undefined, what: string): boolean => {
  if (!date) return false;
  const d = dateDay(date, what);
  return d >= r.first && d < r.end;
};

/** The date a team left, if it has left: its exit date, or its graduation date. */
export function departureOf(t: TeamRecord): string | null {
  switch (t.status) {
    case 'incubating':
      return null;
    case 'exited':
      return t.exitOn ?? null;
    case 'graduated':
      return t.graduatedOn ?? t.exitOn ?? null;
  }
}

/** The field the departure date came from, for error messages. */
const departureField = (t: TeamRecord): string => `team ${t.id} ${t.status === 'graduated' && t.graduatedOn ? 'graduatedOn' : 'exitOn'}`;

/** Whether a team is in residence on the day before `end` (the period's last date): admitted before `end` and not left by then. */
export function inResidenceAt(t: TeamRecord, end: number): boolean {
  if (dateDay(t.admittedOn, `team ${t.id} admittedOn`) >= end) return false;
  if (t.status === 'incubating') return true;
  const left = departureOf(t);
  return left !== null && dateDay(left, departureField(t)) >= end;
}

export function teamFlows(teams: readonly TeamRecord[], r: DayRange): TeamFlows {
  const inResidence: string[] = [];
  const enterprises: string[] = [];
  const admitted: string[] = [];
  const graduated: string[] = [];
  const exited: string[] = [];
  const reasons = new Map<string, number>();
  const registered: string[] = [];
  const financed: string[] = [];
  const undated: string[] = [];
  let investments = 0;
  let investmentMinor = 0;
  for (const t of teams) {
    if (t.status !== 'incubating' && departureOf(t) === null) undated.push(t.id);
    if (inResidenceAt(t, r.end)) {
      inResidence.push(t.id);
      if (t.enterpriseRegisteredOn && dateDay(t.enterpriseRegisteredOn, `team ${t.id} enterpriseRegisteredOn`) < r.end) enterprises.push(t.id);
    }
    if (inRange(r, t.admittedOn, `team ${t.id} admittedOn`)) admitted.push(t.id);
    if (t.status === 'graduated' && inRange(r, departureOf(t), departureField(t))) graduated.push(t.id);
    if (t.status === 'exited' && inRange(r, t.exitOn, `team ${t.id} exitOn`)) {
      exited.push(t.id);
      const reason = t.exitReason?.trim() || UNSPECIFIED_REASON;
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    if (inRange(r, t.enterpriseRegisteredOn, `team ${t.id} enterpriseRegisteredOn`)) registered.push(t.id);
    let raised = false;
    for (const inv of t.investments ?? []) {
      if (!inRange(r, inv.on, `team ${t.id} investment`)) continue;
      raised = true;
      investments++;
      investmentMinor += inv.amountMinor ?? 0;
    }
    if (raised) financed.push(t.id);
  }
  const s = (l: string[]): string[] => l.sort();
  return {
    inResidence: s(inResidence),
    enterprisesInResidence: s(enterprises),
    admitted: s(admitted),
    graduated: s(graduated),
    exited: s(exited),
    exitReasons: [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0)),
    enterprisesRegistered: s(registered),
    financed: s(financed),
    investments,
    investmentMinor,
    undatedDepartures: s(undated),
    evidence: teams.length,
  };
}
