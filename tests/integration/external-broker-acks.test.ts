/**
 * The external broker client's acknowledgements against a real Mosquitto, with
 * the ingress replaced by a stub that decides when (and whether) a message is
 * "journaled": the PUBACK goes to the broker only after the ingress callback,
 * and a refusal makes the broker send the message again (no failure reason
 * code, which would end the exchange).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceInfo } from '../../core/site/model.js';
import { ExternalBroker } from '../../gateway/broker/external-broker.js';
import type { IngressCallback, SignalIngress } from '../../gateway/ingress/signal-ingress.js';
import { createGatewayMetrics } from '../../gateway/metrics.js';
import { connectDevice, devicesOfKind, occupancyPayload, occupancyTopic } from '../harness/devices.js';
import { makeCanonicalTestSite, type TestSite } from '../harness/gateway.js';
import { startTestMosquitto, type TestMosquitto } from '../harness/mosquitto.js';
import { readFile } from 'node:fs/promises';

let site: TestSite;
let broker: TestMosquitto;
let gatewayPassword: string;

beforeAll(async () => {
  site = await makeCanonicalTestSite({ desks: 4, siteId: 'acks' });
  broker = await startTestMosquitto(site);
  gatewayPassword = (await readFile(broker.gatewayPasswordFile, 'utf8')).trim();
});

afterAll(async () => {
  await broker?.stop();
  await site?.cleanup();
});

interface Accepted {
  readonly device: string;
  readonly payload: string;
  readonly cb: IngressCallback;
}

function stubIngress(onAccept: (a: Accepted) => void): SignalIngress {
  return {
    accept: (device: DeviceInfo, _channel: string, _topic: string, payload: Buffer, cb: IngressCallback) => onAccept({ device: device.id, payload: payload.toString(), cb }),
    rejectUnrouted: () => undefined,
  } as unknown as SignalIngress;
}

function client(clientId: string, ingress: SignalIngress, leaveOnStop = false): ExternalBroker {
  return new ExternalBroker({
    settings: {
      url: broker.url,
      username: broker.gatewayUser,
      password: gatewayPassword,
      clientId,
      shareGroup: 'openfacility',
      connections: 1,
      sessionExpiryS: 600,
      keepaliveS: 30,
      connectTimeoutMs: 5000,
      minBackoffMs: 100,
      maxBackoffMs: 200,
      leaveOnStop,
    },
    site: site.site,
    ingress,
    metrics: createGatewayMetrics(),
    clock: { now: () => Date.now() },
    logger: pino({ level: 'silent' }),
    connect: (url, opts) => mqtt.connect(url, opts),
  });
}

const waitFor = async (cond: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('external broker client: PUBACK after the journal, refusal means redelivery', () => {
  it('does not acknowledge before the ingress callback: a connection lost first gets the message again', async () => {
    const device = devicesOfKind(site.site, 'occupancy-sensor')[0]!;
    const seen: Accepted[] = [];
    const first = client('acks-a', stubIngress((a) => seen.push(a)));
    await first.start();
    const dev: MqttClient = await connectDevice(broker.url, device.id, site.secrets[device.id]);
    await dev.publishAsync(occupancyTopic(site.site.id, device.id), occupancyPayload(1, 1, Date.now()), { qos: 1 });
    await waitFor(() => seen.length === 1);
    // The "journal" never answers; the gateway goes away.
    await first.stop();
    const again: Accepted[] = [];
    const second = client('acks-a', stubIngress((a) => {
      again.push(a);
      a.cb(null);
    }));
    await second.start();
    await waitFor(() => again.length === 1);
    expect(again[0]!.payload).toBe(seen[0]!.payload);
    await second.stop();
    // Acknowledged this time: a third start under the same id gets nothing more.
    const third: Accepted[] = [];
    // It leaves the share group: else Mosquitto would keep queueing a share of the next test's messages for it.
    const last = client(
      'acks-a',
      stubIngress((a) => {
        third.push(a);
        a.cb(null);
      }),
      true,
    );
    await last.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(third).toEqual([]);
    await last.stop();
    await dev.endAsync();
  });

  it('drops the connection unacknowledged when the journal refuses, and takes the message again after the back-off', async () => {
    const device = devicesOfKind(site.site, 'occupancy-sensor')[1]!;
    const seen: string[] = [];
    let refuse = true;
    const gw = client('acks-b', stubIngress((a) => {
      seen.push(a.payload);
      if (refuse) {
        refuse = false;
        a.cb(Object.assign(new Error('journal full'), { code: 'capacity' }));
      } else {
        a.cb(null);
      }
    }));
    await gw.start();
    const dev = await connectDevice(broker.url, device.id, site.secrets[device.id]);
    const payload = occupancyPayload(1, 7, Date.now());
    await dev.publishAsync(occupancyTopic(site.site.id, device.id), payload, { qos: 1 });
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual([payload, payload]);
    expect(gw.health().external).toMatchObject({ journalRefusals: 1 });
    await waitFor(() => gw.health().listening);
    await gw.stop();
    await dev.endAsync();
  });
});
