/**
 * External broker mode against a real Mosquitto 2.0 configured by
 * `facility mosquitto-config`: devices log in to Mosquitto with their own
 * credentials, gateways consume with MQTT 5 shared subscriptions, and every
 * signal lands in InfluxDB exactly once — also when a gateway is SIGKILLed in
 * the middle of a stream (docs/deployment.md).
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, devicesOfKind, occupancyPayload, occupancyTopic } from '../harness/devices.js';
import { makeCanonicalTestSite, startGatewayProcess, type GatewayProcess, type HealthBody, type TestSite } from '../harness/gateway.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { startTestMosquitto, type TestMosquitto } from '../harness/mosquitto.js';

interface ExternalHealth extends HealthBody {
  broker: HealthBody['broker'] & {
    mode: string;
    listening: boolean;
    external?: { connected: number; connections: number; subscriptions: number; refusedSubscriptions: string[]; received: number; unresolved: Record<string, number>; journalRefusals: number };
  };
}

let influx: TestInflux;
let site: TestSite;
let broker: TestMosquitto;
const gateways: GatewayProcess[] = [];
const T0 = Date.now() - 3_600_000;

beforeAll(async () => {
  [influx, site] = await Promise.all([startTestInfluxd(), makeCanonicalTestSite({ desks: 12, siteId: 'ext' })]);
  broker = await startTestMosquitto(site);
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.cleanup()));
  await broker?.stop();
  await influx?.stop();
  await site?.cleanup();
});

async function startGateway(clientId: string, db: string, leaveOnStop = false): Promise<GatewayProcess> {
  const gw = await startGatewayProcess({
    site,
    influxUrl: influx.url,
    db,
    config: {
      broker: { mode: 'external', url: broker.url, username: broker.gatewayUser, passwordFile: broker.gatewayPasswordFile, clientId, connections: 2, leaveOnStop },
      influx: { lingerMs: 20 },
    },
  });
  gateways.push(gw);
  await connectedAll(gw);
  return gw;
}

async function health(gw: GatewayProcess): Promise<ExternalHealth> {
  return (await gw.health()) as ExternalHealth;
}

async function connectedAll(gw: GatewayProcess): Promise<ExternalHealth> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const h = await health(gw);
    if (h.broker.listening) return h;
    if (Date.now() > deadline) throw new Error(`gateway not connected to Mosquitto: ${JSON.stringify(h.broker)}\n${gw.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function createDb(db: string): Promise<void> {
  await influx.client.query(`CREATE DATABASE "${db}"`);
}

async function counts(db: string, devices: readonly string[]): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>(devices.map((d) => [d, []]));
  const [res] = await influx.client.query(`SELECT seq, device FROM occupancy`, { db });
  for (const row of res?.series[0]?.values ?? []) out.get(row[2] as string)?.push(row[1] as number);
  for (const v of out.values()) v.sort((a, b) => a - b);
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('external broker mode (Mosquitto, generated configuration)', () => {
  it('journals devices’ QoS 1 messages once each into InfluxDB; the broker refuses another device’s topic', async () => {
    await createDb('ext_one');
    // It leaves the share group when it stops: otherwise Mosquitto would keep queueing a share of the next test's stream for it.
    const gw = await startGateway('gw-one', 'ext_one', true);
    const h0 = await health(gw);
    expect(h0.broker.mode).toBe('external');
    expect(h0.broker.external).toMatchObject({ connections: 2, connected: 2, refusedSubscriptions: [] });
    // 12 desk sensors (occupancy, health, status), readers, meters: one exact topic per channel.
    expect(h0.broker.external!.subscriptions).toBeGreaterThan(12 * 3);

    const devices = devicesOfKind(site.site, 'occupancy-sensor').slice(0, 4);
    const N = 150;
    const clients: MqttClient[] = await Promise.all(devices.map((d) => connectDevice(broker.url, d.id, site.secrets[d.id])));
    await Promise.all(clients.flatMap((c, i) => range(N).map((seq) => c.publishAsync(occupancyTopic(site.site.id, devices[i]!.id), occupancyPayload(1, seq, T0 + seq * 1000), { qos: 1 }))));
    // Device 0 publishes on device 1's topic: MQTT 3.1.1 has no refusal, so Mosquitto acknowledges and drops it...
    await clients[0]!.publishAsync(occupancyTopic(site.site.id, devices[1]!.id), occupancyPayload(1, 9999, T0), { qos: 1 });
    // ...and says so to an MQTT 5 client: PUBACK reason code 0x87, not authorised.
    const v5 = await connectDevice(broker.url, devices[0]!.id, site.secrets[devices[0]!.id], { protocolVersion: 5, clean: true });
    await expect(v5.publishAsync(occupancyTopic(site.site.id, devices[1]!.id), occupancyPayload(1, 9998, T0), { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    // A wrong password is refused at CONNECT by the generated password file.
    await expect(connectDevice(broker.url, devices[2]!.id, 'not-the-secret')).rejects.toThrow(/Not authorized|Bad username or password/i);
    await Promise.all([...clients, v5].map((c) => c.endAsync()));

    await gw.drained();
    const got = await counts('ext_one', devices.map((d) => d.id));
    for (const d of devices) expect(got.get(d.id), d.id).toEqual(range(N));
    const h = await health(gw);
    expect(h.broker.external!.unresolved).toEqual({ no_device: 0, refused: 0, ambiguous: 0 });
    expect(h.broker.external!.received).toBe(4 * N);
    expect(h.journal.duplicates).toBe(0);
    await gw.stop();
  });

  it('splits a stream between two gateways in one share group; one SIGKILLed mid-stream loses and doubles nothing once it is back', async () => {
    await createDb('ext_two');
    const [a, b] = [await startGateway('gw-a', 'ext_two'), await startGateway('gw-b', 'ext_two')];
    const devices = devicesOfKind(site.site, 'occupancy-sensor').slice(4, 10);
    const N = 240;
    const clients: MqttClient[] = await Promise.all(devices.map((d) => connectDevice(broker.url, d.id, site.secrets[d.id])));
    const publish = (from: number, to: number) =>
      Promise.all(clients.flatMap((c, i) => range(to - from).map((k) => c.publishAsync(occupancyTopic(site.site.id, devices[i]!.id), occupancyPayload(1, from + k, T0 + (from + k) * 1000), { qos: 1 }))));

    await publish(0, 80);
    // Both members of the group get a share.
    const [ha, hb] = [await health(a), await health(b)];
    expect(ha.broker.external!.received).toBeGreaterThan(0);
    expect(hb.broker.external!.received).toBeGreaterThan(0);

    // B dies while messages are on their way to it: no PUBACK, no DISCONNECT.
    const killing = b.kill('SIGKILL');
    await publish(80, 160);
    await killing;
    await publish(160, N);
    await a.drained();
    // Mosquitto keeps B's share (sent and unacknowledged, and queued since) in B's sessions: not in InfluxDB yet.
    const missing = [...(await counts('ext_two', devices.map((d) => d.id))).values()].reduce((n, s) => n + (N - s.length), 0);
    expect(missing).toBeGreaterThan(0);

    // B comes back under the same client ids with its journal: the broker sends B's share again.
    await b.restart();
    await connectedAll(b);
    const deadline = Date.now() + 20_000;
    let got = await counts('ext_two', devices.map((d) => d.id));
    while ([...got.values()].some((s) => s.length < N) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      got = await counts('ext_two', devices.map((d) => d.id));
    }
    await Promise.all([a.drained(), b.drained()]);
    got = await counts('ext_two', devices.map((d) => d.id));
    if (process.env.OF_TEST_REPORT) console.log('held for the killed member', missing, 'b after restart', JSON.stringify({ received: (await health(b)).broker.external!.received, duplicates: (await health(b)).journal.duplicates, a: (await health(a)).broker.external!.received }));
    for (const d of devices) expect(got.get(d.id), d.id).toEqual(range(N));
    await Promise.all(clients.map((c) => c.endAsync()));
  });
});
