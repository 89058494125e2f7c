/**
 * bench/scale: throughput of 1, 2 and 4 gateway instances sharing one Mosquitto
 * (external broker mode, MQTT 5 shared subscriptions), end to end: devices
 * publish QoS 1 to Mosquitto → gateways journal (fsync) and PUBACK → InfluxDB.
 *
 *   npx tsx bench/scale/run.ts [--messages 30000] [--devices 30] [--window 100] [--configs 1x1,1x4,2x4,4x4]
 *
 * A config GxC is G gateway processes with C connections (share-group members) each. The rate is the
 * messages sent divided by the time from the first publish until InfluxDB holds them all. Every run
 * uses its own database and client ids, and its gateways leave the share group when they stop.
 * Prints a Markdown table (docs/BENCHMARKS.md, "Scale-out on one Mosquitto").
 */
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import type { MqttClient } from 'mqtt';
import { connectDevice, devicesOfKind, occupancyPayload, occupancyTopic } from '../../tests/harness/devices.js';
import { makeCanonicalTestSite, startGatewayProcess, type GatewayProcess } from '../../tests/harness/gateway.js';
import { startTestInfluxd } from '../../tests/harness/influxd.js';
import { startTestMosquitto } from '../../tests/harness/mosquitto.js';

const { values: flags } = parseArgs({
  options: {
    messages: { type: 'string', default: '30000' },
    devices: { type: 'string', default: '30' },
    window: { type: 'string', default: '100' },
    configs: { type: 'string', default: '1x1,1x4,2x4,4x4' },
  },
});
const MESSAGES = Number(flags.messages);
const DEVICES = Number(flags.devices);
const WINDOW = Number(flags.window);
const CONFIGS = flags.configs.split(',').map((c) => c.split('x').map(Number) as [number, number]);
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

const influx = await startTestInfluxd();
const site = await makeCanonicalTestSite({ desks: DEVICES, siteId: 'scale' });
const broker = await startTestMosquitto(site);
const devices = devicesOfKind(site.site, 'occupancy-sensor').slice(0, DEVICES);
if (devices.length < DEVICES) throw new Error(`the site has ${devices.length} desk sensors`);
const perDevice = Math.floor(MESSAGES / devices.length);
const total = perDevice * devices.length;
const T0 = Date.now() - 3600_000;
const rows: string[] = [];

try {
  for (const [run, [g, c]] of CONFIGS.entries()) {
    const db = `scale_${run}`;
    await influx.client.query(`CREATE DATABASE "${db}"`, { db: '' });
    const gateways: GatewayProcess[] = [];
    for (let i = 0; i < g; i++) {
      gateways.push(
        await startGatewayProcess({
          site,
          influxUrl: influx.url,
          db,
          config: {
            broker: { mode: 'external', url: broker.url, username: broker.gatewayUser, passwordFile: broker.gatewayPasswordFile, clientId: `bench-${run}-${i}`, connections: c, leaveOnStop: true },
            influx: { lingerMs: 20 },
          },
        }),
      );
    }
    for (const gw of gateways) {
      for (let t = 0; t < 200 && !((await gw.health()) as unknown as { broker: { listening: boolean } }).broker.listening; t++) await new Promise((r) => setTimeout(r, 50));
    }
    const clients: MqttClient[] = await Promise.all(devices.map((d) => connectDevice(broker.url, d.id, site.secrets[d.id])));
    log(`${g} gateway(s) × ${c} connection(s): ${total} messages from ${devices.length} devices`);
    const start = performance.now();
    await Promise.all(
      clients.map(async (client, i) => {
        const topic = occupancyTopic(site.site.id, devices[i]!.id);
        for (let from = 0; from < perDevice; from += WINDOW) {
          const to = Math.min(perDevice, from + WINDOW);
          const batch: Promise<unknown>[] = [];
          for (let seq = from; seq < to; seq++) batch.push(client.publishAsync(topic, occupancyPayload(run + 1, seq, T0 + seq * 1000), { qos: 1 }));
          await Promise.all(batch);
        }
      }),
    );
    const published = performance.now();
    let stored = 0;
    while (stored < total && performance.now() - start < 300_000) {
      const [res] = await influx.client.query('SELECT count(occupied) FROM occupancy', { db });
      stored = (res?.series[0]?.values[0]?.[1] as number | undefined) ?? 0;
      if (stored < total) await new Promise((r) => setTimeout(r, 100));
    }
    const done = performance.now();
    const shares = await Promise.all(gateways.map(async (gw) => ((await gw.health()) as unknown as { broker: { external: { received: number } } }).broker.external.received));
    const row = `| ${g} | ${c} | ${total} | ${Math.round((total / (published - start)) * 1000)} | ${Math.round((total / (done - start)) * 1000)} | ${stored === total ? 'all' : `${stored} of ${total}`} | ${shares.join(' / ')} |`;
    log(row);
    rows.push(row);
    await Promise.all(clients.map((cl) => cl.endAsync()));
    await Promise.all(gateways.map((gw) => gw.cleanup()));
  }
} finally {
  await broker.stop();
  await influx.stop();
  await site.cleanup();
}

console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; Mosquitto 2.0.11; ${DEVICES} devices, QoS 1, window ${WINDOW} per device.\n`);
console.log('| Gateways | Connections each | Messages | Acked by Mosquitto, msg/s | In InfluxDB, msg/s | Stored | Taken per gateway |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
