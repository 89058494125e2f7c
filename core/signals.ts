/**
 * Typed signals: what the gateway journals after a decoder has turned a device's
 * wire message into domain terms. Every decoder produces these and nothing else;
 * everything downstream (journal, access, live state, InfluxDB, sessioniser)
 * consumes only these.
 */
import type { DeviceKind, TargetRef } from './site/model.js';

export const SIGNAL_KINDS = ['badge', 'occupancy', 'power', 'health'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

/**
 * Durability classes decide the overflow policy: access and billing signals are
 * never shed; telemetry is shed oldest-first when the journal is over capacity.
 */
export const SIGNAL_CLASSES = ['access', 'billing', 'telemetry', 'system'] as const;
export type SignalClass = (typeof SIGNAL_CLASSES)[number];

export const DEFAULT_CLASS: Readonly<Record<SignalKind, SignalClass>> = Object.freeze({
  badge: 'access',
  occupancy: 'billing',
  power: 'billing',
  health: 'telemetry',
});

/** Signal kinds a device of each kind may send, unless its `measures` narrows them. */
export const KINDS_BY_DEVICE: Readonly<Record<DeviceKind, readonly SignalKind[]>> = Object.freeze({
  'badge-reader': ['badge', 'health'],
  'door-controller': ['badge', 'health'],
  'occupancy-sensor': ['occupancy', 'health'],
  'power-meter': ['power', 'health'],
  // A Zigbee2MQTT bridge reports only its own availability; its sensors report for themselves.
  'zigbee-bridge': ['health'],
});

/** Credential formats: the same physical card reads differently through different readers. */
export const CREDENTIAL_FORMATS = ['uid', 'em4100', 'wiegand26'] as const;
export type CredentialFormat = (typeof CREDENTIAL_FORMATS)[number];

interface SignalCommon {
  /** Idempotence key: the same device message always yields the same key. */
  readonly key: string;
  readonly site: string;
  readonly device: string;
  readonly deviceKind: DeviceKind;
  readonly space: string | null;
  readonly target: TargetRef | null;
  /** Device's own sequence number (0 where the device has none). */
  readonly seq: number;
  /** Signal time, ms since the Unix epoch, UTC. */
  readonly ts: number;
  /** Whether ts is the device's clock or the gateway's receive time. */
  readonly tsSource: 'device' | 'gateway';
}

export interface BadgeSignal extends SignalCommon {
  readonly kind: 'badge';
  readonly credential: { readonly format: CredentialFormat; readonly id: string };
}

export interface OccupancySignal extends SignalCommon {
  readonly kind: 'occupancy';
  readonly occupied: boolean;
}

export interface PowerSignal extends SignalCommon {
  readonly kind: 'power';
  readonly powerW: number;
  /** Raw cumulative energy counter as the meter reports it (resets are the sessioniser's business). */
  readonly energyKwh: number | null;
  readonly voltageV: number | null;
  readonly currentA: number | null;
  /** Relay state where the meter is also a switch. */
  readonly on: boolean | null;
}

export interface HealthSignal extends SignalCommon {
  readonly kind: 'health';
  readonly online: boolean | null;
  readonly batteryPct: number | null;
  readonly linkQuality: number | null;
}

export type Signal = BadgeSignal | OccupancySignal | PowerSignal | HealthSignal;

interface SystemCommon {
  readonly kind: 'system';
  readonly key: string;
  readonly site: string;
  readonly ts: number;
}

/** The journal was over capacity: the oldest unsent telemetry was dropped (their Merkle leaves stay). */
export interface TelemetryShedEvent extends SystemCommon {
  readonly event: 'telemetry_shed';
  /** How many signals were dropped and the journal range they came from. */
  readonly count: number;
  readonly fromSeq: number;
  readonly toSeq: number;
}

/**
 * The gateway's checkpoint-signing key was created or replaced (docs/audit.md):
 * checkpoints signed by `keyId` are trusted only once this record is in the log.
 */
export interface AuditKeyEvent extends SystemCommon {
  readonly event: 'audit_key';
  /** First 8 bytes (hex) of SHA-256 of the raw public key (core/audit/checkpoint.ts keyIdOf). */
  readonly keyId: string;
  /** The raw 32-byte Ed25519 public key, base64. */
  readonly publicKey: string;
  /** The key id this one retires; null for the gateway's first key. */
  readonly replaces: string | null;
}

/** Events the gateway itself journals (never from a device). */
export type SystemEvent = TelemetryShedEvent | AuditKeyEvent;

/**
 * An access decision the gateway made on a swipe: journaled beside the swipe
 * (its key is the swipe's key + ":decision"), with the policy version it was
 * made under, so an auditor can recompute it.
 */
export interface DecisionRecord {
  readonly kind: 'decision';
  readonly key: string;
  readonly site: string;
  /** The reader (or door controller) that read the card. */
  readonly device: string;
  readonly space: string | null;
  readonly target: TargetRef;
  /** The swipe's own key. */
  readonly swipe: string;
  readonly credential: { readonly format: CredentialFormat; readonly id: string };
  readonly memberId: string | null;
  /** The member's team in the policy the decision was made under (absent in records from before teams were recorded). */
  readonly teamId?: string | null;
  readonly grant: boolean;
  readonly reason: string;
  readonly override: boolean;
  readonly policyVersion: number;
  /** The gateway's time of the decision (device clocks may be off; decisions are the gateway's). */
  readonly ts: number;
  /** The machine session this swipe started, or ended (a badge-out); null for doors and refusals. */
  readonly sessionId: string | null;
  readonly maxRunMs: number | null;
}

/** A machine session starting or ending: what accounting attributes a machine's use to a member by. */
export interface SessionRecord {
  readonly kind: 'session';
  readonly key: string;
  readonly site: string;
  readonly space: string | null;
  readonly equipment: string;
  readonly sessionId: string;
  readonly memberId: string;
  /** The member's team when the session started (absent in records from before teams were recorded). */
  readonly teamId?: string | null;
  readonly event: 'start' | 'end';
  /** For end: badge_out, idle, max_run, closing, takeover, out_of_service, gateway_restart. */
  readonly reason: string;
  readonly ts: number;
  /** For end: how long the session lasted. */
  readonly durationMs: number | null;
}

/**
 * A machine's hour meter (core/meter.ts), checkpointed by the gateway every
 * few minutes while it changes; the newest one restores the meter after a
 * restart. Key: `meter:<equipment>:<ts, 13 digits>`, so the newest sorts last.
 */
export interface MeterRecord {
  readonly kind: 'meter';
  readonly key: string;
  readonly site: string;
  readonly space: string | null;
  readonly equipment: string;
  /** Running time over the machine's life, ms. */
  readonly runningMs: number;
  readonly ts: number;
}

export const meterKeyPrefix = (equipment: string): string => `meter:${equipment}:`;
export const meterKey = (equipment: string, ts: number): string => `${meterKeyPrefix(equipment)}${String(ts).padStart(13, '0')}`;

export type JournalRecord = Signal | SystemEvent | DecisionRecord | SessionRecord | MeterRecord;

const SIGNAL_KIND_SET: ReadonlySet<string> = new Set(SIGNAL_KINDS);

/** Whether a journal record is a device signal (not a gateway event, decision or session). */
export function isSignal(r: JournalRecord): r is Signal {
  return SIGNAL_KIND_SET.has(r.kind);
}

export function classOf(record: JournalRecord, override?: SignalClass): SignalClass {
  if (record.kind === 'system') return 'system';
  if (record.kind === 'decision' || record.kind === 'session') return 'access';
  if (record.kind === 'meter') return 'billing';
  return override ?? DEFAULT_CLASS[record.kind];
}

export function idempotenceKey(device: string, boot: number, seq: number): string {
  return `${device}:${boot}:${seq}`;
}
