/**
 * An indicator's value as reported: the figure, and for a rate the numerator
 * and denominator it was computed from (so several sites are aggregated from
 * summed parts, never by averaging rates), with the evidence count behind it.
 * A figure that cannot be computed is null with a stable reason, never NaN.
 */

export const NULL_REASONS = [
  /** The input this figure needs was not supplied for the period. */
  'not-supplied',
  /** A rate whose denominator is 0 (no available desk time, no priced usage, …). */
  'zero-denominator',
  /** Survival: no team admitted before the evaluation date. */
  'no-subjects',
  /** Survival: every team's follow-up ended (censored) before this milestone. */
  'no-one-at-risk',
  /** Change: the previous value is null (absolute and relative) or 0 (relative). */
  'no-previous',
  'previous-zero',
] as const;
export type NullReason = (typeof NULL_REASONS)[number];

export interface IndicatorValue {
  readonly value: number | null;
  /** Rates only: value = numerator / denominator. */
  readonly numerator?: number;
  readonly denominator?: number;
  /** How many records the figure rests on (sessions, participations, team records, services, statement lines, desks). */
  readonly evidence: number;
  readonly nullReason: NullReason | null;
}

/** Rounds a ratio to 4 decimals, as the utilisation metrics do. */
export const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;
export const round2 = (x: number): number => Math.round(x * 100) / 100;

export function count(value: number, evidence: number): IndicatorValue {
  return { value, evidence, nullReason: null };
}

export function ratio(numerator: number, denominator: number, evidence: number): IndicatorValue {
  if (!(denominator > 0)) return { value: null, numerator, denominator, evidence, nullReason: 'zero-denominator' };
  return { value: round4(numerator / denominator), numerator, denominator, evidence, nullReason: null };
}

export const notSupplied: IndicatorValue = Object.freeze({ value: null, evidence: 0, nullReason: 'not-supplied' });

export interface Change {
  /** value − previous; null when either is null. */
  readonly absolute: number | null;
  /** (value − previous) / |previous|, 4 decimals; null when either is null or previous is 0. */
  readonly relative: number | null;
  readonly nullReason: NullReason | null;
}

export function change(value: number | null, previous: number | null): Change {
  if (value === null) return { absolute: null, relative: null, nullReason: 'not-supplied' };
  if (previous === null) return { absolute: null, relative: null, nullReason: 'no-previous' };
  // Differences of 4-decimal ratios are rounded again so 0.3 − 0.1 does not print as 0.19999999999999998.
  const absolute = round4(value - previous);
  if (previous === 0) return { absolute, relative: null, nullReason: 'previous-zero' };
  return { absolute, relative: round4((value - previous) / Math.abs(previous)), nullReason: null };
}
