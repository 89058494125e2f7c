/**
 * The server's audit log over HTTP (docs/audit.md): every write is logged,
 * checkpoints are signed, proofs verify with the independent verifier, a
 * witness cosigns, and tampering of each kind (an edited table row, an edited,
 * removed or inserted log entry, a re-signed checkpoint, a truncated tail) is
 * found and located by GET /audit/verify. A1, A2, A5, A6 of the test catalogue.
 */
import { generateKeyPairSync } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { keyIdOf, rawPublicKey, witnessCosign, type WitnessState } from '../../core/audit/checkpoint.js';
import { verifierLeafHash, verifyConsistency, verifyInclusion } from '../../core/audit/rfc9162-verify.js';
import { signedOf, type StoredCheckpoint } from '../../server/audit/log.js';
import { makeTestServer, type TestServer } from '../harness/server.js';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
async function server(): Promise<TestServer> {
  const s = await makeTestServer();
  servers.push(s);
  return s;
}

interface Verify { ok: boolean; entries: number; problems: { kind: string; entry: number | null; detail: string }[] }
type Cp = StoredCheckpoint & { origin: string };

/** A few writes through the API, and a checkpoint after them. */
async function busy(s: TestServer): Promise<Cp> {
  expect((await s.request('manager', 'PATCH', `/api/v1/members/${s.seed.members.a}`, { nameZh: '张三丰' })).statusCode).toBe(200);
  const card = { versions: [{ effectiveFrom: '2026-01-01', rates: [{ resourceClass: 'machine:laser-cutter', unit: 'hour', priceMinor: 3000, referencePriceMinor: 12_000 }] }] };
  expect((await s.request('admin', 'PUT', '/api/v1/rate-card', card)).statusCode).toBe(201);
  expect((await s.request('manager', 'POST', '/api/v1/teams', { name: 'Gamma', registeredOn: '2026-11-01' })).statusCode).toBe(201);
  const cp = await s.request('manager', 'POST', '/api/v1/audit/checkpoints', {});
  expect(cp.statusCode).toBe(201);
  return cp.json<Cp>();
}
const verify = async (s: TestServer) => (await s.request('auditor', 'GET', '/api/v1/audit/verify')).json<Verify>();
/** Removes the log's guards, as someone with the database file could. */
const unguard = async (s: TestServer) => {
  for (const t of ['audit_log_no_update', 'audit_log_no_delete', 'audit_checkpoints_keep', 'audit_checkpoints_no_delete']) await sql.raw(`DROP TRIGGER ${t}`).execute(s.db);
};

describe('the log and its checkpoints', () => {
  it('logs every write, signs a checkpoint over it, and an untouched log verifies', async () => {
    const s = await server();
    const cp = await busy(s);
    const entries = (await s.request('auditor', 'GET', '/api/v1/audit/entries?limit=5000')).json<{ entry: number; source: string; body: string }[]>();
    expect(cp.size).toBe(entries.length);
    // The three writes (member, rate card + its change, team) are the newest entries.
    expect(entries.slice(-4).map((e) => [e.source, (JSON.parse(e.body) as { entity?: string }).entity ?? null])).toEqual([
      ['change', 'member'],
      ['rate_card', null],
      ['change', 'rate_card'],
      ['change', 'team'],
    ]);
    expect(cp.body).toBe(`openfacility-checkpoint/v1\norigin openfacility/test-site\nsize ${cp.size}\nroot ${cp.root}\ntime ${cp.time}\n`);
    expect(await verify(s)).toMatchObject({ ok: true, entries: cp.size, problems: [] });
    // Nothing new: asking again gives the same checkpoint.
    expect((await s.request('manager', 'POST', '/api/v1/audit/checkpoints', {})).json<Cp>().size).toBe(cp.size);
    expect((await s.request('memberA', 'GET', '/api/v1/audit/checkpoints')).statusCode).toBe(403);
  });

  it('gives inclusion and consistency proofs that the independent verifier accepts', async () => {
    const s = await server();
    const first = await busy(s);
    await s.request('manager', 'PATCH', `/api/v1/members/${s.seed.members.b}`, { nameZh: '李四光' });
    const second = (await s.request('manager', 'POST', '/api/v1/audit/checkpoints', {})).json<Cp>();
    expect(second.size).toBeGreaterThan(first.size);
    const entries = (await s.request('auditor', 'GET', '/api/v1/audit/entries?limit=5000')).json<{ entry: number; body: string }[]>();
    for (const e of entries) {
      const p = (await s.request('auditor', 'GET', `/api/v1/audit/proofs/inclusion?entry=${e.entry}&size=${second.size}`)).json<{ leafIndex: number; path: string[] }>();
      expect(verifyInclusion(verifierLeafHash(Buffer.from(e.body)), p.leafIndex, second.size, p.path.map((x) => Buffer.from(x, 'base64')), Buffer.from(second.root, 'base64'))).toBe(true);
    }
    const c = (await s.request('auditor', 'GET', `/api/v1/audit/proofs/consistency?from=${first.size}&to=${second.size}`)).json<{ proof: string[] }>();
    expect(verifyConsistency(first.size, second.size, Buffer.from(first.root, 'base64'), Buffer.from(second.root, 'base64'), c.proof.map((x) => Buffer.from(x, 'base64')))).toBe(true);
    expect((await s.request('auditor', 'GET', `/api/v1/audit/proofs/inclusion?entry=${second.size + 1}&size=${second.size}`)).statusCode).toBe(422);
  });

  it('a witness cosigns only a log that grew; its cosignature is kept with the checkpoint; a forged one is refused', async () => {
    const s = await server();
    const first = await busy(s);
    const keys = new Map((await s.request('auditor', 'GET', '/api/v1/audit/keys')).json<{ keyId: string; publicKey: string }[]>().map((k) => [k.keyId, k.publicKey]));
    const { publicKeyFromRaw } = await import('../../core/audit/checkpoint.js');
    const logKeys = new Map([...keys].map(([id, raw]) => [id, publicKeyFromRaw(raw)]));
    const witness = generateKeyPairSync('ed25519');
    let state: WitnessState = {};
    const a = witnessCosign(state, signedOf(first, first.origin), logKeys, [], witness.privateKey, Date.now());
    if (!a.ok) throw new Error(a.detail);
    state = a.state;
    const co = a.cosigned.cosignatures[0]!;
    const attach = await s.request('manager', 'POST', `/api/v1/audit/checkpoints/${first.size}/cosignatures`, { publicKey: rawPublicKey(witness.publicKey).toString('base64'), sig: co.sig, time: co.time });
    expect(attach.statusCode).toBe(201);
    expect(attach.json<Cp>().cosignatures).toEqual([{ keyId: keyIdOf(witness.publicKey), sig: co.sig, time: co.time, publicKey: rawPublicKey(witness.publicKey).toString('base64') }]);
    const forged = await s.request('manager', 'POST', `/api/v1/audit/checkpoints/${first.size}/cosignatures`, { publicKey: rawPublicKey(generateKeyPairSync('ed25519').publicKey).toString('base64'), sig: co.sig, time: co.time });
    expect(forged.statusCode).toBe(422);
    // The operator rewrites history and signs a new checkpoint of the same size: the witness refuses it.
    await unguard(s);
    await sql`UPDATE audit_log SET body = replace(body, '张三丰', '王五') WHERE body LIKE '%张三丰%'`.execute(s.db);
    const { appendLeaf, leafHash, MemoryNodeStore, rootAt } = await import('../../core/audit/merkle.js');
    const rebuilt = new MemoryNodeStore();
    for (const e of (await s.db.selectFrom('audit_log').select('body').orderBy('idx').execute())) appendLeaf(rebuilt, leafHash(Buffer.from(e.body)));
    const { signCheckpoint } = await import('../../core/audit/checkpoint.js');
    // (Signed with a key of the operator's — here a fresh one registered as theirs.)
    const opKey = generateKeyPairSync('ed25519');
    logKeys.set(keyIdOf(opKey.publicKey), opKey.publicKey);
    const fork = signCheckpoint({ origin: first.origin, size: first.size, root: rootAt(rebuilt, first.size), time: Date.now() }, opKey.privateKey);
    expect(witnessCosign(state, fork, logKeys, [], witness.privateKey, Date.now())).toMatchObject({ ok: false, reason: 'split-view' });
  });
});

describe('tampering is found and located (A1)', () => {
  it('a table row edited after it was logged', async () => {
    const s = await server();
    await busy(s);
    const change = await s.db.selectFrom('changes').select('id').where('entity', '=', 'team').executeTakeFirstOrThrow();
    await sql`UPDATE changes SET actor = 'user:someone-else' WHERE id = ${change.id}`.execute(s.db);
    const v = await verify(s);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([expect.objectContaining({ kind: 'row-changed', detail: expect.stringContaining(`changes ${change.id} differs from what was logged`) as string })]);
  });

  it('a log entry edited, removed, inserted or two swapped, behind the triggers', async () => {
    for (const tamper of ['edit', 'remove', 'insert', 'swap'] as const) {
      const s = await server();
      const cp = await busy(s);
      await unguard(s);
      const victim = cp.size - 2;
      if (tamper === 'edit') await sql`UPDATE audit_log SET body = replace(body, 'Gamma', 'Gamme') WHERE idx = ${cp.size}`.execute(s.db);
      if (tamper === 'remove') await sql`DELETE FROM audit_log WHERE idx = ${victim}`.execute(s.db);
      if (tamper === 'insert') {
        // Shift the later entries up by one (through negatives: idx is unique) and put a forged one in the gap.
        await sql`UPDATE audit_log SET idx = -(idx + 1) WHERE idx >= ${victim}`.execute(s.db);
        await sql`UPDATE audit_log SET idx = -idx WHERE idx < 0`.execute(s.db);
        await sql`INSERT INTO audit_log (idx, at, source, ref, body) VALUES (${victim}, 1, 'change', '999', '{}')`.execute(s.db);
      }
      if (tamper === 'swap') {
        // Two entries swapped with their hashes: each entry still matches its hash; only the tree gives it away.
        await sql`UPDATE audit_log SET idx = -1 WHERE idx = ${victim}`.execute(s.db);
        await sql`UPDATE audit_log SET idx = ${victim} WHERE idx = ${victim + 1}`.execute(s.db);
        await sql`UPDATE audit_log SET idx = ${victim + 1} WHERE idx = -1`.execute(s.db);
      }
      const v = await verify(s);
      expect(v.ok).toBe(false);
      const first = v.problems[0]!;
      if (tamper === 'swap') expect(v.problems).toEqual([expect.objectContaining({ kind: 'checkpoint-mismatch', entry: cp.size })]);
      if (tamper === 'edit') expect(first).toMatchObject({ kind: 'entry-changed', entry: cp.size });
      if (tamper === 'remove') expect(first).toMatchObject({ kind: 'entry-missing', entry: victim });
      if (tamper === 'insert') expect(first).toMatchObject({ kind: 'entry-inserted', entry: victim });
      expect(v.problems.some((p) => p.kind === 'checkpoint-mismatch' || p.kind === 'checkpoint-beyond-log')).toBe(true);
    }
  });

  it('a checkpoint re-signed or rewritten, and the tail cut after a checkpoint', async () => {
    const s = await server();
    const cp = await busy(s);
    await unguard(s);
    await sql`UPDATE audit_checkpoints SET time = time + 1 WHERE size = ${cp.size}`.execute(s.db);
    expect((await verify(s)).problems).toEqual([expect.objectContaining({ kind: 'checkpoint-signature', entry: cp.size })]);
    await sql`UPDATE audit_checkpoints SET time = time - 1 WHERE size = ${cp.size}`.execute(s.db);
    expect((await verify(s)).ok).toBe(true);
    await sql`DELETE FROM audit_log WHERE idx > ${cp.size - 2}`.execute(s.db);
    const v = await verify(s);
    expect(v.problems.map((p) => p.kind)).toContain('checkpoint-beyond-log');
    expect(v.problems.map((p) => p.kind)).toContain('row-unlogged');
  });
});
