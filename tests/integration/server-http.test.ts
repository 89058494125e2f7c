/** `facility server` over real HTTP: first run prints/keeps the admin password, login works, cookies flow, docs are served. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildConfig } from '../../cli/config.js';
import { startServerOnly } from '../../cli/system.js';

let dir: string;
let server: { httpUrl: string; stop(): Promise<void> };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'of-http-'));
  const log = console.log;
  console.log = () => undefined; // the first-run banner
  try {
    server = await startServerOnly(buildConfig({ dataDir: dir, http: { host: '127.0.0.1', port: 0 } }), pino({ level: 'silent' }));
  } finally {
    console.log = log;
  }
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('logs the first administrator in over HTTP with the generated password, and serves the API docs', async () => {
  const [username, password] = readFileSync(join(dir, 'initial-admin-password.txt'), 'utf8').trim().split('\n');
  const res = await fetch(`${server.httpUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  expect(res.status).toBe(200);
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const me = await fetch(`${server.httpUrl}/api/v1/auth/me`, { headers: { cookie } });
  expect(await me.json()).toMatchObject({ name: 'admin', role: 'admin' });
  const members = await fetch(`${server.httpUrl}/api/v1/members`, { headers: { cookie } });
  expect(members.status).toBe(200);
  expect(await members.json()).toEqual([]);
  expect((await fetch(`${server.httpUrl}/api/v1/members`)).status).toBe(401);
  expect((await fetch(`${server.httpUrl}/docs/`)).status).toBe(200);
});
