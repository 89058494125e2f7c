/**
 * Canonical controllers and the real gateway (docs/protocol.md, "Configuration"
 * and "Heartbeat"): a simulated door controller reads its retained config once
 * and applies it once, across a reconnect and a gateway restart that
 * redelivers it; it heartbeats as the config says; and when it stays connected
 * but stops heartbeating, the device watch marks it offline (a health point
 * online:false, ts_source gateway, in InfluxDB) after the missed beats.
 *
 * The site gives the controller silentAfterS: 3, so the gateway asks for a
 * heartbeat every second (three beats per silence window) and the test runs in
 * seconds rather than minutes.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { isMap, isSeq, parseDocument } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildConfig, type FacilityConfig } from '../../cli/config.js';
import { loadSiteFile } from '../../cli/init.js';
import { startSystem, type RunningSystem } from '../../cli/system.js';
import { CONTROLLER_HEARTBEAT_S } from '../../core/protocol/commands.js';
import type { Site } from '../../core/site/model.js';
import { CanonicalDevice, type ReceivedCommand } from '../../firmware-sim/devices/canonical.js';
import { freePort } from '../../gateway/net/free-port.js';
import { makeTestSite, type TestSite } from '../harness/gateway.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';

const DC = 'dc-main';
const SILENT_AFTER_S = 3;

let influx: TestInflux;
let site: TestSite;
let tuned: Site;
let system: RunningSystem | undefined;
let config: FacilityConfig;
let dataDir: string;
let controller: CanonicalDevice;
const configs: ReceivedCommand[] = [];

async function points(q: string): Promise<Record<string, unknown>[]> {
  const [res] = await influx.client.query(q, { epoch: 'ms' });
  return (res?.series ?? []).flatMap((s) => s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))));
}

async function until(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  [influx, site] = await Promise.all([startTestInfluxd(), makeTestSite()]);
  const doc = parseDocument(await readFile(site.sitePath, 'utf8'));
  const devices = doc.get('devices');
  if (!isSeq(devices)) throw new Error('no devices in the test site');
  for (const item of devices.items) if (isMap(item) && item.get('id') === DC) item.set('silentAfterS', SILENT_AFTER_S);
  await writeFile(site.sitePath, doc.toString({ lineWidth: 0 }));
  tuned = await loadSiteFile(site.sitePath);
  dataDir = await mkdtemp(join(tmpdir(), 'of-ctl-'));
  // A fixed MQTT port, so the controller finds the gateway again after its restart.
  config = buildConfig({
    dataDir,
    siteFile: site.sitePath,
    secretsFile: site.secretsPath,
    mqtt: { host: '127.0.0.1', port: await freePort() },
    http: { host: '127.0.0.1', port: 0 },
    influx: { url: influx.url, db: influx.db },
    sim: { enabled: false },
  });
  system = await startSystem(config, pino({ level: process.env.OF_TEST_LOG ?? 'silent' }));
  controller = new CanonicalDevice({
    site: tuned.id,
    device: tuned.devices.get(DC)!,
    secret: site.secrets[DC]!,
    brokerUrl: `mqtt://127.0.0.1:${config.mqtt.port}`,
    boot: 1,
    reconnectPeriodMs: 200,
  });
  controller.onCommand((c) => {
    if (c.name === 'config') configs.push(c);
  });
});

afterAll(async () => {
  await controller?.stop();
  await system?.stop();
  await influx?.stop();
  await site?.cleanup();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('gives a controller a short silence window and a heartbeat that fits three times into it', () => {
  expect(tuned.devices.get(DC)!.silentAfterMs).toBe(SILENT_AFTER_S * 1000);
  // Controllers without their own silentAfterS: three missed minute beats.
  expect(tuned.devices.get('dc-fablab')!.silentAfterMs).toBe(3 * CONTROLLER_HEARTBEAT_S * 1000);
});

it('applies its retained config once, across a reconnect and a gateway restart that delivers it again', async () => {
  await controller.start();
  await until(() => controller.configApplications === 1, 5000, 'the config');
  expect(configs).toHaveLength(1);
  expect(configs[0]).toMatchObject({ retain: true, applied: true });
  expect(controller.config).toMatchObject({ site: tuned.id, device: DC, target: { type: 'door', id: 'main' }, direction: 'in', unlockMs: 5000, timezone: 'Asia/Shanghai', heartbeatS: 1 });
  const version = controller.configVersion;
  // The version is the digest of the rest of the content (docs/protocol.md, "Configuration").
  const { version: _v, ...content } = controller.config!;
  expect(version).toBe(createHash('sha256').update(JSON.stringify(content)).digest('base64url').slice(0, 12));
  expect(controller.heartbeatS).toBe(1);

  // A lost link: the broker kept the session, the device keeps its config.
  controller.drop();
  await controller.start();
  // The gateway restarts: its broker forgot every session, so the controller subscribes again and
  // the retained config (same content, same version) arrives a second time.
  await system!.stop();
  system = undefined;
  system = await startSystem(config, pino({ level: process.env.OF_TEST_LOG ?? 'silent' }));
  await until(() => configs.length >= 2 && controller.connected, 10_000, 'the config delivered again after the restart');
  expect(configs.slice(1).every((c) => c.name === 'config' && !c.applied && c.payload.version === version)).toBe(true);
  expect(controller.configApplications).toBe(1);
  expect(controller.configVersion).toBe(version);
  expect(controller.commandErrors).toBe(0);
});

it('heartbeats while connected; stops heartbeating and is marked offline after the missed beats, still connected', async () => {
  if (!controller.connected) await controller.start();
  const beats = () => points(`SELECT link_quality FROM device_health WHERE device='${DC}' AND link_quality > 0`);
  // From now on (the reconnects above left online/offline status points of their own).
  const t0 = Date.now();
  const offline = () => points(`SELECT online FROM device_health WHERE device='${DC}' AND online = 0 AND time >= ${t0}ms`);
  // Longer than the silence window, so the beats are what keeps it online.
  await until(async () => (await beats()).filter((r) => Number(r.time) >= t0).length >= 4, 15_000, 'four heartbeats in InfluxDB');
  expect(await offline()).toEqual([]);

  controller.setHeartbeats(false);
  const muted = Date.now();
  await until(async () => (await offline()).length >= 1, 15_000, 'the offline point');
  const [marked] = await offline();
  // Concluded at the last beat's arrival + silentAfterS (3 s), i.e. after the missed beats, not sooner.
  const lastBeat = Math.max(...(await beats()).map((r) => Number(r.time)));
  expect(Number(marked!.time) - lastBeat).toBeGreaterThanOrEqual(SILENT_AFTER_S * 1000 - 250);
  expect(Number(marked!.time) - lastBeat).toBeLessThan(SILENT_AFTER_S * 1000 + 1000);
  expect(Number(marked!.time)).toBeGreaterThan(muted);
  expect(marked).toMatchObject({ online: 0 });
  // The MQTT connection never dropped (no will): the device watch concluded it, and journaled it as such.
  expect(controller.connected).toBe(true);
  const journaled = system!.gateway.journal.readSince('telemetry', t0).filter((r) => r.key.startsWith(`${DC}:`) && 'online' in r && r.online === false);
  expect(journaled).toHaveLength(1);
  expect(journaled[0]).toMatchObject({ kind: 'health', key: `${DC}:silent:${Number(marked!.time) - SILENT_AFTER_S * 1000}`, tsSource: 'gateway', ts: Number(marked!.time) });

  // Beating again, it speaks for itself: a fresh heartbeat arrives, no second offline point meanwhile.
  const resumed = Date.now();
  controller.setHeartbeats(true);
  await until(async () => (await beats()).some((r) => Number(r.time) >= resumed), 5000, 'a heartbeat after resuming');
  expect(await offline()).toHaveLength(1);
});
