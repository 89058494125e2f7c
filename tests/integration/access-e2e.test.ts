/**
 * Access control end to end, as deployed with a central server: a real HTTP
 * server (the whole API over SQLite), a gateway started as `facility gateway`
 * (startSystem mode 'gateway': its policy comes from that server over HTTP and
 * Server-Sent Events, kept on disk), a real influxd, and devices on the wire:
 *
 * - canonical door controllers and machine readers over MQTT (raw clients
 *   that see every command), a Tasmota plug and a Shelly plug (firmware-sim),
 *   and the RDM6300 and Wiegand-26 readers on socat pseudo-terminals;
 * - members, badges, plans and certifications made through the API;
 * - the server stopped mid-test (decisions continue from the snapshot) and
 *   started again (a change made then reaches the gateway, and the journal
 *   checkpoints signed meanwhile reach the server);
 * - the gateway restarted (anti-passback and a running machine session survive).
 *
 * The example site's doors and machines have no opening hours, so the real
 * time of day the suite runs at does not matter.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMap, isSeq, parseDocument } from 'yaml';
import { buildConfig, type FacilityConfig } from '../../cli/config.js';
import { loadSiteFile } from '../../cli/init.js';
import { startSystem, type RunningSystem } from '../../cli/system.js';
import { silentLogger } from '../../firmware-sim/devices/canonical.js';
import { SIM_DEVICES } from '../../firmware-sim/devices/index.js';
import { wiegand26IdForCard } from '../../firmware-sim/devices/serial-reader.js';
import { ShellyPlug } from '../../firmware-sim/devices/shelly-gen2.js';
import { TasmotaPlug } from '../../firmware-sim/devices/tasmota.js';
import type { SimDevice } from '../../firmware-sim/devices/types.js';
import { generateDeviceSecret, hashSecret, readSecretsFile } from '../../gateway/auth/secrets.js';
import { buildApp } from '../../server/app.js';
import { connectDevice } from '../harness/devices.js';
import { makeTestSite, type TestSite } from '../harness/gateway.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { makeTestServer, TEST_PASSWORD_PARAMS, type TestServer } from '../harness/server.js';

const SITE = 'demo-makerspace';
const CARD_A = '0A1B2C3D4E'; // member A's em4100 card (seeded)
const CARD_B = '04A1B2C3'; // member B's uid card (seeded), no plan
const CARD_C = 'C0C0C0C0';
const CARD_D = 'D0D0D0D0';

let influx: TestInflux;
let site: TestSite;
let server: TestServer;
let app: FastifyInstance;
let serverPort: number;
let dataDir: string;
let config: FacilityConfig;
let system: RunningSystem;
let brokerUrl: string;
let tasmota: TasmotaPlug;
let shelly: ShellyPlug;
const serial = new Map<string, SimDevice>();
const members: Record<'a' | 'b' | 'c' | 'd', string> = { a: '', b: '', c: '', d: '' };

interface Command {
  readonly device: string;
  readonly channel: string;
  readonly body: Record<string, unknown>;
  /** Arrival order over all devices. */
  readonly n: number;
}

/** A point in the test: commands after it (in arrival order), and records from its time on. */
interface Mark {
  readonly n: number;
  readonly t: number;
}
let arrivals = 0;
const mark = (): Mark => ({ n: arrivals, t: Date.now() });

/** A canonical device on the wire: publishes badges and health with its own boot/seq and clock, records every command it gets. */
class Wire {
  readonly commands: Command[] = [];
  seq = 0;
  constructor(
    readonly id: string,
    readonly client: MqttClient,
    /** Sequence numbers restart with every boot. */
    readonly boot: number,
    /** Device clock offset from real time (ms). */
    public skewMs = 0,
  ) {
    client.on('message', (topic, payload) => {
      const channel = topic.split('/').pop()!;
      this.commands.push({ device: id, channel, body: JSON.parse(payload.toString()) as Record<string, unknown>, n: ++arrivals });
    });
  }

  static async open(id: string, secret: string, boot: number): Promise<Wire> {
    const client = await connectDevice(brokerUrl, id, secret);
    const w = new Wire(id, client, boot);
    await client.subscribeAsync(`fac/v1/${SITE}/d/${id}/cmd/#`, { qos: 1 });
    return w;
  }

  /** Publishes a swipe (QoS 1, resolves on PUBACK); returns the exact payload so a test can replay it. */
  async badge(format: string, card: string, opts: { ts?: number; payload?: string } = {}): Promise<string> {
    const payload = opts.payload ?? JSON.stringify({ boot: this.boot, seq: this.seq++, ts: opts.ts ?? Date.now() + this.skewMs, format, card });
    await this.client.publishAsync(`fac/v1/${SITE}/d/${this.id}/badge`, payload, { qos: 1 });
    return payload;
  }

  async health(): Promise<void> {
    const payload = JSON.stringify({ boot: this.boot, seq: this.seq++, ts: Date.now() + this.skewMs, link_quality: 200 });
    await this.client.publishAsync(`fac/v1/${SITE}/d/${this.id}/health`, payload, { qos: 1 });
  }

  of(channel: string, since: Mark): Command[] {
    return this.commands.filter((c) => c.channel === channel && c.n > since.n);
  }

  next(channel: string, since: Mark): Promise<Command> {
    return eventually(`${channel} command at ${this.id}`, () => this.of(channel, since)[0]);
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

const wires: Record<string, Wire> = {};

async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Nothing on `channel` at the device for a while (a command that must not come). */
async function silence(w: Wire, channel: string, since: Mark, ms = 400): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  expect(w.of(channel, since)).toEqual([]);
}

type Row = Record<string, unknown>;
async function rows(q: string): Promise<Row[]> {
  const [res] = await influx.client.query(q, { epoch: 'ms' });
  const out: Row[] = [];
  for (const s of res?.series ?? []) for (const v of s.values) out.push({ ...(s.tags ?? {}), ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) });
  return out.sort((a, b) => (a.time as number) - (b.time as number));
}

async function drained(): Promise<void> {
  await eventually('the sink to drain', () => {
    const h = system.gateway.health();
    return h.sink.cursor >= h.journal.lastSeq && h.journal.pending === 0 ? true : undefined;
  });
}

const decisionsAt = (device: string, since: Mark) =>
  rows(`SELECT granted, member, policy_version, "session", max_run_s FROM access_decision WHERE device = '${device}' AND time >= ${since.t}ms GROUP BY *`);

/** The server's current policy version, and the gateway holding it. */
async function gatewayCaughtUp(): Promise<number> {
  const { policyVersion: version } = (await api('GET', '/api/v1/gateways')) as { policyVersion: number };
  await eventually(`the gateway to hold policy version ${version}`, () => ((system.gateway.health().access.policyVersion ?? -1) >= version ? true : undefined));
  return version;
}

async function api(method: 'POST' | 'PATCH' | 'GET', url: string, payload?: unknown): Promise<Record<string, unknown>> {
  const res = await app.inject({ method, url, headers: { cookie: await server.login('manager') }, ...(payload !== undefined && { payload: payload as object }) });
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.json<Record<string, unknown>>();
}

/** The test server's app again, over the same database and port (as after a server restart). */
async function serveAgain(): Promise<void> {
  app = await buildApp({
    logger: pino({ level: 'silent' }),
    server: {
      db: server.db,
      clock: server.clock,
      sessionTtlMs: 12 * 3600_000,
      passwordParams: TEST_PASSWORD_PARAMS,
      loginPerIpPerMinute: 10_000,
      loginFailuresPerAccount: 100,
      loginRefillMs: 1000,
      requestsPerMinute: 1_000_000,
    },
  });
  await app.listen({ host: '127.0.0.1', port: serverPort });
}

/** Adds a reader for a door's way out and one for a Shelly-switched printer to the example site. */
async function extendSite(t: TestSite): Promise<Record<string, string>> {
  const doc = parseDocument(await readFile(t.sitePath, 'utf8'));
  const devices = doc.get('devices');
  if (!isSeq(devices)) throw new Error('site has no devices');
  const secrets: Record<string, string> = {};
  const add = (d: Record<string, unknown>) => {
    const secret = generateDeviceSecret();
    secrets[d.id as string] = secret;
    devices.items.push(doc.createNode({ ...d, credentials: { hash: hashSecret(secret) } }));
  };
  add({ id: 'br-main-out', kind: 'badge-reader', door: 'main', direction: 'out' });
  add({ id: 'br-fdm-1', kind: 'badge-reader', equipment: 'fdm-1' });
  // No unexpected map shape sneaks in.
  expect(devices.items.every((i) => isMap(i))).toBe(true);
  await writeFile(t.sitePath, doc.toString({ lineWidth: 0 }));
  return secrets;
}

let fleetPassword = '';
/** The size of the journal checkpoint signed while the server was stopped. */
let signedWhileAway = 0;
const laserPlug = (relayOn: boolean) =>
  new TasmotaPlug({ device: site.site.devices.get('pm-laser-1')!, password: fleetPassword, brokerUrl, boot: 1, timeZone: site.site.timezone, relayOn, connectTimeoutMs: 5000 });

async function startGateway(): Promise<void> {
  system = await startSystem(config, pino({ level: process.env.OF_TEST_LOG ?? 'silent' }), 'gateway');
  brokerUrl = `mqtt://127.0.0.1:${system.mqttPort}`;
}

/** Connects the test's canonical devices; `boot` is new each time (as devices that restarted, so seq starts again). */
async function openWires(secrets: Record<string, string>, boot: number): Promise<void> {
  for (const id of ['dc-main', 'dc-fablab', 'dc-elab', 'dc-workshop', 'br-laser-1', 'br-main-out', 'br-fdm-1']) wires[id] = await Wire.open(id, secrets[id]!, boot);
}

beforeAll(async () => {
  [influx, site, server] = await Promise.all([startTestInfluxd(), makeTestSite({ serial: true }), makeTestServer()]);
  const extra = await extendSite(site);
  const secrets = { ...site.secrets, ...extra };
  site = { ...site, site: await loadSiteFile(site.sitePath), secrets };
  app = server.app;
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  serverPort = Number(new URL(address).port);

  // The world: a plan for every space; A (seeded, em4100 card) is trained for the fab lab and the lasers and printers;
  // B (seeded, uid card) has no plan; C and D are on the plan, C trained on the laser, D on nothing.
  members.a = server.seed.members.a;
  members.b = server.seed.members.b;
  await api('PATCH', `/api/v1/plans/${server.seed.plan}`, { spaces: ['*'], hours: [] });
  await api('PATCH', `/api/v1/members/${members.a}`, { planValidFrom: null, planValidTo: null });
  for (const [key, no, card] of [['c', 'M-0003', CARD_C], ['d', 'M-0004', CARD_D]] as const) {
    const m = await api('POST', '/api/v1/members', { memberNo: no, name: `Member ${key.toUpperCase()}`, joinedOn: '2026-01-05', planId: server.seed.plan });
    members[key] = m.id as string;
    await api('POST', `/api/v1/members/${members[key]}/badges`, { format: 'uid', credential: card, issuedOn: '2026-01-05' });
  }
  // The Wiegand reader sees the low 24 bits of A's card as facility:card.
  await api('POST', `/api/v1/members/${members.a}/badges`, { format: 'wiegand26', credential: wiegand26IdForCard('em4100', CARD_A), issuedOn: '2026-01-05' });
  for (const cls of ['fablab-safety', 'laser-cutter', '3d-printer']) await api('POST', '/api/v1/certifications', { memberId: members.a, class: cls, issuedOn: '2026-01-05' });
  for (const cls of ['fablab-safety', 'laser-cutter']) await api('POST', '/api/v1/certifications', { memberId: members.c, class: cls, issuedOn: '2026-01-05' });

  const gw = await app.inject({ method: 'POST', url: '/api/v1/gateways', headers: { cookie: await server.login('admin') }, payload: { siteId: SITE, name: 'Lab gateway' } });
  expect(gw.statusCode).toBe(201);

  dataDir = await mkdtemp(join(tmpdir(), 'of-access-'));
  config = buildConfig({
    dataDir,
    siteFile: site.sitePath,
    secretsFile: site.secretsPath,
    mqtt: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    influx: { url: influx.url, db: influx.db, lingerMs: 20 },
    sim: { enabled: false },
    gateway: { serverUrl: `http://127.0.0.1:${serverPort}`, serverToken: gw.json<{ token: string }>().token, policyPollS: 2 },
  });
  await startGateway();
  await openWires(secrets, 1);

  fleetPassword = (await readSecretsFile(site.secretsPath)).logins?.['tasmota-fleet'] ?? '';
  tasmota = laserPlug(false);
  shelly = new ShellyPlug({ device: site.site.devices.get('pm-fdm-1')!, password: secrets['pm-fdm-1']!, brokerUrl, boot: 1, connectTimeoutMs: 5000 });
  await tasmota.start();
  await shelly.start();
  for (const id of ['rd-fablab', 'rd-workshop']) {
    const device = site.site.devices.get(id)!;
    const r = SIM_DEVICES[device.format]!({ site: site.site, device, secret: undefined, brokerUrl, boot: 1, clock: Date.now, logger: silentLogger, siteDir: site.dir, shared: new Map(), secretOf: () => undefined });
    serial.set(id, r);
    await r.start();
  }
  await eventually('serial readers open', () => (system.gateway.health().serial.every((s) => s.state === 'open') ? true : undefined));
  await gatewayCaughtUp();
}, 60_000);

afterAll(async () => {
  for (const w of Object.values(wires)) await w.close().catch(() => undefined);
  for (const r of serial.values()) await r.stop().catch(() => undefined);
  await tasmota?.stop().catch(() => undefined);
  await shelly?.stop().catch(() => undefined);
  await system?.stop();
  if (app !== server?.app) await app?.close();
  await server?.close();
  await influx?.stop();
  await site?.cleanup();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('doors over MQTT', () => {
  it('unlocks for a member on the plan, tells the reader why, and records the decision with the policy version', async () => {
    const since = mark();
    await wires['dc-main']!.badge('em4100', CARD_A);
    expect((await wires['dc-main']!.next('unlock', since)).body).toEqual({ durationMs: 5000 });
    const fb = await wires['dc-main']!.next('feedback', since);
    expect(fb.body).toMatchObject({ grant: true, reason: 'granted', led: 'green', beeps: 1, text: { en: 'Welcome', zh: '欢迎' } });
    await drained();
    const version = system.gateway.health().access.policyVersion;
    const [row] = await decisionsAt('dc-main', since);
    expect(row).toMatchObject({ grant: 'true', reason: 'granted', target: 'main', target_type: 'door', space: 'cowork', member: members.a, policy_version: version });
    expect(system.gateway.health().access.present).toBeGreaterThanOrEqual(1);
  });

  it('refuses a second entry through an anti-passback door, with the reason on the reader and no unlock', async () => {
    const since = mark();
    await wires['dc-main']!.badge('em4100', CARD_A);
    expect((await wires['dc-main']!.next('feedback', since)).body).toMatchObject({ grant: false, reason: 'anti_passback', led: 'red', text: { zh: '您已在内，请先刷卡离开' } });
    await silence(wires['dc-main']!, 'unlock', since);
  });

  it('refuses a member without a plan and an unknown card, in both languages', async () => {
    const since = mark();
    await wires['dc-main']!.badge('uid', CARD_B);
    await wires['dc-main']!.badge('uid', 'FFFFFFFF');
    await eventually('two feedbacks', () => (wires['dc-main']!.of('feedback', since).length >= 2 ? true : undefined));
    expect(wires['dc-main']!.of('feedback', since).map((c) => [c.body.reason, (c.body.text as { en: string }).en])).toEqual([
      ['no_plan', 'No membership plan'],
      ['unknown_badge', 'Unknown card'],
    ]);
    await silence(wires['dc-main']!, 'unlock', since);
    await drained();
    const refused = await decisionsAt('dc-main', since);
    expect(refused.map((r) => [r.reason, r.member ?? null])).toEqual([
      ['no_plan', members.b],
      ['unknown_badge', null],
    ]);
  });

  it('lets out someone who never badged in (B, no plan), and D in afterwards, anti-passback untouched', async () => {
    const since = mark();
    const present = system.gateway.health().access.present;
    await wires['br-main-out']!.badge('uid', CARD_B);
    expect((await wires['dc-main']!.next('unlock', since)).body).toEqual({ durationMs: 5000 });
    expect((await wires['br-main-out']!.next('feedback', since)).body).toMatchObject({ grant: true, reason: 'exit' });
    expect(system.gateway.health().access.present).toBe(present);
    await wires['br-main-out']!.badge('uid', CARD_D);
    await eventually('D let out', () => wires['br-main-out']!.of('feedback', since)[1]);
    const inAgain = mark();
    await wires['dc-main']!.badge('uid', CARD_D);
    expect((await wires['dc-main']!.next('feedback', inAgain)).body).toMatchObject({ grant: true, reason: 'granted' });
  });

  it('opens nothing twice for a replayed swipe (same boot and seq)', async () => {
    const w = wires['dc-main']!;
    // A leaves, then the exit swipe's packet is replayed.
    const since = mark();
    const payload = await wires['br-main-out']!.badge('em4100', CARD_A);
    await w.next('unlock', since);
    const dupBefore = system.gateway.health().access.duplicates;
    const replay = mark();
    await wires['br-main-out']!.badge('em4100', CARD_A, { payload });
    await silence(w, 'unlock', replay);
    expect(system.gateway.health().access.duplicates).toBe(dupBefore + 1);
  });
});

describe('doors over serial readers', () => {
  it('RDM6300 at the fab lab: a trained member is let in (the door controller unlocks)', async () => {
    const since = mark();
    await serial.get('rd-fablab')!.badge('em4100', CARD_A);
    expect((await wires['dc-fablab']!.next('unlock', since)).body).toEqual({ durationMs: 5000 });
    await drained();
    expect((await decisionsAt('rd-fablab', since)).map((r) => r.reason)).toEqual(['granted']);
  });

  it('Wiegand-26 at the workshop: refused without the safety certification, let in once it is recorded', async () => {
    const since = mark();
    await serial.get('rd-workshop')!.badge('em4100', CARD_A);
    const refused = await eventually('the decision in InfluxDB', async () => {
      const r = await decisionsAt('rd-workshop', since);
      return r.length > 0 ? r : undefined;
    });
    expect(refused.map((r) => r.reason)).toEqual(['certification_missing']);
    await silence(wires['dc-workshop']!, 'unlock', since, 200);

    await api('POST', '/api/v1/certifications', { memberId: members.a, class: 'workshop-safety', issuedOn: '2026-01-05' });
    await gatewayCaughtUp();
    // The reader debounces the same card for 1 s (a held card repeats): present it again after that.
    await new Promise((r) => setTimeout(r, Math.max(0, since.t + 1100 - Date.now())));
    const again = mark();
    await serial.get('rd-workshop')!.badge('em4100', CARD_A);
    expect((await wires['dc-workshop']!.next('unlock', again)).body).toEqual({ durationMs: 5000 });
  });
});

describe('machines', () => {
  it('powers the Tasmota laser on for a certified member, with a session id; C takes it over; C badges out and it goes off', async () => {
    const reader = wires['br-laser-1']!;
    const since = mark();
    expect(tasmota.relayOn).toBe(false);
    await reader.badge('em4100', CARD_A);
    const granted = await reader.next('session', since);
    expect(granted.body).toMatchObject({ state: 'granted', memberId: members.a, reason: 'granted' });
    const first = granted.body.sessionId as string;
    expect(first).toMatch(/^laser-1\./);
    await eventually('the laser relay on', () => (tasmota.relayOn ? true : undefined));

    // D is not trained on the laser: refused, the session stays A's.
    const refusedAt = mark();
    await reader.badge('uid', CARD_D);
    expect((await reader.next('session', refusedAt)).body).toMatchObject({ state: 'denied', reason: 'certification_missing', sessionId: null });
    expect(tasmota.relayOn).toBe(true);

    const takeover = mark();
    await reader.badge('uid', CARD_C);
    const second = await reader.next('session', takeover);
    expect(second.body).toMatchObject({ state: 'granted', memberId: members.c });
    expect(second.body.sessionId).not.toBe(first);
    expect(tasmota.relayOn).toBe(true);

    const out = mark();
    await reader.badge('uid', CARD_C);
    expect((await reader.next('session', out)).body).toMatchObject({ state: 'ended', reason: 'session_ended', sessionId: second.body.sessionId });
    await eventually('the laser relay off', () => (tasmota.relayOn ? undefined : true));

    await drained();
    const sessions = await rows(`SELECT duration_s, member, "session" FROM equipment_session WHERE equipment = 'laser-1' AND time >= ${since.t}ms GROUP BY *`);
    expect(sessions.map((s) => [s.event, s.reason, s.member, s.session])).toEqual([
      ['start', 'granted', members.a, first],
      ['end', 'takeover', members.a, first],
      ['start', 'granted', members.c, second.body.sessionId],
      ['end', 'badge_out', members.c, second.body.sessionId],
    ]);
  });

  it('switches a Shelly printer with Switch.Set', async () => {
    const since = mark();
    await wires['br-fdm-1']!.badge('em4100', CARD_A);
    expect((await wires['br-fdm-1']!.next('session', since)).body).toMatchObject({ state: 'granted' });
    await eventually('the printer relay on', () => (shelly.relayOn ? true : undefined));
    await wires['br-fdm-1']!.badge('em4100', CARD_A);
    await eventually('the printer relay off', () => (shelly.relayOn ? undefined : true));
  });
});

describe('device clocks', () => {
  it('decides on gateway time for a reader whose clock is 3 hours slow, and stores the swipe at device time', async () => {
    const w = wires['dc-elab']!;
    w.skewMs = -3 * 3600_000;
    await w.health();
    const since = mark();
    await w.badge('em4100', CARD_A);
    expect((await w.next('unlock', since)).body).toEqual({ durationMs: 5000 });
    await drained();
    const swipes = await rows(`SELECT card, ts_source FROM badge_swipe WHERE device = 'dc-elab' AND time >= ${since.t - 3 * 3600_000 - 60_000}ms AND time < ${since.t - 3600_000}ms GROUP BY *`);
    expect(swipes.map((s) => s.ts_source)).toContain('device');
    // The decision is stamped with the gateway's time.
    expect((await decisionsAt('dc-elab', since)).map((r) => r.reason)).toEqual(['granted']);
  });

  it('opens nothing for a swipe that sat in the reader’s queue, and records it as swipe_late', async () => {
    const w = wires['dc-elab']!;
    const since = mark();
    // Read 2 minutes ago (on the same slow clock), delivered only now.
    await w.badge('em4100', CARD_A, { ts: Date.now() + w.skewMs - 120_000 });
    await silence(w, 'unlock', since);
    expect(w.of('feedback', since)).toEqual([]);
    await drained();
    expect((await decisionsAt('dc-elab', since)).map((r) => [r.reason, r.grant])).toEqual([['swipe_late', 'false']]);
    expect(system.gateway.health().access.late).toBeGreaterThanOrEqual(1);
    // A member at the reader now is let in.
    const now = mark();
    await w.badge('em4100', CARD_A);
    await w.next('unlock', now);
  });

  it('takes a reader clock 10 minutes fast as gateway time (beyond the future limit) and still decides', async () => {
    const w = wires['dc-fablab']!;
    w.skewMs = 10 * 60_000;
    const since = mark();
    await w.badge('em4100', CARD_A);
    expect((await w.next('feedback', since)).body).toMatchObject({ grant: true });
  });
});

describe('the server away', () => {
  it('keeps deciding from the snapshot while the server is stopped, and says how old it is', async () => {
    await app.close();
    const since = mark();
    await serial.get('rd-fablab')!.badge('em4100', CARD_A);
    await wires['dc-main']!.badge('uid', CARD_B);
    await wires['dc-fablab']!.next('unlock', since);
    expect((await wires['dc-main']!.next('feedback', since)).body).toMatchObject({ grant: false, reason: 'no_plan' });
    const h = system.gateway.health();
    expect(h.access.policyVersion).not.toBeNull();
    expect(typeof h.access.policyAgeS).toBe('number');
    // The journal signs a checkpoint meanwhile: it cannot leave the gateway yet, and ingest does not wait on that.
    signedWhileAway = (await system.gateway.journal.checkpoint()).checkpoint.size;
  });

  it('catches up when the server returns: a badge blocked then is refused', async () => {
    await serveAgain();
    const badges = await api('GET', `/api/v1/members/${members.c}/badges`);
    const badgeId = (badges as unknown as { id: string }[])[0]!.id;
    await api('PATCH', `/api/v1/badges/${badgeId}`, { status: 'blocked' });
    await gatewayCaughtUp();
    const since = mark();
    await wires['br-laser-1']!.badge('uid', CARD_C);
    expect((await wires['br-laser-1']!.next('feedback', since)).body).toMatchObject({ grant: false, reason: 'badge_blocked' });
  });

  it('hands the server the journal checkpoints signed while it was away, and the next ones (docs/audit.md)', async () => {
    const after = (await system.gateway.journal.checkpoint()).checkpoint.size;
    expect(after).toBeGreaterThan(signedWhileAway);
    const { gateways } = (await api('GET', '/api/v1/gateways')) as { gateways: { id: string; siteId: string }[] };
    const id = gateways.find((g) => g.siteId === SITE)!.id;
    const kept = await eventually(`the server to keep checkpoint ${after}`, async () => {
      const r = (await api('GET', `/api/v1/gateways/${id}/checkpoints`)) as { latest: { size: number } | null; checkpoints: { size: number }[]; keys: unknown[]; alarms: unknown[] };
      return r.latest !== null && r.latest.size >= after ? r : undefined;
    });
    expect(kept.checkpoints.map((c) => c.size)).toContain(signedWhileAway);
    expect(kept.keys).toHaveLength(1);
    expect(kept.alarms).toEqual([]);
  });
});

describe('a gateway restart', () => {
  it('keeps who is inside (anti-passback) and a running machine session', async () => {
    // A goes in through the main door and starts the laser.
    const since = mark();
    await wires['dc-main']!.badge('em4100', CARD_A);
    expect((await wires['dc-main']!.next('feedback', since)).body).toMatchObject({ reason: 'granted' });
    await wires['br-laser-1']!.badge('em4100', CARD_A);
    const session = (await wires['br-laser-1']!.next('session', since)).body.sessionId;
    await drained();

    for (const w of Object.values(wires)) await w.close();
    for (const r of serial.values()) await r.stop();
    await tasmota.stop();
    await shelly.stop();
    await system.stop();
    serial.clear();
    await startGateway();
    await openWires(site.secrets, 2);
    // The broker listens on a new port: the plug connects there.
    tasmota = laserPlug(tasmota.relayOn);
    await tasmota.start();
    await eventually('the policy reloaded', () => (system.gateway.health().access.policyVersion !== null ? true : undefined));

    const after = mark();
    await wires['dc-main']!.badge('em4100', CARD_A);
    expect((await wires['dc-main']!.next('feedback', after)).body).toMatchObject({ grant: false, reason: 'anti_passback' });
    expect(system.gateway.health().access.sessions).toBe(1);
    // A badges at the laser again: the session from before the restart ends.
    await wires['br-laser-1']!.badge('em4100', CARD_A);
    expect((await wires['br-laser-1']!.next('session', after)).body).toMatchObject({ state: 'ended', reason: 'session_ended', sessionId: session });
    await drained();
    const ends = await rows(`SELECT "session" FROM equipment_session WHERE equipment = 'laser-1' AND event = 'end' AND time >= ${after.t}ms GROUP BY *`);
    expect(ends.map((e) => e.session)).toEqual([session]);
  });
});
