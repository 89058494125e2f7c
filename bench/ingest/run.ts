/**
 * bench/ingest: simulated devices in separate processes → gateway → InfluxDB,
 * QoS 1, fsync-durable; and, in the same run, a bare aedes broker taking the
 * same load (the ceiling of this design on this machine).
 *
 *   npx tsx bench/ingest/run.ts [--rounds 3] [--duration 10] [--procs 2] [--devices 40] [--window 64] [--rate 5000]
 *
 * --duration is per phase: each round runs the bare broker and the gateway flat out (order alternating),
 * then one paced phase follows.
 *
 * Prints a Markdown table and writes .bench-out/ingest.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { InfluxV1Client } from '../../gateway/influx/client.js';
import { InfluxdProcess } from '../../gateway/influx/influxd.js';
import { freePort } from '../../gateway/net/free-port.js';
import { makeCanonicalTestSite, startGatewayProcess, type GatewayProcess } from '../../tests/harness/gateway.js';

const REPO = resolve(import.meta.dirname, '../..');
const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    procs: { type: 'string', default: '2' },
    devices: { type: 'string', default: '40' },
    window: { type: 'string', default: '64' },
    rate: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '3' },
  },
});
const DURATION_MS = Number(flags.duration) * 1000;
const PROCS = Number(flags.procs);
const DEVICES = Number(flags.devices);
const WINDOW = Number(flags.window);
const RATE = Number(flags.rate);
const ROUNDS = Number(flags.rounds);

interface PubResult {
  sent: number;
  acked: number;
  unacked: number;
  ackedInWindow: number;
  elapsedMs: number;
  latenciesUs: number[];
  perDevice: Record<string, number>;
}

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function spawnTs(file: string, args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(REPO, file), ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] });
}

function lines(child: ChildProcess, onLine: (obj: Record<string, unknown>) => void): void {
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) onLine(JSON.parse(line) as Record<string, unknown>);
    }
  });
}

/** Runs the publishers against url; all start on one signal. */
async function load(url: string, site: string, devices: { id: string; secret?: string }[], mode: 'max' | 'rate', boot: number): Promise<{ results: PubResult[]; rate: number; latencies: number[] }> {
  const per = Math.ceil(devices.length / PROCS);
  const children: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  const done: Promise<PubResult>[] = [];
  for (let p = 0; p < PROCS; p++) {
    const mine = devices.slice(p * per, (p + 1) * per);
    if (mine.length === 0) continue;
    const child = spawnTs('bench/ingest/publisher.ts', [
      JSON.stringify({ url, site, devices: mine, mode, ratePerSec: RATE / PROCS, window: WINDOW, durationMs: DURATION_MS, boot, tsBase: Date.now() - 86_400_000 }),
    ]);
    children.push(child);
    let r!: () => void;
    let d!: (x: PubResult) => void;
    ready.push(new Promise((res) => (r = res)));
    done.push(new Promise((res) => (d = res)));
    lines(child, (o) => (o.ready ? r() : d(o as unknown as PubResult)));
  }
  await Promise.all(ready);
  for (const c of children) c.stdin!.write('go\n');
  const results = await Promise.all(done);
  const ackedInWindow = results.reduce((a, r) => a + r.ackedInWindow, 0);
  const elapsed = Math.max(...results.map((r) => r.elapsedMs));
  const latencies: number[] = [];
  for (const r of results) for (const l of r.latenciesUs) latencies.push(l);
  latencies.sort((a, b) => a - b);
  return { results, rate: ackedInWindow / (elapsed / 1000), latencies };
}

function vmHwmMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

const dir = await mkdtemp(join(tmpdir(), 'of-bench-'));
const influxd = new InfluxdProcess({ dataDir: join(dir, 'influxdb'), logger: pino({ level: 'warn' }) });
const { url: influxUrl } = await influxd.start();
const influx = new InfluxV1Client({ url: influxUrl, db: 'bench' });
await influx.createDatabase();
const site = await makeCanonicalTestSite();
const deviceList = [...site.site.devices.values()].filter((d) => d.kind === 'occupancy-sensor').slice(0, DEVICES).map((d) => ({ id: d.id, secret: site.secrets[d.id]! }));
if (deviceList.length < DEVICES) log(`only ${deviceList.length} occupancy sensors in the example site`);

const report: Record<string, unknown> = {
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memGb: Math.round(totalmem() / 2 ** 30), node: process.version },
  params: { rounds: ROUNDS, phaseS: DURATION_MS / 1000, procs: PROCS, devices: deviceList.length, window: WINDOW, pacedRate: RATE },
};
let gw: GatewayProcess | null = null;
let bare: ChildProcess | null = null;
const median = (xs: number[]) => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
};
try {
  // Both systems run side by side, idle when not measured; phases alternate in rounds so that the
  // host's noise (a shared VM) hits both alike, and the ratio is taken within each round.
  const barePort = await freePort();
  bare = spawnTs('bench/ingest/bare-broker.ts', [String(barePort)]);
  await new Promise<void>((res) => lines(bare!, () => res()));
  gw = await startGatewayProcess({
    site,
    influxUrl,
    db: 'bench',
    logLevel: 'warn',
    config: { mqtt: { devicePublishRatePerSec: 1_000_000, devicePublishBurst: 1_000_000, connectRatePerSec: 10_000 } },
  });
  const rounds: { bare: number; gateway: number; ratio: number }[] = [];
  const gwLatencies: number[] = [];
  const bareLatencies: number[] = [];
  let acked = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ['bare', 'gateway'] : ['gateway', 'bare'];
    const rates: Record<string, number> = {};
    for (const which of order) {
      log(`round ${r + 1}/${ROUNDS}: ${which}, max QoS 1 load for ${DURATION_MS / 1000} s`);
      const url = which === 'bare' ? `mqtt://127.0.0.1:${barePort}` : gw.mqttUrl;
      // Every round uses a new boot number, so its signals are new to the gateway's de-duplication.
      const res = await load(url, site.site.id, deviceList, 'max', 10 + r);
      rates[which] = res.rate;
      if (which === 'gateway') {
        acked += res.results.reduce((a, x) => a + x.acked, 0);
        for (const l of res.latencies) gwLatencies.push(l);
      } else for (const l of res.latencies) bareLatencies.push(l);
    }
    rounds.push({ bare: Math.round(rates.bare!), gateway: Math.round(rates.gateway!), ratio: Math.round((rates.gateway! / rates.bare!) * 100) / 100 });
  }
  const drainStart = Date.now();
  const h = await gw.drained(120_000);
  const drainMs = Date.now() - drainStart;
  const [res] = await influx.query(`SELECT count(occupied) FROM occupancy WHERE site='${site.site.id}'`);
  const inInflux = (res?.series[0]?.values[0]?.[1] as number | undefined) ?? 0;
  gwLatencies.sort((a, b) => a - b);
  bareLatencies.sort((a, b) => a - b);
  report.rounds = rounds;
  report.bareAedes = { medianRatePerSec: median(rounds.map((x) => x.bare)), p50Ms: percentile(bareLatencies, 50) / 1000, p99Ms: percentile(bareLatencies, 99) / 1000 };
  report.gatewayMax = {
    medianRatePerSec: median(rounds.map((x) => x.gateway)),
    p50Ms: percentile(gwLatencies, 50) / 1000,
    p99Ms: percentile(gwLatencies, 99) / 1000,
    acked,
    journaled: h.journal.lastSeq,
    inInfluxDB: inInflux,
    lost: acked - inInflux,
    drainAfterLoadMs: drainMs,
  };
  report.ratioToBare = { median: median(rounds.map((x) => x.ratio)), min: Math.min(...rounds.map((x) => x.ratio)), max: Math.max(...rounds.map((x) => x.ratio)) };
  bare.kill('SIGTERM');
  bare = null;

  log(`gateway: paced ${RATE}/s for ${DURATION_MS / 1000} s`);
  const p = await load(gw.mqttUrl, site.site.id, deviceList, 'rate', 99);
  await gw.drained(120_000);
  report.gatewayPaced = {
    offeredPerSec: RATE,
    achievedPerSec: Math.round(p.rate),
    p50Ms: percentile(p.latencies, 50) / 1000,
    p99Ms: percentile(p.latencies, 99) / 1000,
    maxMs: (p.latencies[p.latencies.length - 1] ?? NaN) / 1000,
  };
  report.gatewayPeakRssMb = Math.round(vmHwmMb(gw.pid!));
} finally {
  bare?.kill('SIGTERM');
  await gw?.cleanup();
  await influxd.stop();
  await site.cleanup();
  await rm(dir, { recursive: true, force: true });
}

mkdirSync(join(REPO, '.bench-out'), { recursive: true });
writeFileSync(join(REPO, '.bench-out/ingest.json'), JSON.stringify(report, null, 2));
console.log(JSON.stringify(report, null, 2));
