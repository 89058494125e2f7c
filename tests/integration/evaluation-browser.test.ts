/**
 * The printable statistics report (GET /api/v1/evaluation/report) opened in a
 * real headless Chromium against the whole server listening on loopback,
 * with usage read back from a real InfluxDB (tests/harness/evaluation-fixture.ts)
 * and November closed:
 * - in zh-CN and in English, every indicator's value, previous value and
 *   evidence are those of GET /evaluation, shown as the page formats them;
 * - the four charts are there as inline SVG with their titles in the page's
 *   language (heat map 7 × 24 cells, occupancy line, survival curves, a bar
 *   per month of the trend);
 * - a hostile exit reason is shown as text: no element made, no script run;
 * - the page asks for nothing but itself (no script, font or image).
 * Screenshots are kept in tests/artifacts/ (tests/harness/browser.ts).
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndicatorUnit } from '../../core/evaluation/catalogue.js';
import { formatValue } from '../../server/print/evaluation.js';
import { launchBrowser, saveArtifact } from '../harness/browser.js';
import { evalSite, H, HOSTILE_REASON, RATE_CARD, seedEvaluation, SITE, usageConfig } from '../harness/evaluation-fixture.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { makeTestServer, type TestServer } from '../harness/server.js';

interface Row { id: string; unit: IndicatorUnit; value: number | null; previous: number | null; evidence: number }

let influx: TestInflux;
let server: TestServer;
let browser: Browser;
let staff: BrowserContext;
let base: string;
let rows: Row[];
const requested: string[] = [];

beforeAll(async () => {
  [influx, browser] = await Promise.all([startTestInfluxd(), launchBrowser()]);
  server = await makeTestServer({ server: { usage: { siteId: SITE, config: usageConfig, influx: influx.client, site: evalSite }, sessionTtlMs: 365 * 24 * H } });
  await seedEvaluation(server, influx);
  expect((await server.request('manager', 'PUT', '/api/v1/rate-card', RATE_CARD)).statusCode).toBe(201);
  server.clock.set(Date.UTC(2026, 11, 2, 2));
  expect((await server.request('manager', 'POST', '/api/v1/statements/2026-11/close', {})).statusCode).toBe(201);
  const json = await server.request('auditor', 'GET', '/api/v1/evaluation?kind=month&key=2026-11');
  expect(json.statusCode).toBe(200);
  rows = json.json<{ total: { rows: Row[] } }>().total.rows;
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = server.app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('the server is not listening on a TCP port');
  base = `http://127.0.0.1:${addr.port}/api/v1`;
  staff = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${await server.tokenFor('auditor')}` } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await influx?.stop();
});

describe('printable statistics report', () => {
  it.each([
    ['zh-CN', '2026-11 月度 统计报告', '工位使用率（按星期与小时）', '评价测试空间（Evaluation test space）'],
    ['en', 'Statistics report: month 2026-11', 'Desk utilisation by hour of week', 'Evaluation test space (评价测试空间)'],
  ] as const)('in %s: the figures of GET /evaluation, four SVG charts, the exits by reason as text', async (lang, heading, heatmapTitle, siteName) => {
    const page = await staff.newPage();
    page.on('request', (r) => requested.push(r.url()));
    const url = `${base}/evaluation/report?kind=month&key=2026-11&lang=${lang}`;
    const res = await page.goto(url);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toBe('text/html; charset=utf-8');
    expect(await page.locator('html').getAttribute('lang')).toBe(lang);
    expect((await page.locator('h1').textContent())?.trim()).toBe(heading);
    expect(await page.locator('dl.meta').textContent()).toContain(siteName);

    // Every indicator: the value and the previous value the JSON gives, formatted as the page formats them; the evidence count.
    // In the page (a string: this project's types have no DOM).
    const shown = await page.evaluate<{ id: string; value: string; valueText: string; previous: string; evidence: string }[]>(`[...document.querySelectorAll('tr[data-indicator]')].map((tr) => {
      const f = (name) => tr.querySelector('[data-field="' + name + '"]');
      return { id: tr.getAttribute('data-indicator'), value: f('value').getAttribute('data-value'), valueText: f('value').textContent, previous: f('previous').getAttribute('data-value'), evidence: f('evidence').getAttribute('data-value') };
    })`);
    expect(shown.map((s) => s.id)).toEqual(rows.map((r) => r.id));
    rows.forEach((r, i) => {
      const s = shown[i]!;
      expect({ id: r.id, value: s.value, previous: s.previous, evidence: s.evidence }).toEqual({ id: r.id, value: r.value === null ? '' : String(r.value), previous: r.previous === null ? '' : String(r.previous), evidence: String(r.evidence) });
      if (r.value !== null) expect({ id: r.id, text: s.valueText }).toEqual({ id: r.id, text: formatValue(r.value, r.unit, lang, 'CNY') });
    });
    const text = (id: string) => page.locator(`tr[data-indicator="${id}"] [data-field="value"]`).textContent();
    expect(await text('members-served')).toBe('3');
    expect(await text('workstation-allocation')).toBe('50%');
    expect(await text('value-given-away')).toBe('¥562.00');

    // The four charts, inline SVG with their titles in the page's language.
    const charts = await page.evaluate<{ chart: string; title: string }[]>(
      `[...document.querySelectorAll('figure[data-chart] > svg')].map((svg) => ({ chart: svg.parentElement.getAttribute('data-chart'), title: svg.querySelector('title').textContent }))`,
    );
    expect(charts.map((c) => c.chart)).toEqual(['heatmap', 'occupancy', 'survival', 'trend']);
    expect(charts[0]!.title).toBe(heatmapTitle);
    expect(await page.locator('figure[data-chart="heatmap"] rect > title').count()).toBe(7 * 24);
    // 30 days of November, each a point with a value (the site is open round the clock).
    expect(await page.locator('figure[data-chart="occupancy"] circle').count()).toBe(30);
    expect(await page.locator('figure[data-chart="survival"] path').count()).toBeGreaterThan(1);
    // December 2025 to November 2026: October and November served someone.
    const bars = await page.locator('figure[data-chart="trend"] rect > title').allTextContents();
    expect(bars).toEqual([...['2025-12', '2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09'].map((m) => `${m}: 0`), '2026-10: 2', '2026-11: 3']);

    // The hostile exit reason is text: the cell reads it back verbatim, no element was made and nothing ran.
    expect(await page.locator('table.exits tr[data-exit-reason] td').first().textContent()).toBe(HOSTILE_REASON);
    expect(await page.locator('table.exits img, table.exits script').count()).toBe(0);
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');

    await saveArtifact(`evaluation-report-${lang}.png`, await page.screenshot({ fullPage: true }));
    await page.close();
    expect(requested.filter((u) => !u.startsWith(`${base}/evaluation/report?`))).toEqual([]);
  });
});
