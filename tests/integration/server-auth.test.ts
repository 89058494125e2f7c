/** Logging in, sessions, API tokens, limits and headers of the server (through fastify's inject). */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type ServerOptions } from '../../server/app.js';
import { ensureAdmin } from '../../server/auth/bootstrap.js';
import { hashPassword } from '../../server/auth/passwords.js';
import { createApiToken } from '../../server/auth/sessions.js';
import { migrate, openSqlite, type ServerDb } from '../../server/db/database.js';

const FAST = { N: 2 ** 10 };
let dir: string;
let db: ServerDb;
let now = Date.UTC(2026, 10, 25, 9);
const clock = { now: () => now };

async function app(over: Partial<ServerOptions> = {}): Promise<FastifyInstance> {
  return buildApp({
    logger: pino({ level: 'silent' }),
    server: {
      db,
      clock,
      sessionTtlMs: 3600_000,
      passwordParams: FAST,
      loginPerIpPerMinute: 1000,
      loginFailuresPerAccount: 5,
      loginRefillMs: 60_000,
      requestsPerMinute: 100_000,
      ...over,
    },
  });
}

async function addUser(username: string, password: string, role: 'admin' | 'manager' | 'auditor'): Promise<void> {
  await db.insertInto('users').values({ id: `usr_${username}`, username, password_hash: hashPassword(password, FAST), role, member_id: null, disabled: 0, created_at: now, updated_at: now }).execute();
}

const login = (a: FastifyInstance, username: string, password: string) =>
  a.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
const cookieOf = (res: { cookies: { name: string; value: string }[] }) => `facility_session=${res.cookies.find((c) => c.name === 'facility_session')?.value ?? ''}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'of-auth-'));
  db = openSqlite(join(dir, 'server.db'));
  await migrate(db);
  await addUser('alice', 'correct horse battery', 'admin');
  await addUser('mallory', 'another long password', 'manager');
  await addUser('audrey', 'auditors read all day', 'auditor');
});

afterAll(async () => {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('sessions', () => {
  it('logs in with a session cookie that is HttpOnly and SameSite=Strict, and out again', async () => {
    const a = await app();
    const res = await login(a, 'alice', 'correct horse battery');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ kind: 'user', name: 'alice', role: 'admin' });
    const set = String(res.headers['set-cookie']);
    expect(set).toMatch(/facility_session=[A-Za-z0-9_-]{43}/);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    const cookie = cookieOf(res);
    expect((await a.inject({ url: '/api/v1/auth/me', headers: { cookie } })).json()).toMatchObject({ name: 'alice' });
    expect((await a.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie }, payload: {} })).statusCode).toBe(204);
    expect((await a.inject({ url: '/api/v1/auth/me', headers: { cookie } })).statusCode).toBe(401);
    await a.close();
  });

  it('says the same for a wrong password and an unknown user, and never which', async () => {
    const a = await app();
    const wrong = await login(a, 'alice', 'not the password');
    const unknown = await login(a, 'nobody', 'not the password');
    expect([wrong.statusCode, unknown.statusCode]).toEqual([401, 401]);
    expect(wrong.json<{ detail: string }>().detail).toBe(unknown.json<{ detail: string }>().detail);
    expect(wrong.headers['content-type']).toMatch(/application\/problem\+json/);
    await a.close();
  });

  it('expires sessions after the idle time, and ignores a tampered cookie', async () => {
    const a = await app();
    const cookie = cookieOf(await login(a, 'alice', 'correct horse battery'));
    expect((await a.inject({ url: '/api/v1/auth/me', headers: { cookie: `${cookie}x` } })).statusCode).toBe(401);
    now += 2 * 3600_000;
    expect((await a.inject({ url: '/api/v1/auth/me', headers: { cookie } })).statusCode).toBe(401);
    await a.close();
  });

  it('changes a password: weak ones refused, other sessions ended', async () => {
    const a = await app();
    const first = cookieOf(await login(a, 'mallory', 'another long password'));
    const second = cookieOf(await login(a, 'mallory', 'another long password'));
    const weak = await a.inject({ method: 'POST', url: '/api/v1/auth/password', headers: { cookie: first }, payload: { current: 'another long password', next: 'short' } });
    expect(weak.statusCode).toBe(422);
    const ok = await a.inject({ method: 'POST', url: '/api/v1/auth/password', headers: { cookie: first }, payload: { current: 'another long password', next: 'a much better passphrase' } });
    expect(ok.statusCode).toBe(204);
    expect((await a.inject({ url: '/api/v1/auth/me', headers: { cookie: second } })).statusCode).toBe(401);
    expect((await a.inject({ url: '/api/v1/auth/me', headers: { cookie: cookieOf(ok) } })).statusCode).toBe(200);
    expect((await login(a, 'mallory', 'a much better passphrase')).statusCode).toBe(200);
    await a.close();
  });
});

describe('brute force (B16)', () => {
  it('locks an account after its failures, even for the right password, until attempts refill', async () => {
    const a = await app();
    for (let i = 0; i < 5; i++) expect((await login(a, 'audrey', `guess ${i} guess ${i}`)).statusCode).toBe(401);
    const locked = await login(a, 'audrey', 'auditors read all day');
    expect(locked.statusCode).toBe(429);
    now += 61_000;
    expect((await login(a, 'audrey', 'auditors read all day')).statusCode).toBe(200);
    await a.close();
  });

  it('limits login attempts per address, with Retry-After', async () => {
    const a = await app({ loginPerIpPerMinute: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await login(a, 'nobody', 'x')).statusCode);
    expect(codes).toEqual([401, 401, 401, 429, 429]);
    const res = await login(a, 'nobody', 'x');
    expect(res.headers['retry-after']).toBeDefined();
    await a.close();
  });
});

describe('API tokens (B15)', () => {
  it('accepts a valid token and refuses malformed, unknown and revoked ones with 401', async () => {
    const a = await app();
    const { id, token } = await createApiToken(db, { name: 'grafana', role: 'auditor', siteId: null, createdBy: null }, now);
    expect((await a.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } })).json()).toMatchObject({ kind: 'token', name: 'grafana', role: 'auditor' });
    for (const h of ['Bearer', 'Bearer fac_wrong', `Basic ${token}`, 'Bearer eyJhbGciOiJub25lIn0.eyJyb2xlIjoiYWRtaW4ifQ.']) {
      expect((await a.inject({ url: '/api/v1/auth/me', headers: { authorization: h } })).statusCode).toBe(401);
    }
    await db.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', id).execute();
    expect((await a.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
    await a.close();
  });

  it('keeps a read-only token out of writes and out of admin routes', async () => {
    const a = await app();
    const { token } = await createApiToken(db, { name: 'reports', role: 'auditor', siteId: null, createdBy: null }, now);
    const res = await a.inject({ method: 'POST', url: '/api/v1/tokens', headers: { authorization: `Bearer ${token}` }, payload: { name: 'x', role: 'admin' } });
    expect(res.statusCode).toBe(403);
    await a.close();
  });
});

describe('input limits and headers (B13, B14, B16)', () => {
  it('refuses unknown body fields and unknown query parameters with 400 and the list of errors', async () => {
    const a = await app();
    const res = await a.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: 'x', role: 'admin', __proto__: { admin: true } } });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ errors: unknown[] }>().errors.length).toBeGreaterThan(0);
    const q = await a.inject({ url: '/api/v1/auth/me?debug=1', headers: { cookie: cookieOf(await login(a, 'alice', 'correct horse battery')) } });
    expect(q.statusCode).toBe(400);
    await a.close();
  });

  it('refuses a body over 1 MiB with 413, as a problem', async () => {
    const a = await app();
    const res = await a.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: `{"username":"${'x'.repeat(1024 * 1024)}","password":"x"}` });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    await a.close();
  });

  it('sends security headers and no stack traces, and titles problems in the caller’s language', async () => {
    const a = await app();
    const res = await a.inject({ url: '/api/v1/nothing-here', headers: { 'accept-language': 'zh-CN,zh;q=0.9' } });
    expect(res.statusCode).toBe(404);
    expect(res.json<{ title: string }>().title).toBe('未找到');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(String(res.headers['content-security-policy'])).toMatch(/default-src 'self'/);
    expect(String(res.headers['content-security-policy'])).not.toMatch(/upgrade-insecure-requests/);
    expect(res.body).not.toMatch(/at .*\.ts:\d+/);
    await a.close();
  });

  it('serves the OpenAPI document and its UI without login', async () => {
    const a = await app();
    const doc = await a.inject({ url: '/docs/json' });
    expect(doc.statusCode).toBe(200);
    const paths = Object.keys(doc.json<{ paths: Record<string, unknown> }>().paths);
    expect(paths).toContain('/api/v1/auth/login');
    expect((await a.inject({ url: '/docs/' })).statusCode).toBe(200);
    await a.close();
  });
});

describe('first run', () => {
  it('creates an administrator with a generated password shown once and kept in a private file', async () => {
    const d = mkdtempSync(join(tmpdir(), 'of-first-'));
    const fdb = openSqlite(join(d, 'server.db'));
    await migrate(fdb);
    const file = join(d, 'initial-admin-password.txt');
    const r = await ensureAdmin(fdb, { env: {}, clock, passwordFile: file, passwordParams: FAST });
    expect(r?.username).toBe('admin');
    expect(r?.generatedPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(readFileSync(file, 'utf8')).toBe(`admin\n${r!.generatedPassword!}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await ensureAdmin(fdb, { env: {}, clock, passwordFile: file })).toBeNull();
    await fdb.destroy();
    // From the environment: no file, and a weak password is refused.
    const fdb2 = openSqlite(join(d, 'server2.db'));
    await migrate(fdb2);
    await expect(ensureAdmin(fdb2, { env: { FACILITY_ADMIN_PASSWORD: 'admin' }, clock, passwordFile: file })).rejects.toThrow(/too weak/);
    const r2 = await ensureAdmin(fdb2, { env: { FACILITY_ADMIN_PASSWORD: 'a long enough secret', FACILITY_ADMIN_USERNAME: 'root' }, clock, passwordFile: file, passwordParams: FAST });
    expect(r2).toEqual({ username: 'root', generatedPassword: null, passwordFile: null });
    await fdb2.destroy();
    rmSync(d, { recursive: true, force: true });
  });
});
