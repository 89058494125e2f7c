/**
 * Tasmota plugs: decoder (payloads as real plugs print them), connection
 * policy (ACL) and command encoder.
 *
 * Fixtures are written in the exact shapes Tasmota publishes, with values of
 * our own:
 * - SENSOR/ENERGY: the ENERGY object of Tasmota's power-monitoring drivers as
 *   shown in Tasmota's docs ("MQTT": `tele/<topic>/SENSOR`, "Power Monitoring")
 *   and in real captures (e.g. the Local Bytes plug KB article): integers for
 *   Power/ApparentPower/ReactivePower/Voltage/Period, 3 decimals for the kWh
 *   counters and Current, 2 for Factor, `Time` local without offset.
 * - The multi-channel ENERGY of a Sonoff Dual R3 (arrays per channel, one
 *   Voltage) as quoted in arendst/Tasmota issue #18385.
 * - A relay-off SENSOR (all 0, `"Current":0.000`) and STATE as logged by
 *   Tasmota 8.x plugs (Wifi.RSSI in %, Signal in dBm).
 * - LWT `Online`/`Offline` and `stat/<topic>/POWER` plain text, RESULT JSON as in
 *   Tasmota's docs ("MQTT", "Command flow").
 */
import { describe, expect, it } from 'vitest';
import { exampleSiteFile } from '../../core/site/example.js';
import type { DeviceInfo, Site } from '../../core/site/model.js';
import { validateSite } from '../../core/site/validate.js';
import { mqttDecoder } from '../../gateway/decoders/index.js';
import { MAX_TASMOTA_PAYLOAD_BYTES, rssiPercentToLinkQuality, tasmotaDecoder } from '../../gateway/decoders/tasmota.js';
import type { DecodeContext, DecodeResult } from '../../gateway/decoders/types.js';
import { ENCODERS } from '../../gateway/encoders/index.js';
import { tasmotaEncoder } from '../../gateway/encoders/tasmota.js';
import type { HealthSignal, PowerSignal } from '../../core/signals.js';
import { deviceInfo } from '../harness/device-info.js';

function exampleSite(): Site {
  const r = validateSite(exampleSiteFile({ credentialsFor: () => ({ secret: 'env:TEST_SECRET' }) }));
  if (!r.ok) throw new Error('example site invalid');
  return r.site;
}

const site = exampleSite();
const plug = site.devices.get('pm-laser-1')!;
const NOW = Date.UTC(2026, 10, 25, 9, 3, 14, 250); // 17:03:14 in Asia/Shanghai
let messages = 0;

function ctx(topic: string, receivedAt = NOW): DecodeContext {
  return { site: site.id, device: plug, topic, receivedAt, messageId: `run.${++messages}`, maxPastMs: 86_400_000, maxFutureMs: 300_000 };
}

const decode = (channel: string, topic: string, payload: string | Buffer, receivedAt = NOW): DecodeResult =>
  tasmotaDecoder.decode(channel, Buffer.isBuffer(payload) ? payload : Buffer.from(payload), ctx(topic, receivedAt));

const SENSOR = 'tele/plug_laser_1/SENSOR';
const STATE = 'tele/plug_laser_1/STATE';
const LWT = 'tele/plug_laser_1/LWT';
const STAT_POWER = 'stat/plug_laser_1/POWER';

/** A Sonoff POW R2 metering a laser cutter while it cuts. */
const SENSOR_POW_R2 =
  '{"Time":"2026-11-25T17:03:12","ENERGY":{"TotalStartTime":"2025-03-02T10:11:40","Total":512.384,"Yesterday":3.206,"Today":1.918,"Period":9,"Power":548,"ApparentPower":571,"ReactivePower":160,"Factor":0.96,"Voltage":229,"Current":2.493}}';
/** The same plug with its relay off (SetOption21 0: nothing is metered). */
const SENSOR_RELAY_OFF =
  '{"Time":"2026-11-25T17:08:12","ENERGY":{"TotalStartTime":"2025-03-02T10:11:40","Total":512.401,"Yesterday":3.206,"Today":1.935,"Period":0,"Power":0,"ApparentPower":0,"ReactivePower":0,"Factor":0.00,"Voltage":0,"Current":0.000}}';
/** After a power cut on a build that loses the counter: Total from 0, no NTP time yet. */
const SENSOR_AFTER_RESET =
  '{"Time":"1970-01-01T00:00:41","ENERGY":{"TotalStartTime":"1970-01-01T00:00:00","Total":0.000,"Yesterday":0.000,"Today":0.000,"Period":0,"Power":537,"ApparentPower":560,"ReactivePower":158,"Factor":0.96,"Voltage":228,"Current":2.456}}';
/** A Sonoff Dual R3: two channels, per-channel arrays, one Voltage. */
const SENSOR_DUAL_R3 =
  '{"Time":"2026-11-25T17:03:12","Switch1":"ON","Switch2":"ON","ENERGY":{"TotalStartTime":"2026-09-16T00:00:00","Total":[3.912,0.254],"Yesterday":[1.530,0.125],"Today":[0.772,0.059],"Period":[4,0],"Power":[312,5],"ApparentPower":[330,10],"ReactivePower":[107,9],"Factor":[0.95,0.50],"Voltage":231,"Current":[1.429,0.044]}}';
const STATE_ON =
  '{"Time":"2026-11-25T17:03:12","Uptime":"3T04:11:09","UptimeSec":274269,"Heap":26,"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":2,"POWER":"ON","Wifi":{"AP":1,"SSId":"fablab-iot","BSSId":"30:B5:C2:5D:70:72","Channel":11,"Mode":"11n","RSSI":78,"Signal":-61,"LinkCount":2,"Downtime":"0T00:00:07"}}';
const STATE_OFF = STATE_ON.replace('"POWER":"ON"', '"POWER":"OFF"');

function power(r: DecodeResult): PowerSignal {
  if (!r.ok) throw new Error(`rejected: ${r.reason} ${r.detail}`);
  expect(r.signals).toHaveLength(1);
  const s = r.signals[0]!;
  if (s.kind !== 'power') throw new Error(`expected a power signal, got ${s.kind}`);
  return s;
}

describe('Tasmota decoder: tele/<topic>/SENSOR', () => {
  it('turns ENERGY into a power signal with the raw kWh counter, at the receive time', () => {
    const s = power(decode('tele/SENSOR', SENSOR, SENSOR_POW_R2));
    expect(s.key).toMatch(/^pm-laser-1:c:2026-11-25T17:03:12:/);
    expect({ ...s, key: '' }).toEqual({
      kind: 'power',
      key: '',
      site: 'demo-makerspace',
      device: 'pm-laser-1',
      deviceKind: 'power-meter',
      space: 'fablab',
      target: { type: 'equipment', id: 'laser-1' },
      seq: 0,
      ts: NOW,
      tsSource: 'gateway',
      powerW: 548,
      energyKwh: 512.384,
      voltageV: 229,
      currentA: 2.493,
      on: null,
    });
  });

  it.each<[string, string, Partial<PowerSignal>]>([
    ['field order reversed', '{"ENERGY":{"Current":2.493,"Voltage":229,"Power":548,"Total":512.384},"Time":"2026-11-25T17:03:12"}', { powerW: 548, energyKwh: 512.384, voltageV: 229, currentA: 2.493 }],
    ['floats where ints were and ints where floats were', '{"Time":"2026-11-25T17:03:12","ENERGY":{"Total":512,"Power":548.0,"Voltage":229.4,"Current":2}}', { powerW: 548, energyKwh: 512, voltageV: 229.4, currentA: 2 }],
    ['optional fields missing (no Voltage/Current sensing)', '{"Time":"2026-11-25T17:03:12","ENERGY":{"Power":12}}', { powerW: 12, energyKwh: null, voltageV: null, currentA: null }],
    ['optional fields null', '{"Time":"2026-11-25T17:03:12","ENERGY":{"Power":12,"Total":null,"Voltage":null}}', { powerW: 12, energyKwh: null, voltageV: null }],
    ['multi-channel arrays: the first channel, scalar Voltage as is', SENSOR_DUAL_R3, { powerW: 312, energyKwh: 3.912, voltageV: 231, currentA: 1.429 }],
    ['relay off: all zero', SENSOR_RELAY_OFF, { powerW: 0, energyKwh: 512.401, voltageV: 0, currentA: 0 }],
    ['counter reset to 0: the raw counter is kept', SENSOR_AFTER_RESET, { powerW: 537, energyKwh: 0 }],
    ['extra sensors next to ENERGY', '{"Time":"2026-11-25T17:03:12","ANALOG":{"Temperature":41.3},"ENERGY":{"Power":5,"Total":1.5},"TempUnit":"C"}', { powerW: 5, energyKwh: 1.5 }],
  ])('%s', (_name, payload, expected) => {
    const s = power(decode('tele/SENSOR', SENSOR, payload));
    expect(s).toMatchObject(expected);
    for (const k of ['powerW', 'energyKwh', 'voltageV', 'currentA'] as const) {
      expect(s[k] === null || typeof s[k] === 'number').toBe(true);
    }
  });

  it('records nothing for a SENSOR without ENERGY (other sensors on the plug)', () => {
    expect(decode('tele/SENSOR', SENSOR, '{"Time":"2026-11-25T17:03:12","DS18B20":{"Id":"01144A0CB2AA","Temperature":21.4},"TempUnit":"C"}')).toEqual({ ok: true, signals: [] });
  });

  it.each([
    ['truncated JSON', '{"Time":"2026-11-25T17:03:12","ENERGY":{"Power":5', 'malformed_json'],
    ['binary garbage', Buffer.from([0xff, 0xfe, 0x00, 0x01]), 'malformed_json'],
    ['not an object', '[548,512.384]', 'schema'],
    ['a bare string', '"Online"', 'schema'],
    ['ENERGY not an object', '{"Time":"2026-11-25T17:03:12","ENERGY":548}', 'schema'],
    ['Power missing', '{"Time":"2026-11-25T17:03:12","ENERGY":{"Total":512.384}}', 'schema'],
    ['Power as a string', '{"Time":"2026-11-25T17:03:12","ENERGY":{"Power":"548"}}', 'schema'],
    ['Total as a string', '{"Time":"2026-11-25T17:03:12","ENERGY":{"Power":548,"Total":"512.384"}}', 'schema'],
    ['Power an empty array', '{"Time":"2026-11-25T17:03:12","ENERGY":{"Power":[]}}', 'schema'],
    ['Power negative', '{"Time":"2026-11-25T17:03:12","ENERGY":{"Power":-3}}', 'bad_value'],
    ['Total negative', '{"Time":"2026-11-25T17:03:12","ENERGY":{"Power":3,"Total":-0.5}}', 'bad_value'],
    ['oversized', JSON.stringify({ ENERGY: { Power: 1 }, pad: 'x'.repeat(MAX_TASMOTA_PAYLOAD_BYTES) }), 'payload_too_large'],
  ])('%s → rejected as %s', (_name, payload, reason) => {
    const r = decode('tele/SENSOR', SENSOR, payload);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe(reason);
      expect(r.detail.length).toBeGreaterThan(0);
    }
  });

  it('keys a message by its Time and bytes: a redelivery is the same message however late, another reading is not', () => {
    const a = power(decode('tele/SENSOR', SENSOR, SENSOR_POW_R2, NOW));
    const again = power(decode('tele/SENSOR', SENSOR, SENSOR_POW_R2, NOW + 10 * 60_000));
    const next = power(decode('tele/SENSOR', SENSOR, SENSOR_POW_R2.replace('17:03:12', '17:08:12'), NOW));
    expect(again.key).toBe(a.key);
    expect(next.key).not.toBe(a.key);
    // The same bytes on another topic are another message.
    expect(power(decode('tele/SENSOR', 'tele/plug_laser_1/SENSOR2', SENSOR_POW_R2)).key).not.toBe(a.key);
  });

  it('keys by the receive minute while the clock is not set (Time in 1970 repeats after every boot)', () => {
    const a = power(decode('tele/SENSOR', SENSOR, SENSOR_AFTER_RESET, NOW));
    const sameMinute = power(decode('tele/SENSOR', SENSOR, SENSOR_AFTER_RESET, NOW + 1000));
    const nextBoot = power(decode('tele/SENSOR', SENSOR, SENSOR_AFTER_RESET, NOW + 3_600_000));
    expect(sameMinute.key).toBe(a.key);
    expect(nextBoot.key).not.toBe(a.key);
    expect(a.ts).toBe(NOW);
    expect(a.tsSource).toBe('gateway');
  });
});

describe('Tasmota decoder: tele/<topic>/STATE', () => {
  it('maps Wifi.RSSI (0–100 %) to link quality 0–255; relay ON alone makes no power signal', () => {
    const r = decode('tele/STATE', STATE, STATE_ON);
    expect(r).toEqual({
      ok: true,
      signals: [expect.objectContaining({ kind: 'health', online: null, batteryPct: null, linkQuality: 199, ts: NOW, tsSource: 'gateway', seq: 0 })],
    });
  });

  it('relay OFF also makes a 0 W power signal with on = false, under its own key', () => {
    const r = decode('tele/STATE', STATE, STATE_OFF);
    if (!r.ok) throw new Error(r.detail);
    expect(r.signals.map((s) => s.kind)).toEqual(['health', 'power']);
    const [h, p] = r.signals as [HealthSignal, PowerSignal];
    expect(p).toMatchObject({ powerW: 0, on: false, energyKwh: null, voltageV: null, currentA: null });
    expect(h.key).not.toBe(p.key);
  });

  it.each([
    ['multi-relay POWER1 OFF', '{"Time":"2026-11-25T17:03:12","POWER1":"OFF","POWER2":"ON","Wifi":{"RSSI":42}}', ['health', 'power']],
    ['wired device without Wifi, relay off', '{"Time":"2026-11-25T17:03:12","POWER":"OFF","Ethernet":{"IPAddress":"192.168.10.7"}}', ['power']],
    ['no relay, no Wifi', '{"Time":"2026-11-25T17:03:12","Uptime":"0T00:01:00"}', []],
    ['lower-case off', '{"Time":"2026-11-25T17:03:12","POWER":"off","Wifi":{"RSSI":100}}', ['health', 'power']],
  ])('%s', (_name, payload, kinds) => {
    const r = decode('tele/STATE', STATE, payload);
    if (!r.ok) throw new Error(r.detail);
    expect(r.signals.map((s) => s.kind)).toEqual(kinds);
  });

  it.each([
    ['RSSI as a string', '{"POWER":"ON","Wifi":{"RSSI":"78"}}', 'schema'],
    ['RSSI over 100 %', '{"POWER":"ON","Wifi":{"RSSI":140}}', 'bad_value'],
    ['Wifi not an object', '{"POWER":"ON","Wifi":78}', 'schema'],
    ['POWER not text', '{"POWER":1,"Wifi":{"RSSI":78}}', 'schema'],
    ['custom StateText', '{"POWER":"EIN","Wifi":{"RSSI":78}}', 'bad_value'],
    ['malformed', '{"POWER":"ON",', 'malformed_json'],
  ])('%s → %s', (_name, payload, reason) => {
    expect(decode('tele/STATE', STATE, payload)).toMatchObject({ ok: false, reason });
  });

  it.each([
    [0, 0],
    [50, 128],
    [78, 199],
    [100, 255],
    [120, 255],
  ])('RSSI %d %% → link quality %d', (pct, lq) => {
    expect(rssiPercentToLinkQuality(pct)).toBe(lq);
  });
});

describe('Tasmota decoder: LWT and relay reports', () => {
  it.each([
    ['Online', true],
    ['Offline', false],
    ['Online\n', true],
    ['offline', false],
  ])('LWT %j → online %s', (payload, online) => {
    const r = decode('tele/LWT', LWT, payload);
    expect(r).toMatchObject({ ok: true, signals: [{ kind: 'health', online, linkQuality: null, batteryPct: null, ts: NOW, tsSource: 'gateway' }] });
  });

  it('each LWT message is its own event', () => {
    const a = decode('tele/LWT', LWT, 'Offline');
    const b = decode('tele/LWT', LWT, 'Offline');
    expect(a.ok && b.ok && a.signals[0]!.key !== b.signals[0]!.key).toBe(true);
  });

  it.each(['Gone', '', '{"online":true}'])('LWT %j → bad_value', (payload) => {
    expect(decode('tele/LWT', LWT, payload)).toMatchObject({ ok: false, reason: 'bad_value' });
  });

  it.each<[string, string, boolean]>([
    ['plain OFF', 'OFF', true],
    ['JSON reply (SetOption4 1)', '{"POWER":"OFF"}', true],
    ['POWER1 JSON', '{"POWER1":"OFF"}', true],
    ['plain ON', 'ON', false],
    ['JSON ON', '{"POWER":"ON"}', false],
    ['JSON reply to another command', '{"PowerOnState":3}', false],
  ])('stat/POWER %s → %s', (_name, payload, offSignal) => {
    const r = decode('stat/POWER', STAT_POWER, payload);
    if (!r.ok) throw new Error(r.detail);
    if (offSignal) expect(r.signals).toEqual([expect.objectContaining({ kind: 'power', powerW: 0, on: false, energyKwh: null })]);
    else expect(r.signals).toEqual([]);
  });

  it.each([
    ['MAYBE', 'bad_value'],
    ['{"POWER":', 'malformed_json'],
    ['{"POWER":true}', 'schema'],
  ])('stat/POWER %j → %s', (payload, reason) => {
    expect(decode('stat/POWER', STAT_POWER, payload)).toMatchObject({ ok: false, reason });
  });

  it('an unknown channel is rejected explicitly', () => {
    expect(decode('tele/INFO1', 'tele/plug_laser_1/INFO1', '{}')).toMatchObject({ ok: false, reason: 'schema' });
  });
});

describe('Tasmota connection policy', () => {
  const policy = tasmotaDecoder.connection(plug, site);
  const route = (channel: string) => ({ ok: true, route: { device: plug, channel } });

  it('is the decoder registered for format tasmota', () => {
    expect(mqttDecoder('tasmota')).toBe(tasmotaDecoder);
    expect(plug.mqtt).toEqual({ clientId: 'DVES_LASER1', username: 'tasmota', topic: 'plug_laser_1' });
  });

  it.each<[string, boolean, object]>([
    ['tele/plug_laser_1/SENSOR', false, route('tele/SENSOR')],
    ['tele/plug_laser_1/STATE', false, route('tele/STATE')],
    ['tele/plug_laser_1/LWT', true, route('tele/LWT')],
    ['tele/plug_laser_1/LWT', false, route('tele/LWT')],
    ['stat/plug_laser_1/POWER', false, route('stat/POWER')],
    ['stat/plug_laser_1/POWER1', false, route('stat/POWER')],
    ['tele/plug_laser_1/INFO1', false, { ok: true, route: null, ignored: 'tasmota_info' }],
    ['tele/plug_laser_1/INFO3', false, { ok: true, route: null, ignored: 'tasmota_info' }],
    ['stat/plug_laser_1/RESULT', false, { ok: true, route: null, ignored: 'tasmota_result' }],
    ['stat/plug_laser_1/STATUS10', false, { ok: true, route: null, ignored: 'tasmota_status' }],
    ['tele/plug_laser_1/MARGINS', false, { ok: true, route: null, ignored: 'tasmota_other' }],
    ['stat/plug_laser_1/POWER2', false, { ok: true, route: null, ignored: 'tasmota_other' }],
    // Refused: the client is disconnected.
    ['tele/plug_laser_2/SENSOR', false, { ok: false, reason: 'not_own_topic' }],
    ['stat/plug_laser_2/POWER', false, { ok: false, reason: 'not_own_topic' }],
    ['tele/plug_laser_10/SENSOR', false, { ok: false, reason: 'not_own_topic' }],
    ['tele/plug_laser_1/SENSOR/extra', false, { ok: false, reason: 'not_own_topic' }],
    ['tele/plug_laser_1/', false, { ok: false, reason: 'not_own_topic' }],
    ['tele/plug_laser_1', false, { ok: false, reason: 'not_own_topic' }],
    ['fac/v1/demo-makerspace/d/pm-laser-1/power', false, { ok: false, reason: 'not_own_topic' }],
    // Tasmota's own discovery (retained, every connect): acknowledged and dropped, never a disconnect loop.
    ['tasmota/discovery/A4CF12B3C4D5/config', true, { ok: true, route: null, ignored: 'tasmota_discovery' }],
    ['tasmota/discovery/A4CF12B3C4D5/sensors', true, { ok: true, route: null, ignored: 'tasmota_discovery' }],
    ['tasmota/discovery/A4CF12B3C4D5/other', true, { ok: false, reason: 'not_own_topic' }],
    ['tasmota/discovery/../config', true, { ok: false, reason: 'not_own_topic' }],
    ['homeassistant/switch/A4CF12_RL_1/config', true, { ok: false, reason: 'not_own_topic' }],
    ['plug_laser_1/tele/SENSOR', false, { ok: false, reason: 'not_own_topic' }],
    ['cmnd/plug_laser_1/POWER', false, { ok: false, reason: 'command_topic' }],
    ['cmnd/plug_laser_2/POWER', false, { ok: false, reason: 'command_topic' }],
    ['cmnd/tasmotas/POWER', false, { ok: false, reason: 'command_topic' }],
    ['$SYS/broker/clients/connected', false, { ok: false, reason: 'sys_topic' }],
    ['tele/plug_laser_1/SENSOR', true, { ok: false, reason: 'retain_not_allowed' }],
    ['tele/plug_laser_1/STATE', true, { ok: false, reason: 'retain_not_allowed' }],
    ['stat/plug_laser_1/POWER', true, { ok: false, reason: 'retain_not_allowed' }],
    ['tele/plug_laser_2/LWT', true, { ok: false, reason: 'not_own_topic' }],
  ])('publish %s (retain %s)', (topic, retain, expected) => {
    expect(policy.publish(topic, retain)).toEqual(expected);
  });

  it.each([
    ['tele/plug_laser_1/LWT', true],
    ['tele/plug_laser_2/LWT', false],
    ['tele/plug_laser_1/STATE', false],
    ['fac/v1/demo-makerspace/d/pm-laser-1/status', false],
  ])('will %s → %s', (topic, ok) => {
    expect(policy.willAllowed(topic)).toBe(ok);
  });

  it.each([
    ['cmnd/plug_laser_1/#', true],
    ['cmnd/tasmotas/#', true],
    ['cmnd/DVES_LASER1_fb/#', true],
    ['cmnd/DVES_LASER2_fb/#', false],
    ['cmnd/plug_laser_2/#', false],
    ['cmnd/#', false],
    ['cmnd/+/POWER', false],
    ['#', false],
    ['tele/plug_laser_1/#', false],
    ['$SYS/#', false],
    ['fac/v1/demo-makerspace/d/pm-laser-1/cmd/#', false],
  ])('subscribe %s → %s', (filter, ok) => {
    expect(policy.subscribe(filter)).toBe(ok);
  });

  it.each([
    ['cmnd/plug_laser_1/POWER', true],
    ['cmnd/plug_laser_1/Backlog', true],
    ['cmnd/tasmotas/POWER', false],
    ['cmnd/DVES_LASER1_fb/POWER', false],
    ['cmnd/plug_laser_2/POWER', false],
    ['cmnd/plug_laser_1/x/POWER', false],
    ['tele/plug_laser_1/LWT', false],
  ])('forward %s → %s', (topic, ok) => {
    expect(policy.forward(topic)).toBe(ok);
  });

  it('a plug whose topic prefixes another’s hears only its own commands', () => {
    const a = deviceInfo({ id: 'pm-a', kind: 'power-meter', format: 'tasmota', mqtt: { clientId: 'DVES_A', username: 'tasmota', topic: 'lab' } });
    const p = tasmotaDecoder.connection(a, site);
    expect(p.forward('cmnd/lab/POWER')).toBe(true);
    expect(p.forward('cmnd/lab/plug2/POWER')).toBe(false);
    expect(p.publish('tele/lab/plug2/SENSOR', false)).toEqual({ ok: false, reason: 'not_own_topic' });
  });
});

describe('Tasmota command encoder', () => {
  const encodeCtx = { site, requestId: 7, replyTopicBase: `fac/v1/${site.id}/gateway` };

  it('is registered for format tasmota', () => {
    expect(ENCODERS.tasmota).toBe(tasmotaEncoder);
  });

  it.each([
    [true, 'ON'],
    [false, 'OFF'],
  ])('power on=%s → cmnd/<topic>/POWER %s (on at QoS 0, off at QoS 1)', (on, payload) => {
    expect(tasmotaEncoder.encode(plug, { type: 'power', on }, encodeCtx)).toEqual([{ topic: 'cmnd/plug_laser_1/POWER', payload, qos: on ? 0 : 1 }]);
  });

  it('cannot unlock doors or switch a device that is not a power meter', () => {
    expect(tasmotaEncoder.encode(plug, { type: 'unlock', durationMs: 5000 }, encodeCtx)).toBeNull();
    const reader: DeviceInfo = deviceInfo({ id: 'x', kind: 'badge-reader', format: 'tasmota' });
    expect(tasmotaEncoder.encode(reader, { type: 'power', on: true }, encodeCtx)).toBeNull();
  });
});
