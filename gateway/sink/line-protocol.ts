/** PointSpec → one line of InfluxDB line protocol, escaped by the InfluxDB client library's Point. */
import { Point } from '@influxdata/influxdb-client';
import type { PointSpec } from '../../core/points.js';

export function toLine(spec: PointSpec): string {
  const p = new Point(spec.measurement);
  for (const [k, v] of Object.entries(spec.tags)) p.tag(k, v);
  for (const [k, v] of Object.entries(spec.floats)) p.floatField(k, v);
  for (const [k, v] of Object.entries(spec.strings)) p.stringField(k, v);
  p.timestamp(spec.timeNs);
  const line = p.toLineProtocol();
  if (line === undefined) throw new Error(`point ${spec.measurement} has no fields`);
  return line;
}
