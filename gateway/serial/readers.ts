/**
 * Serial badge readers on the gateway machine: one SerialPort (8N1 at the site file's baud
 * rate) per configured reader, its bytes fed to that reader's streaming parser from the
 * decoder table (gateway/decoders/), the results handed to the caller's events.
 *
 * Unplugging is normal operation, not an error: a port that closes or errors, or whose path
 * disappears or comes to point at another device, is reported `closed` or `missing` and
 * retried every `reopenMs` until it opens again (then `open`), without a restart. The parsers
 * are bounded, so a flood of garbage costs CPU, never memory; every error (port, parser,
 * listener) is caught, logged with a rate limit, and counted in status().
 *
 * Lifecycle: inert constructor; start() opens every port (resolves after each reader's first
 * attempt, whatever its outcome); stop() closes them and is idempotent. stop() reports no
 * state change: the gateway is going away, not the reader.
 */
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { SerialPort } from 'serialport';
import type { Clock } from '../../core/clock.js';
import { TokenBucket } from '../../core/rate.js';
import type { CredentialFormat } from '../../core/signals.js';
import type { DeviceInfo } from '../../core/site/model.js';
import { serialDecoder } from '../decoders/index.js';
import type { SerialParser, SerialRead } from '../decoders/types.js';

export type ReaderState = 'open' | 'closed' | 'missing';
export type SerialRejectReason = Extract<SerialRead, { ok: false }>['reason'];

export interface SerialReaderEvents {
  /** A card read (already debounced by the parser); `at` is the gateway clock when its bytes arrived. */
  onRead(device: DeviceInfo, credential: { readonly format: CredentialFormat; readonly id: string }, at: number): void;
  /**
   * Bytes that failed the format's checks. `bytes` are the offending bytes when the parser names
   * them (this repo's parsers do), else the start of the chunk they arrived in; at most 64 bytes.
   */
  onReject(device: DeviceInfo, reason: SerialRejectReason, detail: string, bytes: Uint8Array): void;
  /** Reported on each change of state (and once for the first attempt after start()). */
  onState(device: DeviceInfo, state: ReaderState, detail: string | null): void;
}

export interface SerialReadersOptions {
  /** The serial readers of the site (devices with `serial`); a device without a serial decoder is refused. */
  readonly devices: readonly DeviceInfo[];
  /** Resolves a site-file path (relative ones are relative to the site file's directory). */
  resolvePath(path: string): string;
  readonly events: SerialReaderEvents;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Retry period for a closed or missing port, and the period of the open port's path check (default 1000 ms). */
  readonly reopenMs?: number;
  /** How long stop() waits for the ports to close (default 2000 ms). */
  readonly stopTimeoutMs?: number;
}

export interface SerialReaderStatus {
  readonly device: string;
  /** The resolved path. */
  readonly path: string;
  readonly state: ReaderState;
  /** When the reader entered this state (gateway clock, ms). */
  readonly since: number;
  /** Card reads delivered to onRead (after debounce). */
  readonly reads: number;
  /** Rejected frames or lines. */
  readonly rejects: number;
  /** The last port error or reason for not being open; null once open and error-free. */
  readonly lastError: string | null;
}

const MAX_REJECT_BYTES = 64;
/** Logs per reader and kind: a burst of this many, then one per LOG_EVERY_S seconds. */
const LOG_BURST = 5;
const LOG_EVERY_S = 30;

const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const errCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined;

/** A log line that may be dropped when too many came lately; the next one says how many were. */
class RateLimitedLog {
  private readonly bucket: TokenBucket;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    now: number,
  ) {
    this.bucket = new TokenBucket(1 / LOG_EVERY_S, LOG_BURST, now);
  }

  warn(now: number, obj: object, msg: string): void {
    if (!this.bucket.take(now)) {
      this.suppressed++;
      return;
    }
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.log.warn(suppressed > 0 ? { ...obj, suppressed } : obj, msg);
  }
}

class Reader {
  state: ReaderState = 'closed';
  since: number;
  reads = 0;
  rejects = 0;
  lastError: string | null = null;
  private reported = false;
  private port: SerialPort | null = null;
  /** Device number of the path when the port opened: a different one later means a different device. */
  private openedRdev: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Bumped whenever the current port is abandoned, so late callbacks of an old port are ignored. */
  private generation = 0;
  private stopped = false;
  private readonly parser: SerialParser;
  private readonly rejectLog: RateLimitedLog;
  private readonly errorLog: RateLimitedLog;
  private readonly log: Logger;

  constructor(
    readonly device: DeviceInfo,
    readonly path: string,
    private readonly baudRate: number,
    private readonly o: Required<Pick<SerialReadersOptions, 'events' | 'clock' | 'reopenMs'>>,
    logger: Logger,
  ) {
    this.parser = serialDecoder(device.format).createParser(device);
    const now = o.clock.now();
    this.since = now;
    this.log = logger.child({ device: device.id, path });
    this.rejectLog = new RateLimitedLog(this.log, now);
    this.errorLog = new RateLimitedLog(this.log, now);
  }

  status(): SerialReaderStatus {
    return { device: this.device.id, path: this.path, state: this.state, since: this.since, reads: this.reads, rejects: this.rejects, lastError: this.lastError };
  }

  /** One attempt to open the port; resolves when it is open or has failed (a retry is then scheduled). */
  async attempt(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    const gen = ++this.generation;
    let rdev: number;
    try {
      rdev = (await stat(this.path)).rdev;
    } catch (e) {
      if (gen !== this.generation || this.stopped) return;
      this.failed(errCode(e) === 'ENOENT' ? 'missing' : 'closed', errCode(e) === 'ENOENT' ? `${this.path} does not exist` : errMessage(e));
      return;
    }
    if (gen !== this.generation || this.stopped) return;
    let port: SerialPort;
    try {
      // 8N1, no flow control: what the RDM6300 and Wiegand converters send.
      port = new SerialPort({ path: this.path, baudRate: this.baudRate, dataBits: 8, parity: 'none', stopBits: 1, autoOpen: false });
    } catch (e) {
      this.failed('closed', errMessage(e));
      return;
    }
    // An 'error' without a listener would crash the process: every port keeps one for good.
    port.on('error', (e: unknown) => this.portError(port, e));
    port.on('data', (chunk: Buffer) => {
      if (this.port === port) this.data(chunk);
    });
    port.on('close', (e: unknown) => {
      if (this.port === port) void this.lost(e === null || e === undefined ? 'port closed' : `disconnected: ${errMessage(e)}`);
    });
    await new Promise<void>((resolve) => {
      port.open((err) => {
        if (gen !== this.generation || this.stopped) {
          if (!err) this.closePort(port);
        } else if (err) {
          this.failed(errCode(err) === 'ENOENT' ? 'missing' : 'closed', errMessage(err));
        } else {
          this.port = port;
          this.openedRdev = rdev;
          this.lastError = null;
          this.setState('open', null);
          this.schedule();
        }
        resolve();
      });
    });
  }

  /** While open: checks that the path still names the device we opened; else reopens. */
  private async check(): Promise<void> {
    this.timer = null;
    if (this.stopped || !this.port) return;
    const gen = this.generation;
    try {
      const s = await stat(this.path);
      if (gen !== this.generation || this.stopped) return;
      if (s.rdev !== this.openedRdev) {
        await this.lost(`${this.path} now points to another device`);
        return;
      }
    } catch (e) {
      if (gen !== this.generation || this.stopped) return;
      await this.lost(errCode(e) === 'ENOENT' ? 'disappeared while open' : errMessage(e));
      return;
    }
    this.schedule();
  }

  /** The open port went away: report it (missing if the path is gone) and retry. */
  private async lost(reason: string): Promise<void> {
    const port = this.port;
    this.port = null;
    this.openedRdev = null;
    const gen = ++this.generation;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (port) this.closePort(port);
    let missing = false;
    try {
      await stat(this.path);
    } catch (e) {
      missing = errCode(e) === 'ENOENT';
    }
    if (gen !== this.generation || this.stopped) return;
    this.failed(missing ? 'missing' : 'closed', missing ? `${this.path} does not exist (${reason})` : reason);
  }

  private failed(state: 'closed' | 'missing', detail: string): void {
    this.lastError = detail;
    if (this.state !== state || !this.reported) this.log.warn({ state, detail }, 'serial reader not open; retrying');
    else this.log.debug({ state, detail }, 'serial reader still not open');
    this.setState(state, detail);
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const open = this.port !== null;
    this.timer = setTimeout(() => void (open ? this.check() : this.attempt()).catch((e: unknown) => this.internalError(e)), this.o.reopenMs);
    this.timer.unref();
  }

  private setState(state: ReaderState, detail: string | null): void {
    if (this.reported && state === this.state) return;
    this.reported = true;
    this.state = state;
    this.since = this.o.clock.now();
    if (state === 'open') this.log.info({ state }, 'serial reader open');
    try {
      this.o.events.onState(this.device, state, detail);
    } catch (e) {
      this.listenerError('onState', e);
    }
  }

  private data(chunk: Buffer): void {
    const now = this.o.clock.now();
    let reads: SerialRead[];
    try {
      reads = this.parser.push(chunk, now);
    } catch (e) {
      // Our parsers do not throw; a bug in one must not take the port (or the gateway) down.
      this.rejects++;
      this.lastError = `parser: ${errMessage(e)}`;
      this.errorLog.warn(now, { err: errMessage(e) }, 'serial parser threw; chunk dropped');
      return;
    }
    for (const r of reads) {
      if (r.ok) {
        this.reads++;
        try {
          this.o.events.onRead(this.device, r.credential, now);
        } catch (e) {
          this.listenerError('onRead', e);
        }
      } else {
        this.rejects++;
        const own = (r as { bytes?: unknown }).bytes;
        const bytes = own instanceof Uint8Array ? own.subarray(0, MAX_REJECT_BYTES) : chunk.subarray(0, MAX_REJECT_BYTES);
        this.rejectLog.warn(now, { reason: r.reason, detail: r.detail, bytes: Buffer.from(bytes).toString('hex') }, 'serial frame rejected');
        try {
          this.o.events.onReject(this.device, r.reason, r.detail, bytes);
        } catch (e) {
          this.listenerError('onReject', e);
        }
      }
    }
  }

  private portError(port: SerialPort, e: unknown): void {
    const now = this.o.clock.now();
    this.errorLog.warn(now, { err: errMessage(e) }, 'serial port error');
    if (this.port !== port) return;
    this.lastError = errMessage(e);
    // An error on the open port: treat as a disconnect and reopen.
    void this.lost(`port error: ${errMessage(e)}`);
  }

  private listenerError(which: string, e: unknown): void {
    this.errorLog.warn(this.o.clock.now(), { err: errMessage(e), listener: which }, 'serial reader listener threw');
  }

  private internalError(e: unknown): void {
    this.lastError = errMessage(e);
    this.errorLog.warn(this.o.clock.now(), { err: errMessage(e) }, 'serial reader internal error; retrying');
    if (!this.stopped && !this.timer) this.schedule();
  }

  private closePort(port: SerialPort, done?: () => void): void {
    try {
      if (port.isOpen) {
        port.close(() => done?.());
        return;
      }
    } catch (e) {
      this.errorLog.warn(this.o.clock.now(), { err: errMessage(e) }, 'serial port close failed');
    }
    done?.();
  }

  stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const port = this.port;
    this.port = null;
    this.openedRdev = null;
    this.state = 'closed';
    this.since = this.o.clock.now();
    if (!port) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      t.unref();
      this.closePort(port, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

export class SerialReaders {
  private readonly readers: Reader[] = [];
  private started: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;

  constructor(private readonly opts: SerialReadersOptions) {
    const reopenMs = opts.reopenMs ?? 1000;
    if (!(reopenMs > 0)) throw new Error(`SerialReaders: reopenMs must be positive, got ${reopenMs}`);
    const seen = new Set<string>();
    for (const d of opts.devices) {
      if (!d.serial) throw new Error(`SerialReaders: device ${d.id} has no serial port`);
      const path = opts.resolvePath(d.serial.path);
      if (seen.has(path)) throw new Error(`SerialReaders: serial port ${path} is configured twice`);
      seen.add(path);
      // serialDecoder throws for a format without a serial decoder: a site-validation bug if reached.
      this.readers.push(new Reader(d, path, d.serial.baudRate, { events: opts.events, clock: opts.clock, reopenMs }, opts.logger.child({ part: 'serial' })));
    }
  }

  /** Opens every port; resolves once each has been tried (a reader that is absent is retried in the background). */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('SerialReaders: start() after stop()'));
    this.started ??= Promise.all(this.readers.map((r) => r.attempt().catch(() => undefined))).then(() => undefined);
    return this.started;
  }

  /** Closes every port (waiting at most stopTimeoutMs). Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= Promise.all(this.readers.map((r) => r.stop(this.opts.stopTimeoutMs ?? 2000))).then(() => undefined);
    return this.stopping;
  }

  status(): SerialReaderStatus[] {
    return this.readers.map((r) => r.status());
  }
}
