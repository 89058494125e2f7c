/**
 * Observer logins end to end: the example site with two observers added to its site file, `facility
 * start` as a real process with a real influxd, and MQTT.js clients on the wire.
 *
 * - an observer (a dashboard's read-only login) receives the retained live state and the gateway's
 *   status, and then the changes a device causes, but never the device's uplink itself;
 * - two dashboards may share one login (client ids <id>-…);
 * - it is refused: subscriptions to fac/v1/#, #, device topics and commands (SUBACK 0x80), any publish
 *   (disconnected), a wrong password, a client id that is not its own, a device's client id;
 * - an observer limited to `topics: [state]` is refused the gateway's status.
 */
import { readFile, writeFile } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { generateDeviceSecret, hashSecret } from '../../gateway/auth/secrets.js';
import { closed, connectDevice, devicesOfKind, occupancyPayload, occupancyTopic } from '../harness/devices.js';
import { makeTestSite, metricValue, startGatewayProcess, type GatewayProcess, type TestSite } from '../harness/gateway.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';

const DASH_PW = generateDeviceSecret();
const STATE_ONLY_PW = 'a person chose this one';

let influx: TestInflux;
let site: TestSite;
let gw: GatewayProcess;
let siteId: string;
let desk: { id: string; target: string };
const clients: MqttClient[] = [];

beforeAll(async () => {
  [influx, site] = await Promise.all([startTestInfluxd(), makeTestSite()]);
  const doc = parseDocument(await readFile(site.sitePath, 'utf8'));
  doc.set('observers', [
    { id: 'dashboard', credentials: { hash: hashSecret(DASH_PW) } },
    { id: 'wallboard', credentials: { secret: 'env:OF_TEST_WALLBOARD_PW' }, topics: ['state'] },
  ]);
  await writeFile(site.sitePath, doc.toString({ lineWidth: 0 }));
  // The gateway process inherits the environment: the secret reference resolves at start.
  process.env.OF_TEST_WALLBOARD_PW = STATE_ONLY_PW;
  gw = await startGatewayProcess({ site, influxUrl: influx.url, db: influx.db });
  siteId = site.site.id;
  const sensor = devicesOfKind(site.site, 'occupancy-sensor').find((d) => d.target?.type === 'desk')!;
  desk = { id: sensor.id, target: sensor.target!.id };
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  delete process.env.OF_TEST_WALLBOARD_PW;
  await gw?.cleanup();
  await influx?.stop();
  await site?.cleanup();
});

interface Heard {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

/** Connects as an observer (MQTT.js defaults otherwise: clean session, no will), recording what it hears. */
async function observer(clientId: string, username: string, password: string): Promise<{ c: MqttClient; heard: Heard[] }> {
  const c = await connectDevice(gw.mqttUrl, clientId, password, { username, clean: true });
  clients.push(c);
  const heard: Heard[] = [];
  c.on('message', (topic, payload, packet) => heard.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return { c, heard };
}

async function eventually<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The SUBACK's return codes, 0x80 included (MQTT.js's subscribeAsync rejects on a refusal). */
function suback(c: MqttClient, filters: string[]): Promise<number[]> {
  return new Promise((resolve) => {
    const onPacket = (p: { cmd: string; granted?: unknown }) => {
      if (p.cmd !== 'suback') return;
      c.off('packetreceive', onPacket);
      resolve(p.granted as number[]);
    };
    c.on('packetreceive', onPacket);
    c.subscribe(filters, { qos: 1 }, () => undefined);
  });
}

const metric = async (name: string, labels: Record<string, string>) => metricValue(await gw.metrics(), name, labels);

describe('an observer login', () => {
  it('receives the retained live state and gateway status, then changes, never device uplinks', async () => {
    const { c, heard } = await observer('dashboard-1', 'dashboard', DASH_PW);
    expect(await c.subscribeAsync([`fac/v1/${siteId}/state/#`, `fac/v1/${siteId}/gateway/status`], { qos: 1 })).toEqual([
      { topic: `fac/v1/${siteId}/state/#`, qos: 1 },
      { topic: `fac/v1/${siteId}/gateway/status`, qos: 1 },
    ]);
    const siteState = await eventually('the retained site state', () => heard.find((m) => m.topic === `fac/v1/${siteId}/state/site`));
    expect(siteState.retain).toBe(true);
    expect(JSON.parse(siteState.payload)).toMatchObject({ desks: site.site.desks.size, machines: site.site.equipment.size });
    const status = await eventually('the gateway status', () => heard.find((m) => m.topic === `fac/v1/${siteId}/gateway/status`));
    expect(JSON.parse(status.payload)).toMatchObject({ online: true });
    await eventually('every desk', () => (heard.filter((m) => m.topic.startsWith(`fac/v1/${siteId}/state/desks/`)).length >= site.site.desks.size ? true : undefined));
    expect(heard.every((m) => m.topic.startsWith(`fac/v1/${siteId}/state/`) || m.topic === `fac/v1/${siteId}/gateway/status`)).toBe(true);

    // A device takes the desk: the observer hears the desk's new state, not the device's message.
    const d = await connectDevice(gw.mqttUrl, desk.id, site.secrets[desk.id]);
    clients.push(d);
    await d.publishAsync(occupancyTopic(siteId, desk.id), JSON.stringify({ boot: 1, seq: 2, occupied: true }), { qos: 1 });
    const deskTopic = `fac/v1/${siteId}/state/desks/${desk.target}`;
    const change = await eventually('the desk occupied', () => heard.find((m) => m.topic === deskTopic && (JSON.parse(m.payload) as { state: string }).state === 'occupied'));
    expect(change.retain).toBe(false);
    expect(heard.some((m) => m.topic.includes('/d/'))).toBe(false);
    await d.endAsync();
  });

  it('may share its login between dashboards (client ids <id>-…), narrower filters included', async () => {
    const a = await observer('dashboard-node-red', 'dashboard', DASH_PW);
    const b = await observer('dashboard', 'dashboard', DASH_PW);
    expect(await a.c.subscribeAsync(`fac/v1/${siteId}/state/site`, { qos: 1 })).toEqual([{ topic: `fac/v1/${siteId}/state/site`, qos: 1 }]);
    expect(await b.c.subscribeAsync(`fac/v1/${siteId}/state/machines/+`, { qos: 0 })).toEqual([{ topic: `fac/v1/${siteId}/state/machines/+`, qos: 0 }]);
    await eventually('the site state', () => a.heard.find((m) => m.topic === `fac/v1/${siteId}/state/site`));
    await eventually('the machines', () => (b.heard.length >= site.site.equipment.size ? true : undefined));
    expect(a.c.connected && b.c.connected).toBe(true);
    expect(b.heard.every((m) => m.topic.startsWith(`fac/v1/${siteId}/state/machines/`))).toBe(true);
  });

  it('is refused subscriptions outside the live state (SUBACK 0x80) and hears nothing of them', async () => {
    const before = await metric('facility_mqtt_acl_denied_total', { reason: 'outside_observer_topics' });
    const { c, heard } = await observer('dashboard-2', 'dashboard', DASH_PW);
    const filters = ['fac/v1/#', '#', `fac/v1/${siteId}/#`, `fac/v1/${siteId}/d/${desk.id}/cmd/#`, `fac/v1/${siteId}/d/+/occupancy`, `fac/v1/${siteId}/d/${desk.id}/status`, '$SYS/#'];
    expect(await suback(c, filters)).toEqual(filters.map(() => 128));
    const d = await connectDevice(gw.mqttUrl, desk.id, site.secrets[desk.id]);
    clients.push(d);
    await d.publishAsync(occupancyTopic(siteId, desk.id), occupancyPayload(1, 3), { qos: 1 });
    await d.endAsync();
    await new Promise((r) => setTimeout(r, 300));
    expect(heard).toEqual([]);
    expect(c.connected).toBe(true);
    expect(await metric('facility_mqtt_acl_denied_total', { reason: 'outside_observer_topics' })).toBe(before + filters.length);
  });

  it.each([
    ['to a state topic', () => `fac/v1/${siteId}/state/site`],
    ['a command', () => `fac/v1/${siteId}/d/${desk.id}/cmd/unlock`],
    ['as a device', () => occupancyTopic(siteId, desk.id)],
  ])('is disconnected when it publishes %s', async (_name, topic) => {
    const before = await metric('facility_mqtt_acl_denied_total', { reason: 'observer_read_only' });
    const { c } = await observer('dashboard-3', 'dashboard', DASH_PW);
    c.publish(topic(), '{"desks":0}', { qos: 1, retain: true });
    expect(await closed(c)).toBe(true);
    expect(await metric('facility_mqtt_acl_denied_total', { reason: 'observer_read_only' })).toBe(before + 1);
    // Nothing was retained: the state is still the gateway's.
    const check = await observer('dashboard-4', 'dashboard', DASH_PW);
    await check.c.subscribeAsync(`fac/v1/${siteId}/state/site`, { qos: 1 });
    const s = await eventually('the site state', () => check.heard.find((m) => m.topic === `fac/v1/${siteId}/state/site`));
    expect(JSON.parse(s.payload)).toMatchObject({ desks: site.site.desks.size });
    check.c.end(true);
  });

  it('with topics: [state] may read the state but not the gateway status; its secret came from the environment', async () => {
    const { c } = await observer('wallboard', 'wallboard', STATE_ONLY_PW);
    expect(await suback(c, [`fac/v1/${siteId}/state/#`, `fac/v1/${siteId}/gateway/status`])).toEqual([1, 128]);
  });
});

describe('observer logins that are refused', () => {
  const tryConnect = (clientId: string, username: string, password: string) =>
    new Promise<Error | null>((resolve) => {
      const c = mqtt.connect(gw.mqttUrl, { clientId, username, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
      c.once('connect', () => {
        c.end(true);
        resolve(null);
      });
      c.once('error', (err) => {
        c.end(true);
        resolve(err);
      });
    });

  it.each<[string, () => [string, string, string], RegExp, string]>([
    ['wrong password', () => ['dashboard-5', 'dashboard', 'wrong'], /Bad username or password/, 'bad_credentials'],
    ['another observer’s password', () => ['wallboard', 'wallboard', DASH_PW], /Bad username or password/, 'bad_credentials'],
    ['a client id that is not its own', () => ['dash-1', 'dashboard', DASH_PW], /Identifier rejected/, 'id_mismatch'],
    ['a device’s client id (session takeover attempt)', () => [desk.id, 'dashboard', DASH_PW], /Identifier rejected/, 'id_mismatch'],
    ['a device’s login with an observer’s client id', () => ['dashboard', desk.id, site.secrets[desk.id]!], /Identifier rejected/, 'id_mismatch'],
  ])('%s', async (_name, args, message, reason) => {
    const before = await metric('facility_mqtt_connections_refused_total', { reason });
    const err = await tryConnect(...args());
    expect(err?.message).toMatch(message);
    expect(await metric('facility_mqtt_connections_refused_total', { reason })).toBe(before + 1);
  });
});
