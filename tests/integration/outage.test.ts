/**
 * F4 (scaled to test time): InfluxDB stops mid-stream. The gateway keeps
 * acknowledging (the journal holds the signals), reports the outage, and once
 * InfluxDB is back everything arrives, nothing twice.
 */
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { makeTestSite, metricValue, startGatewayProcess, type GatewayProcess, type TestSite } from '../harness/gateway.js';
import { connectDevice, devicesOfKind, occupancyPayload, occupancyTopic } from '../harness/devices.js';

let influx: TestInflux;
let site: TestSite;
let gw: GatewayProcess;

beforeAll(async () => {
  [influx, site] = await Promise.all([startTestInfluxd(), makeTestSite()]);
  gw = await startGatewayProcess({
    site,
    influxUrl: influx.url,
    db: influx.db,
    config: { mqtt: { devicePublishRatePerSec: 100_000, devicePublishBurst: 100_000 }, influx: { minBackoffMs: 50, maxBackoffMs: 500, alarmAfterMs: 1000 } },
  });
});

afterAll(async () => {
  await gw?.cleanup();
  await influx?.stop();
  await site?.cleanup();
});

it('buffers through an InfluxDB outage and delivers everything exactly once after it (F4)', async () => {
  const devices = devicesOfKind(site.site, 'occupancy-sensor').slice(0, 5);
  const clients: MqttClient[] = await Promise.all(devices.map((d) => connectDevice(gw.mqttUrl, d.id, site.secrets[d.id])));
  const T0 = Date.now() - 3_600_000;
  let seq = 0;
  const publishRound = (n: number) => {
    const ps: Promise<unknown>[] = [];
    for (let k = 0; k < n; k++, seq++) {
      for (let i = 0; i < clients.length; i++) {
        ps.push(clients[i]!.publishAsync(occupancyTopic(site.site.id, devices[i]!.id), occupancyPayload(1, seq, T0 + seq * 100), { qos: 1 }));
      }
    }
    return Promise.all(ps);
  };

  await publishRound(200);
  await gw.drained();
  await influx.stopForOutage();
  // While InfluxDB is away the gateway still acknowledges: the journal has the signals.
  for (let r = 0; r < 10; r++) {
    await publishRound(100);
    await new Promise((res) => setTimeout(res, 150));
  }
  const during = await gw.health();
  expect(during.status).toBe('degraded');
  expect(during.sink.lagRecords).toBeGreaterThanOrEqual(5 * 1000);
  expect(during.problems.join(' ')).toMatch(/influxdb/);
  expect(metricValue(await gw.metrics(), 'facility_influx_write_failures_total')).toBeGreaterThan(0);

  // F4: the gateway's memory stays bounded while it buffers (the backlog is on disk, not in memory).
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${gw.pid}/status`, 'utf8'))?.[1]) / 1024;
  expect(rss).toBeLessThan(300);

  await influx.startAgain();
  await publishRound(200);
  const after = await gw.drained(60_000);
  expect(after.status).toBe('ok');

  const [res] = await influx.client.query(`SELECT count(occupied) FROM occupancy WHERE site='${site.site.id}' GROUP BY device`);
  const counts = Object.fromEntries((res?.series ?? []).map((s) => [s.tags!.device!, s.values[0]![1] as number]));
  expect(counts).toEqual(Object.fromEntries(devices.map((d) => [d.id, seq])));
  // Every signal once, and the gateway's announcement of its checkpoint-signing key (docs/audit.md).
  expect(after.journal.lastSeq).toBe(5 * seq + 1);
  expect(gw.output()).toMatch(/sink_down/);
  expect(gw.output()).toMatch(/sink_restored/);
  await Promise.all(clients.map((c) => c.endAsync()));
}, 120_000);
