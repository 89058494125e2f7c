/**
 * Reproducing a closed month (docs/audit.md, "Reproduce"): the statements a
 * month was frozen with are a deterministic function of the raw records and
 * the inputs named at closing (rate card, members' billing facts, plans'
 * quotas, free-time grants). This module holds that function's parts that
 * both the server (GET /statements/:month/verify) and an auditor's offline
 * check of an evidence bundle use: the digest of the statements, the
 * line-by-line comparison, and the whole re-pricing from records. Pure.
 */
import { createHash } from 'node:crypto';
import type { JournalRecord } from '../signals.js';
import { PeriodCollector } from '../usage/period.js';
import type { SessioniserConfig } from '../usage/sessioniser.js';
import { monthPeriod, priceStatements, type FreeTimeGrant, type NoShowBooking, type MemberBilling, type PlanQuotas, type PricingResources, type PricingResult, type StatementLine } from './price.js';
import { parseRateCard, type RateCardInput } from './rates.js';

/** What a month is priced with besides the raw signals; frozen on the period when it is closed. */
export interface BillingInputs {
  readonly rateCardId: number;
  readonly members: Readonly<Record<string, MemberBilling>>;
  readonly plans: Readonly<Record<string, PlanQuotas>>;
  readonly grants: readonly FreeTimeGrant[];
  /** The month's no-show bookings (docs/accounting.md, "No-show fees"); absent in months closed before they were priced: none. */
  readonly noShows?: readonly NoShowBooking[];
  /** SHA-256 of the site as pricing saw it (`siteDigest`): the sessioniser's configuration and the resources' classes. */
  readonly siteSha256?: string;
}

/** SHA-256 of what pricing takes from the site file (sessioniser configuration, resource classes). */
export function siteDigest(config: SessioniserConfig, resources: PricingResources): string {
  return createHash('sha256').update(JSON.stringify({ config, resources })).digest('hex');
}

/** SHA-256 of the statements' canonical JSON (priceStatements sorts everything, so equal statements hash equal). */
export function statementsDigest(result: PricingResult): string {
  return createHash('sha256').update(JSON.stringify({ currency: result.currency, from: result.from, to: result.to, statements: result.statements })).digest('hex');
}

/** A ledger charge's stored line: the statement line it froze, and the rate card it was priced with (closing adds it). */
export function chargeLine(json: string): { readonly line: StatementLine; readonly rateCardId: number | null } {
  const { rateCardId, ...line } = JSON.parse(json) as StatementLine & { rateCardId?: number };
  return { line, rateCardId: rateCardId ?? null };
}

export interface PartyLine {
  readonly party: { readonly kind: string; readonly id: string };
  readonly line: StatementLine;
}

export interface LineDifference {
  /** party | member | resource class | local date | sessions */
  readonly line: string;
  /** gone: frozen but not there now; new: there now but not frozen. */
  readonly change: 'changed' | 'gone' | 'new';
  readonly fields: readonly { readonly field: string; readonly frozen: number | string | null; readonly now: number | string | null }[];
}

const COMPARED = ['quantity', 'freeQuantity', 'grantedQuantity', 'chargedQuantity', 'unitPriceMinor', 'startingFeeMinor', 'amountMinor', 'referenceMinor', 'subsidyMinor', 'rateVersion'] as const;

/** Frozen statement lines against lines priced again, matched by party, member, class, date and the sessions they bill. */
export function lineDifferences(frozen: readonly PartyLine[], now: readonly PartyLine[]): LineDifference[] {
  const key = (x: PartyLine) => `${x.party.kind}:${x.party.id} | ${x.line.memberId} | ${x.line.resourceClass} | ${x.line.date} | ${x.line.sessions.map((s) => s.id).join(' ')}${x.line.booking !== undefined ? ` booking:${x.line.booking}` : ''}`;
  const before = new Map(frozen.map((x) => [key(x), x.line]));
  const after = new Map(now.map((x) => [key(x), x.line]));
  const out: LineDifference[] = [];
  for (const [k, f] of before) {
    const n = after.get(k);
    if (!n) {
      out.push({ line: k, change: 'gone', fields: COMPARED.map((field) => ({ field, frozen: f[field], now: null })) });
      continue;
    }
    const fields = COMPARED.filter((field) => f[field] !== n[field]).map((field) => ({ field, frozen: f[field], now: n[field] }));
    if (fields.length > 0) out.push({ line: k, change: 'changed', fields });
  }
  for (const [k, n] of after) if (!before.has(k)) out.push({ line: k, change: 'new', fields: COMPARED.map((field) => ({ field, frozen: null, now: n[field] })) });
  return out;
}

/** The lines of priced statements, each with its party. */
export const partyLines = (result: PricingResult): PartyLine[] => result.statements.flatMap((st) => st.lines.map((line) => ({ party: st.party, line })));

/** Everything needed to price a closed month again, away from the server. */
export interface MonthEvidence {
  readonly month: string;
  readonly config: SessioniserConfig;
  readonly resources: PricingResources;
  /** The period's records and the look-back before it, in time order. */
  readonly records: readonly JournalRecord[];
  readonly inputs: BillingInputs;
  readonly rateCard: RateCardInput;
}

/** Prices a month from its records and frozen inputs, exactly as closing did. */
export function priceMonthFromRecords(e: MonthEvidence): PricingResult {
  const { from, to } = monthPeriod(e.config.timezone, e.month);
  const collector = new PeriodCollector(e.config, from, to);
  collector.push(e.records);
  const { sessions, open } = collector.finish();
  const parsed = parseRateCard(e.rateCard);
  if (!parsed.ok) throw new RangeError(`the rate card does not parse: ${parsed.errors[0]?.message ?? ''}`);
  return priceStatements({
    sessions: [...sessions, ...open],
    resources: e.resources,
    members: e.inputs.members,
    plans: e.inputs.plans,
    grants: e.inputs.grants,
    noShows: e.inputs.noShows ?? [],
    rateCard: parsed.card,
    timezone: e.config.timezone,
    from,
    to,
  });
}
