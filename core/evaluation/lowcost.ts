/**
 * Low-cost delivery: how much of the priced usage was given free or at a
 * subsidised price, and the value given away, from the period's statement
 * lines or ledger entries (docs/indicators.md).
 *
 * - A charge line with a reference value > 0 is *free* when its amount is
 *   ≤ 0, *subsidised* when 0 < amount < reference, *full* otherwise.
 *   Lines without a reference value cannot be classed (`unreferenced`) and
 *   are left out of the share.
 * - share = (free + subsidised) / classed lines.
 * - fees = every amount, adjustments included; given away =
 *   max(0, reference − fees); subsidy rate = given away / reference.
 * Integer minor units throughout. Pure.
 */
import type { LowCostLine } from './inputs.js';

export interface LowCost {
  readonly lines: number;
  readonly free: number;
  readonly subsidised: number;
  readonly full: number;
  readonly unreferenced: number;
  readonly adjustments: number;
  readonly referenceMinor: number;
  readonly feesMinor: number;
  readonly givenAwayMinor: number;
}

export function lowCost(lines: readonly LowCostLine[]): LowCost {
  let n = 0;
  let free = 0;
  let subsidised = 0;
  let full = 0;
  let unreferenced = 0;
  let adjustments = 0;
  let reference = 0;
  let fees = 0;
  for (const l of lines) {
    fees += l.amountMinor;
    if (l.kind === 'adjustment') {
      adjustments++;
      continue;
    }
    n++;
    reference += Math.max(0, l.referenceMinor);
    if (!(l.referenceMinor > 0)) unreferenced++;
    else if (l.amountMinor <= 0) free++;
    else if (l.amountMinor < l.referenceMinor) subsidised++;
    else full++;
  }
  return { lines: n, free, subsidised, full, unreferenced, adjustments, referenceMinor: reference, feesMinor: fees, givenAwayMinor: Math.max(0, reference - fees) };
}
