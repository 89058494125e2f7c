/**
 * Usage read back from a real InfluxDB (server/usage/readback.ts) through the
 * sessioniser gives exactly the sessions a live run over the same records
 * gives; GET /api/v1/usage/sessions serves them, members see only their own,
 * and a server without a site and InfluxDB says what to configure.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyEvidence, type EvidenceBundle } from '../../core/audit/evidence.js';
import { runVerifyEvidence } from '../../cli/audit-evidence.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPoint } from '../../core/points.js';
import type { JournalRecord, OccupancySignal, PowerSignal } from '../../core/signals.js';
import { Sessioniser, sessioniserConfig, type Output, type SessioniserConfig, type UsageSession } from '../../core/usage/sessioniser.js';
import { toLine } from '../../gateway/sink/line-protocol.js';
import { usageForPeriod } from '../../server/usage/readback.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';
import { makeTestServer, T0, type TestServer } from '../harness/server.js';
import { siteFromFile } from '../harness/site-fixture.js';

const MIN = 60_000;
const H = 3600_000;
const SITE = 'usage-site';

const site = siteFromFile({
  version: 1,
  site: { id: SITE, name: 'Usage test', timezone: 'Asia/Shanghai' },
  spaces: [
    { id: 'cowork', name: 'Co-working', kind: 'open-space' },
    { id: 'fablab', name: 'Fab lab', kind: 'lab' },
  ],
  desks: [
    { id: 'd1', space: 'cowork' },
    { id: 'd2', space: 'cowork' },
  ],
  doors: [{ id: 'fablab', space: 'fablab' }],
  equipment: [{ id: 'laser-1', space: 'fablab', name: 'Laser', class: 'laser-cutter', runningThresholdW: 300 }],
  devices: [
    { id: 'occ-d1', kind: 'occupancy-sensor', desk: 'd1', credentials: { secret: 'env:X' } },
    { id: 'occ-d2', kind: 'occupancy-sensor', desk: 'd2', credentials: { secret: 'env:X' } },
    { id: 'pm-laser-1', kind: 'power-meter', equipment: 'laser-1', credentials: { secret: 'env:X' } },
    { id: 'dc-fablab', kind: 'door-controller', door: 'fablab', credentials: { secret: 'env:X' } },
  ],
});
const cfg: SessioniserConfig = sessioniserConfig(site);

const common = (device: string, ts: number, seq: number, deviceKind: OccupancySignal['deviceKind'], target: OccupancySignal['target'], space: string) => ({
  key: `${device}:1:${seq}`,
  site: SITE,
  device,
  deviceKind,
  space,
  target,
  seq,
  ts,
  tsSource: 'device' as const,
});

/** A day: two desks with flickers, a member in the lab, a laser job attributed to them. */
function day(start: number, member: string, seqBase: number): JournalRecord[] {
  const r: JournalRecord[] = [];
  let seq = seqBase;
  const occ = (desk: 'd1' | 'd2', t: number, occupied: boolean): OccupancySignal => ({ ...common(`occ-${desk}`, start + t, ++seq, 'occupancy-sensor', { type: 'desk', id: desk }, 'cowork'), kind: 'occupancy', occupied });
  const pow = (t: number, w: number, kwh: number): PowerSignal => ({ ...common('pm-laser-1', start + t, ++seq, 'power-meter', { type: 'equipment', id: 'laser-1' }, 'fablab'), kind: 'power', powerW: w, energyKwh: kwh, voltageV: null, currentA: null, on: null });
  r.push(occ('d1', 9 * H, true), occ('d1', 10 * H, false), occ('d1', 10 * H + 2 * MIN, true), occ('d1', 12 * H, false));
  r.push(occ('d2', 13 * H, true), occ('d2', 17 * H, false));
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
    grant: true,
    reason,
    override: false,
    policyVersion: 3,
    ts: start + t,
    sessionId: null,
    maxRunMs: null,
  });
  r.push(decision(14 * H, 'granted'));
  r.push({ kind: 'session', key: `session:S${seqBase}:start`, site: SITE, space: 'fablab', equipment: 'laser-1', sessionId: `S${seqBase}`, memberId: member, event: 'start', reason: 'granted', ts: start + 14 * H + 5 * MIN, durationMs: null });
  for (let m = 0; m <= 60; m += 5) r.push(pow(14 * H + 10 * MIN + m * MIN, m < 50 ? 900 : 20, 1 + m * 0.01));
  r.push({ kind: 'session', key: `session:S${seqBase}:end`, site: SITE, space: 'fablab', equipment: 'laser-1', sessionId: `S${seqBase}`, memberId: member, event: 'end', reason: 'badge_out', ts: start + 15 * H + 20 * MIN, durationMs: 75 * MIN });
  r.push(decision(16 * H, 'exit'));
  // d2's sensor drops off the network for an hour; its battery report in between does not end the gap.
  const health = (t: number, online: boolean | null): JournalRecord => ({ ...common('occ-d2', start + t, ++seq, 'occupancy-sensor', { type: 'desk', id: 'd2' }, 'cowork'), kind: 'health', online, batteryPct: online === null ? 80 : null, linkQuality: null });
  r.push(health(18 * H, false), health(18 * H + 30 * MIN, null), health(19 * H, true));
  return r;
}

// Two days in Shanghai (UTC+8): local midnight of 2026-11-24 and 2026-11-25.
const D1 = Date.UTC(2026, 10, 23, 16);
const D2 = D1 + 24 * H;

let influx: TestInflux;
let server: TestServer;
let records: JournalRecord[];

beforeAll(async () => {
  influx = await startTestInfluxd();
  // Logins outlive the clock moved to the month's end (closing a month once it is over).
  server = await makeTestServer({ server: { usage: { siteId: SITE, config: cfg, influx: influx.client, site }, sessionTtlMs: 365 * 24 * H } });
  records = [...day(D1, server.seed.members.a, 1000), ...day(D2, server.seed.members.b, 2000)];
  // As the gateway's sink writes them; shuffled, InfluxDB keeps them by time anyway.
  const lines = records.map((r) => toLine(toPoint(r))).reverse();
  const res = await influx.client.write(lines.join('\n'), 'ns');
  expect(res).toEqual({ ok: true });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await influx?.stop();
});

/** The live run: the same records pushed as the gateway journals them, in time order. */
function live(from: number, to: number): { sessions: UsageSession[]; open: UsageSession[] } {
  const s = new Sessioniser(cfg);
  const out: Output[] = [];
  for (const r of [...records].sort((a, b) => a.ts - b.ts)) out.push(...s.push(r));
  expect(s.late).toBe(0);
  const f = s.flush(to);
  out.push(...f.closed);
  return { sessions: out.filter((x): x is UsageSession => x.kind !== 'gap' && x.end > from && x.start < to), open: f.open };
}

describe('usage read back from InfluxDB', () => {
  it('gives exactly the sessions of the live run, ids and evidence (journal keys) included', async () => {
    const from = D1;
    const to = D2 + 24 * H;
    const usage = await usageForPeriod(influx.client, cfg, { site: SITE, from, to });
    // Battery reports (health without `online`) are not read back: they bear on nothing.
    expect(usage.records).toBe(records.filter((r) => r.kind !== 'health' || r.online !== null).length);
    expect(usage.unreadable.count).toBe(0);
    const expected = live(from, to);
    expect(usage.sessions).toEqual(expected.sessions);
    expect(usage.open).toEqual(expected.open);
    // Per day: desk d1 (one session, the 2-minute flicker merged), desk d2, presence in the lab, a laser run.
    expect(usage.sessions.map((s) => `${s.kind}:${s.resource}`).sort()).toEqual(
      ['desk:d1', 'desk:d1', 'desk:d2', 'desk:d2', 'machine:laser-1', 'machine:laser-1', 'presence:fablab', 'presence:fablab'].sort(),
    );
    const laser = usage.sessions.find((s) => s.kind === 'machine' && s.start >= D2)!;
    expect(laser).toMatchObject({ memberId: server.seed.members.b, accessSessionId: 'S2000', runningMs: 50 * MIN, endReason: 'idle' });
    expect(laser.evidence.first).toMatch(/^pm-laser-1:1:\d+$/);
  });

  it('a period that starts mid-session still sees the session from its beginning (look-back)', async () => {
    const from = D1 + 11 * H; // d1 has been occupied since 09:00
    const usage = await usageForPeriod(influx.client, cfg, { site: SITE, from, to: D1 + 24 * H });
    const d1 = usage.sessions.find((s) => s.kind === 'desk' && s.resource === 'd1')!;
    expect(d1.start).toBe(D1 + 9 * H);
    expect(d1.end).toBe(D1 + 12 * H);
  });

  it('reports progress window by window, ending at 1', async () => {
    const seen: number[] = [];
    await usageForPeriod(influx.client, cfg, { site: SITE, from: D1, to: D1 + 6 * H, onProgress: (p) => seen.push(p) });
    // 24 h of look-back and the 6 h period, in windows of 6 h.
    expect(seen).toHaveLength(5);
    expect(seen.at(-1)).toBe(1);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });
});

describe('GET /api/v1/usage/sessions', () => {
  const url = (q: string) => `/api/v1/usage/sessions?from=${D1}&to=${D2 + 24 * H}${q}`;

  it('staff see every session and the gaps; filters by kind and resource', async () => {
    const res = await server.request('manager', 'GET', url(''));
    expect(res.statusCode).toBe(200);
    const body = res.json<{ sessions: UsageSession[]; records: number }>();
    expect(body.sessions).toHaveLength(8);
    expect(body.records).toBe(records.length - 2);
    const desks = (await server.request('auditor', 'GET', url('&kind=desk&resource=d2'))).json<{ sessions: UsageSession[]; gaps: { from: number; to: number }[] }>();
    expect(desks.sessions.map((s) => s.resource)).toEqual(['d2', 'd2']);
    expect(desks.gaps).toEqual([D1, D2].map((d) => ({ device: 'occ-d2', resource: 'd2', from: d + 18 * H, to: d + 19 * H })));
  });

  it('a member sees only their own presence and machine sessions, never desks or gaps', async () => {
    const res = await server.request('memberA', 'GET', url(`&memberId=${server.seed.members.b}`));
    expect(res.statusCode).toBe(200);
    const body = res.json<{ sessions: UsageSession[]; gaps: unknown[] }>();
    expect(body.sessions.map((s) => `${s.kind}:${s.memberId}`).sort()).toEqual([`machine:${server.seed.members.a}`, `presence:${server.seed.members.a}`]);
    expect(body.gaps).toEqual([]);
  });

  it('refuses an empty or too long period with what to change', async () => {
    const empty = await server.request('manager', 'GET', `/api/v1/usage/sessions?from=${D2}&to=${D1}`);
    expect(empty.statusCode).toBe(422);
    expect(empty.json<{ detail: string }>().detail).toMatch(/from .* must be before to/);
    const long = await server.request('manager', 'GET', `/api/v1/usage/sessions?from=${T0}&to=${T0 + 100 * 24 * H}`);
    expect(long.statusCode).toBe(422);
    expect(long.json<{ detail: string }>().detail).toMatch(/at most 93 days/);
  });

  it('a server without site and InfluxDB answers 503 and says what to configure', async () => {
    const bare = await makeTestServer({ bare: true });
    try {
      const res = await bare.request('manager', 'GET', `/api/v1/usage/sessions?from=${D1}&to=${D2}`);
      expect(res.statusCode).toBe(503);
      expect(res.json<{ detail: string }>().detail).toMatch(/--influx-url/);
    } finally {
      await bare.close();
    }
  });
});

describe('GET /api/v1/usage/utilisation', () => {
  it('by day over the raw signals: desk occupancy over available time (an offline hour is unknown), machine running time and recorded downtime', async () => {
    await server.db
      .insertInto('equipment_downtime')
      .values({ id: 'dt_1', site_id: SITE, equipment_id: 'laser-1', started_at: D1 + 10 * H, ended_at: D1 + 12 * H, reason: 'lens cleaning', reported_by: 'user:manager', restored_by: 'user:manager' })
      .execute();
    const res = await server.request('manager', 'GET', `/api/v1/usage/utilisation?from=${D1}&to=${D2 + 24 * H}&granularity=day`);
    expect(res.statusCode).toBe(200);
    type Desks = { occupiedDeskMs: number; availableDeskMs: number; unknownDeskMs: number; utilisation: number };
    type Machine = { id: string; runningMs: number; downtimeMs: number; sessions: number };
    const body = res.json<{ buckets: { key: string }[]; total: { site: { desks: Desks; uniqueMembers: number }; machines: Machine[] } }>();
    expect(body.buckets.map((b) => b.key)).toEqual(['2026-11-24', '2026-11-25']);
    const desks = body.total.site.desks;
    // d1 09–12 and d2 13–17 each day; the site is always open; d2's sensor offline 18–19 each day.
    expect(desks.occupiedDeskMs).toBe(2 * (3 + 4) * H);
    expect(desks.unknownDeskMs).toBe(2 * H);
    expect(desks.availableDeskMs).toBe(2 * (24 + 23) * H);
    expect(desks.utilisation).toBe(Math.round((14 / 94) * 10_000) / 10_000);
    expect(body.total.site.uniqueMembers).toBe(2);
    const laser = body.total.machines.find((m) => m.id === 'laser-1')!;
    expect(laser).toMatchObject({ runningMs: 2 * 50 * MIN, downtimeMs: 2 * H, sessions: 2 });
  });

  it('is for staff; an hourly report is limited to 8 days', async () => {
    expect((await server.request('memberA', 'GET', `/api/v1/usage/utilisation?from=${D1}&to=${D2}`)).statusCode).toBe(403);
    const long = await server.request('auditor', 'GET', `/api/v1/usage/utilisation?from=${D1}&to=${D1 + 10 * 24 * H}&granularity=hour`);
    expect(long.statusCode).toBe(422);
    expect(long.json<{ detail: string }>().detail).toMatch(/at most 8 days at a time by hour/);
  });
});

describe('GET /api/v1/statements (priced from the read-back)', () => {
  interface Line { memberId: string; resourceClass: string; quantity: number; chargedQuantity: number; amountMinor: number; referenceMinor: number; subsidyMinor: number; sessions: { id: string; first: string }[] }
  interface Body { statements: { party: { kind: string; id: string }; lines: Line[]; totals: { amountMinor: number } }[]; unbilled: { reason: string }[]; unpriced: { resourceClass: string }[]; rateCardId: number }

  it('needs a rate card first, and says how to store one', async () => {
    const res = await server.request('manager', 'GET', '/api/v1/statements?month=2026-11');
    expect(res.statusCode).toBe(422);
    expect(res.json<{ detail: string }>().detail).toMatch(/PUT \/api\/v1\/rate-card/);
  });

  it('bills each laser session to its member in 6-minute units; desks without a member are unbilled, usage without a rate unpriced', async () => {
    const card = {
      currency: 'CNY',
      versions: [{ effectiveFrom: '2026-01-01', rates: [{ resourceClass: 'machine:laser-cutter', unit: 'hour', priceMinor: 3000, referencePriceMinor: 12_000, incrementMinutes: 6, rounding: 'up', overrides: [{ group: 'student', priceMinor: 1500 }] }] }],
    };
    expect((await server.request('manager', 'PUT', '/api/v1/rate-card', card)).statusCode).toBe(201);
    const res = await server.request('auditor', 'GET', '/api/v1/statements?month=2026-11');
    expect(res.statusCode).toBe(200);
    const body = res.json<Body>();
    // Each day: the laser ran 14:10–15:00 (idle after 50 min, ended at its idle start): 50 min → 9 units of 6 min = 54 min.
    const byParty = Object.fromEntries(body.statements.map((st) => [`${st.party.kind}:${st.party.id}`, st]));
    for (const m of [server.seed.members.a, server.seed.members.b]) {
      const st = byParty[`member:${m}`]!;
      expect(st.lines).toHaveLength(1);
      expect(st.lines[0]).toMatchObject({ resourceClass: 'machine:laser-cutter', quantity: 54, chargedQuantity: 54, amountMinor: 2700, referenceMinor: 10_800, subsidyMinor: 8100 });
      expect(st.lines[0]!.sessions[0]!.first).toMatch(/^pm-laser-1:1:/);
      expect(st.totals.amountMinor).toBe(2700);
    }
    expect(body.unbilled.every((u) => u.reason === 'no-member')).toBe(true);
    expect(body.unbilled).toHaveLength(4); // the desk sessions
    expect(body.unpriced.map((u) => u.resourceClass)).toEqual(['space:lab', 'space:lab']);
  });

  it("a member's price group and billing choice from the roster, and a free-time grant with its reason, shape the statement", async () => {
    const a = server.seed.members.a;
    const b = server.seed.members.b;
    const statementOf = async (kind: string, id: string) => (await server.request('manager', 'GET', '/api/v1/statements?month=2026-11')).json<Body>().statements.find((st) => st.party.kind === kind && st.party.id === id);
    // B in the student group: 54 min at 15 yuan/h = 1350.
    expect((await server.request('manager', 'PATCH', `/api/v1/members/${b}`, { priceGroup: 'student' })).statusCode).toBe(200);
    expect((await statementOf('member', b))!.lines[0]).toMatchObject({ amountMinor: 1350, referenceMinor: 10_800, subsidyMinor: 9450, override: 'group:student' });
    expect((await server.request('manager', 'PATCH', `/api/v1/members/${b}`, { priceGroup: null })).statusCode).toBe(200);
    expect((await statementOf('member', b))!.lines[0]).toMatchObject({ amountMinor: 2700 });
    // A grant covering A's laser job on the 24th makes it free; its reason is on the line.
    const grant = await server.request('manager', 'POST', '/api/v1/grants', { memberId: a, resourceClass: 'machine:laser-cutter', from: '2026-11-24T14:00:00+08:00', to: '2026-11-24T16:00:00+08:00', reason: 'taught the laser safety course' });
    expect(grant.statusCode).toBe(201);
    const grantId = grant.json<{ id: string }>().id;
    expect((await statementOf('member', a))!.lines[0]).toMatchObject({ quantity: 54, grantedQuantity: 54, chargedQuantity: 0, amountMinor: 0, subsidyMinor: 10_800, grant: `${grantId}: taught the laser safety course` });
    expect((await server.request('memberA', 'GET', '/api/v1/grants')).json<{ id: string }[]>().map((g) => g.id)).toEqual([grantId]);
    expect((await server.request('memberB', 'GET', '/api/v1/grants')).json()).toEqual([]);
    expect((await server.request('memberA', 'POST', '/api/v1/grants', { memberId: a, resourceClass: 'room', from: '2026-11-24T14:00:00+08:00', to: '2026-11-24T16:00:00+08:00', reason: 'myself' })).statusCode).toBe(403);
    const backwards = await server.request('manager', 'POST', '/api/v1/grants', { memberId: a, resourceClass: 'room', from: '2026-11-24T16:00:00+08:00', to: '2026-11-24T14:00:00+08:00', reason: 'backwards' });
    expect(backwards.statusCode).toBe(422);
    expect((await server.request('manager', 'POST', '/api/v1/grants', { memberId: a, resourceClass: 'machine:Laser', from: '2026-11-24T14:00:00+08:00', to: '2026-11-24T16:00:00+08:00', reason: 'bad class' })).statusCode).toBe(400);
    expect((await server.request('manager', 'POST', '/api/v1/grants', { memberId: 'mem_nobody', resourceClass: 'room', from: '2026-11-24T14:00:00+08:00', to: '2026-11-24T16:00:00+08:00', reason: 'no one' })).statusCode).toBe(422);
    // Withdrawn while the month is open: billed again.
    expect((await server.request('manager', 'DELETE', `/api/v1/grants/${grantId}`)).statusCode).toBe(204);
    expect((await statementOf('member', a))!.lines[0]).toMatchObject({ grantedQuantity: 0, amountMinor: 2700 });
    // Billing through the team: A's sessions recorded no team, so the statement stays personal; billTo self says so explicitly.
    expect((await server.request('manager', 'PATCH', `/api/v1/members/${a}`, { billTo: 'self' })).json()).toMatchObject({ billTo: 'self' });
  });

  it('costs the space paid (broadband, software) are recorded per month in the billing currency, and services before closing', async () => {
    const broadband = await server.request('manager', 'POST', '/api/v1/costs', { month: '2026-11', category: 'broadband', description: '1000M fibre, November', supplier: '中国电信', invoiceRef: 'INV-2026-1101', amountMinor: 120_000 });
    expect(broadband.statusCode).toBe(201);
    expect(broadband.json()).toMatchObject({ siteId: SITE, month: '2026-11', category: 'broadband', currency: 'CNY', amountMinor: 120_000 });
    expect((await server.request('manager', 'POST', '/api/v1/costs', { month: '2026-11', category: 'software', description: 'CAD seats', amountMinor: 88_800 })).statusCode).toBe(201);
    const mistake = await server.request('manager', 'POST', '/api/v1/costs', { month: '2026-11', category: 'software', description: 'typed twice', amountMinor: 88_800 });
    expect((await server.request('manager', 'DELETE', `/api/v1/costs/${mistake.json<{ id: string }>().id}`)).statusCode).toBe(204);
    expect((await server.request('manager', 'POST', '/api/v1/costs', { month: '2026-11', category: 'snacks', description: 'x', amountMinor: 1 })).statusCode).toBe(400);
    expect((await server.request('manager', 'POST', '/api/v1/costs', { month: '2026-11', category: 'broadband', description: 'free', amountMinor: 0 })).statusCode).toBe(400);
    expect((await server.request('memberA', 'GET', '/api/v1/costs')).statusCode).toBe(403);
    expect((await server.request('auditor', 'GET', '/api/v1/costs?month=2026-11')).json<{ category: string }[]>().map((c) => c.category)).toEqual(['broadband', 'software']);
    const svc = await server.request('manager', 'POST', '/api/v1/services', { kind: 'training', title: 'Laser safety', startedAt: D1 + 10 * H, minutes: 90, participants: [server.seed.members.a], externalParticipants: 3, referenceMinor: 40_000 });
    expect(svc.statusCode).toBe(201);
  });

  it('closing a month freezes its statements in the ledger once; priced again from the raw signals it reproduces to the cent, with the card it was closed with', async () => {
    expect((await server.request('memberA', 'POST', '/api/v1/statements/2026-11/close', {})).statusCode).toBe(403);
    const early = await server.request('manager', 'POST', '/api/v1/statements/2026-11/close', {});
    expect(early.statusCode).toBe(422);
    expect(early.json<{ detail: string }>().detail).toMatch(/has not ended yet/);
    server.clock.set(Date.UTC(2026, 11, 2));
    const closed = await server.request('manager', 'POST', '/api/v1/statements/2026-11/close', {});
    expect(closed.statusCode).toBe(201);
    expect(closed.json()).toMatchObject({ month: '2026-11', currency: 'CNY', entries: 2, amountMinor: 5400, referenceMinor: 21_600, subsidyMinor: 16_200 });
    const charges = await server.db.selectFrom('ledger_entries').select(['kind', 'party_id', 'amount_minor']).orderBy('id').execute();
    expect(charges).toEqual([
      { kind: 'charge', party_id: server.seed.members.a, amount_minor: 2700 },
      { kind: 'charge', party_id: server.seed.members.b, amount_minor: 2700 },
    ]);
    expect((await server.request('admin', 'POST', '/api/v1/statements/2026-11/close', {})).statusCode).toBe(409);
    // The prices change afterwards: today's statements differ, the closed month still reproduces.
    const dearer = { versions: [{ effectiveFrom: '2026-01-01', rates: [{ resourceClass: 'machine:laser-cutter', unit: 'hour', priceMinor: 4000, referencePriceMinor: 12_000, incrementMinutes: 6 }] }] };
    expect((await server.request('manager', 'PUT', '/api/v1/rate-card', dearer)).statusCode).toBe(201);
    const now = (await server.request('manager', 'GET', '/api/v1/statements?month=2026-11')).json<Body>();
    expect(now.statements[0]!.totals.amountMinor).toBe(3600);
    // So does the roster: B moves to the student group after the close.
    expect((await server.request('manager', 'PATCH', `/api/v1/members/${server.seed.members.b}`, { priceGroup: 'student' })).statusCode).toBe(200);
    const verify = (await server.request('auditor', 'GET', '/api/v1/statements/2026-11/verify')).json<{ same: boolean; frozenSha256: string }>();
    expect(verify).toMatchObject({ same: true, frozenSha256: closed.json<{ statementsSha256: string }>().statementsSha256 });
    expect((await server.request('manager', 'PATCH', `/api/v1/members/${server.seed.members.b}`, { priceGroup: null })).statusCode).toBe(200);
    expect((await server.request('auditor', 'GET', '/api/v1/statements/2026-10/verify')).statusCode).toBe(404);
  });

  it('a correction after closing is an adjustment entry against a charge, never an edit; members see their own entries', async () => {
    interface Entry { id: number; kind: string; party: { id: string }; amountMinor: number; subsidyMinor: number; corrects: number | null; reason: string | null }
    const ledger = (await server.request('auditor', 'GET', '/api/v1/ledger?month=2026-11')).json<Entry[]>();
    const chargeB = ledger.find((e) => e.party.id === server.seed.members.b)!;
    const adj = await server.request('manager', 'POST', '/api/v1/ledger/adjustments', { corrects: chargeB.id, amountMinor: -600, reason: 'laser lens fault: 12 minutes refunded' });
    expect(adj.statusCode).toBe(201);
    expect(adj.json<Entry>()).toMatchObject({ kind: 'adjustment', corrects: chargeB.id, amountMinor: -600, subsidyMinor: 600, party: { id: server.seed.members.b } });
    const mine = (await server.request('memberB', 'GET', '/api/v1/ledger')).json<Entry[]>();
    expect(mine.map((e) => [e.kind, e.amountMinor])).toEqual([
      ['charge', 2700],
      ['adjustment', -600],
    ]);
    expect((await server.request('memberA', 'GET', '/api/v1/ledger')).json<Entry[]>().map((e) => e.party.id)).toEqual([server.seed.members.a]);
    const adjustment = adj.json<Entry>();
    expect((await server.request('manager', 'POST', '/api/v1/ledger/adjustments', { corrects: adjustment.id, amountMinor: 1, reason: 'again' })).statusCode).toBe(422);
    expect((await server.request('manager', 'POST', '/api/v1/ledger/adjustments', { corrects: 99_999, amountMinor: 1, reason: 'nothing' })).statusCode).toBe(404);
    expect((await server.request('manager', 'POST', '/api/v1/ledger/adjustments', { corrects: chargeB.id, amountMinor: 1 })).statusCode).toBe(400);
    expect((await server.request('auditor', 'POST', '/api/v1/ledger/adjustments', { corrects: chargeB.id, amountMinor: 1, reason: 'auditors only read' })).statusCode).toBe(403);
    // The frozen statements are untouched: the month still reproduces.
    expect((await server.request('auditor', 'GET', '/api/v1/statements/2026-11/verify')).json<{ same: boolean }>().same).toBe(true);
  });

  it('a closed month keeps its services, grants and costs: none can be added, changed or removed (409, saying why)', async () => {
    const a = server.seed.members.a;
    const late = await server.request('manager', 'POST', '/api/v1/services', { kind: 'event', title: 'Roadshow', startedAt: D2 + 10 * H, minutes: 60 });
    expect(late.statusCode).toBe(409);
    expect(late.json<{ detail: string }>().detail).toMatch(/2026-11, which is closed/);
    const [training] = (await server.request('manager', 'GET', '/api/v1/services?kind=training')).json<{ id: string }[]>();
    expect((await server.request('manager', 'PATCH', `/api/v1/services/${training!.id}`, { minutes: 120 })).statusCode).toBe(409);
    // A December service cannot be moved into November either.
    const dec = await server.request('manager', 'POST', '/api/v1/services', { kind: 'event', title: 'Demo day', startedAt: Date.UTC(2026, 11, 1, 6), minutes: 60 });
    expect(dec.statusCode).toBe(201);
    expect((await server.request('manager', 'PATCH', `/api/v1/services/${dec.json<{ id: string }>().id}`, { startedAt: D2 })).statusCode).toBe(409);
    // A grant reaching back into November is refused; one in December is fine.
    expect((await server.request('manager', 'POST', '/api/v1/grants', { memberId: a, resourceClass: 'room', from: '2026-11-30T20:00:00+08:00', to: '2026-12-01T10:00:00+08:00', reason: 'set up the demo day' })).statusCode).toBe(409);
    expect((await server.request('manager', 'POST', '/api/v1/grants', { memberId: a, resourceClass: 'room', from: '2026-12-01T08:00:00+08:00', to: '2026-12-01T10:00:00+08:00', reason: 'set up the demo day' })).statusCode).toBe(201);
    // Costs: the database itself refuses.
    expect((await server.request('manager', 'POST', '/api/v1/costs', { month: '2026-11', category: 'broadband', description: 'late invoice', amountMinor: 100 })).statusCode).toBe(409);
    const [cost] = (await server.request('manager', 'GET', '/api/v1/costs?month=2026-11')).json<{ id: string }[]>();
    expect((await server.request('manager', 'DELETE', `/api/v1/costs/${cost!.id}`)).statusCode).toBe(409);
    await expect(server.db.updateTable('costs').set({ amount_minor: 1 }).execute()).rejects.toThrow(/frozen/);
  });

  it('the subsidy claim of the closed month: machine use from the ledger (adjustment included), a recorded training and the costs paid, with their evidence', async () => {
    const res = await server.request('auditor', 'GET', '/api/v1/statements/2026-11/claim');
    expect(res.statusCode).toBe(200);
    type Line = { category: string; deliveries: number; hours: number; participants: number; referenceMinor: number; feesMinor: number; costsMinor: number; claimableMinor: number; evidence: { charges: number; adjustments: number; sessions: number; records: number; services: number; costs: number } };
    const body = res.json<{ lines: Line[]; total: Line }>();
    const by = Object.fromEntries(body.lines.map((l) => [l.category, l]));
    // Two laser charges of 27 yuan (54 min each), the 6-yuan refund; reference 108 yuan each.
    expect(by.shared_equipment).toMatchObject({ deliveries: 2, hours: 1.8, referenceMinor: 21_600, feesMinor: 4800, claimableMinor: 16_800 });
    expect(by.shared_equipment!.evidence).toMatchObject({ charges: 2, adjustments: 1, sessions: 2 });
    expect(by.shared_equipment!.evidence.records).toBeGreaterThan(2);
    expect(by.training).toMatchObject({ deliveries: 1, hours: 1.5, participants: 4, referenceMinor: 40_000, feesMinor: 0, claimableMinor: 40_000, evidence: { services: 1 } });
    // Broadband and software are claimed at their costs, with the invoices counted as evidence.
    expect(by.broadband).toMatchObject({ deliveries: 0, costsMinor: 120_000, claimableMinor: 120_000, evidence: { costs: 1 } });
    expect(by.software).toMatchObject({ costsMinor: 88_800, claimableMinor: 88_800, evidence: { costs: 1 } });
    expect(body.total.claimableMinor).toBe(56_800 + 120_000 + 88_800);
    expect((await server.request('auditor', 'GET', '/api/v1/statements/2026-10/claim')).statusCode).toBe(404);
    expect((await server.request('memberA', 'GET', '/api/v1/statements/2026-11/claim')).statusCode).toBe(403);
  });

  it('the month as CSV: a row per statement line, in minor units, with the sessions it bills; a member gets their own rows', async () => {
    const res = await server.request('manager', 'GET', '/api/v1/statements.csv?month=2026-11');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const rows = res.body.replace(/^\uFEFF/, '').trim().split('\r\n').map((r) => r.split(','));
    expect(rows[0]!.slice(0, 6)).toEqual(['party_kind', 'party_id', 'member_id', 'team_id', 'resource_class', 'date']);
    const col = (name: string) => rows[0]!.indexOf(name);
    // Priced now with the dearer card stored above (40 yuan/h): 54 min → 36 yuan each.
    expect(rows.slice(1).map((r) => [r[col('party_id')], r[col('resource_class')], r[col('amount_minor')], r[col('currency')]])).toEqual([
      [server.seed.members.a, 'machine:laser-cutter', '3600', 'CNY'],
      [server.seed.members.b, 'machine:laser-cutter', '3600', 'CNY'],
    ]);
    expect(rows[1]![col('sessions')]).toMatch(/^machine:laser-1:/);
    const mine = (await server.request('memberA', 'GET', '/api/v1/statements.csv?month=2026-11')).body.trim().split('\r\n');
    expect(mine).toHaveLength(2);
  });

  it('the ledger, the claim and the costs as CSV: staff every row, a member their own ledger entries', async () => {
    const parse = (body: string): string[][] => parseCsv(body.replace(/^\uFEFF/, ''), {});
    const ledger = await server.request('auditor', 'GET', '/api/v1/ledger.csv?month=2026-11');
    expect(ledger.statusCode).toBe(200);
    expect(ledger.headers['content-disposition']).toBe('attachment; filename="ledger-2026-11.csv"');
    const rows = parse(ledger.body);
    const col = (name: string) => rows[0]!.indexOf(name);
    expect(rows.slice(1).map((r) => [r[col('kind')], r[col('party_id')], r[col('amount_minor')], r[col('quantity')]])).toEqual([
      ['charge', server.seed.members.a, '2700', '54'],
      ['charge', server.seed.members.b, '2700', '54'],
      ['adjustment', server.seed.members.b, '-600', ''],
    ]);
    expect(rows[1]![col('sessions')]).toMatch(/^machine:laser-1:/);
    expect(parse((await server.request('memberA', 'GET', '/api/v1/ledger.csv')).body).slice(1).map((r) => r[col('party_id')])).toEqual([server.seed.members.a]);
    const claim = parse((await server.request('auditor', 'GET', '/api/v1/statements/2026-11/claim.csv')).body);
    const json = (await server.request('auditor', 'GET', '/api/v1/statements/2026-11/claim')).json<{ lines: { category: string; claimableMinor: number }[]; total: { claimableMinor: number } }>();
    const cc = (name: string) => claim[0]!.indexOf(name);
    expect(claim.slice(1).map((r) => [r[cc('category')], Number(r[cc('claimable_minor')])])).toEqual([...json.lines.map((l) => [l.category, l.claimableMinor]), ['total', json.total.claimableMinor]]);
    expect((await server.request('memberA', 'GET', '/api/v1/statements/2026-11/claim.csv')).statusCode).toBe(403);
    const costs = parse((await server.request('manager', 'GET', '/api/v1/costs.csv?month=2026-11')).body);
    expect(costs.slice(1).map((r) => [r[3], r[7]])).toEqual([
      ['broadband', '120000'],
      ['software', '88800'],
    ]);
  });

  it('a member sees their own statement only', async () => {
    const body = (await server.request('memberA', 'GET', '/api/v1/statements?month=2026-11')).json<Body>();
    expect(body.statements.map((st) => st.party)).toEqual([{ kind: 'member', id: server.seed.members.a }]);
    expect(body.unbilled).toEqual([]);
  });

  it("the month's evidence bundle verifies offline to the cent; a changed record, a changed log entry or an untrusted key is found", async () => {
    const res = await server.request('auditor', 'GET', '/api/v1/statements/2026-11/evidence');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe(`attachment; filename="evidence-${SITE}-2026-11.json"`);
    // Through a file and back, as an auditor would carry it.
    const bundle = JSON.parse(res.body) as EvidenceBundle;
    const [key] = (await server.request('auditor', 'GET', '/api/v1/audit/keys')).json<{ keyId: string }[]>();
    const good = verifyEvidence(bundle, [key!.keyId]);
    expect(good).toMatchObject({ ok: true, problems: [], differences: [], checkpoint: { trusted: true }, totals: { frozenAmountMinor: 5400, recomputedAmountMinor: 5400 } });
    expect(good.recomputedSha256).toBe(good.frozenSha256);
    expect(verifyEvidence(bundle, ['0000000000000000'])).toMatchObject({ ok: false, problems: [expect.stringContaining('not one you trust')] });
    // A record altered in the bundle: B's laser job runs 5 minutes longer.
    const t = D2 + 14 * H + 60 * MIN;
    const altered = { ...bundle, records: bundle.records.map((r) => (r.kind === 'power' && r.ts === t ? { ...r, powerW: 900 } : r)) };
    const a = verifyEvidence(altered, [key!.keyId]);
    expect(a.ok).toBe(false);
    expect(a.differences.map((d) => [d.change, d.fields.find((f) => f.field === 'amountMinor')])).toEqual([['changed', { field: 'amountMinor', frozen: 2700, now: 3000 }]]);
    // A log entry altered: the checkpoint no longer holds.
    const entries = bundle.server.entries.map((e) => e.replace('"amount_minor":2700', '"amount_minor":2600'));
    expect(entries).not.toEqual(bundle.server.entries);
    expect(verifyEvidence({ ...bundle, server: { ...bundle.server, entries } }, [key!.keyId]).problems).toEqual([expect.stringContaining("do not give the checkpoint's root")]);
    // The command an auditor runs on the file.
    const dir = mkdtempSync(join(tmpdir(), 'of-evidence-'));
    try {
      const lines: string[] = [];
      writeFileSync(join(dir, 'good.json'), res.body);
      expect(runVerifyEvidence(join(dir, 'good.json'), [key!.keyId], (l) => lines.push(l))).toBe(0);
      expect(lines.at(-1)).toMatch(/^OK: the month reproduces to the cent/);
      expect(lines).toContain('charged when closed 54.00, priced again now 54.00');
      lines.length = 0;
      writeFileSync(join(dir, 'altered.json'), JSON.stringify(altered));
      expect(runVerifyEvidence(join(dir, 'altered.json'), [key!.keyId], (l) => lines.push(l))).toBe(1);
      expect(lines).toContain('      amountMinor: 2700 → 3000');
      expect(lines.at(-1)).toMatch(/^BROKEN: the records price to statements with digest/);
      writeFileSync(join(dir, 'junk.json'), '{"format":');
      expect(runVerifyEvidence(join(dir, 'junk.json'), [], () => undefined)).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await server.request('memberA', 'GET', '/api/v1/statements/2026-11/evidence')).statusCode).toBe(403);
    expect((await server.request('auditor', 'GET', '/api/v1/statements/2026-10/evidence')).statusCode).toBe(404);
  });

  it('a raw point changed in InfluxDB after closing: the month no longer reproduces, and verify shows the line that moved and how', async () => {
    // B's laser job: the sample at 15:00 said 20 W (idle). Rewritten to 900 W, the job runs 5 minutes longer.
    const t = D2 + 14 * H + 60 * MIN;
    const sample = records.find((r) => r.kind === 'power' && r.ts === t)!;
    expect(sample).toMatchObject({ powerW: 20 });
    expect(await influx.client.write(toLine(toPoint({ ...sample, powerW: 900 } as JournalRecord)), 'ns')).toEqual({ ok: true });
    const v = (await server.request('auditor', 'GET', '/api/v1/statements/2026-11/verify')).json<{ same: boolean; differences: { line: string; change: string; fields: { field: string; frozen: unknown; now: unknown }[] }[] }>();
    expect(v.same).toBe(false);
    expect(v.differences).toHaveLength(1);
    expect(v.differences[0]!.line).toMatch(new RegExp(`^member:${server.seed.members.b} \\| ${server.seed.members.b} \\| machine:laser-cutter \\| 2026-11-25 \\| machine:laser-1:`));
    expect(v.differences[0]!.change).toBe('changed');
    expect(v.differences[0]!.fields.filter((f) => ['quantity', 'amountMinor'].includes(f.field))).toEqual([
      { field: 'quantity', frozen: 54, now: 60 },
      { field: 'amountMinor', frozen: 2700, now: 3000 },
    ]);
    // Put back as it was: reproduces again.
    expect(await influx.client.write(toLine(toPoint(sample)), 'ns')).toEqual({ ok: true });
    expect((await server.request('auditor', 'GET', '/api/v1/statements/2026-11/verify')).json()).toMatchObject({ same: true, differences: [] });
  });
});

describe('no-show fees (bookings, docs/accounting.md "No-show fees")', () => {
  interface NoShowLine { memberId: string; resourceClass: string; quantityUnit: string; quantity: number; amountMinor: number; referenceMinor: number; subsidyMinor: number; booking?: string; sessions: unknown[]; from: number; to: number }
  interface NoShowBody { statements: { party: { kind: string; id: string }; lines: NoShowLine[]; totals: { amountMinor: number } }[] }
  // October 2026 has no usage: its statements are the no-show fees alone. Local (Shanghai) times.
  const at = (local: string) => Date.parse(`${local}:00+08:00`);
  const booking = (id: string, memberId: string | null, status: 'no_show' | 'released' | 'used' | 'cancelled' | 'confirmed', from: string, to: string, kind: 'booking' | 'block' = 'booking') => ({
    id, site_id: SITE, resource_type: 'equipment' as const, resource_id: 'laser-1', kind, member_id: memberId, visitor_id: null, title: kind === 'block' ? 'training' : null,
    from_ms: at(from), to_ms: at(to), hold_to: at(to), status, used_at: null, checked_at: at(to), created_at: at('2026-10-01T08:00'), created_by: 'test', updated_at: at(to),
  });

  it('a no-show booking of a closed month is on its statement, frozen with the month: verify and the evidence bundle still reproduce it after the booking and the card change', async () => {
    const a = server.seed.members.a; // billTo self (set above)
    const b = server.seed.members.b; // billed through team B
    // As check-in leaves them: two no-shows (auto-release on and off), a used booking, a cancelled one, a block;
    // and a no-show starting 23:30 on 31 October (Shanghai): October's, though it ends in November.
    await server.db
      .insertInto('bookings')
      .values([
        booking('bk-released', a, 'released', '2026-10-13T14:00', '2026-10-13T16:00'),
        booking('bk-noshow', b, 'no_show', '2026-10-20T09:00', '2026-10-20T10:00'),
        booking('bk-used', a, 'used', '2026-10-21T09:00', '2026-10-21T10:00'),
        booking('bk-cancelled', a, 'cancelled', '2026-10-22T09:00', '2026-10-22T10:00'),
        booking('bk-block', null, 'confirmed', '2026-10-23T09:00', '2026-10-23T10:00', 'block'),
        booking('bk-late', a, 'released', '2026-10-31T23:30', '2026-11-01T00:30'),
      ])
      .execute();
    // 20 元 a laser no-show; members of the seed plan (A, valid through 2026) pay 10 元.
    const card = {
      versions: [{ effectiveFrom: '2026-01-01', rates: [{ resourceClass: 'machine:laser-cutter', unit: 'hour', priceMinor: 3000, referencePriceMinor: 12_000, incrementMinutes: 6, noShowFeeMinor: 2000, overrides: [{ planId: server.seed.plan, noShowFeeMinor: 1000 }] }] }],
    };
    expect((await server.request('manager', 'PUT', '/api/v1/rate-card', card)).statusCode).toBe(201);
    const open = (await server.request('auditor', 'GET', '/api/v1/statements?month=2026-10')).json<NoShowBody>();
    const teamB = (await server.db.selectFrom('members').select('team_id').where('id', '=', b).executeTakeFirstOrThrow()).team_id!;
    expect(open.statements.map((st) => [st.party.kind, st.party.id, st.lines.map((l) => [l.booking, l.memberId, l.resourceClass, l.quantityUnit, l.quantity, l.amountMinor, l.referenceMinor, l.subsidyMinor, l.sessions.length]), st.totals.amountMinor])).toEqual([
      ['member', a, [['bk-released', a, 'machine:laser-cutter', 'booking', 1, 1000, 1000, 0, 0], ['bk-late', a, 'machine:laser-cutter', 'booking', 1, 1000, 1000, 0, 0]], 2000],
      ['team', teamB, [['bk-noshow', b, 'machine:laser-cutter', 'booking', 1, 2000, 2000, 0, 0]], 2000],
    ]);
    // November does not bill the late one again.
    const nov = (await server.request('auditor', 'GET', '/api/v1/statements?month=2026-11')).json<NoShowBody>();
    expect(nov.statements.flatMap((st) => st.lines).filter((l) => l.booking !== undefined)).toEqual([]);

    const closed = await server.request('manager', 'POST', '/api/v1/statements/2026-10/close', {});
    expect(closed.statusCode).toBe(201);
    expect(closed.json()).toMatchObject({ month: '2026-10', entries: 3, amountMinor: 4000, referenceMinor: 4000, subsidyMinor: 0 });
    const period = await server.db.selectFrom('billing_periods').select('inputs').where('site_id', '=', SITE).where('period', '=', '2026-10').executeTakeFirstOrThrow();
    expect((JSON.parse(period.inputs!) as { noShows: { bookingId: string }[] }).noShows.map((n) => n.bookingId)).toEqual(['bk-released', 'bk-noshow', 'bk-late']);
    const charges = await server.db.selectFrom('ledger_entries').select(['party_id', 'amount_minor', 'line']).where('period', '=', '2026-10').orderBy('id').execute();
    expect(charges.map((c) => [c.party_id, c.amount_minor, (JSON.parse(c.line) as { booking: string }).booking])).toEqual([
      [a, 1000, 'bk-released'],
      [a, 1000, 'bk-late'],
      [teamB, 2000, 'bk-noshow'],
    ]);

    // Afterwards a booking is changed and the card drops the fee: today's pricing differs, the closed month does not.
    await server.db.updateTable('bookings').set({ status: 'cancelled' }).where('id', '=', 'bk-noshow').execute();
    const noFee = { versions: [{ effectiveFrom: '2026-01-01', rates: [{ resourceClass: 'machine:laser-cutter', unit: 'hour', priceMinor: 4000, referencePriceMinor: 12_000, incrementMinutes: 6 }] }] };
    expect((await server.request('manager', 'PUT', '/api/v1/rate-card', noFee)).statusCode).toBe(201);
    expect((await server.request('auditor', 'GET', '/api/v1/statements?month=2026-10')).json<NoShowBody>().statements).toEqual([]);
    const verify = (await server.request('auditor', 'GET', '/api/v1/statements/2026-10/verify')).json<{ same: boolean; differences: unknown[]; frozenSha256: string }>();
    expect(verify).toMatchObject({ same: true, differences: [], frozenSha256: closed.json<{ statementsSha256: string }>().statementsSha256 });
    const res = await server.request('auditor', 'GET', '/api/v1/statements/2026-10/evidence');
    expect(res.statusCode).toBe(200);
    const [key] = (await server.request('auditor', 'GET', '/api/v1/audit/keys')).json<{ keyId: string }[]>();
    expect(verifyEvidence(JSON.parse(res.body) as EvidenceBundle, [key!.keyId])).toMatchObject({ ok: true, problems: [], differences: [], totals: { frozenAmountMinor: 4000, recomputedAmountMinor: 4000 } });
    // November, closed before, still reproduces (its frozen inputs carry no no-shows).
    expect((await server.request('auditor', 'GET', '/api/v1/statements/2026-11/verify')).json()).toMatchObject({ same: true });
  });
});
