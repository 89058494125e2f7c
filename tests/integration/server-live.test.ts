/**
 * GET /api/v1/live and /api/v1/live/stream (server/routes/live.ts) over a
 * test live source: who sees what (staff every member id, a member only
 * their own), the Server-Sent Events stream (snapshot, changes, heartbeats,
 * cleanup when the client goes away), and 503 on a server without a gateway.
 */
import { get, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyLiveChange, type LiveChange, type LiveState } from '../../core/usage/live.js';
import { LIVE_HEARTBEAT_MS } from '../../server/routes/live.js';
import { exampleLive, TestLiveSource } from '../harness/live.js';
import { makeTestServer, T0, type TestServer } from '../harness/server.js';

const servers: TestServer[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const s of servers.splice(0)) await s.close();
});

async function server(live?: TestLiveSource): Promise<TestServer> {
  const s = await makeTestServer(live ? { live } : {});
  servers.push(s);
  return s;
}

/** Two members in the electronics lab, each running a machine there. */
function busyLab(a: string, b: string, at = T0): LiveState {
  return exampleLive(
    at,
    {
      presence: { elab: { [a]: T0 - 60_000, [b]: T0 - 30_000 } },
      machines: {
        'reflow-1': { start: T0 - 20_000, running: true, idleSince: null, lastTs: T0, memberId: a, accessSessionId: 'ses-a' },
        'solder-1': { start: T0 - 10_000, running: true, idleSince: null, lastTs: T0, memberId: b, accessSessionId: 'ses-b' },
      },
    },
    ['pm-reflow-1', 'pm-solder-1', 'dc-elab'],
  );
}

function events(body: string): { event: string; data: unknown }[] {
  return body
    .split('\n\n')
    .filter((b) => b.includes('event: '))
    .map((b) => ({ event: /^event: (.*)$/m.exec(b)![1]!, data: JSON.parse(/^data: (.*)$/m.exec(b)![1]!) as unknown }));
}

describe('GET /api/v1/live', () => {
  it('gives staff the whole state, member ids included', async () => {
    const live = new TestLiveSource(exampleLive(T0));
    const s = await server(live);
    const state = busyLab(s.seed.members.a, s.seed.members.b);
    live.set(state);
    for (const who of ['admin', 'manager', 'auditor'] as const) {
      const res = await s.request(who, 'GET', '/api/v1/live');
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('private, no-cache');
      expect(res.json()).toEqual(JSON.parse(JSON.stringify(state)));
    }
  });

  it('gives a member every count and state, and their own member id only', async () => {
    const live = new TestLiveSource(exampleLive(T0));
    const s = await server(live);
    const { a, b } = s.seed.members;
    live.set(busyLab(a, b));
    const res = await s.request('memberA', 'GET', '/api/v1/live');
    expect(res.statusCode).toBe(200);
    const body = res.json<LiveState>();
    expect(body.presence.elab).toEqual([{ memberId: a, since: T0 - 60_000 }]);
    expect(body.spaces.elab).toMatchObject({ people: 2, machinesRunning: 2 });
    expect(body.machines['reflow-1']).toMatchObject({ state: 'running', memberId: a, sessionId: 'ses-a' });
    expect(body.machines['solder-1']).toMatchObject({ state: 'running', memberId: null, sessionId: null });
    expect(res.body).not.toContain(b);
    expect(res.body).not.toContain('ses-b');
  });

  it('refuses anonymous callers (401) and gateway tokens (403)', async () => {
    const s = await server(new TestLiveSource(exampleLive(T0)));
    expect((await s.request(null, 'GET', '/api/v1/live')).statusCode).toBe(401);
    const gw = await s.app.inject({ method: 'GET', url: '/api/v1/live', headers: { authorization: `Bearer ${await s.tokenFor('gateway')}` } });
    expect(gw.statusCode).toBe(403);
    expect((await s.request(null, 'GET', '/api/v1/live/stream')).statusCode).toBe(401);
  });

  it('answers 503 live_unavailable on a server without a gateway in its process', async () => {
    const s = await server();
    for (const url of ['/api/v1/live', '/api/v1/live/stream']) {
      const res = await s.request('admin', 'GET', url);
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ code: 'live_unavailable', status: 503, detail: expect.stringContaining('facility start') as string });
    }
  });
});

describe('GET /api/v1/live/stream', () => {
  it('sends the snapshot, then each change, and a heartbeat comment every 15 s', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const live = new TestLiveSource(exampleLive(T0));
    const s = await server(live);
    const cookie = await s.login('admin');
    const response = s.app.inject({ method: 'GET', url: '/api/v1/live/stream', headers: { cookie } });
    await vi.waitFor(() => expect(live.subscribers).toBe(1));
    const next = exampleLive(T0 + 1000, { desks: { 'st-01': { start: T0 + 500, vacatedAt: null } } }, ['occ-st-01']);
    const change = live.set(next)!;
    expect(live.set(exampleLive(T0 + 2000, { desks: { 'st-01': { start: T0 + 500, vacatedAt: null } } }, ['occ-st-01']))).toBeNull();
    vi.advanceTimersByTime(LIVE_HEARTBEAT_MS);
    await s.app.close(); // ends open streams
    const res = await response;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache, no-transform');
    expect(res.body.startsWith('retry: 3000\n\n')).toBe(true);
    expect(res.body).toContain('\n\n: heartbeat\n\n');
    const got = events(res.body);
    expect(got.map((e) => e.event)).toEqual(['snapshot', 'change']);
    expect(got[1]!.data).toEqual(JSON.parse(JSON.stringify(change)));
    expect(applyLiveChange(got[0]!.data as LiveState, got[1]!.data as LiveChange)).toEqual(JSON.parse(JSON.stringify(next)));
    expect(live.subscribers).toBe(0);
  });

  it('strips other members’ ids from what a member is streamed', async () => {
    const live = new TestLiveSource(exampleLive(T0));
    const s = await server(live);
    const { a, b } = s.seed.members;
    const cookie = await s.login('memberA');
    const response = s.app.inject({ method: 'GET', url: '/api/v1/live/stream', headers: { cookie } });
    await vi.waitFor(() => expect(live.subscribers).toBe(1));
    live.set(busyLab(a, b, T0 + 1000));
    await s.app.close();
    const body = (await response).body;
    const got = events(body);
    expect(got.map((e) => e.event)).toEqual(['snapshot', 'change']);
    expect((got[1]!.data as LiveChange).presence?.elab).toEqual([{ memberId: a, since: T0 - 60_000 }]);
    expect(body).not.toContain(b);
    expect(body).not.toContain('ses-b');
  });

  it('stops listening when the client goes away', async () => {
    const live = new TestLiveSource(exampleLive(T0));
    const s = await server(live);
    const address = await s.app.listen({ host: '127.0.0.1', port: 0 });
    const cookie = await s.login('auditor');
    // node:http rather than fetch: undici opens a spare connection after an abort, which would keep the server from closing.
    const req = get(`${address}/api/v1/live/stream`, { headers: { cookie } });
    const res = await new Promise<IncomingMessage>((resolve) => req.once('response', resolve));
    expect(res.statusCode).toBe(200);
    const first = await new Promise<string>((resolve) => res.once('data', (d: Buffer) => resolve(d.toString())));
    expect(first).toContain('retry: 3000');
    expect(live.subscribers).toBe(1);
    req.destroy();
    await vi.waitFor(() => expect(live.subscribers).toBe(0), { timeout: 5000 });
  });
});
