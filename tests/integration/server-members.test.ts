/** Members over HTTP: listing and search, creating, reading (own record only for members), changing, leaving. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestServer, type TestServer } from '../harness/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await makeTestServer();
});
afterAll(async () => {
  await s.close();
});

const newMember = (over: Record<string, unknown> = {}) => ({ memberNo: 'M-1001', name: 'Wang Wu', joinedOn: '2026-11-01', ...over });
type Problem = { code: string; status: number; detail: string; errors?: { path: string; message: string }[] };

describe('GET /members', () => {
  it.each(['admin', 'manager', 'auditor'] as const)('lists members by number for %s', async (who) => {
    const res = await s.request(who, 'GET', '/api/v1/members?limit=200');
    expect(res.statusCode).toBe(200);
    const list = res.json<{ memberNo: string }[]>();
    expect(list.slice(0, 2).map((m) => m.memberNo)).toEqual(['M-0001', 'M-0002']);
  });

  it('returns the whole record in camelCase', async () => {
    const [a] = (await s.request('admin', 'GET', '/api/v1/members?q=M-0001')).json<Record<string, unknown>[]>();
    expect(a).toEqual({
      id: s.seed.members.a,
      memberNo: 'M-0001',
      name: 'Zhang San',
      nameZh: '张三',
      email: 'zhang.san@example.cn',
      phone: null,
      teamId: s.seed.teams.a,
      status: 'active',
      joinedOn: '2025-03-01',
      leftOn: null,
      planId: s.seed.plan,
      planValidFrom: '2026-01-01',
      planValidTo: '2026-12-31',
      priceGroup: null,
      billTo: 'team',
      createdAt: expect.any(Number) as number,
      updatedAt: expect.any(Number) as number,
    });
  });

  it('sets a price group and personal billing, logs the change, and refuses an unknown billing choice', async () => {
    const res = await s.request('manager', 'PATCH', `/api/v1/members/${s.seed.members.a}`, { priceGroup: 'student', billTo: 'self' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ priceGroup: 'student', billTo: 'self', teamId: s.seed.teams.a });
    const changes = await s.changesAfter(0);
    const last = changes[changes.length - 1]!;
    expect(last.before).toMatchObject({ priceGroup: null, billTo: 'team' });
    expect(last.after).toMatchObject({ priceGroup: 'student', billTo: 'self' });
    expect((await s.request('manager', 'PATCH', `/api/v1/members/${s.seed.members.a}`, { billTo: 'parent' })).statusCode).toBe(400);
    expect((await s.request('manager', 'PATCH', `/api/v1/members/${s.seed.members.a}`, { priceGroup: ' student' })).statusCode).toBe(400);
    const back = await s.request('manager', 'PATCH', `/api/v1/members/${s.seed.members.a}`, { priceGroup: null, billTo: 'team' });
    expect(back.json()).toMatchObject({ priceGroup: null, billTo: 'team' });
  });

  it('refuses members (403) and strangers (401)', async () => {
    expect((await s.request('memberA', 'GET', '/api/v1/members')).statusCode).toBe(403);
    expect((await s.request(null, 'GET', '/api/v1/members')).statusCode).toBe(401);
  });

  it.each([
    ['status=active', ['M-0001', 'M-0002']],
    ['teamId=team_beta', ['M-0002']],
    ['q=zhang', ['M-0001']],
    ['q=%E6%9D%8E', ['M-0002']], // 李
    ['q=0002', ['M-0002']],
    ['q=%25', []], // a literal %, not a wildcard
    ['q=_', []],
    ["q=%27%20OR%201%3D1%20--", []], // ' OR 1=1 --
  ])('filters: %s', async (query, expected) => {
    const res = await s.request('auditor', 'GET', `/api/v1/members?${query}`);
    expect(res.statusCode).toBe(200);
    expect(res.json<{ memberNo: string }[]>().map((m) => m.memberNo).filter((n) => n.startsWith('M-000'))).toEqual(expected);
  });

  it('pages, and clamps page sizes at 200', async () => {
    const page = await s.request('admin', 'GET', '/api/v1/members?limit=1&offset=1');
    expect(page.json<{ memberNo: string }[]>().map((m) => m.memberNo)).toEqual(['M-0002']);
    const big = await s.request('admin', 'GET', '/api/v1/members?limit=201');
    expect(big.statusCode).toBe(400);
    expect(big.json<Problem>().errors?.[0]?.path).toBe('querystring/limit');
  });

  it('rejects unknown filters and statuses with the list of errors', async () => {
    const res = await s.request('admin', 'GET', '/api/v1/members?colour=red&status=gone');
    expect(res.statusCode).toBe(400);
    expect(res.json<Problem>().code).toBe('validation');
    expect(res.json<Problem>().errors?.length).toBeGreaterThanOrEqual(2);
  });
});

describe('POST /members', () => {
  it('creates a member (201), logs the change and announces a new policy version', async () => {
    const before = await s.lastChangeId();
    const res = await s.request('manager', 'POST', '/api/v1/members', {
      memberNo: 'M-1001',
      name: 'Wang Wu',
      nameZh: '王五',
      email: 'wang.wu@example.cn',
      phone: '+86 139 0000 1001',
      teamId: s.seed.teams.a,
      joinedOn: '2026-11-01',
      planId: s.seed.plan,
      planValidFrom: '2026-11-01',
      planValidTo: '2027-10-31',
    });
    expect(res.statusCode).toBe(201);
    const m = res.json<{ id: string; status: string; nameZh: string; leftOn: null }>();
    expect(m).toMatchObject({ memberNo: 'M-1001', nameZh: '王五', status: 'active', leftOn: null, teamId: s.seed.teams.a });
    expect(m.id).toMatch(/^mem_/);
    const changes = await s.changesAfter(before);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ entity: 'member', entityId: m.id, action: 'create', actor: 'user:manager', before: null, after: { memberNo: 'M-1001', nameZh: '王五' } });
    expect(s.policyVersions.at(-1)).toBe(changes[0]!.id);
    expect(changes[0]!.id).toBeGreaterThan(before);
    expect((await s.request('admin', 'GET', `/api/v1/members/${m.id}`)).json()).toEqual(m);
  });

  it('refuses a member number that is taken (409) and writes nothing', async () => {
    const before = await s.lastChangeId();
    const res = await s.request('admin', 'POST', '/api/v1/members', newMember({ memberNo: 'M-0001' }));
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.json<Problem>().detail).toMatch(/member number M-0001 is taken/);
    expect(await s.lastChangeId()).toBe(before);
  });

  it.each([
    [{ teamId: 'team_nope' }, 'body/teamId', 'there is no team team_nope'],
    [{ planId: 'plan_nope' }, 'body/planId', 'there is no plan plan_nope'],
  ])('refuses a reference to nothing (422): %j', async (over, path, message) => {
    const res = await s.request('admin', 'POST', '/api/v1/members', newMember({ memberNo: 'M-1002', ...over }));
    expect(res.statusCode).toBe(422);
    expect(res.json<Problem>().errors).toEqual([{ path, message }]);
  });

  it.each([
    [{ status: 'left' }, 'body/leftOn', /needs leftOn/],
    [{ leftOn: '2026-11-20' }, 'body/leftOn', /only for a member who left/],
    [{ status: 'left', leftOn: '2026-10-01' }, 'body/leftOn', /leftOn 2026-10-01 is before joinedOn 2026-11-01/],
    [{ planValidFrom: '2026-11-01' }, 'body/planValidFrom', /need a plan/],
    [{ planId: 'plan_standard', planValidFrom: '2026-11-01', planValidTo: '2026-10-31' }, 'body/planValidTo', /before planValidFrom/],
  ])('refuses records that do not hang together (422): %j', async (over, path, message) => {
    const res = await s.request('admin', 'POST', '/api/v1/members', newMember({ memberNo: 'M-1003', ...over }));
    expect(res.statusCode).toBe(422);
    const p = res.json<Problem>();
    expect(p.errors?.[0]?.path).toBe(path);
    expect(p.errors?.[0]?.message).toMatch(message);
    expect(p.detail).toMatch(message);
  });

  it.each([
    [{ name: undefined }, 'body'],
    [{ joinedOn: '2026-02-30' }, 'body/joinedOn'],
    [{ joinedOn: '1.11.2026' }, 'body/joinedOn'],
    [{ email: 'not-an-address' }, 'body/email'],
    [{ phone: 'call me' }, 'body/phone'],
    [{ memberNo: '=cmd|calc' }, 'body/memberNo'],
    [{ memberNo: 'M 1' }, 'body/memberNo'],
    [{ name: '  ' }, 'body/name'],
    [{ name: 'two\nlines' }, 'body/name'],
    [{ status: 'gone' }, 'body/status'],
    [{ shoeSize: 44 }, 'body'],
  ])('validates the body (400 with the errors): %j', async (over, path) => {
    const res = await s.request('admin', 'POST', '/api/v1/members', newMember({ memberNo: 'M-1004', ...over }));
    expect(res.statusCode).toBe(400);
    const p = res.json<Problem>();
    expect(p.code).toBe('validation');
    expect(p.errors?.some((e) => e.path === path)).toBe(true);
  });

  it('is for admins and managers only (403 for auditors and members)', async () => {
    for (const who of ['auditor', 'memberA'] as const) {
      const res = await s.request(who, 'POST', '/api/v1/members', newMember({ memberNo: 'M-1005' }));
      expect(res.statusCode).toBe(403);
    }
    expect((await s.request(null, 'POST', '/api/v1/members', newMember({ memberNo: 'M-1005' }))).statusCode).toBe(401);
  });

  it('has no way to delete a member', async () => {
    const res = await s.request('admin', 'DELETE', `/api/v1/members/${s.seed.members.b}`);
    expect(res.statusCode).toBe(404);
    expect(res.json<Problem>().code).toBe('no_route');
  });
});

describe('GET /members/:id', () => {
  it('lets a member read their own record', async () => {
    const res = await s.request('memberA', 'GET', `/api/v1/members/${s.seed.members.a}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: s.seed.members.a, memberNo: 'M-0001' });
  });

  it('answers a member reaching for someone else exactly as for nobody (404)', async () => {
    const other = await s.request('memberA', 'GET', `/api/v1/members/${s.seed.members.b}`);
    const nobody = await s.request('memberA', 'GET', '/api/v1/members/mem_nobody');
    expect(other.statusCode).toBe(404);
    expect(nobody.statusCode).toBe(404);
    expect(other.json<Problem>().detail).toBe(`member ${s.seed.members.b} does not exist`);
    expect(Object.keys(other.json<Problem>())).toEqual(Object.keys(nobody.json<Problem>()));
  });

  it('gives a member API token (no member of its own) nobody', async () => {
    const token = await s.tokenFor('member');
    const res = await s.app.inject({ url: `/api/v1/members/${s.seed.members.a}`, headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(404);
  });

  it('lets staff read anyone; 404 for an unknown id; 400 for a malformed one', async () => {
    expect((await s.request('auditor', 'GET', `/api/v1/members/${s.seed.members.b}`)).statusCode).toBe(200);
    expect((await s.request('auditor', 'GET', '/api/v1/members/mem_nobody')).statusCode).toBe(404);
    expect((await s.request('auditor', 'GET', '/api/v1/members/bad%20id')).statusCode).toBe(400);
  });
});

describe('PATCH /members/:id', () => {
  let id: string;
  beforeAll(async () => {
    const res = await s.request('admin', 'POST', '/api/v1/members', newMember({ memberNo: 'M-2001', teamId: s.seed.teams.b, planId: s.seed.plan, planValidFrom: '2026-11-01' }));
    id = res.json<{ id: string }>().id;
  });

  it('records a member leaving (status left + leftOn), with before and after in the change log', async () => {
    const before = await s.lastChangeId();
    const res = await s.request('manager', 'PATCH', `/api/v1/members/${id}`, { status: 'left', leftOn: '2026-11-20' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'left', leftOn: '2026-11-20', memberNo: 'M-2001' });
    const [c] = await s.changesAfter(before);
    expect(c).toMatchObject({ entity: 'member', entityId: id, action: 'update', actor: 'user:manager', before: { status: 'active', leftOn: null }, after: { status: 'left', leftOn: '2026-11-20' } });
    expect(s.policyVersions.at(-1)).toBe(c!.id);
  });

  it('clears the leaving date when the member comes back', async () => {
    const res = await s.request('admin', 'PATCH', `/api/v1/members/${id}`, { status: 'active' });
    expect(res.json()).toMatchObject({ status: 'active', leftOn: null });
  });

  it('refuses leaving without a date, and a date without leaving (422)', async () => {
    const a = await s.request('admin', 'PATCH', `/api/v1/members/${id}`, { status: 'left' });
    expect(a.statusCode).toBe(422);
    expect(a.json<Problem>().errors).toEqual([{ path: 'body/leftOn', message: 'a member who left needs leftOn, the date they left' }]);
    const b = await s.request('admin', 'PATCH', `/api/v1/members/${id}`, { leftOn: '2026-11-21' });
    expect(b.statusCode).toBe(422);
  });

  it('takes plan validity away with the plan', async () => {
    const res = await s.request('admin', 'PATCH', `/api/v1/members/${id}`, { planId: null });
    expect(res.json()).toMatchObject({ planId: null, planValidFrom: null, planValidTo: null });
  });

  it('moves a member between teams, or out of any; a team that does not exist is 422', async () => {
    expect((await s.request('admin', 'PATCH', `/api/v1/members/${id}`, { teamId: s.seed.teams.a })).json()).toMatchObject({ teamId: s.seed.teams.a });
    expect((await s.request('admin', 'PATCH', `/api/v1/members/${id}`, { teamId: null })).json()).toMatchObject({ teamId: null });
    const bad = await s.request('admin', 'PATCH', `/api/v1/members/${id}`, { teamId: 'team_nope' });
    expect(bad.statusCode).toBe(422);
    expect(bad.json<Problem>().detail).toBe('there is no team team_nope');
  });

  it('refuses a member number that is taken (409)', async () => {
    const res = await s.request('admin', 'PATCH', `/api/v1/members/${id}`, { memberNo: 'M-0002' });
    expect(res.statusCode).toBe(409);
  });

  it('keeps versions increasing over successive changes', async () => {
    const from = s.policyVersions.length;
    await s.request('admin', 'PATCH', `/api/v1/members/${id}`, { name: 'Wang Wu Jr' });
    await s.request('admin', 'PATCH', `/api/v1/members/${id}`, { nameZh: '小王五' });
    const v = s.policyVersions.slice(from);
    expect(v).toHaveLength(2);
    expect(v[1]).toBeGreaterThan(v[0]!);
  });

  it('needs something to change (400), an existing member (404), and a writer (403)', async () => {
    expect((await s.request('admin', 'PATCH', `/api/v1/members/${id}`, {})).statusCode).toBe(400);
    expect((await s.request('admin', 'PATCH', '/api/v1/members/mem_nobody', { name: 'X' })).statusCode).toBe(404);
    expect((await s.request('auditor', 'PATCH', `/api/v1/members/${id}`, { name: 'X' })).statusCode).toBe(403);
    expect((await s.request('memberA', 'PATCH', `/api/v1/members/${s.seed.members.a}`, { name: 'X' })).statusCode).toBe(403);
  });
});

describe('GET /me/member', () => {
  it('gives a member their own record', async () => {
    const res = await s.request('memberB', 'GET', '/api/v1/me/member');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: s.seed.members.b, name: 'Li Si', nameZh: '李四' });
  });

  it('is for members only', async () => {
    expect((await s.request('admin', 'GET', '/api/v1/me/member')).statusCode).toBe(403);
  });
});
