/** Membership plans through the API: shapes, opening-hour rules, roles, the change log and policy versions. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestServer, type TestServer, type Who } from '../harness/server.js';

let s: TestServer;

const fablabPlan = {
  name: 'Fab lab',
  nameZh: '数字制造',
  spaces: ['cowork', 'fablab'],
  hours: [
    { days: [1, 2, 3, 4, 5], from: '08:00', to: '22:00' },
    { days: [6], from: '10:00', to: '24:00' },
  ],
  quotas: { 'laser-cutter': 10, '3d-printer': 20.5 },
};

beforeAll(async () => {
  s = await makeTestServer();
});
afterAll(async () => {
  await s.close();
});

describe('creating and reading plans', () => {
  it('creates a plan (manager), logs the change and announces a new policy version', async () => {
    const last = await s.lastChangeId();
    const res = await s.request('manager', 'POST', '/api/v1/plans', fablabPlan);
    expect(res.statusCode).toBe(201);
    const plan = res.json<{ id: string }>();
    expect(plan).toEqual({ id: expect.stringMatching(/^pln_/) as unknown, ...fablabPlan, active: true, createdAt: s.clock.now(), updatedAt: s.clock.now() });
    const changes = await s.changesAfter(last);
    expect(changes).toEqual([expect.objectContaining({ entity: 'plan', entityId: plan.id, action: 'create', actor: 'user:manager', before: null, after: res.json<unknown>() })]);
    expect(s.policyVersions.at(-1)).toBe(changes[0]!.id);

    expect((await s.request('memberA', 'GET', `/api/v1/plans/${plan.id}`)).json()).toEqual(res.json());
  });

  it('lets every logged-in role read plans, members included; nobody anonymous', async () => {
    for (const who of ['admin', 'manager', 'auditor', 'memberA'] as Who[]) {
      const res = await s.request(who, 'GET', '/api/v1/plans');
      expect(res.statusCode, who).toBe(200);
      expect(res.json<{ name: string }[]>().map((p) => p.name)).toContain('Standard');
    }
    const gw = await s.app.inject({ url: '/api/v1/plans', headers: { authorization: `Bearer ${await s.tokenFor('gateway')}` } });
    expect(gw.statusCode).toBe(200);
    expect((await s.request(null, 'GET', '/api/v1/plans')).statusCode).toBe(401);
    expect((await s.request('memberA', 'GET', '/api/v1/plans/pln_nope')).statusCode).toBe(404);
  });

  it('refuses a period past midnight and spells out the split', async () => {
    const res = await s.request('admin', 'POST', '/api/v1/plans', { ...fablabPlan, name: 'Night owls', hours: [{ days: [5, 7], from: '22:00', to: '02:00' }] });
    expect(res.statusCode).toBe(422);
    const body = res.json<{ code: string; errors: { path: string; message: string }[] }>();
    expect(body.code).toBe('unprocessable');
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]!.path).toBe('body/hours/0');
    expect(body.errors[0]!.message).toContain('runs past midnight');
    expect(body.errors[0]!.message).toContain('[{ "days": [5,7], "from": "22:00", "to": "24:00" }, { "days": [6,1], "from": "00:00", "to": "02:00" }]');

    const split = await s.request('admin', 'POST', '/api/v1/plans', {
      ...fablabPlan,
      name: 'Night owls',
      hours: [
        { days: [5, 7], from: '22:00', to: '24:00' },
        { days: [6, 1], from: '00:00', to: '02:00' },
      ],
    });
    expect(split.statusCode).toBe(201);
  });

  it.each([
    ['an empty period', { hours: [{ days: [1], from: '09:00', to: '09:00' }] }, 422],
    ['a start of 24:00', { hours: [{ days: [1], from: '24:00', to: '24:00' }] }, 400],
    ['a time that is not HH:MM', { hours: [{ days: [1], from: '9:00', to: '17:00' }] }, 400],
    ['minutes past 59', { hours: [{ days: [1], from: '09:60', to: '17:00' }] }, 400],
    ['weekday 0', { hours: [{ days: [0], from: '09:00', to: '17:00' }] }, 400],
    ['weekday 8', { hours: [{ days: [8], from: '09:00', to: '17:00' }] }, 400],
    ['a weekday twice', { hours: [{ days: [1, 1], from: '09:00', to: '17:00' }] }, 400],
    ['no weekdays', { hours: [{ days: [], from: '09:00', to: '17:00' }] }, 400],
    ['a space id with a space', { spaces: ['fab lab'] }, 400],
    ['a space twice', { spaces: ['fablab', 'fablab'] }, 422],
    ['a negative quota', { quotas: { cnc: -1 } }, 400],
    ['a quota beyond a month', { quotas: { cnc: 745 } }, 400],
    ['a quota key that is not a class', { quotas: { 'laser cutter!': 1 } }, 400],
    ['an unknown field', { colour: 'red' }, 400],
    ['no name', { name: '' }, 400],
  ])('refuses %s', async (_what, change, status) => {
    const before = await s.lastChangeId();
    const res = await s.request('manager', 'POST', '/api/v1/plans', { ...fablabPlan, name: 'Refused', ...change });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(await s.lastChangeId()).toBe(before);
  });

  it('refuses a second plan with the same name (409)', async () => {
    const res = await s.request('manager', 'POST', '/api/v1/plans', { ...fablabPlan });
    expect(res.statusCode).toBe(409);
  });

  it('keeps members and auditors out of writes (403), whatever the route', async () => {
    const plan = (await s.request('admin', 'GET', '/api/v1/plans')).json<{ id: string }[]>()[0]!;
    for (const who of ['memberA', 'auditor'] as Who[]) {
      expect((await s.request(who, 'POST', '/api/v1/plans', { ...fablabPlan, name: `By ${who}` })).statusCode, who).toBe(403);
      expect((await s.request(who, 'PATCH', `/api/v1/plans/${plan.id}`, { active: false })).statusCode, who).toBe(403);
    }
    const gw = await s.app.inject({ method: 'POST', url: '/api/v1/plans', headers: { authorization: `Bearer ${await s.tokenFor('gateway')}` }, payload: { ...fablabPlan, name: 'By a gateway' } });
    expect(gw.statusCode).toBe(403);
  });
});

describe('changing plans', () => {
  it('changes hours and quotas, logging before and after', async () => {
    const created = (await s.request('admin', 'POST', '/api/v1/plans', { ...fablabPlan, name: 'Evening' })).json<{ id: string; hours: unknown }>();
    const last = await s.lastChangeId();
    s.clock.advance(60_000);
    const res = await s.request('manager', 'PATCH', `/api/v1/plans/${created.id}`, { hours: [{ days: [1, 2, 3], from: '18:00', to: '23:30' }], quotas: {}, nameZh: null });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: created.id, name: 'Evening', nameZh: null, hours: [{ days: [1, 2, 3], from: '18:00', to: '23:30' }], quotas: {}, updatedAt: s.clock.now() });
    const [change] = await s.changesAfter(last);
    expect(change).toMatchObject({ entity: 'plan', entityId: created.id, action: 'update', before: { hours: created.hours, nameZh: '数字制造' }, after: { quotas: {}, nameZh: null } });
    expect(s.policyVersions.at(-1)).toBe(change!.id);
  });

  it('deactivates instead of deleting; the active filter follows', async () => {
    const created = (await s.request('admin', 'POST', '/api/v1/plans', { ...fablabPlan, name: 'Summer 2026' })).json<{ id: string }>();
    const res = await s.request('manager', 'PATCH', `/api/v1/plans/${created.id}`, { active: false });
    expect(res.json()).toMatchObject({ active: false });
    const active = (await s.request('memberA', 'GET', '/api/v1/plans?active=true&limit=200')).json<{ id: string }[]>();
    const inactive = (await s.request('memberA', 'GET', '/api/v1/plans?active=false')).json<{ id: string }[]>();
    expect(active.map((p) => p.id)).not.toContain(created.id);
    expect(inactive.map((p) => p.id)).toEqual([created.id]);
    expect((await s.request('admin', 'DELETE', `/api/v1/plans/${created.id}`)).statusCode).toBe(404);
    expect((await s.request('admin', 'GET', `/api/v1/plans/${created.id}`)).statusCode).toBe(200);
  });

  it('refuses an empty change, a period past midnight, a taken name and an unknown plan', async () => {
    const [a, b] = (await s.request('admin', 'GET', '/api/v1/plans?limit=2')).json<{ id: string; name: string }[]>();
    expect((await s.request('manager', 'PATCH', `/api/v1/plans/${a!.id}`, {})).statusCode).toBe(400);
    expect((await s.request('manager', 'PATCH', `/api/v1/plans/${a!.id}`, { hours: [{ days: [1], from: '20:00', to: '01:00' }] })).statusCode).toBe(422);
    expect((await s.request('manager', 'PATCH', `/api/v1/plans/${a!.id}`, { name: b!.name })).statusCode).toBe(409);
    expect((await s.request('manager', 'PATCH', `/api/v1/plans/${a!.id}`, { name: a!.name })).statusCode).toBe(200);
    expect((await s.request('manager', 'PATCH', '/api/v1/plans/pln_missing', { active: false })).statusCode).toBe(404);
  });
});
