/**
 * core/evaluation/periods.ts and values.ts: local months, quarters and years
 * as instants, the previous period, the dates a period covers, and the change
 * between two values (null-safe).
 */
import { describe, expect, it } from 'vitest';
import { dayNumber } from '../../core/usage/calendar.js';
import { dayRange, periodOf, periodsUpTo, previousPeriod } from '../../core/evaluation/periods.js';
import { change, ratio } from '../../core/evaluation/values.js';

const SH = 'Asia/Shanghai';
const sh = (local: string): number => Date.parse(`${local}+08:00`);

describe('periodOf and previousPeriod', () => {
  it.each([
    ['month', '2026-11', '2026-11-01T00:00', '2026-12-01T00:00', '2026-10'],
    ['month', '2026-01', '2026-01-01T00:00', '2026-02-01T00:00', '2025-12'],
    ['quarter', '2026-Q1', '2026-01-01T00:00', '2026-04-01T00:00', '2025-Q4'],
    ['quarter', '2026-Q4', '2026-10-01T00:00', '2027-01-01T00:00', '2026-Q3'],
    ['year', '2026', '2026-01-01T00:00', '2027-01-01T00:00', '2025'],
  ] as const)('%s %s is local [%s, %s), previous %s', (kind, key, from, to, prev) => {
    const p = periodOf(kind, key, SH);
    expect(p).toEqual({ kind, key, timezone: SH, from: sh(from), to: sh(to) });
    const q = previousPeriod(p);
    expect(q.key).toBe(prev);
    expect(q.to).toBe(p.from);
  });

  it('a month across a DST change is 31 days less an hour (Europe/Berlin, March 2026)', () => {
    const p = periodOf('month', '2026-03', 'Europe/Berlin');
    expect(p.from).toBe(Date.parse('2026-03-01T00:00+01:00'));
    expect(p.to).toBe(Date.parse('2026-04-01T00:00+02:00'));
    expect(p.to - p.from).toBe(31 * 86_400_000 - 3_600_000);
  });

  it.each([
    ['month', '2026-13'],
    ['month', '2026-1'],
    ['quarter', '2026-Q5'],
    ['year', '26'],
    ['year', '2026-01'],
  ] as const)('refuses %s key %s', (kind, key) => {
    expect(() => periodOf(kind, key, SH)).toThrow(RangeError);
  });
});

describe('dayRange', () => {
  it('a local month covers exactly its dates', () => {
    const p = periodOf('month', '2026-11', SH);
    expect(dayRange(SH, p.from, p.to)).toEqual({ first: dayNumber('2026-11-01'), end: dayNumber('2026-12-01') });
  });
  it('a period starting mid-day starts at the next midnight', () => {
    expect(dayRange(SH, sh('2026-11-01T12:00'), sh('2026-11-03T00:00'))).toEqual({ first: dayNumber('2026-11-02'), end: dayNumber('2026-11-03') });
  });
  it('an empty period has no dates', () => {
    const r = dayRange(SH, sh('2026-11-01T00:00'), sh('2026-11-01T00:00'));
    expect(r.end - r.first).toBe(0);
  });
});

describe('change and ratio', () => {
  it.each([
    [12, 8, 4, 0.5, null],
    [8, 12, -4, -0.3333, null],
    [0.3, 0.1, 0.2, 2, null],
    [5, 0, 5, null, 'previous-zero'],
    [5, null, null, null, 'no-previous'],
    [null, 5, null, null, 'not-supplied'],
    [-2, -4, 2, 0.5, null], // relative to |previous|
  ] as const)('change(%s, %s) = %s, %s', (value, previous, absolute, relative, reason) => {
    expect(change(value, previous)).toEqual({ absolute, relative, nullReason: reason });
  });

  it('a zero denominator gives null with its reason, never NaN', () => {
    expect(ratio(0, 0, 0)).toEqual({ value: null, numerator: 0, denominator: 0, evidence: 0, nullReason: 'zero-denominator' });
    expect(ratio(1, 3, 2).value).toBe(0.3333);
  });
});

describe('periodsUpTo', () => {
  it('gives consecutive periods, oldest first, each ending where the next starts', () => {
    const l = periodsUpTo(periodOf('quarter', '2026-Q2', SH), 4);
    expect(l.map((p) => p.key)).toEqual(['2025-Q3', '2025-Q4', '2026-Q1', '2026-Q2']);
    for (let i = 1; i < l.length; i++) expect(l[i]!.from).toBe(l[i - 1]!.to);
    expect(periodsUpTo(periodOf('year', '2026', SH), 0)).toEqual([]);
  });
});
