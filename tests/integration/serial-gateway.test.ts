/**
 * Serial badge readers through the whole gateway: the example site's RDM6300
 * and Wiegand-26 readers on socat pseudo-terminals (driven by firmware-sim's
 * serial readers), reads journaled and written to InfluxDB as badge swipes,
 * an unplugged reader reported and reopened without a restart, garbage
 * survived.
 */
import { appendFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../firmware-sim/devices/canonical.js';
import { SIM_DEVICES } from '../../firmware-sim/devices/index.js';
import { em4100IdForCard, wiegand26IdForCard } from '../../firmware-sim/devices/serial-reader.js';
import type { SimDevice } from '../../firmware-sim/devices/types.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { makeTestSite, startGatewayProcess, type GatewayProcess, type TestSite } from '../harness/gateway.js';

let influx: TestInflux;
let site: TestSite;
let gw: GatewayProcess;
const readers = new Map<string, SimDevice>();

async function cards(device: string): Promise<string[]> {
  const [res] = await influx.client.query(`SELECT card FROM badge_swipe WHERE device='${device}' ORDER BY time`);
  return (res?.series[0]?.values ?? []).map((v) => v[1] as string);
}

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await probe();
  while (!ok(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    v = await probe();
  }
  return v;
}

const readerState = async (_device?: string) => (await gw.health()) as unknown as { serial: { device: string; state: string; reads: number; rejects: number }[] };

beforeAll(async () => {
  [influx, site] = await Promise.all([startTestInfluxd(), makeTestSite({ serial: true })]);
  gw = await startGatewayProcess({ site, influxUrl: influx.url, db: influx.db, });
  for (const id of ['rd-fablab', 'rd-workshop']) {
    const device = site.site.devices.get(id)!;
    const r = SIM_DEVICES[device.format]!({
      site: site.site, device, secret: undefined, brokerUrl: gw.mqttUrl, boot: 1, clock: Date.now, logger: silentLogger,
      siteDir: site.dir, shared: new Map(), secretOf: () => undefined,
    });
    readers.set(id, r);
    await r.start();
  }
  // The gateway retries a missing port every second.
  await until(() => readerState('x'), (h) => h.serial.every((s) => s.state === 'open'));
});

afterAll(async () => {
  for (const r of readers.values()) await r.stop();
  await gw?.cleanup();
  await influx?.stop();
  await site?.cleanup();
});

it('journals reads from both reader kinds as badge swipes in InfluxDB', async () => {
  await readers.get('rd-fablab')!.badge('uid', 'A1B2C3D4');
  await readers.get('rd-workshop')!.badge('uid', 'A1B2C3D4');
  await gw.drained();
  expect(await until(() => cards('rd-fablab'), (c) => c.length >= 1)).toEqual([em4100IdForCard('uid', 'A1B2C3D4')]);
  expect(await until(() => cards('rd-workshop'), (c) => c.length >= 1)).toEqual([wiegand26IdForCard('uid', 'A1B2C3D4')]);
  const [res] = await influx.client.query(`SELECT format, target FROM badge_swipe WHERE device='rd-fablab'`);
  expect(res?.series[0]?.values[0]?.slice(1)).toEqual(['em4100', 'fablab']);
});

it('reports an unplugged reader and reopens it when it returns, without a restart', async () => {
  const fablab = readers.get('rd-fablab')!;
  fablab.drop();
  const down = await until(() => readerState('rd-fablab'), (h) => h.serial.some((s) => s.device === 'rd-fablab' && s.state !== 'open'));
  expect(down.serial.find((s) => s.device === 'rd-fablab')?.state).toMatch(/closed|missing/);
  expect((await gw.health()).status).toBe('degraded');
  await fablab.start();
  await until(() => readerState('rd-fablab'), (h) => h.serial.every((s) => s.state === 'open'));
  await fablab.badge('uid', '0BADCAFE');
  expect(await until(() => cards('rd-fablab'), (c) => c.length >= 2)).toEqual([em4100IdForCard('uid', 'A1B2C3D4'), em4100IdForCard('uid', '0BADCAFE')]);
  // The port's ups and downs are health signals of the reader.
  await gw.drained();
  const [res] = await influx.client.query(`SELECT online FROM device_health WHERE device='rd-fablab' ORDER BY time`);
  const states = (res?.series[0]?.values ?? []).map((v) => v[1]);
  expect(states.slice(-2)).toEqual([0, 1]);
});

it('survives a flood of garbage on a serial line and still reads the next card', async () => {
  // Write garbage straight into the simulator's end of the pty pair.
  const simEnd = resolve(site.dir, 'serial/rd-workshop.sim');
  const garbage = Buffer.alloc(200_000);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919) % 251;
  await appendFile(simEnd, garbage);
  await new Promise((r) => setTimeout(r, 300));
  await appendFile(simEnd, '\n');
  await readers.get('rd-workshop')!.badge('uid', '12345678');
  const got = await until(() => cards('rd-workshop'), (c) => c.length >= 2);
  expect(got.at(-1)).toBe(wiegand26IdForCard('uid', '12345678'));
  const h = await readerState('rd-workshop');
  expect(h.serial.find((s) => s.device === 'rd-workshop')?.rejects).toBeGreaterThan(0);
  expect(h.serial.find((s) => s.device === 'rd-workshop')?.state).toBe('open');
});
