/**
 * Tasmota and Shelly Gen2 plugs end to end: the example site (makeTestSite:
 * Tasmota plugs pm-laser-1, pm-laser-2, pm-cnc-1, pm-lathe-1 on the shared
 * login `tasmota-fleet`; Shelly Plus Plug S pm-fdm-1… with their own
 * secrets), the whole system started in-process with startSystem (so the test
 * can call gateway.command()), a real influxd, and the firmware simulators
 * speaking the plugs' real formats over MQTT.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../cli/config.js';
import { startSystem, type RunningSystem } from '../../cli/system.js';
import { ShellyPlug } from '../../firmware-sim/devices/shelly-gen2.js';
import { TasmotaPlug } from '../../firmware-sim/devices/tasmota.js';
import { readSecretsFile } from '../../gateway/auth/secrets.js';
import { closed, connectDevice } from '../harness/devices.js';
import { makeTestSite, metricValue, type TestSite } from '../harness/gateway.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';

let influx: TestInflux;
let site: TestSite;
let system: RunningSystem;
let dataDir: string;
let fleetPassword: string;
let brokerUrl: string;
const plugs: (TasmotaPlug | ShellyPlug)[] = [];

beforeAll(async () => {
  [influx, site] = await Promise.all([startTestInfluxd(), makeTestSite()]);
  fleetPassword = (await readSecretsFile(site.secretsPath)).logins?.['tasmota-fleet'] ?? '';
  expect(fleetPassword).not.toBe('');
  dataDir = await mkdtemp(join(tmpdir(), 'of-plugs-'));
  const config = buildConfig({
    dataDir,
    siteFile: site.sitePath,
    secretsFile: site.secretsPath,
    log: { level: 'silent' },
    mqtt: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    influx: { url: influx.url, db: influx.db, lingerMs: 20 },
    sim: { enabled: false },
  });
  system = await startSystem(config, pino({ level: process.env.OF_TEST_LOG ?? 'silent' }));
  brokerUrl = `mqtt://127.0.0.1:${system.mqttPort}`;
});

afterAll(async () => {
  await Promise.all(plugs.map((p) => p.stop()));
  await system?.stop();
  await influx?.stop();
  await site?.cleanup();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function tasmota(id: string, opts: { password?: string } = {}): TasmotaPlug {
  const p = new TasmotaPlug({ device: site.site.devices.get(id)!, password: opts.password ?? fleetPassword, brokerUrl, boot: 1, timeZone: site.site.timezone, connectTimeoutMs: 5000 });
  plugs.push(p);
  return p;
}

function shelly(id: string): ShellyPlug {
  const p = new ShellyPlug({ device: site.site.devices.get(id)!, password: site.secrets[id]!, brokerUrl, boot: 1, connectTimeoutMs: 5000 });
  plugs.push(p);
  return p;
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until everything journaled is confirmed by InfluxDB. */
async function drained(): Promise<void> {
  await eventually('the sink to drain', () => {
    const h = system.gateway.health();
    return Promise.resolve(h.sink.cursor >= h.journal.lastSeq && h.journal.pending === 0 ? true : undefined);
  });
}

/** A time (ms) after everything received so far: points are stamped with the receive millisecond. */
async function afterNow(): Promise<number> {
  await new Promise((r) => setTimeout(r, 5));
  return Date.now();
}

type Row = Record<string, unknown>;

/** Rows of an InfluxQL query, tags included, time in ms. */
async function rows(q: string): Promise<Row[]> {
  const [res] = await influx.client.query(q, { epoch: 'ms' });
  const out: Row[] = [];
  for (const s of res?.series ?? []) {
    for (const v of s.values) out.push({ ...(s.tags ?? {}), ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) });
  }
  return out.sort((a, b) => (a.time as number) - (b.time as number));
}

const powerRows = (device: string, since = 0) =>
  rows(`SELECT power_w, energy_kwh, voltage_v, current_a, "on", ts_source FROM equipment_power WHERE device = '${device}' AND time >= ${since}ms GROUP BY *`);
const healthRows = (device: string, since = 0) => rows(`SELECT online, link_quality, ts_source FROM device_health WHERE device = '${device}' AND time >= ${since}ms GROUP BY *`);

const metrics = () => system.gateway.metrics.register.metrics();

describe('Tasmota plugs', () => {
  it('telemetry lands in InfluxDB with the plug’s tags, every number a float', async () => {
    const plug = tasmota('pm-laser-1');
    const t0 = Date.now();
    await plug.start();
    await plug.health({ linkQuality: 199 });
    await plug.power({ powerW: 548, energyKwh: 512.384, voltageV: 229, currentA: 2.493 });
    await afterNow(); // two readings in one millisecond would be one InfluxDB point (seq is 0 for plugs)
    await plug.power({ powerW: 0, energyKwh: 512.4 });
    await drained();

    const power = await eventually('two power points', async () => {
      const r = await powerRows('pm-laser-1', t0);
      return r.length >= 2 ? r : undefined;
    });
    expect(power[0]).toMatchObject({ power_w: 548, energy_kwh: 512.384, voltage_v: 229, current_a: 2.493, ts_source: 'gateway', site: site.site.id, space: 'fablab', target: 'laser-1', target_type: 'equipment', device_kind: 'power-meter' });
    expect(power[1]).toMatchObject({ power_w: 0, energy_kwh: 512.4 });
    const health = await healthRows('pm-laser-1', t0);
    expect(health.some((h) => h.online === 1)).toBe(true); // LWT Online on connect
    expect(health.some((h) => h.link_quality === 199)).toBe(true); // Wifi.RSSI 78 %

    // A device printing `548` and one printing `548.0` must never conflict: every numeric field is a float.
    const [keys] = await influx.client.query('SHOW FIELD KEYS FROM equipment_power');
    const types: Record<string, unknown> = Object.fromEntries((keys?.series[0]?.values ?? []).map((v): [string, unknown] => [String(v[0]), v[1]]));
    expect(types).toMatchObject({ power_w: 'float', energy_kwh: 'float', voltage_v: 'float', current_a: 'float', seq: 'float' });
    expect(metricValue(await metrics(), 'facility_mqtt_acl_denied_total')).toBe(0);
  });

  it('a command reaches the plug and its relay report comes back', async () => {
    const plug = tasmota('pm-laser-2');
    await plug.start();
    await plug.power({ powerW: 180, energyKwh: 20 });
    const t0 = await afterNow();

    await system.gateway.command('pm-laser-2', { type: 'power', on: false });
    await eventually('the relay to open', () => Promise.resolve(plug.relayOn ? undefined : true));
    // stat/<topic>/POWER OFF: a 0 W reading with on = 0.
    const off = await eventually('the OFF report in InfluxDB', async () => (await powerRows('pm-laser-2', t0)).find((r) => r.on === 0));
    expect(off).toMatchObject({ power_w: 0, on: 0 });
    // While off the plug meters nothing.
    await plug.power({ powerW: 180 });

    await system.gateway.command('pm-laser-2', { type: 'power', on: true });
    await eventually('the relay to close', () => Promise.resolve(plug.relayOn ? true : undefined));
    await plug.power({ powerW: 185 });
    await eventually('the reading after switching on', async () => (await powerRows('pm-laser-2', t0)).find((r) => r.power_w === 185));
    const after = await powerRows('pm-laser-2', t0);
    expect(after.map((r) => r.power_w)).toEqual([0, 0, 185]);
    expect(plug.stats().commands).toBe(2);
    expect(plug.connected).toBe(true);
  });

  it('a counter reset after a reboot lands as the raw counter, and the will marks the plug offline', async () => {
    const plug = tasmota('pm-cnc-1');
    const t0 = Date.now();
    await plug.start();
    await plug.power({ powerW: 420, energyKwh: 80 });
    plug.drop(); // power cut: no DISCONNECT, the broker publishes LWT Offline
    await eventually('the will in InfluxDB', async () => (await healthRows('pm-cnc-1', t0)).find((r) => r.online === 0));
    await plug.start({ boot: 2 });
    await plug.power({ powerW: 410, energyKwh: 80.05 });
    await drained();
    const energy = await eventually('both readings', async () => {
      const r = await powerRows('pm-cnc-1', t0);
      return r.length >= 2 ? r : undefined;
    });
    expect(energy.map((r) => r.energy_kwh)).toEqual([80, 0.05]);
    expect((await healthRows('pm-cnc-1', t0)).map((r) => r.online).filter((v) => v !== null)).toEqual([1, 0, 1]);
  });

  it('a fleet member presenting another plug’s client id is that plug: it may publish only under that plug’s topic', async () => {
    // The shared login proves only "one of the fleet"; the client id names the device. Per-device
    // passwords are the only defence against a fleet member impersonating another (docs/devices.md).
    const c: MqttClient = await connectDevice(brokerUrl, 'DVES_LATHE1', fleetPassword, { username: 'tasmota', clean: true });
    await c.publishAsync('tele/plug_lathe_1/SENSOR', '{"Time":"2026-11-25T17:03:12","ENERGY":{"Total":3.25,"Power":77,"Voltage":230,"Current":0.35}}', { qos: 1 });
    await eventually('the accepted reading', async () => (await powerRows('pm-lathe-1')).find((r) => r.power_w === 77));

    const before = metricValue(await metrics(), 'facility_mqtt_acl_denied_total', { reason: 'not_own_topic' });
    c.publish('tele/plug_laser_1/SENSOR', '{"Time":"2026-11-25T17:03:13","ENERGY":{"Total":1,"Power":9999}}', { qos: 1 });
    expect(await closed(c)).toBe(true);
    c.end(true);
    expect(metricValue(await metrics(), 'facility_mqtt_acl_denied_total', { reason: 'not_own_topic' })).toBe(before + 1);
    await drained();
    expect((await powerRows('pm-laser-1')).some((r) => r.power_w === 9999)).toBe(false);

    // The user name must be the login's, and the password the login's.
    await expect(connectDevice(brokerUrl, 'DVES_LATHE1', fleetPassword, { username: 'pm-lathe-1' })).rejects.toThrow(/Identifier rejected|not authorized|Bad username/i);
    await expect(connectDevice(brokerUrl, 'DVES_LATHE1', 'wrong', { username: 'tasmota' })).rejects.toThrow(/Bad username or password|not authorized/i);
  });
});

describe('Shelly Gen2 plugs', () => {
  it('NotifyStatus and status telemetry land with Wh converted to kWh', async () => {
    const plug = shelly('pm-fdm-1');
    const t0 = Date.now();
    await plug.start();
    await plug.health({ linkQuality: 199 });
    await plug.power({ powerW: 187.4, energyKwh: 152.669987, voltageV: 229.8, currentA: 0.846 });
    await drained();
    const power = await eventually('the reading', async () => (await powerRows('pm-fdm-1', t0)).find((r) => r.power_w === 187.4));
    expect(power).toMatchObject({ voltage_v: 229.8, current_a: 0.846, on: 1, target: 'fdm-1', space: 'fablab' });
    expect(power.energy_kwh as number).toBeCloseTo(152.669987, 6);
    // The NotifyStatus carries params.ts (device time), the full status is stamped on receipt; both
    // have seq 0, so when they fall in the same millisecond InfluxDB keeps them as one point.
    for (const r of (await powerRows('pm-fdm-1', t0)).filter((row) => row.power_w === 187.4)) expect(['device', 'gateway']).toContain(r.ts_source);
    const health = await healthRows('pm-fdm-1', t0);
    expect(health.some((h) => h.online === 1)).toBe(true);
    expect(health.some((h) => h.link_quality === 199)).toBe(true);
  });

  it('Switch.Set over RPC switches the plug, which replies on the gateway’s reply topic and reports the new state', async () => {
    const plug = shelly('pm-fdm-2');
    await plug.start();
    await plug.power({ powerW: 120, energyKwh: 3 });
    const t0 = await afterNow();
    const deniedBefore = metricValue(await metrics(), 'facility_mqtt_acl_denied_total');

    await system.gateway.command('pm-fdm-2', { type: 'power', on: false });
    await eventually('the relay to open', () => Promise.resolve(plug.relayOn ? undefined : true));
    const off = await eventually('the OFF state in InfluxDB', async () => (await powerRows('pm-fdm-2', t0)).find((r) => r.on === 0));
    expect(off).toMatchObject({ power_w: 0, on: 0 });

    await system.gateway.command('pm-fdm-2', { type: 'power', on: true });
    await eventually('the ON state in InfluxDB', async () => (await powerRows('pm-fdm-2', t0)).find((r) => r.on === 1));
    expect(plug.stats().commands).toBe(2);
    // Its replies on fac/v1/<site>/gateway/rpc were allowed: still connected, nothing refused.
    expect(plug.connected).toBe(true);
    expect(metricValue(await metrics(), 'facility_mqtt_acl_denied_total')).toBe(deniedBefore);
  });
});
