/**
 * The printable statement and subsidy claim, opened in a real headless
 * Chromium against the whole server listening on loopback, with usage read
 * back from a real InfluxDB and a closed month:
 * - the zh-CN and English statements show the totals of GET /statements;
 * - a hostile member name is shown as text, never run or parsed as markup;
 * - the claim page shows every category of GET /statements/:month/claim;
 * - a member prints their own statement and nothing else;
 * - the statement prints to a non-empty A4 PDF.
 * Screenshots and the PDF are kept in tests/artifacts/ (tests/harness/browser.ts).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPoint } from '../../core/points.js';
import type { JournalRecord, PowerSignal } from '../../core/signals.js';
import { sessioniserConfig } from '../../core/usage/sessioniser.js';
import { toLine } from '../../gateway/sink/line-protocol.js';
import { formatMoney } from '../../server/print/format.js';
import { launchBrowser, saveArtifact } from '../harness/browser.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { makeTestServer, type TestServer } from '../harness/server.js';
import { siteFromFile } from '../harness/site-fixture.js';

const MIN = 60_000;
const H = 3600_000;
const SITE = 'print-site';
/** Local midnight of 2026-11-10 in Shanghai (UTC+8). */
const DAY = Date.UTC(2026, 10, 9, 16);
const HOSTILE = `<script>window.__pwned = 1</script>"Bob" & 'Co' <img src=x onerror="window.__pwned = 2">`;
const HOSTILE_ZH = '<b>李四</b>';

const site = siteFromFile({
  version: 1,
  site: { id: SITE, name: 'Print test space', nameZh: '打印测试空间', timezone: 'Asia/Shanghai' },
  spaces: [
    { id: 'cowork', name: 'Co-working', kind: 'open-space' },
    { id: 'fablab', name: 'Fab lab', kind: 'lab' },
  ],
  desks: [{ id: 'd1', space: 'cowork' }],
  doors: [{ id: 'fablab', space: 'fablab' }],
  equipment: [{ id: 'laser-1', space: 'fablab', name: 'Laser', class: 'laser-cutter', runningThresholdW: 300 }],
  devices: [
    { id: 'occ-d1', kind: 'occupancy-sensor', desk: 'd1', credentials: { secret: 'env:X' } },
    { id: 'pm-laser-1', kind: 'power-meter', equipment: 'laser-1', credentials: { secret: 'env:X' } },
    { id: 'dc-fablab', kind: 'door-controller', door: 'fablab', credentials: { secret: 'env:X' } },
  ],
});

/** A member in the lab 10:00–16:00 with a laser job 10:10–11:00 (50 min running, then idle); `teamId` as the gateway recorded it. */
function visit(start: number, member: string, teamId: string | null, seqBase: number): JournalRecord[] {
  let seq = seqBase;
  const r: JournalRecord[] = [];
  const decision = (t: number, reason: 'granted' | 'exit'): JournalRecord => ({
    kind: 'decision',
    key: `dc-fablab:1:${++seq}:decision`,
    site: SITE,
    device: 'dc-fablab',
    space: 'fablab',
    target: { type: 'door', id: 'fablab' },
    swipe: `dc-fablab:1:${seq}`,
    credential: { format: 'uid', id: '0A0B0C0D' },
    memberId: member,
    teamId,
    grant: true,
    reason,
    override: false,
    policyVersion: 3,
    ts: start + t,
    sessionId: null,
    maxRunMs: null,
  });
  const pow = (t: number, w: number, kwh: number): PowerSignal => ({
    key: `pm-laser-1:1:${++seq}`,
    site: SITE,
    device: 'pm-laser-1',
    deviceKind: 'power-meter',
    space: 'fablab',
    target: { type: 'equipment', id: 'laser-1' },
    seq,
    ts: start + t,
    tsSource: 'device',
    kind: 'power',
    powerW: w,
    energyKwh: kwh,
    voltageV: null,
    currentA: null,
    on: null,
  });
  const id = `S${seqBase}`;
  r.push(decision(10 * H, 'granted'));
  r.push({ kind: 'session', key: `session:${id}:start`, site: SITE, space: 'fablab', equipment: 'laser-1', sessionId: id, memberId: member, teamId, event: 'start', reason: 'granted', ts: start + 10 * H + 5 * MIN, durationMs: null });
  for (let m = 0; m <= 60; m += 5) r.push(pow(10 * H + 10 * MIN + m * MIN, m < 50 ? 900 : 20, 1 + m * 0.01));
  r.push({ kind: 'session', key: `session:${id}:end`, site: SITE, space: 'fablab', equipment: 'laser-1', sessionId: id, memberId: member, teamId, event: 'end', reason: 'badge_out', ts: start + 11 * H + 20 * MIN, durationMs: 75 * MIN });
  r.push(decision(16 * H, 'exit'));
  return r;
}

interface Totals { amountMinor: number; referenceMinor: number; subsidyMinor: number }
interface StatementsBody { currency: string; statements: { party: { kind: string; id: string }; lines: unknown[]; totals: Totals }[] }
interface ClaimBody { currency: string; lines: { category: string; claimableMinor: number; referenceMinor: number; costsMinor?: number }[]; total: { claimableMinor: number } }

let influx: TestInflux;
let server: TestServer;
let browser: Browser;
let base: string;
let staff: BrowserContext;
let statements: StatementsBody;
const requested: string[] = [];

async function memberContext(who: 'memberA' | 'memberB'): Promise<BrowserContext> {
  const [name, value] = (await server.login(who)).split('=') as [string, string];
  const ctx = await browser.newContext();
  await ctx.addCookies([{ name, value, url: base }]);
  return ctx;
}

async function open(ctx: BrowserContext, path: string, status = 200): Promise<Page> {
  const page = await ctx.newPage();
  page.on('request', (r) => requested.push(r.url()));
  const res = await page.goto(`${base}${path}`);
  expect({ path, status: res?.status() }).toEqual({ path, status });
  if (status === 200) expect(res?.headers()['content-type']).toBe('text/html; charset=utf-8');
  return page;
}

const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? '').trim();

beforeAll(async () => {
  [influx, browser] = await Promise.all([startTestInfluxd(), launchBrowser()]);
  // Logins outlive the clock moved past the month's end (closing it).
  server = await makeTestServer({ server: { usage: { siteId: SITE, config: sessioniserConfig(site), influx: influx.client, site }, sessionTtlMs: 365 * 24 * H } });
  const { members, teams } = server.seed;
  // Member B, now with a hostile name, is billed personally (their sessions recorded no team); A's go to team Alpha.
  await server.db.updateTable('members').set({ name: HOSTILE, name_zh: HOSTILE_ZH }).where('id', '=', members.b).execute();
  const records = [...visit(DAY, members.a, teams.a, 1000), ...visit(DAY + 24 * H, members.b, null, 2000)];
  expect(await influx.client.write(records.map((r) => toLine(toPoint(r))).join('\n'), 'ns')).toEqual({ ok: true });
  const card = {
    currency: 'CNY',
    versions: [
      {
        effectiveFrom: '2026-01-01',
        rates: [
          { resourceClass: 'machine:laser-cutter', unit: 'hour', priceMinor: 3000, referencePriceMinor: 12_000, incrementMinutes: 6, rounding: 'up' },
          { resourceClass: 'space:lab', unit: 'day', priceMinor: 500, referencePriceMinor: 5000 },
        ],
      },
    ],
  };
  expect((await server.request('manager', 'PUT', '/api/v1/rate-card', card)).statusCode).toBe(201);
  const training = { kind: 'training', title: 'Laser safety', startedAt: DAY + 9 * H, minutes: 90, participants: [members.a], externalParticipants: 3, referenceMinor: 40_000 };
  expect((await server.request('manager', 'POST', '/api/v1/services', training)).statusCode).toBe(201);
  const fibre = { month: '2026-11', category: 'broadband', description: '1000M fibre', supplier: 'Telecom <&> Co', invoiceRef: 'INV-2026-11', amountMinor: 120_000 };
  expect((await server.request('manager', 'POST', '/api/v1/costs', fibre)).statusCode).toBe(201);
  statements = (await server.request('auditor', 'GET', '/api/v1/statements?month=2026-11')).json<StatementsBody>();
  server.clock.set(Date.UTC(2026, 11, 2, 2));
  expect((await server.request('manager', 'POST', '/api/v1/statements/2026-11/close', {})).statusCode).toBe(201);

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

describe('printable statement', () => {
  const totalsOf = (kind: string, id: string): Totals => statements.statements.find((st) => st.party.kind === kind && st.party.id === id)!.totals;

  it('in zh-CN and in English, with the totals of GET /statements, the party’s names and member number', async () => {
    const b = server.seed.members.b;
    const totals = totalsOf('member', b);
    // Lab day 5 元 + laser 54 min at 30 元/h = 27 元.
    expect(totals).toEqual({ lines: 2, grossMinor: 3200, amountMinor: 3200, referenceMinor: 5000 + 10_800, subsidyMinor: 4500 + 8100 });
    for (const lang of ['zh-CN', 'en'] as const) {
      const page = await open(staff, `/statements/2026-11/print?party=member:${b}&lang=${lang}`);
      expect(await page.locator('html').getAttribute('lang')).toBe(lang);
      expect(await text(page, '[data-total="amount"]')).toBe(formatMoney(totals.amountMinor, 'CNY', lang));
      expect(await text(page, '[data-total="reference"]')).toBe(formatMoney(totals.referenceMinor, 'CNY', lang));
      expect(await text(page, '[data-total="subsidy"]')).toBe(formatMoney(totals.subsidyMinor, 'CNY', lang));
      expect(await text(page, '[data-total="amount"]')).toBe('¥32.00');
      expect(await page.locator('table.lines tbody tr').count()).toBe(2);
      const body = await text(page, 'body');
      expect(body).toContain(server.seed.memberNos.b);
      expect(body).toContain(lang === 'zh-CN' ? '激光切割机' : 'Laser cutter');
      expect(body).toContain(lang === 'zh-CN' ? '2026-11 费用结算单' : 'Statement for 2026-11');
      expect(body).toContain(lang === 'zh-CN' ? '打印测试空间（Print test space）' : 'Print test space (打印测试空间)');
      expect(body).toContain(lang === 'zh-CN' ? '0.9 小时' : '0.9 h');
      await saveArtifact(`statement-member-${lang}.png`, await page.screenshot({ fullPage: true }));
      await page.close();
    }
  });

  it('shows a hostile member name as text: no element, no script run', async () => {
    const page = await open(staff, `/statements/2026-11/print?party=member:${server.seed.members.b}&lang=en`);
    expect(await text(page, '[data-field="party"]')).toBe(`${HOSTILE} (${HOSTILE_ZH})`);
    expect(await page.locator('[data-field="party"] *').count()).toBe(0);
    expect(await page.locator('script, img, b').count()).toBe(0);
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    expect(await page.title()).toContain(HOSTILE);
    await page.close();
  });

  it('a team’s statement names the member on each line; the language follows Accept-Language without ?lang', async () => {
    const zh = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${await server.tokenFor('manager')}`, 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.5' } });
    const page = await open(zh, `/statements/2026-11/print?party=team:${server.seed.teams.a}`);
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    expect(await text(page, '[data-field="party"]')).toBe('阿尔法机器人（Alpha Robotics）');
    expect(await text(page, 'table.lines tbody')).toContain('张三（Zhang San）');
    expect(await text(page, '[data-total="amount"]')).toBe(formatMoney(totalsOf('team', server.seed.teams.a).amountMinor, 'CNY', 'zh-CN'));
    await saveArtifact('statement-team-zh-CN.png', await page.screenshot({ fullPage: true }));
    await zh.close();
  });

  it('prints to an A4 PDF', async () => {
    const page = await open(staff, `/statements/2026-11/print?party=member:${server.seed.members.b}&lang=zh-CN`);
    const pdf = await page.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true });
    await saveArtifact('statement-member-zh-CN.pdf', pdf);
    expect(pdf.length).toBeGreaterThan(1000);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    // A4 is 595 × 842 points; the two-line statement fits on one page.
    const boxes = [...pdf.toString('latin1').matchAll(/\/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]/g)].map((m) => [Math.round(Number(m[1])), Math.round(Number(m[2]))]);
    expect(boxes).toEqual([[595, 842]]);
    await page.close();
  });

  it('a member prints their own statement, and no one else’s', async () => {
    const memberB = await memberContext('memberB');
    const own = await open(memberB, `/statements/2026-11/print?party=member:${server.seed.members.b}`);
    expect(await text(own, '[data-total="amount"]')).toBe('¥32.00');
    await own.close();
    for (const party of [`member:${server.seed.members.a}`, `team:${server.seed.teams.b}`, `team:${server.seed.teams.a}`]) {
      const page = await open(memberB, `/statements/2026-11/print?party=${party}`, 404);
      expect(await text(page, 'body')).not.toContain('Zhang San');
      await page.close();
    }
    (await open(memberB, '/statements/2026-11/claim/print', 403)).close().catch(() => undefined);
    await memberB.close();
    // Member A's use went to their team: they have no statement of their own, and are told so.
    const res = await server.request('memberA', 'GET', `/api/v1/statements/2026-11/print?party=member:${server.seed.members.a}`);
    expect(res.statusCode).toBe(404);
    expect(res.json<{ detail: string }>().detail).toMatch(/has no statement for 2026-11/);
  });
});

describe('printable subsidy claim', () => {
  it('shows every category of GET /claim with both languages’ labels and the claimable totals', async () => {
    const claim = (await server.request('auditor', 'GET', '/api/v1/statements/2026-11/claim')).json<ClaimBody>();
    expect(claim.lines.length).toBeGreaterThanOrEqual(5);
    for (const lang of ['zh-CN', 'en'] as const) {
      const page = await open(staff, `/statements/2026-11/claim/print?lang=${lang}`);
      const rows = page.locator('tbody tr[data-category]');
      const shown = await Promise.all(Array.from({ length: await rows.count() }, (_, i) => rows.nth(i).getAttribute('data-category')));
      expect(shown).toEqual(claim.lines.map((l) => l.category));
      for (const l of claim.lines) {
        expect(await text(page, `tr[data-category="${l.category}"] [data-field="claimable"]`)).toBe(formatMoney(l.claimableMinor, 'CNY', lang));
      }
      expect(await text(page, 'tr[data-category="total"] [data-field="claimable"]')).toBe(formatMoney(claim.total.claimableMinor, 'CNY', lang));
      // Both languages' labels of a category, whichever the page is in.
      expect(await text(page, 'tr[data-category="shared_equipment"] td:first-child')).toBe(lang === 'zh-CN' ? '共享设备Shared equipment' : 'Shared equipment共享设备');
      expect(await text(page, 'tr[data-category="training"]')).toContain(lang === 'zh-CN' ? '培训' : 'Training');
      // The costs column is there when the claim's lines carry costs.
      const withCosts = claim.lines.some((l) => l.costsMinor !== undefined);
      expect(await page.locator('thead th', { hasText: lang === 'zh-CN' ? '成本' : 'Costs' }).count()).toBe(withCosts ? 1 : 0);
      await saveArtifact(`claim-${lang}.png`, await page.screenshot({ fullPage: true }));
      await page.close();
    }
    // 2 × (5000 + 10 800) − 2 × 3200 = 25 200 on space and machines, 40 000 for the training, 1 200 元 of broadband at cost.
    expect(claim.total.claimableMinor).toBe(2 * 15_800 - 2 * 3200 + 40_000 + 120_000);
    expect(claim.lines.find((l) => l.category === 'broadband')).toMatchObject({ costsMinor: 120_000, claimableMinor: 120_000 });
  });

  it('answers 404 for a month that is not closed', async () => {
    const page = await open(staff, '/statements/2026-10/claim/print', 404);
    expect(await text(page, 'body')).toMatch(/close it first/);
    await page.close();
  });

  it('a closed month prints as frozen: dearer prices later change nothing; an adjustment is listed with its reason and the amount due after it', async () => {
    const b = server.seed.members.b;
    const dearer = { currency: 'CNY', versions: [{ effectiveFrom: '2026-01-01', rates: [{ resourceClass: 'machine:laser-cutter', unit: 'hour', priceMinor: 9000, referencePriceMinor: 12_000 }] }] };
    expect((await server.request('manager', 'PUT', '/api/v1/rate-card', dearer)).statusCode).toBe(201);
    const [laser] = (await server.request('auditor', 'GET', `/api/v1/ledger?month=2026-11&partyId=${b}`)).json<{ id: number; resourceClass: string }[]>().filter((e) => e.resourceClass === 'machine:laser-cutter');
    const reason = 'lens fault <b>12 min</b> refunded';
    expect((await server.request('manager', 'POST', '/api/v1/ledger/adjustments', { corrects: laser!.id, amountMinor: -600, reason })).statusCode).toBe(201);
    for (const lang of ['zh-CN', 'en'] as const) {
      const page = await open(staff, `/statements/2026-11/print?party=member:${b}&lang=${lang}`);
      expect(await page.locator('[data-field="status"]').getAttribute('data-closed')).toBe('yes');
      expect(await text(page, '[data-total="amount"]')).toBe('¥32.00');
      expect(await page.locator('table.adjustments tbody tr').count()).toBe(1);
      expect(await text(page, 'table.adjustments tbody')).toContain(reason);
      expect(await page.locator('table.adjustments b').count()).toBe(0);
      expect(await text(page, '[data-total="due"]')).toBe('¥26.00');
      await saveArtifact(`statement-closed-adjusted-${lang}.png`, await page.screenshot({ fullPage: true }));
      await page.close();
    }
  });

  it('loaded nothing but the pages themselves (no CDN, no script, no external font)', () => {
    expect(requested.length).toBeGreaterThan(5);
    expect(requested.filter((u) => !u.startsWith(`${base}/statements/`))).toEqual([]);
  });
});
