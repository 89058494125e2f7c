/**
 * PointSpec → one line of InfluxDB line protocol.
 *
 * Written by hand rather than through the client library's Point because it
 * runs once per signal on the ingest path (the library builds an object per
 * point and sorts its keys every time; core/points.ts already gives keys in
 * order). tests/unit/line-protocol.test.ts checks it against the library's
 * Point on generated points, escaping included.
 *
 * Escaping (InfluxDB line protocol): measurement — comma, space; tag keys,
 * tag values and field keys — comma, equals sign, space; string field values —
 * double quote and backslash. Newline, carriage return and tab are written as
 * \n, \r, \t, as the library does.
 */
import type { PointSpec } from '../../core/points.js';

const MEASUREMENT_SPECIAL = /[, \n\r\t]/;
const KEY_SPECIAL = /[, =\n\r\t]/;
const STRING_SPECIAL = /["\\]/;

const CONTROL: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeMeasurement(s: string): string {
  return MEASUREMENT_SPECIAL.test(s) ? s.replace(/[, \n\r\t]/g, (c) => CONTROL[c] ?? `\\${c}`) : s;
}

function escapeKey(s: string): string {
  return KEY_SPECIAL.test(s) ? s.replace(/[, =\n\r\t]/g, (c) => CONTROL[c] ?? `\\${c}`) : s;
}

function quote(s: string): string {
  return STRING_SPECIAL.test(s) ? `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"` : `"${s}"`;
}

export function toLine(spec: PointSpec): string {
  let line = escapeMeasurement(spec.measurement);
  for (const k in spec.tags) {
    const v = spec.tags[k]!;
    // An empty tag value is not allowed in line protocol: the tag is left out.
    if (v !== '') line += `,${escapeKey(k)}=${escapeKey(v)}`;
  }
  let sep = ' ';
  for (const k in spec.fields) {
    const v = spec.fields[k]!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new Error(`field ${k} of ${spec.measurement} is not a finite number`);
      line += `${sep}${escapeKey(k)}=${String(v)}`;
    } else {
      line += `${sep}${escapeKey(k)}=${quote(v)}`;
    }
    sep = ',';
  }
  if (sep === ' ') throw new Error(`point ${spec.measurement} has no fields`);
  return `${line} ${spec.timeNs}`;
}
