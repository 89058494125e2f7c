/**
 * Shelly Gen2 / Plus plugs: decoder, connection policy (ACL) and command encoder.
 *
 * Fixtures are written in the exact shapes Shelly Gen2 firmware publishes,
 * with values of our own:
 * - `<prefix>/status/switch:0`: the Switch component status of the Shelly API
 *   docs ("Switch", Status: output, apower W, voltage V, current A, freq,
 *   aenergy {total Wh, by_minute mWh, minute_ts}, temperature {tC, tF}), as
 *   captured from real 1PM Mini devices in MQTT debug logs quoted in
 *   iobroker-community-adapters/ioBroker.shelly issues #813 and #1592
 *   (including the newer `ret_aenergy` and `counts` objects, `"freq":50.0`).
 * - `<prefix>/events/rpc`: NotifyStatus frames as in the Shelly docs
 *   ("Notifications": src, dst, method, params.ts in Unix seconds with
 *   centiseconds, partial component objects), e.g. the partial
 *   `{"apower":…,"current":…}` of the capture above and an output change with
 *   `"source":"button"`.
 * - RPC reply frames as in the Shelly docs ("RPC Protocol": id, src, dst and
 *   result or error; Switch.Set's result `{"was_on":…}`).
 */
import { describe, expect, it } from 'vitest';
import { exampleSiteFile } from '../../core/site/example.js';
import type { DeviceInfo, Site } from '../../core/site/model.js';
import { validateSite } from '../../core/site/validate.js';
import type { PowerSignal } from '../../core/signals.js';
import { mqttDecoder } from '../../gateway/decoders/index.js';
import { rssiDbmToLinkQuality, shellyGen2Decoder, shellyReplyTopic } from '../../gateway/decoders/shelly-gen2.js';
import type { DecodeContext, DecodeResult } from '../../gateway/decoders/types.js';
import { ENCODERS } from '../../gateway/encoders/index.js';
import { shellyGen2Encoder } from '../../gateway/encoders/shelly-gen2.js';
import { deviceInfo } from '../harness/device-info.js';

function exampleSite(): Site {
  const r = validateSite(exampleSiteFile({ credentialsFor: () => ({ secret: 'env:TEST_SECRET' }) }));
  if (!r.ok) throw new Error('example site invalid');
  return r.site;
}

const site = exampleSite();
const plug = site.devices.get('pm-fdm-1')!;
const P = 'shellyplusplugs-fdm-1';
const NOW = Date.UTC(2026, 10, 25, 9, 3, 14, 250);
const TS = (NOW - 2_000) / 1000; // the device's own time, 2 s before receipt
let messages = 0;

function ctx(topic: string, receivedAt = NOW): DecodeContext {
  return { site: site.id, device: plug, topic, receivedAt, messageId: `run.${++messages}`, maxPastMs: 86_400_000, maxFutureMs: 300_000 };
}
const decode = (channel: string, topic: string, payload: string | Buffer, receivedAt = NOW): DecodeResult =>
  shellyGen2Decoder.decode(channel, Buffer.isBuffer(payload) ? payload : Buffer.from(payload), ctx(topic, receivedAt));

const STATUS_TOPIC = `${P}/status/switch:0`;
const EVENTS = `${P}/events/rpc`;

/** Full switch status of a Plus Plug S feeding a printer that is heating its bed. */
const STATUS_SWITCH =
  '{"id":0, "source":"init", "output":true, "apower":187.4, "voltage":229.8, "freq":50.0, "current":0.846, "aenergy":{"total":152669.987,"by_minute":[3102.442,3121.004,3099.561],"minute_ts":1795640580}, "ret_aenergy":{"total":0.000,"by_minute":[0.000,0.000,0.000],"minute_ts":1795640580}, "counts":{"on_time":44340,"switch_on":539}, "temperature":{"tC":41.2, "tF":106.2}}';
const notify = (sw: object | null, extra: object = {}, ts: number | null = TS) =>
  JSON.stringify({ src: 'shellyplusplugs-a8032ab1c2d4', dst: `${P}/events`, method: 'NotifyStatus', params: { ...(ts !== null && { ts }), ...(sw && { 'switch:0': sw }), ...extra } });

function power(r: DecodeResult): PowerSignal {
  if (!r.ok) throw new Error(`rejected: ${r.reason} ${r.detail}`);
  expect(r.signals).toHaveLength(1);
  const s = r.signals[0]!;
  if (s.kind !== 'power') throw new Error(`expected a power signal, got ${s.kind}`);
  return s;
}

describe('Shelly Gen2 decoder: status/switch:0', () => {
  it('turns the full status into a power signal; aenergy.total Wh → kWh; receive time', () => {
    const s = power(decode('status/switch:0', STATUS_TOPIC, STATUS_SWITCH));
    expect(s.key).toMatch(/^pm-fdm-1:c:m1795640580:/);
    expect({ ...s, key: '' }).toEqual({
      kind: 'power',
      key: '',
      site: 'demo-makerspace',
      device: 'pm-fdm-1',
      deviceKind: 'power-meter',
      space: 'fablab',
      target: { type: 'equipment', id: 'fdm-1' },
      seq: 0,
      ts: NOW,
      tsSource: 'gateway',
      powerW: 187.4,
      energyKwh: 152.669987,
      voltageV: 229.8,
      currentA: 0.846,
      on: true,
    });
  });

  it.each<[string, string, Partial<PowerSignal> | null]>([
    ['integers where floats were, other field order', '{"aenergy":{"total":1000},"current":1,"voltage":230,"apower":200,"output":true,"id":0}', { powerW: 200, energyKwh: 1, voltageV: 230, currentA: 1, on: true }],
    ['older firmware: counter reset after a reboot, raw counter kept', '{"id":0,"source":"init","output":true,"apower":12.3,"voltage":231.0,"current":0.071,"aenergy":{"total":0.000,"by_minute":[0.000,0.000,0.000],"minute_ts":1795640580},"temperature":{"tC":30.1,"tF":86.2}}', { powerW: 12.3, energyKwh: 0 }],
    ['switched off, no meter fields (a Plus 1 without metering)', '{"id":0,"source":"button","output":false,"temperature":{"tC":30.1,"tF":86.2}}', { powerW: 0, currentA: 0, energyKwh: null, on: false }],
    ['optional fields missing', '{"id":0,"apower":5.5}', { powerW: 5.5, energyKwh: null, voltageV: null, currentA: null, on: null }],
    ['on, without metering: no power reading, no signal', '{"id":0,"source":"button","output":true}', null],
  ])('%s', (_name, payload, expected) => {
    const r = decode('status/switch:0', STATUS_TOPIC, payload);
    if (!r.ok) throw new Error(r.detail);
    if (expected === null) expect(r.signals).toEqual([]);
    else expect(power(r)).toMatchObject(expected);
  });

  it.each([
    ['truncated', '{"id":0,"apower":', 'malformed_json'],
    ['not an object', '[187.4]', 'schema'],
    ['apower as a string', '{"id":0,"apower":"187.4"}', 'schema'],
    ['output as a string', '{"id":0,"output":"true","apower":1}', 'schema'],
    ['aenergy not an object', '{"id":0,"apower":1,"aenergy":152669.987}', 'schema'],
    ['aenergy.total as a string', '{"id":0,"apower":1,"aenergy":{"total":"1"}}', 'schema'],
    ['negative apower', '{"id":0,"apower":-4.2}', 'bad_value'],
  ])('%s → %s', (_name, payload, reason) => {
    expect(decode('status/switch:0', STATUS_TOPIC, payload)).toMatchObject({ ok: false, reason });
  });

  it('keys by aenergy.minute_ts and bytes: a late redelivery is the same message', () => {
    const a = power(decode('status/switch:0', STATUS_TOPIC, STATUS_SWITCH, NOW));
    const late = power(decode('status/switch:0', STATUS_TOPIC, STATUS_SWITCH, NOW + 5 * 60_000));
    const other = power(decode('status/switch:0', STATUS_TOPIC, STATUS_SWITCH.replace('187.4', '190.1'), NOW));
    expect(late.key).toBe(a.key);
    expect(other.key).not.toBe(a.key);
  });
});

describe('Shelly Gen2 decoder: events/rpc', () => {
  it('NotifyStatus with a partial switch:0 → power signal at the device time', () => {
    const s = power(decode('events/rpc', EVENTS, notify({ id: 0, apower: 11.5, current: 0.071 })));
    expect(s).toMatchObject({ powerW: 11.5, currentA: 0.071, voltageV: null, energyKwh: null, on: null, ts: NOW - 2000, tsSource: 'device' });
  });

  it('an output change to off is a 0 W reading; to on it is not a reading', () => {
    expect(power(decode('events/rpc', EVENTS, notify({ id: 0, output: false, source: 'button' })))).toMatchObject({ powerW: 0, on: false });
    expect(decode('events/rpc', EVENTS, notify({ id: 0, output: true, source: 'MQTT' }))).toEqual({ ok: true, signals: [] });
  });

  it('the per-minute counter update alone carries no power reading', () => {
    expect(decode('events/rpc', EVENTS, notify({ id: 0, aenergy: { by_minute: [3102.442, 3121.004, 3099.561], minute_ts: 1795640580, total: 152669.987 } }))).toEqual({ ok: true, signals: [] });
  });

  it('keys removed from the status arrive as null and are treated as absent', () => {
    expect(power(decode('events/rpc', EVENTS, notify({ id: 0, apower: 3, voltage: null, aenergy: null })))).toMatchObject({ powerW: 3, voltageV: null, energyKwh: null });
  });

  it('NotifyFullStatus with switch:0 and wifi → power and health, distinct keys', () => {
    const r = decode(
      'events/rpc',
      EVENTS,
      JSON.stringify({ src: 'shellyplusplugs-a8032ab1c2d4', dst: `${P}/events`, method: 'NotifyFullStatus', params: { ts: TS, 'switch:0': { id: 0, output: true, apower: 150, aenergy: { total: 2500 } }, wifi: { sta_ip: '192.168.10.61', status: 'got ip', ssid: 'fablab-iot', rssi: -61 }, sys: { uptime: 1234 } } }),
    );
    if (!r.ok) throw new Error(r.detail);
    expect(r.signals.map((s) => s.kind)).toEqual(['power', 'health']);
    expect(r.signals[0]).toMatchObject({ powerW: 150, energyKwh: 2.5, on: true });
    expect(r.signals[1]).toMatchObject({ linkQuality: rssiDbmToLinkQuality(-61), online: null });
    expect(r.signals[0]!.key).not.toBe(r.signals[1]!.key);
  });

  it.each<[string, number | null, 'device' | 'gateway']>([
    ['a plausible ts', TS, 'device'],
    ['no ts', null, 'gateway'],
    ['ts far in the future', NOW / 1000 + 3600, 'gateway'],
    ['ts of a Shelly without SNTP', 12.5, 'gateway'],
  ])('%s → %s time', (_name, ts, source) => {
    expect(power(decode('events/rpc', EVENTS, notify({ id: 0, apower: 1 }, {}, ts))).tsSource).toBe(source);
  });

  it('keys by params.ts: the same notification redelivered later is the same message', () => {
    const a = power(decode('events/rpc', EVENTS, notify({ id: 0, apower: 1 }), NOW));
    const b = power(decode('events/rpc', EVENTS, notify({ id: 0, apower: 1 }), NOW + 600_000));
    const c = power(decode('events/rpc', EVENTS, notify({ id: 0, apower: 1 }, {}, TS + 1), NOW));
    expect(b.key).toBe(a.key);
    expect(c.key).not.toBe(a.key);
  });

  it('NotifyEvent (button pushes, …) and other components are acknowledged, not recorded', () => {
    expect(decode('events/rpc', EVENTS, '{"src":"shellyplusplugs-a8032ab1c2d4","dst":"x/events","method":"NotifyEvent","params":{"ts":1795640600.12,"events":[{"component":"input:0","id":0,"event":"single_push","ts":1795640600.12}]}}')).toEqual({ ok: true, signals: [] });
    expect(decode('events/rpc', EVENTS, notify(null, { cloud: { connected: false } }))).toEqual({ ok: true, signals: [] });
  });

  it.each([
    ['malformed', '{"method":"NotifyStatus","params":{', 'malformed_json'],
    ['no method', '{"params":{"ts":1}}', 'schema'],
    ['unknown method', '{"method":"Switch.Set","params":{}}', 'schema'],
    ['params not an object', '{"method":"NotifyStatus","params":[1]}', 'schema'],
    ['ts as a string', '{"method":"NotifyStatus","params":{"ts":"1795640600.12"}}', 'schema'],
    ['switch:0 not an object', '{"method":"NotifyStatus","params":{"ts":1795640600.12,"switch:0":true}}', 'schema'],
    ['rssi as a string', '{"method":"NotifyStatus","params":{"wifi":{"rssi":"-61"}}}', 'schema'],
  ])('%s → %s', (_name, payload, reason) => {
    expect(decode('events/rpc', EVENTS, payload)).toMatchObject({ ok: false, reason });
  });
});

describe('Shelly Gen2 decoder: online, wifi, RPC replies', () => {
  it.each([
    ['true', true],
    ['false', false],
    [' true\n', true],
  ])('online %j → %s', (payload, online) => {
    expect(decode('online', `${P}/online`, payload)).toMatchObject({ ok: true, signals: [{ kind: 'health', online, linkQuality: null, batteryPct: null, tsSource: 'gateway' }] });
  });

  it.each(['1', 'online', 'TRUE', ''])('online %j → bad_value', (payload) => {
    expect(decode('online', `${P}/online`, payload)).toMatchObject({ ok: false, reason: 'bad_value' });
  });

  it('status/wifi rssi (dBm) → link quality', () => {
    expect(decode('status/wifi', `${P}/status/wifi`, '{"sta_ip":"192.168.10.61","status":"got ip","ssid":"fablab-iot","rssi":-61}')).toMatchObject({
      ok: true,
      signals: [{ kind: 'health', linkQuality: 199, online: null }],
    });
    expect(decode('status/wifi', `${P}/status/wifi`, '{"sta_ip":null,"status":"disconnected","ssid":null}')).toEqual({ ok: true, signals: [] });
    expect(decode('status/wifi', `${P}/status/wifi`, '{"rssi":12}')).toMatchObject({ ok: false, reason: 'bad_value' });
  });

  it.each([
    [-100, 0],
    [-120, 0],
    [-75, 128],
    [-61, 199],
    [-50, 255],
    [-30, 255],
  ])('rssi %d dBm → link quality %d', (dbm, lq) => {
    expect(rssiDbmToLinkQuality(dbm)).toBe(lq);
  });

  it('a Switch.Set result records nothing; an error reply is rejected so the refused command is visible', () => {
    const topic = shellyReplyTopic(site.id);
    expect(decode('rpc-reply', topic, '{"id":7,"src":"shellyplusplugs-a8032ab1c2d4","dst":"fac/v1/demo-makerspace/gateway","result":{"was_on":true}}')).toEqual({ ok: true, signals: [] });
    const err = decode('rpc-reply', topic, '{"id":8,"src":"shellyplusplugs-a8032ab1c2d4","dst":"fac/v1/demo-makerspace/gateway","error":{"code":-103,"message":"Invalid argument \'id\': no such component"}}');
    expect(err).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(!err.ok && err.detail).toContain('-103');
    expect(decode('rpc-reply', topic, '{"result":{}}')).toMatchObject({ ok: false, reason: 'schema' });
    expect(decode('rpc-reply', topic, '{"id":9}')).toMatchObject({ ok: false, reason: 'schema' });
  });
});

describe('Shelly Gen2 connection policy', () => {
  const policy = shellyGen2Decoder.connection(plug, site);
  const route = (channel: string) => ({ ok: true, route: { device: plug, channel } });
  const reply = 'fac/v1/demo-makerspace/gateway/rpc';

  it('is the decoder registered for format shelly-gen2', () => {
    expect(mqttDecoder('shelly-gen2')).toBe(shellyGen2Decoder);
    expect(plug.mqtt).toEqual({ clientId: P, username: 'pm-fdm-1', topic: P });
    expect(shellyReplyTopic(site.id)).toBe(reply);
  });

  it.each<[string, boolean, object]>([
    [`${P}/online`, true, route('online')],
    [`${P}/online`, false, route('online')],
    [`${P}/status/switch:0`, false, route('status/switch:0')],
    [`${P}/status/wifi`, false, route('status/wifi')],
    [`${P}/events/rpc`, false, route('events/rpc')],
    [reply, false, route('rpc-reply')],
    [`${P}/status/sys`, false, { ok: true, route: null, ignored: 'shelly_status' }],
    [`${P}/status/input:0`, false, { ok: true, route: null, ignored: 'shelly_status' }],
    [`${P}/debug/log`, false, { ok: true, route: null, ignored: 'shelly_debug' }],
    // Refused: the client is disconnected.
    [`${P}/status/switch:0`, true, { ok: false, reason: 'retain_not_allowed' }],
    [`${P}/events/rpc`, true, { ok: false, reason: 'retain_not_allowed' }],
    [reply, true, { ok: false, reason: 'retain_not_allowed' }],
    [`${P}/rpc`, false, { ok: false, reason: 'command_topic' }],
    [`${P}/command`, false, { ok: false, reason: 'command_topic' }],
    [`${P}/command/switch:0`, false, { ok: false, reason: 'command_topic' }],
    ['shellyplusplugs-fdm-2/status/switch:0', false, { ok: false, reason: 'not_own_topic' }],
    ['shellyplusplugs-fdm-2/rpc', false, { ok: false, reason: 'not_own_topic' }],
    ['shellyplusplugs-fdm-2/online', true, { ok: false, reason: 'not_own_topic' }],
    [`${P}-x/online`, false, { ok: false, reason: 'not_own_topic' }],
    [`${P}/status/switch:0/extra`, false, { ok: false, reason: 'not_own_topic' }],
    [`${P}/other/rpc`, false, { ok: false, reason: 'not_own_topic' }],
    ['fac/v1/demo-makerspace/d/pm-fdm-1/power', false, { ok: false, reason: 'not_own_topic' }],
    ['fac/v1/demo-makerspace/gateway/status', true, { ok: false, reason: 'not_own_topic' }],
    ['fac/v1/other-site/gateway/rpc', false, { ok: false, reason: 'not_own_topic' }],
    ['tele/plug_laser_1/SENSOR', false, { ok: false, reason: 'not_own_topic' }],
    ['cmnd/plug_laser_1/POWER', false, { ok: false, reason: 'command_topic' }],
    ['$SYS/broker/uptime', false, { ok: false, reason: 'sys_topic' }],
  ])('publish %s (retain %s)', (topic, retain, expected) => {
    expect(policy.publish(topic, retain)).toEqual(expected);
  });

  it.each([
    [`${P}/online`, true],
    ['shellyplusplugs-fdm-2/online', false],
    [`${P}/status/switch:0`, false],
  ])('will %s → %s', (topic, ok) => {
    expect(policy.willAllowed(topic)).toBe(ok);
  });

  it.each([
    [`${P}/rpc`, true],
    [`${P}/command`, true],
    [`${P}/command/#`, true],
    [`${P}/command/switch:0`, true],
    [`${P}/command/+`, false],
    [`${P}/#`, false],
    [`${P}/events/rpc`, false],
    ['shellyplusplugs-fdm-2/rpc', false],
    ['+/rpc', false],
    ['#', false],
    [reply, false],
  ])('subscribe %s → %s', (filter, ok) => {
    expect(policy.subscribe(filter)).toBe(ok);
  });

  it.each([
    [`${P}/rpc`, true],
    [`${P}/command`, true],
    [`${P}/command/switch:0`, true],
    [`${P}/command/switch:0/x`, false],
    ['shellyplusplugs-fdm-2/rpc', false],
    [`${P}/online`, false],
    [reply, false],
  ])('forward %s → %s', (topic, ok) => {
    expect(policy.forward(topic)).toBe(ok);
  });

  it('a device whose prefix is a prefix of another’s cannot reach into it', () => {
    const a = deviceInfo({ id: 'pm-a', kind: 'power-meter', format: 'shelly-gen2', mqtt: { clientId: 'a', username: 'pm-a', topic: 'lab' } });
    const p = shellyGen2Decoder.connection(a, site);
    expect(p.publish('lab/plug2/rpc', false)).toEqual({ ok: false, reason: 'not_own_topic' });
    expect(p.publish('lab/plug2/online', false)).toEqual({ ok: false, reason: 'not_own_topic' });
    expect(p.forward('lab/plug2/rpc')).toBe(false);
  });
});

describe('Shelly Gen2 command encoder', () => {
  const encodeCtx = { site, requestId: 42, replyTopicBase: `fac/v1/${site.id}/gateway` };

  it('is registered for format shelly-gen2', () => {
    expect(ENCODERS['shelly-gen2']).toBe(shellyGen2Encoder);
  });

  it.each([true, false])('power on=%s → Switch.Set on <prefix>/rpc (on at QoS 0, off at QoS 1)', (on) => {
    expect(shellyGen2Encoder.encode(plug, { type: 'power', on }, encodeCtx)).toEqual([
      { topic: `${P}/rpc`, payload: `{"id":42,"src":"fac/v1/demo-makerspace/gateway","method":"Switch.Set","params":{"id":0,"on":${on}}}`, qos: on ? 0 : 1 },
    ]);
  });

  it('the reply topic the request names is one the device may publish', () => {
    const [m] = shellyGen2Encoder.encode(plug, { type: 'power', on: true }, encodeCtx)!;
    const src = (JSON.parse(m!.payload) as { src: string }).src;
    expect(shellyGen2Decoder.connection(plug, site).publish(`${src}/rpc`, false)).toEqual({ ok: true, route: { device: plug, channel: 'rpc-reply' } });
  });

  it('cannot unlock or switch a device that is not a power meter', () => {
    expect(shellyGen2Encoder.encode(plug, { type: 'unlock', durationMs: 5000 }, encodeCtx)).toBeNull();
    const other: DeviceInfo = deviceInfo({ id: 'x', kind: 'occupancy-sensor', format: 'shelly-gen2' });
    expect(shellyGen2Encoder.encode(other, { type: 'power', on: true }, encodeCtx)).toBeNull();
  });
});
