/**
 * Services no sensor measures (server/routes/services.ts): managers record
 * trainings, mentor sessions, events; staff read them with participants; a
 * member sees only the ones they attended, and no one else in them; every
 * write is in the change log; unknown references are refused by name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestServer, T0, type TestServer } from '../harness/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await makeTestServer();
});
afterAll(async () => {
  await s?.close();
});

interface ServiceJson {
  id: string;
  kind: string;
  title: string;
  participants: string[];
  externalParticipants: number;
  minutes: number;
  feeMinor: number;
  referenceMinor: number;
  teamId: string | null;
}

describe('services', () => {
  let training: ServiceJson;
  let roadshow: ServiceJson;

  it('a manager records a training and a roadshow; the change log has them', async () => {
    const since = await s.lastChangeId();
    const a = await s.request('manager', 'POST', '/api/v1/services', {
      kind: 'training',
      title: 'Laser cutter safety',
      titleZh: '激光切割机安全培训',
      startedAt: T0,
      minutes: 90,
      participants: [s.seed.members.a, s.seed.members.b],
      referenceMinor: 40_000,
    });
    expect(a.statusCode).toBe(201);
    training = a.json<ServiceJson>();
    expect(training).toMatchObject({ kind: 'training', minutes: 90, feeMinor: 0, referenceMinor: 40_000, externalParticipants: 0 });
    expect(training.participants).toEqual([s.seed.members.a, s.seed.members.b].sort());
    const b = await s.request('manager', 'POST', '/api/v1/services', { kind: 'event', title: 'Roadshow', startedAt: T0 + 86_400_000, minutes: 180, participants: [s.seed.members.b], externalParticipants: 40, teamId: s.seed.teams.b, feeMinor: 0, referenceMinor: 500_000 });
    expect(b.statusCode).toBe(201);
    roadshow = b.json<ServiceJson>();
    const changes = await s.changesAfter(since);
    expect(changes.map((c) => [c.entity, c.action, c.entityId])).toEqual([
      ['service', 'create', training.id],
      ['service', 'create', roadshow.id],
    ]);
  });

  it('staff list by period and kind, with participants', async () => {
    const all = (await s.request('auditor', 'GET', `/api/v1/services?from=${T0}&to=${T0 + 7 * 86_400_000}`)).json<ServiceJson[]>();
    expect(all.map((x) => x.id)).toEqual([training.id, roadshow.id]);
    const events = (await s.request('admin', 'GET', '/api/v1/services?kind=event')).json<ServiceJson[]>();
    expect(events.map((x) => [x.id, x.externalParticipants, x.participants])).toEqual([[roadshow.id, 40, [s.seed.members.b]]]);
    const ofA = (await s.request('manager', 'GET', `/api/v1/services?memberId=${s.seed.members.a}`)).json<ServiceJson[]>();
    expect(ofA.map((x) => x.id)).toEqual([training.id]);
  });

  it('a member sees only what they attended, with themselves as the only participant shown; another’s is 404', async () => {
    const mine = (await s.request('memberA', 'GET', '/api/v1/services')).json<ServiceJson[]>();
    expect(mine.map((x) => [x.id, x.participants])).toEqual([[training.id, [s.seed.members.a]]]);
    // Asking for someone else's services changes nothing: still only their own.
    const spoof = (await s.request('memberA', 'GET', `/api/v1/services?memberId=${s.seed.members.b}`)).json<ServiceJson[]>();
    expect(spoof.map((x) => x.id)).toEqual([training.id]);
    expect((await s.request('memberA', 'GET', `/api/v1/services/${roadshow.id}`)).statusCode).toBe(404);
    expect((await s.request('memberA', 'GET', `/api/v1/services/${training.id}`)).json<ServiceJson>().participants).toEqual([s.seed.members.a]);
    expect((await s.request('memberA', 'POST', '/api/v1/services', { kind: 'training', title: 'x', startedAt: T0, minutes: 10 })).statusCode).toBe(403);
  });

  it('refuses unknown members, teams and trainers by name, and writes nothing', async () => {
    const since = await s.lastChangeId();
    const res = await s.request('manager', 'POST', '/api/v1/services', { kind: 'mentoring', title: 'Pitch clinic', startedAt: T0, minutes: 60, participants: [s.seed.members.a, 'mem_nobody'], teamId: 'team_nobody', trainerId: 'trn_nobody' });
    expect(res.statusCode).toBe(422);
    expect(res.json<{ errors: { path: string; message: string }[] }>().errors).toEqual([
      { path: 'body/participants/1', message: 'there is no member mem_nobody' },
      { path: 'body/teamId', message: 'there is no team team_nobody' },
      { path: 'body/trainerId', message: 'there is no trainer trn_nobody' },
    ]);
    expect(await s.changesAfter(since)).toEqual([]);
    expect((await s.request('manager', 'POST', '/api/v1/services', { kind: 'party', title: 'x', startedAt: T0, minutes: 10 })).statusCode).toBe(400);
    expect((await s.request('manager', 'POST', '/api/v1/services', { kind: 'training', title: 'x', startedAt: T0, minutes: 0 })).statusCode).toBe(400);
  });

  it('a correction replaces the participants and is logged with before and after', async () => {
    const since = await s.lastChangeId();
    const res = await s.request('manager', 'PATCH', `/api/v1/services/${training.id}`, { minutes: 120, participants: [s.seed.members.a] });
    expect(res.statusCode).toBe(200);
    expect(res.json<ServiceJson>()).toMatchObject({ minutes: 120, participants: [s.seed.members.a] });
    const [change] = await s.changesAfter(since);
    expect(change).toMatchObject({ entity: 'service', action: 'update', before: { minutes: 90 }, after: { minutes: 120 } });
    expect((await s.request('memberB', 'GET', '/api/v1/services')).json<ServiceJson[]>().map((x) => x.id)).toEqual([roadshow.id]);
    expect((await s.request('manager', 'PATCH', '/api/v1/services/svc_nothing', { minutes: 5 })).statusCode).toBe(404);
  });
});
