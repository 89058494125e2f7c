/**
 * The witness against a real server over HTTP (cli/audit-witness.ts, test
 * catalogue A6): it cosigns the newest checkpoint when the log only grew; the
 * auditor's check alarms while the newest checkpoint lacks the witness's
 * cosignature; a checkpoint changed behind the server's back is refused.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rawPublicKey } from '../../core/audit/checkpoint.js';
import { checkCosigned, witnessOnce, type ServerAccess } from '../../cli/audit-witness.js';
import { makeTestServer, type TestServer } from '../harness/server.js';

let s: TestServer;
let dir: string;
let witness: ServerAccess;
let auditor: ServerAccess;
const key = generateKeyPairSync('ed25519');
const pub = rawPublicKey(key.publicKey).toString('base64');

beforeAll(async () => {
  s = await makeTestServer();
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = s.app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('not listening');
  const api = `http://127.0.0.1:${addr.port}/api/v1`;
  // The witness attaches its cosignature through an operator's token (it authenticates itself); the auditor only reads.
  witness = { api, token: await s.tokenFor('manager') };
  auditor = { api, token: await s.tokenFor('auditor') };
  dir = mkdtempSync(join(tmpdir(), 'of-witness-'));
  writeFileSync(join(dir, 'witness.pem'), key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
});

afterAll(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

const run = () => witnessOnce(witness, { keyPath: join(dir, 'witness.pem'), statePath: join(dir, 'state.json'), now: Date.now() });
const write = (nameZh: string) => s.request('manager', 'PATCH', `/api/v1/members/${s.seed.members.a}`, { nameZh });
const checkpoint = async () => (await s.request('manager', 'POST', '/api/v1/audit/checkpoints', {})).json<{ size: number }>();

it('cosigns a log that grows, round after round; the auditor is alarmed while the newest checkpoint is not cosigned', async () => {
  expect(await checkCosigned(auditor, pub)).toMatchObject({ ok: false, detail: expect.stringMatching(/^ALARM: the server has signed no checkpoint/) as string });
  await write('甲');
  const first = await checkpoint();
  expect(await run()).toEqual({ ok: true, cosigned: first.size });
  expect(await checkCosigned(auditor, pub)).toMatchObject({ ok: true });
  expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))).toEqual({ 'openfacility/test-site': { size: first.size, root: expect.any(String) as string } });

  await write('乙');
  const second = await checkpoint();
  expect(second.size).toBeGreaterThan(first.size);
  expect(await checkCosigned(auditor, pub)).toMatchObject({ ok: false, detail: expect.stringContaining(`size ${second.size}) has no valid cosignature`) as string });
  // A cosignature by another key does not quiet the alarm.
  expect(await checkCosigned(auditor, rawPublicKey(generateKeyPairSync('ed25519').publicKey).toString('base64'))).toMatchObject({ ok: false });
  expect(await run()).toEqual({ ok: true, cosigned: second.size });
  expect(await checkCosigned(auditor, pub)).toMatchObject({ ok: true });
});

it('refuses a checkpoint changed behind the server, and keeps its state', async () => {
  await write('丙');
  const third = await checkpoint();
  for (const t of ['audit_checkpoints_keep']) await sql.raw(`DROP TRIGGER ${t}`).execute(s.db);
  await sql`UPDATE audit_checkpoints SET root = ${Buffer.alloc(32, 7).toString('base64')} WHERE size = ${third.size}`.execute(s.db);
  const before = readFileSync(join(dir, 'state.json'), 'utf8');
  expect(await run()).toMatchObject({ ok: false, reason: 'bad-signature' });
  expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe(before);
  expect(await checkCosigned(auditor, pub)).toMatchObject({ ok: false });
});
