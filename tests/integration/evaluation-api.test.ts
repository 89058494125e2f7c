/**
 * GET /api/v1/evaluation (JSON), /evaluation.csv and /evaluation/indicators
 * against the whole server, with usage read back from a real InfluxDB and the
 * world of tests/harness/evaluation-fixture.ts. The values asserted are worked
 * out by hand from that fixture:
 * - served: November's uses (A on the 10th, B on the 12th) and the training
 *   (A and C) serve A, B, C; teams Alpha (A's recorded team), Beta (B's roster
 *   team) and Gamma (mentored); October: A's use and B at the event.
 * - teams: Gamma admitted, Delta graduated, Epsilon exited in November; Zeta
 *   admitted and exited in October; Alpha, Beta, Gamma resident on 30 November.
 * - services: the event at another site is not ours; the October event was
 *   for every site.
 * - low cost: November is closed (two laser charges of 27.00, worth 108.00
 *   each, in the ledger) and has a free training worth 400.00; October is
 *   priced now (A's job).
 * - workstations: two desks, one fixed; desk d1 occupied 3 h in November.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INDICATORS } from '../../core/evaluation/catalogue.js';
import { evalSite, H, HOSTILE_REASON, RATE_CARD, seedEvaluation, SITE, usageConfig } from '../harness/evaluation-fixture.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { makeTestServer, type TestServer } from '../harness/server.js';

interface Row {
  id: string;
  nameZh: string;
  nameEn: string;
  unit: string;
  value: number | null;
  previous: number | null;
  change: { absolute: number | null; relative: number | null; nullReason: string | null };
  evidence: number;
  previousEvidence: number;
  nullReason: string | null;
  numerator?: number;
  denominator?: number;
}
interface Section {
  scope: string;
  rows: Row[];
  details: { teams: { exitReasons: { reason: string; count: number }[] } | null; served: { members: string[]; teams: string[] } | null };
}
interface Body {
  version: 1;
  period: { kind: string; key: string; from: number; to: number };
  previous: { key: string };
  sites: string[];
  bySite: Section[];
  total: Section;
  measuredTo: number | null;
}

let influx: TestInflux;
let server: TestServer;
let memberC: string;

const get = async (url: string, who: 'manager' | 'auditor' | 'admin' | 'memberA' | null = 'auditor') => server.request(who, 'GET', url);
const evaluation = async (query: string): Promise<Body> => {
  const res = await get(`/api/v1/evaluation?${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Body>();
};
const rowsOf = (b: Body): Record<string, Row> => Object.fromEntries(b.total.rows.map((r) => [r.id, r]));

beforeAll(async () => {
  influx = await startTestInfluxd();
  // Logins outlive the clock moved to December (closing November).
  server = await makeTestServer({ server: { usage: { siteId: SITE, config: usageConfig, influx: influx.client, site: evalSite }, sessionTtlMs: 365 * 24 * H } });
  ({ memberC } = await seedEvaluation(server, influx));
}, 60_000);

afterAll(async () => {
  await server?.close();
  await influx?.stop();
});

describe('GET /api/v1/evaluation', () => {
  it('while November is under way and no rate card is stored: figures up to now, low-cost ones not supplied (null), the rest computed', async () => {
    const body = await evaluation('kind=month&key=2026-11');
    // The harness clock: 2026-11-25 09:00 UTC.
    expect(body.measuredTo).toBe(server.clock.now());
    const r = rowsOf(body);
    for (const id of ['low-cost-share', 'value-given-away', 'subsidy-rate']) expect(r[id]).toMatchObject({ value: null, nullReason: 'not-supplied', evidence: 0 });
    expect(r['members-served']!.value).toBe(3);
    // Desk d1's 3 hours over both desks' time from 1 November 00:00 (UTC+8) to now: 2 × 593 h.
    expect(r['workstation-occupancy']).toMatchObject({ numerator: 3 * H, denominator: 2 * 593 * H, value: 0.0025 });
  });

  it('a closed November against October: served, team flows, services by kind, investment, low cost and workstations as worked out by hand', async () => {
    expect((await server.request('manager', 'PUT', '/api/v1/rate-card', RATE_CARD)).statusCode).toBe(201);
    server.clock.set(Date.UTC(2026, 11, 2, 2));
    expect((await server.request('manager', 'POST', '/api/v1/statements/2026-11/close', {})).statusCode).toBe(201);
    const body = await evaluation('kind=month&key=2026-11');
    expect(body).toMatchObject({ version: 1, period: { kind: 'month', key: '2026-11' }, previous: { key: '2026-10' }, sites: [SITE], measuredTo: null });
    expect(body.total.rows.map((x) => x.id)).toEqual(INDICATORS.map((d) => d.id));
    expect(body.bySite.map((s) => s.scope)).toEqual([SITE]);
    // One site: its section is the total.
    expect(body.bySite[0]!.rows).toEqual(body.total.rows);
    const r = rowsOf(body);
    const vp = (id: string) => [r[id]!.value, r[id]!.previous];
    expect(body.total.details.served).toMatchObject({ members: [server.seed.members.a, server.seed.members.b, memberC].sort(), teams: ['team_alpha', 'team_beta', 'team_gamma'] });
    expect(vp('members-served')).toEqual([3, 2]);
    expect(r['members-served']!.change).toEqual({ absolute: 1, relative: 0.5, nullReason: null });
    expect(vp('teams-served')).toEqual([3, 2]);
    expect(vp('teams-in-residence')).toEqual([3, 4]);
    expect(r['teams-in-residence']!.change).toEqual({ absolute: -1, relative: -0.25, nullReason: null });
    expect(vp('enterprises-in-residence')).toEqual([2, 1]);
    expect(vp('teams-admitted')).toEqual([1, 1]);
    expect(vp('teams-graduated')).toEqual([1, 0]);
    expect(r['teams-graduated']!.change).toEqual({ absolute: 1, relative: null, nullReason: 'previous-zero' });
    expect(vp('teams-exited')).toEqual([1, 1]);
    expect(vp('enterprises-registered')).toEqual([1, 0]);
    expect(vp('teams-financed')).toEqual([2, 0]);
    // The undisclosed amount is counted as a financing and adds nothing.
    expect(r['investment-raised']).toMatchObject({ value: 500_000, previous: 0, evidence: 2 });
    // Six teams admitted before 1 December; the team records are the evidence of every team figure.
    expect(r['teams-admitted']!.evidence).toBe(6);
    expect(body.total.details.teams!.exitReasons).toEqual([{ reason: HOSTILE_REASON, count: 1 }]);
    // Services by kind: the training (2 members + 3 outsiders, 90 min) and the mentoring in November, the event in October.
    expect(vp('services-training-deliveries')).toEqual([1, 0]);
    expect(vp('services-training-participants')).toEqual([5, 0]);
    expect(vp('services-training-hours')).toEqual([1.5, 0]);
    expect(vp('services-mentoring-deliveries')).toEqual([1, 0]);
    expect(vp('services-mentoring-hours')).toEqual([1, 0]);
    expect(vp('services-event-deliveries')).toEqual([0, 1]);
    expect(vp('services-event-participants')).toEqual([0, 11]);
    expect(vp('services-event-hours')).toEqual([0, 2]);
    expect(vp('events-and-trainings')).toEqual([1, 1]);
    expect(vp('events-and-trainings-attendance')).toEqual([5, 11]);
    // Low cost. November: 2 charges of 27.00 worth 108.00, and the free training worth 400.00 → 616.00 − 54.00 given away.
    expect(r['low-cost-share']).toMatchObject({ value: 1, numerator: 3, denominator: 3, evidence: 3 });
    expect(vp('value-given-away')).toEqual([56_200, 8100]);
    expect(r['subsidy-rate']).toMatchObject({ value: 0.9123, numerator: 56_200, denominator: 61_600, previous: 0.75 });
    // Workstations: two desks, the fixed one allocated; d1's 3 hours of 2 × 720 h in November; the laser's 2 × 50 min.
    expect(vp('workstations')).toEqual([2, 2]);
    expect(r['workstation-allocation']).toMatchObject({ value: 0.5, numerator: 1, denominator: 2 });
    expect(r['workstation-occupancy']).toMatchObject({ numerator: 3 * H, denominator: 2 * 720 * H, value: 0.0021, previous: 0 });
    expect(r['machine-utilisation']).toMatchObject({ numerator: 100 * 60_000, denominator: 720 * H, value: 0.0023, evidence: 2 });
    // Survival is computed (Kaplan–Meier over the six teams): Zeta failed at 20 days → 5/6 at 6 months.
    expect(r['survival-6m']!.value).toBe(0.8333);
  });

  it('a quarter is its months: Q4 served A, B and C, and its low-cost lines are October priced now, November from the ledger', async () => {
    const q = rowsOf(await evaluation('kind=quarter&key=2026-Q4'));
    expect(q['members-served']!.value).toBe(3);
    expect(q['teams-admitted']!.value).toBe(2);
    expect(q['events-and-trainings']!.value).toBe(2);
    // October priced now (A's job) + November's ledger + the training; December has begun with nothing billed.
    expect(q['value-given-away']!.value).toBe(8100 + 56_200);
    expect(q['members-served']!.previous).toBe(0);
  });

  it('booked versus used: September’s member bookings as check-in left them, blocks and cancellations left out', async () => {
    const at = (local: string) => Date.parse(`${local}:00+08:00`);
    const row = (id: string, kind: 'booking' | 'block', status: 'used' | 'released' | 'no_show' | 'cancelled' | 'confirmed', from: string, to: string) => ({
      id, site_id: SITE, resource_type: 'equipment' as const, resource_id: 'laser-1', kind, member_id: kind === 'booking' ? server.seed.members.a : null, visitor_id: null,
      title: kind === 'block' ? 'training' : null, from_ms: at(from), to_ms: at(to), hold_to: at(to), status, used_at: null, checked_at: null, created_at: at('2026-09-01T08:00'), created_by: 'test', updated_at: at('2026-09-01T08:00'),
    });
    await server.db
      .insertInto('bookings')
      .values([
        row('ev-used', 'booking', 'used', '2026-09-08T14:00', '2026-09-08T17:00'), // 3 h used
        row('ev-released', 'booking', 'released', '2026-09-09T10:00', '2026-09-09T11:00'), // 1 h, a no-show
        row('ev-cancelled', 'booking', 'cancelled', '2026-09-10T10:00', '2026-09-10T12:00'),
        row('ev-block', 'block', 'confirmed', '2026-09-11T10:00', '2026-09-11T12:00'),
        row('ev-august', 'booking', 'no_show', '2026-08-31T23:00', '2026-09-01T00:30'), // August's (1.5 h)
      ])
      .execute();
    const r = rowsOf(await evaluation('kind=month&key=2026-09'));
    const vp = (id: string) => [r[id]!.value, r[id]!.previous];
    // September: 2 made (3 h + 1 h), 1 used, 1 no-show; used share 3 / 4. August: the one no-show, 0 of 1.5 h used.
    expect(vp('bookings-made')).toEqual([2, 1]);
    expect(vp('bookings-used')).toEqual([1, 0]);
    expect(vp('bookings-no-show')).toEqual([1, 1]);
    expect(vp('booked-hours')).toEqual([4, 1.5]);
    expect(r['booked-hours-used-share']).toMatchObject({ value: 0.75, numerator: 3 * H, denominator: 4 * H, evidence: 2, previous: 0 });
    expect(r['bookings-made']!.change).toEqual({ absolute: 1, relative: 1, nullReason: null });
    // With a no-show fee on the card, September's statement charges the no-show, but the fee is not low-cost usage:
    // September had no usage, so its low-cost figures stay as without it.
    const withFee = structuredClone(RATE_CARD);
    (withFee.versions[0]!.rates[0]! as { noShowFeeMinor?: number }).noShowFeeMinor = 2000;
    expect((await server.request('manager', 'PUT', '/api/v1/rate-card', withFee)).statusCode).toBe(201);
    const st = (await get('/api/v1/statements?month=2026-09')).json<{ statements: { lines: { booking?: string; amountMinor: number }[] }[] }>();
    expect(st.statements.flatMap((x) => x.lines).map((l) => [l.booking, l.amountMinor])).toEqual([['ev-released', 2000]]);
    const fee = rowsOf(await evaluation('kind=month&key=2026-09'));
    expect(fee['low-cost-share']).toMatchObject({ value: null, nullReason: 'zero-denominator', evidence: 0 });
    expect(fee['value-given-away']).toMatchObject({ value: 0, evidence: 0 });
    expect((await server.request('manager', 'PUT', '/api/v1/rate-card', RATE_CARD)).statusCode).toBe(201);
  });

  it('a period with no data: zeros for counts, nulls with their reason for rates, 200', async () => {
    const body = await evaluation('kind=month&key=2026-08');
    const r = rowsOf(body);
    for (const id of ['members-served', 'teams-served', 'teams-admitted', 'services-training-deliveries', 'events-and-trainings', 'value-given-away', 'teams-financed']) expect({ id, value: r[id]!.value }).toEqual({ id, value: 0 });
    expect(r['low-cost-share']).toMatchObject({ value: null, nullReason: 'zero-denominator' });
    expect(r['members-served']!.change).toEqual({ absolute: 0, relative: null, nullReason: 'previous-zero' });
    // A year not begun: nothing measured (utilisation not supplied), nothing served.
    const future = rowsOf(await evaluation('kind=year&key=2027'));
    expect(future['workstation-occupancy']).toMatchObject({ value: null, nullReason: 'not-supplied' });
    expect(future['members-served']!.value).toBe(0);
    expect(future['workstations']!.value).toBe(2);
  });

  it('sites: the one served here may be named; an unknown or repeated site is a 422 naming it', async () => {
    const named = await evaluation(`kind=month&key=2026-11&sites=${SITE}`);
    expect(named.sites).toEqual([SITE]);
    const unknown = await get(`/api/v1/evaluation?kind=month&key=2026-11&sites=${SITE},nowhere`);
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json<{ detail: string }>().detail).toMatch(/site nowhere is not served here/);
    expect((await get(`/api/v1/evaluation?kind=month&key=2026-11&sites=${SITE},${SITE}`)).statusCode).toBe(422);
  });

  it('refuses a malformed period (400), a key of another kind (422), and anyone but staff (401, 403)', async () => {
    expect((await get('/api/v1/evaluation?kind=month&key=2026-13')).statusCode).toBe(400);
    expect((await get('/api/v1/evaluation?kind=week&key=2026-11')).statusCode).toBe(400);
    expect((await get('/api/v1/evaluation?kind=month')).statusCode).toBe(400);
    expect((await get('/api/v1/evaluation?kind=month&key=2026-11&extra=1')).statusCode).toBe(400);
    const wrongKind = await get('/api/v1/evaluation?kind=month&key=2026-Q4');
    expect(wrongKind.statusCode).toBe(422);
    expect(wrongKind.json<{ detail: string }>().detail).toMatch(/is not a month/);
    expect((await get('/api/v1/evaluation?kind=month&key=2026-11', 'memberA')).statusCode).toBe(403);
    expect((await get('/api/v1/evaluation.csv?kind=month&key=2026-11', 'memberA')).statusCode).toBe(403);
    expect((await get('/api/v1/evaluation/report?kind=month&key=2026-11', 'memberA')).statusCode).toBe(403);
    expect((await get('/api/v1/evaluation/indicators', 'memberA')).statusCode).toBe(403);
    expect((await get('/api/v1/evaluation?kind=month&key=2026-11', null)).statusCode).toBe(401);
    expect((await get('/api/v1/evaluation?kind=month&key=2026-11', 'manager')).statusCode).toBe(200);
  });

  it('a server without InfluxDB and a site says what to configure (503)', async () => {
    const bare = await makeTestServer({ bare: true });
    try {
      const res = await bare.request('manager', 'GET', '/api/v1/evaluation?kind=month&key=2026-11');
      expect(res.statusCode).toBe(503);
      expect(res.json<{ code: string }>().code).toBe('usage_unavailable');
    } finally {
      await bare.close();
    }
  });
});

describe('GET /api/v1/evaluation.csv', () => {
  it('one row per indicator with both names, the same values as the JSON, UTF-8 with a BOM', async () => {
    const json = await evaluation('kind=month&key=2026-11');
    const res = await get('/api/v1/evaluation.csv?kind=month&key=2026-11');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="evaluation-2026-11.csv"');
    expect(res.body.startsWith('\uFEFF')).toBe(true);
    const rows = parseCsv<Record<string, string>>(res.body.slice(1), { columns: true });
    expect(rows).toHaveLength(INDICATORS.length);
    const cell = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));
    json.total.rows.forEach((r, i) => {
      const c = rows[i]!;
      expect(c).toEqual({
        scope: 'total',
        period: '2026-11',
        previous_period: '2026-10',
        indicator: r.id,
        name_zh: r.nameZh,
        name_en: r.nameEn,
        unit: r.unit,
        value: cell(r.value),
        previous: cell(r.previous),
        change_absolute: cell(r.change.absolute),
        change_relative: cell(r.change.relative),
        evidence: String(r.evidence),
        previous_evidence: String(r.previousEvidence),
        null_reason: r.nullReason ?? '',
        numerator: cell(r.numerator),
        denominator: cell(r.denominator),
      });
    });
    expect(rows.find((c) => c.indicator === 'members-served')).toMatchObject({ name_zh: '服务创业者数量', value: '3', previous: '2' });
  });
});

describe('GET /api/v1/evaluation/indicators', () => {
  it('the catalogue: every indicator with both names, unit, group and where it is defined', async () => {
    const res = await get('/api/v1/evaluation/indicators', 'manager');
    expect(res.statusCode).toBe(200);
    const list = res.json<{ id: string; nameZh: string; unitZh: string; group: string; definition: string }[]>();
    expect(list.map((d) => d.id)).toEqual(INDICATORS.map((d) => d.id));
    expect(list.find((d) => d.id === 'workstation-occupancy')).toMatchObject({ nameZh: '工位使用率（实测）', unitZh: '%', group: 'capacity', definition: 'docs/indicators.md#workstations-and-utilisation' });
    expect(new Set(list.map((d) => d.definition.split('#')[1])).size).toBe(7);
    expect(list.find((d) => d.id === 'booked-hours-used-share')).toMatchObject({ nameZh: '预约时长实际使用率', unitZh: '%', group: 'bookings', definition: 'docs/indicators.md#bookings-booked-and-used' });
  });
});
