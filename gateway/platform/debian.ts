/**
 * Programs the system runs beside itself (influxd, socat) come from Debian
 * packages. When one is missing and we are root on Debian, it is installed;
 * otherwise the error says exactly how to get it.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Logger } from 'pino';

/** The first executable `name` on PATH or among `extra` paths, or null. */
export function findExecutable(name: string, extra: readonly string[] = []): string | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const candidate of [...dirs.map((d) => join(d, name)), ...extra, `/usr/sbin/${name}`, `/usr/bin/${name}`]) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export interface EnsureCommandOptions {
  readonly command: string;
  /** Debian package that provides it. */
  readonly pkg: string;
  /** May we install the package if the command is missing? */
  readonly install: boolean;
  readonly logger: Logger;
  /** Extra places to look (e.g. /usr/lib/…). */
  readonly extraPaths?: readonly string[];
  /** Other ways to get it, one per line, for the error message. */
  readonly alternatives?: readonly string[];
}

export function missingMessage(opts: Pick<EnsureCommandOptions, 'command' | 'pkg' | 'alternatives'>, reason: string): string {
  return [
    `${reason}. Either:`,
    `  - on Debian/Ubuntu, as root: apt-get update && apt-get install -y ${opts.pkg}`,
    ...(opts.alternatives ?? []).map((a) => `  - ${a}`),
  ].join('\n');
}

/** Returns the command's path, installing its Debian package when allowed and possible. */
export async function ensureCommand(opts: EnsureCommandOptions): Promise<string> {
  const found = findExecutable(opts.command, opts.extraPaths);
  if (found !== null) return found;
  const fail = (reason: string) => new Error(missingMessage(opts, `${opts.command} was not found and ${reason}`));
  const aptGet = findExecutable('apt-get');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!opts.install) throw fail('installing it was not allowed');
  if (process.platform !== 'linux' || aptGet === null || !existsSync('/etc/debian_version')) throw fail('this is not a Debian-like system with apt-get');
  if (!isRoot) throw fail('installing it needs root');

  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!(await aptHasCandidate(opts.pkg, env))) {
    opts.logger.info(`${opts.command} missing: running apt-get update`);
    await runLogged(aptGet, ['update'], env, opts);
  }
  opts.logger.info(`${opts.command} missing: running apt-get install -y ${opts.pkg}`);
  await runLogged(aptGet, ['install', '-y', '--no-install-recommends', opts.pkg], env, opts);
  const installed = findExecutable(opts.command, opts.extraPaths);
  if (installed === null) throw new Error(missingMessage(opts, `apt-get install ${opts.pkg} succeeded but ${opts.command} is still not on PATH`));
  opts.logger.info({ path: installed }, `${opts.command} installed`);
  return installed;
}

/** True when apt already knows an installable version of `pkg` (so `apt-get update` can be skipped). */
async function aptHasCandidate(pkg: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const aptCache = findExecutable('apt-cache');
  if (aptCache === null) return false;
  try {
    const { code, output } = await run(aptCache, ['policy', pkg], env);
    if (code !== 0) return false;
    const m = /Candidate:\s*(\S+)/.exec(output);
    return m?.[1] !== undefined && m[1] !== '(none)';
  } catch {
    return false;
  }
}

async function runLogged(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: EnsureCommandOptions): Promise<void> {
  const { code, output } = await run(cmd, args, env);
  for (const line of output.split('\n')) if (line.trim() !== '') opts.logger.debug(`${cmd}: ${line}`);
  if (code !== 0) {
    const tail = output.trim().split('\n').slice(-15).join('\n');
    throw new Error(missingMessage(opts, `${cmd} ${args.join(' ')} failed with exit code ${String(code)}:\n${tail}\n`));
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const append = (b: Buffer) => {
      output += b.toString('utf8');
      // Bound memory: apt output for one package is small, but keep only the tail just in case.
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}
