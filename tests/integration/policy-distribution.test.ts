/**
 * Policy distribution end to end: a real HTTP server (buildApp listening on a
 * free port) and gateway PolicyClients for two sites. Both receive the
 * snapshot; a badge blocked through the API reaches both over Server-Sent
 * Events within a second; the server shows which version each holds; a client
 * restarted with the server gone decides from its file; a corrupt file or a
 * bad response never replaces a good snapshot.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PolicyClient, type PolicyClientOptions, type PolicySnapshot, type PolicyState } from '../../gateway/policy/policy-client.js';
import { makeTestServer, type TestServer } from '../harness/server.js';

const clock = { now: () => Date.now() };
const quiet = pino({ level: 'silent' });
const urlOf = (input: string | URL | Request): string => (typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { logger, lines };
}

interface GatewayJson {
  id: string;
  siteId: string;
  name: string;
  lastSeenAt: number | null;
  policyVersionSeen: number | null;
  upToDate: boolean;
  listening: boolean;
}

let s: TestServer;
let base: string;
let dir: string;
const tokens: Record<string, string> = {};
const clients: PolicyClient[] = [];
let a: PolicyClient;
let b: PolicyClient;
const changesSeenByA: PolicyState[] = [];

const client = (over: Partial<PolicyClientOptions> & Pick<PolicyClientOptions, 'token' | 'path'>): PolicyClient => {
  // A poll interval far beyond the test: whatever arrives, arrives over the event stream.
  const c = new PolicyClient({ serverUrl: base, clock, logger: quiet, pollMs: 600_000, reconnect: { initialMs: 50, maxMs: 500 }, ...over });
  clients.push(c);
  return c;
};
const gateways = async (): Promise<{ policyVersion: number; gateways: GatewayJson[] }> => (await s.request('manager', 'GET', '/api/v1/gateways')).json();
const http = (path: string, token: string, headers: Record<string, string> = {}) => fetch(`${base}/api/v1${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'of-policy-'));
  s = await makeTestServer();
  const address = await s.app.listen({ host: '127.0.0.1', port: 0 });
  base = address;
  for (const site of ['site-a', 'site-b']) {
    const res = await s.request('admin', 'POST', '/api/v1/gateways', { siteId: site, name: `Gateway ${site}` });
    expect(res.statusCode).toBe(201);
    const body = res.json<{ token: string; gateway: GatewayJson }>();
    expect(body.gateway).toMatchObject({ siteId: site, lastSeenAt: null, policyVersionSeen: null, upToDate: false, listening: false });
    tokens[site] = body.token;
  }
  // Some policy history, so the version is not 0.
  await s.request('manager', 'PATCH', `/api/v1/plans/${s.seed.plan}`, { spaces: ['cowork'], hours: [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }] });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('policy distribution to gateways', () => {
  it('gives both gateways the snapshot, without names, e-mails or phones', async () => {
    a = client({ token: tokens['site-a']!, path: join(dir, 'a', 'policy.json') });
    b = client({ token: tokens['site-b']!, path: join(dir, 'b', 'policy.json') });
    a.onChange((st) => changesSeenByA.push(st));
    expect(a.current()).toBeNull();
    expect(a.ageMs(Date.now())).toBeNull();
    await Promise.all([a.start(), b.start()]);
    const version = (await gateways()).policyVersion;
    expect(version).toBeGreaterThan(0);
    await vi.waitFor(() => {
      expect(a.current()?.version).toBe(version);
      expect(b.current()?.version).toBe(version);
      expect(a.listening && b.listening).toBe(true);
    }, { timeout: 5000, interval: 10 });
    const snap = a.current()!.snapshot;
    expect(b.current()!.snapshot).toEqual({ ...snap, generatedAt: b.current()!.snapshot.generatedAt });
    expect(snap.members.map((m) => m.memberNo)).toEqual(['M-0001', 'M-0002']);
    expect(snap.badges).toEqual([
      { format: 'em4100', credential: '0A1B2C3D4E', memberId: s.seed.members.a, status: 'active', override: false },
      { format: 'uid', credential: '04A1B2C3', memberId: s.seed.members.b, status: 'active', override: false },
    ]);
    expect(snap.plans).toEqual([{ id: s.seed.plan, spaces: ['cowork'], hours: [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }], quotas: {}, active: true }]);
    // The file is written just after the snapshot takes effect (decisions never wait on the disk).
    const text = await vi.waitFor(() => {
      const t = readFileSync(join(dir, 'a', 'policy.json'), 'utf8');
      expect((JSON.parse(t) as { snapshot: PolicySnapshot }).snapshot.version).toBe(version);
      return t;
    }, { timeout: 1000, interval: 5 });
    for (const personal of ['Zhang San', '张三', 'zhang.san@example.cn', 'Li Si', '李四', '+86 138', 'Alpha Robotics', 'Standard']) expect(text).not.toContain(personal);
    expect(a.ageMs(Date.now())).toBeLessThan(5000);
    expect(changesSeenByA.at(-1)?.version).toBe(version);
  });

  it('delivers a badge blocked through the API to both gateways within a second, over the event stream', async () => {
    const before = a.current()!.version;
    const started = performance.now();
    const res = await s.request('manager', 'PATCH', `/api/v1/badges/${s.seed.badges.a}`, { status: 'blocked' });
    expect(res.statusCode).toBe(200);
    const announced = s.policyVersions.at(-1)!;
    expect(announced).toBeGreaterThan(before);
    const blocked = (c: PolicyClient) => c.current()?.snapshot.badges.find((x) => x.credential === '0A1B2C3D4E')?.status;
    await vi.waitFor(() => {
      expect(a.current()?.version).toBe(announced);
      expect(b.current()?.version).toBe(announced);
      expect(blocked(a)).toBe('blocked');
      expect(blocked(b)).toBe('blocked');
    }, { timeout: 1000, interval: 5 });
    expect(performance.now() - started).toBeLessThan(1000);
    // The file follows (written just after the snapshot takes effect): a restart would start from the blocked badge.
    const saved = (): number => (JSON.parse(readFileSync(join(dir, 'b', 'policy.json'), 'utf8')) as { snapshot: PolicySnapshot }).snapshot.version;
    await vi.waitFor(() => expect(saved()).toBe(announced), { timeout: 1000, interval: 5 });
    expect(changesSeenByA.at(-1)?.version).toBe(announced);
  });

  it('shows managers every gateway, when it was seen and the version it holds', async () => {
    // A third gateway, from a plain gateway token: registered on its first call, then left behind.
    const tokenC = (await s.request('admin', 'POST', '/api/v1/tokens', { name: 'Gateway site-c', role: 'gateway', siteId: 'site-c' })).json<{ token: string }>().token;
    const fetchedByC = await http('/policy', tokenC);
    expect(fetchedByC.status).toBe(200);
    const heldByC = ((await fetchedByC.json()) as PolicySnapshot).version;
    const res = await s.request('manager', 'PATCH', `/api/v1/plans/${s.seed.plan}`, { quotas: { 'laser-cutter': 4 } });
    expect(res.statusCode).toBe(200);
    const now = s.policyVersions.at(-1)!;
    expect(now).toBeGreaterThan(heldByC);
    await vi.waitFor(() => expect([a.current()?.version, b.current()?.version]).toEqual([now, now]), { timeout: 1000, interval: 5 });
    await vi.waitFor(async () => {
      const list = await gateways();
      expect(list.policyVersion).toBe(now);
      expect(list.gateways.map((g) => [g.siteId, g.policyVersionSeen, g.upToDate, g.listening])).toEqual([
        ['site-a', now, true, true],
        ['site-b', now, true, true],
        ['site-c', heldByC, false, false],
      ]);
      expect(list.gateways.every((g) => g.lastSeenAt !== null)).toBe(true);
    }, { timeout: 1000, interval: 10 });
    expect((await s.request('auditor', 'GET', '/api/v1/gateways')).statusCode).toBe(200);
    expect((await s.request('memberA', 'GET', '/api/v1/gateways')).statusCode).toBe(403);
    expect((await s.request('manager', 'POST', '/api/v1/gateways', { siteId: 'x', name: 'x' })).statusCode).toBe(403);
  });

  it('answers 304 to If-None-Match with the current version, with the ETag', async () => {
    const v = a.current()!.version;
    const same = await http('/policy', tokens['site-a']!, { 'if-none-match': `"${v}"` });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(`"${v}"`);
    expect(await same.text()).toBe('');
    const old = await http('/policy', tokens['site-a']!, { 'if-none-match': `"${v - 1}"` });
    expect(old.status).toBe(200);
    expect(old.headers.get('etag')).toBe(`"${v}"`);
    expect(((await old.json()) as PolicySnapshot).version).toBe(v);
  });

  it('lets gateways, administrators and auditors read the policy; nobody else', async () => {
    expect((await s.request('auditor', 'GET', '/api/v1/policy')).statusCode).toBe(200);
    expect((await s.request('admin', 'GET', '/api/v1/policy')).statusCode).toBe(200);
    expect((await s.request('manager', 'GET', '/api/v1/policy')).statusCode).toBe(403);
    expect((await s.request('memberA', 'GET', '/api/v1/policy')).statusCode).toBe(403);
    expect((await s.request(null, 'GET', '/api/v1/policy')).statusCode).toBe(401);
    expect((await s.request('auditor', 'GET', '/api/v1/policy/events')).statusCode).toBe(403);
  });

  it('sends the version on connect as an SSE event', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${base}/api/v1/policy/events`, { headers: { authorization: `Bearer ${tokens['site-a']!}` }, signal: ctl.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('event: version')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain(`event: version\nid: ${a.current()!.version}\ndata: ${a.current()!.version}\n\n`);
    ctl.abort();
  });

  it('writes a comment line every 15 s on an idle stream, and counts it as the gateway being seen', async () => {
    // Only the stream's interval is faked; sockets and the clients' timeouts run in real time.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const ctl = new AbortController();
    try {
      const res = await fetch(`${base}/api/v1/policy/events`, { headers: { authorization: `Bearer ${tokens['site-b']!}` }, signal: ctl.signal });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('event: version')) text += decoder.decode((await reader.read()).value);
      const seenBefore = (await gateways()).gateways.find((g) => g.siteId === 'site-b')!.lastSeenAt!;
      s.clock.advance(20_000);
      vi.advanceTimersByTime(14_999);
      vi.advanceTimersByTime(1);
      while (!text.includes(': heartbeat\n\n')) text += decoder.decode((await reader.read()).value);
      await vi.waitFor(async () => expect((await gateways()).gateways.find((g) => g.siteId === 'site-b')!.lastSeenAt).toBe(seenBefore + 20_000), { timeout: 1000, interval: 10 });
      ctl.abort();
      await reader.closed.catch(() => undefined);
    } finally {
      vi.useRealTimers();
    }
  });

  it('closes the event streams when the server closes; a client restarted without the server decides from its file', async () => {
    const held = a.current()!;
    const started = performance.now();
    await s.app.close();
    expect(performance.now() - started).toBeLessThan(2000);
    await vi.waitFor(() => expect(a.listening || b.listening).toBe(false), { timeout: 2000, interval: 10 });
    await a.stop();
    await a.stop(); // idempotent

    const { logger, lines } = capturingLogger();
    const again = client({ token: tokens['site-a']!, path: join(dir, 'a', 'policy.json'), logger });
    await again.start();
    expect(again.current()).toEqual(held);
    expect(again.ageMs(Date.now())).toBeGreaterThanOrEqual(0);
    expect(lines.some((l) => l.msg.includes('loaded the saved policy snapshot'))).toBe(true);
    // With the server gone it keeps what it has.
    await again.refresh();
    expect(again.current()).toEqual(held);
    await again.stop();
    await expect(again.start()).rejects.toThrow('start() after stop()');
  });

  it.each([
    ['not JSON', 'not json {'],
    ['a snapshot of the wrong shape', JSON.stringify({ format: 1, fetchedAt: 1, snapshot: { version: 'seven', members: [] } })],
    ['an unknown file format', JSON.stringify({ format: 9, fetchedAt: 1, snapshot: {} })],
  ])('ignores a corrupt file (%s) and logs an error', async (_what, content) => {
    mkdirSync(join(dir, 'corrupt'), { recursive: true });
    const path = join(dir, 'corrupt', 'policy.json');
    writeFileSync(path, content);
    const { logger, lines } = capturingLogger();
    const c = client({ token: 'fac_unused', path, logger, serverUrl: 'http://127.0.0.1:9' });
    await c.start();
    expect(c.current()).toBeNull();
    expect(c.ageMs(Date.now())).toBeNull();
    expect(lines.filter((l) => l.level === 50 && l.msg.includes('corrupt'))).toHaveLength(1);
    await c.stop();
  });
});

describe('PolicyClient against a scripted server', () => {
  const good = (version: number): PolicySnapshot => ({ version, generatedAt: 1, members: [], badges: [], plans: [], certifications: [], outOfService: [], teams: [] });

  it('keeps the snapshot held through bad JSON, a wrong shape, errors and unreachable servers', async () => {
    const responses: (() => Response)[] = [
      () => Response.json(good(5)),
      () => new Response('{"version": 6, "members": [', { status: 200 }),
      () => Response.json({ ...good(6), badges: [{ format: 'magstripe', credential: 'x', memberId: 'm', status: 'active' }] }),
      () => Response.json({ ...good(6), members: undefined }),
      () => new Response('{"code":"server_error"}', { status: 500 }),
      () => {
        throw new TypeError('fetch failed');
      },
      () => new Response(null, { status: 304 }),
      () => Response.json(good(7)),
    ];
    const requests: (string | null)[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      if (urlOf(input).endsWith('/policy/events')) return new Response('no', { status: 404 });
      requests.push(new Headers(init?.headers).get('if-none-match'));
      return responses.shift()!();
    };
    const path = join(dir, 'bad', 'policy.json');
    const { logger, lines } = capturingLogger();
    // No background poll during the test: it drives refresh() itself.
    const c = new PolicyClient({ serverUrl: 'http://server.invalid', token: 'fac_x', path, clock, logger, pollMs: 600_000, fetch: fakeFetch, reconnect: { initialMs: 60_000 } });
    clients.push(c);
    await c.start();
    await vi.waitFor(() => expect(c.current()?.version).toBe(5), { timeout: 1000, interval: 5 });
    // Bad JSON, two wrong shapes, a 500, a network error, then a 304: the snapshot held stays, in memory and on disk.
    for (let i = 0; i < 6; i++) {
      await c.refresh();
      expect(c.current()?.version).toBe(5);
      expect((JSON.parse(readFileSync(path, 'utf8')) as { snapshot: PolicySnapshot }).snapshot.version).toBe(5);
    }
    await c.refresh();
    expect(c.current()?.version).toBe(7);
    expect(requests).toEqual([null, '"5"', '"5"', '"5"', '"5"', '"5"', '"5"', '"5"']);
    const errors = lines.filter((l) => l.level >= 40).map((l) => l.msg);
    expect(errors.some((m) => m.includes('not JSON'))).toBe(true);
    expect(errors.filter((m) => m.includes('does not match the schema'))).toHaveLength(2);
    expect(errors.some((m) => m.includes('refused'))).toBe(true);
    expect(errors.some((m) => m.includes('cannot reach the server'))).toBe(true);
    await c.stop();
  });

  /** A stream that sends one version event and then stays silent, and records each connection. */
  const silentStream = (version: number, connections: number[]) => (): Response => {
    connections.push(Date.now());
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(new TextEncoder().encode(`retry: 3000\n\nevent: version\nid: ${version}\ndata: ${version}\n\n`));
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };

  it('takes a silent event stream for dead and reconnects', async () => {
    const connections: number[] = [];
    const stream = silentStream(3, connections);
    let policyRequests = 0;
    const fakeFetch: typeof fetch = (input, init) => {
      if (urlOf(input).endsWith('/policy/events')) {
        // Close the scripted stream when the client gives up on it.
        const res = stream();
        init?.signal?.addEventListener('abort', () => void res.body?.cancel().catch(() => undefined));
        return Promise.resolve(res);
      }
      policyRequests += 1;
      return Promise.resolve(Response.json(good(3)));
    };
    const c = new PolicyClient({ serverUrl: 'http://server.invalid', token: 'fac_x', path: join(dir, 'silent', 'policy.json'), clock, logger: quiet, pollMs: 600_000, fetch: fakeFetch, silenceMs: 100, reconnect: { initialMs: 20, maxMs: 40 } });
    clients.push(c);
    await c.start();
    await vi.waitFor(() => expect(connections.length).toBeGreaterThanOrEqual(3), { timeout: 2000, interval: 10 });
    expect(c.current()?.version).toBe(3);
    // The first poll and the first announcement of version 3; later announcements of the version held fetch nothing.
    expect(policyRequests).toBeLessThanOrEqual(2);
    await c.stop();
    const after = connections.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(connections.length).toBe(after);
  });

  it('polls when the event stream is refused', async () => {
    let polls = 0;
    let version = 1;
    const fakeFetch: typeof fetch = (input) => {
      if (urlOf(input).endsWith('/policy/events')) return Promise.resolve(new Response('{"code":"no_route"}', { status: 404 }));
      polls += 1;
      return Promise.resolve(Response.json(good(version)));
    };
    const c = new PolicyClient({ serverUrl: 'http://server.invalid', token: 'fac_x', path: join(dir, 'poll', 'policy.json'), clock, logger: quiet, pollMs: 30, fetch: fakeFetch, reconnect: { initialMs: 10_000 } });
    clients.push(c);
    await c.start();
    await vi.waitFor(() => expect(c.current()?.version).toBe(1), { timeout: 1000, interval: 5 });
    version = 2;
    await vi.waitFor(() => expect(c.current()?.version).toBe(2), { timeout: 1000, interval: 5 });
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(c.listening).toBe(false);
    await c.stop();
  });
});
