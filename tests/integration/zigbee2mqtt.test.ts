/**
 * Zigbee2MQTT end to end: the simulated bridge (firmware-sim) connects to a
 * real gateway process as the example site's `z2m-cowork`, publishes its
 * sensors' messages under `zigbee2mqtt/`, and the points land in a real
 * influxd under the sensors' own device and target tags. And the simulator
 * itself against an in-process broker: exact topics, payloads, QoS and retain.
 */
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxSeries } from '../../gateway/influx/client.js';
import { silentLogger } from '../../firmware-sim/devices/canonical.js';
import { SIM_DEVICES } from '../../firmware-sim/devices/index.js';
import type { SimDeviceOptions } from '../../firmware-sim/devices/types.js';
import { Z2mBridge, Z2mSensor } from '../../firmware-sim/devices/zigbee2mqtt.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { makeTestSite, metricValue, startGatewayProcess, type GatewayProcess, type TestSite } from '../harness/gateway.js';

const BRIDGE = 'z2m-cowork';
const DESK_SENSOR = 'occ-cw-01'; // Aqara RTCGQ11LM, friendly name desk_cw-01, desk cw-01
const DESK_SENSOR_2 = 'occ-cw-02';
const ROOM_SENSOR = 'occ-roadshow'; // SONOFF SNZB-03, friendly name roadshow_room, space roadshow

let influx: TestInflux;
let site: TestSite;
let gw: GatewayProcess;
let bridge: Z2mBridge;
const sensors = new Map<string, Z2mSensor>();
const T0 = Date.now() - 10 * 60_000;

function sensor(id: string): Z2mSensor {
  const s = sensors.get(id);
  if (!s) throw new Error(`no sensor ${id}`);
  return s;
}

async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await probe();
  while (!ok(v)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}\n${gw.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
    v = await probe();
  }
  return v;
}

/** Rows of a query as objects keyed by column. */
async function rows(q: string): Promise<Record<string, unknown>[]> {
  const [res] = await influx.client.query(q);
  return (res?.series ?? []).flatMap((s: InfluxSeries) => s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))));
}

const ignored = async (reason: string) => metricValue(await gw.metrics(), 'facility_signals_ignored_total', { reason });

beforeAll(async () => {
  [influx, site] = await Promise.all([startTestInfluxd(), makeTestSite()]);
  gw = await startGatewayProcess({ site, influxUrl: influx.url, db: influx.db, config: { mqtt: { devicePublishRatePerSec: 10_000, devicePublishBurst: 10_000 } } });
  const shared = new Map<string, unknown>();
  for (const id of [DESK_SENSOR, DESK_SENSOR_2, ROOM_SENSOR]) {
    const info = site.site.devices.get(id)!;
    const opts: SimDeviceOptions = {
      site: site.site,
      device: info,
      secret: undefined,
      brokerUrl: gw.mqttUrl,
      boot: 1,
      clock: Date.now,
      logger: silentLogger,
      connectTimeoutMs: 10_000,
      siteDir: site.dir,
      shared,
      secretOf: (d) => site.secrets[d],
    };
    // Through the fleet's table, as `facility start` would simulate them.
    const s = SIM_DEVICES[info.format]!(opts);
    expect(s).toBeInstanceOf(Z2mSensor);
    sensors.set(id, s as Z2mSensor);
  }
  bridge = sensor(DESK_SENSOR).bridge;
  expect(sensor(ROOM_SENSOR).bridge).toBe(bridge);
  await Promise.all([...sensors.values()].map((s) => s.start()));
});

afterAll(async () => {
  await Promise.all([...sensors.values()].map((s) => s.stop()));
  await gw?.cleanup();
  await influx?.stop();
  await site?.cleanup();
});

describe('Zigbee2MQTT bridge → gateway → InfluxDB', () => {
  it('connects all its sensors over one bridge connection, announcing the bridge and each sensor online', async () => {
    expect(bridge.connected).toBe(true);
    expect((await gw.health()).broker.clients).toBe(1);
    await gw.drained();
    const byDevice = await rows(`SELECT last(online) AS online FROM device_health WHERE online = 1 GROUP BY device`);
    expect(byDevice).toHaveLength(4); // the bridge and its three sensors
  });

  it('stores occupancy and health under the sensor’s device and target tags, not the bridge’s', async () => {
    const desk = sensor(DESK_SENSOR);
    const room = sensor(ROOM_SENSOR);
    await desk.occupancy(true, T0);
    await desk.occupancy(false, T0 + 30_000); // an Aqara never says free: nothing is sent
    await desk.health({ batteryPct: 87, linkQuality: 120 }, T0 + 60_000);
    await room.occupancy(true, T0 + 1000);
    await room.occupancy(false, T0 + 61_000);
    await room.health({ batteryPct: 15, linkQuality: 77 }, T0 + 120_000);
    await gw.drained();

    // ts_source 'device': the sensors' own reports (the gateway's DeviceWatch adds its timeouts with ts_source 'gateway').
    const deskOcc = await rows(`SELECT occupied, ts_source, space, target, target_type, device_kind FROM occupancy WHERE device='${DESK_SENSOR}' AND ts_source='device'`);
    expect(deskOcc).toEqual([
      { time: expect.any(String) as unknown, occupied: 1, ts_source: 'device', space: 'cowork', target: 'cw-01', target_type: 'desk', device_kind: 'occupancy-sensor' },
    ]);
    expect(Date.parse(deskOcc[0]!.time as string)).toBe(T0);

    const roomOcc = await rows(`SELECT occupied, target, target_type FROM occupancy WHERE device='${ROOM_SENSOR}' AND ts_source='device'`);
    expect(roomOcc.map((r) => [r.occupied, r.target, r.target_type])).toEqual([
      [1, 'roadshow', 'space'],
      [0, 'roadshow', 'space'],
    ]);

    // Every Zigbee2MQTT message carries linkquality: the motion report's health point, then the battery report's.
    const deskHealth = await rows(`SELECT battery_pct, link_quality, target FROM device_health WHERE device='${DESK_SENSOR}' AND link_quality >= 0 AND time < ${T0 + 60_001}ms`);
    expect(deskHealth.map((r) => [r.battery_pct ?? null, r.link_quality, r.target])).toEqual([
      [null, expect.any(Number) as unknown, 'cw-01'],
      [87, 120, 'cw-01'],
    ]);
    const roomHealth = await rows(`SELECT battery_pct, link_quality FROM device_health WHERE device='${ROOM_SENSOR}' AND battery_pct >= 0`);
    expect(roomHealth.map((r) => [r.battery_pct, r.link_quality])).toEqual([[15, 77]]);

    expect(await influx.count('occupancy', `device='${BRIDGE}'`)).toBe(0);
  });

  it('acknowledges a message about a device the site file does not list, stores nothing, and keeps the bridge connected', async () => {
    const before = await ignored('unmapped_device');
    const bridgeTopicsBefore = await ignored('bridge_topic');
    const journaledBefore = (await gw.health()).journal.lastSeq;
    const connectsBefore = bridge.connects;
    // A lamp on the same Zigbee network, and the bridge's own info (both retained by Zigbee2MQTT in real life).
    await bridge.publishState('living_room_lamp', { brightness: 200, linkquality: 96, state: 'ON' }, Date.now());
    await bridge.publishState('0x00158d0001a2b3c4', { occupancy: true, linkquality: 40 }, Date.now());
    await bridge.publish('zigbee2mqtt/bridge/info', JSON.stringify({ version: '2.1.0', permit_join: false }), true);
    await bridge.publish('zigbee2mqtt/desk_cw-01/set', JSON.stringify({ occupancy_timeout: 0 }));
    await waitFor('ignored counters', () => ignored('unmapped_device'), (v) => v >= before + 2);
    expect(await ignored('bridge_topic')).toBe(bridgeTopicsBefore + 1);
    expect(await ignored('sub_topic')).toBeGreaterThanOrEqual(1);
    expect((await gw.health()).journal.lastSeq).toBe(journaledBefore);
    expect(bridge.connected).toBe(true);
    expect(bridge.connects).toBe(connectsBefore);

    // Still taking its sensors' messages on the same connection.
    await sensor(DESK_SENSOR_2).occupancy(true, T0 + 5000);
    await gw.drained();
    expect(await influx.count('occupancy', `device='${DESK_SENSOR_2}' AND ts_source='device'`)).toBe(1);
    expect(await influx.count('device_health', `device='living_room_lamp' OR device='0x00158d0001a2b3c4'`)).toBe(0);
  });

  it('marks a dropped sensor offline through its availability, the bridge staying connected', async () => {
    const connectsBefore = bridge.connects;
    sensor(DESK_SENSOR_2).drop();
    await waitFor(
      'offline point',
      async () => rows(`SELECT online FROM device_health WHERE device='${DESK_SENSOR_2}' AND online = 0`),
      (r) => r.length === 1,
    );
    expect(bridge.connected).toBe(true);
    expect(bridge.connects).toBe(connectsBefore);
    await expect(sensor(DESK_SENSOR_2).occupancy(true)).rejects.toMatchObject({ code: 'not_running' });
    await sensor(DESK_SENSOR_2).start();
    await waitFor(
      'back online',
      async () => rows(`SELECT last(online) AS online FROM device_health WHERE device='${DESK_SENSOR_2}'`),
      (r) => r[0]?.online === 1,
    );
  });

  it('disconnects the bridge when it publishes outside its base topic (its will reports it offline)', async () => {
    const denied = async () => metricValue(await gw.metrics(), 'facility_mqtt_acl_denied_total', { op: 'publish', reason: 'not_own_topic' });
    const deniedBefore = await denied();
    const connectsBefore = bridge.connects;
    const bridgeOfflineBefore = await influx.count('device_health', `device='${BRIDGE}' AND online = 0`);
    // QoS 0: a refused QoS 1 message would be resent by MQTT.js after every reconnect.
    await bridge.publish(`fac/v1/${site.site.id}/d/${DESK_SENSOR}/occupancy`, JSON.stringify({ boot: 1, seq: 1, occupied: true }), false, 0);
    await waitFor('ACL refusal', denied, (v) => v === deniedBefore + 1);
    await waitFor('the bridge reconnecting', () => Promise.resolve(bridge.connects), (v) => v > connectsBefore);
    await gw.drained();
    expect(await influx.count('device_health', `device='${BRIDGE}' AND online = 0`)).toBe(bridgeOfflineBefore + 1);
    expect(await influx.count('occupancy', `device='${DESK_SENSOR}' AND ts_source='device'`)).toBe(1);
  });

  it('turns bridge/state offline (its will, when the bridge dies) into a health point for the bridge', async () => {
    await waitFor('bridge connected', () => Promise.resolve(bridge.connected), (c) => c);
    await gw.drained();
    const offlineBefore = await influx.count('device_health', `device='${BRIDGE}' AND online = 0`);
    bridge.drop();
    await waitFor('bridge offline point', () => influx.count('device_health', `device='${BRIDGE}' AND online = 0`), (n) => n === offlineBefore + 1);
    const [last] = await rows(`SELECT last(online) AS online FROM device_health WHERE device='${BRIDGE}'`);
    expect(last?.online).toBe(0);
    const [tags] = await rows(`SELECT online, device_kind, space, target_type FROM device_health WHERE device='${BRIDGE}' ORDER BY time DESC LIMIT 1`);
    expect(tags).toMatchObject({ online: 0, device_kind: 'zigbee-bridge', space: 'cowork', target_type: 'space' });

    // A sensor's start() brings the bridge back (1.x or 2.x, Zigbee2MQTT says online on connect).
    await sensor(ROOM_SENSOR).start();
    expect(bridge.connected).toBe(true);
    await waitFor('bridge online again', async () => rows(`SELECT last(online) AS online FROM device_health WHERE device='${BRIDGE}'`), (r) => r[0]?.online === 1);
  });
});

describe('simulated Zigbee2MQTT on the wire', () => {
  interface Published {
    readonly topic: string;
    readonly payload: string;
    readonly retain: boolean;
    readonly qos: number;
    readonly client: string | null;
  }
  let broker: Aedes;
  let server: Server;
  let url: string;
  const log: Published[] = [];
  const subscriptions: string[] = [];
  const T = Date.UTC(2026, 10, 25, 1, 2, 3, 456);

  beforeAll(async () => {
    broker = await Aedes.createBroker();
    broker.on('publish', (packet, client) => {
      if (packet.topic.startsWith('$SYS')) return;
      log.push({ topic: packet.topic, payload: packet.payload.toString(), retain: packet.retain, qos: packet.qos, client: client?.id ?? null });
    });
    broker.on('subscribe', (subs) => subscriptions.push(...subs.map((x) => x.topic)));
    server = createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    url = `mqtt://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const make = (style: 'json' | 'legacy', lastSeen: 'ISO_8601' | 'epoch') => {
    const info = (id: string) => site.site.devices.get(id)!;
    const b = new Z2mBridge({ bridge: info(BRIDGE), secret: 'unused-here', brokerUrl: url, availability: style, lastSeen, connectTimeoutMs: 5000 });
    return {
      bridge: b,
      desk: new Z2mSensor({ device: info(DESK_SENSOR), bridge: b, boot: 1, clock: () => T }),
      room: new Z2mSensor({ device: info(ROOM_SENSOR), bridge: b, boot: 1, clock: () => T }),
    };
  };
  const since = (n: number) => log.slice(n).filter((p) => p.client === BRIDGE || p.topic.includes('/bridge/state'));
  const settle = async (n: number, count: number) => waitFor(`${count} publishes`, () => Promise.resolve(since(n).length), (v) => v >= count, 5000);

  it('publishes Zigbee2MQTT 2.x messages exactly: bridge state, availability, model-shaped states, will', async () => {
    const { bridge: b, desk, room } = make('json', 'ISO_8601');
    const n0 = log.length;
    await desk.start();
    await room.start();
    await settle(n0, 3);
    expect(subscriptions).toContain('zigbee2mqtt/#');
    expect(since(n0).map((p) => [p.topic, p.payload, p.qos, p.retain])).toEqual([
      ['zigbee2mqtt/bridge/state', '{"state":"online"}', 1, true],
      ['zigbee2mqtt/desk_cw-01/availability', '{"state":"online"}', 1, true],
      ['zigbee2mqtt/roadshow_room/availability', '{"state":"online"}', 1, true],
    ]);

    const n1 = log.length;
    await desk.occupancy(true, T);
    await desk.occupancy(false, T + 30_000); // an Aqara never reports free
    await desk.health({ batteryPct: 80, linkQuality: 100 }, T + 60_000);
    await room.occupancy(true, T + 1000);
    await room.occupancy(false, T + 2000);
    await settle(n1, 4);
    const states = since(n1);
    expect(states.every((p) => p.qos === 1 && !p.retain)).toBe(true);
    expect(states.map((p) => p.topic)).toEqual(['zigbee2mqtt/desk_cw-01', 'zigbee2mqtt/desk_cw-01', 'zigbee2mqtt/roadshow_room', 'zigbee2mqtt/roadshow_room']);
    const [motion, heartbeat, roomOn, roomOff] = states.map((p) => JSON.parse(p.payload) as Record<string, unknown>);
    expect(Object.keys(motion!)).toEqual(['illuminance', 'illuminance_lux', 'linkquality', 'occupancy', 'last_seen']);
    expect(motion).toMatchObject({ occupancy: true, last_seen: '2026-11-25T01:02:03.456Z' });
    expect(heartbeat).toEqual({
      battery: 80,
      device_temperature: expect.any(Number) as unknown,
      linkquality: 100,
      power_outage_count: expect.any(Number) as unknown,
      voltage: 2970,
      last_seen: new Date(T + 60_000).toISOString(),
    });
    expect(roomOn).toEqual({ battery_low: false, linkquality: expect.any(Number) as unknown, occupancy: true, last_seen: new Date(T + 1000).toISOString() });
    expect(roomOff).toMatchObject({ occupancy: false });

    // A sensor dropping off the network: its availability goes offline, the bridge stays.
    const n2 = log.length;
    room.drop();
    await settle(n2, 1);
    expect(since(n2).map((p) => [p.topic, p.payload, p.retain])).toEqual([['zigbee2mqtt/roadshow_room/availability', '{"state":"offline"}', true]]);
    expect(b.connected).toBe(true);
    await expect(room.occupancy(true)).rejects.toMatchObject({ code: 'not_running' });

    // The bridge dying: the broker publishes its will.
    const n3 = log.length;
    b.drop();
    await settle(n3, 1);
    expect(since(n3).map((p) => [p.topic, p.payload, p.qos, p.retain])).toEqual([['zigbee2mqtt/bridge/state', '{"state":"offline"}', 1, true]]);
    await desk.stop();
    await room.stop();
  });

  it('speaks 1.x legacy availability and epoch last_seen when asked, and says goodbye when its last sensor stops', async () => {
    const { bridge: b, desk } = make('legacy', 'epoch');
    const n0 = log.length;
    await desk.start();
    await desk.occupancy(true, T);
    await settle(n0, 3);
    expect(since(n0).map((p) => [p.topic, p.topic.endsWith('desk_cw-01') ? (JSON.parse(p.payload) as { last_seen: unknown }).last_seen : p.payload])).toEqual([
      ['zigbee2mqtt/bridge/state', 'online'],
      ['zigbee2mqtt/desk_cw-01/availability', 'online'],
      ['zigbee2mqtt/desk_cw-01', T],
    ]);
    const n1 = log.length;
    await desk.stop();
    expect(b.running).toBe(false);
    await settle(n1, 1);
    // A graceful stop: bridge/state offline, then DISCONNECT (so no will follows).
    await new Promise((r) => setTimeout(r, 200));
    expect(since(n1).map((p) => [p.topic, p.payload, p.retain])).toEqual([['zigbee2mqtt/bridge/state', 'offline', true]]);
  });
});
