/**
 * Catalogue B13 (property-level exposure and mass assignment), from the app's
 * own route table and OpenAPI document:
 *
 * - every JSON answer of every GET route (called as a role it allows, with
 *   the seeded world's ids) holds only the properties its 200 schema
 *   declares, at every depth, and never a field named like a secret
 *   (password, hash, token, secret);
 * - every writing route refuses a body that is otherwise shaped by its schema
 *   but carries an extra field (`paid`, `role`, `memberId`, `__proto__`,
 *   `constructor`): never a 2xx, and nothing written.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../server/plugins/auth.js';
import { exampleLive, exampleSite, TestLiveSource } from '../harness/live.js';
import { makeTestServer, T0, type TestServer, type Who } from '../harness/server.js';
import { changedTables, dbHashes, fromSchema, operation, type JsonSchema } from './http-support.js';

let s: TestServer;
beforeAll(async () => {
  s = await makeTestServer({ live: new TestLiveSource(exampleLive(T0)), site: exampleSite() });
  await sql.raw('PRAGMA synchronous = OFF').execute(s.db);
  for (const who of ['admin', 'manager', 'auditor', 'memberA'] as const) await s.login(who);
});
afterAll(async () => {
  await s?.close();
});

function urlFor(r: RouteEntry): string {
  const ids: Record<string, string> = { members: s.seed.members.a, teams: s.seed.teams.a, badges: s.seed.badges.a, users: s.seed.users.memberA, plans: s.seed.plan };
  return r.url
    .replace(/\/([a-z]+)\/:id/g, (_m, coll: string) => `/${coll}/${ids[coll] ?? 'x_does_not_exist'}`)
    .replace(':siteId', 'test-site')
    .replace(':equipmentId', 'laser-1')
    .replace(':month', '2026-10')
    .replace(/:[A-Za-z]+/g, '1');
}

function callerFor(r: RouteEntry): Who | null {
  if (r.roles === 'public') return 'admin';
  for (const who of ['admin', 'manager', 'auditor'] as const) if (r.roles.includes(who)) return who;
  return r.roles.includes('member') ? 'memberA' : null;
}

const SECRET_NAME = /password|secret|private|salt|^token$|token_?hash|^hash$|_hash$/i;

/** Paths in `value` that `schema` does not declare (only where the schema lists its properties). */
function undeclared(value: unknown, schema: JsonSchema | undefined, path: string, out: string[]): void {
  if (schema === undefined || value === null || typeof value !== 'object') return;
  const alts = schema.anyOf ?? schema.oneOf;
  if (alts !== undefined) {
    // The value must fit one alternative without undeclared keys.
    const fits = alts.map((a) => {
      const o: string[] = [];
      undeclared(value, a, path, o);
      return o;
    });
    if (!fits.some((o) => o.length === 0)) out.push(...(fits.sort((x, y) => x.length - y.length)[0] ?? []));
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => undeclared(v, schema.items, `${path}[${i}]`, out));
    return;
  }
  const props = schema.properties;
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_NAME.test(k)) out.push(`${path}.${k} (named like a secret)`);
    if (props === undefined) continue;
    if (!(k in props)) out.push(`${path}.${k}`);
    else undeclared(v, props[k], `${path}.${k}`, out);
  }
}

describe('responses hold only their schema (B13)', () => {
  it('every GET route answers with declared properties only, and nothing named like a secret', async () => {
    const routes = s.app.routeTable.filter((r) => r.method === 'GET' && r.url.startsWith('/api/') && !/\/(events|stream)$/.test(r.url) && !r.url.includes('bookings'));
    expect(routes.length).toBeGreaterThan(30);
    const problems: string[] = [];
    let checked = 0;
    for (const r of routes) {
      const who = callerFor(r);
      if (who === null) continue;
      const res = await s.request(who, 'GET', urlFor(r));
      const unavailable = res.statusCode === 503 && /_unavailable$/.test(String(res.json<{ code?: unknown }>().code));
      expect(res.statusCode < 500 || unavailable, `${r.url} → ${res.statusCode} ${res.body.slice(0, 200)}`).toBe(true);
      if (res.statusCode !== 200 || !String(res.headers['content-type'] ?? '').includes('json')) continue;
      const op = operation(s, 'GET', r.url) as { responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> }> } | undefined;
      const schema = op?.responses?.['200']?.content?.['application/json']?.schema;
      if (schema === undefined) {
        problems.push(`${r.url}: a JSON 200 without a JSON response schema`);
        continue;
      }
      const out: string[] = [];
      undeclared(res.json(), schema, '', out);
      problems.push(...out.slice(0, 5).map((p) => `${r.url}: ${p}`));
      checked++;
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });
});

describe('mass assignment (B13)', () => {
  it('every writing route refuses an extra field in an otherwise schema-shaped body, and writes nothing', async () => {
    const routes = s.app.routeTable.filter((r) => ['POST', 'PATCH', 'PUT'].includes(r.method) && r.url.startsWith('/api/') && !/\/(auth|import)\//.test(r.url) && !r.url.includes('bookings'));
    const ids = (name: string): readonly string[] =>
      ({ teamId: [s.seed.teams.a], memberId: [s.seed.members.a], planId: [s.seed.plan], badgeId: [s.seed.badges.a], equipmentId: ['laser-1'], siteId: ['test-site'] })[name] ?? [];
    const accepted: string[] = [];
    let tried = 0;
    for (const r of routes) {
      const who = callerFor(r);
      if (who === null) continue;
      const schema = operation(s, r.method, r.url)?.requestBody?.content?.['application/json']?.schema;
      const bodies = fc.sample(fromSchema(schema, ids), { numRuns: 3, seed: 0xb13 });
      for (const [i, extra] of ['paid', 'role', '__proto__'].entries()) {
        const base = bodies[i];
        if (base === null || typeof base !== 'object' || Array.isArray(base)) continue;
        // A field the schema declares is not extra (a token has a role).
        if (schema?.properties !== undefined && extra in schema.properties) continue;
        const payload = JSON.stringify(base).replace(/^\{/, `{${JSON.stringify(extra)}:${extra === '__proto__' ? '{"role":"admin"}' : 'true'}${Object.keys(base).length > 0 ? ',' : ''}`);
        const before = await dbHashes(s);
        const res = await s.request(who, r.method, urlFor(r), payload, { 'content-type': 'application/json' });
        tried++;
        if (res.statusCode < 300) accepted.push(`${r.method} ${r.url} took ${extra}: ${res.statusCode}`);
        else expect(changedTables(before, await dbHashes(s)), `${r.method} ${r.url} + ${extra}`).toEqual([]);
      }
    }
    expect(accepted).toEqual([]);
    expect(tried).toBeGreaterThan(40);
  });
});
