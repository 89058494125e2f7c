/**
 * The live floor plan and the member page (server/web/, server/routes/pages.ts,
 * server/routes/floorplan.ts) in a real headless Chromium, against the whole
 * server listening on loopback with a test live source (as in
 * server-live.test.ts) and usage read back from a real InfluxDB:
 * - the plan of the example site loads, every desk, machine and door drawn,
 *   coloured by the live state, with the counts of each space;
 * - a desk becoming occupied shows within a second (the latency is measured);
 * - a manager sees who is where by name; a member sees no name, and nothing
 *   the server sends them (JSON, the SSE stream) carries another member's
 *   name or id;
 * - an anonymous visitor gets a login form and the page after logging in;
 * - the member page shows member A's own statement and usage, never B's;
 * - no request leaves the server (works offline), no script error, no CSP
 *   violation; screenshots in zh-CN and English (tests/artifacts/).
 */
import { get, type IncomingMessage } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPoint } from '../../core/points.js';
import type { JournalRecord } from '../../core/signals.js';
import type { LiveState } from '../../core/usage/live.js';
import { sessioniserConfig } from '../../core/usage/sessioniser.js';
import { toLine } from '../../gateway/sink/line-protocol.js';
import { launchBrowser, saveArtifact } from '../harness/browser.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { exampleLive, exampleSite, TestLiveSource } from '../harness/live.js';
import { makeTestServer, T0, type TestServer, type Who } from '../harness/server.js';

const H = 3600_000;
const site = exampleSite();
/** Local midnight of 2026-11-10 in Shanghai (UTC+8). */
const DAY = Date.UTC(2026, 10, 9, 16);
/** Sensors and meters online, so desks and machines show free/off rather than unknown. */
const ONLINE = ['occ-st-01', 'occ-st-02', 'pm-reflow-1', 'pm-solder-1', 'dc-elab'];
const NAMES = ['Zhang San', '张三', 'Li Si', '李四'];

let influx: TestInflux;
let server: TestServer;
let browser: Browser;
let live: TestLiveSource;
let base: string;
let a: string;
let b: string;

/** Members A and B in the electronics lab, B at the reflow oven; st-01 free, st-02 taken. */
function busy(at: number, deskOneTaken = false): LiveState {
  return exampleLive(
    at,
    {
      presence: { elab: { [a]: T0 - 60_000, [b]: T0 - 30_000 } },
      desks: { 'st-02': { start: T0 - 600_000, vacatedAt: null }, ...(deskOneTaken && { 'st-01': { start: at, vacatedAt: null } }) },
      machines: { 'reflow-1': { start: T0 - 20_000, running: true, idleSince: null, lastTs: T0, memberId: b, accessSessionId: 'ses-b' } },
    },
    ONLINE,
    T0 - H,
  );
}

/** A day in the electronics lab 10:00–16:00 local, billed to the member personally (no team recorded). */
function labDay(day: number, member: string, seq: number): JournalRecord[] {
  const decision = (t: number, reason: 'granted' | 'exit', n: number): JournalRecord => ({
    kind: 'decision',
    key: `dc-elab:1:${n}:decision`,
    site: site.id,
    device: 'dc-elab',
    space: 'elab',
    target: { type: 'door', id: 'elab' },
    swipe: `dc-elab:1:${n}`,
    credential: { format: 'uid', id: '0A0B0C0D' },
    memberId: member,
    teamId: null,
    grant: true,
    reason,
    override: false,
    policyVersion: 3,
    ts: day + t,
    sessionId: null,
    maxRunMs: null,
  });
  return [decision(10 * H, 'granted', seq), decision(16 * H, 'exit', seq + 1)];
}

const contexts: BrowserContext[] = [];
async function contextFor(who: Who | null): Promise<BrowserContext> {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  contexts.push(ctx);
  if (who) {
    const [name, value] = (await server.login(who)).split('=') as [string, string];
    await ctx.addCookies([{ name, value, url: base, sameSite: 'Strict', httpOnly: true }]);
  }
  return ctx;
}

interface Watched {
  readonly page: Page;
  readonly requests: string[];
  readonly errors: string[];
  /** Bodies of every JSON answer the page received. */
  readonly bodies: string[];
}

async function open(ctx: BrowserContext, path: string): Promise<Watched> {
  const page = await ctx.newPage();
  const w: Watched = { page, requests: [], errors: [], bodies: [] };
  page.on('request', (r) => w.requests.push(r.url()));
  page.on('pageerror', (e) => w.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') w.errors.push(m.text());
  });
  page.on('response', (r) => {
    if ((r.headers()['content-type'] ?? '').startsWith('application/json')) void r.text().then((t) => w.bodies.push(t), () => undefined);
  });
  const res = await page.goto(`${base}${path}`);
  expect(res?.status()).toBe(200);
  expect(res?.headers()['content-type']).toBe('text/html; charset=utf-8');
  return w;
}

/** Nothing but our own server was asked, no script failed, nothing was blocked. */
function clean(w: Watched): void {
  expect(w.requests.filter((u) => !u.startsWith(base))).toEqual([]);
  expect(w.errors).toEqual([]);
}

const attr = (page: Page, selector: string, name: string) => page.locator(selector).getAttribute(name);

/** The SSE stream as `who` receives it: every byte until `until` is seen. */
async function streamAs(who: Who, act: () => void, until: RegExp): Promise<string> {
  const cookie = await server.login(who);
  const req = get(`${base}/api/v1/live/stream`, { headers: { cookie } });
  const res = await new Promise<IncomingMessage>((resolve) => req.once('response', resolve));
  expect(res.statusCode).toBe(200);
  let body = '';
  let acted = false;
  await new Promise<void>((resolve) => {
    res.on('data', (d: Buffer) => {
      body += d.toString();
      if (!acted && body.includes('event: snapshot')) {
        acted = true;
        act();
      }
      if (acted && until.test(body)) resolve();
    });
  });
  req.destroy();
  return body;
}

beforeAll(async () => {
  [influx, browser] = await Promise.all([startTestInfluxd(), launchBrowser()]);
  live = new TestLiveSource(exampleLive(T0));
  server = await makeTestServer({ live, server: { usage: { siteId: site.id, config: sessioniserConfig(site), influx: influx.client, site } } });
  ({ a, b } = server.seed.members);
  live.set(busy(T0));
  // A spends one day in the lab, B two: different statements.
  const records = [...labDay(DAY, a, 100), ...labDay(DAY + 24 * H, b, 200), ...labDay(DAY + 48 * H, b, 300)];
  expect(await influx.client.write(records.map((r) => toLine(toPoint(r))).join('\n'), 'ns')).toEqual({ ok: true });
  const card = { currency: 'CNY', versions: [{ effectiveFrom: '2026-01-01', rates: [{ resourceClass: 'space:lab', unit: 'day', priceMinor: 500, referencePriceMinor: 5000 }] }] };
  expect((await server.request('manager', 'PUT', '/api/v1/rate-card', card)).statusCode).toBe(201);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = server.app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('the server is not listening on a TCP port');
  base = `http://127.0.0.1:${addr.port}`;
}, 30_000);

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await server?.close();
  await influx?.stop();
});

describe('live floor plan', () => {
  it('draws the site, colours it by the live state, counts each space, and shows a desk taken within a second', async () => {
    live.set(busy(T0 + 1000));
    const w = await open(await contextFor('manager'), '/floorplan?lang=en');
    const { page } = w;
    await page.locator('[data-desk="st-01"][data-state="vacant"]').waitFor({ timeout: 5000 });
    expect(await page.locator('[data-desk]').count()).toBe(site.desks.size);
    expect(await page.locator('[data-machine]').count()).toBe(site.equipment.size);
    expect(await page.locator('[data-door]').count()).toBe(site.doors.size);
    expect(await page.locator('[data-space]').count()).toBe(site.spaces.size);
    expect(await attr(page, '[data-desk="st-02"]', 'data-state')).toBe('occupied');
    expect(await attr(page, '[data-desk="cw-01"]', 'data-state')).toBe('unknown');
    expect(await attr(page, '[data-machine="reflow-1"]', 'data-state')).toBe('running');
    expect(await attr(page, '[data-machine="solder-1"]', 'data-state')).toBe('off');
    expect(await attr(page, '[data-door="elab"]', 'data-state')).toBe('online');
    expect(await attr(page, '[data-door="main"]', 'data-state')).toBe('unknown');
    // Counts per space, as the live state has them.
    const counts = async (space: string) => ({
      people: await attr(page, `[data-counts="${space}"]`, 'data-people'),
      desks: await attr(page, `[data-counts="${space}"]`, 'data-desks'),
      occupied: await attr(page, `[data-counts="${space}"]`, 'data-desks-occupied'),
      inUse: await attr(page, `[data-counts="${space}"]`, 'data-machines-in-use'),
    });
    expect(await counts('elab')).toEqual({ people: '2', desks: '0', occupied: '0', inUse: '1' });
    expect(await counts('startup')).toEqual({ people: '0', desks: '8', occupied: '1', inUse: '0' });
    expect(await page.locator('[data-counts="elab"]').textContent()).toBe('2/10 in · machines 1/2');
    expect(await page.locator('[data-counts="startup"]').textContent()).toBe('0/16 in · desks 1/8');

    // A desk becoming occupied: from the live source's change to the page's colour.
    const started = performance.now();
    live.set(busy(T0 + 2000, true));
    await page.locator('[data-desk="st-01"][data-state="occupied"]').waitFor({ timeout: 1000 });
    const latencyMs = performance.now() - started;
    console.info(`floor plan: desk st-01 shown occupied ${latencyMs.toFixed(0)} ms after the live state changed`);
    expect(latencyMs).toBeLessThan(1000);
    expect((await counts('startup')).occupied).toBe('2');
    await saveArtifact('floorplan-en.png', await page.screenshot({ fullPage: true }));
    clean(w);
  });

  it('shows a manager who is where by name, in zh-CN', async () => {
    const w = await open(await contextFor('manager'), '/floorplan');
    const { page } = w;
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await page.close();
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'zh-CN', extraHTTPHeaders: { 'accept-language': 'zh-CN,zh;q=0.9' } });
    contexts.push(ctx);
    const [name, value] = (await server.login('manager')).split('=') as [string, string];
    await ctx.addCookies([{ name, value, url: base }]);
    const zh = await open(ctx, '/floorplan');
    expect(await zh.page.locator('html').getAttribute('lang')).toBe('zh-CN');
    const elab = zh.page.locator('[data-who="elab"]');
    await elab.locator(`[data-member="${b}"]`).first().waitFor({ timeout: 5000 });
    expect(await elab.locator('h3').textContent()).toBe('电子实验室');
    const names = await elab.locator('li').allTextContents();
    expect(names.some((n) => n.startsWith('张三'))).toBe(true);
    expect(names.some((n) => n.startsWith('李四'))).toBe(true);
    expect(names).toContain('回流焊炉：李四');
    expect(await zh.page.locator('[data-counts="elab"]').textContent()).toBe('2/10 人 · 设备 1/2');
    await saveArtifact('floorplan-zh-CN.png', await zh.page.screenshot({ fullPage: true }));
    clean(zh);
  });

  it('shows a member no names, and sends them none: neither in JSON nor on the stream', async () => {
    const w = await open(await contextFor('memberA'), '/floorplan?lang=en');
    const { page } = w;
    await page.locator('[data-desk="st-02"][data-state="occupied"]').waitFor({ timeout: 5000 });
    await page.locator('#who .note').waitFor();
    expect(await page.locator('[data-counts="elab"]').getAttribute('data-people')).toBe('2');
    expect(await page.locator('[data-member]').count()).toBe(0);
    const text = (await page.locator('body').textContent()) ?? '';
    for (const n of NAMES) expect(text).not.toContain(n);
    expect(w.requests.some((u) => u.includes('/floorplan/people'))).toBe(false);
    expect(w.bodies.length).toBeGreaterThan(0);
    for (const body of w.bodies) {
      for (const n of [...NAMES, b, 'ses-b']) expect(body).not.toContain(n);
    }
    // The names route itself refuses members and auditors.
    expect((await server.request('memberA', 'GET', '/api/v1/floorplan/people')).statusCode).toBe(403);
    expect((await server.request('auditor', 'GET', '/api/v1/floorplan/people')).statusCode).toBe(403);
    expect((await server.request(null, 'GET', '/api/v1/floorplan')).statusCode).toBe(401);
    // The stream as member A receives it, across a change that moves B: no name, no id but A's own.
    const stream = await streamAs('memberA', () => live.set(busy(T0 + 3000, false)), /event: change/);
    expect(stream).toContain('event: snapshot');
    for (const n of [...NAMES, b, 'ses-b']) expect(stream).not.toContain(n);
    expect(stream).toContain(a);
    clean(w);
  });

  it('gives an anonymous visitor a login form, then the plan', async () => {
    const w = await open(await contextFor(null), '/floorplan?lang=en');
    const { page } = w;
    await page.locator('#login').waitFor();
    expect(await page.locator('[data-desk]').count()).toBe(0);
    await page.fill('input[name=username]', 'memberA');
    await page.fill('input[name=password]', 'wrong password');
    await page.click('#login button[type=submit]');
    await page.locator('#login-error').waitFor();
    await page.fill('input[name=password]', 'pw-for-the-membera-login');
    await page.click('#login button[type=submit]');
    await page.locator('[data-desk="st-02"][data-state="occupied"]').waitFor({ timeout: 5000 });
    expect(await page.locator('#login').isHidden()).toBe(true);
    // The failed login answered 401 (logged as a console error by the browser); nothing else went wrong.
    expect(w.errors.filter((e) => !e.includes('401'))).toEqual([]);
    expect(w.requests.filter((u) => !u.startsWith(base))).toEqual([]);
  });

  it('serves its script as a file under the CSP, with no inline script', async () => {
    const res = await server.request(null, 'GET', '/floorplan?lang=en');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.body).toMatch(/<script type="module" src="\/assets\/floorplan\.js"><\/script>/);
    expect([...res.body.matchAll(/<script(?![^>]*(?:src=|type="application\/json"))/g)]).toEqual([]);
    const js = await server.request(null, 'GET', '/assets/floorplan.js');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
  });
});

describe('member page', () => {
  interface Statements { currency: string; statements: { party: { kind: string; id: string }; totals: { amountMinor: number; referenceMinor: number; subsidyMinor: number } }[] }

  it('shows member A their own statement, usage and current session, never B’s', async () => {
    const mine = (await server.request('memberA', 'GET', '/api/v1/statements?month=2026-11')).json<Statements>();
    expect(mine.statements.map((s) => s.party)).toEqual([{ kind: 'member', id: a }]);
    expect(mine.statements[0]!.totals.amountMinor).toBe(500);
    const theirs = (await server.request('memberB', 'GET', '/api/v1/statements?month=2026-11')).json<Statements>();
    expect(theirs.statements[0]!.totals.amountMinor).toBe(1000);
    for (const lang of ['en', 'zh-CN'] as const) {
      const w = await open(await contextFor('memberA'), `/member?lang=${lang}`);
      const { page } = w;
      const amount = page.locator('[data-total="amount"]');
      await amount.waitFor({ timeout: 10_000 });
      expect(await page.locator('[data-statement]').getAttribute('data-statement')).toBe(`member:${a}`);
      expect(await amount.textContent()).toBe('¥5.00');
      expect(await page.locator('[data-total="reference"]').textContent()).toBe('¥50.00');
      await page.locator(`[data-usage="presence:elab"]`).waitFor();
      expect(await page.locator('[data-usage="presence:elab"] td').allTextContents()).toEqual([lang === 'en' ? 'Presence' : '在场', lang === 'en' ? 'Electronics Lab' : '电子实验室', '1', '6.0']);
      expect(await page.locator('[data-now="elab"]').count()).toBe(1);
      const text = (await page.locator('body').textContent()) ?? '';
      expect(text).toContain(server.seed.memberNos.a);
      for (const n of ['Li Si', '李四', server.seed.memberNos.b, '¥10.00']) expect(text).not.toContain(n);
      for (const body of w.bodies) for (const n of ['Li Si', '李四', b, server.seed.memberNos.b]) expect(body).not.toContain(n);
      const print = await page.locator('[data-print]').getAttribute('href');
      expect(print).toBe(`/api/v1/statements/2026-11/print?party=${encodeURIComponent(`member:${a}`)}&lang=${lang}`);
      await saveArtifact(`member-page-${lang}.png`, await page.screenshot({ fullPage: true }));
      clean(w);
    }
  });
});
