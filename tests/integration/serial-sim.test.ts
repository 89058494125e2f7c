/**
 * The simulated serial readers (firmware-sim) against the gateway's SerialReaders, over the
 * pseudo-terminal pair the simulator makes with socat: a badge in the simulator arrives as the
 * expected credential, a drop is an unplugged reader, start() again plugs it back in.
 */
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceInfo, SiteFile } from '../../core/site/model.js';
import { SIM_DEVICES } from '../../firmware-sim/devices/index.js';
import {
  em4100IdForCard,
  Rdm6300SimReader,
  rdm6300Frame,
  wiegand26Bits,
  wiegand26IdForCard,
  Wiegand26SimReader,
} from '../../firmware-sim/devices/serial-reader.js';
import { SerialReaders, type ReaderState } from '../../gateway/serial/readers.js';
import { deviceInfo } from '../harness/device-info.js';
import { siteFromFile } from '../harness/site-fixture.js';

function serialDevice(id: string, format: 'rdm6300' | 'wiegand26', path: string): DeviceInfo {
  return deviceInfo({ id, kind: 'badge-reader', format, target: { type: 'door', id: 'fablab' }, space: 'fablab', credentials: null, mqtt: null, serial: { path, baudRate: 9600 } });
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const exists = (p: string): Promise<boolean> => lstat(p).then(
  () => true,
  () => false,
);

let dir: string;
let now = 5_000_000;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'of-serial-sim-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function gateway(devices: DeviceInfo[]) {
  const reads: { device: string; format: string; id: string }[] = [];
  const states: { device: string; state: ReaderState }[] = [];
  const r = new SerialReaders({
    devices,
    resolvePath: (p) => resolve(dir, p),
    events: {
      onRead: (d, c) => reads.push({ device: d.id, format: c.format, id: c.id }),
      onReject: () => undefined,
      onState: (d, state) => states.push({ device: d.id, state }),
    },
    clock: { now: () => now },
    logger: pino({ level: 'silent' }),
    reopenMs: 100,
  });
  cleanups.push(() => r.stop());
  return { r, reads, states };
}

describe('card mapping of the simulated readers', () => {
  it('maps scenario cards deterministically', () => {
    expect(em4100IdForCard('uid', 'a1b2c3d4')).toBe('01A1B2C3D4');
    expect(em4100IdForCard('em4100', '0700673158')).toBe('0700673158');
    expect(em4100IdForCard('wiegand26', '90:324')).toBe('01005A0144');
    expect(wiegand26IdForCard('uid', 'A1B2C3D4')).toBe('178:50132');
    expect(wiegand26IdForCard('em4100', '0700673158')).toBe('103:12632');
    expect(wiegand26IdForCard('wiegand26', '090:00324')).toBe('90:324');
    expect(() => em4100IdForCard('uid', 'xyz')).toThrow(/not 8, 14 or 20 hex/);
  });

  it('writes the readers’ real bytes (the issue’s reference vectors)', () => {
    expect(rdm6300Frame('0700673158').toString('latin1')).toBe('\x02070067315809\x03');
    expect(wiegand26Bits(90, 324)).toBe('00101101000000001010001000');
  });

  it('are registered in SIM_DEVICES, for readers as a site file declares them', () => {
    // The docs/devices.md example, through the real validator.
    const file: SiteFile = {
      version: 1,
      site: { id: 'demo', name: 'Demo', timezone: 'Europe/Berlin' },
      spaces: [{ id: 'fablab', name: 'Fab lab', kind: 'lab' }],
      doors: [{ id: 'fablab', space: 'fablab' }],
      devices: [
        { id: 'fablab-door-reader', kind: 'badge-reader', format: 'rdm6300', door: 'fablab', serial: { path: 'tty/reg-rdm', baudRate: 9600 } },
        { id: 'fablab-door-wiegand', kind: 'badge-reader', format: 'wiegand26', door: 'fablab', serial: { path: 'tty/reg-w26' } },
      ],
    };
    const site = siteFromFile(file);
    const rdm = site.devices.get('fablab-door-reader')!;
    const w26 = site.devices.get('fablab-door-wiegand')!;
    expect(rdm).toMatchObject({ format: 'rdm6300', target: { type: 'door', id: 'fablab' }, serial: { path: 'tty/reg-rdm', baudRate: 9600 }, mqtt: null });
    expect(w26.serial).toEqual({ path: 'tty/reg-w26', baudRate: 9600 });
    const common = { site, secret: undefined, brokerUrl: 'mqtt://unused', boot: 1, clock: () => 0, logger: pino({ level: 'silent' }), siteDir: dir, shared: new Map<string, unknown>(), secretOf: () => undefined };
    const a = SIM_DEVICES.rdm6300?.({ ...common, device: rdm });
    const b = SIM_DEVICES.wiegand26?.({ ...common, device: w26 });
    expect(a).toBeInstanceOf(Rdm6300SimReader);
    expect(b).toBeInstanceOf(Wiegand26SimReader);
    expect((a as Rdm6300SimReader).path).toBe(join(dir, 'tty/reg-rdm'));
  });
});

describe('simulated serial readers → SerialReaders', () => {
  it('RDM6300: a badge arrives once as the expected EM4100 credential; drop and start again', async () => {
    const device = serialDevice('door-rdm-sim', 'rdm6300', 'tty/rdm-sim');
    const sim = new Rdm6300SimReader({ device, siteDir: dir, boot: 1 });
    cleanups.push(() => sim.stop());
    await sim.start();
    expect(sim.connected).toBe(true);
    expect(sim.inFlight).toBe(0);
    expect(await exists(join(dir, 'tty/rdm-sim'))).toBe(true);
    expect(await exists(join(dir, 'tty/rdm-sim.sim'))).toBe(true);

    const { r, reads, states } = gateway([device]);
    await r.start();
    expect(states).toEqual([{ device: 'door-rdm-sim', state: 'open' }]);

    await sim.badge('uid', 'A1B2C3D4');
    await until('read', () => reads.length === 1);
    // The frame was written three times (a held card): still one read.
    await new Promise((res) => setTimeout(res, 100));
    expect(reads).toEqual([{ device: 'door-rdm-sim', format: 'em4100', id: '01A1B2C3D4' }]);
    expect(sim.stats().channels.badge).toEqual({ published: 1, acked: 1, errors: 0 });

    now += 5000;
    await sim.badge('em4100', '0700673158');
    await until('second read', () => reads.length === 2);
    expect(reads[1]?.id).toBe('0700673158');

    sim.drop();
    expect(sim.connected).toBe(false);
    await until('reader gone', () => states.some((s) => s.state !== 'open'));
    await expect(sim.badge('uid', 'A1B2C3D4')).rejects.toThrow(/not up/);

    await sim.start();
    await until('reader back', () => states.at(-1)?.state === 'open', 3000);
    now += 5000;
    await sim.badge('uid', '0BADF00D');
    await until('read after replug', () => reads.length === 3);
    expect(reads[2]?.id).toBe('010BADF00D');

    await expect(sim.occupancy(true)).rejects.toThrow(/sends no occupancy/);
    await expect(sim.power({ powerW: 1 })).rejects.toThrow(/sends no power/);
    await expect(sim.health({})).rejects.toThrow(/sends no health/);

    await sim.stop();
    await sim.stop();
    expect(await exists(join(dir, 'tty/rdm-sim'))).toBe(false);
    expect(await exists(join(dir, 'tty/rdm-sim.sim'))).toBe(false);
  });

  it('Wiegand-26: badges arrive as facility:card', async () => {
    const device = serialDevice('door-w26-sim', 'wiegand26', 'tty/sub/w26-sim');
    const { r, reads, states } = gateway([device]);
    // The gateway first: the port is missing until the simulator plugs it in.
    await r.start();
    expect(states).toEqual([{ device: 'door-w26-sim', state: 'missing' }]);
    const sim = new Wiegand26SimReader({ device, siteDir: dir, boot: 1 });
    cleanups.push(() => sim.stop());
    await sim.start();
    await until('open', () => states.at(-1)?.state === 'open', 3000);

    await sim.badge('wiegand26', '90:324');
    await sim.badge('uid', 'A1B2C3D4');
    await until('two reads', () => reads.length === 2);
    expect(reads).toEqual([
      { device: 'door-w26-sim', format: 'wiegand26', id: '90:324' },
      { device: 'door-w26-sim', format: 'wiegand26', id: '178:50132' },
    ]);
  });

  it('start() with socat missing from the PATH says how to install it', async () => {
    const sim = new Rdm6300SimReader({ device: serialDevice('door-nosocat', 'rdm6300', 'tty/nosocat'), siteDir: dir, boot: 1, socat: 'socat-not-installed-here' });
    await expect(sim.start()).rejects.toThrow(/apt-get install socat/);
    await sim.stop();
  });

  it('refuses to put a simulated port over a real file', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'not-a-link'), 'x');
    const sim = new Rdm6300SimReader({ device: serialDevice('door-file', 'rdm6300', 'not-a-link'), siteDir: dir, boot: 1 });
    await expect(sim.start()).rejects.toThrow(/not a link/);
    expect(await exists(join(dir, 'not-a-link'))).toBe(true);
  });
});
