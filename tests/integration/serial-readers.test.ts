/**
 * SerialReaders on real pseudo-terminal pairs (socat): the reader opens one end as it would a
 * USB serial adapter, the test writes the reader's bytes into the other.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceInfo } from '../../core/site/model.js';
import { type ReaderState, SerialReaders, type SerialRejectReason } from '../../gateway/serial/readers.js';
import { deviceInfo } from '../harness/device-info.js';
import { openPtyPair, type PtyPair } from '../harness/pty.js';

const STX = '\x02';
const ETX = '\x03';
const RDM_REF = `${STX}070067315809${ETX}`;
const W26_REF = '00101101000000001010001000';

function rdmFrame(id: string, badChecksum = false): string {
  let x = 0;
  for (let i = 0; i < 10; i += 2) x ^= parseInt(id.slice(i, i + 2), 16);
  if (badChecksum) x ^= 0x40;
  return `${STX}${id}${x.toString(16).toUpperCase().padStart(2, '0')}${ETX}`;
}

function serialDevice(id: string, format: 'rdm6300' | 'wiegand26', path: string): DeviceInfo {
  return deviceInfo({ id, kind: 'badge-reader', format, target: { type: 'door', id: 'fablab' }, space: 'fablab', credentials: null, mqtt: null, serial: { path, baudRate: 9600 } });
}

interface Recorder {
  reads: { device: string; format: string; id: string; at: number }[];
  rejects: { device: string; reason: SerialRejectReason; detail: string; bytes: Uint8Array }[];
  states: { device: string; state: ReaderState; detail: string | null }[];
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let dir: string;
/** Test-controlled gateway clock: each step moves it past the debounce window. */
let now = 1_000_000;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'of-serial-'));
  await mkdir(join(dir, 'tty'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pair(name: string): Promise<PtyPair> {
  const p = await openPtyPair(join(dir, 'tty'), { a: name, b: `${name}.peer` });
  cleanups.push(() => p.kill());
  return p;
}

async function writer(path: string): Promise<FileHandle> {
  const fh = await open(path, constants.O_WRONLY | constants.O_NOCTTY);
  cleanups.push(() => fh.close().catch(() => undefined));
  return fh;
}

function readers(devices: DeviceInfo[], reopenMs = 100): { r: SerialReaders; rec: Recorder } {
  const rec: Recorder = { reads: [], rejects: [], states: [] };
  const r = new SerialReaders({
    devices,
    resolvePath: (p) => resolve(dir, p),
    events: {
      onRead: (d, c, at) => rec.reads.push({ device: d.id, format: c.format, id: c.id, at }),
      onReject: (d, reason, detail, bytes) => rec.rejects.push({ device: d.id, reason, detail, bytes }),
      onState: (d, state, detail) => rec.states.push({ device: d.id, state, detail }),
    },
    clock: { now: () => now },
    logger: pino({ level: 'silent' }),
    reopenMs,
  });
  cleanups.push(() => r.stop());
  return { r, rec };
}

describe('SerialReaders on socat pseudo-terminals', () => {
  it('RDM6300: clean, split, noisy and bad-checksum frames become the right reads and rejects', async () => {
    const p = await pair('rdm');
    const { r, rec } = readers([serialDevice('door-rdm', 'rdm6300', 'tty/rdm')]);
    await r.start();
    expect(rec.states).toEqual([{ device: 'door-rdm', state: 'open', detail: null }]);
    const out = await writer(p.b);

    await out.write(RDM_REF);
    await until('clean read', () => rec.reads.length === 1);
    expect(rec.reads[0]).toEqual({ device: 'door-rdm', format: 'em4100', id: '0700673158', at: now });

    now += 5000;
    for (const byte of Buffer.from(rdmFrame('1122334455'), 'latin1')) {
      await out.write(Uint8Array.of(byte));
      await sleep(2);
    }
    await until('split read', () => rec.reads.length === 2);
    expect(rec.reads[1]?.id).toBe('1122334455');

    now += 5000;
    await out.write(`\xff\x00noise${rdmFrame('0A0B0C0D0E')}`);
    await until('read after noise', () => rec.reads.length === 3);
    expect(rec.reads[2]?.id).toBe('0A0B0C0D0E');
    expect(rec.rejects.map((x) => x.reason)).toEqual(['framing']);

    now += 5000;
    await out.write(rdmFrame('0700673158', true));
    await until('checksum reject', () => rec.rejects.length === 2);
    expect(rec.rejects[1]).toMatchObject({ device: 'door-rdm', reason: 'checksum' });
    expect(Buffer.from(rec.rejects[1]!.bytes).toString('latin1')).toBe(rdmFrame('0700673158', true));

    // Held card: the module repeats its frame; one read.
    now += 5000;
    for (let i = 0; i < 5; i++) {
      await out.write(rdmFrame('DEADBEEF01'));
      now += 50;
    }
    await sleep(100);
    expect(rec.reads.filter((x) => x.id === 'DEADBEEF01')).toHaveLength(1);

    expect(r.status()).toEqual([
      { device: 'door-rdm', path: resolve(dir, 'tty/rdm'), state: 'open', since: expect.any(Number) as unknown, reads: 4, rejects: 2, lastError: null },
    ]);
  });

  it('Wiegand-26: clean and split lines, parity and framing errors', async () => {
    const p = await pair('w26');
    const { r, rec } = readers([serialDevice('door-w26', 'wiegand26', 'tty/w26')]);
    await r.start();
    const out = await writer(p.b);

    await out.write(`W26:${W26_REF}\r\n`);
    await until('clean read', () => rec.reads.length === 1);
    expect(rec.reads[0]).toEqual({ device: 'door-w26', format: 'wiegand26', id: '90:324', at: now });

    now += 5000;
    for (const ch of `${W26_REF}\n`) {
      await out.write(ch);
      await sleep(2);
    }
    await until('split read', () => rec.reads.length === 2);

    now += 5000;
    const badLead = (W26_REF[0] === '0' ? '1' : '0') + W26_REF.slice(1);
    const badTrail = W26_REF.slice(0, 25) + (W26_REF[25] === '0' ? '1' : '0');
    await out.write(`${badLead}\r\n${badTrail}\r\n0101\r\n`);
    await until('three rejects', () => rec.rejects.length === 3);
    expect(rec.rejects.map((x) => x.reason)).toEqual(['parity', 'parity', 'framing']);
    expect(rec.reads).toHaveLength(2);
  });

  it('reports a port that disappears and reopens it when it comes back, without a restart', async () => {
    const p1 = await pair('gone');
    const { r, rec } = readers([serialDevice('door-gone', 'rdm6300', 'tty/gone')], 100);
    await r.start();
    let out = await writer(p1.b);
    await out.write(RDM_REF);
    await until('first read', () => rec.reads.length === 1);

    await p1.kill();
    await until('closed or missing', () => rec.states.some((s) => s.state !== 'open'));
    const down = rec.states.filter((s) => s.state !== 'open');
    expect(down[0]?.detail).toEqual(expect.any(String));
    expect(['closed', 'missing']).toContain(r.status()[0]?.state);
    expect(r.status()[0]?.lastError).toEqual(expect.any(String));
    await sleep(250);
    // socat removed its link: the path is gone.
    expect(r.status()[0]?.state).toBe('missing');

    const p2 = await pair('gone');
    await until('open again', () => rec.states.at(-1)?.state === 'open', 3000);
    expect(rec.states[0]?.state).toBe('open');
    expect(rec.states.at(-1)).toEqual({ device: 'door-gone', state: 'open', detail: null });
    out = await writer(p2.b);
    now += 5000;
    await out.write(RDM_REF);
    await until('read after reopen', () => rec.reads.length === 2);
    expect(r.status()[0]).toMatchObject({ state: 'open', reads: 2, lastError: null });
  });

  it('a reader whose port is missing at start is reported missing, then opens when it appears', async () => {
    const { r, rec } = readers([serialDevice('door-late', 'wiegand26', 'tty/late')], 100);
    await r.start();
    expect(rec.states).toEqual([{ device: 'door-late', state: 'missing', detail: expect.stringContaining('does not exist') as unknown }]);
    const p = await pair('late');
    await until('open', () => rec.states.at(-1)?.state === 'open', 3000);
    const out = await writer(p.b);
    await out.write(`${W26_REF}\n`);
    await until('read', () => rec.reads.length === 1);
    await r.stop();
    await r.stop();
    expect(r.status()[0]?.state).toBe('closed');
  });

  it('1 MB of random garbage: no crash, rejects counted, memory bounded, the next frame still reads', async () => {
    const p1 = await pair('flood-rdm');
    const p2 = await pair('flood-w26');
    const { r, rec } = readers([serialDevice('flood-rdm', 'rdm6300', 'tty/flood-rdm'), serialDevice('flood-w26', 'wiegand26', 'tty/flood-w26')]);
    await r.start();
    const out1 = await writer(p1.b);
    const out2 = await writer(p2.b);
    const garbage = randomBytes(1 << 20);
    // Garbage must not happen to end in a valid frame's prefix: an STX/terminator closes it off.
    await Promise.all([
      (async () => {
        for (let i = 0; i < garbage.length; i += 65536) await out1.write(garbage.subarray(i, i + 65536));
        now += 5000;
        await out1.write(`${STX}${ETX}${RDM_REF}`);
      })(),
      (async () => {
        for (let i = 0; i < garbage.length; i += 65536) await out2.write(garbage.subarray(i, i + 65536));
        await out2.write(`\n${W26_REF}\n`);
      })(),
    ]);
    await until('both frames after the flood', () => rec.reads.some((x) => x.id === '0700673158') && rec.reads.some((x) => x.id === '90:324'), 10_000);
    const st = r.status();
    expect(st.map((s) => s.state)).toEqual(['open', 'open']);
    expect(st[0]!.rejects).toBeGreaterThan(100);
    expect(st[1]!.rejects).toBeGreaterThan(100);
    expect(rec.rejects.every((x) => x.bytes.length <= 64)).toBe(true);
  });

  it('a listener that throws does not break the reader', async () => {
    const p = await pair('throws');
    const seen: string[] = [];
    const r = new SerialReaders({
      devices: [serialDevice('door-throws', 'rdm6300', 'tty/throws')],
      resolvePath: (x) => resolve(dir, x),
      events: {
        onRead: (_d, c) => {
          seen.push(c.id);
          throw new Error('listener bug');
        },
        onReject: () => {
          throw new Error('listener bug');
        },
        onState: () => {
          throw new Error('listener bug');
        },
      },
      clock: { now: () => now },
      logger: pino({ level: 'silent' }),
    });
    cleanups.push(() => r.stop());
    await r.start();
    const out = await writer(p.b);
    await out.write(`junk${RDM_REF}`);
    now += 5000;
    await out.write(rdmFrame('1122334455'));
    await until('two reads', () => seen.length === 2);
    expect(r.status()[0]).toMatchObject({ state: 'open', reads: 2, rejects: 1 });
  });
});
