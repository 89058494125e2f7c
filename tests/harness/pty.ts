/**
 * Real pseudo-terminal pairs for serial tests, made by socat (Debian package `socat`):
 * bytes written to one end arrive at the other through the kernel's tty layer.
 */
import { spawn } from 'node:child_process';
import { lstat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface PtyPair {
  /** Link to one end (the one the code under test usually opens). */
  readonly a: string;
  /** Link to the other end. */
  readonly b: string;
  /** Ends socat (SIGTERM: it removes its links) and waits for it to exit. Idempotent. */
  kill(): Promise<void>;
}

const exists = async (p: string): Promise<boolean> => lstat(p).then(
  () => true,
  () => false,
);

/**
 * socat -d -d pty,raw,echo=0,link=<dir>/<a> pty,raw,echo=0,link=<dir>/<b>; resolves once both
 * links exist (socat takes ~20 ms here). Calling it again with the same names makes a new pair
 * at the same paths (socat replaces stale links).
 */
export async function openPtyPair(dir: string, names: { a?: string; b?: string } = {}, timeoutMs = 5000): Promise<PtyPair> {
  const a = join(dir, names.a ?? 'a');
  const b = join(dir, names.b ?? 'b');
  // Stale links from an earlier pair would make the wait below succeed too early.
  for (const p of [a, b]) await unlink(p).catch(() => undefined);
  const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.once('error', () => resolve());
  });
  let failed: Error | null = null;
  proc.once('error', (e) => {
    failed = e;
  });
  const deadline = Date.now() + timeoutMs;
  while (!((await exists(a)) && (await exists(b)))) {
    if (failed) throw new Error(`socat could not start (apt-get install socat): ${(failed as Error).message}`);
    if (proc.exitCode !== null) throw new Error(`socat exited ${proc.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`socat made no links within ${timeoutMs} ms: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  let killing: Promise<void> | null = null;
  return {
    a,
    b,
    kill: () =>
      (killing ??= (async () => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
        await exited;
      })()),
  };
}
