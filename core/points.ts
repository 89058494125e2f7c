/**
 * Journal record → InfluxDB point, as data (docs/protocol.md, "InfluxDB").
 *
 * - Tags are low-cardinality and never personal: site, space, device kind,
 *   target type, and the device/target ids (hundreds to thousands per site).
 * - Every numeric field is written as a float, always, so no device can ever
 *   cause a field type conflict (InfluxDB fixes a field's type on first write).
 * - The timestamp is the signal time in ms plus, in the sub-millisecond
 *   nanoseconds, the device sequence number modulo 10^6 — or, for signals
 *   without one (seq 0: third-party devices, the gateway's own), a hash of the
 *   idempotence key. The same signal always becomes the same point (a replay
 *   overwrites, never duplicates), and two signals of one device within one
 *   millisecond stay distinct.
 * - Tags and fields are built in key order (InfluxDB's recommended order for
 *   tags), so the encoder never sorts.
 */
import type { JournalRecord, Signal } from './signals.js';

export interface PointSpec {
  readonly measurement: string;
  /** In key order. */
  readonly tags: Readonly<Record<string, string>>;
  /** In key order; numbers are floats, strings are string fields. */
  readonly fields: Readonly<Record<string, number | string>>;
  /** Nanoseconds since the epoch, as a decimal string. */
  readonly timeNs: string;
}

export const MEASUREMENTS = Object.freeze({
  badge: 'badge_swipe',
  occupancy: 'occupancy',
  power: 'equipment_power',
  health: 'device_health',
  system: 'gateway_event',
  decision: 'access_decision',
  session: 'equipment_session',
  meter: 'equipment_hours',
} as const);

export function pointTimeNs(tsMs: number, sub: number): string {
  return `${tsMs}${String(sub % 1_000_000).padStart(6, '0')}`;
}

/** FNV-1a (32-bit) of a string: a stable, dependency-free spread of keys over the sub-millisecond range. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The sub-millisecond part of a signal's point time (see the file comment). */
const subOf = (r: { readonly seq: number; readonly key: string }): number => (r.seq !== 0 ? r.seq : keyHash(r.key));

function signalTags(s: Signal): Record<string, string> {
  const tags: Record<string, string> = { device: s.device, device_kind: s.deviceKind, site: s.site };
  if (s.space !== null) tags.space = s.space;
  if (s.target !== null) {
    tags.target = s.target.id;
    tags.target_type = s.target.type;
  }
  return tags;
}

const b = (v: boolean): number => (v ? 1 : 0);

export function toPoint(r: JournalRecord): PointSpec {
  switch (r.kind) {
    case 'badge':
      return {
        measurement: MEASUREMENTS.badge,
        tags: signalTags(r),
        fields: { card: r.credential.id, format: r.credential.format, seq: r.seq, ts_source: r.tsSource },
        timeNs: pointTimeNs(r.ts, subOf(r)),
      };
    case 'occupancy':
      return {
        measurement: MEASUREMENTS.occupancy,
        tags: signalTags(r),
        fields: { occupied: b(r.occupied), seq: r.seq, ts_source: r.tsSource },
        timeNs: pointTimeNs(r.ts, subOf(r)),
      };
    case 'power': {
      const fields: Record<string, number | string> = {};
      if (r.currentA !== null) fields.current_a = r.currentA;
      if (r.energyKwh !== null) fields.energy_kwh = r.energyKwh;
      if (r.on !== null) fields.on = b(r.on);
      fields.power_w = r.powerW;
      fields.seq = r.seq;
      fields.ts_source = r.tsSource;
      if (r.voltageV !== null) fields.voltage_v = r.voltageV;
      return { measurement: MEASUREMENTS.power, tags: signalTags(r), fields, timeNs: pointTimeNs(r.ts, subOf(r)) };
    }
    case 'health': {
      const fields: Record<string, number | string> = {};
      if (r.batteryPct !== null) fields.battery_pct = r.batteryPct;
      if (r.linkQuality !== null) fields.link_quality = r.linkQuality;
      if (r.online !== null) fields.online = b(r.online);
      fields.seq = r.seq;
      fields.ts_source = r.tsSource;
      return { measurement: MEASUREMENTS.health, tags: signalTags(r), fields, timeNs: pointTimeNs(r.ts, subOf(r)) };
    }
    case 'system':
      return {
        measurement: MEASUREMENTS.system,
        tags: { event: r.event, site: r.site },
        fields: { count: r.count, from_seq: r.fromSeq, to_seq: r.toSeq },
        timeNs: pointTimeNs(r.ts, r.fromSeq),
      };
    case 'decision': {
      const tags: Record<string, string> = { device: r.device, grant: r.grant ? 'true' : 'false', reason: r.reason, site: r.site };
      if (r.space !== null) tags.space = r.space;
      tags.target = r.target.id;
      tags.target_type = r.target.type;
      // Member ids, never names (docs/protocol.md): a field, so they do not multiply series.
      const fields: Record<string, number | string> = { granted: r.grant ? 1 : 0 };
      if (r.maxRunMs !== null) fields.max_run_s = r.maxRunMs / 1000;
      if (r.memberId !== null) fields.member = r.memberId;
      fields.override = r.override ? 1 : 0;
      fields.policy_version = r.policyVersion;
      if (r.sessionId !== null) fields.session = r.sessionId;
      return { measurement: MEASUREMENTS.decision, tags, fields, timeNs: pointTimeNs(r.ts, keyHash(r.key)) };
    }
    case 'session': {
      const tags: Record<string, string> = { equipment: r.equipment, event: r.event, reason: r.reason, site: r.site };
      if (r.space !== null) tags.space = r.space;
      const fields: Record<string, number | string> = {};
      if (r.durationMs !== null) fields.duration_s = r.durationMs / 1000;
      fields.member = r.memberId;
      fields.session = r.sessionId;
      return { measurement: MEASUREMENTS.session, tags, fields, timeNs: pointTimeNs(r.ts, keyHash(r.key)) };
    }
    case 'meter': {
      const tags: Record<string, string> = { equipment: r.equipment, site: r.site };
      if (r.space !== null) tags.space = r.space;
      return { measurement: MEASUREMENTS.meter, tags, fields: { running_h: Math.round(r.runningMs / 36_000) / 100, running_s: Math.floor(r.runningMs / 1000) }, timeNs: pointTimeNs(r.ts, keyHash(r.key)) };
    }
  }
}
