/**
 * Fuzz (issue 11, hostile input; catalogue B13/B14 for bodies): the JSON
 * bodies of the server's writing routes, taken from the app's route table
 * (as tests/integration/server-authz-matrix.test.ts does) and called as a
 * role each route allows.
 *
 * Bodies: built from the route's own body schema (server's OpenAPI document)
 * with real ids of the seeded world for reference fields, so many reach the
 * handler's own checks; the same damaged (a field wrong, removed, or an extra
 * `paid`/`role`/`__proto__`/`constructor` field); arbitrary JSON; path ids
 * real, unknown or hostile.
 * Properties: never a 5xx; a refusal is 400/403/404/409/413/415/422 and
 * leaves every table of the database as it was (hashed before and after).
 *
 * Left out: CSV imports (csv-import.test.ts), the auth routes (login's 401s
 * and failure counters are B15/B16, server-auth.test.ts; logout and password
 * end the caller's session), and bookings (being built beside this, issue
 * of its own; add them here once they settle).
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../server/plugins/auth.js';
import { exampleLive, exampleSite, TestLiveSource } from '../harness/live.js';
import { makeTestServer, T0, type TestServer, type Who } from '../harness/server.js';
import { changedTables, damaged, dbHashes, fromSchema, jsonText, operation } from './http-support.js';
import { check } from './support.js';

let s: TestServer;
let routes: RouteEntry[];

const SKIP = [/^POST \/api\/v1\/auth\//, /^POST \/api\/v1\/import\//, /\/bookings/];
// 414: a path parameter over fastify's maxParamLength (100).

const REFUSALS = new Set([400, 403, 404, 409, 413, 414, 415, 422]);

beforeAll(async () => {
  s = await makeTestServer({ live: new TestLiveSource(exampleLive(T0)), site: exampleSite() });
  await sql.raw('PRAGMA synchronous = OFF').execute(s.db);
  // Log everyone in first: a first request's login is a change of its own.
  for (const who of ['admin', 'manager', 'memberA'] as const) await s.login(who);
  await s.tokenFor('gateway');
  routes = s.app.routeTable.filter((r) => ['POST', 'PATCH', 'PUT'].includes(r.method) && r.url.startsWith('/api/') && !SKIP.some((re) => re.test(`${r.method} ${r.url}`)));
});
afterAll(async () => {
  await s?.close();
});

/** Real ids for reference-like fields and path parameters. */
function idsFor(name: string): readonly string[] {
  const seed = s.seed;
  switch (name) {
    case 'teamId':
      return [seed.teams.a, seed.teams.b];
    case 'memberId':
      return [seed.members.a, seed.members.b];
    case 'planId':
      return [seed.plan];
    case 'badgeId':
      return [seed.badges.a, seed.badges.b];
    case 'userId':
      return [seed.users.memberA, seed.users.manager];
    case 'equipmentId':
      return ['laser-1', 'fdm-1', 'cnc-1'];
    case 'siteId':
      return ['test-site', 'demo-makerspace'];
    default:
      return [];
  }
}

function pathValues(r: RouteEntry): fc.Arbitrary<string> {
  const collectionIds: Record<string, readonly string[]> = {
    members: [s.seed.members.a, s.seed.members.b],
    teams: [s.seed.teams.a, s.seed.teams.b],
    badges: [s.seed.badges.a, s.seed.badges.b],
    users: [s.seed.users.memberA, s.seed.users.manager],
    plans: [s.seed.plan],
  };
  const parts = r.url.split('/').map((seg, i, all): fc.Arbitrary<string> => {
    if (!seg.startsWith(':')) return fc.constant(seg);
    const name = seg.slice(1);
    const hostileId = fc.constantFrom('x_does_not_exist', '%27%20OR%201%3D1', '..%2F..', '%00', 'a'.repeat(300), '-1');
    if (name === 'id') return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...(collectionIds[all[i - 1] ?? ''] ?? ['x_does_not_exist'])) }, { weight: 1, arbitrary: hostileId });
    if (name === 'month') return fc.constantFrom('2026-10', '2026-11', '2026-13', '1999-01', 'x');
    if (name === 'size') return fc.constantFrom('1', '2', '0', '-1', '99999999999999999999', 'x');
    return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...idsFor(name), 'x') }, { weight: 1, arbitrary: hostileId });
  });
  return fc.tuple(...parts).map((p) => p.join('/'));
}

function callerFor(r: RouteEntry): Who | 'gateway' | null {
  if (r.roles === 'public') return null;
  for (const who of ['admin', 'manager'] as const) if (r.roles.includes(who)) return who;
  if (r.roles.includes('member')) return 'memberA';
  return r.roles.includes('gateway') ? 'gateway' : null;
}

interface Case {
  readonly route: RouteEntry;
  readonly url: string;
  readonly body: unknown;
}

function cases(): fc.Arbitrary<Case> {
  return fc.constantFrom(...routes).chain((route) => {
    const schema = operation(s, route.method, route.url)?.requestBody?.content?.['application/json']?.schema;
    const shaped = fromSchema(schema, idsFor);
    const body = fc.oneof({ weight: 5, arbitrary: shaped }, { weight: 3, arbitrary: damaged(shaped) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) });
    return fc.record({ route: fc.constant(route), url: pathValues(route), body });
  });
}

describe('HTTP bodies of the writing routes', () => {
  it('samples a real route table', () => {
    expect(routes.length).toBeGreaterThan(20);
    for (const r of routes) expect(callerFor(r) !== null || r.roles === 'public').toBe(true);
  });

  it('never 5xx; refusals are 4xx the API documents and change nothing in the database', async () => {
    const seen = new Map<string, Set<number>>();
    let last: Record<string, string> | null = null;
    await check(
      fc.asyncProperty(cases(), async ({ route, url, body }) => {
        // The database changes only through these requests: the state after one case is the state before the next.
        const before = last ?? (await dbHashes(s));
        const who = callerFor(route);
        const payload = jsonText(body);
        const headers = { 'content-type': 'application/json' };
        const res =
          who === 'gateway'
            ? await s.app.inject({ method: route.method as 'POST', url, payload, headers: { ...headers, authorization: `Bearer ${await s.tokenFor('gateway')}` } })
            : await s.request(who, route.method, url, payload, headers);
        const key = `${route.method} ${route.url}`;
        seen.set(key, (seen.get(key) ?? new Set()).add(res.statusCode));
        const where = `${route.method} ${url} ${payload.slice(0, 300)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
        // 503 is documented where the test server lacks a part (usage needs InfluxDB and a site file): a refusal, not a failure.
        const unavailable = res.statusCode === 503 && /_unavailable$/.test(String(res.json<{ code?: unknown }>().code));
        expect(res.statusCode < 500 || unavailable, where).toBe(true);
        if (res.statusCode >= 300) {
          expect(REFUSALS.has(res.statusCode) || unavailable, where).toBe(true);
          expect(changedTables(before, (last = await dbHashes(s))), `a refused request changed the database: ${where}`).toEqual([]);
        } else {
          last = null;
          expect(res.body, where).not.toMatch(/\bat .+\.(ts|js):\d+/); // no stack traces
        }
      }),
      0xb0d1_0001,
      700,
    );
    // Most routes were reached, and some bodies got past the schema into the handlers.
    expect(seen.size).toBeGreaterThan(routes.length * 0.8);
    const passedSchema = [...seen.values()].filter((codes) => [...codes].some((c) => c !== 400)).length;
    expect(passedSchema).toBeGreaterThan(routes.length / 3);
  });

  it('found here, fixed: POST /users with memberId "" answers 400 (it reached the foreign key: 500)', async () => {
    const res = await s.request('admin', 'POST', '/api/v1/users', { username: 'fuzz-staff', password: 'a long enough password 1', role: 'manager', memberId: '' });
    expect(res.statusCode).toBe(400);
  });
});
