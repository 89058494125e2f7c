/**
 * Rate cards: what usage costs, as plain data (docs/accounting.md).
 *
 * A rate card has a currency (ISO 4217, CNY by default) and versions, each
 * effective from a local date in the site's time zone; a version lists one
 * rate per resource class. Money is always an integer number of minor units
 * (fen for CNY), never a float.
 *
 * `parseRateCard` validates untrusted input (the TypeBox schema, then what a
 * schema cannot say: unique dates and classes, overrides that select
 * something), collects every problem with the path of the offending value,
 * and returns the card with defaults filled in, versions sorted by date, and
 * frozen. Pure: no I/O, no clock.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';

/**
 * What is billed, one rate per class and version:
 * - `desk:hot`, `desk:fixed`: desk sessions, by the desk's kind;
 * - `space:open-space`, `space:lab`: presence in a space of that kind;
 * - `room`: presence in a space of kind room (meeting and event rooms);
 * - `machine:<class>`: machine sessions, by the equipment's class (laser-cutter, 3d-printer, …).
 */
export const RESOURCE_CLASS_PATTERN = '^(desk:(hot|fixed)|space:(open-space|lab)|room|machine:[a-z0-9][a-z0-9-]{0,63})$';
export const DATE_PATTERN = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$';
export const RATE_UNITS = ['hour', 'day', 'kwh'] as const;
export type RateUnit = (typeof RATE_UNITS)[number];
export const ROUNDINGS = ['up', 'nearest', 'down'] as const;
export type Rounding = (typeof ROUNDINGS)[number];
export const DEFAULT_CURRENCY = 'CNY';

const Minor = (description: string) => Type.Integer({ minimum: 0, maximum: 100_000_000_00, description });
const GroupId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' });

export const RateOverrideSchema = Type.Object(
  {
    group: Type.Optional({ ...GroupId, description: "The member's group this override applies to" }),
    planId: Type.Optional({ ...GroupId, description: "The member's plan this override applies to" }),
    priceMinor: Type.Optional(Minor('Price per unit for these members, minor units')),
    startingFeeMinor: Type.Optional(Minor('Starting fee per session for these members')),
    dailyCapMinor: Type.Optional(Minor('Daily cap for these members')),
    monthlyCapMinor: Type.Optional(Minor('Monthly cap for these members')),
    noShowFeeMinor: Type.Optional(Minor('Fee per no-show booking for these members (0: none)')),
  },
  { additionalProperties: false, description: 'Prices for a member group and/or plan; the most specific match wins (both, then plan, then group)' },
);

export const RateSchema = Type.Object(
  {
    resourceClass: Type.String({ pattern: RESOURCE_CLASS_PATTERN, description: 'desk:hot, desk:fixed, space:open-space, space:lab, room or machine:<equipment class>' }),
    unit: Type.Union(
      RATE_UNITS.map((u) => Type.Literal(u)),
      { description: 'hour (billed in minutes, in increments), day (a local day with use), kwh (machine energy)' },
    ),
    priceMinor: Minor('Price per unit (hour, day, kWh), minor units'),
    referencePriceMinor: Minor('Reference market price per unit, minor units; the subsidy is measured against it'),
    incrementMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440, description: 'hour unit: bill in units of this many minutes (default 1)' })),
    rounding: Type.Optional(Type.Union(ROUNDINGS.map((r) => Type.Literal(r)), { description: 'How a part increment is rounded (hour) or part Wh (kwh); default up' })),
    minimumMinutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 1440, description: 'hour unit: a piece is billed at least this long; day unit: a day counts only with this much use' })),
    startingFeeMinor: Type.Optional(Minor('Charged once per session, on its first piece')),
    dailyCapMinor: Type.Optional(Minor('Most charged per member, class and local day')),
    monthlyCapMinor: Type.Optional(Minor('Most charged per member, class and local month')),
    noShowFeeMinor: Type.Optional(Minor('Charged per booking of this class marked a no-show (docs/bookings.md); absent or 0: none')),
    overrides: Type.Optional(Type.Array(RateOverrideSchema, { maxItems: 100 })),
  },
  { additionalProperties: false },
);

export const RateVersionSchema = Type.Object(
  {
    effectiveFrom: Type.String({ pattern: DATE_PATTERN, description: 'Local date (site time zone), YYYY-MM-DD, from which this version applies' }),
    rates: Type.Array(RateSchema, { maxItems: 500 }),
  },
  { additionalProperties: false },
);

export const RateCardSchema = Type.Object(
  {
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code; default CNY' })),
    versions: Type.Array(RateVersionSchema, { minItems: 1, maxItems: 500 }),
  },
  { additionalProperties: false },
);

export type RateCardInput = Static<typeof RateCardSchema>;
export type RateOverride = Static<typeof RateOverrideSchema>;

/** A rate with its defaults filled in. */
export interface Rate {
  readonly resourceClass: string;
  readonly unit: RateUnit;
  readonly priceMinor: number;
  readonly referencePriceMinor: number;
  readonly incrementMinutes: number;
  readonly rounding: Rounding;
  readonly minimumMinutes: number;
  readonly startingFeeMinor: number;
  readonly dailyCapMinor: number | null;
  readonly monthlyCapMinor: number | null;
  /** Per no-show booking of this class; absent: none (only present when the card sets it). */
  readonly noShowFeeMinor?: number;
  readonly overrides: readonly RateOverride[];
}

export interface RateVersion {
  readonly effectiveFrom: string;
  readonly rates: readonly Rate[];
}

/** A validated rate card: versions sorted by `effectiveFrom`, frozen. */
export interface RateCard {
  readonly currency: string;
  readonly versions: readonly RateVersion[];
}

export type RateCardIssueCode = 'required' | 'unknown-field' | 'invalid-value' | 'duplicate' | 'empty-override';

export interface RateCardIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly code: RateCardIssueCode;
}

export type RateCardParse = { readonly ok: true; readonly card: RateCard } | { readonly ok: false; readonly errors: readonly RateCardIssue[] };

/** `versions[0].rates[2].unit` */
export function formatRateCardPath(path: readonly (string | number)[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function pointerPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s));
}

function describe(schema: TSchema): string {
  const d = (schema as { description?: unknown }).description;
  return typeof d === 'string' ? ` (${d})` : '';
}

function schemaIssues(input: unknown): RateCardIssue[] {
  const out: RateCardIssue[] = [];
  const seen = new Set<string>();
  const all = [...Value.Errors(RateCardSchema, input)];
  // A missing field is also reported as a value of the wrong type; "is required" says it better.
  const missing = new Set(all.filter((e) => e.type === ValueErrorType.ObjectRequiredProperty).map((e) => e.path));
  for (const e of all) {
    if (e.type !== ValueErrorType.ObjectRequiredProperty && missing.has(e.path)) continue;
    const path = pointerPath(e.path);
    let issue: RateCardIssue;
    if (e.type === ValueErrorType.ObjectRequiredProperty) {
      issue = { path: path.slice(0, -1), code: 'required', message: `"${String(path[path.length - 1])}" is required${describe(e.schema)}` };
    } else if (e.type === ValueErrorType.ObjectAdditionalProperties) {
      const known = Object.keys((e.schema as { properties?: Record<string, unknown> }).properties ?? {});
      issue = { path, code: 'unknown-field', message: `unknown field; expected one of ${known.join(', ')}` };
    } else {
      issue = { path, code: 'invalid-value', message: `${e.message}${describe(e.schema)}` };
    }
    const key = `${formatRateCardPath(issue.path)}|${issue.code}`;
    // A union reports once per branch; one issue per path is enough to act on.
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return out;
}

function semanticIssues(card: RateCardInput): RateCardIssue[] {
  const out: RateCardIssue[] = [];
  const dates = new Map<string, number>();
  card.versions.forEach((v, vi) => {
    const prev = dates.get(v.effectiveFrom);
    if (prev !== undefined) out.push({ path: ['versions', vi, 'effectiveFrom'], code: 'duplicate', message: `versions[${prev}] is already effective from ${v.effectiveFrom}` });
    else dates.set(v.effectiveFrom, vi);
    if (Number.isNaN(Date.parse(`${v.effectiveFrom}T00:00:00Z`)) || new Date(`${v.effectiveFrom}T00:00:00Z`).toISOString().slice(0, 10) !== v.effectiveFrom) {
      out.push({ path: ['versions', vi, 'effectiveFrom'], code: 'invalid-value', message: `${v.effectiveFrom} is not a calendar date` });
    }
    const classes = new Map<string, number>();
    v.rates.forEach((r, ri) => {
      const at = ['versions', vi, 'rates', ri];
      const prevRate = classes.get(r.resourceClass);
      if (prevRate !== undefined) out.push({ path: [...at, 'resourceClass'], code: 'duplicate', message: `rates[${prevRate}] already prices ${r.resourceClass} in this version` });
      else classes.set(r.resourceClass, ri);
      if (r.unit !== 'hour' && r.incrementMinutes !== undefined && r.incrementMinutes !== 1) {
        out.push({ path: [...at, 'incrementMinutes'], code: 'invalid-value', message: `increments apply to the hour unit only, not ${r.unit}` });
      }
      if (r.unit === 'day' && (r.startingFeeMinor ?? 0) > 0) {
        out.push({ path: [...at, 'startingFeeMinor'], code: 'invalid-value', message: 'a day rate has no starting fee (it is charged per session, on hour and kwh rates)' });
      }
      if (r.unit === 'kwh' && !r.resourceClass.startsWith('machine:')) {
        out.push({ path: [...at, 'unit'], code: 'invalid-value', message: 'kwh prices machine energy; only machine:<class> can use it' });
      }
      const selectors = new Map<string, number>();
      (r.overrides ?? []).forEach((o, oi) => {
        if (o.group === undefined && o.planId === undefined) {
          out.push({ path: [...at, 'overrides', oi], code: 'empty-override', message: 'an override needs a group, a planId or both' });
          return;
        }
        const key = `${o.group ?? ''}|${o.planId ?? ''}`;
        const prevO = selectors.get(key);
        if (prevO !== undefined) out.push({ path: [...at, 'overrides', oi], code: 'duplicate', message: `overrides[${prevO}] already selects these members` });
        else selectors.set(key, oi);
      });
    });
  });
  return out;
}

function normalise(card: RateCardInput): RateCard {
  const versions = [...card.versions]
    .sort((a, b) => (a.effectiveFrom < b.effectiveFrom ? -1 : a.effectiveFrom > b.effectiveFrom ? 1 : 0))
    .map(
      (v): RateVersion =>
        Object.freeze({
          effectiveFrom: v.effectiveFrom,
          rates: Object.freeze(
            v.rates.map(
              (r): Rate =>
                Object.freeze({
                  resourceClass: r.resourceClass,
                  unit: r.unit,
                  priceMinor: r.priceMinor,
                  referencePriceMinor: r.referencePriceMinor,
                  incrementMinutes: r.incrementMinutes ?? 1,
                  rounding: r.rounding ?? 'up',
                  minimumMinutes: r.minimumMinutes ?? 0,
                  startingFeeMinor: r.startingFeeMinor ?? 0,
                  dailyCapMinor: r.dailyCapMinor ?? null,
                  monthlyCapMinor: r.monthlyCapMinor ?? null,
                  // Only when set, so cards without no-show fees normalise exactly as before.
                  ...(r.noShowFeeMinor !== undefined && { noShowFeeMinor: r.noShowFeeMinor }),
                  overrides: Object.freeze((r.overrides ?? []).map((o) => Object.freeze({ ...o }))),
                }),
            ),
          ),
        }),
    );
  return Object.freeze({ currency: card.currency ?? DEFAULT_CURRENCY, versions: Object.freeze(versions) });
}

/** Validates a rate card (parsed JSON or YAML), collecting every problem. */
export function parseRateCard(input: unknown): RateCardParse {
  const errors = schemaIssues(input);
  if (errors.length > 0) return { ok: false, errors };
  const card = input as RateCardInput;
  const semantic = semanticIssues(card);
  if (semantic.length > 0) return { ok: false, errors: semantic };
  return { ok: true, card: normalise(card) };
}

/** The version in force on a local date (the newest effective on or before it), or null before the first. */
export function versionOn(card: RateCard, date: string): RateVersion | null {
  let found: RateVersion | null = null;
  for (const v of card.versions) if (v.effectiveFrom <= date) found = v;
  return found;
}

/** Who is being priced, for overrides. */
export interface PriceSelector {
  readonly planId: string | null;
  readonly group: string | null;
}

/** The prices that apply to a member: the most specific matching override (group and plan, then plan, then group) over the rate. */
export interface EffectivePrice {
  readonly priceMinor: number;
  readonly startingFeeMinor: number;
  readonly dailyCapMinor: number | null;
  readonly monthlyCapMinor: number | null;
  /** Which override applied: 'plan:<id>', 'group:<id>', 'plan:<id>+group:<id>', or null. */
  readonly override: string | null;
}

/** The most specific override matching a member (group and plan, then plan, then group), or null. */
function bestOverride(rate: Rate, who: PriceSelector): RateOverride | null {
  let best: RateOverride | null = null;
  let bestScore = 0;
  for (const o of rate.overrides) {
    if (o.group !== undefined && o.group !== who.group) continue;
    if (o.planId !== undefined && o.planId !== who.planId) continue;
    const score = (o.planId !== undefined ? 2 : 0) + (o.group !== undefined ? 1 : 0);
    // First of equals wins (parseRateCard refuses two with the same selectors, so there are none).
    if (score > bestScore) {
      best = o;
      bestScore = score;
    }
  }
  return best;
}

const overrideLabel = (o: RateOverride): string =>
  [o.planId !== undefined ? `plan:${o.planId}` : null, o.group !== undefined ? `group:${o.group}` : null].filter((x) => x !== null).join('+');

export function effectivePrice(rate: Rate, who: PriceSelector): EffectivePrice {
  const best = bestOverride(rate, who);
  if (!best) return { priceMinor: rate.priceMinor, startingFeeMinor: rate.startingFeeMinor, dailyCapMinor: rate.dailyCapMinor, monthlyCapMinor: rate.monthlyCapMinor, override: null };
  const label = overrideLabel(best);
  return {
    priceMinor: best.priceMinor ?? rate.priceMinor,
    startingFeeMinor: best.startingFeeMinor ?? rate.startingFeeMinor,
    dailyCapMinor: best.dailyCapMinor ?? rate.dailyCapMinor,
    monthlyCapMinor: best.monthlyCapMinor ?? rate.monthlyCapMinor,
    override: label,
  };
}

/**
 * The fee for a no-show booking of the rate's class for a member: the most
 * specific matching override's `noShowFeeMinor` if it sets one, else the
 * rate's. `feeMinor` 0 means no fee (none set, or set to 0).
 */
export function noShowFee(rate: Rate, who: PriceSelector): { readonly feeMinor: number; readonly override: string | null } {
  const best = bestOverride(rate, who);
  if (best?.noShowFeeMinor !== undefined) return { feeMinor: best.noShowFeeMinor, override: overrideLabel(best) };
  return { feeMinor: rate.noShowFeeMinor ?? 0, override: null };
}
