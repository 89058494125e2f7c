/**
 * Runs a private influxd (InfluxDB 1.x) as a child process: its own config, meta, data and WAL under one
 * directory, HTTP and RPC bound to loopback ports, nothing shared with a system-wide InfluxDB.
 *
 * Lifecycle as everywhere else: inert constructor, `start()`, idempotent `stop(timeoutMs)`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { freePort } from '../net/free-port.js';
import { ensureCommand, findExecutable, missingMessage } from '../platform/debian.js';

export interface InfluxdOptions {
  /** Everything influxd writes (config, meta, data, WAL) lives under this directory; created if missing. */
  dataDir: string;
  /** HTTP port; 0 or absent → a free loopback port, picked at the first start and kept for restarts. */
  port?: number;
  /** HTTP bind address; default 127.0.0.1. */
  bindHost?: string;
  /** Path of the influxd binary; default: `findInfluxd()`. */
  binary?: string;
  logger?: Logger;
  /** How long `start()` waits for `/ping` to answer 204; default 20 000 ms. */
  startTimeoutMs?: number;
}

export interface InfluxdExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const DEFAULT_START_TIMEOUT_MS = 20_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const STDERR_TAIL_LINES = 40;
const PING_INTERVAL_MS = 50;
/** Auto-picked ports can be taken between asking and binding; pick again this many times. */
const PORT_ATTEMPTS = 3;

export class InfluxdProcess {
  private readonly dataDir: string;
  private readonly bindHost: string;
  private readonly binaryOption: string | undefined;
  private readonly logger: Logger;
  private readonly startTimeoutMs: number;
  private readonly autoPort: boolean;
  private httpPort: number | undefined;
  private rpcPort: number | undefined;
  private child: ChildProcess | undefined;
  /** Set at spawn, cleared at exit (or when the spawn itself failed). */
  private alive = false;
  private exitPromise: Promise<InfluxdExit> | undefined;
  private stopping: Promise<void> | undefined;
  private starting: Promise<{ url: string; port: number }> | undefined;
  private readonly tail: string[] = [];
  private removeExitHook: (() => void) | undefined;

  constructor(opts: InfluxdOptions) {
    this.dataDir = opts.dataDir;
    this.bindHost = opts.bindHost ?? '127.0.0.1';
    this.binaryOption = opts.binary;
    this.logger = opts.logger ?? pino({ level: 'silent' });
    this.startTimeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.autoPort = opts.port === undefined || opts.port === 0;
    this.httpPort = this.autoPort ? undefined : opts.port;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** True from spawn until the process has exited. */
  get running(): boolean {
    return this.alive;
  }

  /** HTTP port: known once `start()` has picked it; kept across stop/start. */
  get port(): number | undefined {
    return this.httpPort;
  }

  get url(): string | undefined {
    return this.httpPort === undefined ? undefined : httpUrl(this.bindHost, this.httpPort);
  }

  /** Resolves when the current process exits (undefined when none was started). */
  get exited(): Promise<InfluxdExit> | undefined {
    return this.exitPromise;
  }

  /** The last lines influxd wrote to stderr/stdout, for error messages. */
  lastOutput(): string[] {
    return [...this.tail];
  }

  /** Starts influxd and resolves once `/ping` answers 204. A second call while running returns the same. */
  start(): Promise<{ url: string; port: number }> {
    if (this.starting) return this.starting;
    const p = this.doStart().finally(() => {
      this.starting = undefined;
    });
    this.starting = p;
    return p;
  }

  private async doStart(): Promise<{ url: string; port: number }> {
    if (this.stopping) await this.stopping;
    if (this.running && this.httpPort !== undefined) {
      return { url: httpUrl(this.bindHost, this.httpPort), port: this.httpPort };
    }
    const binary = this.binaryOption ?? findInfluxd();
    if (binary === null) throw new Error(influxdMissingMessage('influxd was not found on PATH'));
    await mkdir(this.dataDir, { recursive: true });

    const firstStart = this.httpPort === undefined;
    for (let attempt = 1; ; attempt++) {
      this.httpPort ??= await freePort(this.bindHost);
      this.rpcPort ??= await freePort('127.0.0.1');
      try {
        return await this.spawnAndWait(binary, this.httpPort, this.rpcPort);
      } catch (err) {
        const inUse = this.tail.some((l) => /address already in use/i.test(l));
        if (!inUse || attempt >= PORT_ATTEMPTS) throw err;
        // Only re-pick ports we picked ourselves; a restart keeps its HTTP port (clients hold the URL).
        const rpcPattern = new RegExp(`:${this.rpcPort}\\b`);
        const rpcInUse = this.tail.some((l) => rpcPattern.test(l));
        if (rpcInUse) this.rpcPort = undefined;
        else if (this.autoPort && firstStart) this.httpPort = undefined;
        else throw err;
        this.logger.debug({ attempt }, 'influxd port taken, picking another');
      }
    }
  }

  private async spawnAndWait(binary: string, port: number, rpcPort: number): Promise<{ url: string; port: number }> {
    const configPath = join(this.dataDir, 'influxd.conf');
    await writeFile(
      configPath,
      renderInfluxdConfig({ dataDir: this.dataDir, httpBind: `${formatHost(this.bindHost)}:${port}`, rpcBind: `127.0.0.1:${rpcPort}` }),
      { mode: 0o600 },
    );
    this.tail.length = 0;
    const pidPath = join(this.dataDir, 'influxd.pid');
    await reapOrphan(pidPath, configPath, this.logger);
    const started = Date.now();
    const child = spawn(binary, ['-config', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: influxdEnv(process.env),
      // Its own process group: a Ctrl-C at the terminal reaches only us, and we stop influxd
      // last, after the sink's final write.
      detached: true,
    });
    if (child.pid !== undefined) await writeFile(pidPath, `${child.pid}\n`);
    this.child = child;
    this.alive = true;
    let spawnErr: Error | undefined;
    this.exitPromise = new Promise<InfluxdExit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.alive = false;
        resolve({ code, signal });
      });
      child.once('error', (err) => {
        // ENOENT/EACCES: no process was created and no 'exit' will follow.
        if (child.pid === undefined) {
          spawnErr = err;
          this.alive = false;
          resolve({ code: null, signal: null });
        } else {
          this.logger.warn({ err }, 'influxd child process error');
        }
      });
    });
    this.captureOutput(child);
    this.installExitHook(child);

    const exitPromise = this.exitPromise;
    void exitPromise.then((exit) => {
      this.removeExitHook?.();
      this.removeExitHook = undefined;
      if (this.child === child && this.stopping === undefined && !this.starting) {
        this.logger.warn({ ...exit, lastOutput: this.lastOutput() }, 'influxd exited unexpectedly');
      }
    });

    const url = httpUrl(this.bindHost, port);
    const deadline = started + this.startTimeoutMs;
    let failure: string | undefined;
    let exited: InfluxdExit | undefined;
    void exitPromise.then((e) => {
      exited = e;
    });

    for (;;) {
      if (spawnErr) {
        failure = `could not run ${binary}: ${spawnErr.message}`;
        break;
      }
      if (exited) {
        failure = `influxd exited during start (code ${String(exited.code)}, signal ${String(exited.signal)})`;
        break;
      }
      if (Date.now() > deadline) {
        failure = `influxd did not answer ${url}/ping within ${this.startTimeoutMs} ms`;
        break;
      }
      // Race the probe with the exit: a probe to a port someone else holds may hang until its timeout.
      if (await Promise.race([pingOnce(url), exitPromise.then(() => false)])) {
        this.logger.debug({ url, pid: child.pid, ms: Date.now() - started }, 'influxd ready');
        return { url, port };
      }
      await sleep(PING_INTERVAL_MS);
    }

    // Make sure a half-started process does not linger, then report with its last words.
    if (this.running) await this.stop(2_000);
    else {
      this.removeExitHook?.();
      this.removeExitHook = undefined;
    }
    // Let the last stderr chunks arrive (they can trail the exit event).
    await sleep(20);
    const lines = this.lastOutput();
    throw new Error(
      `${failure} [data dir ${this.dataDir}, http ${url}, rpc 127.0.0.1:${rpcPort}]` +
        (lines.length > 0 ? `\ninfluxd output (last ${lines.length} lines):\n${lines.join('\n')}` : '\n(influxd wrote nothing)'),
    );
  }

  /**
   * Stops influxd: SIGTERM, then SIGKILL if it has not exited after `timeoutMs`. Idempotent; concurrent
   * callers share one stop.
   */
  stop(timeoutMs: number = DEFAULT_STOP_TIMEOUT_MS): Promise<void> {
    if (this.stopping) return this.stopping;
    const child = this.child;
    const exited = this.exitPromise;
    if (!child || !exited || !this.running) return Promise.resolve();
    const p = (async () => {
      child.kill('SIGTERM');
      const timer = sleep(timeoutMs, 'timeout' as const, { ref: false });
      const first = await Promise.race([exited, timer]);
      if (first === 'timeout') {
        this.logger.warn({ pid: child.pid, timeoutMs }, 'influxd did not stop after SIGTERM; sending SIGKILL');
        child.kill('SIGKILL');
        await exited;
      }
    })().finally(() => {
      this.stopping = undefined;
    });
    this.stopping = p;
    return p;
  }

  /** Sends a signal (fault tests: SIGKILL for a crash, SIGSTOP/SIGCONT for a hang). False if not running. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): boolean {
    if (!this.child || !this.running) return false;
    return this.child.kill(signal);
  }

  private captureOutput(child: ChildProcess): void {
    const onChunk = (stream: 'stderr' | 'stdout') => {
      let partial = '';
      return (chunk: Buffer) => {
        const text = partial + chunk.toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.pushLine(stream, line);
      };
    };
    child.stderr?.on('data', onChunk('stderr'));
    child.stdout?.on('data', onChunk('stdout'));
  }

  private pushLine(stream: 'stderr' | 'stdout', raw: string): void {
    const line = raw.trimEnd();
    if (line === '') return;
    this.logger.debug({ stream, pid: this.child?.pid }, `influxd: ${line}`);
    this.tail.push(line);
    if (this.tail.length > STDERR_TAIL_LINES) this.tail.shift();
  }

  /** If our Node process exits without stopping us, take influxd down too rather than orphan it. */
  private installExitHook(child: ChildProcess): void {
    this.removeExitHook?.();
    const hook = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    process.once('exit', hook);
    this.removeExitHook = () => process.removeListener('exit', hook);
  }
}

/** The influxd configuration we run with: everything under `dataDir`, loopback only, quiet. */
/**
 * A previous run that was killed (SIGKILL, power cut of the parent only) leaves its influxd running,
 * holding the port and the data directory. Its pid file tells us; we stop it only if that process is
 * really an influxd on this very config file.
 */
async function reapOrphan(pidPath: string, configPath: string, logger: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(pidPath, 'utf8')).trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  let cmdline: string;
  try {
    cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
  } catch {
    return; // not running (or not Linux)
  }
  if (!cmdline.includes('influxd') || !cmdline.includes(configPath)) return;
  logger.warn({ pid }, 'stopping an influxd left over from an earlier run of this data directory');
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    await sleep(50);
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  await sleep(50);
}

export function renderInfluxdConfig(opts: { dataDir: string; httpBind: string; rpcBind: string }): string {
  const s = (v: string) => JSON.stringify(v); // JSON strings are valid TOML basic strings
  return [
    '# Written by OpenFacility; regenerated at every start.',
    '# Upstream spells the phone-home switch reporting-disabled; Debian patches it to reporting-enabled.',
    'reporting-disabled = true',
    'reporting-enabled = false',
    `bind-address = ${s(opts.rpcBind)}`,
    '',
    '[meta]',
    `  dir = ${s(join(opts.dataDir, 'meta'))}`,
    '  logging-enabled = false',
    '',
    '[data]',
    `  dir = ${s(join(opts.dataDir, 'data'))}`,
    `  wal-dir = ${s(join(opts.dataDir, 'wal'))}`,
    '  query-log-enabled = false',
    '',
    '[monitor]',
    '  # no _internal database written every 10 s',
    '  store-enabled = false',
    '',
    '[http]',
    '  enabled = true',
    `  bind-address = ${s(opts.httpBind)}`,
    '  log-enabled = false',
    '  suppress-write-log = true',
    '  pprof-enabled = false',
    '',
    '[continuous_queries]',
    '  log-enabled = false',
    '',
    '[logging]',
    '  level = "warn"',
    '  suppress-logo = true',
    '',
  ].join('\n');
}

/** influxd lets INFLUXDB_* variables override its config file; ours must win. */
function influxdEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('INFLUXDB_')) out[k] = v;
  return out;
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function httpUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : formatHost(host);
  return `http://${h}:${port}`;
}

async function pingOnce(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.status === 204;
  } catch {
    return false;
  }
}

const STANDARD_LOCATIONS = ['/usr/bin/influxd', '/usr/local/bin/influxd', '/usr/sbin/influxd', '/opt/influxdb/usr/bin/influxd'];

/** Path of an executable `influxd` on PATH or in the usual places, or null. */
export function findInfluxd(): string | null {
  return findExecutable('influxd', STANDARD_LOCATIONS);
}

const INFLUXDB_DOWNLOAD_URL = 'https://portal.influxdata.com/downloads/';
const INFLUXD_ALTERNATIVES = [
  `elsewhere: download InfluxDB 1.x (influxd) from ${INFLUXDB_DOWNLOAD_URL} and put influxd on PATH`,
  'or pass --influx-url to use an existing InfluxDB 1.x/2.x/3.x (with a token for 2.x/3.x; see docs/influxdb.md)',
];

function influxdMissingMessage(reason: string): string {
  return missingMessage(
    { command: 'influxd', pkg: 'influxdb', alternatives: INFLUXD_ALTERNATIVES },
    `${reason}. OpenFacility runs its own InfluxDB 1.x (influxd) unless told to use an existing one`,
  );
}

export interface EnsureInfluxdOptions {
  /** May we install the Debian package if influxd is missing? */
  install: boolean;
  logger: Logger;
}

/**
 * Returns the influxd path, installing the Debian package `influxdb` when it is missing, `install` is true,
 * and we are root on a system with apt-get. Otherwise throws an Error saying how to get influxd.
 */
export function ensureInfluxd(opts: EnsureInfluxdOptions): Promise<string> {
  return ensureCommand({ command: 'influxd', pkg: 'influxdb', install: opts.install, logger: opts.logger, extraPaths: STANDARD_LOCATIONS, alternatives: INFLUXD_ALTERNATIVES });
}
