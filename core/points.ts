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
 * - Every point carries its journal record's idempotence key (`record_key`)
 *   and everything else the record holds, so `fromPoint` gives the record back
 *   exactly: the server runs the sessioniser on records read back from
 *   InfluxDB, ordered and identified as the gateway's live run saw them, and a
 *   billed session's evidence names journal keys an auditor can look up.
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
        fields: { card: r.credential.id, format: r.credential.format, record_key: r.key, seq: r.seq, ts_source: r.tsSource },
        timeNs: pointTimeNs(r.ts, subOf(r)),
      };
    case 'occupancy':
      return {
        measurement: MEASUREMENTS.occupancy,
        tags: signalTags(r),
        fields: { occupied: b(r.occupied), record_key: r.key, seq: r.seq, ts_source: r.tsSource },
        timeNs: pointTimeNs(r.ts, subOf(r)),
      };
    case 'power': {
      const fields: Record<string, number | string> = {};
      if (r.currentA !== null) fields.current_a = r.currentA;
      if (r.energyKwh !== null) fields.energy_kwh = r.energyKwh;
      if (r.on !== null) fields.on = b(r.on);
      fields.power_w = r.powerW;
      fields.record_key = r.key;
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
      fields.record_key = r.key;
      fields.seq = r.seq;
      fields.ts_source = r.tsSource;
      return { measurement: MEASUREMENTS.health, tags: signalTags(r), fields, timeNs: pointTimeNs(r.ts, subOf(r)) };
    }
    case 'system':
      if (r.event === 'audit_key') {
        return {
          measurement: MEASUREMENTS.system,
          tags: { event: r.event, site: r.site },
          // The first key replaces none: written as "", read back as null.
          fields: { key_id: r.keyId, public_key: r.publicKey, record_key: r.key, replaces: r.replaces ?? '' },
          timeNs: pointTimeNs(r.ts, keyHash(r.key)),
        };
      }
      return {
        measurement: MEASUREMENTS.system,
        tags: { event: r.event, site: r.site },
        fields: { count: r.count, from_seq: r.fromSeq, record_key: r.key, to_seq: r.toSeq },
        timeNs: pointTimeNs(r.ts, r.fromSeq),
      };
    case 'decision': {
      const tags: Record<string, string> = { device: r.device, grant: r.grant ? 'true' : 'false', reason: r.reason, site: r.site };
      if (r.space !== null) tags.space = r.space;
      tags.target = r.target.id;
      tags.target_type = r.target.type;
      // Member ids, never names (docs/protocol.md): a field, so they do not multiply series.
      const fields: Record<string, number | string> = { card: r.credential.id, format: r.credential.format, granted: r.grant ? 1 : 0 };
      if (r.maxRunMs !== null) fields.max_run_s = r.maxRunMs / 1000;
      if (r.memberId !== null) fields.member = r.memberId;
      fields.override = r.override ? 1 : 0;
      fields.policy_version = r.policyVersion;
      fields.record_key = r.key;
      if (r.sessionId !== null) fields.session = r.sessionId;
      fields.swipe = r.swipe;
      // A member without a team is written as "", so that it reads back as null, not as unrecorded.
      if (r.teamId !== undefined) fields.team = r.teamId ?? '';
      return { measurement: MEASUREMENTS.decision, tags, fields, timeNs: pointTimeNs(r.ts, keyHash(r.key)) };
    }
    case 'session': {
      const tags: Record<string, string> = { equipment: r.equipment, event: r.event, reason: r.reason, site: r.site };
      if (r.space !== null) tags.space = r.space;
      const fields: Record<string, number | string> = {};
      if (r.durationMs !== null) fields.duration_s = r.durationMs / 1000;
      fields.member = r.memberId;
      fields.record_key = r.key;
      fields.session = r.sessionId;
      // A member without a team is written as "", so that it reads back as null, not as unrecorded.
      if (r.teamId !== undefined) fields.team = r.teamId ?? '';
      return { measurement: MEASUREMENTS.session, tags, fields, timeNs: pointTimeNs(r.ts, keyHash(r.key)) };
    }
    case 'meter': {
      const tags: Record<string, string> = { equipment: r.equipment, site: r.site };
      if (r.space !== null) tags.space = r.space;
      return { measurement: MEASUREMENTS.meter, tags, fields: { record_key: r.key, running_h: Math.round(r.runningMs / 36_000) / 100, running_ms: r.runningMs, running_s: Math.floor(r.runningMs / 1000) }, timeNs: pointTimeNs(r.ts, keyHash(r.key)) };
    }
  }
}

// ---------------------------------------------------------------------------
// Point → record: the inverse of toPoint, for records read back from InfluxDB.

const BY_MEASUREMENT: Readonly<Record<string, JournalRecord['kind']>> = Object.fromEntries(Object.entries(MEASUREMENTS).map(([k, m]) => [m, k as JournalRecord['kind']]));

/** Why a point could not be read back as a record. */
export class PointReadError extends Error {
  override readonly name = 'PointReadError';
}

type Row = Readonly<Record<string, unknown>>;

const str = (row: Row, name: string): string => {
  const v = row[name];
  if (typeof v !== 'string' || v === '') throw new PointReadError(`column ${name} is missing or not text`);
  return v;
};
const optStr = (row: Row, name: string): string | null => {
  const v = row[name];
  return typeof v === 'string' && v !== '' ? v : null;
};
const num = (row: Row, name: string): number => {
  const v = row[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new PointReadError(`column ${name} is missing or not a number`);
  return v;
};
const optNum = (row: Row, name: string): number | null => {
  const v = row[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};
const flag = (row: Row, name: string): boolean | null => {
  const v = optNum(row, name);
  return v === null ? null : v !== 0;
};
const oneOf = <T extends string>(v: string, allowed: readonly T[], name: string): T => {
  if (!(allowed as readonly string[]).includes(v)) throw new PointReadError(`column ${name}: unexpected value ${JSON.stringify(v)}`);
  return v as T;
};

/** The team written with the record: an id, "" for none (null), or no column at all for records from before teams were recorded. */
const teamOf = (row: Row): { teamId?: string | null } => {
  const v = row.team;
  if (v === undefined) return {};
  return { teamId: typeof v === 'string' && v !== '' ? v : null };
};

const DEVICE_KINDS = ['badge-reader', 'door-controller', 'occupancy-sensor', 'power-meter', 'zigbee-bridge'] as const;
const TARGET_TYPES = ['desk', 'door', 'equipment', 'space'] as const;
const FORMATS = ['uid', 'em4100', 'wiegand26'] as const;

/**
 * A record from one row of an InfluxQL `SELECT *` answer (tags and fields as
 * columns; `tsMs` the point's time in ms, e.g. with `epoch=ms`). Throws a
 * PointReadError naming the column when the row is not one of ours. Rows
 * written before points carried `record_key` are given the key
 * `<measurement>:<device or equipment>:<ts>:<seq>`, stable but not the
 * journal's.
 */
export function fromPoint(measurement: string, row: Row, tsMs: number): JournalRecord {
  const kind = BY_MEASUREMENT[measurement];
  if (kind === undefined) throw new PointReadError(`measurement ${JSON.stringify(measurement)} is not one of ours`);
  const site = str(row, 'site');
  const keyOf = (who: string, seq: number) => optStr(row, 'record_key') ?? `${measurement}:${who}:${tsMs}:${seq}`;
  switch (kind) {
    case 'badge':
    case 'occupancy':
    case 'power':
    case 'health': {
      const device = str(row, 'device');
      const seq = num(row, 'seq');
      const targetType = optStr(row, 'target_type');
      const common = {
        key: keyOf(device, seq),
        site,
        device,
        deviceKind: oneOf(str(row, 'device_kind'), DEVICE_KINDS, 'device_kind'),
        space: optStr(row, 'space'),
        target: targetType === null ? null : { type: oneOf(targetType, TARGET_TYPES, 'target_type'), id: str(row, 'target') },
        seq,
        ts: tsMs,
        tsSource: oneOf(str(row, 'ts_source'), ['device', 'gateway'] as const, 'ts_source'),
      };
      if (kind === 'badge') return { ...common, kind, credential: { format: oneOf(str(row, 'format'), FORMATS, 'format'), id: str(row, 'card') } };
      if (kind === 'occupancy') return { ...common, kind, occupied: num(row, 'occupied') !== 0 };
      if (kind === 'power') return { ...common, kind, powerW: num(row, 'power_w'), energyKwh: optNum(row, 'energy_kwh'), voltageV: optNum(row, 'voltage_v'), currentA: optNum(row, 'current_a'), on: flag(row, 'on') };
      return { ...common, kind, online: flag(row, 'online'), batteryPct: optNum(row, 'battery_pct'), linkQuality: optNum(row, 'link_quality') };
    }
    case 'system': {
      const event = oneOf(str(row, 'event'), ['telemetry_shed', 'audit_key'] as const, 'event');
      if (event === 'audit_key') {
        const keyId = str(row, 'key_id');
        return { kind, key: keyOf('gateway', 0), site, ts: tsMs, event, keyId, publicKey: str(row, 'public_key'), replaces: optStr(row, 'replaces') };
      }
      const fromSeq = num(row, 'from_seq');
      return { kind, key: keyOf('gateway', fromSeq), site, ts: tsMs, event, count: num(row, 'count'), fromSeq, toSeq: num(row, 'to_seq') };
    }
    case 'decision': {
      const device = str(row, 'device');
      const maxRunS = optNum(row, 'max_run_s');
      return {
        kind,
        key: keyOf(device, 0),
        site,
        device,
        space: optStr(row, 'space'),
        target: { type: oneOf(str(row, 'target_type'), TARGET_TYPES, 'target_type'), id: str(row, 'target') },
        swipe: optStr(row, 'swipe') ?? '',
        credential: { format: oneOf(optStr(row, 'format') ?? 'uid', FORMATS, 'format'), id: optStr(row, 'card') ?? '' },
        memberId: optStr(row, 'member'),
        grant: str(row, 'grant') === 'true',
        reason: str(row, 'reason'),
        override: num(row, 'override') !== 0,
        policyVersion: num(row, 'policy_version'),
        ts: tsMs,
        sessionId: optStr(row, 'session'),
        maxRunMs: maxRunS === null ? null : Math.round(maxRunS * 1000),
        ...teamOf(row),
      };
    }
    case 'session': {
      const equipment = str(row, 'equipment');
      const durationS = optNum(row, 'duration_s');
      return {
        kind,
        key: keyOf(equipment, 0),
        site,
        space: optStr(row, 'space'),
        equipment,
        sessionId: str(row, 'session'),
        memberId: str(row, 'member'),
        event: oneOf(str(row, 'event'), ['start', 'end'] as const, 'event'),
        reason: str(row, 'reason'),
        ts: tsMs,
        durationMs: durationS === null ? null : Math.round(durationS * 1000),
        ...teamOf(row),
      };
    }
    case 'meter': {
      const equipment = str(row, 'equipment');
      return { kind, key: keyOf(equipment, 0), site, space: optStr(row, 'space'), equipment, runningMs: optNum(row, 'running_ms') ?? num(row, 'running_s') * 1000, ts: tsMs };
    }
  }
}
