/**
 * Live state end to end, with `facility start` in this process (startSystem,
 * mode all), a real influxd and devices on the wire:
 *
 * - canonical devices publish a desk's occupancy, a door swipe into the
 *   electronics lab, a swipe at the reflow oven's reader and the oven's power;
 * - the gateway's retained MQTT state, GET /api/v1/live and the SSE stream
 *   (snapshot, then changes that rebuild the same state) all show it: the desk
 *   occupied, one person in the lab, the oven running for that member;
 * - a device may not subscribe to the state topics;
 * - after a restart of the whole system the same state is rebuilt from the
 *   journal;
 * - the per-minute derived series lands in InfluxDB with the documented shape.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument, isSeq } from 'yaml';
import { buildConfig, type FacilityConfig } from '../../cli/config.js';
import { loadSiteFile } from '../../cli/init.js';
import { startSystem, type RunningSystem } from '../../cli/system.js';
import { stateFilter } from '../../core/protocol/topics.js';
import { applyLiveChange, liveMessages, type LiveChange, type LiveState } from '../../core/usage/live.js';
import { MINUTE_MS, occupancyPoints } from '../../core/usage/live-points.js';
import { generateDeviceSecret, hashSecret } from '../../gateway/auth/secrets.js';
import { SeriesWriter } from '../../gateway/live/series-writer.js';
import { connectDevice } from '../harness/devices.js';
import { makeTestSite, type TestSite } from '../harness/gateway.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';

const SITE = 'demo-makerspace';
const CARD = 'AB12CD34';
const ADMIN_PASSWORD = 'live-state-operator-pw-2026';

let influx: TestInflux;
let site: TestSite;
let dataDir: string;
let config: FacilityConfig;
let system: RunningSystem;
let cookie = '';
let memberId = '';
const devices: Record<string, MqttClient> = {};
const seqs: Record<string, number> = {};
const commands: { device: string; channel: string; body: Record<string, unknown> }[] = [];
const savedEnv = process.env.FACILITY_ADMIN_PASSWORD;

async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | null = null;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err as Error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${system.httpUrl}${path}`, {
    method,
    headers: { cookie, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const r = await api<T>(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function login(): Promise<void> {
  const res = await fetch(`${system.httpUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
  expect(res.status).toBe(200);
  cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
}

/** Publishes a canonical uplink message at QoS 1 (resolves on PUBACK, i.e. once journaled). */
async function send(device: string, channel: string, fields: Record<string, unknown>): Promise<number> {
  const ts = Date.now();
  seqs[device] = (seqs[device] ?? 0) + 1;
  await devices[device]!.publishAsync(`fac/v1/${SITE}/d/${device}/${channel}`, JSON.stringify({ boot: 1, seq: seqs[device], ts, ...fields }), { qos: 1 });
  return ts;
}

async function openDevices(): Promise<void> {
  const url = `mqtt://127.0.0.1:${system.mqttPort}`;
  for (const id of ['occ-st-01', 'dc-elab', 'br-reflow-1', 'pm-reflow-1']) {
    const c = await connectDevice(url, id, site.secrets[id]);
    c.on('message', (topic, payload) => commands.push({ device: id, channel: topic.split('/').pop()!, body: JSON.parse(payload.toString()) as Record<string, unknown> }));
    await c.subscribeAsync(`fac/v1/${SITE}/d/${id}/cmd/#`, { qos: 1 });
    devices[id] = c;
  }
}

async function closeDevices(): Promise<void> {
  for (const [id, c] of Object.entries(devices)) {
    await c.endAsync().catch(() => undefined);
    delete devices[id];
  }
}

const startup = () => startSystem(config, pino({ level: process.env.OF_TEST_LOG ?? 'silent' }));

/** A Server-Sent Events client (node:http: closing it closes its connection): collects every event until closed. */
class SseClient {
  readonly events: { event: string; data: unknown }[] = [];
  private req: ClientRequest | null = null;

  async open(url: string): Promise<this> {
    const req = (this.req = get(url, { headers: { cookie, accept: 'text/event-stream' } }));
    const res = await new Promise<IncomingMessage>((resolve, reject) => req.once('response', resolve).once('error', reject));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) this.events.push({ event, data: JSON.parse(data) as unknown });
      }
    });
    res.on('error', () => undefined);
    return this;
  }

  /** The snapshot with every change after it applied. */
  state(): LiveState | undefined {
    const [first, ...rest] = this.events;
    if (first?.event !== 'snapshot') return undefined;
    return rest.reduce((s, e) => (e.event === 'change' ? applyLiveChange(s, e.data as LiveChange) : s), first.data as LiveState);
  }

  close(): void {
    this.req?.destroy();
  }
}

const withoutTime = (s: LiveState) => ({ ...s, at: 0 });

beforeAll(async () => {
  process.env.FACILITY_ADMIN_PASSWORD = ADMIN_PASSWORD;
  [influx, site] = await Promise.all([startTestInfluxd(), makeTestSite()]);
  // A canonical reader at the reflow oven, so its use is attributed to a badge.
  const doc = parseDocument(await readFile(site.sitePath, 'utf8'));
  const list = doc.get('devices');
  if (!isSeq(list)) throw new Error('site has no devices');
  const secret = generateDeviceSecret();
  list.items.push(doc.createNode({ id: 'br-reflow-1', kind: 'badge-reader', equipment: 'reflow-1', credentials: { hash: hashSecret(secret) } }));
  await writeFile(site.sitePath, doc.toString({ lineWidth: 0 }));
  site = { ...site, site: await loadSiteFile(site.sitePath), secrets: { ...site.secrets, 'br-reflow-1': secret } };

  dataDir = await mkdtemp(join(tmpdir(), 'of-live-'));
  config = buildConfig({
    dataDir,
    siteFile: site.sitePath,
    secretsFile: site.secretsPath,
    mqtt: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    influx: { url: influx.url, db: influx.db, lingerMs: 20 },
    sim: { enabled: false },
  });
  system = await startup();
  await login();
  // A member on a plan for every space, with a card and the oven's certification.
  const plan = await ok<{ id: string }>('POST', '/api/v1/plans', { name: 'Everything', spaces: ['*'], hours: [] });
  const member = await ok<{ id: string }>('POST', '/api/v1/members', { memberNo: 'L-0001', name: 'Live Tester', joinedOn: '2026-01-05', planId: plan.id });
  memberId = member.id;
  await ok('POST', `/api/v1/members/${memberId}/badges`, { format: 'uid', credential: CARD, issuedOn: '2026-01-05' });
  await ok('POST', '/api/v1/certifications', { memberId, class: 'reflow-oven', issuedOn: '2026-01-05' });
  const { version } = await ok<{ version: number }>('GET', '/api/v1/policy');
  await eventually('the gateway to hold the policy', () => ((system.gateway.health().access.policyVersion ?? -1) >= version ? true : undefined));
  await openDevices();
}, 60_000);

afterAll(async () => {
  await closeDevices();
  await system?.stop();
  await influx?.stop();
  await site?.cleanup();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  if (savedEnv === undefined) delete process.env.FACILITY_ADMIN_PASSWORD;
  else process.env.FACILITY_ADMIN_PASSWORD = savedEnv;
});

describe('live state', () => {
  let sse: SseClient;
  let live: LiveState;
  let occupiedAt = 0;

  it('starts with nothing known: the desk unknown, nobody in the lab, the oven unknown', async () => {
    sse = await new SseClient().open(`${system.httpUrl}/api/v1/live/stream`);
    const first = await eventually('the snapshot event', () => sse.events[0]);
    expect(first.event).toBe('snapshot');
    const s = first.data as LiveState;
    expect(s.site).toBe(SITE);
    expect(s.desks['st-01']).toEqual({ space: 'startup', state: 'unknown', since: null });
    expect(s.spaces.elab).toMatchObject({ people: 0, machines: 2, machinesRunning: 0 });
    expect(s.machines['reflow-1']).toEqual({ space: 'elab', state: 'unknown', since: null, memberId: null, sessionId: null });
  });

  it('shows a desk taken, a member in the lab and the oven running for them, on MQTT (retained), GET /live and the stream', async () => {
    occupiedAt = await send('occ-st-01', 'occupancy', { occupied: true });
    await send('dc-elab', 'badge', { format: 'uid', card: CARD });
    await eventually('the lab door to unlock', () => commands.find((c) => c.device === 'dc-elab' && c.channel === 'unlock'));
    await send('br-reflow-1', 'badge', { format: 'uid', card: CARD });
    const session = await eventually('the machine session', () => commands.find((c) => c.device === 'br-reflow-1' && c.channel === 'session' && c.body.state === 'granted'));
    await send('pm-reflow-1', 'power', { power_w: 850, energy_kwh: 12.5, on: true });

    live = await eventually('the live state to show all three', async () => {
      const r = await api<LiveState>('GET', '/api/v1/live');
      return r.status === 200 && r.body.machines['reflow-1']?.state === 'running' && r.body.spaces.elab?.people === 1 && r.body.desks['st-01']?.state === 'occupied' ? r.body : undefined;
    });
    expect(live.desks['st-01']).toEqual({ space: 'startup', state: 'occupied', since: occupiedAt });
    expect(live.spaces.startup).toMatchObject({ desks: 8, desksOccupied: 1, desksUnknown: 7 });
    expect(live.presence.elab).toEqual([{ memberId, since: expect.any(Number) as number }]);
    expect(live.spaces.elab).toMatchObject({ people: 1, capacity: 10, machines: 2, machinesRunning: 1, machinesInUse: 1 });
    expect(live.machines['reflow-1']).toEqual({ space: 'elab', state: 'running', since: expect.any(Number) as number, memberId, sessionId: session.body.sessionId });
    expect(live.devices['pm-reflow-1']).toMatchObject({ status: 'online' });
    expect(live.devices['occ-cw-01']).toEqual({ status: 'unknown', since: null });
    expect(live.totals).toMatchObject({ people: 1, desksOccupied: 1, machinesRunning: 1 });

    // Retained on the gateway's broker: exactly the state, one message per part, QoS 1; no presence lists on MQTT.
    const retained = await eventually('the retained state to catch up', async () => {
      const got = await system.gateway.broker.retained(stateFilter(SITE));
      const desk = got.find((m) => m.topic === `fac/v1/${SITE}/state/desks/st-01`);
      return desk && (JSON.parse(desk.payload) as { state: string }).state === 'occupied' && got.find((m) => m.topic.endsWith('/state/machines/reflow-1'))?.payload.includes('running') ? got : undefined;
    });
    const expected = liveMessages(live);
    expect(new Set(retained.map((m) => m.topic))).toEqual(new Set(expected.keys()));
    expect(retained.every((m) => m.qos === 1)).toBe(true);
    const payload = (topic: string) => JSON.parse(retained.find((m) => m.topic === topic)!.payload) as unknown;
    expect(payload(`fac/v1/${SITE}/state/desks/st-01`)).toEqual({ space: 'startup', state: 'occupied', since: occupiedAt });
    expect(payload(`fac/v1/${SITE}/state/machines/reflow-1`)).toEqual(live.machines['reflow-1']);
    expect(payload(`fac/v1/${SITE}/state/spaces/elab`)).toEqual(live.spaces.elab);
    expect(payload(`fac/v1/${SITE}/state/site`)).toEqual(live.totals);
    expect(JSON.stringify(retained.filter((m) => !m.topic.includes('/machines/')))).not.toContain(memberId);
    const health = (await (await fetch(`${system.httpUrl}/healthz`)).json()) as { live: Record<string, number>; audit: { lastCheckpoint: { size: number; keyId: string } | null } };
    // The journal's newest signed checkpoint (the gateway signs one when it announces its key at the first start).
    expect(health.audit).toHaveProperty('lastCheckpoint');
    if (health.audit.lastCheckpoint !== null) expect(health.audit.lastCheckpoint).toMatchObject({ size: expect.any(Number) as number, keyId: expect.stringMatching(/^[0-9a-f]{16}$/) as string });
    expect(health.live).toMatchObject({ late: 0, retainedTopics: expected.size, tickMs: expect.any(Number) as number, maxTickMs: expect.any(Number) as number });
    expect(health.live.maxTickMs).toBeGreaterThan(0);
    expect(health.live.records).toBeGreaterThanOrEqual(5);

    // The stream: its snapshot with the changes applied is the same state.
    await eventually('the stream to reach the same state', () => {
      const s = sse.state();
      return s && JSON.stringify(withoutTime(s)) === JSON.stringify(withoutTime(live)) ? true : undefined;
    });
    expect(sse.events.slice(1).every((e) => e.event === 'change')).toBe(true);
    expect(sse.events.length).toBeGreaterThan(1);
    sse.close();
  });

  it('lets no device subscribe to the state topics', async () => {
    const got: string[] = [];
    const c = devices['occ-st-01']!;
    c.on('message', (topic) => got.push(topic));
    const suback = new Promise<number[]>((resolve) =>
      c.on('packetreceive', (p) => {
        if (p.cmd === 'suback') resolve(p.granted as number[]);
      }),
    );
    c.subscribe([stateFilter(SITE), `fac/v1/${SITE}/state/site`], { qos: 1 }, () => undefined);
    expect(await suback).toEqual([128, 128]);
    await new Promise((r) => setTimeout(r, 300));
    expect(got.filter((t) => t.includes('/state/'))).toEqual([]);
  });

  it('rebuilds the same state from the journal after a restart', async () => {
    const before = (await ok<LiveState>('GET', '/api/v1/live'));
    await closeDevices();
    await system.stop();
    system = await startup();
    await login();
    const after = await ok<LiveState>('GET', '/api/v1/live');
    expect(withoutTime(after)).toEqual(withoutTime(before));
    expect(after.machines['reflow-1']).toMatchObject({ state: 'running', memberId });
    expect(after.presence.elab).toEqual(before.presence.elab);
    // …and publishes it again on the new broker.
    const retained = await eventually('the state retained again', async () => {
      const got = await system.gateway.broker.retained(`fac/v1/${SITE}/state/desks/st-01`);
      return got.length === 1 ? got : undefined;
    });
    expect(JSON.parse(retained[0]!.payload)).toEqual({ space: 'startup', state: 'occupied', since: occupiedAt });
  });

  it('writes the per-minute occupancy series to InfluxDB in the documented shape', async () => {
    // The gateway writes these once a minute (tests/unit/live-view.test.ts); here the same points go to a real InfluxDB.
    const state = await ok<LiveState>('GET', '/api/v1/live');
    const minute = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    const writer = new SeriesWriter({ client: influx.client, logger: pino({ level: 'silent' }) });
    writer.add(occupancyPoints(state, minute));
    await writer.flush();
    expect(writer.stats()).toMatchObject({ pending: 0, lastError: null, written: Object.keys(state.spaces).length });
    const [res] = await influx.client.query(`SELECT * FROM space_occupancy WHERE time = ${minute}ms GROUP BY *`, { epoch: 'ms' });
    const rows = (res?.series ?? []).map((s) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, s.values[0]![i]])) }));
    expect(rows.find((r) => r.space === 'elab')).toEqual({
      site: SITE,
      space: 'elab',
      time: minute,
      capacity: 10,
      desks: 0,
      desks_occupied: 0,
      desks_unknown: 0,
      machines: 2,
      machines_in_use: 1,
      machines_running: 1,
      people: 1,
    });
    const [fields] = await influx.client.query('SHOW FIELD KEYS FROM space_occupancy');
    expect(new Set(fields?.series?.[0]?.values.map((v) => v[1]))).toEqual(new Set(['float']));
  });
});
