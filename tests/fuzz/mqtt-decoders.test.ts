/**
 * Fuzz (issue 11, hostile input): every MQTT payload decoder of every device
 * family, reached the way the gateway reaches it: the topic through the
 * device's connection policy (which picks the route: device and channel),
 * then the decoder of the device's format with that channel.
 *
 * Inputs per family: arbitrary bytes, arbitrary JSON, structurally valid JSON
 * with wrong values (wrong types, huge and NaN-ish numbers, long strings,
 * deep nesting, __proto__/constructor keys), byte-mutated valid payloads and
 * random topics under the device's own prefix.
 * Properties: decode never throws and returns quickly; a refusal is a typed
 * error (reason + detail); every accepted signal passes signalProblems
 * (shape, ranges, provenance, kinds the device may send, a valid InfluxDB line).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { uplinkTopic, type UplinkChannel } from '../../core/protocol/topics.js';
import { exampleSiteFile } from '../../core/site/example.js';
import type { DeviceFormat, Site } from '../../core/site/model.js';
import { validateSite } from '../../core/site/validate.js';
import { mqttDecoder } from '../../gateway/decoders/index.js';
import { shellyReplyTopic } from '../../gateway/decoders/shelly-gen2.js';
import type { DecodeContext, DecodeResult } from '../../gateway/decoders/types.js';
import { check, deepJsonText, mutateBytes, mutateObject, nowMs, resultProblems } from './support.js';

const site: Site = (() => {
  const r = validateSite(exampleSiteFile({ credentialsFor: () => ({ secret: 'env:FUZZ_SECRET' }) }));
  if (!r.ok) throw new Error('example site invalid');
  return r.site;
})();

const NOW = Date.UTC(2026, 10, 25, 9, 3, 14, 250);
/**
 * A decode slower than this is a hang for our purposes (real ones take microseconds). Generous: a loaded
 * CI machine paused one case for 329 ms once; a real hang (catastrophic regex, deep recursion) takes far longer.
 */
const HANG_MS = 2000;

/** One message as a device would publish it: who connects, the topic, a valid payload. */
interface Sample {
  readonly connectsAs: string;
  readonly topic: string;
  readonly payload: string | Record<string, unknown>;
  /** A well-formed message the decoder must refuse (a device's error reply). */
  readonly refused?: true;
}

const ts = NOW - 2000;
const canon = (device: string, channel: UplinkChannel, payload: Record<string, unknown>): Sample => ({ connectsAs: device, topic: uplinkTopic(site.id, device, channel), payload });

const SAMPLES: Readonly<Record<Exclude<DeviceFormat, 'rdm6300' | 'wiegand26'>, readonly Sample[]>> = {
  canonical: [
    canon('dc-main', 'badge', { boot: 3, seq: 17, ts, format: 'em4100', card: '0A1B2C3D4E' }),
    canon('br-laser-1', 'badge', { boot: 3, seq: 18, format: 'wiegand26', card: '90:324' }),
    canon('dc-fablab', 'badge', { boot: 1, seq: 1, ts, format: 'uid', card: '04a1b2c3d4e5f6' }),
    canon('occ-st-01', 'occupancy', { boot: 1, seq: 2, ts, occupied: true }),
    canon('pm-reflow-1', 'power', { boot: 7, seq: 99, ts, power_w: 812.5, energy_kwh: 51.25, voltage_v: 229.8, current_a: 3.54, on: true }),
    canon('pm-reflow-1', 'health', { boot: 7, seq: 100, battery_pct: 80, link_quality: 200 }),
    canon('occ-st-01', 'status', { online: true }),
  ],
  tasmota: [
    {
      connectsAs: 'pm-laser-1',
      topic: 'tele/plug_laser_1/SENSOR',
      payload: { Time: '2026-11-25T17:03:12', ENERGY: { TotalStartTime: '2025-03-02T10:11:40', Total: 512.384, Yesterday: 3.206, Today: 1.918, Period: 9, Power: 548, ApparentPower: 571, ReactivePower: 160, Factor: 0.96, Voltage: 229, Current: 2.493 } },
    },
    { connectsAs: 'pm-laser-1', topic: 'tele/plug_laser_1/SENSOR', payload: { Time: '2026-11-25T17:03:12', ENERGY: { Total: [1.5, 2.5], Power: [52, 5], Voltage: 235, Current: [0.3, 0.1] } } },
    { connectsAs: 'pm-laser-1', topic: 'tele/plug_laser_1/STATE', payload: { Time: '2026-11-25T17:03:12', Uptime: '0T01:02:03', POWER: 'OFF', Wifi: { AP: 1, SSId: 'space', RSSI: 76, Signal: -62 } } },
    { connectsAs: 'pm-laser-1', topic: 'tele/plug_laser_1/LWT', payload: 'Online' },
    { connectsAs: 'pm-laser-1', topic: 'stat/plug_laser_1/POWER', payload: 'OFF' },
  ],
  'shelly-gen2': [
    { connectsAs: 'pm-fdm-1', topic: 'shellyplusplugs-fdm-1/online', payload: 'true' },
    {
      connectsAs: 'pm-fdm-1',
      topic: 'shellyplusplugs-fdm-1/status/switch:0',
      payload: { id: 0, source: 'init', output: true, apower: 41.2, voltage: 229.4, current: 0.213, aenergy: { total: 1234.567, by_minute: [600, 650, 700], minute_ts: 1764061380 }, temperature: { tC: 40.1, tF: 104.2 } },
    },
    { connectsAs: 'pm-fdm-1', topic: 'shellyplusplugs-fdm-1/status/wifi', payload: { sta_ip: '10.0.0.5', status: 'got ip', ssid: 'space', rssi: -61 } },
    {
      connectsAs: 'pm-fdm-1',
      topic: 'shellyplusplugs-fdm-1/events/rpc',
      payload: { src: 'shellyplusplugs-fdm-1', dst: 'shellyplusplugs-fdm-1/events', method: 'NotifyStatus', params: { ts: (NOW - 1000) / 1000, 'switch:0': { id: 0, apower: 20.1, output: true }, wifi: { rssi: -70 } } },
    },
    { connectsAs: 'pm-fdm-1', topic: shellyReplyTopic(site.id), payload: { id: 7, src: 'shellyplusplugs-fdm-1', dst: `fac/v1/${site.id}/gateway`, result: { was_on: false } } },
    { connectsAs: 'pm-fdm-1', topic: shellyReplyTopic(site.id), payload: { id: 8, src: 'shellyplusplugs-fdm-1', error: { code: -103, message: 'Invalid argument' } }, refused: true },
  ],
  zigbee2mqtt: [
    { connectsAs: 'z2m-cowork', topic: 'zigbee2mqtt/desk_cw-01', payload: { occupancy: true, battery: 91, linkquality: 120, last_seen: new Date(NOW - 1000).toISOString(), voltage: 3005, illuminance: 12, device_temperature: 25 } },
    { connectsAs: 'z2m-cowork', topic: 'zigbee2mqtt/roadshow_room', payload: { occupancy: false, battery_low: true, linkquality: 66, last_seen: NOW - 500 } },
    { connectsAs: 'z2m-cowork', topic: 'zigbee2mqtt/desk_cw-02/availability', payload: { state: 'online' } },
    { connectsAs: 'z2m-cowork', topic: 'zigbee2mqtt/desk_cw-03/availability', payload: 'offline' },
    { connectsAs: 'z2m-cowork', topic: 'zigbee2mqtt/bridge/state', payload: { state: 'online' } },
  ],
};

const textOf = (p: Sample['payload']): string => (typeof p === 'string' ? p : JSON.stringify(p));

let messages = 0;

interface Outcome {
  readonly result: DecodeResult | null;
  readonly problems: string[];
}

/** Routes a publish as the broker does and decodes it as the ingress does. */
function deliver(connectsAs: string, topic: string, payload: Buffer): Outcome {
  const device = site.devices.get(connectsAs)!;
  const decoder = mqttDecoder(device.format);
  const t0 = nowMs();
  const decision = decoder.connection(device, site).publish(topic, false);
  if (!decision.ok || decision.route === null) return { result: null, problems: [] };
  const ctx: DecodeContext = {
    site: site.id,
    device: decision.route.device,
    topic,
    receivedAt: NOW,
    messageId: `fuzz.${++messages}`,
    maxPastMs: 86_400_000,
    maxFutureMs: 300_000,
  };
  let result: DecodeResult;
  try {
    result = mqttDecoder(decision.route.device.format).decode(decision.route.channel, payload, ctx);
  } catch (e) {
    return { result: null, problems: [`decode threw ${(e as Error).name}: ${(e as Error).message.slice(0, 200)}`] };
  }
  const took = nowMs() - t0;
  const problems = resultProblems(result, ctx);
  if (took > HANG_MS) problems.push(`decode took ${took.toFixed(0)} ms`);
  return { result, problems };
}

/** Everything hostile about one sample's payload. */
function payloads(sample: Sample): fc.Arbitrary<Buffer> {
  const valid = Buffer.from(textOf(sample.payload));
  const parts: fc.Arbitrary<Buffer>[] = [
    fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
    fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
    mutateBytes(valid),
    fc.record({ depth: fc.integer({ min: 100, max: 9000 }), object: fc.boolean() }).map(({ depth, object }) => Buffer.from(deepJsonText(depth, object))),
    fc.integer({ min: 1, max: 40_000 }).map((n) => Buffer.alloc(n, 0x20)),
  ];
  if (typeof sample.payload !== 'string') {
    const obj = sample.payload;
    parts.push(mutateObject(obj).map((s) => Buffer.from(s)), mutateObject(obj).map((s) => Buffer.from(s)));
  } else {
    parts.push(fc.string({ maxLength: 30 }).map((s) => Buffer.from(s)), fc.constantFrom(' true ', 'TRUE', 'Online\n', 'on', '"online"', '{"state":"ONLINE"}', '').map((s) => Buffer.from(s)));
  }
  return fc.oneof(...parts);
}

describe.each(Object.entries(SAMPLES).map(([format, samples], i) => ({ format, samples, i })))('$format payloads', ({ samples, i }) => {
  it('accepts its valid samples (the fuzz starts from payloads that decode)', () => {
    for (const s of samples) {
      const { result, problems } = deliver(s.connectsAs, s.topic, Buffer.from(textOf(s.payload)));
      expect({ topic: s.topic, problems }).toEqual({ topic: s.topic, problems: [] });
      expect(result?.ok).toBe(s.refused !== true);
    }
  });

  it('never throws or hangs, refuses with a typed error, accepts only sane signals', () => {
    let accepted = 0;
    let refused = 0;
    const sample = fc.constantFrom(...samples).chain((s) => fc.tuple(fc.constant(s), payloads(s)));
    check(
      fc.property(sample, ([s, payload]) => {
        const { result, problems } = deliver(s.connectsAs, s.topic, payload);
        if (result?.ok) accepted++;
        else refused++;
        if (problems.length > 0) throw new Error(`${s.topic} ${JSON.stringify(payload.toString('utf8').slice(0, 300))}: ${problems.join('; ')}`);
      }),
      0x0f11_0000 + i,
      12_000,
    );
    // The run reached both sides: mutations that still decode, and refusals.
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(1000);
  });

  it('routes any topic under or beside its own without throwing; what it routes decodes safely', () => {
    const prefixes = [...new Set(samples.map((s) => s.topic.slice(0, s.topic.lastIndexOf('/') + 1)))];
    const topic = fc.oneof(
      fc.tuple(fc.constantFrom(...prefixes), fc.string({ maxLength: 30 })).map(([p, rest]) => p + rest),
      fc.tuple(fc.constantFrom(...samples.map((s) => s.topic)), fc.constantFrom('', '/', '/#', '/+', '\u0000', '/availability', '/set', '/bridge/state')).map(([t, x]) => t + x),
      fc.string({ maxLength: 60 }),
      fc.constantFrom('#', '+/+', '$SYS/broker/load', '', '/', 'cmnd/plug_laser_1/POWER', 'zigbee2mqtt', 'zigbee2mqtt/', 'zigbee2mqtt//availability'),
    );
    check(
      fc.property(fc.constantFrom(...samples), topic, fc.boolean(), (s, t, retain) => {
        const device = site.devices.get(s.connectsAs)!;
        const policy = mqttDecoder(device.format).connection(device, site);
        const d = policy.publish(t, retain);
        policy.subscribe(t);
        policy.forward(t);
        policy.willAllowed(t);
        if (d.ok && d.route !== null && !retain) {
          const { problems } = deliver(s.connectsAs, t, Buffer.from(textOf(s.payload)));
          if (problems.length > 0) throw new Error(`${t}: ${problems.join('; ')}`);
        }
      }),
      0x7091_0000 + i,
      5000,
    );
  });
});

describe('decode with a channel no route gives (defence in depth)', () => {
  it.each(Object.entries(SAMPLES).map(([format, samples]) => ({ format, sample: samples[0]! })))('$format: any channel name is refused or decoded, never a throw', ({ sample }) => {
    const device = site.devices.get(sample.connectsAs)!;
    check(
      fc.property(fc.oneof(fc.constantFrom('constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', ''), fc.string({ maxLength: 20 })), (channel) => {
        const ctx: DecodeContext = { site: site.id, device, topic: sample.topic, receivedAt: NOW, messageId: 'fuzz.channel', maxPastMs: 86_400_000, maxFutureMs: 300_000 };
        const r = mqttDecoder(device.format).decode(channel, Buffer.from(textOf(sample.payload)), ctx);
        expect(resultProblems(r, ctx)).toEqual([]);
      }),
      0x0c4a_0001,
      500,
    );
  });
});

/** Counterexamples the fuzz found, pinned (the seeds in their fix commits reproduce them only with the generators of that day). */
describe('regressions found by this fuzz', () => {
  it.each([
    ['tasmota: Object.prototype names as message types', 'pm-laser-1', 'tele/plug_laser_1/constructor', '{}'],
    ['tasmota: __proto__ under stat/', 'pm-laser-1', 'stat/plug_laser_1/__proto__', 'ON'],
    ['shelly: an RPC error reply with a deep id', 'pm-fdm-1', shellyReplyTopic(site.id), `{"id":${deepJsonText(6000, false)},"error":{"code":-1}}`],
    ['shelly: an RPC error reply with a long id', 'pm-fdm-1', shellyReplyTopic(site.id), `{"id":"${'x'.repeat(15_000)}","error":{"code":-1}}`],
    ['zigbee2mqtt: a deep array as the state', 'z2m-cowork', 'zigbee2mqtt/roadshow_room', deepJsonText(8000, false)],
    ['zigbee2mqtt: a deep array as occupancy', 'z2m-cowork', 'zigbee2mqtt/roadshow_room', `{"occupancy":${deepJsonText(7000, false)}}`],
    ['zigbee2mqtt: a fractional epoch last_seen', 'z2m-cowork', 'zigbee2mqtt/roadshow_room', `{"occupancy":false,"battery_low":true,"linkquality":66,"last_seen":${NOW - 250}.001}`],
  ])('%s', (_name, connectsAs, topic, payload) => {
    const device = site.devices.get(connectsAs)!;
    const decision = mqttDecoder(device.format).connection(device, site).publish(topic, false);
    expect(typeof decision.ok).toBe('boolean');
    expect(deliver(connectsAs, topic, Buffer.from(payload)).problems).toEqual([]);
  });
});
