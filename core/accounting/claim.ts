/**
 * The subsidy claim of a closed month: by the categories a space claims, the
 * services delivered, their value at reference prices, the fees collected and
 * the claimable gap (reference − fees), each with the evidence totals behind
 * it. Pure: it takes the month's ledger entries (charges and adjustments) and
 * the services recorded for it (trainings, mentoring, events, …).
 *
 * Categories (docs/accounting.md, "Subsidy claim"), in the order subsidy
 * forms list them:
 * - space: desks, open spaces, labs and rooms (`desk:*`, `space:*`, `room`);
 * - broadband: a cost the space pays and members use free;
 * - shared_equipment: machines (`machine:*`) and technical services;
 * - software: a cost the space pays (shared licences) and members use free;
 * - training, mentoring (investment introductions included), events (events
 *   and roadshows): recorded services.
 *
 * Two kinds of claim: where usage is metered or services are recorded, the
 * gap between their value at reference prices and the fees collected; where
 * the space pays for something members use without being metered (broadband,
 * software), the costs paid less any fees. Costs recorded under space or
 * shared equipment (rent, hardware) are reported beside their category as
 * evidence, and claim nothing on top of the gap: the rent is what the reduced
 * prices pass on.
 */

export const CLAIM_CATEGORIES = ['space', 'broadband', 'shared_equipment', 'software', 'training', 'mentoring', 'events'] as const;
export type ClaimCategory = (typeof CLAIM_CATEGORIES)[number];

export interface ClaimLedgerEntry {
  readonly kind: 'charge' | 'adjustment';
  readonly resourceClass: string;
  readonly amountMinor: number;
  readonly referenceMinor: number;
  /** For a charge: the quantity it bills (minutes, days or Wh) and the sessions and records behind it. */
  readonly quantity?: number;
  readonly quantityUnit?: string;
  readonly sessions?: readonly { readonly count: number }[];
}

export interface ClaimService {
  readonly kind: 'training' | 'mentoring' | 'event' | 'technical' | 'investment';
  readonly minutes: number;
  readonly participants: number;
  readonly feeMinor: number;
  readonly referenceMinor: number;
}

/** What the space paid in the month (an invoice). */
export interface ClaimCost {
  readonly category: 'space' | 'broadband' | 'shared_equipment' | 'software';
  readonly amountMinor: number;
}

/** The categories whose claim is their costs (less fees), not a reference-value gap. */
export const COST_CATEGORIES: readonly ClaimCategory[] = ['broadband', 'software'];

export interface ClaimLine {
  readonly category: ClaimCategory;
  /** Metered usage: statement lines charged; services: deliveries. */
  readonly deliveries: number;
  /** Hours of use or of service (metered hour units and services; days and kWh are counted apart). */
  readonly hours: number;
  readonly days: number;
  readonly kwh: number;
  readonly participants: number;
  readonly referenceMinor: number;
  readonly feesMinor: number;
  /** What the space paid (invoices recorded as costs). */
  readonly costsMinor: number;
  /** reference − fees (broadband, software: costs − fees), never negative. */
  readonly claimableMinor: number;
  /** What the figures rest on: ledger entries (charges and adjustments), sessions, raw records, services, costs. */
  readonly evidence: { readonly charges: number; readonly adjustments: number; readonly sessions: number; readonly records: number; readonly services: number; readonly costs: number };
}

export interface SubsidyClaim {
  readonly currency: string;
  readonly lines: readonly ClaimLine[];
  readonly total: Omit<ClaimLine, 'category'>;
}

export function categoryOfClass(resourceClass: string): ClaimCategory {
  return resourceClass.startsWith('machine:') ? 'shared_equipment' : 'space';
}

export function categoryOfService(kind: ClaimService['kind']): ClaimCategory {
  switch (kind) {
    case 'training':
      return 'training';
    case 'mentoring':
    case 'investment':
      return 'mentoring';
    case 'event':
      return 'events';
    case 'technical':
      return 'shared_equipment';
  }
}

interface Acc {
  deliveries: number;
  minutes: number;
  days: number;
  wh: number;
  participants: number;
  reference: number;
  fees: number;
  costs: number;
  costEntries: number;
  charges: number;
  adjustments: number;
  sessions: number;
  records: number;
  services: number;
}

const empty = (): Acc => ({ deliveries: 0, minutes: 0, days: 0, wh: 0, participants: 0, reference: 0, fees: 0, costs: 0, costEntries: 0, charges: 0, adjustments: 0, sessions: 0, records: 0, services: 0 });

function line(a: Acc, byCosts: boolean): Omit<ClaimLine, 'category'> {
  return {
    deliveries: a.deliveries,
    hours: Math.round((a.minutes / 60) * 100) / 100,
    days: a.days,
    kwh: Math.round(a.wh) / 1000,
    participants: a.participants,
    referenceMinor: a.reference,
    feesMinor: a.fees,
    costsMinor: a.costs,
    claimableMinor: Math.max(0, (byCosts ? a.costs : a.reference) - a.fees),
    evidence: { charges: a.charges, adjustments: a.adjustments, sessions: a.sessions, records: a.records, services: a.services, costs: a.costEntries },
  };
}

export function subsidyClaim(currency: string, entries: readonly ClaimLedgerEntry[], services: readonly ClaimService[], costs: readonly ClaimCost[] = []): SubsidyClaim {
  const acc = new Map<ClaimCategory, Acc>(CLAIM_CATEGORIES.map((c) => [c, empty()]));
  const total = empty();
  const add = (c: ClaimCategory, f: (a: Acc) => void) => {
    f(acc.get(c)!);
    f(total);
  };
  for (const e of entries) {
    add(categoryOfClass(e.resourceClass), (a) => {
      a.reference += e.referenceMinor;
      a.fees += e.amountMinor;
      if (e.kind === 'adjustment') {
        a.adjustments++;
        return;
      }
      a.charges++;
      // A no-show fee charges a booking nobody used: a fee collected (its reference equals it, so it adds
      // nothing to the gap), not a service delivered.
      if (e.quantityUnit !== 'booking') a.deliveries++;
      if (e.quantityUnit === 'minute') a.minutes += e.quantity ?? 0;
      else if (e.quantityUnit === 'day') a.days += e.quantity ?? 0;
      else if (e.quantityUnit === 'wh') a.wh += e.quantity ?? 0;
      for (const s of e.sessions ?? []) {
        a.sessions++;
        a.records += s.count;
      }
    });
  }
  for (const s of services) {
    add(categoryOfService(s.kind), (a) => {
      a.deliveries++;
      a.services++;
      a.minutes += s.minutes;
      a.participants += s.participants;
      a.reference += s.referenceMinor;
      a.fees += s.feeMinor;
    });
  }
  for (const c of costs) {
    add(c.category, (a) => {
      a.costs += c.amountMinor;
      a.costEntries++;
    });
  }
  const lines = CLAIM_CATEGORIES.map((c) => ({ category: c, ...line(acc.get(c)!, COST_CATEGORIES.includes(c)) }));
  // What is claimable is claimed category by category: a category whose fees exceed its value offsets no other.
  return { currency, lines, total: { ...line(total, false), claimableMinor: lines.reduce((a, l) => a + l.claimableMinor, 0) } };
}
