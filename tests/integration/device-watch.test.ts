/**
 * What real sensors get wrong, absorbed by the gateway end to end: an Aqara PIR
 * that only ever reports "occupied" is turned free by the gateway after its
 * occupancy timeout, and a sensor that goes silent becomes offline (unknown),
 * not free. Timeouts are shortened in the site file so the test runs in seconds.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { isMap, isSeq, parseDocument } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../firmware-sim/devices/canonical.js';
import { SIM_DEVICES } from '../../firmware-sim/devices/index.js';
import type { SimDevice } from '../../firmware-sim/devices/types.js';
import { loadSiteFile } from '../../cli/init.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { makeTestSite, startGatewayProcess, type GatewayProcess, type TestSite } from '../harness/gateway.js';
import { connectDevice, occupancyPayload, occupancyTopic } from '../harness/devices.js';

const PIR = 'occ-cw-03'; // Aqara RTCGQ11LM on the Zigbee2MQTT bridge: never reports free
const CANONICAL = 'occ-st-01';

let influx: TestInflux;
let site: TestSite;
let gw: GatewayProcess;
let pir: SimDevice;

/** Sets fields on devices of the generated site file (the harness made the file; we change two devices). */
async function tune(path: string, changes: Record<string, Record<string, number>>): Promise<void> {
  const doc = parseDocument(await readFile(path, 'utf8'));
  const devices = doc.get('devices');
  if (!isSeq(devices)) throw new Error('no devices');
  for (const item of devices.items) {
    if (!isMap(item)) continue;
    const change = changes[String(item.get('id'))];
    if (change) for (const [k, v] of Object.entries(change)) item.set(k, v);
  }
  await writeFile(path, doc.toString({ lineWidth: 0 }));
}

async function points(q: string): Promise<Record<string, unknown>[]> {
  const [res] = await influx.client.query(q);
  return (res?.series ?? []).flatMap((s) => s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))));
}

async function eventually<T>(probe: () => Promise<T[]>, n: number, timeoutMs = 15_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v.length >= n || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  [influx, site] = await Promise.all([startTestInfluxd(), makeTestSite()]);
  await tune(site.sitePath, { [PIR]: { occupancyTimeoutS: 1 }, [CANONICAL]: { silentAfterS: 2 } });
  const tuned = await loadSiteFile(site.sitePath);
  gw = await startGatewayProcess({ site, influxUrl: influx.url, db: influx.db });
  pir = SIM_DEVICES.zigbee2mqtt!({
    site: tuned,
    device: tuned.devices.get(PIR)!,
    secret: undefined,
    brokerUrl: gw.mqttUrl,
    boot: 1,
    clock: Date.now,
    logger: silentLogger,
    siteDir: site.dir,
    shared: new Map(),
    secretOf: (d) => site.secrets[d],
  });
  await pir.start();
});

afterAll(async () => {
  await pir?.stop();
  await gw?.cleanup();
  await influx?.stop();
  await site?.cleanup();
});

it('turns an Aqara PIR free after its occupancy timeout, in device time', async () => {
  const t = Date.now();
  await pir.occupancy(true, t);
  const rows = await eventually(() => points(`SELECT occupied, ts_source FROM occupancy WHERE device='${PIR}' ORDER BY time`), 2);
  expect(rows.map((r) => [r.occupied, r.ts_source])).toEqual([
    [1, 'device'],
    [0, 'gateway'],
  ]);
  // The free signal carries the time the sensor became free: the last "occupied" plus the timeout.
  const [res] = await influx.client.query(`SELECT occupied FROM occupancy WHERE device='${PIR}' AND ts_source='gateway'`, { epoch: 'ms' });
  expect(res?.series[0]?.values[0]?.[0]).toBe(t + 1000);
});

it('marks a silent device offline (unknown), not free', async () => {
  const c = await connectDevice(gw.mqttUrl, CANONICAL, site.secrets[CANONICAL]);
  await c.publishAsync(occupancyTopic(site.site.id, CANONICAL), occupancyPayload(1, 0, Date.now()), { qos: 1 });
  await c.endAsync();
  const offline = await eventually(() => points(`SELECT online, ts_source FROM device_health WHERE device='${CANONICAL}' AND ts_source='gateway'`), 1);
  expect(offline.map((r) => r.online)).toEqual([0]);
  // Its occupancy is not touched: the last reported state stays, its device is known to be offline.
  const occ = await points(`SELECT occupied FROM occupancy WHERE device='${CANONICAL}'`);
  expect(occ.map((r) => r.occupied)).toEqual([1]);
});
