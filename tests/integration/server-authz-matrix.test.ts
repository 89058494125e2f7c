/**
 * B11/B12: every route × every role, generated from the app's own route table.
 * - A role a route does not list gets 401 (anonymous) or 403, whatever it sends.
 * - A role it lists is let through (anything but 401/403).
 * - A member reaching for another member's objects gets 404, never the object.
 * - Auditors and members calling any route that changes data change nothing
 *   (database contents hashed before and after). The one write members may
 *   make — reporting a machine out of service — is let through to its schema,
 *   which refuses the empty body the matrix sends (400).
 * Routes cannot be registered without a declared policy (server/plugins/auth.ts),
 * so a new route is in this table automatically.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../server/plugins/auth.js';
import { exampleLive, exampleSite, TestLiveSource } from '../harness/live.js';
import { makeTestServer, T0, type TestServer, type Who } from '../harness/server.js';

let s: TestServer;
let routes: readonly RouteEntry[];

type Caller = 'anonymous' | Who | 'gateway';
const CALLERS: readonly Caller[] = ['anonymous', 'admin', 'manager', 'auditor', 'memberA', 'gateway'];
const roleOf = (c: Caller): string | null => (c === 'anonymous' ? null : c === 'memberA' || c === 'memberB' ? 'member' : c);

/** Streams and routes that end the caller's own session are only probed for refusals. */
const NOT_EXECUTED = new Set(['GET /api/v1/policy/events', 'GET /api/v1/live/stream', 'POST /api/v1/auth/logout', 'POST /api/v1/auth/password']);

function urlFor(r: RouteEntry): string {
  const ids: Record<string, string> = {
    members: s.seed.members.b,
    teams: s.seed.teams.b,
    badges: s.seed.badges.b,
    users: s.seed.users.memberB,
    plans: s.seed.plan,
  };
  return r.url
    .replace(/\/([a-z]+)\/:id/g, (_m, coll: string) => `/${coll}/${ids[coll] ?? 'x_does_not_exist'}`)
    .replace(':siteId', 'test-site')
    .replace(':equipmentId', 'laser-1');
}

async function call(c: Caller, r: RouteEntry) {
  const url = urlFor(r);
  const csv = url.includes('/import/');
  const payload = r.method === 'GET' || r.method === 'DELETE' ? undefined : csv ? 'a,b\n' : {};
  if (c === 'gateway') {
    return s.app.inject({ method: r.method as 'GET', url, headers: { authorization: `Bearer ${await s.tokenFor('gateway')}`, ...(csv && { 'content-type': 'text/csv' }) }, ...(payload !== undefined && { payload }) });
  }
  return s.request(c === 'anonymous' ? null : c, r.method, url, payload);
}

async function dbHash(): Promise<string> {
  const h = createHash('sha256');
  for (const t of ['users', 'api_tokens', 'teams', 'plans', 'members', 'badges', 'trainers', 'certifications', 'changes', 'gateways', 'equipment_status', 'equipment_downtime']) {
    const rows = await sql.raw(`SELECT * FROM ${t} ORDER BY 1`).execute(s.db);
    h.update(t).update(JSON.stringify(rows.rows));
  }
  return h.digest('hex');
}

beforeAll(async () => {
  // With a gateway's live state and the site file, as `facility start` serves them (without, GET /live and /floorplan answer 503).
  s = await makeTestServer({ live: new TestLiveSource(exampleLive(T0)), site: exampleSite() });
  routes = s.app.routeTable.filter((r) => r.url.startsWith('/api/'));
});

afterAll(async () => {
  await s?.close();
});

describe('authorisation matrix', () => {
  it('covers every API route', () => {
    expect(routes.length).toBeGreaterThan(40);
    for (const r of routes) expect(r.roles === 'public' || r.roles.length > 0).toBe(true);
  });

  it('refuses every role a route does not list, with 401 or 403, and lets the listed ones through', async () => {
    const failures: string[] = [];
    let probed = 0;
    for (const r of routes) {
      for (const c of CALLERS) {
        const role = roleOf(c);
        const allowed = r.roles === 'public' || (role !== null && r.roles.includes(role));
        if (allowed && NOT_EXECUTED.has(`${r.method} ${r.url}`)) continue;
        const res = await call(c, r);
        probed++;
        const refused = res.statusCode === 401 || res.statusCode === 403;
        if (!allowed && !refused) failures.push(`${c} → ${r.method} ${r.url}: ${res.statusCode}, expected 401/403`);
        if (!allowed && role === null && res.statusCode !== 401) failures.push(`${c} → ${r.method} ${r.url}: ${res.statusCode}, expected 401`);
        if (allowed && refused) failures.push(`${c} → ${r.method} ${r.url}: ${res.statusCode}, expected to be let through`);
        if (res.statusCode >= 500) failures.push(`${c} → ${r.method} ${r.url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(probed).toBeGreaterThan(routes.length * 4);
  });

  it('never shows member A an object of member B: 404 on every object route members may call (B11)', async () => {
    const objectRoutes = routes.filter((r) => r.method === 'GET' && r.url.includes('/:id') && r.roles !== 'public' && r.roles.includes('member'));
    expect(objectRoutes.length).toBeGreaterThan(3);
    for (const r of objectRoutes) {
      const res = await call('memberA', r);
      // Plans are not personal: members may read any plan.
      if (r.url.startsWith('/api/v1/plans')) continue;
      expect({ route: `${r.method} ${r.url}`, status: res.statusCode }).toEqual({ route: `${r.method} ${r.url}`, status: 404 });
      expect(res.body).not.toContain(s.seed.memberNos.b);
    }
    // …while their own objects are there.
    expect((await s.request('memberA', 'GET', `/api/v1/members/${s.seed.members.a}`)).statusCode).toBe(200);
    expect((await s.request('memberA', 'GET', `/api/v1/members/${s.seed.members.a}/badges`)).statusCode).toBe(200);
  });

  it('lets auditors and members change nothing: every mutating route refused, the database unchanged (B12)', async () => {
    const mutating = routes.filter((r) => r.method !== 'GET' && r.roles !== 'public' && !NOT_EXECUTED.has(`${r.method} ${r.url}`));
    expect(mutating.length).toBeGreaterThan(15);
    const before = await dbHash();
    for (const r of mutating) {
      for (const c of ['auditor', 'memberA'] as const) {
        const res = await call(c, r);
        const listed = r.roles !== 'public' && r.roles.includes(roleOf(c) ?? '');
        expect({ route: `${c} ${r.method} ${r.url}`, status: res.statusCode }).toEqual({ route: `${c} ${r.method} ${r.url}`, status: listed ? 400 : 403 });
      }
    }
    expect(await dbHash()).toBe(before);
  });
});
