/**
 * Commands out to OpenFacility's canonical devices: the gateway is the only
 * publisher of commands, in each device's own format; a canonical door
 * controller and a canonical meter receive exactly the documented messages.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildConfig } from '../../cli/config.js';
import { startSystem, type RunningSystem } from '../../cli/system.js';
import { connectDevice } from '../harness/devices.js';
import { makeTestSite, type TestSite } from '../harness/gateway.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';

let influx: TestInflux;
let site: TestSite;
let system: RunningSystem;
let dataDir: string;

beforeAll(async () => {
  [influx, site] = await Promise.all([startTestInfluxd(), makeTestSite()]);
  dataDir = await mkdtemp(join(tmpdir(), 'of-cmd-'));
  system = await startSystem(
    buildConfig({
      dataDir,
      siteFile: site.sitePath,
      secretsFile: site.secretsPath,
      mqtt: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      influx: { url: influx.url, db: influx.db },
      sim: { enabled: false },
    }),
    pino({ level: 'silent' }),
  );
});

afterAll(async () => {
  await system?.stop();
  await influx?.stop();
  await site?.cleanup();
  await rm(dataDir, { recursive: true, force: true });
});

it('sends unlock to a canonical door controller and power to a canonical meter, exactly as documented', async () => {
  const url = `mqtt://127.0.0.1:${system.mqttPort}`;
  const door = await connectDevice(url, 'dc-main', site.secrets['dc-main']);
  const meter = await connectDevice(url, 'pm-reflow-1', site.secrets['pm-reflow-1']);
  const got: { topic: string; payload: string; qos: number; retain: boolean }[] = [];
  for (const c of [door, meter]) c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }));
  await door.subscribeAsync('fac/v1/demo-makerspace/d/dc-main/cmd/#', { qos: 1 });
  await meter.subscribeAsync('fac/v1/demo-makerspace/d/pm-reflow-1/cmd/#', { qos: 1 });

  await system.gateway.command('dc-main', { type: 'unlock', durationMs: 5000 });
  await system.gateway.command('pm-reflow-1', { type: 'power', on: false });
  const deadline = Date.now() + 5000;
  const commands = () => got.filter((m) => !m.topic.endsWith('/cmd/config'));
  while (commands().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(commands().sort((a, b) => a.topic.localeCompare(b.topic))).toEqual([
    // Unlock only makes sense now: QoS 0, so a device that reconnects later is not unlocked late.
    { topic: 'fac/v1/demo-makerspace/d/dc-main/cmd/unlock', payload: '{"durationMs":5000}', qos: 0, retain: false },
    // Power off must arrive, even late: QoS 1.
    { topic: 'fac/v1/demo-makerspace/d/pm-reflow-1/cmd/power', payload: '{"on":false}', qos: 1, retain: false },
  ]);
  await Promise.all([door.endAsync(), meter.endAsync()]);
});

it('keeps a retained configuration for every canonical controller, so one that restarts learns its target and unlock time', async () => {
  const door = await connectDevice(`mqtt://127.0.0.1:${system.mqttPort}`, 'dc-main', site.secrets['dc-main']);
  const got: { topic: string; payload: string; retain: boolean }[] = [];
  door.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await door.subscribeAsync('fac/v1/demo-makerspace/d/dc-main/cmd/config', { qos: 1 });
  const deadline = Date.now() + 5000;
  while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(got).toHaveLength(1);
  expect(got[0]!.retain).toBe(true);
  const config = JSON.parse(got[0]!.payload) as Record<string, unknown>;
  expect(config).toMatchObject({ site: 'demo-makerspace', device: 'dc-main', target: { type: 'door', id: 'main' }, unlockMs: 5000, timezone: 'Asia/Shanghai' });
  expect(typeof config.version).toBe('string');
  await door.endAsync();
});

it('refuses commands a device cannot take, and unknown devices', async () => {
  await expect(system.gateway.command('dc-main', { type: 'power', on: true })).rejects.toThrow(/cannot take a power command/);
  await expect(system.gateway.command('occ-cw-01', { type: 'power', on: true })).rejects.toThrow(/cannot take a power command/);
  await expect(system.gateway.command('nope', { type: 'unlock', durationMs: 1 })).rejects.toThrow(/no device "nope"/);
});
