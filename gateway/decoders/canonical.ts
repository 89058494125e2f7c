/**
 * Decoder for OpenFacility's canonical protocol (docs/protocol.md): JSON bodies
 * validated against the per-channel schemas in core/protocol/canonical.ts.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import {
  MAX_CANONICAL_PAYLOAD_BYTES,
  PAYLOAD_SCHEMAS,
  type BadgePayload,
  type HealthPayload,
  type OccupancyPayload,
  type PowerPayload,
  type StatusPayload,
} from '../../core/protocol/canonical.js';
import { UPLINK_CHANNELS, type UplinkChannel } from '../../core/protocol/topics.js';
import { idempotenceKey, type CredentialFormat, type Signal } from '../../core/signals.js';
import { signalTime, type DecodeContext, type DecodeResult, type Decoder } from './types.js';

const CHECKS = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, TypeCompiler.Compile(PAYLOAD_SCHEMAS[c])])) as Record<
  UplinkChannel,
  TypeCheck<TSchema>
>;

export const canonicalDecoder: Decoder = {
  decode(channel: string, payload: Buffer, ctx: DecodeContext): DecodeResult {
    if (payload.length > MAX_CANONICAL_PAYLOAD_BYTES) {
      return { ok: false, reason: 'payload_too_large', detail: `${payload.length} bytes; canonical payloads are at most ${MAX_CANONICAL_PAYLOAD_BYTES}` };
    }
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (e) {
      return { ok: false, reason: 'malformed_json', detail: (e as Error).message };
    }
    const check = CHECKS[channel as UplinkChannel];
    if (!check) return { ok: false, reason: 'schema', detail: `unknown channel ${channel}` };
    if (!check.Check(body)) {
      const first = check.Errors(body).First();
      return { ok: false, reason: 'schema', detail: first ? `${first.path || '/'}: ${first.message}` : 'does not match the schema' };
    }
    const d = ctx.device;
    const common = { site: ctx.site, device: d.id, deviceKind: d.kind, space: d.space, target: d.target };
    switch (channel as UplinkChannel) {
      case 'badge': {
        const b = body as BadgePayload;
        const id = normaliseCard(b.format, b.card);
        if (id === null) return { ok: false, reason: 'bad_value', detail: `card ${JSON.stringify(b.card)} is not a valid ${b.format} id` };
        return one({ kind: 'badge', key: idempotenceKey(d.id, b.boot, b.seq), ...common, seq: b.seq, ...signalTime(b.ts, ctx), credential: { format: b.format, id } });
      }
      case 'occupancy': {
        const b = body as OccupancyPayload;
        return one({ kind: 'occupancy', key: idempotenceKey(d.id, b.boot, b.seq), ...common, seq: b.seq, ...signalTime(b.ts, ctx), occupied: b.occupied });
      }
      case 'power': {
        const b = body as PowerPayload;
        return one({
          kind: 'power',
          key: idempotenceKey(d.id, b.boot, b.seq),
          ...common,
          seq: b.seq,
          ...signalTime(b.ts, ctx),
          powerW: b.power_w,
          energyKwh: b.energy_kwh ?? null,
          voltageV: b.voltage_v ?? null,
          currentA: b.current_a ?? null,
          on: b.on ?? null,
        });
      }
      case 'health': {
        const b = body as HealthPayload;
        return one({
          kind: 'health',
          key: idempotenceKey(d.id, b.boot, b.seq),
          ...common,
          seq: b.seq,
          ...signalTime(b.ts, ctx),
          online: null,
          batteryPct: b.battery_pct ?? null,
          linkQuality: b.link_quality ?? null,
        });
      }
      case 'status': {
        const b = body as StatusPayload;
        return one({
          kind: 'health',
          // Status messages carry no sequence number: each one is its own event.
          key: `${d.id}:status:${ctx.messageId}`,
          ...common,
          seq: 0,
          ts: ctx.receivedAt,
          tsSource: 'gateway',
          online: b.online,
          batteryPct: null,
          linkQuality: null,
        });
      }
    }
  },
};

function one(signal: Signal): DecodeResult {
  return { ok: true, signals: [signal] };
}

/** Canonical card ids: upper-case hex for uid/em4100, "facility:card" in decimal for Wiegand-26. */
export function normaliseCard(format: CredentialFormat, card: string): string | null {
  switch (format) {
    case 'uid':
      return /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$/.test(card) ? card.toUpperCase() : null;
    case 'em4100':
      return /^[0-9A-Fa-f]{10}$/.test(card) ? card.toUpperCase() : null;
    case 'wiegand26': {
      const m = /^(\d{1,3}):(\d{1,5})$/.exec(card);
      if (!m) return null;
      const fc = Number(m[1]);
      const cn = Number(m[2]);
      return fc <= 255 && cn <= 65535 ? `${fc}:${cn}` : null;
    }
  }
}
