/** Trainers and certifications through the API: qualification rules, validity, who may read and write, the change log. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestServer, type TestServer, type Who } from '../harness/server.js';

let s: TestServer;
let laserTrainer: string;
let retiredTrainer: string;

interface Cert {
  id: string;
  memberId: string;
  class: string;
  issuedOn: string;
  expiresOn: string | null;
  trainerId: string | null;
  revoked: boolean;
  revokedAt: number | null;
  valid: boolean;
}

/** The harness clock stands at 2026-11-25 09:00 UTC: the same calendar day in any time zone from UTC−9 to UTC+14. */
const TODAY = '2026-11-25';

const certify = (who: Who, body: Record<string, unknown>) => s.request(who, 'POST', '/api/v1/certifications', body);

beforeAll(async () => {
  s = await makeTestServer();
});
afterAll(async () => {
  await s.close();
});

describe('trainers', () => {
  it('adds a trainer (manager), logs it, and announces no policy version (trainers decide no access)', async () => {
    const last = await s.lastChangeId();
    const versions = s.policyVersions.length;
    const res = await s.request('manager', 'POST', '/api/v1/trainers', { name: 'Wang Wu', nameZh: '王五', memberId: s.seed.members.b, qualifications: ['laser-cutter', 'fablab-safety'] });
    expect(res.statusCode).toBe(201);
    const t = res.json<{ id: string }>();
    expect(t).toEqual({ id: expect.stringMatching(/^trn_/) as unknown, name: 'Wang Wu', nameZh: '王五', memberId: s.seed.members.b, qualifications: ['laser-cutter', 'fablab-safety'], active: true, createdAt: s.clock.now(), updatedAt: s.clock.now() });
    laserTrainer = t.id;
    expect(await s.changesAfter(last)).toEqual([expect.objectContaining({ entity: 'trainer', entityId: t.id, action: 'create', actor: 'user:manager', after: res.json<unknown>() })]);
    expect(s.policyVersions).toHaveLength(versions);

    retiredTrainer = (await s.request('admin', 'POST', '/api/v1/trainers', { name: 'Zhao Liu', qualifications: ['laser-cutter', 'cnc'] })).json<{ id: string }>().id;
  });

  it('refuses an unknown member (422) and bad qualifications (400)', async () => {
    expect((await s.request('manager', 'POST', '/api/v1/trainers', { name: 'X', memberId: 'mem_nobody', qualifications: [] })).statusCode).toBe(422);
    expect((await s.request('manager', 'POST', '/api/v1/trainers', { name: 'X', qualifications: ['laser cutter'] })).statusCode).toBe(400);
    expect((await s.request('manager', 'POST', '/api/v1/trainers', { name: 'X', qualifications: ['cnc', 'cnc'] })).statusCode).toBe(400);
  });

  it('changes and deactivates a trainer, logging before and after', async () => {
    const last = await s.lastChangeId();
    const res = await s.request('manager', 'PATCH', `/api/v1/trainers/${retiredTrainer}`, { active: false, qualifications: ['cnc', 'laser-cutter', 'lathe'] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ active: false, qualifications: ['cnc', 'laser-cutter', 'lathe'] });
    expect(await s.changesAfter(last)).toEqual([
      expect.objectContaining({ entity: 'trainer', action: 'update', before: expect.objectContaining({ active: true, qualifications: ['laser-cutter', 'cnc'] }) as unknown, after: res.json<unknown>() }),
    ]);
    expect((await s.request('manager', 'PATCH', '/api/v1/trainers/trn_missing', { active: false })).statusCode).toBe(404);
    expect((await s.request('manager', 'PATCH', `/api/v1/trainers/${retiredTrainer}`, { memberId: 'mem_nobody' })).statusCode).toBe(422);
  });

  it('lists trainers for staff, with filters; members get 403', async () => {
    for (const who of ['admin', 'manager', 'auditor'] as Who[]) expect((await s.request(who, 'GET', '/api/v1/trainers')).statusCode).toBe(200);
    expect((await s.request('memberA', 'GET', '/api/v1/trainers')).statusCode).toBe(403);
    const active = (await s.request('auditor', 'GET', '/api/v1/trainers?active=true')).json<{ id: string }[]>();
    expect(active.map((t) => t.id)).toEqual([laserTrainer]);
    const lathe = (await s.request('auditor', 'GET', '/api/v1/trainers?qualifiedFor=lathe')).json<{ id: string }[]>();
    expect(lathe.map((t) => t.id)).toEqual([retiredTrainer]);
  });

  it('keeps members and auditors out of trainer writes (403)', async () => {
    for (const who of ['memberA', 'auditor'] as Who[]) {
      expect((await s.request(who, 'POST', '/api/v1/trainers', { name: 'Y', qualifications: [] })).statusCode).toBe(403);
      expect((await s.request(who, 'PATCH', `/api/v1/trainers/${laserTrainer}`, { active: false })).statusCode).toBe(403);
    }
  });
});

describe('issuing certifications', () => {
  it('issues one with a qualified, active trainer; logs it and announces a new policy version', async () => {
    const last = await s.lastChangeId();
    const res = await certify('manager', { memberId: s.seed.members.a, class: 'laser-cutter', issuedOn: '2026-11-01', expiresOn: '2027-11-01', trainerId: laserTrainer });
    expect(res.statusCode).toBe(201);
    const c = res.json<Cert>();
    expect(c).toMatchObject({ memberId: s.seed.members.a, class: 'laser-cutter', issuedOn: '2026-11-01', expiresOn: '2027-11-01', trainerId: laserTrainer, revoked: false, revokedAt: null, valid: true });
    const changes = await s.changesAfter(last);
    expect(changes).toEqual([expect.objectContaining({ entity: 'certification', entityId: c.id, action: 'create', actor: 'user:manager' })]);
    expect(changes[0]!.after).not.toHaveProperty('valid');
    expect(s.policyVersions.at(-1)).toBe(changes[0]!.id);
  });

  it('issues one without a trainer, and without an expiry', async () => {
    const res = await certify('admin', { memberId: s.seed.members.a, class: 'fablab-safety', issuedOn: '2026-01-10' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ trainerId: null, expiresOn: null, valid: true });
  });

  it.each([
    ['a trainer not qualified for the class', () => ({ class: 'cnc', trainerId: laserTrainer }), 422, 'not qualified for cnc'],
    ['an inactive trainer', () => ({ class: 'cnc', trainerId: retiredTrainer }), 422, 'is not active'],
    ['an unknown trainer', () => ({ trainerId: 'trn_nobody' }), 422, 'no trainer trn_nobody'],
    ['an unknown member', () => ({ memberId: 'mem_nobody' }), 422, 'no member mem_nobody'],
    ['an expiry before the issue date', () => ({ issuedOn: '2026-05-01', expiresOn: '2026-04-30' }), 422, 'before issuedOn'],
    ['a date that is not a date', () => ({ issuedOn: '2026-13-01' }), 400, 'schema'],
    ['a class with spaces', () => ({ class: 'laser cutter' }), 400, 'schema'],
    ['an unknown field', () => ({ level: 3 }), 400, 'schema'],
  ])('refuses %s', async (_what, change, status, detail) => {
    const before = await s.lastChangeId();
    const res = await certify('manager', { memberId: s.seed.members.b, class: 'laser-cutter', issuedOn: '2026-11-01', ...change() });
    expect(res.statusCode).toBe(status);
    expect(res.json<{ detail: string }>().detail).toContain(detail);
    expect(await s.lastChangeId()).toBe(before);
  });

  it('keeps members and auditors out of writes (403)', async () => {
    const any = (await s.request('admin', 'GET', '/api/v1/certifications')).json<Cert[]>()[0]!;
    for (const who of ['memberA', 'auditor'] as Who[]) {
      expect((await certify(who, { memberId: s.seed.members.a, class: 'cnc', issuedOn: '2026-11-01' })).statusCode, who).toBe(403);
      expect((await s.request(who, 'PATCH', `/api/v1/certifications/${any.id}`, { revoked: true })).statusCode, who).toBe(403);
    }
  });
});

describe('reading certifications', () => {
  let expired: Cert;
  let revoked: Cert;
  let future: Cert;

  beforeAll(async () => {
    expired = (await certify('manager', { memberId: s.seed.members.b, class: 'laser-cutter', issuedOn: '2025-01-01', expiresOn: '2025-12-31', trainerId: laserTrainer })).json<Cert>();
    revoked = (await certify('manager', { memberId: s.seed.members.b, class: 'fablab-safety', issuedOn: '2026-02-01', expiresOn: '2027-02-01' })).json<Cert>();
    await s.request('manager', 'PATCH', `/api/v1/certifications/${revoked.id}`, { revoked: true });
    future = (await certify('manager', { memberId: s.seed.members.b, class: 'cnc', issuedOn: '2026-12-01', expiresOn: '2026-12-15' })).json<Cert>();
  });

  it('filters by member, class, validity and expiry (staff)', async () => {
    const get = async (q: string) => (await s.request('auditor', 'GET', `/api/v1/certifications?${q}`)).json<Cert[]>().map((c) => c.id).sort();
    const ofB = await get(`memberId=${s.seed.members.b}`);
    expect(ofB).toEqual([expired.id, revoked.id, future.id].sort());
    expect(await get(`memberId=${s.seed.members.b}&valid=true`)).toEqual([]);
    expect(await get(`memberId=${s.seed.members.b}&valid=false`)).toEqual(ofB);
    expect(await get(`class=laser-cutter&valid=false`)).toEqual([expired.id]);
    expect(await get(`expiringBefore=${TODAY}`)).toEqual([expired.id]);
    expect(await get(`expiringBefore=2027-01-01&memberId=${s.seed.members.b}`)).toEqual([expired.id, future.id].sort());
    const valid = (await s.request('auditor', 'GET', '/api/v1/certifications?valid=true')).json<Cert[]>();
    expect(valid.length).toBeGreaterThan(0);
    expect(valid.every((c) => c.valid && c.memberId === s.seed.members.a)).toBe(true);
    expect((await s.request('auditor', 'GET', '/api/v1/certifications?valid=maybe')).statusCode).toBe(400);
    expect((await s.request('auditor', 'GET', '/api/v1/certifications?expiringBefore=soon')).statusCode).toBe(400);
    expect((await s.request('memberA', 'GET', '/api/v1/certifications')).statusCode).toBe(403);
  });

  it('says why a certification is not valid: revoked, expired, or not yet issued', async () => {
    const all = (await s.request('admin', 'GET', `/api/v1/members/${s.seed.members.b}/certifications`)).json<Cert[]>();
    const by = new Map(all.map((c) => [c.id, c]));
    expect(by.get(expired.id)).toMatchObject({ valid: false, revoked: false, expiresOn: '2025-12-31' });
    expect(by.get(revoked.id)).toMatchObject({ valid: false, revoked: true, revokedAt: s.clock.now() });
    expect(by.get(future.id)).toMatchObject({ valid: false, revoked: false, issuedOn: '2026-12-01' });
  });

  it('shows a member their own certifications, and someone else’s as not found (404)', async () => {
    const own = await s.request('memberA', 'GET', `/api/v1/members/${s.seed.members.a}/certifications`);
    expect(own.statusCode).toBe(200);
    expect(own.json<Cert[]>().every((c) => c.memberId === s.seed.members.a)).toBe(true);
    const other = await s.request('memberA', 'GET', `/api/v1/members/${s.seed.members.b}/certifications`);
    expect(other.statusCode).toBe(404);
    const missing = await s.request('memberA', 'GET', '/api/v1/members/mem_nobody/certifications');
    expect(missing.statusCode).toBe(404);
    expect(other.json<{ detail: string }>().detail).toBe(`member ${s.seed.members.b} does not exist`);
    expect((await s.request('admin', 'GET', '/api/v1/members/mem_nobody/certifications')).statusCode).toBe(404);
  });

  it('GET /me/certifications: a member’s own; staff logins have no member (403)', async () => {
    const mine = (await s.request('memberB', 'GET', '/api/v1/me/certifications')).json<Cert[]>();
    expect(mine.map((c) => c.id).sort()).toEqual([expired.id, revoked.id, future.id].sort());
    expect((await s.request('manager', 'GET', '/api/v1/me/certifications')).statusCode).toBe(403);
  });

  it('lists what a trainer certified (staff)', async () => {
    const res = await s.request('auditor', 'GET', `/api/v1/trainers/${laserTrainer}/certifications`);
    expect(res.statusCode).toBe(200);
    const certs = res.json<Cert[]>();
    expect(certs.length).toBe(2);
    expect(certs.every((c) => c.trainerId === laserTrainer)).toBe(true);
    expect((await s.request('auditor', 'GET', '/api/v1/trainers/trn_nobody/certifications')).statusCode).toBe(404);
    expect((await s.request('memberA', 'GET', `/api/v1/trainers/${laserTrainer}/certifications`)).statusCode).toBe(403);
  });
});

describe('extending and revoking', () => {
  it('extends an expired certification, which makes it valid again; the change log has before and after', async () => {
    const c = (await certify('manager', { memberId: s.seed.members.a, class: 'cnc', issuedOn: '2025-03-01', expiresOn: '2025-09-01' })).json<Cert>();
    expect(c.valid).toBe(false);
    const last = await s.lastChangeId();
    const res = await s.request('manager', 'PATCH', `/api/v1/certifications/${c.id}`, { expiresOn: '2027-09-01' });
    expect(res.json()).toMatchObject({ expiresOn: '2027-09-01', valid: true });
    const [change] = await s.changesAfter(last);
    expect(change).toMatchObject({ entity: 'certification', entityId: c.id, action: 'update', before: { expiresOn: '2025-09-01' }, after: { expiresOn: '2027-09-01' } });
    expect(s.policyVersions.at(-1)).toBe(change!.id);
  });

  it('revokes (keeping the first revocation time) and reinstates', async () => {
    const c = (await certify('admin', { memberId: s.seed.members.a, class: 'lathe', issuedOn: '2026-10-01' })).json<Cert>();
    const at = s.clock.now();
    expect((await s.request('admin', 'PATCH', `/api/v1/certifications/${c.id}`, { revoked: true })).json()).toMatchObject({ revoked: true, revokedAt: at, valid: false });
    s.clock.advance(1000);
    expect((await s.request('admin', 'PATCH', `/api/v1/certifications/${c.id}`, { revoked: true, note: 'unsafe use' })).json()).toMatchObject({ revokedAt: at, note: 'unsafe use' });
    expect((await s.request('admin', 'PATCH', `/api/v1/certifications/${c.id}`, { revoked: false })).json()).toMatchObject({ revoked: false, revokedAt: null, valid: true });
  });

  it('refuses an expiry before the issue date, an empty change and an unknown certification', async () => {
    const c = (await certify('admin', { memberId: s.seed.members.a, class: 'reflow-oven', issuedOn: '2026-10-01' })).json<Cert>();
    expect((await s.request('manager', 'PATCH', `/api/v1/certifications/${c.id}`, { expiresOn: '2026-09-30' })).statusCode).toBe(422);
    expect((await s.request('manager', 'PATCH', `/api/v1/certifications/${c.id}`, {})).statusCode).toBe(400);
    expect((await s.request('manager', 'PATCH', '/api/v1/certifications/crt_nobody', { revoked: true })).statusCode).toBe(404);
  });
});
