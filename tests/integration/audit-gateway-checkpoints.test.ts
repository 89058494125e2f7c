/**
 * Issue 10: the gateway's checkpoints leave the gateway. A real Journal (writer
 * thread, signing key) and its CheckpointShipper talk to a real server
 * (makeTestServer, through app.inject): checkpoints arrive with their keys, a
 * forged or forked checkpoint is refused (409) and recorded as an alarm, one
 * signed by a key never announced is refused (422), and with the server away
 * the shipper retries and catches up once it is back.
 */
import { generateKeyPairSync, sign as edSign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkpointBody, keyIdOf, rawPublicKey } from '../../core/audit/checkpoint.js';
import type { JournalRecord, OccupancySignal, SignalClass } from '../../core/signals.js';
import { fetchServerRecord, runAuditVerify } from '../../cli/audit.js';
import { readAuditKey } from '../../gateway/journal/audit-keys.js';
import { CheckpointShipper } from '../../gateway/journal/checkpoint-shipper.js';
import { Journal, type AppendOutcome } from '../../gateway/journal/journal.js';
import { makeTestServer, type TestServer } from '../harness/server.js';

const silent = pino({ level: 'silent' });
const SITE = 'test-site';

let s: TestServer;
let token: string;
let dir: string;
let journal: Journal | null = null;
let shipper: CheckpointShipper | null = null;
let serverDown = false;
let now = 1_764_061_200_000;
const clock = { now: () => now };

/** fetch over app.inject, failing like a refused connection while the server is "down". */
const injectFetch: typeof fetch = async (input, init) => {
  if (serverDown) throw new TypeError('fetch failed: connect ECONNREFUSED');
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const res = await s.app.inject({
    method: (init?.method ?? 'GET') as 'GET',
    url: url.pathname + url.search,
    headers: Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>)),
    ...(typeof init?.body === 'string' && { payload: init.body }),
  });
  return new Response(res.body, { status: res.statusCode, headers: { 'content-type': String(res.headers['content-type'] ?? 'application/json') } });
};

beforeEach(async () => {
  s = await makeTestServer();
  token = await s.tokenFor('gateway');
  dir = mkdtempSync(join(tmpdir(), 'gw-checkpoints-'));
  serverDown = false;
  journal = new Journal({
    path: join(dir, 'journal.db'),
    site: SITE,
    maxPending: 1_000_000,
    maxRejects: 100,
    clock,
    logger: silent,
    sink: null,
    audit: { keyPath: join(dir, 'audit-key.pem'), checkpointEveryMs: 3_600_000 },
  });
  await journal.start();
  shipper = new CheckpointShipper({ journalPath: join(dir, 'journal.db'), site: SITE, serverUrl: 'http://server.test', token, clock, logger: silent, fetch: injectFetch, retryMs: 60_000 });
});

afterEach(async () => {
  await shipper?.stop();
  await journal?.stop();
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const occ = (seq: number): OccupancySignal => ({
  kind: 'occupancy', key: `d1:1:${seq}`, site: SITE, device: 'd1', deviceKind: 'occupancy-sensor', space: 's', target: null, seq, ts: 1_000 + seq, tsSource: 'device', occupied: seq % 2 === 0,
});

function append(rec: JournalRecord, cls: SignalClass): Promise<AppendOutcome> {
  return new Promise((resolve, reject) => journal!.append(rec, cls, (err, o) => (err ? reject(err) : resolve(o!))));
}

let next = 1;
async function grow(n: number): Promise<number> {
  for (let i = 0; i < n; i++) await append(occ(next++), 'billing');
  now += 60_000;
  return (await journal!.checkpoint()).checkpoint.size;
}

interface Kept {
  gatewayId: string;
  keys: { keyId: string; publicKey: string }[];
  latest: { size: number; root: string } | null;
  checkpoints: { origin: string; size: number; root: string; time: number; keyId: string; sig: string; receivedAt: number }[];
  alarms: { code: string; detail: string }[];
}

async function kept(): Promise<Kept> {
  const gws = (await s.request('admin', 'GET', '/api/v1/gateways')).json<{ gateways: { id: string }[] }>();
  expect(gws.gateways).toHaveLength(1);
  const res = await s.request('auditor', 'GET', `/api/v1/gateways/${gws.gateways[0]!.id}/checkpoints`);
  expect(res.statusCode).toBe(200);
  return res.json<Kept>();
}

const asGateway = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
  s.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload !== undefined && { payload: payload as Record<string, unknown> }) });

describe('gateway checkpoints at the server', () => {
  it('every checkpoint arrives with the key that signed it, each extending the one before (consistency proof checked)', async () => {
    shipper!.start();
    expect(await grow(10)).toBe(11); // the audit_key record, then ten signals
    await shipper!.sync();
    expect(await grow(7)).toBe(18);
    expect(await grow(30)).toBe(48);
    const st = await shipper!.sync();
    expect(st).toMatchObject({ acknowledgedSize: 48, pending: 0, lastError: null });
    const k = await kept();
    const key = readAuditKey(join(dir, 'audit-key.pem'));
    expect(k.keys).toEqual([expect.objectContaining({ keyId: keyIdOf(key), publicKey: rawPublicKey(key).toString('base64') })]);
    expect(k.checkpoints.map((c) => c.size)).toEqual([11, 18, 48]);
    expect(k.latest?.size).toBe(48);
    expect(k.alarms).toEqual([]);
    // The same checkpoint again is acknowledged (200), not kept twice.
    const c48 = k.checkpoints[2]!;
    const again = await asGateway('POST', '/api/v1/gateways/me/checkpoints', { checkpoint: { origin: c48.origin, size: c48.size, root: c48.root, time: c48.time, keyId: c48.keyId, sig: c48.sig } });
    expect(again.statusCode).toBe(200);
    // Key announcements and checkpoints are in the server's change log (and so its own audit log).
    const changes = await s.changesAfter(0);
    expect(changes.filter((c) => c.entity === 'gateway_checkpoint').map((c) => c.entityId)).toEqual([`${k.gatewayId}/11`, `${k.gatewayId}/18`, `${k.gatewayId}/48`]);
    expect(changes.filter((c) => c.entity === 'gateway_key')).toHaveLength(1);
  });

  it('with the server away, ingest goes on and the shipper catches up once it is back', async () => {
    shipper!.start();
    serverDown = true;
    await grow(5);
    await grow(5);
    const down = await shipper!.sync();
    expect(down.lastError).toMatch(/ECONNREFUSED/);
    expect(down.acknowledgedSize).toBeNull();
    // Appending and signing never waited on the server.
    expect(await grow(5)).toBe(16);
    serverDown = false;
    const up = await shipper!.sync();
    expect(up).toMatchObject({ acknowledgedSize: 16, pending: 0, lastError: null });
    expect((await kept()).checkpoints.map((c) => c.size)).toEqual([6, 11, 16]);
  });

  it('refuses a forged checkpoint, a forked one and a rollback (409, alarm recorded), and one signed by a key never announced (422)', async () => {
    shipper!.start();
    await grow(20);
    await shipper!.sync();
    const k0 = await kept();
    const { receivedAt, ...latest } = k0.checkpoints[0]!;
    expect(receivedAt).toBe(s.clock.now());
    const key = readAuditKey(join(dir, 'audit-key.pem'));
    const otherRoot = Buffer.alloc(32, 7).toString('base64');
    const sign = (c: { size: number; root: string; time: number }, k = key) => {
      const body = checkpointBody({ origin: `openfacility/${SITE}`, size: c.size, root: Buffer.from(c.root, 'base64'), time: c.time });
      return { origin: `openfacility/${SITE}`, ...c, keyId: keyIdOf(k), sig: edSign(null, Buffer.from(body), k).toString('base64') };
    };
    const post = (checkpoint: unknown, proof?: unknown) => asGateway('POST', '/api/v1/gateways/me/checkpoints', { checkpoint, ...(proof !== undefined && { proof }) });

    // Forged: a root changed under the gateway's signature.
    const forged = await post({ ...latest, root: otherRoot });
    expect(forged.statusCode).toBe(409);
    expect(forged.json()).toMatchObject({ code: 'bad_signature' });
    // Forked: the gateway's own key, another root for the size kept (a second history).
    const fork = await post(sign({ size: latest.size, root: otherRoot, time: latest.time + 1 }));
    expect(fork.statusCode).toBe(409);
    expect(fork.json()).toMatchObject({ code: 'fork' });
    // A larger log that does not extend the kept one (the proof does not check out).
    const bogus = await post(sign({ size: latest.size + 5, root: otherRoot, time: latest.time + 2 }), { fromSize: latest.size, hashes: [otherRoot, otherRoot] });
    expect(bogus.statusCode).toBe(409);
    expect(bogus.json()).toMatchObject({ code: 'not_consistent' });
    // A smaller log never seen: rolled back.
    const rollback = await post(sign({ size: 3, root: otherRoot, time: latest.time + 3 }));
    expect(rollback.statusCode).toBe(409);
    expect(rollback.json()).toMatchObject({ code: 'rollback' });
    // A larger log without a proof: the gateway is told which proof to send; no alarm.
    const noProof = await post(sign({ size: latest.size + 5, root: otherRoot, time: latest.time + 4 }));
    expect(noProof.statusCode).toBe(409);
    expect(noProof.json()).toMatchObject({ code: 'proof_needed' });
    // A key never announced: refused, whatever it signed.
    const stranger = generateKeyPairSync('ed25519').privateKey;
    const unknown = await post(sign({ size: latest.size + 5, root: otherRoot, time: latest.time + 5 }, stranger));
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json()).toMatchObject({ code: 'unknown_key' });

    const k1 = await kept();
    expect(k1.checkpoints.map((c) => c.size)).toEqual([latest.size]);
    expect(k1.alarms.map((a) => a.code)).toEqual(['bad_signature', 'fork', 'not_consistent', 'rollback']);
    const changes = await s.changesAfter(0);
    expect(changes.filter((c) => c.entity === 'gateway_alarm')).toHaveLength(4);

    // The real log goes on and is still accepted.
    await grow(3);
    expect(await shipper!.sync()).toMatchObject({ acknowledgedSize: 24, lastError: null });
  });

  it('a journal started afresh (another history) is refused as a fork, and the shipper says so', async () => {
    shipper!.start();
    await grow(9);
    await shipper!.sync();
    await shipper!.stop();
    await journal!.stop();
    // Same key, same site, a new journal with other entries: sizes the server kept get other roots.
    rmSync(join(dir, 'journal.db'));
    rmSync(join(dir, 'journal.db-wal'), { force: true });
    rmSync(join(dir, 'journal.db-shm'), { force: true });
    journal = new Journal({ path: join(dir, 'journal.db'), site: SITE, maxPending: 1_000_000, maxRejects: 100, clock, logger: silent, sink: null, audit: { keyPath: join(dir, 'audit-key.pem'), checkpointEveryMs: 3_600_000 } });
    await journal.start();
    next = 500;
    await grow(30);
    shipper = new CheckpointShipper({ journalPath: join(dir, 'journal.db'), site: SITE, serverUrl: 'http://server.test', token, clock, logger: silent, fetch: injectFetch, retryMs: 60_000 });
    shipper.start();
    const st = await shipper.sync();
    expect(st.lastError).toMatch(/not_consistent/);
    // Retried, the same refused checkpoint raises its alarm once.
    expect((await shipper.sync()).lastError).toMatch(/not_consistent/);
    expect((await kept()).alarms.map((a) => a.code)).toEqual(['not_consistent']);
  });

  it('facility audit verify --server: the keys the server recorded are the trusted ones, and a journal rewritten whole on the gateway differs from the checkpoints the server kept', async () => {
    shipper!.start();
    await grow(12);
    await grow(4);
    await shipper!.sync();
    const record = await fetchServerRecord('http://server.test', token, 'me', injectFetch);
    expect(record.checkpoints.map((c) => c.size)).toEqual([13, 17]);
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), progress: () => undefined };
    expect(runAuditVerify(join(dir, 'journal.db'), io, undefined, [], record)).toBe(0);
    expect(out.join('\n')).toMatch(/The server keeps 2 checkpoints \(0 not in the journal as they are\) and 1 keys, trusted/);

    // Someone with the disk (and so the key) replaces the journal with another history, consistent in itself.
    await shipper!.stop();
    shipper = null;
    await journal!.stop();
    for (const f of ['journal.db', 'journal.db-wal', 'journal.db-shm']) rmSync(join(dir, f), { force: true });
    journal = new Journal({ path: join(dir, 'journal.db'), site: SITE, maxPending: 1_000_000, maxRejects: 100, clock, logger: silent, sink: null, audit: { keyPath: join(dir, 'audit-key.pem'), checkpointEveryMs: 3_600_000 } });
    await journal.start();
    next = 900;
    await grow(20);
    await journal.stop();
    journal = null;
    out.length = 0;
    expect(runAuditVerify(join(dir, 'journal.db'), io)).toBe(0); // alone, it verifies
    out.length = 0;
    expect(runAuditVerify(join(dir, 'journal.db'), io, undefined, [], record)).toBe(1);
    expect(out.find((l) => l.startsWith('BROKEN'))).toMatch(/checkpoint of size 13: its root .* differs from the log rebuilt/);
  });

  it('a gateway names only itself; staff read, only gateways write', async () => {
    const other = await asGateway('GET', '/api/v1/gateways/gwy_someone_else/checkpoints');
    expect(other.statusCode).toBe(404);
    const mine = await asGateway('GET', '/api/v1/gateways/me/checkpoints');
    expect(mine.statusCode).toBe(200);
    expect(mine.json()).toMatchObject({ siteId: SITE, keys: [], checkpoints: [], latest: null, alarms: [] });
    const { gatewayId } = mine.json<{ gatewayId: string }>();
    expect((await asGateway('GET', `/api/v1/gateways/${gatewayId}/checkpoints`)).statusCode).toBe(200);
    expect((await s.request('admin', 'POST', `/api/v1/gateways/${gatewayId}/keys`, { keys: [] })).statusCode).toBe(403);
    expect((await s.request('memberA', 'GET', `/api/v1/gateways/${gatewayId}/checkpoints`)).statusCode).toBe(403);
    // A key id that is not the key's own is refused.
    const k = generateKeyPairSync('ed25519').privateKey;
    const bad = await asGateway('POST', '/api/v1/gateways/me/keys', { keys: [{ keyId: '0000000000000000', publicKey: rawPublicKey(k).toString('base64'), createdAt: now, retiredAt: null }] });
    expect(bad.statusCode).toBe(422);
  });
});
