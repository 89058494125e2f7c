/**
 * Every query of every committed Grafana dashboard (dashboards/json/), run as
 * Grafana would send it (dashboards/macros.ts: variables, $timeFilter,
 * $__interval, panel time overrides) against a real influxd holding three
 * simulated hours of two sites, written by our own code path: journal
 * records → core/points.ts toPoint → line protocol → InfluxV1Client, and the
 * gateway's live view (gateway/live/live-view.ts) deriving the per-minute
 * space_occupancy series from the same records through its SeriesWriter.
 * Each answer must have the shape its panel needs, with plausible values;
 * some are compared exactly with what was simulated. A query on a
 * misspelt measurement must fail the same check.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkQuery, dashboardQueries, variablesFor, type Answer, type CheckResult, type DashboardQuery, type Execute } from '../../dashboards/check.js';
import type { TimeRange } from '../../dashboards/macros.js';
import { JSON_DIR } from '../../dashboards/render.js';
import { toPoint } from '../../core/points.js';
import type { BadgeSignal, DecisionRecord, HealthSignal, JournalRecord, MeterRecord, OccupancySignal, PowerSignal, SessionRecord, SystemEvent } from '../../core/signals.js';
import type { Site, SiteFile } from '../../core/site/model.js';
import { LiveView } from '../../gateway/live/live-view.js';
import { SeriesWriter } from '../../gateway/live/series-writer.js';
import { toLine } from '../../gateway/sink/line-protocol.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { siteFromFile } from '../harness/site-fixture.js';

const MIN = 60_000;
const SITES = ['maker-a', 'maker-b'] as const;
const CAPACITY = { cowork: 20, fablab: 6, elab: 4 } as const;
const DESKS = 8;

function siteFile(id: string): SiteFile {
  const desks = Array.from({ length: DESKS }, (_, i) => `d${String(i + 1).padStart(2, '0')}`);
  const X = { secret: 'env:X' } as const;
  return {
    version: 1,
    // No opening hours: always open, so the simulation does not depend on the hour the test runs at.
    site: { id, name: `Dashboards ${id}`, timezone: 'UTC' },
    spaces: [
      { id: 'cowork', name: 'Co-working', kind: 'open-space', capacity: CAPACITY.cowork },
      { id: 'fablab', name: 'Fab lab', kind: 'lab', capacity: CAPACITY.fablab },
      { id: 'elab', name: 'Electronics lab', kind: 'lab', capacity: CAPACITY.elab },
    ],
    desks: desks.map((d) => ({ id: d, space: 'cowork' })),
    doors: [
      { id: 'main', space: 'cowork' },
      { id: 'fablab', space: 'fablab' },
      { id: 'elab', space: 'elab' },
    ],
    equipment: [
      { id: 'laser-1', space: 'fablab', name: 'Laser', class: 'laser-cutter', runningThresholdW: 300 },
      { id: 'printer-1', space: 'fablab', name: 'Printer', class: '3d-printer', runningThresholdW: 40 },
      { id: 'reflow-1', space: 'elab', name: 'Reflow oven', class: 'reflow-oven', runningThresholdW: 200 },
    ],
    devices: [
      ...desks.map((d) => ({ id: `occ-${d}`, kind: 'occupancy-sensor' as const, desk: d, credentials: X })),
      { id: 'dc-main', kind: 'door-controller', door: 'main', credentials: X },
      { id: 'dc-fablab', kind: 'door-controller', door: 'fablab', credentials: X },
      { id: 'dc-elab', kind: 'door-controller', door: 'elab', credentials: X },
      { id: 'pm-laser-1', kind: 'power-meter', equipment: 'laser-1', credentials: X },
      { id: 'pm-printer-1', kind: 'power-meter', equipment: 'printer-1', credentials: X },
      { id: 'pm-reflow-1', kind: 'power-meter', equipment: 'reflow-1', credentials: X },
    ],
  };
}

/** What was simulated, for exact comparisons. */
interface Truth {
  granted: number;
  refused: number;
  offlineDevices: number;
}

/**
 * Three hours of one site ending at `end` (a whole minute): desks taken and left, members in and
 * out of the labs, refused badges, machine jobs with their sessions and hour meters, batteries,
 * two devices going offline, a device clock replaced, telemetry shed. `busy` scales the activity.
 */
function simulate(site: Site, start: number, end: number, busy: number): { records: JournalRecord[]; truth: Truth } {
  const out: JournalRecord[] = [];
  const seqs = new Map<string, number>();
  const at = (m: number) => start + m * MIN;
  const signal = (device: string, ts: number) => {
    const d = site.devices.get(device);
    if (!d) throw new Error(`no device ${device}`);
    const seq = (seqs.get(device) ?? 0) + 1;
    seqs.set(device, seq);
    return { key: `${device}:1:${seq}`, site: site.id, device, deviceKind: d.kind, space: d.space, target: d.target, seq, ts, tsSource: 'device' as const };
  };
  const occ = (device: string, m: number, occupied: boolean): OccupancySignal => ({ ...signal(device, at(m)), kind: 'occupancy', occupied });
  const pow = (device: string, m: number, powerW: number): PowerSignal => ({ ...signal(device, at(m)), kind: 'power', powerW, energyKwh: null, voltageV: 230, currentA: powerW / 230, on: true });
  const health = (device: string, m: number, online: boolean, batteryPct: number | null, linkQuality: number | null): HealthSignal => ({ ...signal(device, at(m)), kind: 'health', online, batteryPct, linkQuality });
  const truth: Truth = { granted: 0, refused: 0, offlineDevices: 0 };

  const door = (doorId: string, m: number, member: string | null, card: string, reason: string) => {
    const swipe: BadgeSignal = { ...signal(`dc-${doorId}`, at(m)), kind: 'badge', credential: { format: 'uid', id: card } };
    const grant = reason === 'granted' || reason === 'exit' || reason === 'override';
    if (grant) truth.granted++;
    else truth.refused++;
    const decision: DecisionRecord = {
      kind: 'decision', key: `${swipe.key}:decision`, site: site.id, device: swipe.device, space: swipe.space, target: { type: 'door', id: doorId },
      swipe: swipe.key, credential: swipe.credential, memberId: member, teamId: null, grant, reason, override: reason === 'override', policyVersion: 1,
      ts: at(m) + 5, sessionId: null, maxRunMs: null,
    };
    out.push(swipe, decision);
  };

  // Every device says hello: batteries on the desk sensors (one low), link quality.
  for (const d of site.devices.values()) {
    const i = [...site.devices.keys()].indexOf(d.id);
    out.push(health(d.id, 0, true, d.kind === 'occupancy-sensor' ? Math.max(9, 100 - i * 12) : null, d.kind === 'occupancy-sensor' ? 120 + i : null));
  }

  // Desks: morning stints, and an afternoon still going on at `end` for every other desk.
  for (let i = 0; i < DESKS; i++) {
    const dev = `occ-d${String(i + 1).padStart(2, '0')}`;
    const stints: [number, number][] = [[5 + i * 4, 60 + i * 10]];
    if (i % 2 === 0 || busy > 1) stints.push([120 + i * 3, 180]);
    for (const [from, to] of stints) {
      for (let m = from; m < to; m += 5) out.push(occ(dev, m, true));
      if (to < 180) out.push(occ(dev, to, false));
    }
  }
  // The replaced device clock: stamped with the gateway's time.
  out.push({ ...occ('occ-d01', 7, true), tsSource: 'gateway' });

  // People: five at the main entrance, four into the fab lab (three leave), two into the electronics lab.
  for (let k = 0; k < 5 * busy; k++) door('main', 2 + k, `M${100 + k}`, `C${100 + k}`, 'granted');
  for (let k = 0; k < 4; k++) door('fablab', 10 + 5 * k, `M${100 + k}`, `C${100 + k}`, 'granted');
  for (let k = 0; k < 3; k++) door('fablab', 100 + 5 * k, `M${100 + k}`, `C${100 + k}`, 'exit');
  for (let k = 0; k < 2; k++) door('elab', 30 + 7 * k, `M${104 - k}`, `C${104 - k}`, 'granted');
  // Staff override badge by a member already inside: no second presence.
  door('fablab', 70, 'M103', 'C103', 'override');
  door('main', 20, null, 'FFFF0001', 'unknown_badge');
  door('main', 130, null, 'FFFF0002', 'unknown_badge');
  door('fablab', 45, 'M104', 'C104', 'certification_missing');
  door('elab', 90, 'M103', 'C103', 'space_full');

  // Machines: a reading a minute from each meter; the laser and the printer run at `end`.
  const jobs: Record<string, [number, number][]> = { 'laser-1': [[20, 50], [150, 181]], 'printer-1': [[30, 181]], 'reflow-1': [[60, 80]] };
  const watts: Record<string, [number, number]> = { 'laser-1': [520, 15], 'printer-1': [110, 4], 'reflow-1': [900, 2] };
  const runningMs: Record<string, number> = { 'laser-1': 36_000_000, 'printer-1': 72_000_000, 'reflow-1': 3_600_000 };
  for (let m = 0; m < 180; m++) {
    for (const [eq, spans] of Object.entries(jobs)) {
      const on = spans.some(([a, b]) => m >= a && m < b);
      out.push(pow(`pm-${eq}`, m, watts[eq]![on ? 0 : 1]));
      if (on) runningMs[eq]! += MIN;
      if (m % 10 === 9) {
        const meter: MeterRecord = { kind: 'meter', key: `meter:${eq}:${String(at(m)).padStart(13, '0')}`, site: site.id, space: site.equipment.get(eq)!.space, equipment: eq, runningMs: runningMs[eq]!, ts: at(m) + 1 };
        out.push(meter);
      }
    }
  }
  const session = (eq: string, id: string, m: number, event: 'start' | 'end', durationMs: number | null): SessionRecord => ({
    kind: 'session', key: `session:${id}:${event}`, site: site.id, space: site.equipment.get(eq)!.space, equipment: eq, sessionId: id, memberId: 'M100', teamId: null, event,
    reason: event === 'start' ? 'badge' : 'badge_out', ts: at(m) + 2, durationMs,
  });
  out.push(session('laser-1', `${site.id}-s1`, 20, 'start', null), session('laser-1', `${site.id}-s1`, 50, 'end', 30 * MIN), session('laser-1', `${site.id}-s2`, 150, 'start', null));
  out.push(session('reflow-1', `${site.id}-s3`, 60, 'start', null), session('reflow-1', `${site.id}-s3`, 80, 'end', 20 * MIN));

  // Two devices go quiet: a desk sensor's will, and a door controller.
  out.push(health('occ-d08', 140, false, null, null), health('dc-elab', 160, false, null, null));
  truth.offlineDevices = 2;
  const shed: SystemEvent = { kind: 'system', key: `system:${site.id}:shed:1`, site: site.id, ts: at(100), event: 'telemetry_shed', count: 12, fromSeq: 1000, toSeq: 1011 };
  out.push(shed);

  out.sort((a, b) => a.ts - b.ts);
  if (out.some((r) => r.ts >= end)) throw new Error('simulated a record after the end');
  return { records: out, truth };
}

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** The gateway's live view over the records, ticking every 10 s of simulated time: its per-minute points go to InfluxDB. */
async function deriveOccupancy(site: Site, records: readonly JournalRecord[], start: number, end: number, influx: TestInflux): Promise<void> {
  const clock = { t: start, now: () => clock.t };
  const series = new SeriesWriter({ client: influx.client, logger: silent });
  const view = new LiveView({ site, clock, logger: silent, publish: async () => undefined, replay: () => 0, series, tickMs: 86_400_000 });
  view.start();
  let i = 0;
  let seq = 0;
  for (let t = start; t <= end; t += 10_000) {
    clock.t = t;
    const batch = [];
    while (i < records.length && records[i]!.ts <= t) batch.push({ seq: ++seq, cls: 'billing' as const, record: records[i++]! });
    if (batch.length > 0) view.observe(batch);
    view.tick();
  }
  view.stop();
  while (series.stats().pending > 0) await series.flush();
  await series.flush();
  expect(series.stats().lastError).toBeNull();
}

let influx: TestInflux;
let end: number;
const sites = new Map<string, Site>();
const truths = new Map<string, Truth>();
const dashboards = new Map<string, unknown>();

const execute: Execute = async (q) => influx.client.query(q, { epoch: 'ms' });

beforeAll(async () => {
  influx = await startTestInfluxd();
  end = Math.floor(Date.now() / MIN) * MIN;
  const start = end - 180 * MIN;
  for (const [n, id] of SITES.entries()) {
    const site = siteFromFile(siteFile(id));
    sites.set(id, site);
    const { records, truth } = simulate(site, start, end, n + 1);
    truths.set(id, truth);
    const lines = records.map((r) => toLine(toPoint(r)));
    for (let k = 0; k < lines.length; k += 5000) {
      const r = await influx.client.write(lines.slice(k, k + 5000).join('\n'), 'ns');
      expect(r).toEqual({ ok: true });
    }
    await deriveOccupancy(site, records, start, end, influx);
  }
  for (const f of (await readdir(JSON_DIR)).filter((x) => x.endsWith('.json')).sort()) dashboards.set(f.replace(/\.json$/, ''), JSON.parse(await readFile(join(JSON_DIR, f), 'utf8')));
}, 60_000);

afterAll(async () => {
  await influx?.stop();
});

/** The values a SHOW TAG VALUES answer lists. */
const tagValues = (a: readonly Answer[]): string[] => [...new Set(a.flatMap((s) => s.series.flatMap((x) => x.values.map((row) => String(row[x.columns.indexOf('value')])))))].sort();

const capacityOf = (space: string): number => CAPACITY[space as keyof typeof CAPACITY] ?? Infinity;

/**
 * Plausible values beyond the generic checks: people never above a space's (or the sites') capacity, and a
 * capacity column, where a panel has one, exactly the space's capacity in the site file.
 */
function plausible(q: DashboardQuery, a: Answer): string[] {
  const problems: string[] = [];
  for (const s of a.series) {
    const cap = s.tags?.space !== undefined ? capacityOf(s.tags.space) : SITES.length * (CAPACITY.cowork + CAPACITY.fablab + CAPACITY.elab);
    const capCol = s.columns.indexOf('capacity');
    if (capCol >= 0) {
      for (const row of s.values) if (row[capCol] !== cap) problems.push(`${q.where}: capacity ${String(row[capCol])} for ${s.tags?.space ?? 'the sites'}, site file says ${cap}`);
    }
    const col = s.columns.indexOf('people');
    if (col < 0) continue;
    for (const row of s.values) {
      const v = row[col];
      if (typeof v === 'number' && v > cap) problems.push(`${q.where}: ${v} people in ${s.tags?.space ?? 'the sites'}, capacity ${cap}`);
    }
  }
  return problems;
}

interface Selection {
  readonly label: string;
  readonly site: readonly string[] | '$__all';
  readonly space: readonly string[] | '$__all';
}
const SELECTIONS: readonly Selection[] = [
  { label: 'all sites, all spaces', site: '$__all', space: '$__all' },
  { label: 'one site, two spaces', site: ['maker-a'], space: ['cowork', 'fablab'] },
];

async function runDashboard(name: string, sel: Selection, range: TimeRange): Promise<CheckResult[]> {
  const d = dashboards.get(name);
  const queries = dashboardQueries(name, d);
  // Variables resolve in order, as Grafana does: site's options, then space's given the site.
  const siteQ = queries.find((q) => q.where === 'variable site')!;
  const siteOptions = tagValues(await execute(siteQ.query));
  expect(siteOptions).toEqual([...SITES]);
  let vars = variablesFor(d, { site: siteOptions }, { site: sel.site });
  const spaceQ = queries.find((q) => q.where === 'variable space');
  let spaceOptions: string[] = [];
  if (spaceQ) {
    const r = await checkQuery(spaceQ, { range, variables: vars, minInterval: '1m' }, execute);
    spaceOptions = tagValues(await execute(r.influxql));
    expect(spaceOptions).toEqual(['cowork', 'elab', 'fablab']);
  }
  vars = variablesFor(d, { site: siteOptions, space: spaceOptions }, { site: sel.site, space: sel.space });
  const results: CheckResult[] = [];
  for (const q of queries) results.push(await checkQuery(q, { range, variables: vars, minInterval: '1m', maxDataPoints: 1000 }, execute, plausible));
  return results;
}

const report = (rs: readonly CheckResult[]): string[] => rs.filter((r) => r.problems.length > 0).map((r) => `${r.query.dashboard} ${r.query.where}\n  ${r.influxql}\n  ${r.problems.join('\n  ')}`);

/** The first numeric value of the named column in a query's answer. */
async function valueOf(name: string, title: string, column: string, sel: Selection, range: TimeRange): Promise<number> {
  const r = (await runDashboard(name, sel, range)).find((x) => x.query.where.includes(`"${title}"`));
  if (!r) throw new Error(`no panel "${title}" in ${name}`);
  const a = await execute(r.influxql);
  const s = a[0]!.series[0]!;
  return s.values[0]![s.columns.indexOf(column)] as number;
}

describe('committed Grafana dashboards against a real InfluxDB', () => {
  it('has the five dashboards', () => {
    expect([...dashboards.keys()]).toEqual(['access', 'devices', 'ingest', 'machines', 'occupancy']);
  });

  for (const sel of SELECTIONS) {
    it(`every variable and panel query returns data of the right shape (${sel.label})`, async () => {
      const range = { from: end - 6 * 60 * MIN, to: Date.now() };
      let count = 0;
      const problems: string[] = [];
      for (const name of dashboards.keys()) {
        const rs = await runDashboard(name, sel, range);
        count += rs.length;
        problems.push(...report(rs));
      }
      expect(problems).toEqual([]);
      expect(count).toBeGreaterThan(40);
    });
  }

  it('shows what was simulated', async () => {
    const range = { from: end - 6 * 60 * MIN, to: Date.now() };
    const all = SELECTIONS[0]!;
    const sum = (k: keyof Truth) => [...truths.values()].reduce((n, t) => n + t[k], 0);
    expect(await valueOf('access', 'Refused', 'refused', all, range)).toBe(sum('refused'));
    expect(await valueOf('access', 'Granted', 'granted', all, range)).toBe(sum('granted'));
    expect(await valueOf('devices', 'Devices offline', 'offline', all, range)).toBe(sum('offlineDevices'));
    // Now: fab lab has one member left, electronics lab two; site B has ten at the main entrance, site A five.
    expect(await valueOf('occupancy', 'People inside now', 'people', all, range)).toBe(2 * (1 + 2) + 5 + 10);
    // Now: the laser and the printer run at both sites.
    expect(await valueOf('machines', 'Machines running now', 'running', all, range)).toBe(4);
    // Now: every other desk at site A (d08's sensor is offline there), every desk at site B.
    expect(await valueOf('occupancy', 'Desks occupied now', 'desks', all, range)).toBe(2 * DESKS);
    expect(await valueOf('occupancy', 'Desks occupied now', 'desks_occupied', all, range)).toBe(DESKS / 2 + DESKS);
    // Labs now: people against the capacity the site file gives each lab.
    const labs = (await runDashboard('occupancy', all, range)).find((x) => x.query.where.includes('"Labs now"'))!;
    const rows = (await execute(labs.influxql)).flatMap((a) => a.series).map((s) => ({ site: s.tags?.site, space: s.tags?.space, people: s.values[0]![s.columns.indexOf('people')], capacity: s.values[0]![s.columns.indexOf('capacity')] }));
    expect(rows.sort((x, y) => `${x.site}${x.space}`.localeCompare(`${y.site}${y.space}`))).toEqual(
      SITES.flatMap((site) => [
        { site, space: 'elab', people: 2, capacity: CAPACITY.elab },
        { site, space: 'fablab', people: 1, capacity: CAPACITY.fablab },
      ]),
    );
  });

  it('fails a query on a measurement that does not exist', async () => {
    const range = { from: end - 6 * 60 * MIN, to: Date.now() };
    const broken: DashboardQuery = {
      dashboard: 'broken', where: 'panel 1 "misspelt" A', kind: 'target', resultFormat: 'time_series', timeFrom: null, unit: null, min: null, max: null,
      query: 'SELECT max("people") FROM "space_occupancies" WHERE "site" =~ /^($site)$/ AND $timeFilter GROUP BY time($__interval), "space"',
    };
    const vars = { site: { multi: true, includeAll: true, options: [...SITES], current: '$__all' } };
    const r = await checkQuery(broken, { range, variables: vars, minInterval: '1m' }, execute);
    expect(r.influxql).toContain('"site" =~ /^(maker-a|maker-b)$/');
    expect(r.problems).toContain('no series: the query returned no data');
    const bad = await checkQuery({ ...broken, query: 'SELECT max("people") FROM "space_occupancy" WHERE $timeFilter GROUP BY time($__interval' }, { range, variables: vars }, execute);
    expect(bad.problems.join()).toMatch(/InfluxDB error/);
  });
});
