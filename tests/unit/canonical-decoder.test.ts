import { describe, expect, it } from 'vitest';
import { canonicalDecoder, normaliseCard } from '../../gateway/decoders/canonical.js';
import type { DecodeContext } from '../../gateway/decoders/types.js';
import type { DeviceInfo } from '../../core/site/model.js';
import { deviceInfo } from '../harness/device-info.js';

const device: DeviceInfo = deviceInfo({
  id: 'plug-laser1',
  kind: 'power-meter',
  format: 'canonical',
  space: 'fablab',
  target: { type: 'equipment', id: 'laser1' },
  measures: ['power', 'health'],
  credentials: { secret: 'env:X' },
});
const NOW = Date.UTC(2026, 10, 25, 9, 0, 0);
const ctx: DecodeContext = { site: 'demo', device, topic: 'fac/v1/demo/d/plug-laser1/power', receivedAt: NOW, messageId: 'r.1', maxPastMs: 86_400_000, maxFutureMs: 300_000 };
const dec = (channel: string, body: unknown) =>
  canonicalDecoder.decode(channel, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), ctx);

describe('canonical decoder', () => {
  it('decodes a power reading with device time into a typed signal', () => {
    const r = dec('power', { boot: 3, seq: 17, ts: NOW - 1000, power_w: 812.5, energy_kwh: 12.25, voltage_v: 229, current_a: 3.6, on: true });
    expect(r).toEqual({
      ok: true,
      signals: [
        {
          kind: 'power',
          key: 'plug-laser1:3:17',
          site: 'demo',
          device: 'plug-laser1',
          deviceKind: 'power-meter',
          space: 'fablab',
          target: { type: 'equipment', id: 'laser1' },
          seq: 17,
          ts: NOW - 1000,
          tsSource: 'device',
          powerW: 812.5,
          energyKwh: 12.25,
          voltageV: 229,
          currentA: 3.6,
          on: true,
        },
      ],
    });
  });

  it('accepts any field order and integer-looking floats', () => {
    const r = dec('power', '{"power_w":20,"seq":1,"boot":1}');
    expect(r.ok && r.signals[0]!.kind === 'power' && r.signals[0]!.powerW).toBe(20);
  });

  it.each([
    ['device clock far ahead', NOW + 3_600_000, 'gateway', NOW],
    ['device clock too far behind', NOW - 2 * 86_400_000, 'gateway', NOW],
    ['no device time', undefined, 'gateway', NOW],
    ['plausible device time', NOW - 5000, 'device', NOW - 5000],
  ])('%s → %s time', (_name, ts, source, expected) => {
    const r = dec('health', { boot: 1, seq: 2, ts, battery_pct: 80 });
    expect(r.ok).toBe(true);
    if (r.ok) expect([r.signals[0]!.tsSource, r.signals[0]!.ts]).toEqual([source, expected]);
  });

  it.each([
    ['malformed JSON', 'power', '{"boot":1,', 'malformed_json'],
    ['wrong type', 'power', { boot: 1, seq: 1, power_w: '12' }, 'schema'],
    ['negative power', 'power', { boot: 1, seq: 1, power_w: -5 }, 'schema'],
    ['missing seq', 'power', { boot: 1, power_w: 5 }, 'schema'],
    ['unknown field', 'occupancy', { boot: 1, seq: 1, occupied: true, extra: 1 }, 'schema'],
    ['seconds instead of ms', 'occupancy', { boot: 1, seq: 1, occupied: true, ts: 1_700_000_000 }, 'schema'],
    ['health without readings', 'health', { boot: 1, seq: 1 }, 'schema'],
    ['battery over 100', 'health', { boot: 1, seq: 1, battery_pct: 140 }, 'schema'],
    ['array body', 'occupancy', [1, 2], 'schema'],
    ['null body', 'occupancy', 'null', 'schema'],
    ['bad em4100 id', 'badge', { boot: 1, seq: 1, format: 'em4100', card: 'ABC' }, 'bad_value'],
    ['wiegand out of range', 'badge', { boot: 1, seq: 1, format: 'wiegand26', card: '300:5' }, 'bad_value'],
    ['oversized', 'occupancy', JSON.stringify({ boot: 1, seq: 1, occupied: true, pad: 'x'.repeat(2000) }), 'payload_too_large'],
    ['prototype pollution attempt', 'occupancy', '{"boot":1,"seq":1,"occupied":true,"__proto__":{"x":1}}', 'schema'],
  ])('rejects %s', (_name, channel, body, reason) => {
    const r = dec(channel, body);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe(reason);
      expect(r.detail.length).toBeGreaterThan(0);
    }
  });

  it('gives each status message its own key and no device sequence', () => {
    const a = canonicalDecoder.decode('status', Buffer.from('{"online":false}'), ctx);
    const b = canonicalDecoder.decode('status', Buffer.from('{"online":true}'), { ...ctx, messageId: 'r.2' });
    expect(a.ok && b.ok && a.signals[0]!.key !== b.signals[0]!.key).toBe(true);
    expect(a.ok && a.signals[0]!.kind === 'health' && a.signals[0]!.online).toBe(false);
  });

  it.each([
    ['em4100', '0700673158', '0700673158'],
    ['em4100', '07006731aa', '07006731AA'],
    ['uid', '04a1b2c3', '04A1B2C3'],
    ['uid', '04a1b2c3d4e5f6', '04A1B2C3D4E5F6'],
    ['uid', '04a1b2', null],
    ['wiegand26', '90:324', '90:324'],
    ['wiegand26', '090:00324', '90:324'],
    ['wiegand26', '256:1', null],
    ['wiegand26', '1:65536', null],
  ] as const)('normalises %s card %s → %s', (format, card, expected) => {
    expect(normaliseCard(format, card)).toBe(expected);
  });
});
