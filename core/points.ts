/**
 * Journal record → InfluxDB point, as data (docs/protocol.md, "InfluxDB").
 *
 * - Tags are low-cardinality and never personal: site, space, device kind,
 *   target type, and the device/target ids (hundreds to thousands per site).
 * - Every numeric field is written as a float, always, so no device can ever
 *   cause a field type conflict (InfluxDB fixes a field's type on first write).
 * - The timestamp is the signal time in ms plus the device sequence number
 *   modulo 10^6 in the sub-millisecond nanoseconds: the same signal always
 *   becomes the same point (a replay overwrites, never duplicates), and two
 *   signals of one device within one millisecond stay distinct.
 */
import type { JournalRecord, Signal } from './signals.js';

export interface PointSpec {
  readonly measurement: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly floats: Readonly<Record<string, number>>;
  readonly strings: Readonly<Record<string, string>>;
  /** Nanoseconds since the epoch, as a decimal string. */
  readonly timeNs: string;
}

export const MEASUREMENTS = Object.freeze({
  badge: 'badge_swipe',
  occupancy: 'occupancy',
  power: 'equipment_power',
  health: 'device_health',
  system: 'gateway_event',
} as const);

export function pointTimeNs(tsMs: number, sub: number): string {
  return `${tsMs}${String(sub % 1_000_000).padStart(6, '0')}`;
}

function signalTags(s: Signal): Record<string, string> {
  const tags: Record<string, string> = { site: s.site, device: s.device, device_kind: s.deviceKind };
  if (s.space !== null) tags.space = s.space;
  if (s.target !== null) {
    tags.target_type = s.target.type;
    tags.target = s.target.id;
  }
  return tags;
}

const b = (v: boolean): number => (v ? 1 : 0);

function putIfNumber(fields: Record<string, number>, name: string, v: number | null): void {
  if (v !== null) fields[name] = v;
}

export function toPoint(r: JournalRecord): PointSpec {
  switch (r.kind) {
    case 'badge':
      return {
        measurement: MEASUREMENTS.badge,
        tags: signalTags(r),
        floats: { seq: r.seq },
        strings: { format: r.credential.format, card: r.credential.id, ts_source: r.tsSource },
        timeNs: pointTimeNs(r.ts, r.seq),
      };
    case 'occupancy':
      return {
        measurement: MEASUREMENTS.occupancy,
        tags: signalTags(r),
        floats: { occupied: b(r.occupied), seq: r.seq },
        strings: { ts_source: r.tsSource },
        timeNs: pointTimeNs(r.ts, r.seq),
      };
    case 'power': {
      const floats: Record<string, number> = { power_w: r.powerW, seq: r.seq };
      putIfNumber(floats, 'energy_kwh', r.energyKwh);
      putIfNumber(floats, 'voltage_v', r.voltageV);
      putIfNumber(floats, 'current_a', r.currentA);
      if (r.on !== null) floats.on = b(r.on);
      return { measurement: MEASUREMENTS.power, tags: signalTags(r), floats, strings: { ts_source: r.tsSource }, timeNs: pointTimeNs(r.ts, r.seq) };
    }
    case 'health': {
      const floats: Record<string, number> = { seq: r.seq };
      if (r.online !== null) floats.online = b(r.online);
      putIfNumber(floats, 'battery_pct', r.batteryPct);
      putIfNumber(floats, 'link_quality', r.linkQuality);
      return { measurement: MEASUREMENTS.health, tags: signalTags(r), floats, strings: { ts_source: r.tsSource }, timeNs: pointTimeNs(r.ts, r.seq) };
    }
    case 'system':
      return {
        measurement: MEASUREMENTS.system,
        tags: { site: r.site, event: r.event },
        floats: { count: r.count, from_seq: r.fromSeq, to_seq: r.toSeq },
        strings: {},
        timeNs: pointTimeNs(r.ts, r.fromSeq),
      };
  }
}
