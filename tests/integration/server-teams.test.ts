/** Teams over HTTP: registering, exiting (date and reason, and only then), reading (own team only for members), members of a team. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestServer, type TestServer } from '../harness/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await makeTestServer();
});
afterAll(async () => {
  await s.close();
});

type Problem = { code: string; detail: string; errors?: { path: string; message: string }[] };
const newTeam = (over: Record<string, unknown> = {}) => ({ name: 'Gamma Drones', registeredOn: '2026-11-01', ...over });

describe('GET /teams', () => {
  it.each(['admin', 'manager', 'auditor'] as const)('lists teams by name for %s', async (who) => {
    const res = await s.request(who, 'GET', '/api/v1/teams');
    expect(res.statusCode).toBe(200);
    expect(res.json<{ name: string }[]>().slice(0, 2).map((t) => t.name)).toEqual(['Alpha Robotics', 'Beta Bio']);
  });

  it('filters by status and by a search text (Chinese too)', async () => {
    expect((await s.request('admin', 'GET', '/api/v1/teams?q=%E8%B4%9D%E5%A1%94')).json<{ id: string }[]>().map((t) => t.id)).toEqual([s.seed.teams.b]); // 贝塔
    expect((await s.request('admin', 'GET', '/api/v1/teams?status=exited')).json()).toEqual([]);
    expect((await s.request('admin', 'GET', '/api/v1/teams?status=dissolved')).statusCode).toBe(400);
  });

  it('is for staff (403 for members)', async () => {
    expect((await s.request('memberA', 'GET', '/api/v1/teams')).statusCode).toBe(403);
  });
});

describe('POST /teams', () => {
  it('registers a team, incubating unless told otherwise, with a change-log entry and a policy version', async () => {
    const before = await s.lastChangeId();
    const res = await s.request('manager', 'POST', '/api/v1/teams', newTeam({ nameZh: '伽马无人机', foundedOn: '2027-01-15' }));
    expect(res.statusCode).toBe(201);
    const t = res.json<{ id: string }>();
    expect(t).toMatchObject({ name: 'Gamma Drones', nameZh: '伽马无人机', status: 'incubating', foundedOn: '2027-01-15', exitOn: null, exitReason: null });
    const [c] = await s.changesAfter(before);
    expect(c).toMatchObject({ entity: 'team', entityId: t.id, action: 'create', before: null, after: { name: 'Gamma Drones' } });
    expect(s.policyVersions.at(-1)).toBe(c!.id);
  });

  it('registers an exited team with its exit date and reason', async () => {
    const res = await s.request('admin', 'POST', '/api/v1/teams', newTeam({ name: 'Delta Foods', registeredOn: '2024-01-01', status: 'exited', exitOn: '2025-12-31', exitReason: 'moved to Shenzhen\n迁往深圳' }));
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ status: 'exited', exitOn: '2025-12-31', exitReason: 'moved to Shenzhen\n迁往深圳' });
  });

  it.each([
    [{ status: 'exited' }, ['body/exitOn', 'body/exitReason']],
    [{ status: 'exited', exitOn: '2026-12-01' }, ['body/exitReason']],
    [{ status: 'exited', exitReason: 'closed' }, ['body/exitOn']],
    [{ exitOn: '2026-12-01' }, ['body/exitOn']],
    [{ status: 'graduated', exitReason: 'closed' }, ['body/exitReason']],
    [{ status: 'exited', exitOn: '2026-10-01', exitReason: 'closed' }, ['body/exitOn']],
  ])('exit date and reason: required when exited, and only then (422): %j', async (over, paths) => {
    const res = await s.request('admin', 'POST', '/api/v1/teams', newTeam({ name: 'Epsilon', ...over }));
    expect(res.statusCode).toBe(422);
    expect(res.json<Problem>().errors?.map((e) => e.path)).toEqual(paths);
  });

  it('says why', async () => {
    const res = await s.request('admin', 'POST', '/api/v1/teams', newTeam({ name: 'Epsilon', status: 'exited' }));
    expect(res.json<Problem>().detail).toBe('an exited team needs exitOn, the date it left; an exited team needs exitReason, why it left');
  });

  it('refuses a name that is taken, whatever its case (409)', async () => {
    const res = await s.request('admin', 'POST', '/api/v1/teams', newTeam({ name: 'alpha robotics' }));
    expect(res.statusCode).toBe(409);
    expect(res.json<Problem>().detail).toMatch(/already a team called Alpha Robotics/);
  });

  it.each([
    [{ registeredOn: undefined }, 'body'],
    [{ registeredOn: '2026-13-01' }, 'body/registeredOn'],
    [{ status: 'dissolved' }, 'body/status'],
    [{ name: '' }, 'body/name'],
    [{ website: 'x' }, 'body'],
  ])('validates the body (400): %j', async (over, path) => {
    const res = await s.request('admin', 'POST', '/api/v1/teams', newTeam({ name: 'Zeta', ...over }));
    expect(res.statusCode).toBe(400);
    expect(res.json<Problem>().errors?.some((e) => e.path === path)).toBe(true);
  });

  it('is for admins and managers (403 for auditors and members)', async () => {
    expect((await s.request('auditor', 'POST', '/api/v1/teams', newTeam({ name: 'Eta' }))).statusCode).toBe(403);
    expect((await s.request('memberA', 'POST', '/api/v1/teams', newTeam({ name: 'Eta' }))).statusCode).toBe(403);
  });
});

describe('GET /teams/:id and /teams/:id/members', () => {
  it('lets a member read their own team and its members (names, not contact details)', async () => {
    const team = await s.request('memberA', 'GET', `/api/v1/teams/${s.seed.teams.a}`);
    expect(team.statusCode).toBe(200);
    expect(team.json()).toMatchObject({ name: 'Alpha Robotics', nameZh: '阿尔法机器人' });
    const members = await s.request('memberA', 'GET', `/api/v1/teams/${s.seed.teams.a}/members`);
    expect(members.statusCode).toBe(200);
    const list = members.json<Record<string, unknown>[]>();
    expect(list.map((m) => m.memberNo)).toContain('M-0001');
    expect(list[0]).not.toHaveProperty('email');
    expect(list[0]).not.toHaveProperty('phone');
  });

  it('answers a member reaching for another team exactly as for no team (404)', async () => {
    for (const url of [`/api/v1/teams/${s.seed.teams.b}`, `/api/v1/teams/${s.seed.teams.b}/members`]) {
      const res = await s.request('memberA', 'GET', url);
      expect(res.statusCode).toBe(404);
      expect(res.json<Problem>().detail).toBe(`team ${s.seed.teams.b} does not exist`);
    }
    expect((await s.request('memberA', 'GET', '/api/v1/teams/team_nope')).statusCode).toBe(404);
  });

  it('lets staff read any team; 404 for an unknown one', async () => {
    expect((await s.request('auditor', 'GET', `/api/v1/teams/${s.seed.teams.b}`)).statusCode).toBe(200);
    expect((await s.request('auditor', 'GET', `/api/v1/teams/${s.seed.teams.b}/members`)).json<{ memberNo: string }[]>().map((m) => m.memberNo)).toEqual(['M-0002']);
    expect((await s.request('auditor', 'GET', '/api/v1/teams/team_nope')).statusCode).toBe(404);
    expect((await s.request('auditor', 'GET', '/api/v1/teams/team_nope/members')).statusCode).toBe(404);
  });
});

describe('PATCH /teams/:id', () => {
  let id: string;
  beforeAll(async () => {
    id = (await s.request('admin', 'POST', '/api/v1/teams', newTeam({ name: 'Theta Labs' }))).json<{ id: string }>().id;
  });

  it('records a team exiting, with before and after', async () => {
    const before = await s.lastChangeId();
    const res = await s.request('manager', 'PATCH', `/api/v1/teams/${id}`, { status: 'exited', exitOn: '2026-11-30', exitReason: 'funding ended' });
    expect(res.statusCode).toBe(200);
    const [c] = await s.changesAfter(before);
    expect(c).toMatchObject({ action: 'update', entity: 'team', before: { status: 'incubating', exitOn: null }, after: { status: 'exited', exitOn: '2026-11-30', exitReason: 'funding ended' } });
    expect(s.policyVersions.at(-1)).toBe(c!.id);
  });

  it('clears the exit when the team is taken back in; refuses an exit without its reason', async () => {
    expect((await s.request('admin', 'PATCH', `/api/v1/teams/${id}`, { status: 'incubating' })).json()).toMatchObject({ status: 'incubating', exitOn: null, exitReason: null });
    const res = await s.request('admin', 'PATCH', `/api/v1/teams/${id}`, { status: 'exited', exitOn: '2026-12-01' });
    expect(res.statusCode).toBe(422);
    expect(res.json<Problem>().errors).toEqual([{ path: 'body/exitReason', message: 'an exited team needs exitReason, why it left' }]);
  });

  it('renames, but not onto another team’s name (409)', async () => {
    expect((await s.request('admin', 'PATCH', `/api/v1/teams/${id}`, { name: 'Theta Laboratories' })).json()).toMatchObject({ name: 'Theta Laboratories' });
    expect((await s.request('admin', 'PATCH', `/api/v1/teams/${id}`, { name: 'THETA LABORATORIES' })).statusCode).toBe(200);
    expect((await s.request('admin', 'PATCH', `/api/v1/teams/${id}`, { name: 'Beta Bio' })).statusCode).toBe(409);
  });

  it('needs a change (400), a team (404) and a writer (403)', async () => {
    expect((await s.request('admin', 'PATCH', `/api/v1/teams/${id}`, {})).statusCode).toBe(400);
    expect((await s.request('admin', 'PATCH', '/api/v1/teams/team_nope', { name: 'X' })).statusCode).toBe(404);
    expect((await s.request('auditor', 'PATCH', `/api/v1/teams/${id}`, { name: 'X' })).statusCode).toBe(403);
    expect((await s.request('memberA', 'PATCH', `/api/v1/teams/${s.seed.teams.a}`, { name: 'X' })).statusCode).toBe(403);
  });
});

describe('GET /me/team', () => {
  it('gives a member their team', async () => {
    const res = await s.request('memberB', 'GET', '/api/v1/me/team');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: s.seed.teams.b, name: 'Beta Bio' });
  });

  it('is 404 for a member in no team, 403 for staff', async () => {
    await s.db.updateTable('members').set({ team_id: null }).where('id', '=', s.seed.members.b).execute();
    try {
      const res = await s.request('memberB', 'GET', '/api/v1/me/team');
      expect(res.statusCode).toBe(404);
      expect(res.json<Problem>().detail).toBe('your team does not exist');
    } finally {
      await s.db.updateTable('members').set({ team_id: s.seed.teams.b }).where('id', '=', s.seed.members.b).execute();
    }
    expect((await s.request('admin', 'GET', '/api/v1/me/team')).statusCode).toBe(403);
  });
});

describe('graduation date and investment raised (what evaluation counts)', () => {
  it('a graduated team may carry its graduation date, only it, and not before it registered; it goes when the team is taken back', async () => {
    const t = (await s.request('manager', 'POST', '/api/v1/teams', newTeam({ name: 'Theta Labs', registeredOn: '2025-01-01' }))).json<{ id: string }>();
    const early = await s.request('manager', 'PATCH', `/api/v1/teams/${t.id}`, { graduatedOn: '2026-06-30' });
    expect(early.statusCode).toBe(422);
    expect(early.json<Problem>().errors?.map((e) => e.path)).toEqual(['body/graduatedOn']);
    expect((await s.request('manager', 'PATCH', `/api/v1/teams/${t.id}`, { status: 'graduated', graduatedOn: '2024-12-31' })).statusCode).toBe(422);
    const done = await s.request('manager', 'PATCH', `/api/v1/teams/${t.id}`, { status: 'graduated', graduatedOn: '2026-06-30' });
    expect(done.json()).toMatchObject({ status: 'graduated', graduatedOn: '2026-06-30' });
    expect((await s.request('manager', 'PATCH', `/api/v1/teams/${t.id}`, { nameZh: '西塔实验室' })).json()).toMatchObject({ graduatedOn: '2026-06-30' });
    expect((await s.request('manager', 'PATCH', `/api/v1/teams/${t.id}`, { status: 'incubating' })).json()).toMatchObject({ status: 'incubating', graduatedOn: null });
  });

  it('records investment a team raised (disclosed or not), lists it for staff and the team, removes a mistake, logs each change', async () => {
    const team = s.seed.teams.a;
    const before = await s.lastChangeId();
    const angel = await s.request('manager', 'POST', `/api/v1/teams/${team}/investments`, { on: '2026-09-15', amountMinor: 200_000_000, source: 'social', investor: '星火天使基金', round: 'angel' });
    expect(angel.statusCode).toBe(201);
    expect(angel.json()).toMatchObject({ teamId: team, on: '2026-09-15', amountMinor: 200_000_000, currency: 'CNY', source: 'social', round: 'angel' });
    const own = await s.request('admin', 'POST', `/api/v1/teams/${team}/investments`, { on: '2026-03-01', source: 'own' });
    expect(own.json()).toMatchObject({ amountMinor: null, source: 'own' });
    expect((await s.request('manager', 'POST', `/api/v1/teams/${team}/investments`, { on: '2026-03-01', amountMinor: 0 })).statusCode).toBe(400);
    expect((await s.request('manager', 'POST', `/api/v1/teams/${team}/investments`, { on: '2026-02-30' })).statusCode).toBe(400);
    expect((await s.request('manager', 'POST', '/api/v1/teams/team_nobody/investments', { on: '2026-03-01' })).statusCode).toBe(404);
    expect((await s.request('memberA', 'GET', `/api/v1/teams/${team}/investments`)).json<{ on: string }[]>().map((i) => i.on)).toEqual(['2026-03-01', '2026-09-15']);
    expect((await s.request('memberB', 'GET', `/api/v1/teams/${team}/investments`)).statusCode).toBe(404);
    expect((await s.request('memberA', 'POST', `/api/v1/teams/${team}/investments`, { on: '2026-03-01' })).statusCode).toBe(403);
    const ownId = own.json<{ id: string }>().id;
    expect((await s.request('manager', 'DELETE', `/api/v1/teams/${s.seed.teams.b}/investments/${ownId}`)).statusCode).toBe(404);
    expect((await s.request('manager', 'DELETE', `/api/v1/teams/${team}/investments/${ownId}`)).statusCode).toBe(204);
    expect((await s.request('auditor', 'GET', `/api/v1/teams/${team}/investments`)).json<unknown[]>()).toHaveLength(1);
    expect((await s.changesAfter(before)).map((c) => [c.entity, c.action])).toEqual([
      ['investment', 'create'],
      ['investment', 'create'],
      ['investment', 'delete'],
    ]);
  });
});
