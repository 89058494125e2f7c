/**
 * Canonical payloads (docs/protocol.md), one JSON schema per uplink channel.
 * `boot` and `seq` identify a message for de-duplication: `boot` changes
 * whenever the device's counter restarts (a boot counter, or the boot time in
 * seconds), `seq` increases per message within a boot.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { UplinkChannel } from './topics.js';

/** Epoch milliseconds, from 2001-09-09 to 2286: catches seconds sent as milliseconds. */
const EpochMs = Type.Integer({ minimum: 1_000_000_000_000, maximum: 9_999_999_999_999, description: 'Device time, ms since the Unix epoch (UTC)' });
const Seq = {
  boot: Type.Integer({ minimum: 0, maximum: 4294967295, description: 'Boot counter or boot time (s); changes when seq restarts' }),
  seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Per-boot message counter' }),
  ts: Type.Optional(EpochMs),
};
const Finite = (opts: { minimum?: number; maximum?: number; description: string }) => Type.Number(opts);

export const BadgePayload = Type.Object(
  {
    ...Seq,
    format: Type.Union([Type.Literal('uid'), Type.Literal('em4100'), Type.Literal('wiegand26')]),
    card: Type.String({ minLength: 1, maxLength: 32, pattern: '^[0-9A-Fa-f:]+$', description: 'Card id: hex (uid, em4100) or facility:card (wiegand26)' }),
  },
  { additionalProperties: false },
);

export const OccupancyPayload = Type.Object(
  { ...Seq, occupied: Type.Boolean() },
  { additionalProperties: false },
);

export const PowerPayload = Type.Object(
  {
    ...Seq,
    power_w: Finite({ minimum: 0, maximum: 1_000_000, description: 'Active power, W' }),
    energy_kwh: Type.Optional(Finite({ minimum: 0, maximum: 1e12, description: 'Cumulative energy counter, kWh' })),
    voltage_v: Type.Optional(Finite({ minimum: 0, maximum: 100_000, description: 'V' })),
    current_a: Type.Optional(Finite({ minimum: 0, maximum: 100_000, description: 'A' })),
    on: Type.Optional(Type.Boolean({ description: 'Relay state' })),
  },
  { additionalProperties: false },
);

export const HealthPayload = Type.Object(
  {
    ...Seq,
    battery_pct: Type.Optional(Finite({ minimum: 0, maximum: 100, description: '%' })),
    link_quality: Type.Optional(Finite({ minimum: 0, maximum: 255, description: 'LQI 0–255' })),
  },
  { additionalProperties: false, minProperties: 3 },
);

/** Availability, retained, and the device's last will: no sequence number (a will cannot carry one). */
export const StatusPayload = Type.Object({ online: Type.Boolean() }, { additionalProperties: false });

export type BadgePayload = Static<typeof BadgePayload>;
export type OccupancyPayload = Static<typeof OccupancyPayload>;
export type PowerPayload = Static<typeof PowerPayload>;
export type HealthPayload = Static<typeof HealthPayload>;
export type StatusPayload = Static<typeof StatusPayload>;

export const PAYLOAD_SCHEMAS: Readonly<Record<UplinkChannel, TSchema>> = Object.freeze({
  badge: BadgePayload,
  occupancy: OccupancyPayload,
  power: PowerPayload,
  health: HealthPayload,
  status: StatusPayload,
});

export interface PayloadByChannel {
  badge: BadgePayload;
  occupancy: OccupancyPayload;
  power: PowerPayload;
  health: HealthPayload;
  status: StatusPayload;
}

/** Largest canonical payload we accept; real ones are ~150 bytes. */
export const MAX_CANONICAL_PAYLOAD_BYTES = 1024;
