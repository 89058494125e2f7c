/**
 * bench/utilisation (issue #6): a month of a 500-desk, 40-machine maker space,
 * from the simulator, to its usage sessions and utilisation report.
 *
 *   npx tsx bench/utilisation/run.ts [--days 30] [--desks 500] [--machines 40] [--members 1500]
 *       [--seed 1] [--rounds 3] [--influx]
 *
 * 1. Setup (not timed): the month's records (bench/utilisation/world.ts), as
 *    the gateway would have journaled them.
 * 2. Timed, in this process, `--rounds` times: the sessioniser over the
 *    month's records in time order, then the utilisation report
 *    (core/usage/metrics.ts, by day) from its sessions and gaps. Wall time
 *    and the heap the run allocates on top of the records.
 * 3. With --influx: the records written to a real influxd (not timed), then
 *    the server's path timed: read back from InfluxDB window by window
 *    (server/usage/readback.ts), sessionised, reported.
 *
 * Prints a Markdown summary and writes .bench-out/utilisation.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { toPoint } from '../../core/points.js';
import { Sessioniser, sessioniserConfig, type Output, type UnknownGap, type UsageSession } from '../../core/usage/sessioniser.js';
import { InfluxV1Client } from '../../gateway/influx/client.js';
import { InfluxdProcess } from '../../gateway/influx/influxd.js';
import { toLine } from '../../gateway/sink/line-protocol.js';
import { usageForPeriod } from '../../server/usage/readback.js';
import { buildWorld } from './world.js';
import { report, type ReportInput } from './report.js';

const REPO = resolve(import.meta.dirname, '../..');
const { values: flags } = parseArgs({
  options: {
    days: { type: 'string', default: '30' },
    desks: { type: 'string', default: '500' },
    machines: { type: 'string', default: '40' },
    members: { type: 'string', default: '1500' },
    seed: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    influx: { type: 'boolean', default: false },
  },
});
const P = { days: Number(flags.days), desks: Number(flags.desks), machines: Number(flags.machines), members: Number(flags.members), seed: Number(flags.seed), rounds: Number(flags.rounds), influx: flags.influx === true };
const log = (msg: string) => process.stderr.write(`[bench:utilisation] ${msg}\n`);
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

// November 2026 in Shanghai: from local midnight of the 1st.
const START = Date.UTC(2026, 9, 31, 16);
const END = START + P.days * 86_400_000;

const t0 = performance.now();
const world = await buildWorld({ ...P, start: START, onProgress: (d) => log(`simulating: ${Math.round(d * 100)} %`) });
const setupS = (performance.now() - t0) / 1000;
const byKind: Record<string, number> = {};
for (const r of world.records) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
log(`${world.records.length.toLocaleString('en')} records for ${P.days} days (${JSON.stringify(byKind)}); ${world.healthDropped.toLocaleString('en')} battery/link reports left out; setup ${setupS.toFixed(1)} s`);
const cfg = sessioniserConfig(world.site);

function sessionise(records: Iterable<(typeof world.records)[number]>): { sessions: UsageSession[]; gaps: UnknownGap[]; late: number } {
  const s = new Sessioniser(cfg);
  const sessions: UsageSession[] = [];
  const gaps: UnknownGap[] = [];
  const keep = (outs: Output[]) => {
    for (const o of outs) {
      if (o.kind === 'gap') gaps.push(o);
      else sessions.push(o);
    }
  };
  for (const r of records) keep(s.push(r));
  const f = s.flush(END);
  keep(f.closed);
  sessions.push(...f.open);
  gaps.push(...f.openGaps);
  return { sessions, gaps, late: s.late };
}

interface Round {
  readonly round: number;
  readonly sessioniseMs: number;
  readonly reportMs: number;
  readonly totalMs: number;
  readonly heapGrowthMb: number;
  readonly sessions: number;
  readonly gaps: number;
}

const rounds: Round[] = [];
let last: { sessions: UsageSession[]; gaps: UnknownGap[] } | null = null;
let summary: ReturnType<typeof report> | null = null;
for (let round = 1; round <= P.rounds; round++) {
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const a = performance.now();
  const usage = sessionise(world.records);
  const b = performance.now();
  const input: ReportInput = { site: world.site, from: START, to: END, sessions: usage.sessions, gaps: usage.gaps };
  summary = report(input);
  const c = performance.now();
  const heapGrowthMb = mb(process.memoryUsage().heapUsed - heap0);
  if (usage.late !== 0) throw new Error(`${usage.late} records came late in a sorted stream: a bug`);
  rounds.push({ round, sessioniseMs: Math.round(b - a), reportMs: Math.round(c - b), totalMs: Math.round(c - a), heapGrowthMb, sessions: usage.sessions.length, gaps: usage.gaps.length });
  log(`round ${round}: sessionise ${Math.round(b - a)} ms (${usage.sessions.length} sessions, ${usage.gaps.length} gaps), report ${Math.round(c - b)} ms`);
  last = usage;
}

let influxRun: { writeS: number; points: number; readMs: number; reportMs: number; records: number; sameSessions: boolean } | null = null;
if (P.influx && last) {
  const dir = await mkdtemp(join(tmpdir(), 'of-bench-util-'));
  const influxd = new InfluxdProcess({ dataDir: dir, logger: pino({ level: 'warn' }) });
  try {
    const { url } = await influxd.start();
    const client = new InfluxV1Client({ url, db: 'bench_util', timeoutMs: 120_000 });
    await client.createDatabase();
    const w0 = performance.now();
    for (let i = 0; i < world.records.length; i += 5000) {
      const body = world.records.slice(i, i + 5000).map((r) => toLine(toPoint(r))).join('\n');
      const res = await client.write(body, 'ns');
      if (!res.ok) throw new Error(`write failed: ${JSON.stringify(res)}`);
      if (i % 500_000 === 0) log(`writing to InfluxDB: ${Math.round((i / world.records.length) * 100)} %`);
    }
    const writeS = (performance.now() - w0) / 1000;
    const r0 = performance.now();
    let decile = -1;
    const progress = (d: number) => {
      if (Math.floor(d * 10) === decile) return;
      decile = Math.floor(d * 10);
      log(`reading back: ${decile * 10} %`);
    };
    const usage = await usageForPeriod(client, cfg, { site: world.site.id, from: START, to: END, lookbackMs: 0, onProgress: progress });
    const r1 = performance.now();
    report({ site: world.site, from: START, to: END, sessions: [...usage.sessions, ...usage.open], gaps: usage.gaps });
    const r2 = performance.now();
    const key = (s: UsageSession) => `${s.id}:${s.end}:${s.endReason}`;
    const sameSessions = JSON.stringify([...usage.sessions, ...usage.open].map(key).sort()) === JSON.stringify(last.sessions.map(key).sort());
    influxRun = { writeS: Math.round(writeS), points: world.records.length, readMs: Math.round(r1 - r0), reportMs: Math.round(r2 - r1), records: usage.records, sameSessions };
    log(`InfluxDB: read back and sessionised in ${Math.round(r1 - r0)} ms, report ${Math.round(r2 - r1)} ms; same sessions as in memory: ${sameSessions}`);
  } finally {
    await influxd.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const machine = { nproc: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version };
const out = { date: new Date().toISOString(), machine, params: P, records: world.records.length, byKind, healthDropped: world.healthDropped, events: world.events, setupS, rounds, influx: influxRun, peakRssMb: mb(process.resourceUsage().maxRSS * 1024), headline: summary?.headline ?? null };
mkdirSync(join(REPO, '.bench-out'), { recursive: true });
writeFileSync(join(REPO, '.bench-out/utilisation.json'), JSON.stringify(out, null, 2));

console.log(`\nbench/utilisation — ${machine.nproc} CPUs (${machine.cpuModel}), node ${machine.node}; ${P.days} days, ${P.desks} hot desks, ${P.machines} machines, ${P.members} members\n`);
console.log(`Records: ${world.records.length.toLocaleString('en')} (${Object.entries(byKind).map(([k, v]) => `${k} ${v.toLocaleString('en')}`).join(', ')}); battery/link reports left out: ${world.healthDropped.toLocaleString('en')}\n`);
console.log('| Round | Sessioniser ms | Report ms | Total ms | Heap growth MB | Sessions | Gaps |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rounds) console.log(`| ${r.round} | ${r.sessioniseMs} | ${r.reportMs} | **${r.totalMs}** | ${r.heapGrowthMb} | ${r.sessions.toLocaleString('en')} | ${r.gaps} |`);
console.log(`\nMedian total: ${median(rounds.map((r) => r.totalMs))} ms (target: under 10 s for the month). Peak RSS of the process (records included): ${out.peakRssMb} MB.`);
if (influxRun) console.log(`From InfluxDB (${influxRun.points.toLocaleString('en')} points written in ${influxRun.writeS} s, not timed): read back + sessionise ${influxRun.readMs} ms, report ${influxRun.reportMs} ms; same sessions as in memory: ${influxRun.sameSessions ? 'yes' : '**no**'}`);
if (summary) console.log(`\nThe month: ${JSON.stringify(summary.headline)}`);
