import { describe, expect, it } from 'vitest';
import { energyDeltaKwh } from '../../core/energy.js';

describe('energyDeltaKwh', () => {
  it.each([
    ['counter moved on', 12.345, 12.845, 0.5],
    ['counter unchanged (idle machine)', 7.5, 7.5, 0],
    ['from zero', 0, 0.25, 0.25],
    ['reset to 0 by a reboot: a new meter cycle, no energy', 514.153, 0, 0],
    ['reset, then counted again before the next report', 514.153, 0.031, 0.031],
    ['counter restarted below the old value on a large meter', 1000, 999.999, 999.999],
    ['integers (Tasmota prints Total 0 as 0.000, JSON may give 0)', 3, 5, 2],
  ])('%s: %d → %d gives %d kWh', (_name, prev, next, expected) => {
    expect(energyDeltaKwh(prev, next)).toBeCloseTo(expected, 9);
  });

  it('is never negative', () => {
    for (const [prev, next] of [[10, 9.999], [0.001, 0], [1e6, 1], [5, 5]] as const) {
      expect(energyDeltaKwh(prev, next)).toBeGreaterThanOrEqual(0);
    }
  });

  it('summed over a day with a reboot, counts what was consumed in each cycle', () => {
    // Readings every few minutes; the plug loses its counter after 12.4 (power cut) and counts from 0 again.
    const readings = [12.0, 12.1, 12.4, 0.0, 0.05, 0.3];
    let total = 0;
    for (let i = 1; i < readings.length; i++) total += energyDeltaKwh(readings[i - 1]!, readings[i]!);
    expect(total).toBeCloseTo(0.4 + 0.3, 9);
  });

  it.each([
    [Number.NaN, 1],
    [1, Number.NaN],
    [-1, 1],
    [1, -0.5],
    [Number.POSITIVE_INFINITY, 1],
    [1, Number.POSITIVE_INFINITY],
  ])('refuses (%d, %d) with a RangeError', (prev, next) => {
    expect(() => energyDeltaKwh(prev, next)).toThrow(RangeError);
  });
});
