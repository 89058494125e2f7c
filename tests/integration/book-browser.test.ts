/**
 * The public booking page (/book; server/web/book.js) in a real headless
 * Chromium against the whole server on loopback: no login; it lists the
 * example site's machines, hot desks and rooms with what is free now and what
 * is booked; a visitor's request reaches the server as a request a manager
 * can confirm; nothing the page receives names a member or carries a member
 * id; no script error, no CSP violation, no request off the server;
 * screenshots in zh-CN and English (tests/artifacts/).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, saveArtifact } from '../harness/browser.js';
import { exampleSite } from '../harness/site-fixture.js';
import { makeTestServer, T0, type TestServer } from '../harness/server.js';

const H = 3_600_000;
const site = exampleSite();
let s: TestServer;
let browser: Browser;
let base: string;

beforeAll(async () => {
  s = await makeTestServer({ site });
  await s.db.updateTable('plans').set({ spaces: '["*"]' }).execute();
  await s.db.updateTable('members').set({ plan_id: s.seed.plan }).execute();
  await s.db.insertInto('certifications').values({ id: 'c1', member_id: s.seed.members.a, class: 'laser-cutter', issued_on: '2026-01-10', expires_on: null, trainer_id: null, revoked_at: null, note: null, created_at: T0, updated_at: T0 }).execute();
  // A holds the laser now (T0 is 17:00 in Shanghai) and B a room tomorrow.
  expect((await s.request('memberA', 'POST', '/api/v1/bookings', { resourceType: 'equipment', resourceId: 'laser-1', from: T0, to: T0 + 2 * H })).statusCode).toBe(201);
  expect((await s.request('memberB', 'POST', '/api/v1/bookings', { resourceType: 'room', resourceId: 'room-a', from: T0 + 24 * H, to: T0 + 25 * H })).statusCode).toBe(201);
  base = await s.app.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

describe('the public booking page', () => {
  it.each([
    ['en', 'Book a machine, desk or room', 'booked'],
    ['zh-CN', '开放预约', '已被预约'],
  ])('shows what is free without login, in %s, and sends a visitor’s request', async (lang, title, taken) => {
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 1400 }, locale: lang });
    const page = await ctx.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    const bodies: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('request', (r) => requests.push(r.url()));
    page.on('response', (r) => {
      void r.text().then(
        (b) => bodies.push(b),
        () => undefined,
      );
    });
    await page.goto(`${base}/book?lang=${lang}`);
    await page.waitForSelector('#availability tbody tr');
    expect(await page.textContent('h1')).toContain(title);
    const rows = await Promise.all((await page.locator('#availability tbody tr').all()).map((tr) => tr.getAttribute('data-resource')));
    expect(rows).toContain('equipment:laser-1');
    expect(rows).toContain('room:room-a');
    expect(rows.filter((r) => r?.startsWith('desk:')).length).toBeGreaterThan(10);
    expect(await page.textContent('[data-resource="equipment:laser-1"] td:nth-child(3)')).toBe(taken);
    expect(await page.textContent('[data-resource="room:room-a"] td:nth-child(4)')).not.toBe('');

    // A visitor asks for room B tomorrow 10:00–11:00, site time.
    await page.selectOption('#request select[name=resource]', 'room:room-b');
    await page.fill('#request input[name=date]', '2026-11-26');
    await page.fill('#request input[name=start]', '10:00');
    await page.fill('#request input[name=minutes]', '60');
    await page.fill('#request input[name=name]', `Visitor ${lang}`);
    await page.fill('#request input[name=contact]', `visitor-${lang}@example.cn`);
    await page.click('#request button[type=submit]');
    await page.waitForSelector('#request-result.ok');
    await saveArtifact(`book-${lang}.png`, await page.screenshot({ fullPage: true }));

    const asked = (await s.request('manager', 'GET', '/api/v1/bookings?status=requested')).json<{ resourceId: string; from: number; to: number; visitor: { name: string } }[]>();
    const mine = asked.find((b) => b.visitor.name === `Visitor ${lang}`)!;
    expect(mine).toMatchObject({ resourceId: 'room-b', from: Date.parse('2026-11-26T10:00:00+08:00'), to: Date.parse('2026-11-26T11:00:00+08:00') });

    await page.waitForTimeout(100);
    const received = bodies.join('\n');
    for (const secret of [s.seed.members.a, s.seed.members.b, 'Zhang San', '张三', 'Li Si', '李四', s.seed.memberNos.a, s.seed.memberNos.b]) expect(received).not.toContain(secret);
    expect(requests.every((u) => u.startsWith(base))).toBe(true);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
