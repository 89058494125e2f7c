/**
 * End to end: devices publish QoS 1 over MQTT (MQTT.js and mosquitto_pub), the
 * gateway journals and acknowledges, and every signal lands in InfluxDB once.
 */
import { spawn } from 'node:child_process';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { makeTestSite, metricValue, startGatewayProcess, type GatewayProcess, type TestSite } from '../harness/gateway.js';
import { connectDevice, devicesOfKind, occupancyPayload, occupancyTopic } from '../harness/devices.js';

let influx: TestInflux;
let site: TestSite;
let gw: GatewayProcess;
const T0 = Date.now() - 3_600_000;

beforeAll(async () => {
  [influx, site] = await Promise.all([startTestInfluxd(), makeTestSite()]);
  gw = await startGatewayProcess({ site, influxUrl: influx.url, db: influx.db, config: { mqtt: { devicePublishRatePerSec: 100_000, devicePublishBurst: 100_000 } } });
});

afterAll(async () => {
  await gw?.cleanup();
  await influx?.stop();
  await site?.cleanup();
});

async function perDeviceCounts(devices: string[]): Promise<Map<string, number>> {
  const list = devices.map((d) => `device='${d}'`).join(' OR ');
  const [res] = await influx.client.query(`SELECT count(occupied) FROM occupancy WHERE ${list} GROUP BY device`);
  const out = new Map<string, number>();
  for (const s of res?.series ?? []) out.set(s.tags!.device!, s.values[0]![1] as number);
  return out;
}

async function seqsOf(device: string): Promise<number[]> {
  const [res] = await influx.client.query(`SELECT seq FROM occupancy WHERE device='${device}'`);
  return (res?.series[0]?.values ?? []).map((v) => v[1] as number).sort((a, b) => a - b);
}

describe('ingest end to end', () => {
  it('lands N QoS 1 signals from MQTT.js devices in InfluxDB exactly once', async () => {
    const devices = devicesOfKind(site.site, 'occupancy-sensor').slice(0, 5);
    const N = 400;
    const clients: MqttClient[] = await Promise.all(devices.map((d) => connectDevice(gw.mqttUrl, d.id, site.secrets[d.id])));
    await Promise.all(
      clients.flatMap((c, i) =>
        Array.from({ length: N }, (_, seq) => c.publishAsync(occupancyTopic(site.site.id, devices[i]!.id), occupancyPayload(1, seq, T0 + seq * 1000), { qos: 1 })),
      ),
    );
    await gw.drained();
    const counts = await perDeviceCounts(devices.map((d) => d.id));
    expect([...counts.values()]).toEqual(devices.map(() => N));
    expect(await seqsOf(devices[0]!.id)).toEqual(Array.from({ length: N }, (_, i) => i));

    // A QoS 1 redelivery of the same messages (same boot and seq) is acknowledged and stored once.
    const before = await gw.health();
    await Promise.all(Array.from({ length: 100 }, (_, seq) => clients[0]!.publishAsync(occupancyTopic(site.site.id, devices[0]!.id), occupancyPayload(1, seq, T0 + seq * 1000), { qos: 1 })));
    await gw.drained();
    const after = await gw.health();
    expect(after.journal.duplicates - before.journal.duplicates).toBe(100);
    expect(after.journal.lastSeq).toBe(before.journal.lastSeq);
    expect((await perDeviceCounts([devices[0]!.id])).get(devices[0]!.id)).toBe(N);
    await Promise.all(clients.map((c) => c.endAsync()));
  });

  it('takes mosquitto_pub (QoS 1) the same way', async () => {
    const device = devicesOfKind(site.site, 'occupancy-sensor')[7]!;
    const N = 300;
    const lines = Array.from({ length: N }, (_, seq) => occupancyPayload(7, seq, T0 + seq * 500)).join('\n') + '\n';
    const code = await new Promise<number | null>((resolve, reject) => {
      const p = spawn('mosquitto_pub', [
        '-h', '127.0.0.1', '-p', String(gw.mqttPort), '-V', 'mqttv311',
        '-i', device.id, '-u', device.id, '-P', site.secrets[device.id]!,
        '-q', '1', '-t', occupancyTopic(site.site.id, device.id), '-l',
      ], { stdio: ['pipe', 'inherit', 'inherit'] });
      p.on('error', reject);
      p.on('exit', resolve);
      p.stdin.end(lines);
    });
    expect(code).toBe(0);
    await gw.drained();
    expect((await perDeviceCounts([device.id])).get(device.id)).toBe(N);
    expect(await seqsOf(device.id)).toEqual(Array.from({ length: N }, (_, i) => i));
  });

  it('reports what it received, journaled and wrote in /metrics and /healthz', async () => {
    const m = await gw.metrics();
    const h = await gw.health();
    expect(metricValue(m, 'facility_signals_journaled_total')).toBe(h.journal.appended);
    expect(metricValue(m, 'facility_influx_points_written_total')).toBe(h.sink.written);
    expect(metricValue(m, 'facility_signals_received_total', { channel: 'occupancy' })).toBeGreaterThanOrEqual(5 * 400 + 100 + 300);
    expect(h.status).toBe('ok');
    expect(h.sink.lagRecords).toBe(0);
  });
});
