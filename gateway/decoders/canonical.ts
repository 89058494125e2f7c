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
import { allowedChannels, authorizeDeviceForward, authorizeDeviceSubscribe, compileDevicePolicy } from '../../core/protocol/acl.js';
import { UPLINK_CHANNELS, commandFilter, uplinkTopic, type UplinkChannel } from '../../core/protocol/topics.js';
import { idempotenceKey, type CredentialFormat, type Signal } from '../../core/signals.js';
import { deviceTimeUsable, type DecodeContext, type DecodeResult, type MqttDecoder } from './types.js';

const CHECKS = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, TypeCompiler.Compile(PAYLOAD_SCHEMAS[c])])) as Record<
  UplinkChannel,
  TypeCheck<TSchema>
>;

export const canonicalDecoder: MqttDecoder = {
  transport: 'mqtt',

  connection(device, site) {
    const policy = compileDevicePolicy(site.id, device);
    const will = uplinkTopic(site.id, device.id, 'status');
    return {
      willAllowed: (topic) => topic === will,
      publish: (topic, retain) => {
        const d = policy.authorize(topic, retain);
        return d.ok ? { ok: true, route: { device, channel: d.channel } } : d;
      },
      subscribe: (filter) => authorizeDeviceSubscribe(site.id, device.id, filter),
      forward: (topic) => authorizeDeviceForward(site.id, device.id, topic),
    };
  },

  // One exact topic per channel its kind sends (and status): the same set compileDevicePolicy allows.
  uplinkFilters: (device, site) => [...allowedChannels(device)].map((c) => uplinkTopic(site.id, device.id, c)),
  commandFilters: (device, site) => [commandFilter(site.id, device.id)],

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
    // Own keys only: 'constructor' or 'toString' must not find Object.prototype's.
    const check = Object.hasOwn(CHECKS, channel) ? CHECKS[channel as UplinkChannel] : undefined;
    if (!check) return { ok: false, reason: 'schema', detail: `unknown channel ${channel}` };
    if (!check.Check(body)) {
      const first = check.Errors(body).First();
      return { ok: false, reason: 'schema', detail: first ? `${first.path || '/'}: ${first.message}` : 'does not match the schema' };
    }
    const d = ctx.device;
    if (channel === 'status') {
      // Status messages carry no sequence number: each one is its own event.
      return one({
        kind: 'health',
        key: `${d.id}:status:${ctx.messageId}`,
        site: ctx.site,
        device: d.id,
        deviceKind: d.kind,
        space: d.space,
        target: d.target,
        seq: 0,
        ts: ctx.receivedAt,
        tsSource: 'gateway',
        online: (body as StatusPayload).online,
        batteryPct: null,
        linkQuality: null,
      });
    }
    const b = body as BadgePayload | OccupancyPayload | PowerPayload | HealthPayload;
    const key = idempotenceKey(d.id, b.boot, b.seq);
    const deviceTime = deviceTimeUsable(b.ts, ctx);
    const ts = deviceTime ? b.ts! : ctx.receivedAt;
    const tsSource = deviceTime ? 'device' : 'gateway';
    switch (channel as Exclude<UplinkChannel, 'status'>) {
      case 'badge': {
        const p = b as BadgePayload;
        const id = normaliseCard(p.format, p.card);
        if (id === null) return { ok: false, reason: 'bad_value', detail: `card ${JSON.stringify(p.card)} is not a valid ${p.format} id` };
        return one({ kind: 'badge', key, site: ctx.site, device: d.id, deviceKind: d.kind, space: d.space, target: d.target, seq: p.seq, ts, tsSource, credential: { format: p.format, id } });
      }
      case 'occupancy':
        return one({ kind: 'occupancy', key, site: ctx.site, device: d.id, deviceKind: d.kind, space: d.space, target: d.target, seq: b.seq, ts, tsSource, occupied: (b as OccupancyPayload).occupied });
      case 'power': {
        const p = b as PowerPayload;
        return one({
          kind: 'power',
          key,
          site: ctx.site,
          device: d.id,
          deviceKind: d.kind,
          space: d.space,
          target: d.target,
          seq: p.seq,
          ts,
          tsSource,
          powerW: p.power_w,
          energyKwh: p.energy_kwh ?? null,
          voltageV: p.voltage_v ?? null,
          currentA: p.current_a ?? null,
          on: p.on ?? null,
        });
      }
      case 'health': {
        const p = b as HealthPayload;
        return one({
          kind: 'health',
          key,
          site: ctx.site,
          device: d.id,
          deviceKind: d.kind,
          space: d.space,
          target: d.target,
          seq: p.seq,
          ts,
          tsSource,
          online: null,
          batteryPct: p.battery_pct ?? null,
          linkQuality: p.link_quality ?? null,
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
