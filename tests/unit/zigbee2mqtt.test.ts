/**
 * The Zigbee2MQTT decoder: a bridge connection's topic rules and the decoding
 * of its sensors' messages.
 *
 * Fixtures mirror zigbee2mqtt.io:
 *  - "MQTT Topics and Messages" (guide/usage/mqtt_topics_and_messages): the
 *    `<base>/FRIENDLY_NAME` JSON state, friendly names with `/`, the
 *    `{"occupancy": true}` example of a Xiaomi PIR, bridge/state, bridge/info…;
 *  - "Device-Availability" (guide/configuration/device-availability): the
 *    legacy `online`/`offline` payload and the JSON {"state":"online"} one;
 *  - "MQTT" (guide/configuration/mqtt): advanced.last_seen (ISO_8601,
 *    ISO_8601_local, epoch), cache_state (every attribute in every message),
 *    include_device_information (a `device` object);
 *  - device pages: Aqara RTCGQ11LM exposes battery, occupancy,
 *    device_temperature, voltage, illuminance_lux, illuminance,
 *    power_outage_count, linkquality; SONOFF SNZB-03 exposes occupancy,
 *    battery_low, battery, voltage, linkquality.
 */
import { describe, expect, it } from 'vitest';
import type { HealthSignal, OccupancySignal, Signal } from '../../core/signals.js';
import type { DeviceInfo, SiteFile } from '../../core/site/model.js';
import type { DecodeContext, DecodeResult, PublishDecision } from '../../gateway/decoders/types.js';
import { BATTERY_LOW_PCT, NO_LAST_SEEN_KEY_WINDOW_MS, parseLastSeen, zigbee2mqttDecoder } from '../../gateway/decoders/zigbee2mqtt.js';
import { mqttDecoder } from '../../gateway/decoders/index.js';
import { siteFromFile } from '../harness/site-fixture.js';

const CRED = { secret: 'env:FIXTURE_SECRET' } as const;
const file: SiteFile = {
  version: 1,
  site: { id: 'demo', name: 'Demo', timezone: 'Asia/Shanghai' },
  spaces: [
    { id: 'cowork', name: 'Co-working', kind: 'open-space' },
    { id: 'floor1', name: 'Floor 1 room', kind: 'room' },
    { id: 'lab', name: 'Lab', kind: 'lab' },
  ],
  desks: [
    { id: 'cw-01', space: 'cowork' },
    { id: 'cw-03', space: 'cowork' },
    { id: 'cw-04', space: 'cowork' },
    { id: 'cw-05', space: 'cowork' },
    { id: 'lab-01', space: 'lab' },
  ],
  devices: [
    { id: 'z2m-1', kind: 'zigbee-bridge', format: 'zigbee2mqtt', space: 'cowork', credentials: CRED },
    { id: 'occ-1', kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: 'cw-01', bridge: 'z2m-1', mqtt: { friendlyName: 'desk_1' }, model: 'aqara-rtcgq11lm' },
    { id: 'occ-3', kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: 'cw-03', bridge: 'z2m-1', mqtt: { friendlyName: 'floor1/desk_3' }, model: 'aqara-rtcgq11lm' },
    { id: 'occ-room', kind: 'occupancy-sensor', format: 'zigbee2mqtt', space: 'floor1', bridge: 'z2m-1', mqtt: { friendlyName: 'floor1' }, model: 'sonoff-snzb-03' },
    { id: 'occ-4', kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: 'cw-04', bridge: 'z2m-1', mqtt: { friendlyName: 'desk_4' }, measures: ['occupancy'] },
    // A second bridge whose base topic starts like the first one's.
    { id: 'z2m-lab', kind: 'zigbee-bridge', format: 'zigbee2mqtt', space: 'lab', credentials: CRED, mqtt: { topic: 'zigbee2mqtt_lab' } },
    { id: 'occ-lab', kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: 'lab-01', bridge: 'z2m-lab', mqtt: { friendlyName: 'desk_1' } },
    { id: 'occ-canon', kind: 'occupancy-sensor', desk: 'cw-05', credentials: CRED },
  ],
};
const site = siteFromFile(file);
const dev = (id: string): DeviceInfo => site.devices.get(id)!;
const bridge = dev('z2m-1');
const policy = zigbee2mqttDecoder.connection(bridge, site);

const NOW = Date.UTC(2026, 10, 25, 9, 0, 0);
const ctxFor = (device: DeviceInfo, topic: string, receivedAt = NOW): DecodeContext => ({
  site: 'demo',
  device,
  topic,
  receivedAt,
  messageId: 'run.1',
  maxPastMs: 30 * 86_400_000,
  maxFutureMs: 300_000,
});
const bytes = (p: unknown): Buffer => Buffer.from(typeof p === 'string' ? p : JSON.stringify(p));
const decodeState = (payload: unknown, device = dev('occ-1'), receivedAt = NOW): DecodeResult =>
  zigbee2mqttDecoder.decode('state', bytes(payload), ctxFor(device, `zigbee2mqtt/${device.bridge!.friendlyName}`, receivedAt));
const signalsOf = (r: DecodeResult): readonly Signal[] => {
  if (!r.ok) throw new Error(`rejected: ${r.reason}: ${r.detail}`);
  return r.signals;
};
const occ = (r: DecodeResult) => signalsOf(r).filter((s): s is OccupancySignal => s.kind === 'occupancy');
const health = (r: DecodeResult) => signalsOf(r).filter((s): s is HealthSignal => s.kind === 'health');

const LAST_SEEN = '2026-11-25T08:59:58.000Z';
const LAST_SEEN_MS = Date.parse(LAST_SEEN);

/** Aqara RTCGQ11LM motion, as Zigbee2MQTT publishes it with cache_state (every exposed attribute) and last_seen: ISO_8601. */
const AQARA_MOTION = {
  battery: 100,
  device_temperature: 27,
  illuminance: 381,
  illuminance_lux: 381,
  last_seen: LAST_SEEN,
  linkquality: 134,
  occupancy: true,
  power_outage_count: 5,
  voltage: 3005,
};
/** Aqara heartbeat with cache_state: false (battery report, no occupancy). */
const AQARA_HEARTBEAT = { battery: 91, device_temperature: 26, linkquality: 102, power_outage_count: 5, voltage: 2987 };
/** SONOFF SNZB-03 reporting free. */
const SNZB03_FREE = { battery: 100, battery_low: false, linkquality: 87, occupancy: false, voltage: 3100 };

describe('bridge connection policy', () => {
  const routed = (d: PublishDecision) => (d.ok ? (d.route ? `${d.route.device.id}:${d.route.channel}` : `ignored:${d.ignored ?? ''}`) : `refused:${d.reason}`);

  it.each([
    ['a listed sensor’s state', 'zigbee2mqtt/desk_1', 'occ-1:state'],
    ['a listed sensor’s availability', 'zigbee2mqtt/desk_1/availability', 'occ-1:availability'],
    ['a friendly name with / (longest match)', 'zigbee2mqtt/floor1/desk_3', 'occ-3:state'],
    ['its availability', 'zigbee2mqtt/floor1/desk_3/availability', 'occ-3:availability'],
    ['the shorter friendly name itself', 'zigbee2mqtt/floor1', 'occ-room:state'],
    ['the shorter name’s availability', 'zigbee2mqtt/floor1/availability', 'occ-room:availability'],
    ['an unlisted device under a listed name’s “folder”', 'zigbee2mqtt/floor1/desk_9', 'ignored:sub_topic'],
    ['a command topic', 'zigbee2mqtt/desk_1/set', 'ignored:sub_topic'],
    ['a get topic', 'zigbee2mqtt/desk_1/get', 'ignored:sub_topic'],
    ['a per-attribute set', 'zigbee2mqtt/desk_1/set/occupancy_timeout', 'ignored:sub_topic'],
    ['attribute output (advanced.output: attribute)', 'zigbee2mqtt/desk_1/occupancy', 'ignored:sub_topic'],
    ['a lamp the site file does not list', 'zigbee2mqtt/living_room_lamp', 'ignored:unmapped_device'],
    ['a device known only by its IEEE address', 'zigbee2mqtt/0x00158d0001a2b3c4', 'ignored:unmapped_device'],
    ['an unlisted device’s availability', 'zigbee2mqtt/kitchen/floor_light/availability', 'ignored:unmapped_device'],
    ['the base topic itself', 'zigbee2mqtt', 'ignored:unmapped_device'],
    ['the bridge’s availability', 'zigbee2mqtt/bridge/state', 'z2m-1:bridge_state'],
    ['bridge/info', 'zigbee2mqtt/bridge/info', 'ignored:bridge_topic'],
    ['bridge/devices', 'zigbee2mqtt/bridge/devices', 'ignored:bridge_topic'],
    ['bridge/logging', 'zigbee2mqtt/bridge/logging', 'ignored:bridge_topic'],
    ['bridge/event', 'zigbee2mqtt/bridge/event', 'ignored:bridge_topic'],
    ['bridge/response', 'zigbee2mqtt/bridge/response/permit_join', 'ignored:bridge_topic'],
    ['another bridge’s base topic (same prefix)', 'zigbee2mqtt_lab/desk_1', 'refused:not_own_topic'],
    ['Home Assistant discovery', 'homeassistant/binary_sensor/0x00158d0001a2b3c4/occupancy/config', 'refused:not_own_topic'],
    ['the canonical scheme', 'fac/v1/demo/d/occ-1/occupancy', 'refused:not_own_topic'],
    ['a gateway status', 'fac/v1/demo/gateway/status', 'refused:not_own_topic'],
    ['$SYS', '$SYS/broker/uptime', 'refused:sys_topic'],
    ['the base topic further down', 'other/zigbee2mqtt/desk_1', 'refused:not_own_topic'],
  ])('%s: %s → %s', (_name, topic, expected) => {
    expect(routed(policy.publish(topic, false))).toBe(expected);
    // Retain changes nothing: Zigbee2MQTT retains bridge/state, availability and (with `retain: true`) states.
    expect(routed(policy.publish(topic, true))).toBe(expected);
  });

  it('routes a sensor’s messages to the sensor (its target), not to the bridge', () => {
    const d = policy.publish('zigbee2mqtt/floor1/desk_3', false);
    expect(d.ok && d.route?.device).toMatchObject({ id: 'occ-3', target: { type: 'desk', id: 'cw-03' }, space: 'cowork' });
  });

  it('routes the second bridge’s own sensors by its own base topic', () => {
    const lab = zigbee2mqttDecoder.connection(dev('z2m-lab'), site);
    expect(routed(lab.publish('zigbee2mqtt_lab/desk_1', false))).toBe('occ-lab:state');
    expect(routed(lab.publish('zigbee2mqtt/desk_1', false))).toBe('refused:not_own_topic');
  });

  it.each([
    ['zigbee2mqtt/#', true], // what Zigbee2MQTT subscribes to
    ['zigbee2mqtt/+/set', true],
    ['zigbee2mqtt/bridge/request/#', true],
    ['zigbee2mqtt', true],
    ['#', false],
    ['+/desk_1', false],
    ['+/#', false],
    ['homeassistant/status', false],
    ['zigbee2mqtt_lab/#', false],
    ['$SYS/#', false],
    ['$share/z2m/zigbee2mqtt/#', false],
    ['fac/v1/#', false],
    ['fac/v1/demo/d/occ-1/cmd/#', false],
  ])('subscribe %s → %s', (filter, ok) => {
    expect(policy.subscribe(filter)).toBe(ok);
  });

  it.each([
    ['zigbee2mqtt/desk_1/set', true],
    ['zigbee2mqtt/bridge/request/permit_join', true],
    ['zigbee2mqtt/bridge/state', true],
    ['zigbee2mqtt_lab/desk_1', false],
    ['fac/v1/demo/gateway/status', false],
    ['fac/v1/demo/d/occ-canon/cmd/identify', false],
    ['$SYS/broker/uptime', false],
  ])('forward %s → %s', (topic, ok) => {
    expect(policy.forward(topic)).toBe(ok);
  });

  it.each([
    ['zigbee2mqtt/bridge/state', true],
    ['zigbee2mqtt/desk_1/availability', false],
    ['zigbee2mqtt_lab/bridge/state', false],
    ['fac/v1/demo/d/z2m-1/status', false],
    ['zigbee2mqtt/bridge/state/x', false],
  ])('will on %s → %s', (topic, ok) => {
    expect(policy.willAllowed(topic)).toBe(ok);
  });

  it('gives a device that is not a bridge no rights at all', () => {
    const p = zigbee2mqttDecoder.connection(dev('occ-1'), site);
    expect(p.publish('zigbee2mqtt/desk_1', false)).toEqual({ ok: false, reason: 'not_own_topic' });
    expect(p.subscribe('zigbee2mqtt/#')).toBe(false);
    expect(p.forward('zigbee2mqtt/desk_1/set')).toBe(false);
    expect(p.willAllowed('zigbee2mqtt/bridge/state')).toBe(false);
  });

  it('is registered for the zigbee2mqtt format', () => {
    expect(mqttDecoder('zigbee2mqtt')).toBe(zigbee2mqttDecoder);
  });
});

describe('state messages', () => {
  it('turns an Aqara motion report into an occupancy and a health signal with the sensor’s target and last_seen time', () => {
    const r = decodeState(AQARA_MOTION);
    const common = {
      site: 'demo',
      device: 'occ-1',
      deviceKind: 'occupancy-sensor',
      space: 'cowork',
      target: { type: 'desk', id: 'cw-01' },
      seq: 0,
      ts: LAST_SEEN_MS,
      tsSource: 'device',
    };
    expect(signalsOf(r)).toEqual([
      { kind: 'occupancy', key: expect.stringMatching(/^occ-1:c:.*:occupancy$/) as unknown, ...common, occupied: true },
      { kind: 'health', key: expect.stringMatching(/^occ-1:c:.*:health$/) as unknown, ...common, online: null, batteryPct: 100, linkQuality: 134 },
    ]);
  });

  it.each<[string, unknown, boolean | null, number | null, number | null]>([
    // [name, payload, occupied, batteryPct, linkQuality]; null = no such signal
    ['the docs’ Xiaomi PIR example {"occupancy": true}', '{\n  "occupancy": true\n}', true, null, null],
    ['SNZB-03 reporting free', SNZB03_FREE, false, 100, 87],
    ['an Aqara heartbeat (no occupancy)', AQARA_HEARTBEAT, null, 91, 102],
    ['battery_low true without a percentage', { battery_low: true, linkquality: 40 }, null, BATTERY_LOW_PCT, 40],
    ['battery_low true with a percentage (the percentage wins)', { battery: 35, battery_low: true }, null, 35, null],
    ['battery_low false alone', { battery_low: false }, null, null, null],
    ['linkquality alone (a last_seen update)', { last_seen: LAST_SEEN, linkquality: 0 }, null, null, 0],
    ['fractional battery', { battery: 67.5 }, null, 67.5, null],
    ['nulls (not known yet) count as absent', { battery: null, linkquality: 20, occupancy: null }, null, null, 20],
    [
      'unknown fields are ignored',
      { occupancy: true, tamper: false, elapsed: 1234, temperature: 21.5, illuminance: 12, update: { state: 'idle' }, device: { friendlyName: 'desk_1', model: 'RTCGQ11LM', ieeeAddr: '0x00158d0001a2b3c4' } },
      true,
      null,
      null,
    ],
    ['nothing we record (illuminance only)', { illuminance: 300, illuminance_lux: 300 }, null, null, null],
    ['an empty JSON object', {}, null, null, null],
    ['an empty payload (retained message cleared)', '', null, null, null],
  ])('%s', (_name, payload, occupied, batteryPct, linkQuality) => {
    const r = decodeState(payload);
    expect(occ(r).map((s) => s.occupied)).toEqual(occupied === null ? [] : [occupied]);
    const h = health(r);
    if (batteryPct === null && linkQuality === null) expect(h).toEqual([]);
    else expect(h.map((s) => [s.batteryPct, s.linkQuality, s.online])).toEqual([[batteryPct, linkQuality, null]]);
  });

  it('does not care about field order', () => {
    const reordered = '{"voltage":3005,"occupancy":true,"power_outage_count":5,"linkquality":134,"illuminance_lux":381,"last_seen":"2026-11-25T08:59:58.000Z","illuminance":381,"device_temperature":27,"battery":100}';
    const strip = (r: DecodeResult) => signalsOf(r).map(({ key: _key, ...s }) => s);
    expect(strip(decodeState(reordered))).toEqual(strip(decodeState(AQARA_MOTION)));
  });

  it('records only the signal kinds the sensor measures', () => {
    const r = decodeState({ battery: 80, linkquality: 90, occupancy: true }, dev('occ-4'));
    expect(signalsOf(r).map((s) => s.kind)).toEqual(['occupancy']);
  });

  it.each<[string, unknown, number, 'device' | 'gateway']>([
    ['ISO_8601', '2026-11-25T08:59:58.123Z', Date.UTC(2026, 10, 25, 8, 59, 58, 123), 'device'],
    ['ISO_8601_local (offset, no milliseconds)', '2026-11-25T16:59:58+08:00', Date.UTC(2026, 10, 25, 8, 59, 58), 'device'],
    ['epoch (ms)', Date.UTC(2026, 10, 25, 8, 59, 57), Date.UTC(2026, 10, 25, 8, 59, 57), 'device'],
    ['relative (not a time)', '5 seconds ago', NOW, 'gateway'],
    ['a clock far in the future', '2027-01-01T00:00:00.000Z', NOW, 'gateway'],
    ['older than the accepted past', '2026-01-01T00:00:00.000Z', NOW, 'gateway'],
    ['garbage', { at: 1 }, NOW, 'gateway'],
  ])('last_seen as %s → %s time', (_name, lastSeen, ts, source) => {
    const [s] = occ(decodeState({ occupancy: true, last_seen: lastSeen }));
    expect([s?.ts, s?.tsSource]).toEqual([ts, source]);
  });

  it('parses last_seen forms', () => {
    expect(parseLastSeen('2019-03-01T16:32:45+0100')).toBe(Date.UTC(2019, 2, 1, 15, 32, 45));
    expect(parseLastSeen(1_551_454_365_941)).toBe(1_551_454_365_941);
    expect(parseLastSeen('yesterday')).toBeUndefined();
    expect(parseLastSeen(-5)).toBeUndefined();
    expect(parseLastSeen(undefined)).toBeUndefined();
  });

  it.each<[string, unknown, string, RegExp]>([
    ['occupancy as a string', { occupancy: 'true', linkquality: 80 }, 'schema', /occupancy must be true or false, got the string "true"/],
    ['occupancy as a number', { occupancy: 1 }, 'schema', /occupancy/],
    ['occupancy as ON/OFF', { occupancy: 'ON' }, 'schema', /occupancy/],
    ['battery as a string', { battery: '100' }, 'schema', /battery must be a number/],
    ['battery over 100', { battery: 140 }, 'bad_value', /battery 140/],
    ['negative battery', { battery: -1 }, 'bad_value', /battery -1/],
    ['linkquality over 255', { linkquality: 300 }, 'bad_value', /linkquality 300/],
    ['fractional linkquality', { linkquality: 12.5 }, 'bad_value', /linkquality/],
    ['linkquality as a string', { linkquality: 'good' }, 'schema', /linkquality/],
    ['battery_low as a string', { battery_low: 'false' }, 'schema', /battery_low/],
    ['malformed JSON', '{"occupancy":tru', 'malformed_json', /output/],
    ['a bare attribute value', 'true', 'schema', /JSON object/],
    ['an array', [{ occupancy: true }], 'schema', /JSON object/],
    ['null', 'null', 'schema', /JSON object/],
    ['binary garbage', Buffer.from([0xff, 0xfe, 0x00]), 'malformed_json', /./],
    ['oversized', { occupancy: true, pad: 'x'.repeat(20_000) }, 'payload_too_large', /bytes/],
  ])('rejects %s (%s)', (_name, payload, reason, detail) => {
    const r = zigbee2mqttDecoder.decode('state', Buffer.isBuffer(payload) ? payload : bytes(payload), ctxFor(dev('occ-1'), 'zigbee2mqtt/desk_1'));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe(reason);
      expect(r.detail).toMatch(detail);
    }
  });

  it('rejects an unknown channel', () => {
    expect(zigbee2mqttDecoder.decode('set', bytes({}), ctxFor(dev('occ-1'), 'zigbee2mqtt/desk_1/set'))).toMatchObject({ ok: false, reason: 'schema' });
  });
});

describe('availability and bridge state', () => {
  it.each<[string, string, boolean | null]>([
    ['1.x legacy online', 'online', true],
    ['1.x legacy offline', 'offline', false],
    ['JSON online (2.x)', '{"state":"online"}', true],
    ['JSON offline (2.x)', '{"state":"offline"}', false],
    ['JSON with spaces', '{ "state": "online" }', true],
    ['a trailing newline', 'offline\n', false],
    ['empty (retained message cleared)', '', null],
  ])('sensor availability: %s', (_name, payload, online) => {
    const r = zigbee2mqttDecoder.decode('availability', bytes(payload), ctxFor(dev('occ-1'), 'zigbee2mqtt/desk_1/availability'));
    const h = health(r);
    if (online === null) expect(h).toEqual([]);
    else
      expect(h).toEqual([
        {
          kind: 'health',
          key: 'occ-1:avail:run.1',
          site: 'demo',
          device: 'occ-1',
          deviceKind: 'occupancy-sensor',
          space: 'cowork',
          target: { type: 'desk', id: 'cw-01' },
          seq: 0,
          ts: NOW,
          tsSource: 'gateway',
          online,
          batteryPct: null,
          linkQuality: null,
        },
      ]);
  });

  it.each([
    ['1.x', 'online', true],
    ['1.x', 'offline', false],
    ['2.x', '{"state":"online"}', true],
    ['2.x', '{"state":"offline"}', false],
  ])('bridge/state %s %s → the bridge’s health online %s', (_v, payload, online) => {
    const [h] = health(zigbee2mqttDecoder.decode('bridge_state', bytes(payload), ctxFor(bridge, 'zigbee2mqtt/bridge/state')));
    expect(h).toMatchObject({ device: 'z2m-1', deviceKind: 'zigbee-bridge', space: 'cowork', target: { type: 'space', id: 'cowork' }, online });
  });

  it.each([
    ['ON', 'ON'],
    ['a JSON string with another state', '{"state":"unknown"}'],
    ['an object without state', '{"online":true}'],
    ['a boolean', 'true'],
    ['a quoted word', '"up"'],
    ['oversized', 'x'.repeat(300)],
  ])('rejects availability %s', (_name, payload) => {
    const r = zigbee2mqttDecoder.decode('availability', bytes(payload), ctxFor(dev('occ-1'), 'zigbee2mqtt/desk_1/availability'));
    expect(r.ok).toBe(false);
  });
});

describe('idempotence keys', () => {
  const keysOf = (r: DecodeResult) => signalsOf(r).map((s) => s.key);

  it('gives a redelivered message the same keys, however late, when it carries last_seen', () => {
    expect(keysOf(decodeState(AQARA_MOTION, dev('occ-1'), NOW + 5 * 60_000))).toEqual(keysOf(decodeState(AQARA_MOTION)));
  });

  it('without last_seen, gives the same keys within the receive-time window and new ones after it', () => {
    const windowStart = Math.floor(NOW / NO_LAST_SEEN_KEY_WINDOW_MS) * NO_LAST_SEEN_KEY_WINDOW_MS;
    const first = keysOf(decodeState(SNZB03_FREE, dev('occ-room'), windowStart + 100));
    expect(keysOf(decodeState(SNZB03_FREE, dev('occ-room'), windowStart + NO_LAST_SEEN_KEY_WINDOW_MS - 1))).toEqual(first);
    expect(keysOf(decodeState(SNZB03_FREE, dev('occ-room'), windowStart + NO_LAST_SEEN_KEY_WINDOW_MS + 100))).not.toEqual(first);
  });

  it('gives different messages different keys', () => {
    const a = keysOf(decodeState(AQARA_MOTION));
    const b = keysOf(decodeState({ ...AQARA_MOTION, illuminance: 382 }));
    const c = keysOf(decodeState({ ...AQARA_MOTION, last_seen: '2026-11-25T08:59:59.000Z' }));
    expect(new Set([...a, ...b, ...c]).size).toBe(6);
  });

  it('gives the occupancy and the health signal of one message distinct keys', () => {
    const [o, h] = keysOf(decodeState(AQARA_MOTION));
    expect(o).not.toBe(h);
  });

  it('gives the same payload from two sensors different keys', () => {
    expect(keysOf(decodeState(AQARA_MOTION, dev('occ-1')))).not.toEqual(keysOf(decodeState(AQARA_MOTION, dev('occ-3'))));
  });

  it('makes each availability message its own event, so offline, online, offline within seconds keeps its last word', () => {
    const key = (p: string, messageId: string) =>
      health(zigbee2mqttDecoder.decode('availability', bytes(p), { ...ctxFor(dev('occ-1'), 'zigbee2mqtt/desk_1/availability'), messageId }))[0]!.key;
    const keys = [key('offline', 'run.1'), key('online', 'run.2'), key('offline', 'run.3')];
    expect(new Set(keys).size).toBe(3);
    expect(keys[0]).toBe('occ-1:avail:run.1');
  });
});
