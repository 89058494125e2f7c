/** Bookings through the HTTP API (server/routes/bookings.ts): rules, concurrency, feeds, snapshot, visitors, check-in. */
import ICAL from 'ical.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exampleSiteFile, siteFromFile } from '../harness/site-fixture.js';
import { makeTestServer, T0, type TestServer } from '../harness/server.js';
import { applyCheckins } from '../../server/routes/bookings.js';
import { DEFAULT_BOOKING_SETTINGS } from '../../core/booking/rules.js';
import type { ServerContext } from '../../server/routes/context.js';
import type { PolicySnapshot } from '../../core/policy/snapshot.js';

const site = siteFromFile(exampleSiteFile());
const H = 3_600_000;
// T0 is 2026-11-25 09:00 UTC = 17:00 in Shanghai; the example site is always open.
const TOMORROW = T0 + 24 * H;

let s: TestServer;
beforeEach(async () => {
  s = await makeTestServer({ site, server: { bookings: { ...DEFAULT_BOOKING_SETTINGS, byClass: { 'laser-cutter': { bufferMinutes: 15 } } } } });
  const stamp = { created_at: T0, updated_at: T0 };
  await s.db.updateTable('plans').set({ spaces: '["*"]' }).execute();
  await s.db.updateTable('members').set({ plan_id: s.seed.plan, plan_valid_from: '2026-01-01', plan_valid_to: '2026-12-31' }).execute();
  await s.db
    .insertInto('certifications')
    .values([
      { id: 'crt_a', member_id: s.seed.members.a, class: 'laser-cutter', issued_on: '2026-01-10', expires_on: null, trainer_id: null, revoked_at: null, note: null, ...stamp },
      { id: 'crt_b', member_id: s.seed.members.b, class: 'laser-cutter', issued_on: '2026-01-10', expires_on: null, trainer_id: null, revoked_at: null, note: null, ...stamp },
    ])
    .execute();
});
afterEach(async () => {
  await s.close();
});

const laser = (from: number, to: number, extra: Record<string, unknown> = {}) => ({ resourceType: 'equipment', resourceId: 'laser-1', from, to, ...extra });

describe('booking through the API', () => {
  it('lets a member book a certified machine and refuses one they are not certified for, with the rule’s reason in their language', async () => {
    const ok = await s.request('memberA', 'POST', '/api/v1/bookings', laser(TOMORROW, TOMORROW + 2 * H));
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ resourceId: 'laser-1', memberId: s.seed.members.a, status: 'confirmed', kind: 'booking' });
    const cnc = await s.request('memberA', 'POST', '/api/v1/bookings', { resourceType: 'equipment', resourceId: 'cnc-1', from: TOMORROW, to: TOMORROW + H }, { 'accept-language': 'zh-CN' });
    expect(cnc.statusCode).toBe(422);
    expect(cnc.json()).toMatchObject({ code: 'booking_certification_missing', detail: '会员未取得该设备的使用资格。' });
    // Inside the 15-minute buffer after A's booking: taken.
    const clash = await s.request('memberB', 'POST', '/api/v1/bookings', laser(TOMORROW + 2 * H, TOMORROW + 3 * H));
    expect(clash.statusCode).toBe(409);
    expect(clash.json<{ code: string }>().code).toBe('booking_conflict');
    expect((await s.request('memberB', 'POST', '/api/v1/bookings', laser(TOMORROW + 2.25 * H, TOMORROW + 3.25 * H))).statusCode).toBe(201);
    // A member books for themselves only; a manager for anyone.
    expect((await s.request('memberA', 'POST', '/api/v1/bookings', laser(TOMORROW + 5 * H, TOMORROW + 6 * H, { memberId: s.seed.members.b }))).statusCode).toBe(403);
    expect((await s.request('manager', 'POST', '/api/v1/bookings', laser(TOMORROW + 5 * H, TOMORROW + 6 * H, { memberId: s.seed.members.b }))).statusCode).toBe(201);
    expect((await s.request('auditor', 'POST', '/api/v1/bookings', laser(TOMORROW + 8 * H, TOMORROW + 9 * H, { memberId: s.seed.members.b }))).statusCode).toBe(403);
  });

  it('lists members’ own bookings only, cancels their own, and frees the slot', async () => {
    const a = (await s.request('memberA', 'POST', '/api/v1/bookings', laser(TOMORROW, TOMORROW + H))).json<{ id: string }>();
    await s.request('memberB', 'POST', '/api/v1/bookings', { resourceType: 'desk', resourceId: 'd20', from: TOMORROW, to: TOMORROW + H });
    const mine = (await s.request('memberA', 'GET', '/api/v1/bookings')).json<{ memberId: string }[]>();
    expect(mine.map((b) => b.memberId)).toEqual([s.seed.members.a]);
    expect((await s.request('manager', 'GET', '/api/v1/bookings')).json<unknown[]>()).toHaveLength(2);
    expect((await s.request('memberB', 'PATCH', `/api/v1/bookings/${a.id}`, { status: 'cancelled' })).statusCode).toBe(404);
    const cancelled = await s.request('memberA', 'PATCH', `/api/v1/bookings/${a.id}`, { status: 'cancelled' });
    expect(cancelled.json()).toMatchObject({ status: 'cancelled' });
    expect((await s.request('memberB', 'POST', '/api/v1/bookings', laser(TOMORROW, TOMORROW + H))).statusCode).toBe(201);
    const changes = await s.changesAfter(0);
    expect(changes.every((c) => c.entity === 'booking')).toBe(true);
    expect(s.policyVersions.at(-1)).toBe(await s.lastChangeId());
  });

  it('exactly one of many simultaneous HTTP requests for the same slot wins', async () => {
    const address = await s.app.listen({ port: 0, host: '127.0.0.1' });
    const [ca, cb, cm] = await Promise.all([s.login('memberA'), s.login('memberB'), s.login('manager')]);
    const send = (cookie: string, body: unknown) =>
      fetch(`${address}/api/v1/bookings`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.status);
    const slot = laser(TOMORROW + H, TOMORROW + 3 * H);
    const requests = Array.from({ length: 30 }, (_, i) =>
      i % 3 === 0 ? send(ca, slot) : i % 3 === 1 ? send(cb, slot) : send(cm, { ...slot, memberId: i % 2 === 0 ? s.seed.members.a : s.seed.members.b }),
    );
    const statuses = await Promise.all(requests);
    expect(statuses.filter((x) => x === 201)).toHaveLength(1);
    expect(statuses.filter((x) => x === 409)).toHaveLength(29);
    const held = await s.db.selectFrom('bookings').selectAll().where('status', '=', 'confirmed').execute();
    expect(held).toHaveLength(1);
  });

  it('serves iCalendar feeds a real iCalendar parser reads back', async () => {
    const booked = (await s.request('memberA', 'POST', '/api/v1/bookings', laser(TOMORROW, TOMORROW + 2 * H))).json<{ id: string }>();
    await s.request('manager', 'POST', '/api/v1/bookings/blocks', laser(TOMORROW + 4 * H, TOMORROW + 6 * H, { title: 'Laser safety training; level 1, room A' }));
    const feed = await s.request('memberA', 'GET', `/api/v1/bookings/members/${s.seed.members.a}/calendar.ics`);
    expect(feed.statusCode).toBe(200);
    expect(feed.headers['content-type']).toMatch(/^text\/calendar/);
    expect(feed.body).toMatch(/\r\n$/);
    const cal = new ICAL.Component(ICAL.parse(feed.body) as unknown[]);
    const events = cal.getAllSubcomponents('vevent').map((v) => new ICAL.Event(v));
    expect(events).toHaveLength(1);
    expect(events[0]!.uid).toBe(`${booked.id}@localhost`);
    expect(events[0]!.startDate.toJSDate().getTime()).toBe(TOMORROW);
    expect(events[0]!.endDate.toJSDate().getTime()).toBe(TOMORROW + 2 * H);
    // Someone else's feed: as if it did not exist.
    expect((await s.request('memberB', 'GET', `/api/v1/bookings/members/${s.seed.members.a}/calendar.ics`)).statusCode).toBe(404);
    const res = await s.request('memberB', 'GET', '/api/v1/bookings/resources/equipment/laser-1/calendar.ics');
    const rc = new ICAL.Component(ICAL.parse(res.body) as unknown[]);
    const revents = rc.getAllSubcomponents('vevent').map((v) => new ICAL.Event(v));
    expect(revents.map((e) => e.summary)).toEqual(['Laser cutter / Laser cutter', 'Laser cutter / Laser cutter: Laser safety training; level 1, room A']);
    expect(res.body).not.toContain(s.seed.members.a);
    const staff = await s.request('manager', 'GET', '/api/v1/bookings/resources/equipment/laser-1/calendar.ics');
    expect(staff.body).toContain(s.seed.members.a);
  });

  it('puts machines’ bookings into the gateways’ policy snapshot: member ids and times only', async () => {
    await s.request('memberA', 'POST', '/api/v1/bookings', laser(TOMORROW, TOMORROW + 2 * H));
    await s.request('memberA', 'POST', '/api/v1/bookings', { resourceType: 'room', resourceId: 'room-a', from: TOMORROW, to: TOMORROW + H });
    await s.request('manager', 'POST', '/api/v1/bookings/blocks', laser(TOMORROW + 3 * H, TOMORROW + 4 * H, { title: 'Maintenance' }));
    const token = await s.tokenFor('gateway');
    const res = await s.app.inject({ method: 'GET', url: '/api/v1/policy', headers: { authorization: `Bearer ${token}` } });
    const snap = res.json<PolicySnapshot>();
    expect(snap.bookings).toEqual([
      { siteId: 'demo', equipmentId: 'laser-1', memberId: s.seed.members.a, from: TOMORROW, to: TOMORROW + 2 * H },
      { siteId: 'demo', equipmentId: 'laser-1', memberId: null, from: TOMORROW + 3 * H, to: TOMORROW + 4 * H },
    ]);
    expect(res.headers.etag).toBe(`"${s.policyVersions.at(-1)}"`);
  });
});

describe('visitors and the public', () => {
  it('takes a visitor’s request without login, shows no personal data publicly, and a manager confirms it', async () => {
    await s.request('memberA', 'POST', '/api/v1/bookings', laser(TOMORROW, TOMORROW + 2 * H));
    const req = await s.request(null, 'POST', '/api/v1/public/bookings/requests', { name: 'Wang Wu', contact: 'wang.wu@example.cn', resourceType: 'room', resourceId: 'room-b', from: TOMORROW, to: TOMORROW + H });
    expect(req.statusCode).toBe(201);
    const { id } = req.json<{ id: string; status: string }>();
    const pub = await s.request(null, 'GET', '/api/v1/public/bookings/availability');
    expect(pub.statusCode).toBe(200);
    for (const secret of [s.seed.members.a, s.seed.members.b, 'Zhang', '张三', 'Wang Wu', 'wang.wu']) expect(pub.body).not.toContain(secret);
    const laserRow = pub.json<{ resources: { id: string; busy: unknown[]; freeNow: boolean }[] }>().resources.find((r) => r.id === 'laser-1')!;
    expect(laserRow).toMatchObject({ freeNow: true, busy: [{ from: TOMORROW, to: TOMORROW + 2 * H + 15 * 60_000 }] });
    // The request holds nothing until confirmed; staff see who asked.
    const listed = (await s.request('manager', 'GET', '/api/v1/bookings?status=requested')).json<{ id: string; visitor?: unknown }[]>();
    expect(listed).toEqual([expect.objectContaining({ id, visitor: { name: 'Wang Wu', contact: 'wang.wu@example.cn' } })]);
    expect((await s.request('memberA', 'POST', `/api/v1/bookings/${id}/confirm`, {})).statusCode).toBe(403);
    expect((await s.request('manager', 'POST', `/api/v1/bookings/${id}/confirm`, {})).json()).toMatchObject({ status: 'confirmed' });
    const changes = await s.changesAfter(0);
    expect(JSON.stringify(changes)).not.toContain('Wang Wu');
  });
});

describe('check-in from reality', () => {
  // Within the harness's login lifetime (12 h).
  const SOON = T0 + H;
  it('marks a booking used when the machine ran, releases a no-show after the grace period, and reports booked-but-unused time', async () => {
    const used = (await s.request('memberA', 'POST', '/api/v1/bookings', laser(SOON, SOON + H))).json<{ id: string }>();
    const noShow = (await s.request('memberB', 'POST', '/api/v1/bookings', { resourceType: 'desk', resourceId: 'd20', from: SOON, to: SOON + 2 * H })).json<{ id: string }>();
    const ctx = { db: s.db, clock: s.clock, bookings: DEFAULT_BOOKING_SETTINGS, policyChanged: () => undefined } as unknown as ServerContext;
    const sessions = [{ kind: 'machine' as const, resource: 'laser-1', space: 'lab', memberId: s.seed.members.a, start: SOON + 5 * 60_000, end: SOON + 50 * 60_000 }];
    s.clock.set(SOON + 10 * 60_000);
    expect(await applyCheckins(ctx, site, sessions, 'system', SOON - H)).toMatchObject({ changed: 1 });
    s.clock.set(SOON + 16 * 60_000);
    expect(await applyCheckins(ctx, site, sessions, 'system', SOON - H)).toMatchObject({ changed: 1 });
    const rows = await s.db.selectFrom('bookings').select(['id', 'status', 'used_at']).orderBy('id').execute();
    expect(Object.fromEntries(rows.map((r) => [r.id, [r.status, r.used_at]]))).toEqual({ [used.id]: ['used', SOON + 5 * 60_000], [noShow.id]: ['released', null] });
    // The released desk is free again for the rest of its slot.
    expect((await s.request('memberA', 'POST', '/api/v1/bookings', { resourceType: 'desk', resourceId: 'd20', from: SOON + H, to: SOON + 2 * H })).statusCode).toBe(201);
    const report = (await s.request('manager', 'GET', `/api/v1/bookings/report?from=${SOON - H}&to=${SOON + 3 * H}`)).json<{ byMember: unknown[]; byResource: unknown[] }>();
    expect(report.byMember).toEqual(
      [
        { memberId: s.seed.members.a, bookings: 2, bookedMs: 2 * H, usedMs: H, unusedMs: 0, noShows: 0 },
        { memberId: s.seed.members.b, bookings: 1, bookedMs: 2 * H, usedMs: 0, unusedMs: 2 * H, noShows: 1 },
      ].sort((x, y) => (x.memberId < y.memberId ? -1 : 1)),
    );
    // The example site is always open: 4 hours of open time in the period asked.
    expect(report.byResource).toContainEqual({ resourceType: 'desk', resourceId: 'd20', openMs: 4 * H, bookedShare: 0.75, usedShare: 0, bookings: 2, bookedMs: 3 * H, usedMs: 0, unusedMs: 2 * H, noShows: 1 });
    expect(report.byResource).toContainEqual({ resourceType: 'equipment', resourceId: 'laser-1', openMs: 4 * H, bookedShare: 0.25, usedShare: 0.25, bookings: 1, bookedMs: H, usedMs: H, unusedMs: 0, noShows: 0 });

    // Usage not read back as far as a booking's grace window decides nothing about it.
    await s.request('manager', 'POST', '/api/v1/bookings', laser(SOON + 2 * H, SOON + 3 * H, { memberId: s.seed.members.b }));
    s.clock.set(SOON + 2 * H + 20 * 60_000);
    expect(await applyCheckins(ctx, site, [], 'system', SOON + 2 * H)).toMatchObject({ changed: 0 });
    expect(await applyCheckins(ctx, site, [], 'system', SOON + 2 * H - 15 * 60_000)).toMatchObject({ changed: 1 });
  });
});
