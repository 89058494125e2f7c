/**
 * Machines out of service and override badges over HTTP: members and managers
 * put a machine out of service, only managers (and administrators) put it
 * back, every period out of service is a downtime record; only an
 * administrator makes a badge an override badge. Both reach gateways in the
 * policy snapshot, as new policy versions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicySnapshot } from '../../core/policy/snapshot.js';
import { makeTestServer, T0, type TestServer } from '../harness/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await makeTestServer();
});
afterAll(async () => {
  await s.close();
});

type Problem = { code: string; detail: string; errors?: { path: string; message: string }[] };
type Downtime = {
  id: string;
  siteId: string;
  equipmentId: string;
  startedAt: number;
  endedAt: number | null;
  open: boolean;
  durationMs: number;
  reason: string;
  reportedBy?: string;
  restoredBy?: string | null;
  inPeriodMs?: number;
};
type MachineState = { siteId: string; equipmentId: string; outOfService: boolean; since: number | null; reason: string | null; changedBy?: string | null; downtime: Downtime | null };
type OutOfService = { siteId: string; equipmentId: string; since: number; reason: string; reportedBy?: string };
type Badge = { id: string; status: string; override: boolean };

const MIN = 60_000;
const HOUR = 60 * MIN;
const machine = (site: string, eq: string) => `/api/v1/sites/${site}/equipment/${eq}`;
const policy = async (): Promise<PolicySnapshot> => {
  const res = await s.request('admin', 'GET', '/api/v1/policy');
  expect(res.statusCode).toBe(200);
  return res.json<PolicySnapshot>();
};
/** As an auditor through an API token (sessions lapse after 12 h of harness time without use). */
const asAuditor = async (url: string) => s.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${await s.tokenFor('auditor')}` } });
const downtimeRows = async () => s.db.selectFrom('equipment_downtime').selectAll().orderBy('started_at').execute();

describe('machines out of service', () => {
  it('lets a member put a machine out of service: 201, a downtime period, a change-log entry and a new policy version', async () => {
    s.clock.set(T0);
    const before = await s.lastChangeId();
    const res = await s.request('memberA', 'POST', `${machine('site-a', 'laser-1')}/out-of-service`, { reason: 'Laser tube cracked; smells of burning' });
    expect(res.statusCode).toBe(201);
    const st = res.json<MachineState>();
    // Who reported it is for staff: not in a member's answer.
    expect(st).toEqual({
      siteId: 'site-a',
      equipmentId: 'laser-1',
      outOfService: true,
      since: T0,
      reason: 'Laser tube cracked; smells of burning',
      downtime: { id: expect.stringMatching(/^dtm_/) as string, siteId: 'site-a', equipmentId: 'laser-1', startedAt: T0, endedAt: null, open: true, durationMs: 0, reason: 'Laser tube cracked; smells of burning' },
    });

    const changes = await s.changesAfter(before);
    expect(changes).toEqual([
      {
        id: expect.any(Number) as number,
        at: T0,
        actor: 'user:memberA',
        entity: 'equipment',
        entityId: 'site-a/laser-1',
        action: 'create',
        before: null,
        after: { siteId: 'site-a', equipmentId: 'laser-1', outOfService: true, since: T0, reason: 'Laser tube cracked; smells of burning', downtimeId: st.downtime!.id },
      },
    ]);
    const version = changes[0]!.id;
    expect(s.policyVersions.at(-1)).toBe(version);

    const snap = await policy();
    expect(snap.version).toBe(version);
    expect(snap.outOfService).toEqual([{ siteId: 'site-a', equipmentId: 'laser-1', since: T0, reason: 'Laser tube cracked; smells of burning' }]);

    expect(await downtimeRows()).toEqual([
      { id: st.downtime!.id, site_id: 'site-a', equipment_id: 'laser-1', started_at: T0, ended_at: null, reason: 'Laser tube cracked; smells of burning', reported_by: 'user:memberA', restored_by: null },
    ]);
  });

  it('shows members which machines are out of service, since when and why; who reported it only to staff', async () => {
    const forMember = await s.request('memberB', 'GET', '/api/v1/equipment/status');
    expect(forMember.statusCode).toBe(200);
    expect(forMember.json<OutOfService[]>()).toEqual([{ siteId: 'site-a', equipmentId: 'laser-1', since: T0, reason: 'Laser tube cracked; smells of burning' }]);
    for (const who of ['manager', 'auditor'] as const) {
      const res = await s.request(who, 'GET', '/api/v1/equipment/status');
      expect(res.json<OutOfService[]>()).toEqual([{ siteId: 'site-a', equipmentId: 'laser-1', since: T0, reason: 'Laser tube cracked; smells of burning', reportedBy: 'user:memberA' }]);
    }
    expect((await s.request('manager', 'GET', '/api/v1/equipment/status?siteId=site-b')).json<OutOfService[]>()).toEqual([]);
    expect((await s.request(null, 'GET', '/api/v1/equipment/status')).statusCode).toBe(401);
  });

  it('is idempotent: reporting a machine already out of service answers its state (200), with no new period, change or version', async () => {
    s.clock.set(T0 + 10 * MIN);
    const before = await s.lastChangeId();
    const versions = s.policyVersions.length;
    const res = await s.request('memberB', 'POST', `${machine('site-a', 'laser-1')}/out-of-service`, { reason: 'Does not fire' });
    expect(res.statusCode).toBe(200);
    expect(res.json<MachineState>()).toMatchObject({ outOfService: true, since: T0, reason: 'Laser tube cracked; smells of burning', downtime: { startedAt: T0, open: true, durationMs: 10 * MIN } });
    const staff = await s.request('manager', 'POST', `${machine('site-a', 'laser-1')}/out-of-service`, { reason: 'Does not fire' });
    expect(staff.statusCode).toBe(200);
    expect(staff.json<MachineState>()).toMatchObject({ changedBy: 'user:memberA', downtime: { reportedBy: 'user:memberA', restoredBy: null } });
    expect(await s.lastChangeId()).toBe(before);
    expect(s.policyVersions).toHaveLength(versions);
    expect(await downtimeRows()).toHaveLength(1);
  });

  it('lets no member or auditor put it back (403), and auditors report nothing (403)', async () => {
    const before = await s.lastChangeId();
    for (const who of ['memberA', 'memberB', 'auditor'] as const) {
      const res = await s.request(who, 'POST', `${machine('site-a', 'laser-1')}/in-service`, {});
      expect(res.statusCode).toBe(403);
      expect(res.json<Problem>().detail).toBe(`this needs one of the roles admin, manager; you are ${who === 'auditor' ? 'auditor' : 'member'}`);
    }
    expect((await s.request('auditor', 'POST', `${machine('site-a', 'cnc-1')}/out-of-service`, { reason: 'Spindle noise' })).statusCode).toBe(403);
    expect(await s.lastChangeId()).toBe(before);
    expect((await policy()).outOfService).toHaveLength(1);
  });

  it('lets a manager put it back: the downtime period is closed with its duration, logged, and gateways get a new version', async () => {
    s.clock.set(T0 + 90 * MIN);
    const before = await s.lastChangeId();
    const res = await s.request('manager', 'POST', `${machine('site-a', 'laser-1')}/in-service`, {});
    expect(res.statusCode).toBe(200);
    const st = res.json<MachineState>();
    expect(st).toMatchObject({ siteId: 'site-a', equipmentId: 'laser-1', outOfService: false, since: T0 + 90 * MIN, reason: null, changedBy: 'user:manager' });
    expect(st.downtime).toMatchObject({ startedAt: T0, endedAt: T0 + 90 * MIN, open: false, durationMs: 90 * MIN, reportedBy: 'user:memberA', restoredBy: 'user:manager' });

    const changes = await s.changesAfter(before);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      actor: 'user:manager',
      entity: 'equipment',
      entityId: 'site-a/laser-1',
      action: 'update',
      before: { outOfService: true, since: T0, reason: 'Laser tube cracked; smells of burning', downtimeId: st.downtime!.id },
      after: { outOfService: false, since: T0 + 90 * MIN, reason: null, downtimeId: st.downtime!.id },
    });
    expect(s.policyVersions.at(-1)).toBe(changes[0]!.id);
    const snap = await policy();
    expect(snap.version).toBe(changes[0]!.id);
    expect(snap.outOfService).toEqual([]);
    expect((await s.request('memberA', 'GET', '/api/v1/equipment/status')).json<OutOfService[]>()).toEqual([]);

    // Back already: nothing to do, nothing logged.
    const again = await s.request('admin', 'POST', `${machine('site-a', 'laser-1')}/in-service`, {});
    expect(again.statusCode).toBe(200);
    expect(again.json<MachineState>()).toMatchObject({ outOfService: false, downtime: null });
    const never = await s.request('admin', 'POST', `${machine('site-a', 'never-broken')}/in-service`, {});
    expect(never.json<MachineState>()).toEqual({ siteId: 'site-a', equipmentId: 'never-broken', outOfService: false, since: null, reason: null, changedBy: null, downtime: null });
    expect(await s.lastChangeId()).toBe(changes[0]!.id);
  });

  it('opens a new period when the machine breaks again (the change log shows it was in service before)', async () => {
    s.clock.set(T0 + 3 * HOUR);
    const before = await s.lastChangeId();
    const res = await s.request('manager', 'POST', `${machine('site-a', 'laser-1')}/out-of-service`, { reason: 'Mirror misaligned' });
    expect(res.statusCode).toBe(201);
    expect(res.json<MachineState>()).toMatchObject({ changedBy: 'user:manager', downtime: { reportedBy: 'user:manager', open: true } });
    const [c] = await s.changesAfter(before);
    expect(c).toMatchObject({ action: 'update', before: { outOfService: false, since: T0 + 90 * MIN, reason: null, downtimeId: null }, after: { outOfService: true, since: T0 + 3 * HOUR, reason: 'Mirror misaligned' } });
    expect(await downtimeRows()).toHaveLength(2);
    s.clock.set(T0 + 4 * HOUR);
    expect((await s.request('admin', 'POST', `${machine('site-a', 'laser-1')}/in-service`, {})).json<MachineState>().downtime).toMatchObject({ durationMs: HOUR, restoredBy: 'user:admin' });
  });

  it.each([
    ['an empty reason', 'site-a', 'laser-1', { reason: '' }, 'body/reason'],
    ['a reason over 500 characters', 'site-a', 'laser-1', { reason: 'x'.repeat(501) }, 'body/reason'],
    ['a reason with space around it', 'site-a', 'laser-1', { reason: ' broken ' }, 'body/reason'],
    ['no reason', 'site-a', 'laser-1', {}, 'body'],
    ['an unknown field', 'site-a', 'laser-1', { reason: 'broken', severity: 'high' }, 'body'],
    ['an equipment id that is not an id', 'site-a', '-laser', { reason: 'broken' }, 'params/equipmentId'],
    ['a site id that is not an id', 'site.a', 'laser-1', { reason: 'broken' }, 'params/siteId'],
  ])('refuses %s (400) and changes nothing', async (_what, site, eq, body, path) => {
    const before = await s.lastChangeId();
    const res = await s.request('memberA', 'POST', `${machine(site, eq)}/out-of-service`, body);
    expect(res.statusCode).toBe(400);
    expect(res.json<Problem>().errors?.some((e) => e.path === path)).toBe(true);
    expect(await s.lastChangeId()).toBe(before);
  });

  it('accepts any well-formed site and equipment id (the server has no machine lists) and sorts the snapshot by site and machine', async () => {
    s.clock.set(T0 + 5 * HOUR);
    expect((await s.request('memberB', 'POST', `${machine('site-b', 'printer_2')}/out-of-service`, { reason: 'Nozzle clogged' })).statusCode).toBe(201);
    expect((await s.request('memberA', 'POST', `${machine('Site-A', 'CNC-1')}/out-of-service`, { reason: '主轴异响' })).statusCode).toBe(201);
    expect((await policy()).outOfService).toEqual([
      { siteId: 'Site-A', equipmentId: 'CNC-1', since: T0 + 5 * HOUR, reason: '主轴异响' },
      { siteId: 'site-b', equipmentId: 'printer_2', since: T0 + 5 * HOUR, reason: 'Nozzle clogged' },
    ]);
    for (const [site, eq] of [['site-b', 'printer_2'], ['Site-A', 'CNC-1']] as const) {
      expect((await s.request('manager', 'POST', `${machine(site, eq)}/in-service`, {})).statusCode).toBe(200);
    }
  });
});

describe('GET /equipment/downtime', () => {
  // On site-q: periods around the query period [T0+3h, T0+6h).
  const periods: [number, number | null][] = [
    [0, HOUR], //                    before the period: left out
    [2 * HOUR, 3 * HOUR], //         ends exactly where the period starts: left out
    [2 * HOUR + 30 * MIN, 4 * HOUR], // overlaps its start
    [4 * HOUR + 30 * MIN, 5 * HOUR], // inside
    [5 * HOUR + 30 * MIN, 8 * HOUR], // overlaps its end
    [6 * HOUR, 7 * HOUR], //         starts exactly where it ends: left out
  ];
  const at = (ms: number) => T0 + 6 * HOUR + ms;

  beforeAll(async () => {
    for (const [i, [start, end]] of periods.entries()) {
      const eq = `m${i}`;
      s.clock.set(at(start));
      expect((await s.request('memberA', 'POST', `${machine('site-q', eq)}/out-of-service`, { reason: `fault ${i}` })).statusCode).toBe(201);
      if (end !== null) {
        s.clock.set(at(end));
        expect((await s.request('manager', 'POST', `${machine('site-q', eq)}/in-service`, {})).statusCode).toBe(200);
      }
    }
    // One still open, on another site.
    s.clock.set(at(9 * HOUR));
    expect((await s.request('memberB', 'POST', `${machine('site-r', 'lathe')}/out-of-service`, { reason: 'chuck jammed' })).statusCode).toBe(201);
    s.clock.set(at(10 * HOUR));
  });

  it('lists the periods overlapping [from, to), at both ends, with their durations and the part inside the period', async () => {
    const res = await asAuditor(`/api/v1/equipment/downtime?siteId=site-q&from=${at(3 * HOUR)}&to=${at(6 * HOUR)}`);
    expect(res.statusCode).toBe(200);
    const list = res.json<Downtime[]>();
    expect(list.map((d) => [d.equipmentId, d.durationMs, d.inPeriodMs])).toEqual([
      ['m2', 90 * MIN, HOUR],
      ['m3', 30 * MIN, 30 * MIN],
      ['m4', 150 * MIN, 30 * MIN],
    ]);
    expect(list[0]).toEqual({
      id: expect.stringMatching(/^dtm_/) as string,
      siteId: 'site-q',
      equipmentId: 'm2',
      startedAt: at(2 * HOUR + 30 * MIN),
      endedAt: at(4 * HOUR),
      open: false,
      durationMs: 90 * MIN,
      reason: 'fault 2',
      reportedBy: 'user:memberA',
      restoredBy: 'user:manager',
      inPeriodMs: HOUR,
    });
  });

  it('counts an open period up to now, and filters by machine', async () => {
    const open = await s.request('manager', 'GET', `/api/v1/equipment/downtime?from=${at(8 * HOUR)}`);
    expect(open.json<Downtime[]>().map((d) => [d.siteId, d.equipmentId, d.open, d.endedAt, d.durationMs, d.inPeriodMs])).toEqual([['site-r', 'lathe', true, null, HOUR, HOUR]]);
    const one = await s.request('admin', 'GET', '/api/v1/equipment/downtime?siteId=site-q&equipmentId=m4');
    expect(one.json<Downtime[]>().map((d) => [d.equipmentId, d.durationMs, d.inPeriodMs])).toEqual([['m4', 150 * MIN, 150 * MIN]]);
    const beforeAll = await s.request('admin', 'GET', `/api/v1/equipment/downtime?siteId=site-q&to=${at(HOUR)}`);
    expect(beforeAll.json<Downtime[]>().map((d) => d.equipmentId)).toEqual(['m0']);
  });

  it('refuses an empty period (422) and members (403)', async () => {
    const res = await s.request('manager', 'GET', `/api/v1/equipment/downtime?from=${at(HOUR)}&to=${at(HOUR)}`);
    expect(res.statusCode).toBe(422);
    expect(res.json<Problem>().detail).toMatch(/from .* must be before to/);
    expect((await s.request('memberA', 'GET', '/api/v1/equipment/downtime')).statusCode).toBe(403);
    expect((await s.request('manager', 'GET', '/api/v1/equipment/downtime?colour=red')).statusCode).toBe(400);
  });
});

describe('override badges', () => {
  it('lets an administrator make a badge an override badge: logged, a new version, carried in the snapshot', async () => {
    const before = await s.lastChangeId();
    const res = await s.request('admin', 'PATCH', `/api/v1/badges/${s.seed.badges.b}`, { override: true });
    expect(res.statusCode).toBe(200);
    expect(res.json<Badge>()).toMatchObject({ id: s.seed.badges.b, status: 'active', override: true });
    const [c] = await s.changesAfter(before);
    expect(c).toMatchObject({ actor: 'user:admin', entity: 'badge', entityId: s.seed.badges.b, action: 'update', before: { override: false, status: 'active' }, after: { override: true, status: 'active' } });
    expect(s.policyVersions.at(-1)).toBe(c!.id);
    const snap = await policy();
    expect(snap.version).toBe(c!.id);
    expect(snap.badges).toEqual([
      { format: 'em4100', credential: '0A1B2C3D4E', memberId: s.seed.members.a, status: 'active', override: false },
      { format: 'uid', credential: '04A1B2C3', memberId: s.seed.members.b, status: 'active', override: true },
    ]);
    const listed = await asAuditor('/api/v1/badges?override=true');
    expect(listed.json<Badge[]>().map((b) => b.id)).toEqual([s.seed.badges.b]);
  });

  it('refuses override from a manager (403, saying who may), even together with a change they may make, which is then not made', async () => {
    const before = await s.lastChangeId();
    for (const body of [{ override: false }, { override: true }, { status: 'lost', override: false }]) {
      const res = await s.request('manager', 'PATCH', `/api/v1/badges/${s.seed.badges.b}`, body);
      expect(res.statusCode).toBe(403);
      expect(res.json<Problem>().detail).toMatch(/only an administrator may make a badge an override badge/);
    }
    expect(await s.lastChangeId()).toBe(before);
    // The rest of PATCH is theirs as before, and keeps the override.
    const note = await s.request('manager', 'PATCH', `/api/v1/badges/${s.seed.badges.b}`, { note: 'facility manager’s card' });
    expect(note.statusCode).toBe(200);
    expect(note.json<Badge>()).toMatchObject({ status: 'active', override: true });
    expect((await s.request('memberB', 'PATCH', `/api/v1/badges/${s.seed.badges.b}`, { override: true })).statusCode).toBe(403);
  });

  it('clears the override when the badge is returned, so the card never carries it to its next holder', async () => {
    const res = await s.request('manager', 'PATCH', `/api/v1/badges/${s.seed.badges.b}`, { status: 'returned' });
    expect(res.statusCode).toBe(200);
    expect(res.json<Badge>()).toMatchObject({ status: 'returned', override: false });
    const refused = await s.request('admin', 'PATCH', `/api/v1/badges/${s.seed.badges.b}`, { override: true });
    expect(refused.statusCode).toBe(422);
    expect(refused.json<Problem>().detail).toMatch(/returned badge .* cannot be an override badge/);
    const back = await s.request('admin', 'PATCH', `/api/v1/badges/${s.seed.badges.b}`, { status: 'active' });
    expect(back.json<Badge>()).toMatchObject({ status: 'active', override: false });
    expect((await policy()).badges.every((b) => !b.override)).toBe(true);
  });

  it('leaves override out of the CSV export', async () => {
    await s.request('admin', 'PATCH', `/api/v1/badges/${s.seed.badges.a}`, { override: true });
    const csv = await s.request('manager', 'GET', '/api/v1/export/badges.csv');
    expect(csv.statusCode).toBe(200);
    expect(csv.body.split('\r\n')[0]).toBe('\uFEFFmemberNo,format,credential,status,issuedOn,note');
    expect(csv.body).not.toMatch(/override|true/i);
  });
});
