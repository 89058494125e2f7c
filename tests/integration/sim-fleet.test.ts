/**
 * firmware-sim against a real broker: an in-process aedes with an
 * authenticate hook that checks device secrets, and a monitor subscribed to
 * fac/v1/#. Every payload must match the canonical schema of its channel.
 */
import { createServer, type Server } from 'node:net';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Aedes, type AuthenticateError } from 'aedes';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PAYLOAD_SCHEMAS } from '../../core/protocol/canonical.js';
import { parseTopic, type UplinkChannel, UPLINK_CHANNELS } from '../../core/protocol/topics.js';
import { CanonicalDevice, connectNoDelay, SimDeviceError } from '../../firmware-sim/devices/canonical.js';
import { Fleet } from '../../firmware-sim/fleet.js';
import { workday } from '../../firmware-sim/scenario/workday.js';
import { exampleSite, fixtureSecrets } from '../harness/site-fixture.js';

const site = exampleSite();
const secrets = fixtureSecrets(site);
const MONITOR = { username: 'monitor', password: 'monitor-secret' };
// Tuesday 2026-11-24 08:30 in Asia/Shanghai.
const TUESDAY_0830 = Date.UTC(2026, 10, 24, 0, 30);

const checks = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, TypeCompiler.Compile(PAYLOAD_SCHEMAS[c])])) as Record<
  UplinkChannel,
  TypeCheck<TSchema>
>;

interface Seen {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
  readonly qos: number;
}
interface BrokerPublish extends Seen {
  readonly clientId: string | null;
}

let broker: Aedes;
let server: Server;
let url: string;
const brokerLog: BrokerPublish[] = [];
const connectedIds: string[] = [];
let refused = 0;
const clients: MqttClient[] = [];
const fleets: Fleet[] = [];

function waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (pred()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

/** A monitoring client subscribed to `filter`, recording what it receives in order. */
async function monitor(filter: string, clientId: string): Promise<{ client: MqttClient; seen: Seen[] }> {
  const client = connect(url, { ...MONITOR, clientId, protocolVersion: 4, reconnectPeriod: 0 });
  clients.push(client);
  const seen: Seen[] = [];
  client.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos }));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(filter, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    client.once('error', reject);
  });
  return { client, seen };
}

beforeAll(async () => {
  broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const pw = password?.toString();
      const ok =
        (username === MONITOR.username && pw === MONITOR.password) ||
        (username !== undefined && username === client.id && secrets[username] !== undefined && secrets[username] === pw);
      if (ok) return done(null, true);
      refused++;
      const err = new Error('bad user name or password') as AuthenticateError;
      err.returnCode = 4;
      done(err, null);
    },
  });
  broker.on('client', (c) => connectedIds.push(c.id));
  broker.on('publish', (packet, client) => {
    if (!packet.topic.startsWith('fac/')) return;
    brokerLog.push({ topic: packet.topic, payload: packet.payload.toString(), retain: packet.retain, qos: packet.qos, clientId: client?.id ?? null });
  });
  server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  url = `mqtt://127.0.0.1:${address.port}`;
});

afterEach(async () => {
  await Promise.all(fleets.splice(0).map((f) => f.stop()));
  for (const c of clients.splice(0)) c.end(true);
});

afterAll(async () => {
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('CanonicalDevice', () => {
  const info = site.devices.get('meter-laser-1')!;
  const base = `fac/v1/${site.id}/d/meter-laser-1`;

  it('publishes exact canonical payloads at QoS 1, retained status, will on drop, new boot on restart', async () => {
    const { client: mon, seen } = await monitor(`${base}/#`, 'monitor-device');
    const device = new CanonicalDevice({ site: site.id, device: info, secret: secrets[info.id]!, brokerUrl: url, boot: 1234, clock: () => 1_800_000_000_000 });
    await device.start();
    await waitFor(() => seen.some((s) => s.topic === `${base}/status`), 2000, 'online status');
    expect(seen.find((s) => s.topic === `${base}/status`)?.payload).toBe('{"online":true}');
    const T = 1_795_000_000_000;
    await device.power({ powerW: 1000, voltageV: 220.04, currentA: 4.65432, on: true }, T);
    await device.power({ powerW: 0, on: false }, T + 3_600_000);
    await device.health({ linkQuality: 180 });
    await device.badge('uid', '04A1B2C3', T + 3_600_001);
    await device.occupancy(true, T + 3_600_002);
    await waitFor(() => seen.length >= 6, 2000, 'five uplinks');
    const data = seen.filter((s) => !s.topic.endsWith('/status'));
    expect(data.map((s) => [s.topic, s.payload, s.qos])).toEqual([
      [`${base}/power`, `{"boot":1234,"seq":0,"ts":${T},"power_w":1000,"energy_kwh":0,"voltage_v":220,"current_a":4.654,"on":true}`, 1],
      // The device integrates its own energy counter: 1000 W for one hour.
      [`${base}/power`, `{"boot":1234,"seq":1,"ts":${T + 3_600_000},"power_w":0,"energy_kwh":1,"on":false}`, 1],
      // Without a time the device's clock is used.
      [`${base}/health`, '{"boot":1234,"seq":2,"ts":1800000000000,"link_quality":180}', 1],
      [`${base}/badge`, `{"boot":1234,"seq":3,"ts":${T + 3_600_001},"format":"uid","card":"04A1B2C3"}`, 1],
      [`${base}/occupancy`, `{"boot":1234,"seq":4,"ts":${T + 3_600_002},"occupied":true}`, 1],
    ]);
    const published = brokerLog.filter((p) => p.topic.startsWith(base));
    expect(published.filter((p) => p.topic.endsWith('/status')).every((p) => p.retain)).toBe(true);
    expect(published.filter((p) => !p.topic.endsWith('/status')).every((p) => !p.retain && p.qos === 1 && p.clientId === info.id)).toBe(true);

    // A command reaches the device.
    mon.publish(`${base}/cmd/relay`, '{"on":false}', { qos: 1 });
    await waitFor(() => device.stats().commands === 1, 2000, 'command delivery');

    // Abrupt loss: the broker publishes the will.
    seen.length = 0;
    device.drop();
    expect(device.running).toBe(false);
    await expect(device.occupancy(false)).rejects.toMatchObject({ code: 'not_running' });
    await waitFor(() => seen.some((s) => s.topic === `${base}/status` && s.payload === '{"online":false}'), 3000, 'will');

    // Back with a new boot: seq restarts.
    await device.start({ boot: 1235 });
    await device.occupancy(false, T + 3_600_003);
    await waitFor(() => seen.some((s) => s.topic === `${base}/occupancy`), 2000, 'occupancy after restart');
    expect(seen.find((s) => s.topic === `${base}/occupancy`)?.payload).toBe(`{"boot":1235,"seq":0,"ts":${T + 3_600_003},"occupied":false}`);
    expect(seen.filter((s) => s.topic === `${base}/status`).map((s) => s.payload)).toEqual(['{"online":false}', '{"online":true}']);

    // Graceful stop: retained offline status, idempotent.
    await Promise.all([device.stop(), device.stop()]);
    await device.stop();
    await waitFor(() => seen.filter((s) => s.topic === `${base}/status`).length === 3, 2000, 'offline status');
    expect(seen[seen.length - 1]).toMatchObject({ topic: `${base}/status`, payload: '{"online":false}' });
    const counters = device.stats().channels;
    expect(counters.power).toEqual({ published: 2, acked: 2, errors: 0 });
    expect(counters.occupancy).toEqual({ published: 2, acked: 2, errors: 0 });
  });

  it('connects as itself: client id = user name = device id, persistent session, will on its status topic', async () => {
    const seenOptions: IClientOptions[] = [];
    const device = new CanonicalDevice({
      site: site.id,
      device: info,
      secret: secrets[info.id]!,
      brokerUrl: url,
      boot: 1,
      connect: (brokerUrl, options) => {
        seenOptions.push(options);
        return connectNoDelay(brokerUrl, options);
      },
    });
    await device.start();
    await device.stop();
    expect(seenOptions).toHaveLength(1);
    expect(seenOptions[0]).toMatchObject({ clientId: info.id, username: info.id, password: secrets[info.id], protocolVersion: 4, clean: false, keepalive: 30, reconnectPeriod: 1000 });
    expect(seenOptions[0]!.will).toMatchObject({ topic: `${base}/status`, qos: 1, retain: true });
    expect(String(seenOptions[0]!.will!.payload)).toBe('{"online":false}');
  });

  it('gives up on an unreachable broker after the connect timeout, and stop() cancels a pending start', async () => {
    const unreachable = 'mqtt://127.0.0.1:1';
    const slow = new CanonicalDevice({ site: site.id, device: info, secret: 'x', brokerUrl: unreachable, boot: 1, connectTimeoutMs: 300 });
    await expect(slow.start()).rejects.toMatchObject({ code: 'connect_timeout' });
    expect(slow.running).toBe(false);

    const cancelled = new CanonicalDevice({ site: site.id, device: info, secret: 'x', brokerUrl: unreachable, boot: 1 });
    const starting = cancelled.start();
    const t0 = Date.now();
    await cancelled.stop();
    await expect(starting).rejects.toMatchObject({ code: 'not_running' });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('is refused with a wrong secret', async () => {
    const before = refused;
    const device = new CanonicalDevice({ site: site.id, device: info, secret: 'wrong', brokerUrl: url, boot: 1, connectTimeoutMs: 5000 });
    const err: unknown = await device.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimDeviceError);
    expect((err as SimDeviceError).code).toBe('refused');
    expect(refused).toBe(before + 1);
    expect(device.running).toBe(false);
    await device.stop();
  });
});

describe('Fleet', () => {
  it('plays three busy hours of a workday at 3600× through a real broker', async () => {
    const { seen } = await monitor('fac/v1/#', 'monitor-fleet');
    const logStart = brokerLog.length;
    const speed = 3600;
    const days = 3 / 24;
    const fleet = new Fleet({
      site,
      secrets,
      brokerUrl: url,
      seed: 7,
      speed,
      start: TUESDAY_0830,
      days,
      // Plenty of offline episodes so that wills and reboots happen within three hours.
      scenario: { offlineRate: 4 },
      connectJitterMs: 50,
    });
    fleets.push(fleet);
    const t0 = Date.now();
    await fleet.start();
    expect(fleet.stats().devices).toBe(site.devices.size);
    expect(fleet.stats().failed).toBe(0);

    // A late subscriber gets every device's availability as a retained message (online, or a will for one already dropped).
    const { seen: statuses } = await monitor(`fac/v1/${site.id}/d/+/status`, 'monitor-retained');
    const retainedDevices = (list: readonly Seen[]): Set<string> =>
      new Set(list.filter((r) => r.retain).map((r) => parseTopic(r.topic)).map((p) => (p.type === 'uplink' ? p.device : '')));
    await waitFor(() => retainedDevices(statuses).size >= site.devices.size, 2000, 'retained statuses');
    expect(retainedDevices(statuses)).toEqual(new Set(site.devices.keys()));
    expect(statuses.every((r) => checks.status.Check(JSON.parse(r.payload)))).toBe(true);

    await Promise.race([fleet.done, new Promise((_, reject) => setTimeout(() => reject(new Error('fleet did not finish')), 10_000))]);
    const wall = Date.now() - t0;
    const stats = fleet.stats();
    const stopAt = seen.length;
    await fleet.stop();
    await fleet.stop();
    await waitFor(() => seen.length > stopAt && fleet.stats().connected === 0, 3000, 'goodbyes');
    await new Promise((r) => setTimeout(r, 100));

    expect(stats.finished).toBe(true);
    expect(wall).toBeLessThan((days * 86_400_000) / speed + 3000);

    // Every payload matches the schema of its channel; per device and boot, seq strictly increases.
    const lastSeq = new Map<string, number>();
    const lastTs = new Map<string, number>();
    const boots = new Map<string, Set<number>>();
    const received: Record<UplinkChannel, number> = { badge: 0, occupancy: 0, power: 0, health: 0, status: 0 };
    let willsDuringRun = 0;
    for (const [i, m] of seen.entries()) {
      const t = parseTopic(m.topic);
      expect(t.type).toBe('uplink');
      if (t.type !== 'uplink') continue;
      expect(site.devices.has(t.device)).toBe(true);
      const body: unknown = JSON.parse(m.payload);
      const check = checks[t.channel];
      if (!check.Check(body)) throw new Error(`${m.topic} ${m.payload}: ${[...check.Errors(body)].map((e) => `${e.path} ${e.message}`).join('; ')}`);
      received[t.channel]++;
      if (t.channel === 'status') {
        if (i < stopAt && m.payload === '{"online":false}') willsDuringRun++;
        continue;
      }
      const p = body as { boot: number; seq: number; ts: number };
      const key = `${t.device}:${p.boot}`;
      expect(p.seq, key).toBeGreaterThan(lastSeq.get(key) ?? -1);
      lastSeq.set(key, p.seq);
      expect(p.ts).toBeGreaterThanOrEqual(lastTs.get(key) ?? TUESDAY_0830);
      expect(p.ts).toBeLessThan(TUESDAY_0830 + days * 86_400_000);
      lastTs.set(key, p.ts);
      boots.set(t.device, (boots.get(t.device) ?? new Set()).add(p.boot));
    }
    for (const c of ['badge', 'occupancy', 'power', 'health'] as const) {
      expect(received[c], c).toBeGreaterThan(0);
      // The broker forwards what it acknowledged; a message in flight at a drop may arrive without a PUBACK.
      expect(received[c], c).toBeGreaterThanOrEqual(stats.channels[c].acked);
      expect(received[c], c).toBeLessThanOrEqual(stats.channels[c].published);
    }
    expect(stats.skipped.noDevice).toBe(0);
    // Wills fired for devices going offline mid-run, and some came back with a new boot.
    expect(willsDuringRun).toBeGreaterThan(0);
    expect([...boots.values()].some((b) => b.size > 1)).toBe(true);

    // Client id = user name = device id for everything a device published itself.
    const fleetLog = brokerLog.slice(logStart).filter((p) => p.clientId !== null && !p.clientId.startsWith('monitor'));
    expect(fleetLog.length).toBeGreaterThan(1000);
    for (const p of fleetLog) {
      const t = parseTopic(p.topic);
      expect(t.type === 'uplink' && t.device).toBe(p.clientId);
      expect(p.qos).toBe(1);
      expect(p.retain).toBe(t.type === 'uplink' && t.channel === 'status');
    }
    expect(new Set(connectedIds.filter((id) => !id.startsWith('monitor')))).toEqual(new Set(site.devices.keys()));

    // After stop every device's retained availability says offline.
    const { seen: after } = await monitor(`fac/v1/${site.id}/d/+/status`, 'monitor-after');
    await waitFor(() => after.length >= site.devices.size, 2000, 'retained statuses after stop');
    expect(after.length).toBe(site.devices.size);
    expect(after.every((r) => r.retain && r.payload === '{"online":false}')).toBe(true);
  });

  it('sheds power and health samples at 100000× but delivers every badge and occupancy change', async () => {
    const opts = { site, seed: 11, start: TUESDAY_0830, days: 1 } as const;
    const expected = { badge: 0, occupancy: 0 };
    for (const e of workday({ ...opts, offlineRate: 0 })) if (e.kind === 'badge' || e.kind === 'occupancy') expected[e.kind]++;
    const fleet = new Fleet({ ...opts, secrets, brokerUrl: url, speed: 100_000, maxInFlight: 2, scenario: { offlineRate: 0 }, connectJitterMs: 20 });
    fleets.push(fleet);
    await fleet.start();
    await Promise.race([fleet.done, new Promise((_, reject) => setTimeout(() => reject(new Error('fleet did not finish')), 10_000))]);
    await waitFor(() => fleet.stats().channels.occupancy.acked + fleet.stats().channels.badge.acked >= expected.badge + expected.occupancy, 3000, 'backlog drained');
    const stats = fleet.stats();
    expect(stats.overload).toBe('shed');
    expect(stats.skipped.backpressure + stats.skipped.lag).toBeGreaterThan(0);
    expect(stats.channels.badge).toEqual({ published: expected.badge, acked: expected.badge, errors: 0 });
    expect(stats.channels.occupancy).toEqual({ published: expected.occupancy, acked: expected.occupancy, errors: 0 });
  });

  it('paces instead of shedding when the speed is Infinity', async () => {
    const fleet = new Fleet({ site, secrets, brokerUrl: url, seed: 3, speed: Infinity, start: TUESDAY_0830, days: 1 / 24, scenario: { offlineRate: 0 }, connectJitterMs: 20 });
    fleets.push(fleet);
    await fleet.start();
    await Promise.race([fleet.done, new Promise((_, reject) => setTimeout(() => reject(new Error('fleet did not finish')), 10_000))]);
    await fleet.stop();
    const stats = fleet.stats();
    expect(stats.overload).toBe('pace');
    expect(stats.skipped).toEqual({ lag: 0, backpressure: 0, offline: 0, noDevice: 0 });
    const data = (['badge', 'occupancy', 'power', 'health'] as const).reduce((n, c) => n + stats.channels[c].acked, 0);
    expect(data).toBe(stats.events);
  });
});
