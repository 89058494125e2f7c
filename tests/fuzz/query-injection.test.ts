/**
 * Fuzz (issue 11, "HTTP: injection attempts in filters"): search texts and
 * filters in query strings.
 *
 * 1. The search text `q` of GET /members and GET /teams against an oracle:
 *    the database holds names full of LIKE and SQL metacharacters (% _ \ ' "),
 *    other scripts and mixed case; q is drawn from pieces of those names,
 *    SQL and LIKE injection strings, unicode, control characters and texts
 *    over the 100-character limit. The answer must be 400 (out of the
 *    schema) or exactly the rows whose fields contain q (trimmed; ASCII case
 *    folded, as SQLite's LIKE does) — nothing outside the filter, nothing
 *    missing.
 * 2. Every GET route without path parameters, with query parameters drawn
 *    from its OpenAPI schema, damaged, or hostile: never a 5xx.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../server/plugins/auth.js';
import { exampleLive, exampleSite, TestLiveSource } from '../harness/live.js';
import { makeTestServer, T0, type TestServer } from '../harness/server.js';
import { fromSchema, operation } from './http-support.js';
import { check } from './support.js';

let s: TestServer;

const TRICKY_NAMES = [
  '100% Pure Robotics',
  'Under_Score Labs',
  'Back\\Slash Works',
  "O'Brien & Sons",
  'Quote "Team"',
  'percent%%double',
  '张%三 团队',
  'Ünïcödé Ltd',
  'MiXeD CaSe Club',
  'a_b%c\\d',
  "x'); DROP TABLE teams; --",
  'Emoji 🦄 Works',
];

beforeAll(async () => {
  s = await makeTestServer({ live: new TestLiveSource(exampleLive(T0)), site: exampleSite() });
  await sql.raw('PRAGMA synchronous = OFF').execute(s.db);
  for (const [i, name] of TRICKY_NAMES.entries()) {
    const team = await s.request('admin', 'POST', '/api/v1/teams', { name, registeredOn: '2026-01-01' });
    expect(team.statusCode, team.body).toBe(201);
    const member = await s.request('admin', 'POST', '/api/v1/members', { memberNo: `Q-${String(i).padStart(3, '0')}`, name, joinedOn: '2026-01-01' });
    expect(member.statusCode, member.body).toBe(201);
  }
});
afterAll(async () => {
  await s?.close();
});

/**
 * Bugs this fuzz found (docs/reliability.md, "Found by the fuzzers"), now fixed and pinned at the end:
 * - A search text with a NUL matched as if it ended there (SQLite reads a LIKE pattern up to its
 *   first NUL): q="\u0000" listed every row. Such a text is now refused (400).
 * - A non-finite number where the API takes an integer (limit=Infinity, offset=1e309) passed
 *   validation (ajv's coerceTypes turns the string into Infinity without the finiteness check it
 *   applies to numbers: ajv-validator/ajv#2212, fastify/fastify#6718) and the query failed: 500.
 *   The server now refuses any non-finite query number (400, server/app.ts).
 */

/** SQLite's LIKE folds case for ASCII letters only. */
const foldAscii = (t: string): string => t.replace(/[A-Z]/g, (c) => c.toLowerCase());

const SEARCHES = {
  members: { url: '/api/v1/members', fields: ['memberNo', 'name', 'nameZh'] },
  teams: { url: '/api/v1/teams', fields: ['name', 'nameZh'] },
} as const;

const injection = fc.constantFrom(
  "'",
  "' OR '1'='1",
  "'; DROP TABLE members; --",
  '" OR 1=1 --',
  '%',
  '%%',
  '_',
  '\\',
  '\\%',
  '\\_',
  '[a-z]',
  '*',
  '?',
  ') OR (1=1',
  'UNION SELECT * FROM users',
  '\u0000',
  'a\u0000b',
  '\u202E',
  'Ü',
  'ü',
  '张',
  '🦄',
  '  ',
  ' %',
  'x'.repeat(100),
  'x'.repeat(101),
  'x'.repeat(5000),
);

/** Pieces of the names in the database, so many searches hit something. */
const piece = fc.tuple(fc.constantFrom(...TRICKY_NAMES, 'M-0001', '张三', 'Alpha Robotics', '贝塔生物'), fc.nat(), fc.nat()).map(([n, a, b]) => {
  const chars = [...n];
  const i = a % chars.length;
  const j = i + 1 + (b % (chars.length - i));
  return chars.slice(i, j).join('');
});

const qText = fc.oneof(
  { weight: 4, arbitrary: piece },
  { weight: 3, arbitrary: injection },
  { weight: 1, arbitrary: fc.tuple(piece, injection).map(([p, x]) => p + x) },
  { weight: 1, arbitrary: fc.tuple(piece, fc.constantFrom('A', 'a', 'Z')).map(([p, x]) => (x === 'a' ? p.toLowerCase() : p.toUpperCase())) },
  { weight: 2, arbitrary: fc.string({ maxLength: 30, unit: 'grapheme' }) },
);

describe('search texts (q) against an oracle', () => {
  it.each(Object.entries(SEARCHES))('%s: 400 or exactly the rows containing q, never a row outside it', async (_name, { url, fields }) => {
    const all = (await s.request('admin', 'GET', `${url}?limit=200`)).json<Record<string, string | null>[]>();
    expect(all.length).toBeLessThan(200);
    let hits = 0;
    await check(
      fc.asyncProperty(qText, async (q) => {
        const res = await s.request('admin', 'GET', `${url}?limit=200&q=${encodeURIComponent(q)}`);
        const where = `${url} q=${JSON.stringify(q.slice(0, 120))} → ${res.statusCode} ${res.body.slice(0, 200)}`;
        expect(res.statusCode, where).toBeLessThan(500);
        // A NUL would end SQLite's LIKE pattern early (every row would match): such a text is refused.
        if ([...q].length > 100 || q.length > 100 || q.length === 0 || q.includes('\u0000')) {
          expect(res.statusCode, where).toBe(400);
          return;
        }
        expect(res.statusCode, where).toBe(200);
        const got = res.json<Record<string, string | null>[]>().map((r) => r.id);
        const needle = foldAscii(q.trim());
        const expected = all.filter((r) => fields.some((f) => r[f] != null && foldAscii(r[f]).includes(needle))).map((r) => r.id);
        hits += expected.length > 0 && expected.length < all.length ? 1 : 0;
        expect(got.sort(), where).toEqual(expected.sort());
      }),
      url.length,
      1200,
    );
    // Searches that matched some rows and not others: the oracle was exercised, not only "all" and "none".
    expect(hits).toBeGreaterThan(300);
  });
});

describe('query parameters of every list route', () => {
  it('never 5xx, whatever the filters say', async () => {
    const routes: RouteEntry[] = s.app.routeTable.filter((r) => r.method === 'GET' && r.url.startsWith('/api/') && !r.url.includes(':') && !/\/(events|stream)$/.test(r.url) && !r.url.includes('bookings'));
    expect(routes.length).toBeGreaterThan(15);
    const param = (schema: Parameters<typeof fromSchema>[0]) =>
      fc.oneof(
        { weight: 6, arbitrary: fromSchema(schema, () => [s.seed.teams.a, s.seed.members.a, s.seed.plan]).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))) },
        { weight: 1, arbitrary: injection },
        { weight: 1, arbitrary: fc.constantFrom('-1', '0', '1e309', 'Infinity', '-Infinity', 'NaN', '2026-02-30', '2026-13', 'true', '[]', '{}', '99999999999999999999') },
      );
    const cases = fc.constantFrom(...routes).chain((route) => {
      const params = (operation(s, 'GET', route.url)?.parameters ?? []).filter((p) => p.in === 'query');
      const known = params.map((p) => fc.option(param(p.schema).map((v) => [p.name, v] as const), { nil: undefined, freq: 2 }));
      const extra = fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.tuple(fc.constantFrom('__proto__', 'constructor', 'q[]', 'limit[$gt]', 'x'), injection) });
      return fc.tuple(fc.constant(route), fc.tuple(...known, extra));
    });
    const statuses: Record<number, number> = {};
    await check(
      fc.asyncProperty(cases, async ([route, pairs]) => {
        const given = pairs.filter((p): p is readonly [string, string] => p !== undefined);
        const qs = given.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        const url = `${route.url}${qs ? `?${qs}` : ''}`;
        const who = route.roles === 'public' || route.roles.includes('admin') ? 'admin' : route.roles.includes('manager') ? 'manager' : 'memberA';
        const res = await s.request(who, 'GET', url);
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        const unavailable = res.statusCode === 503 && /_unavailable$/.test(String(res.json<{ code?: unknown }>().code));
        expect(res.statusCode < 500 || unavailable, `${url} → ${res.statusCode} ${res.body.slice(0, 300)}`).toBe(true);
      }),
      0x9e77_0001,
      1500,
    );
    expect(statuses[200] ?? 0, JSON.stringify(statuses)).toBeGreaterThan(300);
  });
});

describe('found by this fuzzer, fixed', () => {
  it('a NUL in q is refused (400): SQLite would have read the pattern only up to it and listed every row', async () => {
    const res = await s.request('admin', 'GET', `/api/v1/members?limit=200&q=${encodeURIComponent('\u0000')}`);
    expect(res.statusCode).toBe(400);
  });

  it.each(['/api/v1/members?limit=Infinity', '/api/v1/teams?offset=1e309', '/api/v1/plans?limit=-Infinity'])('%s answers 400, not 500 (a non-finite number past ajv)', async (url) => {
    const res = await s.request('admin', 'GET', url);
    expect(res.statusCode).toBe(400);
  });
});
