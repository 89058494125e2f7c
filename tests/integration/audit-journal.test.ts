/**
 * Issue 10, the gateway half (test catalogue A1, A5): the journal is a Merkle
 * log with signed checkpoints, and `facility audit verify` finds and names
 * every kind of tampering done directly in the SQLite file by another
 * connection. A real Journal with its writer thread, in a temporary directory.
 */
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { keyIdOf, rawPublicKey, signCheckpoint } from '../../core/audit/checkpoint.js';
import { leafHash } from '../../core/audit/merkle.js';
import { verifyJournal, type AuditReport } from '../../core/audit/verify-journal.js';
import type { AuditKeyEvent, HealthSignal, JournalRecord, OccupancySignal, SignalClass } from '../../core/signals.js';
import { rotateAuditKey, runAuditVerify } from '../../cli/audit.js';
import { openJournalAudit } from '../../gateway/journal/audit-source.js';
import { Journal, type AppendOutcome } from '../../gateway/journal/journal.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const silent = pino({ level: 'silent' });
let now = 1_700_000_000_000;
const clock = { now: () => now };

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'audit-journal-'));
  dirs.push(dir);
  return dir;
}

async function open(dir: string, opts: { maxPending?: number; everyMs?: number; audit?: boolean } = {}): Promise<Journal> {
  const j = new Journal({
    path: join(dir, 'journal.db'),
    site: 'demo',
    maxPending: opts.maxPending ?? 1_000_000,
    maxRejects: 100,
    clock,
    logger: silent,
    sink: null,
    ...(opts.audit !== false && { audit: { keyPath: join(dir, 'audit-key.pem'), checkpointEveryMs: opts.everyMs ?? 3_600_000 } }),
  });
  await j.start();
  return j;
}

const occ = (seq: number): OccupancySignal => ({
  kind: 'occupancy', key: `d1:1:${seq}`, site: 'demo', device: 'd1', deviceKind: 'occupancy-sensor', space: 's', target: null, seq, ts: 1_000 + seq, tsSource: 'device', occupied: seq % 2 === 0,
});
const health = (seq: number): HealthSignal => ({
  kind: 'health', key: `d1:9:${seq}`, site: 'demo', device: 'd1', deviceKind: 'occupancy-sensor', space: 's', target: null, seq, ts: 1_000 + seq, tsSource: 'device', online: null, batteryPct: 50, linkQuality: null,
});

function append(j: Journal, rec: JournalRecord, cls: SignalClass): Promise<AppendOutcome> {
  return new Promise((resolve, reject) => j.append(rec, cls, (err, o) => (err ? reject(err) : resolve(o!))));
}

function verify(dir: string, trustedKeys?: ReadonlySet<string>): AuditReport {
  const s = openJournalAudit(join(dir, 'journal.db'));
  try {
    return verifyJournal({ ...s.input, ...(trustedKeys && { trustedKeys }) });
  } finally {
    s.close();
  }
}

function tamper(dir: string, fn: (db: Database.Database) => void): void {
  const db = new Database(join(dir, 'journal.db'));
  try {
    db.transaction(() => fn(db))();
  } finally {
    db.close();
  }
}

/**
 * 1 audit_key record, then occupancy signals 2..151 (seq 2..151), checkpoints at 101 and 151, and
 * 50 more after the last checkpoint (to 201).
 */
async function standardLog(): Promise<string> {
  const dir = tempDir();
  const j = await open(dir);
  for (let i = 2; i <= 101; i++) await append(j, occ(i), 'billing');
  expect((await j.checkpoint()).checkpoint.size).toBe(101);
  await Promise.all(Array.from({ length: 50 }, (_, k) => append(j, occ(102 + k), 'billing')));
  expect((await j.checkpoint()).checkpoint.size).toBe(151);
  await Promise.all(Array.from({ length: 50 }, (_, k) => append(j, occ(152 + k), 'billing')));
  await j.stop();
  return dir;
}

const first = (r: AuditReport) => r.problems[0];

describe('the journal as a Merkle log', () => {
  it('verifies untouched, with the key announced at seq 1 and both checkpoints signed by it', async () => {
    const dir = await standardLog();
    const r = verify(dir);
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ ok: true, size: 201, rows: 201, checkpoints: 2, keys: 1 });
    const db = new Database(join(dir, 'journal.db'), { readonly: true });
    const announce = JSON.parse((db.prepare('SELECT body FROM journal WHERE seq = 1').get() as { body: string }).body) as AuditKeyEvent;
    expect(announce).toMatchObject({ kind: 'system', event: 'audit_key', replaces: null });
    // The leaf of an entry is the hash of its body's bytes exactly as journaled.
    const row = db.prepare('SELECT body FROM journal WHERE seq = 42').get() as { body: string };
    const leaf = db.prepare('SELECT hash FROM merkle_nodes WHERE level = 0 AND idx = 41').get() as { hash: Buffer };
    expect(Buffer.from(leaf.hash).equals(Buffer.from(leafHash(Buffer.from(row.body, 'utf8'))))).toBe(true);
    db.close();
    expect(statSync(join(dir, 'audit-key.pem')).mode & 0o777).toBe(0o600);
  });

  it('finds an edited field and names its entry', async () => {
    const dir = await standardLog();
    tamper(dir, (db) => db.prepare(`UPDATE journal SET body = replace(body, '"occupied":true', '"occupied":false') WHERE seq = 42`).run());
    const r = verify(dir);
    expect(first(r)).toMatchObject({ where: 'entry', seq: 42, key: 'd1:1:42' });
    // And the checkpoint that covered it no longer matches the rebuilt log.
    expect(r.problems.some((p) => p.where === 'checkpoint' && p.checkpointSize === 101)).toBe(true);
  });

  it('finds a deleted entry', async () => {
    const dir = await standardLog();
    tamper(dir, (db) => db.prepare('DELETE FROM journal WHERE seq = 77').run());
    expect(first(verify(dir))).toMatchObject({ where: 'entry', seq: 77, what: expect.stringContaining('missing') as unknown });
  });

  it('finds two swapped entries, naming the first', async () => {
    const dir = await standardLog();
    tamper(dir, (db) => {
      db.prepare('UPDATE journal SET seq = -1 WHERE seq = 60').run();
      db.prepare('UPDATE journal SET seq = 60 WHERE seq = 130').run();
      db.prepare('UPDATE journal SET seq = 130 WHERE seq = -1').run();
    });
    const r = verify(dir);
    expect(first(r)).toMatchObject({ where: 'entry', seq: 60, key: 'd1:1:130' });
    expect(r.problems.filter((p) => p.where === 'entry').map((p) => p.seq)).toEqual([60, 130]);
  });

  it('finds an entry inserted in the middle (the rest renumbered) and one appended at the end', async () => {
    const dir = await standardLog();
    const forged = JSON.stringify(occ(9999));
    tamper(dir, (db) => {
      db.prepare('UPDATE journal SET seq = -seq WHERE seq >= 50').run();
      db.prepare('UPDATE journal SET seq = 1 - seq WHERE seq < 0').run();
      db.prepare('INSERT INTO journal (seq, key, class, ts, at, body) VALUES (50, ?, 1, 0, 0, ?)').run('d1:1:9999', forged);
    });
    expect(first(verify(dir))).toMatchObject({ where: 'entry', seq: 50, key: 'd1:1:9999' });

    const dir2 = await standardLog();
    tamper(dir2, (db) => db.prepare('INSERT INTO journal (seq, key, class, ts, at, body) VALUES (202, ?, 1, 0, 0, ?)').run('d1:1:9999', forged));
    expect(first(verify(dir2))).toMatchObject({ where: 'entry', seq: 202, what: expect.stringContaining('not in the Merkle tree') as unknown });
  });

  it('finds the tail truncated after a checkpoint, rows and tree alike (a consistency failure)', async () => {
    const dir = await standardLog();
    tamper(dir, (db) => {
      db.prepare('DELETE FROM journal WHERE seq > 120').run();
      // Every node over a leaf ≥ index 120, at any level: the tree of 120 leaves is all that is left.
      db.prepare('DELETE FROM merkle_nodes WHERE (idx + 1) * (1 << level) > 120').run();
    });
    const r = verify(dir);
    expect(r.size).toBe(120);
    expect(first(r)).toMatchObject({ where: 'checkpoint', checkpointSize: 151, seq: 121, what: expect.stringContaining('truncated') as unknown });

    // Rows only: the leaves are still there, so the first deleted entry is named.
    const dir2 = await standardLog();
    tamper(dir2, (db) => db.prepare('DELETE FROM journal WHERE seq > 180').run());
    expect(first(verify(dir2))).toMatchObject({ where: 'entry', seq: 181 });
  });

  it('rejects a rewritten checkpoint, and one re-signed by a key the log never announced', async () => {
    const dir = await standardLog();
    tamper(dir, (db) => db.prepare('UPDATE checkpoints SET time = time + 1 WHERE size = 101').run());
    expect(first(verify(dir))).toMatchObject({ where: 'checkpoint', checkpointSize: 101, what: expect.stringContaining('does not match') as unknown });

    // An attacker edits an entry, rebuilds the tree, and re-signs with their own key, even adding it to audit_keys.
    const dir2 = await standardLog();
    const { privateKey } = generateKeyPairSync('ed25519');
    const forgedRoot = Buffer.alloc(32, 7);
    const s = signCheckpoint({ origin: 'openfacility/demo', size: 151, root: forgedRoot, time: now }, privateKey);
    tamper(dir2, (db) => {
      db.prepare('UPDATE checkpoints SET root = ?, key_id = ?, sig = ? WHERE size = 151').run(forgedRoot, s.signature.keyId, s.signature.sig);
      db.prepare('INSERT INTO audit_keys (key_id, public_key, created_at) VALUES (?, ?, 0)').run(keyIdOf(privateKey), rawPublicKey(privateKey).toString('base64'));
    });
    const r = verify(dir2);
    expect(r.ok).toBe(false);
    expect(r.problems.some((p) => p.where === 'key' && p.what.includes('not announced'))).toBe(true);
    expect(r.problems.some((p) => p.where === 'checkpoint' && p.checkpointSize === 151 && p.what.includes('unknown key'))).toBe(true);
  });

  it('keeps the leaves of shed telemetry: declared by the telemetry_shed record, the log verifies; a billing row deleted beside them does not', async () => {
    const dir = tempDir();
    const j = await open(dir, { maxPending: 100 });
    for (let i = 0; i < 60; i++) await append(j, health(i), 'telemetry');
    for (let i = 0; i < 39; i++) await append(j, occ(i), 'billing');
    await append(j, occ(100), 'billing');
    expect(j.stats().shed).toBeGreaterThan(0);
    await j.checkpoint();
    await j.stop();
    const r = verify(dir);
    expect(r.problems).toEqual([]);
    expect(r.shedDeclared).toBe(j.stats().shed);
    expect(r.size).toBe(r.rows + r.shedDeclared);

    tamper(dir, (db) => db.prepare('DELETE FROM journal WHERE seq = (SELECT min(seq) FROM journal WHERE class = 1)').run());
    expect(verify(dir).ok).toBe(false);
  });

  it('signs checkpoints on its own every checkpointEveryMs, only when something was appended, and reports the newest', async () => {
    const dir = tempDir();
    const j = await open(dir, { everyMs: 100 });
    await append(j, occ(1), 'billing');
    const waitFor = async (cond: () => boolean) => {
      for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
    };
    await waitFor(() => j.lastCheckpoint()?.size === 2);
    expect(j.lastCheckpoint()).toMatchObject({ size: 2, time: now });
    await new Promise((r) => setTimeout(r, 350));
    await j.stop();
    const db = new Database(join(dir, 'journal.db'), { readonly: true });
    expect(db.prepare('SELECT size FROM checkpoints').all()).toEqual([{ size: 2 }]);
    db.close();
  });
});

describe('key rotation (A5)', () => {
  it('retires the old key, announces the new one in the log; old checkpoints verify with the old key, new ones with the new', async () => {
    const dir = tempDir();
    const j = await open(dir);
    for (let i = 0; i < 20; i++) await append(j, occ(i), 'billing');
    const before = await j.checkpoint();
    await j.stop();

    now += 60_000;
    const rotated = await rotateAuditKey({ dataDir: dir, siteId: 'demo', logger: silent, now: clock.now });
    expect(rotated.retired).toBe(before.signature.keyId);
    expect(rotated.current).not.toBe(before.signature.keyId);
    expect(rotated.checkpoint.signature.keyId).toBe(rotated.current);

    now += 60_000;
    const j2 = await open(dir);
    for (let i = 20; i < 40; i++) await append(j2, occ(i), 'billing');
    const after = await j2.checkpoint();
    await j2.stop();
    expect(after.signature.keyId).toBe(rotated.current);

    const db = new Database(join(dir, 'journal.db'), { readonly: true });
    const keys = db.prepare('SELECT key_id, retired_at FROM audit_keys ORDER BY created_at').all();
    expect(keys).toEqual([
      { key_id: before.signature.keyId, retired_at: now - 60_000 },
      { key_id: rotated.current, retired_at: null },
    ]);
    const announcements = (db.prepare(`SELECT body FROM journal WHERE body LIKE '%"event":"audit_key"%' ORDER BY seq`).all() as { body: string }[]).map((r) => JSON.parse(r.body) as AuditKeyEvent);
    expect(announcements.map((a) => [a.keyId, a.replaces])).toEqual([
      [before.signature.keyId, null],
      [rotated.current, before.signature.keyId],
    ]);
    db.close();

    const r = verify(dir);
    expect(r.problems).toEqual([]);
    expect(r.checkpoints).toBe(3);
    // Trusting only the new key (as told by someone else), the old checkpoint is refused.
    const onlyNew = verify(dir, new Set([rotated.current]));
    expect(onlyNew.problems.map((p) => p.checkpointSize)).toEqual([before.checkpoint.size]);
  });

  it('a running gateway takes a key rotated beside it at its next checkpoint', async () => {
    const dir = tempDir();
    const j = await open(dir);
    await append(j, occ(1), 'billing');
    const a = await j.checkpoint();
    const rotated = await rotateAuditKey({ dataDir: dir, siteId: 'demo', logger: silent, now: clock.now });
    // The running writer notices the other connection's commit: its tree and counts stay right.
    expect(await append(j, occ(2), 'billing')).toEqual({ stored: true, seq: 4 });
    const b = await j.checkpoint();
    await j.stop();
    expect(b.signature.keyId).toBe(rotated.current);
    expect(b.signature.keyId).not.toBe(a.signature.keyId);
    expect(verify(dir).problems).toEqual([]);
  });
});

describe('audit key records in InfluxDB', () => {
  it('writes the announcement of the first key and of a key rotated beside the running gateway', async () => {
    // InfluxDB played by a small HTTP server that keeps every line written.
    const lines: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        lines.push(...body.split('\n').filter((l) => l !== ''));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = tempDir();
    const j = new Journal({
      path: join(dir, 'journal.db'),
      site: 'demo',
      maxPending: 1_000_000,
      maxRejects: 100,
      clock,
      logger: silent,
      logLevel: 'silent',
      sink: { url, db: 'test', token: null, username: null, password: null, batchSize: 1000, lingerMs: 0, minBackoffMs: 20, maxBackoffMs: 50, alarmAfterMs: 1000 },
      audit: { keyPath: join(dir, 'audit-key.pem'), checkpointEveryMs: 3_600_000 },
    });
    await j.start();
    try {
      await append(j, occ(1), 'billing');
      const first = await j.checkpoint();
      const rotated = await rotateAuditKey({ dataDir: dir, siteId: 'demo', logger: silent, now: clock.now });
      await append(j, occ(2), 'billing');
      expect((await j.checkpoint()).signature.keyId).toBe(rotated.current);
      expect(await j.sinkDrained(10_000)).toBe(true);
      const keyLines = lines.filter((l) => l.startsWith('gateway_event,event=audit_key,'));
      expect(keyLines).toHaveLength(2);
      expect(keyLines[0]).toContain(`key_id="${first.signature.keyId}"`);
      expect(keyLines[1]).toContain(`key_id="${rotated.current}"`);
      expect(keyLines[1]).toContain(`replaces="${first.signature.keyId}"`);
      expect(lines.filter((l) => l.startsWith('occupancy,'))).toHaveLength(2);
    } finally {
      await j.stop();
      server.close();
    }
  });
});

describe('upgrade and crash safety', () => {
  it('upgrades a v1 journal by hashing its rows in seq order, a marker leaf for each seq shed before', async () => {
    const dir = tempDir();
    const db = new Database(join(dir, 'journal.db'));
    db.exec(`CREATE TABLE journal (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, class INTEGER NOT NULL, ts INTEGER NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE TABLE cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
      CREATE TABLE rejects (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, device TEXT, topic TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, payload BLOB NOT NULL);`);
    const put = db.prepare('INSERT INTO journal (seq, key, class, ts, at, body) VALUES (?, ?, ?, ?, 0, ?)');
    for (let seq = 1; seq <= 10; seq++) if (seq !== 4 && seq !== 5) put.run(seq, `k${seq}`, seq <= 5 ? 2 : 1, seq, JSON.stringify(seq <= 5 ? health(seq) : occ(seq)));
    const shed = { kind: 'system', key: 'system:telemetry_shed:4-5:0:1', site: 'demo', ts: 0, event: 'telemetry_shed', count: 2, fromSeq: 4, toSeq: 5 };
    put.run(11, shed.key, 3, 0, JSON.stringify(shed));
    db.pragma('user_version = 1');
    db.close();

    const j = await open(dir);
    await append(j, occ(50), 'billing');
    const cp = await j.checkpoint();
    await j.stop();
    // 11 rows' worth of leaves, the key's announcement, and the new record.
    expect(cp.checkpoint.size).toBe(13);
    const check = new Database(join(dir, 'journal.db'), { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    const marker = check.prepare('SELECT hash FROM merkle_nodes WHERE level = 0 AND idx = 3').get() as { hash: Buffer };
    expect(Buffer.from(marker.hash).equals(Buffer.from(leafHash(Buffer.from('openfacility-missing/v1 4'))))).toBe(true);
    check.close();
    expect(verify(dir).problems).toEqual([]);
  });

  it('keeps the tree in step with the rows after a transaction rolls back half-way through a batch', async () => {
    const dir = tempDir();
    const j = await open(dir);
    // Another connection makes any record keyed "poison…" fail inside the writer's transaction.
    tamper(dir, (db) => db.exec(`CREATE TRIGGER poison AFTER INSERT ON journal WHEN NEW.key LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'forced failure'); END;`));
    await append(j, occ(1), 'billing');
    // One batch: two good records (their leaves appended), then the poison one, which rolls all back.
    const batch = await Promise.allSettled([append(j, occ(2), 'billing'), append(j, occ(3), 'billing'), append(j, { ...occ(4), key: 'poison:1' }, 'billing'), append(j, occ(5), 'billing')]);
    expect(batch.map((b) => b.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    // The writer's own rollback changes nothing another connection could see, so only its own reload keeps it right.
    expect(await append(j, occ(2), 'billing')).toEqual({ stored: true, seq: 3 });
    expect(await append(j, occ(3), 'billing')).toEqual({ stored: true, seq: 4 });
    const cp = await j.checkpoint();
    await j.stop();
    expect(cp.checkpoint.size).toBe(4);
    const r = verify(dir);
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ size: 4, rows: 4 });
  });
});

describe('facility audit verify', () => {
  it('answers 0 on an untouched journal, 1 naming the entry on a tampered one, and 1 on a missing file (the command function)', async () => {
    const dir = await standardLog();
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), progress: () => undefined };
    expect(runAuditVerify(join(dir, 'journal.db'), io)).toBe(0);
    expect(lines.at(-1)).toMatch(/^OK: 201 entries \(0 shed by the gateway, declared\), 2 checkpoints, 1 keys/);
    tamper(dir, (db) => db.prepare('DELETE FROM journal WHERE seq = 150').run());
    lines.length = 0;
    expect(runAuditVerify(join(dir, 'journal.db'), io)).toBe(1);
    expect(lines[1]).toBe('BROKEN: first at entry 150: entry 150 is missing (deleted): no telemetry_shed record declares it');
    expect(runAuditVerify(join(dir, 'nothing.db'), io)).toBe(1);
  });

  const run = (journal: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('npx', ['tsx', 'cli/facility.ts', 'audit', 'verify', '--journal', journal], { cwd: process.cwd() }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
      });
    });

  it('exits 0 on an untouched journal and 1 naming the entry on a tampered one (the command)', async () => {
    const dir = await standardLog();
    const ok = await run(join(dir, 'journal.db'));
    expect(ok.stdout + ok.stderr).toMatch(/^OK: 201 entries/m);
    expect(ok.code).toBe(0);
    tamper(dir, (db) => db.prepare(`UPDATE journal SET body = replace(body, '"seq":42', '"seq":43') WHERE seq = 42`).run());
    const bad = await run(join(dir, 'journal.db'));
    expect(bad.stdout + bad.stderr).toMatch(/^BROKEN: first at entry 42 \(key d1:1:42\)/m);
    expect(bad.code).toBe(1);
  }, 60_000);
});
