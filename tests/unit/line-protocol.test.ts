import { Point } from '@influxdata/influxdb-client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PointSpec } from '../../core/points.js';
import { toLine } from '../../gateway/sink/line-protocol.js';

/** The client library's Point is the oracle for escaping and layout. */
function viaLibrary(spec: PointSpec): string | undefined {
  const p = new Point(spec.measurement);
  for (const [k, v] of Object.entries(spec.tags)) p.tag(k, v);
  for (const [k, v] of Object.entries(spec.fields)) {
    if (typeof v === 'number') p.floatField(k, v);
    else p.stringField(k, v);
  }
  p.timestamp(spec.timeNs);
  return p.toLineProtocol();
}

const text = fc.string({ unit: fc.constantFrom('a', 'b', 'Z', '0', '-', '_', ' ', ',', '=', '"', '\\', '\n', '\t', '中', 'é'), minLength: 1, maxLength: 12 });
// Keys never look like array indices in our points (JS would order those first).
const key = text.map((t) => `k${t}`);
const sortedRecord = <T>(value: fc.Arbitrary<T>) =>
  fc.dictionary(key, value, { minKeys: 1, maxKeys: 6 }).map((d) => Object.fromEntries(Object.keys(d).sort().map((k) => [k, d[k]!])));

describe('line protocol encoder', () => {
  it('matches the InfluxDB client library on generated points', () => {
    fc.assert(
      fc.property(
        text,
        sortedRecord(text),
        sortedRecord(fc.oneof(text, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer())),
        fc.bigInt({ min: 0n, max: 9_000_000_000_000_000_000n }),
        (measurement, tags, fields, t) => {
          const spec: PointSpec = { measurement, tags, fields, timeNs: t.toString() };
          expect(toLine(spec)).toBe(viaLibrary(spec));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('writes integer-valued numbers as floats (no i suffix)', () => {
    expect(toLine({ measurement: 'm', tags: {}, fields: { a: 20 }, timeNs: '1' })).toBe('m a=20 1');
  });

  it('refuses points without fields and non-finite numbers', () => {
    expect(() => toLine({ measurement: 'm', tags: { a: 'b' }, fields: {}, timeNs: '1' })).toThrow(/no fields/);
    expect(() => toLine({ measurement: 'm', tags: {}, fields: { a: Infinity }, timeNs: '1' })).toThrow(/finite/);
  });
});
