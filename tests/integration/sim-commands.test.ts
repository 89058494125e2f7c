/**
 * The simulated canonical device's side of the commands (docs/protocol.md,
 * "Commands"), driven through an in-process aedes that publishes as the gateway
 * does: a door controller unlocks, a meter switches its relay, a reader keeps
 * feedback and session messages, a retained config is applied once per
 * version, heartbeats follow the applied config while connected, and nothing
 * malformed is acted on or throws. Heartbeat timers are injected and fired by
 * hand, so nothing here waits for a heartbeat period.
 */
import { createServer, type Server } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigCommand } from '../../core/protocol/commands.js';
import { commandTopic } from '../../core/protocol/topics.js';
import { CanonicalDevice, type ReceivedCommand, type SimLogger, type SimTimers } from '../../firmware-sim/devices/canonical.js';
import { exampleSite, fixtureSecrets } from '../harness/site-fixture.js';

const site = exampleSite();
const secrets = fixtureSecrets(site);
const NOW = 1_800_000_000_000;

interface Uplink {
  readonly topic: string;
  readonly payload: string;
  readonly clientId: string | null;
}

let broker: Aedes;
let server: Server;
let url: string;
const uplinks: Uplink[] = [];
const devices: CanonicalDevice[] = [];

function waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (pred()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

/** Publishes as the gateway does: in-process, QoS 1. */
function send(device: string, command: string, payload: string | object, retain = false): Promise<void> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    broker.publish({ cmd: 'publish', topic: commandTopic(site.id, device, command), payload: Buffer.from(body), qos: 1, retain, dup: false }, (err) => (err ? reject(err) : resolve()));
  });
}

/** Heartbeat timers that only fire when the test says so. */
class ManualTimers implements SimTimers {
  readonly armed = new Map<number, { fn: () => void; ms: number }>();
  private next = 1;
  setInterval(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.armed.set(id, { fn, ms });
    return id;
  }
  clearInterval(handle: unknown): void {
    this.armed.delete(handle as number);
  }
  /** Periods of the timers armed now, ms. */
  periods(): number[] {
    return [...this.armed.values()].map((t) => t.ms);
  }
  fire(): void {
    for (const t of [...this.armed.values()]) t.fn();
  }
}

/** Keeps what the device logs, to check that ignored commands say why. */
function recordingLogger(): SimLogger & { warnings: object[]; errors: object[] } {
  const warnings: object[] = [];
  const errors: object[] = [];
  return { warnings, errors, debug() {}, info() {}, warn: (o) => warnings.push(o), error: (o) => errors.push(o) };
}

function device(id: string, extra: Partial<ConstructorParameters<typeof CanonicalDevice>[0]> = {}): CanonicalDevice {
  const d = new CanonicalDevice({ site: site.id, device: site.devices.get(id)!, secret: secrets[id]!, brokerUrl: url, boot: 7, clock: () => NOW, ...extra });
  devices.push(d);
  return d;
}

function configFor(id: string, version: string, heartbeatS?: number): ConfigCommand {
  const info = site.devices.get(id)!;
  return {
    version,
    site: site.id,
    device: id,
    target: info.target,
    direction: info.direction,
    unlockMs: 5000,
    timezone: site.timezone,
    ...(heartbeatS !== undefined && { heartbeatS }),
  };
}

beforeAll(async () => {
  broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      if (username !== undefined && username === client.id && secrets[username] === password?.toString()) return done(null, true);
      const err = new Error('bad user name or password') as AuthenticateError;
      err.returnCode = 4;
      done(err, null);
    },
  });
  broker.on('publish', (packet, client) => {
    if (client) uplinks.push({ topic: packet.topic, payload: packet.payload.toString(), clientId: client.id });
  });
  server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  url = `mqtt://127.0.0.1:${address.port}`;
});

afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
  uplinks.length = 0;
});

afterAll(async () => {
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('door controller', () => {
  it('unlocks until device time + durationMs, shows feedback, and tells its listeners', async () => {
    const dc = device('reader-lab');
    const seen: ReceivedCommand[] = [];
    const off = dc.onCommand((c) => seen.push(c));
    await dc.start();
    expect(dc.unlockedUntil).toBeNull();
    expect(dc.unlocked()).toBe(false);

    await send('reader-lab', 'unlock', { durationMs: 5000 });
    await waitFor(() => dc.unlockedUntil !== null, 2000, 'unlock');
    expect(dc.unlockedUntil).toBe(NOW + 5000);
    expect(dc.unlocked(NOW + 4999)).toBe(true);
    expect(dc.unlocked(NOW + 5000)).toBe(false);

    const feedback = { grant: true, reason: 'granted', led: 'green', beeps: 1, text: { en: 'Welcome', zh: '欢迎' } };
    await send('reader-lab', 'feedback', feedback);
    await waitFor(() => dc.lastFeedback !== undefined, 2000, 'feedback');
    expect(dc.lastFeedback).toEqual(feedback);
    expect(seen).toEqual([
      { name: 'unlock', payload: { durationMs: 5000 }, topic: 'fac/v1/demo/d/reader-lab/cmd/unlock', retain: false, applied: true, at: NOW },
      { name: 'feedback', payload: feedback, topic: 'fac/v1/demo/d/reader-lab/cmd/feedback', retain: false, applied: true, at: NOW },
    ]);

    // Unsubscribed: the device still acts, the listener hears nothing more.
    off();
    await send('reader-lab', 'unlock', { durationMs: 8000 });
    await waitFor(() => dc.unlockedUntil === NOW + 8000, 2000, 'second unlock');
    expect(seen).toHaveLength(2);
    expect(dc.commandErrors).toBe(0);
  });

  it('keeps going when a listener throws: the others still hear the command', async () => {
    const log = recordingLogger();
    const dc = device('reader-lab', { logger: log });
    const heard: string[] = [];
    dc.onCommand(() => {
      throw new Error('listener bug');
    });
    dc.onCommand((c) => heard.push(c.name));
    await dc.start();
    await send('reader-lab', 'unlock', { durationMs: 1000 });
    await waitFor(() => heard.length === 1, 2000, 'second listener');
    expect(dc.unlockedUntil).toBe(NOW + 1000);
    expect(log.errors).toEqual([{ device: 'reader-lab', command: 'unlock', err: 'listener bug' }]);
    expect(dc.connected).toBe(true);
  });
});

describe('retained config', () => {
  it('is applied once per version: redelivered, after a reconnect, and again with the same version it changes nothing', async () => {
    const v1 = configFor('reader-main', 'v1-aaaaaaaa');
    // Retained before the device first connects, as the gateway does on start (a device id no other
    // test here connects with, so it has no session yet and subscribes afresh).
    await send('reader-main', 'config', v1, true);
    const dc = device('reader-main', { heartbeats: false });
    const seen: ReceivedCommand[] = [];
    dc.onCommand((c) => seen.push(c));
    await dc.start();
    await waitFor(() => dc.configApplications === 1, 2000, 'config applied');
    expect(dc.config).toEqual(v1);
    expect(dc.configVersion).toBe('v1-aaaaaaaa');
    expect(seen).toEqual([{ name: 'config', payload: v1, topic: 'fac/v1/demo/d/reader-main/cmd/config', retain: true, applied: true, at: NOW }]);

    // The same version again (a gateway restart republishes it): received, not applied.
    await send('reader-main', 'config', v1, true);
    await waitFor(() => seen.length === 2, 2000, 'redelivery');
    expect(seen[1]).toMatchObject({ name: 'config', applied: false });
    expect(dc.configApplications).toBe(1);

    // A lost link and a reconnect: the device keeps what it holds.
    dc.drop();
    await dc.start();
    await send('reader-main', 'config', v1, true);
    await waitFor(() => seen.length === 3, 2000, 'redelivery after reconnect');
    expect(seen[2]).toMatchObject({ name: 'config', applied: false });
    expect(dc.configApplications).toBe(1);

    // A new version is applied.
    const v2 = { ...v1, version: 'v2-bbbbbbbb', unlockMs: 8000 };
    await send('reader-main', 'config', v2, true);
    await waitFor(() => dc.configApplications === 2, 2000, 'second version');
    expect(dc.config).toEqual(v2);
    expect(dc.commandErrors).toBe(0);
    // Heartbeats are off for this device: its only uplinks are its status messages.
    expect(uplinks.filter((u) => u.clientId === 'reader-main').map((u) => u.topic.split('/').pop())).toEqual(['status', 'status', 'status']);
    await send('reader-main', 'config', '', true); // clear the retained config for the other tests
  });

  it('ignores a config for another device, and keeps its own', async () => {
    const log = recordingLogger();
    const dc = device('reader-lab', { logger: log, heartbeats: false });
    await dc.start();
    await send('reader-lab', 'config', configFor('reader-lab', 'mine'));
    await waitFor(() => dc.configApplications === 1, 2000, 'own config');
    await send('reader-lab', 'config', { ...configFor('reader-lab', 'theirs'), device: 'reader-main' });
    await waitFor(() => dc.commandErrors === 1, 2000, 'refusal');
    expect(dc.configVersion).toBe('mine');
    expect(log.warnings).toEqual([{ device: 'reader-lab', topic: 'fac/v1/demo/d/reader-lab/cmd/config', reason: 'other_device', detail: 'config is for demo/reader-main' }]);
  });
});

describe('heartbeats', () => {
  it('follow the applied config while connected: one health message per period, stopped by a drop, back on reconnect', async () => {
    const timers = new ManualTimers();
    const dc = device('reader-lab', { timers, linkQuality: 180 });
    await dc.start();
    // No config yet: no heartbeat.
    expect(timers.periods()).toEqual([]);
    expect(dc.heartbeatS).toBeNull();

    await send('reader-lab', 'config', configFor('reader-lab', 'hb-30', 30));
    await waitFor(() => dc.configApplications === 1, 2000, 'config');
    expect(timers.periods()).toEqual([30_000]);
    expect(dc.heartbeatS).toBe(30);

    timers.fire();
    timers.fire();
    const health = (): Uplink[] => uplinks.filter((u) => u.clientId === 'reader-lab' && u.topic.endsWith('/health'));
    await waitFor(() => health().length === 2, 2000, 'two heartbeats');
    expect(health()).toEqual([
      { topic: 'fac/v1/demo/d/reader-lab/health', payload: `{"boot":7,"seq":0,"ts":${NOW},"link_quality":180}`, clientId: 'reader-lab' },
      { topic: 'fac/v1/demo/d/reader-lab/health', payload: `{"boot":7,"seq":1,"ts":${NOW},"link_quality":180}`, clientId: 'reader-lab' },
    ]);

    // A new period replaces the old timer.
    await send('reader-lab', 'config', configFor('reader-lab', 'hb-10', 10));
    await waitFor(() => dc.configApplications === 2, 2000, 'second config');
    expect(timers.periods()).toEqual([10_000]);

    // Not connected: no timer. Connected again: the held config's period, without a new config.
    dc.drop();
    expect(timers.periods()).toEqual([]);
    await dc.start();
    expect(timers.periods()).toEqual([10_000]);

    // Turned off while connected (a hung firmware that still answers pings), and on again.
    dc.setHeartbeats(false);
    expect(timers.periods()).toEqual([]);
    expect(dc.connected).toBe(true);
    dc.setHeartbeats(true);
    expect(timers.periods()).toEqual([10_000]);

    await dc.stop();
    expect(timers.periods()).toEqual([]);
  });

  it('are never sent when turned off by option, whatever the config says', async () => {
    const timers = new ManualTimers();
    const dc = device('reader-lab', { timers, heartbeats: false });
    await dc.start();
    await send('reader-lab', 'config', configFor('reader-lab', 'hb-1', 1));
    await waitFor(() => dc.configApplications === 1, 2000, 'config');
    expect(timers.periods()).toEqual([]);
    expect(dc.heartbeatS).toBeNull();
  });

  it('run on unref’d global timers by default, cleared on stop', async () => {
    const dc = device('reader-lab');
    await dc.start();
    await send('reader-lab', 'config', configFor('reader-lab', 'hb-real', 1));
    await waitFor(() => uplinks.some((u) => u.clientId === 'reader-lab' && u.topic.endsWith('/health')), 3000, 'a real heartbeat');
    await dc.stop();
    expect(dc.heartbeatS).toBeNull();
    const before = uplinks.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(uplinks.length).toBe(before);
  });
});

describe('machine reader and meter', () => {
  it('a reader keeps the last session message; a meter switches its relay', async () => {
    const reader = device('reader-laser-1');
    const meter = device('meter-laser-1');
    await Promise.all([reader.start(), meter.start()]);
    expect(meter.relayOn).toBeUndefined();

    await send('meter-laser-1', 'power', { on: true });
    await waitFor(() => meter.relayOn === true, 2000, 'relay on');
    const granted = { state: 'granted', sessionId: 'laser-1.abc.123456', memberId: 'm-1', maxRunMs: 3_600_000, reason: 'granted' } as const;
    await send('reader-laser-1', 'session', granted);
    await waitFor(() => reader.lastSession !== undefined, 2000, 'session');
    expect(reader.lastSession).toEqual(granted);

    const ended = { state: 'ended', sessionId: granted.sessionId, memberId: 'm-1', maxRunMs: null, reason: 'idle' } as const;
    await send('reader-laser-1', 'session', ended);
    await send('meter-laser-1', 'power', { on: false });
    await waitFor(() => meter.relayOn === false && reader.lastSession?.state === 'ended', 2000, 'session ended');
    expect(reader.lastSession).toEqual(ended);
    expect([reader.commandErrors, meter.commandErrors]).toEqual([0, 0]);
  });
});

describe('malformed or misdirected commands', () => {
  // [device, command, payload, reason logged]
  it.each([
    ['reader-lab', 'unlock', 'not json', 'malformed_json'],
    ['reader-lab', 'unlock', '{"durationMs":"5000"}', 'schema'],
    ['reader-lab', 'unlock', '{"durationMs":-1}', 'schema'],
    ['reader-lab', 'unlock', '[]', 'schema'],
    ['reader-lab', 'unlock', 'null', 'schema'],
    ['reader-lab', 'feedback', '{"grant":true}', 'schema'],
    ['reader-lab', 'config', '{"version":"x"}', 'schema'],
    ['reader-lab', 'relay', '{"on":true}', 'unknown_command'],
    ['reader-lab', 'unlock', `{"durationMs":1,"pad":"${'x'.repeat(1100)}"}`, 'payload_too_large'],
    ['reader-lab', 'power', '{"on":true}', 'not_for_kind'],
    ['reader-lab', 'session', '{"state":"granted","sessionId":"s","memberId":"m","maxRunMs":null,"reason":"granted"}', 'not_for_kind'],
    ['meter-laser-1', 'unlock', '{"durationMs":5000}', 'not_for_kind'],
    ['meter-laser-1', 'power', '{"on":"yes"}', 'schema'],
    ['reader-laser-1', 'session', '{"state":"paused","sessionId":null,"memberId":null,"maxRunMs":null,"reason":"x"}', 'schema'],
  ])('%s ignores cmd/%s %s (%s), stays connected and takes the next valid command', async (id, command, payload, reason) => {
    const log = recordingLogger();
    const d = device(id, { logger: log });
    const seen: ReceivedCommand[] = [];
    d.onCommand((c) => seen.push(c));
    await d.start();
    await send(id, command, payload);
    await waitFor(() => d.commandErrors === 1, 2000, 'the refusal');
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toMatchObject({ device: id, topic: `fac/v1/demo/d/${id}/cmd/${command}`, reason });
    expect(seen).toEqual([]);
    expect(d.connected).toBe(true);
    expect(d.stats().commands).toBe(1);

    // A valid command for its kind still works.
    const valid = id === 'meter-laser-1' ? (['power', { on: true }] as const) : id === 'reader-laser-1' ? (['feedback', { grant: false, reason: 'no_plan', led: 'red', beeps: 3, text: { en: 'No membership plan', zh: '未办理会员套餐' } }] as const) : (['unlock', { durationMs: 5000 }] as const);
    await send(id, valid[0], valid[1]);
    await waitFor(() => seen.length === 1, 2000, 'the valid command');
    expect(seen[0]).toMatchObject({ name: valid[0], applied: true });
    expect(d.commandErrors).toBe(1);
  });

  it('takes fields it does not know (the gateway may add optional ones)', async () => {
    const dc = device('reader-lab');
    await dc.start();
    await send('reader-lab', 'unlock', { durationMs: 3000, reason: 'granted', future: { x: 1 } });
    await waitFor(() => dc.unlockedUntil !== null, 2000, 'unlock');
    expect(dc.unlockedUntil).toBe(NOW + 3000);
    expect(dc.commandErrors).toBe(0);
  });
});
