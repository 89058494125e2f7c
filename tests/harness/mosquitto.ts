/**
 * A real Mosquitto 2.0 (Debian package `mosquitto`) on a free loopback port in
 * a temporary directory, configured by `facility mosquitto-config` from a test
 * site: the external broker of external broker mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeMosquittoConfig, type MosquittoConfigResult } from '../../cli/mosquitto.js';
import { GATEWAY_BROKER_USER } from '../../gateway/broker/mosquitto-config.js';
import { freePort } from '../../gateway/net/free-port.js';
import type { TestSite } from './gateway.js';

export interface TestMosquitto {
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  readonly gatewayUser: string;
  readonly gatewayPasswordFile: string;
  readonly generated: MosquittoConfigResult;
  log(): string;
  stop(): Promise<void>;
}

export async function startTestMosquitto(site: TestSite, opts: { shareGroup?: string } = {}): Promise<TestMosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'of-mosquitto-'));
  // Started as root, Mosquitto works as the user `mosquitto`: it must reach the directory and keep its persistence file there.
  await chmod(dir, 0o777);
  const port = await freePort();
  const generated = await writeMosquittoConfig({
    site: site.site,
    sitePath: site.sitePath,
    secretsPath: site.secretsPath,
    outDir: dir,
    port,
    bindAddress: '127.0.0.1',
    gatewayUser: GATEWAY_BROKER_USER,
    gatewayPassword: null,
    shareGroup: opts.shareGroup ?? 'openfacility',
    persistenceLocation: `${dir}/`,
    env: process.env,
  });
  const unexpected = generated.problems.filter((p) => !p.includes('chgrp'));
  if (unexpected.length > 0) throw new Error(`mosquitto-config reported problems:\n${unexpected.join('\n')}`);
  const confPath = join(dir, 'mosquitto.conf');
  // The test writes its log to stderr; everything else is the generated file as shipped.
  await writeFile(confPath, `${await readFile(confPath, 'utf8')}log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n`);
  let out = '';
  const child: ChildProcess = spawn('mosquitto', ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited at start:\n${out}`);
    if (await listening(port)) break;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within 10 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    dir,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    gatewayUser: GATEWAY_BROKER_USER,
    gatewayPasswordFile: join(dir, 'gateway-password'),
    generated,
    log: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
