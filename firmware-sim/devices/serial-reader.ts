/**
 * Simulated serial badge readers: an RDM6300 (125 kHz EM4100) and a Wiegand-26 reader behind
 * a Wiegand-to-serial converter. Each owns the far end of a pseudo-terminal pair made by socat:
 *
 *   socat -d -d pty,raw,echo=0,link=<path> pty,raw,echo=0,link=<path>.sim
 *
 * The gateway opens `<path>` (the site file's serial path, resolved against the site file's
 * directory) as it would a USB serial adapter; the simulator writes the reader's real bytes
 * into `<path>.sim`. `drop()` ends socat, so `<path>` disappears like an unplugged adapter;
 * `start()` again makes a new pair at the same path.
 *
 * Cards: the scenario's `uid` cards (8 hex characters) are mapped deterministically to what
 * such a reader would report (em4100IdForCard, wiegand26IdForCard), so an access list can be
 * built for them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { lstat, mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { UplinkChannel } from '../../core/protocol/topics.js';
import { UPLINK_CHANNELS } from '../../core/protocol/topics.js';
import type { CredentialFormat } from '../../core/signals.js';
import { type ChannelCounters, type DeviceCounters, type HealthReading, type PowerReading, type SimLogger, SimDeviceError, silentLogger } from './canonical.js';
import type { SimDevice, SimDeviceOptions } from './types.js';

/** Version/customer byte the simulator puts in front of a 4-byte uid to make an EM4100 code. */
export const SIM_EM4100_VERSION = '01';

/**
 * The 10-hex-character EM4100 code an RDM6300 reports for a scenario card:
 * em4100 ids as they are (upper-case); a uid → SIM_EM4100_VERSION + its last 4 bytes;
 * a Wiegand-26 `fc:cn` → SIM_EM4100_VERSION + 00 + fc (1 byte) + cn (2 bytes).
 */
export function em4100IdForCard(format: CredentialFormat, card: string): string {
  switch (format) {
    case 'em4100':
      if (!/^[0-9A-Fa-f]{10}$/.test(card)) throw new Error(`em4100 card ${JSON.stringify(card)} is not 10 hex characters`);
      return card.toUpperCase();
    case 'uid':
      if (!/^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$/.test(card)) throw new Error(`uid card ${JSON.stringify(card)} is not 8, 14 or 20 hex characters`);
      return SIM_EM4100_VERSION + card.slice(-8).toUpperCase();
    case 'wiegand26': {
      const { facility, card: cn } = splitWiegand(card);
      return SIM_EM4100_VERSION + '00' + facility.toString(16).toUpperCase().padStart(2, '0') + cn.toString(16).toUpperCase().padStart(4, '0');
    }
  }
}

/**
 * The Wiegand-26 id (`facility:card`, decimal) a Wiegand reader reports for a scenario card:
 * wiegand26 ids as they are; a uid or em4100 code → its low 24 bits (facility = bits 23–16,
 * card = bits 15–0), which is what 125 kHz/13.56 MHz readers with a Wiegand-26 output send.
 */
export function wiegand26IdForCard(format: CredentialFormat, card: string): string {
  if (format === 'wiegand26') {
    const { facility, card: cn } = splitWiegand(card);
    return `${facility}:${cn}`;
  }
  const ok = format === 'em4100' ? /^[0-9A-Fa-f]{10}$/ : /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$/;
  if (!ok.test(card)) throw new Error(`${format} card ${JSON.stringify(card)} is not a valid ${format} id`);
  const low24 = parseInt(card.slice(-6), 16);
  return `${low24 >>> 16}:${low24 & 0xffff}`;
}

/**
 * The 14 bytes an RDM6300 sends for a 10-hex-character EM4100 code: STX, the code in
 * upper-case ASCII hex, the XOR of its five bytes as two hex characters, ETX.
 */
export function rdm6300Frame(id: string): Buffer {
  if (!/^[0-9A-Fa-f]{10}$/.test(id)) throw new Error(`rdm6300Frame: ${JSON.stringify(id)} is not 10 hex characters`);
  const data = Buffer.from(id, 'hex');
  const xor = data.reduce((x, b) => x ^ b, 0);
  const body = id.toUpperCase() + xor.toString(16).toUpperCase().padStart(2, '0');
  return Buffer.concat([Buffer.of(0x02), Buffer.from(body, 'latin1'), Buffer.of(0x03)]);
}

/**
 * The 26 bits of a Wiegand-26 (H10301) card, bit 1 first, as '0'/'1' characters: even parity
 * over bits 2–13, facility (8 bits), card number (16 bits), odd parity over bits 14–25.
 */
export function wiegand26Bits(facility: number, card: number): string {
  if (!Number.isInteger(facility) || facility < 0 || facility > 255) throw new Error(`wiegand26Bits: facility ${facility} is not 0–255`);
  if (!Number.isInteger(card) || card < 0 || card > 65535) throw new Error(`wiegand26Bits: card ${card} is not 0–65535`);
  const data = facility.toString(2).padStart(8, '0') + card.toString(2).padStart(16, '0');
  const ones = (s: string): number => s.split('').filter((c) => c === '1').length;
  const even = ones(data.slice(0, 12)) % 2 === 0 ? '0' : '1';
  const odd = ones(data.slice(12)) % 2 === 0 ? '1' : '0';
  return even + data + odd;
}

function splitWiegand(card: string): { facility: number; card: number } {
  const m = /^(\d{1,3}):(\d{1,5})$/.exec(card);
  const facility = m ? Number(m[1]) : NaN;
  const cn = m ? Number(m[2]) : NaN;
  if (!(facility <= 255 && cn <= 65535)) throw new Error(`wiegand26 card ${JSON.stringify(card)} is not "facility:card" (0–255:0–65535)`);
  return { facility, card: cn };
}

export interface SerialSimReaderOptions {
  readonly device: SimDeviceOptions['device'];
  /** Directory a relative serial path is relative to (the site file's). */
  readonly siteDir: string;
  readonly boot: number;
  readonly logger?: SimLogger;
  /** How long start() waits for socat's links (default 5000 ms). */
  readonly startTimeoutMs?: number;
  /** The socat executable (default `socat` on the PATH). */
  readonly socat?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function isSymlink(path: string): Promise<boolean | null> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return null;
  }
}

/** What the two reader families share: the socat pair, the write end, the lifecycle. */
abstract class SerialSimReader implements SimDevice {
  readonly id: string;
  /** The port the gateway opens (the site file's path, resolved). */
  readonly path: string;
  /** The simulator's end of the pair. */
  readonly simPath: string;
  protected readonly log: SimLogger;
  private bootValue: number;
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private out: FileHandle | null = null;
  private running = false;
  private stopping: Promise<void> | null = null;
  /** Card presentations are written one after another, never interleaved. */
  private queue: Promise<void> = Promise.resolve();
  private readonly counters: Record<UplinkChannel, ChannelCounters>;
  private connects = 0;

  protected abstract readonly family: string;
  /** The bytes the reader sends for one presentation of a card, as separate writes. */
  protected abstract frames(format: CredentialFormat, card: string): readonly Uint8Array[];
  /** Pause between two writes of one presentation (a held card's repeat period). */
  protected abstract readonly repeatGapMs: number;

  constructor(private readonly o: SerialSimReaderOptions) {
    this.id = o.device.id;
    if (!o.device.serial) throw new Error(`${o.device.id}: a serial reader needs serial: { path }`);
    this.path = resolve(o.siteDir, o.device.serial.path);
    this.simPath = `${this.path}.sim`;
    this.log = o.logger ?? silentLogger;
    this.bootValue = o.boot;
    this.counters = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, { published: 0, acked: 0, errors: 0 }])) as Record<UplinkChannel, ChannelCounters>;
  }

  get boot(): number {
    return this.bootValue;
  }

  /** socat is running and its links are in place. */
  get connected(): boolean {
    return this.running;
  }

  get inFlight(): number {
    return 0;
  }

  /** Makes the pty pair and opens the simulator's end. Idempotent while running. */
  async start(opts: { boot?: number } = {}): Promise<void> {
    if (this.running) return;
    if (this.stopping) await this.stopping;
    this.stopping = null;
    // A previous socat (drop) removes its links on exit: let it finish before making new ones.
    await this.exited;
    if (opts.boot !== undefined) this.bootValue = opts.boot;
    for (const p of [this.path, this.simPath]) {
      const link = await isSymlink(p);
      // Never replace a real device or file: only our own stale links.
      if (link === false) throw new Error(`${this.id}: ${p} exists and is not a link; refusing to put a simulated port there`);
      if (link === true) await unlink(p).catch(() => undefined);
    }
    await mkdir(dirname(this.path), { recursive: true });

    const proc = spawn(this.o.socat ?? 'socat', ['-d', '-d', `pty,raw,echo=0,link=${this.path}`, `pty,raw,echo=0,link=${this.simPath}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.proc = proc;
    let stderr = '';
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => {
      if (stderr.length < 4000) stderr += d;
    });
    // Filled in by the process's events (a holder, so the loop below re-reads them).
    const ended: { error: (Error & { code?: string }) | null; code: number | string | null } = { error: null, code: null };
    this.exited = new Promise<void>((res) => {
      proc.once('error', (e) => {
        ended.error = e;
        res();
      });
      proc.once('exit', (code, signal) => {
        ended.code = code ?? signal ?? 'unknown';
        res();
      });
    }).then(() => {
      if (this.proc === proc) {
        this.proc = null;
        if (this.running) this.log.warn({ device: this.id, code: ended.code }, 'socat ended; simulated port gone');
        this.running = false;
      }
    });

    const deadline = Date.now() + (this.o.startTimeoutMs ?? 5000);
    for (;;) {
      const e = ended.error;
      if (e !== null) {
        throw new Error(
          e.code === 'ENOENT'
            ? `${this.id}: socat is not installed; simulated serial readers need it (Debian/Ubuntu: apt-get install socat)`
            : `${this.id}: could not run socat: ${e.message}`,
        );
      }
      if (ended.code !== null) throw new Error(`${this.id}: socat exited (${ended.code}) before creating ${this.path}: ${stderr.trim()}`);
      if ((await isSymlink(this.path)) && (await isSymlink(this.simPath))) break;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`${this.id}: socat did not create ${this.path} within ${this.o.startTimeoutMs ?? 5000} ms: ${stderr.trim()}`);
      }
      await sleep(5);
    }
    try {
      // O_NOCTTY: the pty must never become our controlling terminal. O_NONBLOCK: a UART never
      // waits for its listener, and a blocked write would hold one of libuv's few pool threads.
      this.out = await open(this.simPath, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    } catch (e) {
      proc.kill('SIGTERM');
      throw new Error(`${this.id}: could not open ${this.simPath}: ${(e as Error).message}`);
    }
    this.running = true;
    this.connects++;
    this.log.debug({ device: this.id, path: this.path }, 'simulated serial reader up');
  }

  /** Ends socat and removes the links. Idempotent. */
  stop(timeoutMs = 2000): Promise<void> {
    this.stopping ??= (async () => {
      this.kill('SIGTERM');
      const killed = await Promise.race([this.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
      if (!killed) {
        this.kill('SIGKILL');
        await this.exited;
      }
      for (const p of [this.path, this.simPath]) if (await isSymlink(p)) await unlink(p).catch(() => undefined);
    })();
    return this.stopping;
  }

  /** The adapter is unplugged: socat ends (removing its links), the port disappears. */
  drop(): void {
    this.kill('SIGTERM');
  }

  private kill(signal: NodeJS.Signals): void {
    this.running = false;
    const out = this.out;
    this.out = null;
    if (out) void out.close().catch(() => undefined);
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }

  badge(format: CredentialFormat, card: string, _ts?: number): Promise<void> {
    // Serial readers have no clock: the gateway stamps the read when the bytes arrive.
    const c = this.counters.badge;
    let frames: readonly Uint8Array[];
    try {
      frames = this.frames(format, card);
    } catch (e) {
      c.errors++;
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const write = async (): Promise<void> => {
      c.published++;
      for (let i = 0; i < frames.length; i++) {
        if (i > 0) await sleep(this.repeatGapMs);
        const out = this.out;
        if (!this.running || !out) throw new SimDeviceError('not_running', this.id, 'the simulated port is not up; start() it first');
        await this.writeAll(out, frames[i]!);
      }
      c.acked++;
    };
    const done = this.queue.then(write, write);
    this.queue = done.catch(() => undefined);
    done.catch(() => {
      c.errors++;
    });
    return done;
  }

  private async writeAll(out: FileHandle, bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      try {
        at += (await out.write(bytes, at, bytes.length - at)).bytesWritten;
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        const why = code === 'EAGAIN' ? `the port's buffer is full: nothing is reading ${this.path}` : (e as Error).message;
        throw new SimDeviceError('lost', this.id, `write to ${this.simPath} failed: ${why}`);
      }
    }
  }

  private unsupported(what: string): Promise<void> {
    this.counters[what as UplinkChannel].errors++;
    return Promise.reject(new Error(`${this.id}: a ${this.family} badge reader sends no ${what} readings`));
  }

  occupancy(_occupied: boolean, _ts?: number): Promise<void> {
    return this.unsupported('occupancy');
  }

  power(_reading: PowerReading, _ts?: number): Promise<void> {
    return this.unsupported('power');
  }

  health(_reading: HealthReading, _ts?: number): Promise<void> {
    return this.unsupported('health');
  }

  stats(): DeviceCounters {
    const channels = Object.fromEntries(UPLINK_CHANNELS.map((ch) => [ch, { ...this.counters[ch] }])) as Record<UplinkChannel, ChannelCounters>;
    return { channels, commands: 0, connects: this.connects, inFlight: 0 };
  }
}

/**
 * An RDM6300: each presentation is the 14-byte frame written three times, 50 ms apart, as a
 * module repeating its frame while the card stays in the field (the gateway debounces).
 */
export class Rdm6300SimReader extends SerialSimReader {
  protected readonly family = 'RDM6300';
  protected readonly repeatGapMs: number;
  private readonly repeats: number;

  constructor(o: SerialSimReaderOptions & { readonly repeats?: number; readonly repeatGapMs?: number }) {
    super(o);
    this.repeats = o.repeats ?? 3;
    this.repeatGapMs = o.repeatGapMs ?? 50;
  }

  protected frames(format: CredentialFormat, card: string): readonly Uint8Array[] {
    const frame = rdm6300Frame(em4100IdForCard(format, card));
    return Array.from({ length: this.repeats }, () => frame);
  }
}

/** A Wiegand-26 reader behind a converter: one `W26:<26 bits>` CR LF line per presentation. */
export class Wiegand26SimReader extends SerialSimReader {
  protected readonly family = 'Wiegand-26';
  protected readonly repeatGapMs = 0;

  protected frames(format: CredentialFormat, card: string): readonly Uint8Array[] {
    const id = wiegand26IdForCard(format, card);
    const { facility, card: cn } = splitWiegand(id);
    return [Buffer.from(`W26:${wiegand26Bits(facility, cn)}\r\n`, 'latin1')];
  }
}

export const rdm6300SimFactory = (o: SimDeviceOptions): SimDevice =>
  new Rdm6300SimReader({ device: o.device, siteDir: o.siteDir, boot: o.boot, logger: o.logger });

export const wiegand26SimFactory = (o: SimDeviceOptions): SimDevice =>
  new Wiegand26SimReader({ device: o.device, siteDir: o.siteDir, boot: o.boot, logger: o.logger });
