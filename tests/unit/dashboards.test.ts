/**
 * Dashboards as code (dashboards/): the committed JSON is what the source
 * generates now, every query points at the provisioned data source, Grafana's
 * macro expansion (dashboards/macros.ts) follows Grafana's rules, and the
 * query checker (dashboards/check.ts) catches broken queries.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkQuery, dashboardQueries, type Answer, type DashboardQuery } from '../../dashboards/check.js';
import { ALL, expand, expandMacros, formatInterval, interpolateVariables, intervalMs, panelRange, roundInterval, type Variable } from '../../dashboards/macros.js';
import { JSON_DIR, renderAll } from '../../dashboards/render.js';

const PROVISIONING = new URL('../../dashboards/provisioning/', import.meta.url);
const H = 3_600_000;
const TO = Date.parse('2026-11-25T12:00:00Z');

describe('generated dashboards', () => {
  it('the committed JSON is current (npm run dashboards regenerates it)', async () => {
    const want = renderAll();
    const have = (await readdir(JSON_DIR)).filter((f) => f.endsWith('.json')).sort();
    expect(have).toEqual([...want.keys()]);
    for (const [file, text] of want) expect(await readFile(join(JSON_DIR, file), 'utf8'), `${file} is stale: run npm run dashboards`).toBe(text);
  });

  it('renders the same bytes every time', () => {
    expect([...renderAll()]).toEqual([...renderAll()]);
  });

  it('every query uses the provisioned InfluxDB data source in raw InfluxQL, panel ids unique', async () => {
    const ds = parse(await readFile(new URL('datasources/openfacility.yaml', PROVISIONING), 'utf8')) as { datasources: { uid: string; type: string; url: string; jsonData: Record<string, unknown> }[] };
    const source = ds.datasources[0]!;
    expect(source).toMatchObject({ type: 'influxdb', url: '${INFLUX_URL}', jsonData: { version: 'InfluxQL', dbName: '${INFLUX_DB}', timeInterval: '1m' } });
    const uids = new Set<string>();
    for (const [file, text] of renderAll()) {
      const d = JSON.parse(text) as { uid: string; panels: { id: number; type: string; targets?: { datasource: { uid: string }; rawQuery: boolean; query: string }[] }[] };
      expect(uids.has(d.uid), `${file}: uid ${d.uid} used twice`).toBe(false);
      uids.add(d.uid);
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, `${file}: panel ids repeat`).toBe(ids.length);
      for (const p of d.panels) {
        for (const t of p.targets ?? []) {
          expect(t.datasource.uid).toBe(source.uid);
          expect(t.rawQuery).toBe(true);
          expect(t.query).toMatch(/^SELECT .* WHERE .*\$timeFilter/);
        }
      }
      const qs = dashboardQueries(file, d);
      expect(qs.filter((q) => q.kind === 'variable').map((q) => q.where)).toContain('variable site');
    }
  });

  it('the dashboard provider reads the folder the README mounts the JSON at', async () => {
    const p = parse(await readFile(new URL('dashboards/openfacility.yaml', PROVISIONING), 'utf8')) as { providers: { type: string; options: { path: string } }[] };
    expect(p.providers[0]!.type).toBe('file');
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`dashboards/json:${p.providers[0]!.options.path}`);
  });
});

describe('Grafana macro expansion (InfluxQL)', () => {
  it.each([
    [6 * H, 1000, null, 20_000, '20s'],
    [6 * H, 1000, '1m', 60_000, '1m'],
    [24 * H, 1000, '1m', 60_000, '1m'],
    [7 * 24 * H, 1000, '1m', 600_000, '10m'],
    [30 * 24 * H, 1000, '1m', 1_800_000, '30m'],
    [5 * 60_000, 1000, null, 200, '200ms'],
    [5 * 60_000, 1000, '1m', 60_000, '1m'],
    [90 * 24 * H, 500, '1m', 10_800_000, '3h'],
  ])('range %i ms over %i points, min %s → %i ms (%s)', (range, points, min, ms, text) => {
    expect(intervalMs({ from: TO - range, to: TO }, points, min)).toBe(ms);
    expect(formatInterval(ms)).toBe(text);
  });

  it.each([
    [9, 1], [11, 10], [1_400, 1_000], [1_600, 2_000], [21_600, 20_000], [50_000, 60_000], [100_000, 120_000], [4_000_000, 3_600_000], [100_000_000, 86_400_000], [1_000_000_000, 604_800_000], [4e9, 31_536_000_000],
  ])('rounds %i ms to %i ms', (raw, rounded) => {
    expect(roundInterval(raw)).toBe(rounded);
  });

  it('formats intervals in the largest whole unit', () => {
    expect([90_000, 86_400_000, 2 * 86_400_000, 31_536_000_000, 1_500, 0.5].map(formatInterval)).toEqual(['1m', '1d', '2d', '1y', '1s', '1ms']);
  });

  it('replaces $timeFilter and the interval macros as the backend does', () => {
    const q = 'SELECT mean("x") FROM "m" WHERE $timeFilter GROUP BY time($__interval) LIMIT $__interval_ms; SELECT 1 GROUP BY time($interval)';
    expect(expandMacros(q, { from: 1000, to: 2000 }, 60_000)).toBe('SELECT mean("x") FROM "m" WHERE time >= 1000ms and time <= 2000ms GROUP BY time(1m) LIMIT 60000; SELECT 1 GROUP BY time(1m)');
  });

  const multi = (current: Variable['current'], options: string[] = ['a', 'b.c', 'd']): Variable => ({ multi: true, includeAll: true, options, current });
  const single = (current: string): Variable => ({ multi: false, includeAll: false, options: [current], current });
  it.each([
    ['all values, joined for a regex', { site: multi(ALL) }, '/^($site)$/', '/^(a|b\\\\.c|d)$/'],
    ['several values', { site: multi(['a', 'd']) }, '/^($site)$/', '/^(a|d)$/'],
    ['one value of a multi variable', { site: multi(['d']) }, '/^($site)$/', '/^(d)$/'],
    ['a single-value variable is regex-escaped', { site: single('x.y') }, "'$site'", "'x\\.y'"],
    ['a number is left alone', { n: single('1.5') }, '$n', '1.5'],
    ['${name} and [[name]]', { site: multi(['a']) }, '${site}-[[site]]', 'a-a'],
    ['explicit formats', { site: multi(['a', 'd']) }, '${site:csv} ${site:pipe} ${site:regex} ${site:singlequote}', "a,d a|d (a|d) 'a','d'"],
    ['unknown names and the backend macros stay', { site: multi(['a']) }, '$timeFilter $__interval $__interval_ms $interval $other', '$timeFilter $__interval $__interval_ms $interval $other'],
    ['$__from and $__to', {}, '$__from-$__to', `${TO - H}-${TO}`],
  ])('variables: %s', (_label, vars, query, out) => {
    expect(interpolateVariables(query, vars, { from: TO - H, to: TO })).toBe(out);
  });

  it('a panel time override queries the last minutes up to the dashboard’s end', () => {
    expect(panelRange({ from: TO - 6 * H, to: TO }, '5m')).toEqual({ from: TO - 300_000, to: TO });
    expect(expand('SELECT last("p") FROM "m" WHERE $timeFilter GROUP BY time($__interval)', { range: { from: TO - 6 * H, to: TO }, variables: {}, timeFrom: '5m', minInterval: '1m' })).toBe(
      `SELECT last("p") FROM "m" WHERE time >= ${TO - 300_000}ms and time <= ${TO}ms GROUP BY time(1m)`,
    );
  });
});

describe('query checker', () => {
  const q = (query: string, over: Partial<DashboardQuery> = {}): DashboardQuery => ({ dashboard: 'd', where: 'panel 1 "p" A', kind: 'target', query, resultFormat: 'time_series', timeFrom: null, unit: null, min: null, max: null, ...over });
  const opts = { range: { from: TO - H, to: TO }, variables: { site: { multi: true, includeAll: true, options: ['s1'], current: ALL } }, minInterval: '1m' };
  const answer = (series: Answer['series']): Answer[] => [{ series }];
  const good = answer([{ name: 'space_occupancy', tags: { space: 'lab' }, columns: ['time', 'people'], values: [[TO - 60_000, 2], [TO, null]] }]);

  it('passes a well-shaped answer and sends the expanded query', async () => {
    const sent: string[] = [];
    const r = await checkQuery(q('SELECT max("people") FROM "space_occupancy" WHERE "site" =~ /^($site)$/ AND $timeFilter GROUP BY time($__interval)'), opts, async (s) => (sent.push(s), good));
    expect(r.problems).toEqual([]);
    expect(sent).toEqual([`SELECT max("people") FROM "space_occupancy" WHERE "site" =~ /^(s1)$/ AND time >= ${TO - H}ms and time <= ${TO}ms GROUP BY time(1m)`]);
  });

  it('fails a query on a misspelt measurement (InfluxDB answers no series)', async () => {
    const r = await checkQuery(q('SELECT max("people") FROM "space_occupancies" WHERE $timeFilter'), opts, async () => answer([]));
    expect(r.problems).toEqual(['no series: the query returned no data']);
  });

  it('fails on an InfluxDB error, nulls only, negative values, values outside the panel’s range, wrong columns', async () => {
    const err = await checkQuery(q('SELECT'), opts, async () => Promise.reject(new Error('error parsing query')));
    expect(err.problems).toEqual(['InfluxDB error: error parsing query']);
    const nulls = await checkQuery(q('SELECT x'), opts, async () => answer([{ name: 'm', columns: ['time', 'x'], values: [[TO, null]] }]));
    expect(nulls.problems).toEqual(['every value is null']);
    const neg = await checkQuery(q('SELECT x'), opts, async () => answer([{ name: 'm', columns: ['time', 'x'], values: [[TO, -1]] }]));
    expect(neg.problems).toEqual(['m.x: -1 is negative']);
    const over = await checkQuery(q('SELECT x', { min: 0, max: 100 }), opts, async () => answer([{ name: 'm', columns: ['time', 'x'], values: [[TO, 140]] }]));
    expect(over.problems).toEqual(["m.x: 140 above the panel's max 100"]);
    const show = await checkQuery(q('SHOW TAG VALUES WITH KEY = "site"', { kind: 'variable' }), opts, async () => answer([{ name: 'm', columns: ['key', 'values'], values: [['site', 's1']] }]));
    expect(show.problems).toEqual(['series m: no "value" column (key, values)']);
  });

  it('runs further checks it is given', async () => {
    const r = await checkQuery(q('SELECT x'), opts, async () => good, (_q, a) => (a.series[0]!.values.some((row) => (row[1] as number) > 1) ? ['too many people'] : []));
    expect(r.problems).toEqual(['too many people']);
  });
});
