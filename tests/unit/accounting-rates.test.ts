/**
 * core/accounting/rates.ts: a rate card is validated with every problem
 * collected and located by path, defaults are filled in, versions are sorted
 * by date, and the version and override that apply are the ones the rules say.
 */
import { describe, expect, it } from 'vitest';
import { effectivePrice, formatRateCardPath, noShowFee, parseRateCard, versionOn, type RateCard } from '../../core/accounting/rates.js';

const LASER = { resourceClass: 'machine:laser-cutter', unit: 'hour', priceMinor: 3000, referencePriceMinor: 12000, incrementMinutes: 6 };
const HOT = { resourceClass: 'desk:hot', unit: 'day', priceMinor: 500, referencePriceMinor: 5000 };

function ok(input: unknown): RateCard {
  const r = parseRateCard(input);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.card;
}
function errors(input: unknown) {
  const r = parseRateCard(input);
  if (r.ok) throw new Error('expected errors');
  return r.errors.map((e) => ({ path: formatRateCardPath(e.path), code: e.code }));
}

describe('parseRateCard: a valid card', () => {
  it('fills in defaults (CNY, 1-minute increments, rounding up, no fee, no caps, no overrides) and sorts versions by date', () => {
    const card = ok({ versions: [{ effectiveFrom: '2026-11-16', rates: [HOT] }, { effectiveFrom: '2026-01-01', rates: [LASER] }] });
    expect(card.currency).toBe('CNY');
    expect(card.versions.map((v) => v.effectiveFrom)).toEqual(['2026-01-01', '2026-11-16']);
    expect(card.versions[1]!.rates[0]).toEqual({
      resourceClass: 'desk:hot',
      unit: 'day',
      priceMinor: 500,
      referencePriceMinor: 5000,
      incrementMinutes: 1,
      rounding: 'up',
      minimumMinutes: 0,
      startingFeeMinor: 0,
      dailyCapMinor: null,
      monthlyCapMinor: null,
      overrides: [],
    });
    expect(Object.isFrozen(card.versions[0]!.rates[0])).toBe(true);
  });

  it('keeps a configured currency', () => {
    expect(ok({ currency: 'EUR', versions: [{ effectiveFrom: '2026-01-01', rates: [] }] }).currency).toBe('EUR');
  });
});

describe('parseRateCard: errors, all of them, with their paths', () => {
  it.each([
    ['no versions', {}, [{ path: '', code: 'required' }]],
    ['empty versions', { versions: [] }, [{ path: 'versions', code: 'invalid-value' }]],
    ['a lower-case currency', { currency: 'cny', versions: [{ effectiveFrom: '2026-01-01', rates: [] }] }, [{ path: 'currency', code: 'invalid-value' }]],
    ['a date that is not YYYY-MM-DD', { versions: [{ effectiveFrom: '2026-1-1', rates: [] }] }, [{ path: 'versions[0].effectiveFrom', code: 'invalid-value' }]],
    ['a date that does not exist', { versions: [{ effectiveFrom: '2026-02-30', rates: [] }] }, [{ path: 'versions[0].effectiveFrom', code: 'invalid-value' }]],
    ['a price that is not an integer (money is minor units)', { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...LASER, priceMinor: 30.5 }] }] }, [{ path: 'versions[0].rates[0].priceMinor', code: 'invalid-value' }]],
    ['a negative reference price', { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...LASER, referencePriceMinor: -1 }] }] }, [{ path: 'versions[0].rates[0].referencePriceMinor', code: 'invalid-value' }]],
    ['a missing price', { versions: [{ effectiveFrom: '2026-01-01', rates: [{ resourceClass: 'room', unit: 'hour', referencePriceMinor: 1 }] }] }, [{ path: 'versions[0].rates[0]', code: 'required' }]],
    ['an unknown unit', { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...LASER, unit: 'week' }] }] }, [{ path: 'versions[0].rates[0].unit', code: 'invalid-value' }]],
    ['an unknown resource class', { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...LASER, resourceClass: 'laser' }] }] }, [{ path: 'versions[0].rates[0].resourceClass', code: 'invalid-value' }]],
    ['an unknown field', { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...LASER, pricePerHour: 30 }] }] }, [{ path: 'versions[0].rates[0].pricePerHour', code: 'unknown-field' }]],
    ['a zero increment', { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...LASER, incrementMinutes: 0 }] }] }, [{ path: 'versions[0].rates[0].incrementMinutes', code: 'invalid-value' }]],
    [
      'two problems in two places',
      { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...LASER, rounding: 'ceil' }, { ...HOT, dailyCapMinor: 'lots' }] }] },
      [
        { path: 'versions[0].rates[0].rounding', code: 'invalid-value' },
        { path: 'versions[0].rates[1].dailyCapMinor', code: 'invalid-value' },
      ],
    ],
    [
      'two versions from the same date',
      { versions: [{ effectiveFrom: '2026-01-01', rates: [] }, { effectiveFrom: '2026-01-01', rates: [] }] },
      [{ path: 'versions[1].effectiveFrom', code: 'duplicate' }],
    ],
    ['a class priced twice in a version', { versions: [{ effectiveFrom: '2026-01-01', rates: [LASER, { ...LASER, priceMinor: 1 }] }] }, [{ path: 'versions[0].rates[1].resourceClass', code: 'duplicate' }]],
    ['increments on a day rate', { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...HOT, incrementMinutes: 30 }] }] }, [{ path: 'versions[0].rates[0].incrementMinutes', code: 'invalid-value' }]],
    ['a starting fee on a day rate', { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...HOT, startingFeeMinor: 100 }] }] }, [{ path: 'versions[0].rates[0].startingFeeMinor', code: 'invalid-value' }]],
    ['kwh on a desk', { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...HOT, unit: 'kwh' }] }] }, [{ path: 'versions[0].rates[0].unit', code: 'invalid-value' }]],
    ['an override selecting nobody', { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...LASER, overrides: [{ priceMinor: 1 }] }] }] }, [{ path: 'versions[0].rates[0].overrides[0]', code: 'empty-override' }]],
    [
      'two overrides selecting the same members',
      { versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...LASER, overrides: [{ planId: 'p', priceMinor: 1 }, { planId: 'p', priceMinor: 2 }] }] }] },
      [{ path: 'versions[0].rates[0].overrides[1]', code: 'duplicate' }],
    ],
  ])('%s', (_name, input, want) => {
    expect(errors(input)).toEqual(want);
  });

  it('a message says what is wrong', () => {
    const r = parseRateCard({ versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...LASER, pricePerHour: 30 }] }] });
    expect(r.ok ? '' : r.errors[0]!.message).toMatch(/^unknown field; expected one of resourceClass, unit, priceMinor/);
  });
});

describe('versionOn', () => {
  const card = ok({ versions: [{ effectiveFrom: '2026-11-16', rates: [] }, { effectiveFrom: '2026-01-01', rates: [] }] });
  it.each([
    ['2025-12-31', null],
    ['2026-01-01', '2026-01-01'],
    ['2026-11-15', '2026-01-01'],
    ['2026-11-16', '2026-11-16'],
    ['2027-03-01', '2026-11-16'],
  ])('on %s: %s', (date, want) => {
    expect(versionOn(card, date)?.effectiveFrom ?? null).toBe(want);
  });
});

describe('effectivePrice: the most specific override wins', () => {
  const rate = ok({
    versions: [
      {
        effectiveFrom: '2026-01-01',
        rates: [
          {
            ...LASER,
            startingFeeMinor: 500,
            dailyCapMinor: 20000,
            overrides: [
              { group: 'student', priceMinor: 2000 },
              { planId: 'incubated', group: 'student', priceMinor: 1000, dailyCapMinor: 5000 },
              { planId: 'incubated', priceMinor: 1500, startingFeeMinor: 0 },
            ],
          },
        ],
      },
    ],
  }).versions[0]!.rates[0]!;
  it.each([
    [null, null, { priceMinor: 3000, startingFeeMinor: 500, dailyCapMinor: 20000, monthlyCapMinor: null, override: null }],
    ['basic', 'student', { priceMinor: 2000, startingFeeMinor: 500, dailyCapMinor: 20000, monthlyCapMinor: null, override: 'group:student' }],
    ['incubated', null, { priceMinor: 1500, startingFeeMinor: 0, dailyCapMinor: 20000, monthlyCapMinor: null, override: 'plan:incubated' }],
    ['incubated', 'student', { priceMinor: 1000, startingFeeMinor: 500, dailyCapMinor: 5000, monthlyCapMinor: null, override: 'plan:incubated+group:student' }],
  ])('plan %s, group %s', (planId, group, want) => {
    expect(effectivePrice(rate, { planId, group })).toEqual(want);
  });
});

describe('noShowFee: per no-show booking, overridable like a price', () => {
  const rate = ok({
    versions: [
      {
        effectiveFrom: '2026-01-01',
        rates: [{ ...LASER, noShowFeeMinor: 2000, overrides: [{ planId: 'incubated', noShowFeeMinor: 1000 }, { group: 'student', priceMinor: 2000 }, { planId: 'free', noShowFeeMinor: 0 }] }],
      },
    ],
  }).versions[0]!.rates[0]!;
  it.each([
    [null, null, { feeMinor: 2000, override: null }],
    ['incubated', null, { feeMinor: 1000, override: 'plan:incubated' }],
    // The matching override does not set a fee: the rate's applies.
    ['basic', 'student', { feeMinor: 2000, override: null }],
    ['free', null, { feeMinor: 0, override: 'plan:free' }],
  ])('plan %s, group %s', (planId, group, want) => {
    expect(noShowFee(rate, { planId, group })).toEqual(want);
  });

  it('absent: no fee, and the rate normalises without the field', () => {
    const plain = ok({ versions: [{ effectiveFrom: '2026-01-01', rates: [LASER] }] }).versions[0]!.rates[0]!;
    expect('noShowFeeMinor' in plain).toBe(false);
    expect(noShowFee(plain, { planId: null, group: null })).toEqual({ feeMinor: 0, override: null });
  });

  it('a negative or fractional fee is refused with its path', () => {
    const r = parseRateCard({ versions: [{ effectiveFrom: '2026-01-01', rates: [{ ...LASER, noShowFeeMinor: -1, overrides: [{ planId: 'x', noShowFeeMinor: 1.5 }] }] }] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => formatRateCardPath(e.path))).toEqual(['versions[0].rates[0].noShowFeeMinor', 'versions[0].rates[0].overrides[0].noShowFeeMinor']);
  });
});
