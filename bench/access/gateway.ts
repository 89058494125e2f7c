/**
 * The system under test, in a process of its own: the real Gateway
 * (gateway/gateway.ts: broker, ingress, access runner, journal on its writer
 * thread with the InfluxDB sink), built as `facility start` builds it
 * (cli/system.ts) from the default configuration, but deciding from a fixed
 * policy snapshot (bench/access/scenario.ts) instead of the server's database.
 *
 * Input (argv[2], JSON): GatewayArgs. Stdout: {"ready":true,"mqttPort":N},
 * then one JSON line per command read from stdin:
 *   mark   — starts the measured window (event-loop histogram, utilisation, trace)
 *   report — GatewayReport for the window so far
 *   stop   — stops the gateway (journal and sink finish) and exits
 *
 * Instrumentation (bench only, nothing in gateway/ changes): the access
 * runner's onRecords is wrapped to stamp when each swipe reaches its decision
 * and when the decision (and the commands it sends, which are published
 * synchronously inside it) is done, on CLOCK_MONOTONIC like the load
 * generators; and the broker's internal message queue (aedes' mqemitter) is
 * sampled, to see routing held up behind a subscriber that does not drain.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { indexPolicy } from '../../core/access/policy-index.js';
import { PolicySnapshotSchema } from '../../core/policy/snapshot.js';
import type { JournalRecord } from '../../core/signals.js';
import { buildConfig } from '../../cli/config.js';
import { loadSiteFile } from '../../cli/init.js';
import type { PolicyView } from '../../gateway/access/runner.js';
import { DeviceCredentialVerifier } from '../../gateway/auth/secrets.js';
import { Gateway, type GatewayHealth } from '../../gateway/gateway.js';

export interface GatewayArgs {
  readonly dataDir: string;
  readonly sitePath: string;
  readonly policyPath: string;
  readonly influxUrl: string;
  readonly db: string;
  readonly logLevel: string;
  /** Merged into the configuration (as a facility.yaml would be). */
  readonly config: Record<string, unknown>;
}

export interface GatewayReport {
  readonly health: GatewayHealth;
  /** Main thread's event-loop delay over the window, ms. */
  readonly eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Main thread busy fraction over the window (0–1). */
  readonly eventLoopUtilisation: number;
  /** The broker's routing queue: the most messages waiting, and how long anything waited (ms, sampled every 5 ms). */
  readonly routingQueue: { maxWaiting: number; msWithWaiting: number };
  /**
   * The journal's commit notices on the main thread: each one releases a whole batch (PUBACKs, the
   * next reads of those connections, the committed-record listeners) in one task. Durations in ms.
   */
  readonly commitRelease: { count: number; meanRecords: number; p50Ms: number; p99Ms: number; maxMs: number; totalMs: number };
  /** Swipe key → [decision starts, decision and commands done], ns CLOCK_MONOTONIC. */
  readonly trace: Record<string, [string, string]>;
  /** Process CPU over the window, ms (user + system, all threads). */
  readonly cpuMs: number;
}

const args = JSON.parse(process.argv[2]!) as GatewayArgs;
const config = buildConfig({ ...args.config, dataDir: args.dataDir, log: { level: args.logLevel }, influx: { ...(args.config.influx as object | undefined), url: args.influxUrl, db: args.db } });
const logger = pino({ level: config.log.level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: join(args.dataDir, 'gateway.log'), mkdir: true }));
const site = await loadSiteFile(args.sitePath);

const raw: unknown = JSON.parse(readFileSync(args.policyPath, 'utf8'));
if (!Value.Check(PolicySnapshotSchema, raw)) throw new Error(`${args.policyPath}: not a policy snapshot: ${[...Value.Errors(PolicySnapshotSchema, raw)].slice(0, 3).map((e) => `${e.path} ${e.message}`).join('; ')}`);
const index = indexPolicy(raw);
const confirmedAt = Date.now();
const policy: PolicyView = { current: () => index, ageMs: (now) => now - confirmedAt };

const verifier = new DeviceCredentialVerifier(site);
const gateway = new Gateway(
  {
    mqtt: config.mqtt,
    journal: { path: join(args.dataDir, 'journal.db'), ...config.journal },
    sink: config.influx,
    influx: { url: args.influxUrl, db: args.db, token: null, username: null, password: null },
    time: config.time,
    logLevel: config.log.level,
  },
  { site, verifyCredentials: (id, pw) => verifier.verify(id, pw), siteDir: args.dataDir, policy, clock: { now: () => Date.now() }, logger },
);

let trace = new Map<string, [bigint, bigint]>();
const onRecords = gateway.access.onRecords.bind(gateway.access);
gateway.access.onRecords = (records: readonly JournalRecord[], receivedAt: number) => {
  const t0 = process.hrtime.bigint();
  const out = onRecords(records, receivedAt);
  const t1 = process.hrtime.bigint();
  for (const r of records) if (r.kind === 'badge') trace.set(r.key, [t0, t1]);
  return out;
};

// The journal's writer thread answers each batch with one message; how long the main thread spends on each.
let releases: { ms: number; records: number }[] = [];
const journal = gateway.journal as unknown as { onMessage(m: { type: string; results?: unknown[] }): void };
const onMessage = journal.onMessage.bind(journal);
journal.onMessage = (m) => {
  if (m.type !== 'committed' && m.type !== 'failed') return onMessage(m);
  const t0 = performance.now();
  onMessage(m);
  releases.push({ ms: performance.now() - t0, records: m.results?.length ?? 0 });
};

const { mqttPort } = await gateway.start();

// aedes keeps its router private; the bench reads its queue length only.
const mq = (gateway.broker as unknown as { aedes: { mq: { length: number } } | null }).aedes?.mq;
let maxWaiting = 0;
let samplesWaiting = 0;
const sampler = setInterval(() => {
  const n = mq?.length ?? 0;
  if (n > maxWaiting) maxWaiting = n;
  if (n > 0) samplesWaiting++;
}, 5);
sampler.unref();

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let elu = performance.eventLoopUtilization();
let cpu = process.cpuUsage();

function releaseSummary(): GatewayReport['commitRelease'] {
  const ms = releases.map((r) => r.ms).sort((a, b) => a - b);
  const at = (p: number) => Math.round((ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)] ?? NaN) * 1000) / 1000;
  return {
    count: ms.length,
    meanRecords: Math.round(releases.reduce((a, r) => a + r.records, 0) / Math.max(1, releases.length)),
    p50Ms: at(50),
    p99Ms: at(99),
    maxMs: Math.round((ms[ms.length - 1] ?? NaN) * 1000) / 1000,
    totalMs: Math.round(ms.reduce((a, b) => a + b, 0)),
  };
}

const reply = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
reply({ ready: true, mqttPort });

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = line.trim();
  if (cmd === 'mark') {
    delay.reset();
    elu = performance.eventLoopUtilization();
    cpu = process.cpuUsage();
    trace = new Map();
    releases = [];
    maxWaiting = 0;
    samplesWaiting = 0;
    reply({ marked: true });
  } else if (cmd === 'report') {
    const c = process.cpuUsage(cpu);
    const report: GatewayReport = {
      health: gateway.health(),
      eventLoopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
      eventLoopUtilisation: performance.eventLoopUtilization(elu).utilization,
      routingQueue: { maxWaiting, msWithWaiting: samplesWaiting * 5 },
      commitRelease: releaseSummary(),
      trace: Object.fromEntries([...trace].map(([k, [a, b]]) => [k, [a.toString(), b.toString()]])),
      cpuMs: Math.round((c.user + c.system) / 1000),
    };
    reply(report);
  } else if (cmd === 'stop') {
    await gateway.stop();
    reply({ stopped: true });
    process.exit(0);
  }
}
