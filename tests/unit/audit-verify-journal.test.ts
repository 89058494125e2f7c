/**
 * The journal verifier (core/audit/verify-journal.ts) on logs built in memory
 * with the writer (core/audit/merkle.ts): untouched logs of every size up to
 * 70 verify with checkpoints at every size pair (so the verifier's own
 * root and consistency-proof construction agree with the writer's), and each
 * kind of damage is located. The same checks on a real journal file are in
 * tests/integration/audit-journal.test.ts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyIdOf, rawPublicKey, signCheckpoint } from '../../core/audit/checkpoint.js';
import { appendLeaf, leafHash, MemoryNodeStore, rootAt } from '../../core/audit/merkle.js';
import { verifyJournal, type AuditKey, type AuditRow, type StoredCheckpoint } from '../../core/audit/verify-journal.js';
import { fromPoint, toPoint } from '../../core/points.js';
import type { AuditKeyEvent, JournalRecord } from '../../core/signals.js';

const { privateKey } = generateKeyPairSync('ed25519');
const keyId = keyIdOf(privateKey);
const publicKey = rawPublicKey(privateKey).toString('base64');
const announce: AuditKeyEvent = { kind: 'system', key: `system:audit_key:${keyId}`, site: 'demo', ts: 1, event: 'audit_key', keyId, publicKey, replaces: null };
const keys: AuditKey[] = [{ keyId, publicKey, createdAt: 1, retiredAt: null }];

function build(n: number, sizes: readonly number[]) {
  const store = new MemoryNodeStore();
  const rows: AuditRow[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const body = seq === 1 ? JSON.stringify(announce) : JSON.stringify({ kind: 'occupancy', key: `d:1:${seq}`, occupied: seq % 2 === 0 });
    rows.push({ seq, body });
    appendLeaf(store, leafHash(Buffer.from(body)));
  }
  const checkpoints: StoredCheckpoint[] = sizes.map((size, i) => {
    const s = signCheckpoint({ origin: 'openfacility/demo', size, root: rootAt(store, size), time: 10 + i }, privateKey);
    return { size, root: s.checkpoint.root, time: s.checkpoint.time, keyId: s.signature.keyId, sig: s.signature.sig };
  });
  const node = (level: number, index: number) => {
    try {
      return store.get(level, index);
    } catch {
      return null;
    }
  };
  return { store, rows, checkpoints, node };
}

describe('verifyJournal', () => {
  it('accepts every untouched log up to 70 entries, with checkpoints at every pair of sizes', () => {
    for (let n = 1; n <= 70; n++) {
      for (let m = 1; m <= n; m += n > 20 ? 7 : 1) {
        const { rows, checkpoints, node } = build(n, [m, n]);
        const r = verifyJournal({ rows, treeSize: n, node, checkpoints, keys });
        expect(r.problems, `n=${n} m=${m}`).toEqual([]);
      }
    }
  });

  it('names the first edited entry, and the checkpoint that no longer matches', () => {
    const { rows, checkpoints, node } = build(40, [10, 30, 40]);
    rows[20] = { seq: 21, body: rows[20]!.body.replace('"occupied":false', '"occupied":true') };
    const r = verifyJournal({ rows, treeSize: 40, node, checkpoints, keys });
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ where: 'entry', seq: 21, key: 'd:1:21' });
    expect(r.problems.some((p) => p.where === 'checkpoint' && p.checkpointSize === 30 && p.seq === 11)).toBe(true);
  });

  it('names a deleted entry, unless a telemetry_shed record declares it', () => {
    const { rows, checkpoints, node } = build(20, [20]);
    const deleted = rows.filter((r) => r.seq !== 7);
    expect(verifyJournal({ rows: deleted, treeSize: 20, node, checkpoints, keys }).problems[0]).toMatchObject({ seq: 7, what: expect.stringMatching(/missing/) as unknown });
  });

  it('rejects a checkpoint signed by an unknown key', () => {
    const { rows, checkpoints, node } = build(8, [8]);
    const other = generateKeyPairSync('ed25519').privateKey;
    const s = signCheckpoint({ origin: 'openfacility/demo', size: 8, root: checkpoints[0]!.root, time: 99 }, other);
    const r = verifyJournal({ rows, treeSize: 8, node, checkpoints: [{ ...checkpoints[0]!, keyId: s.signature.keyId, sig: s.signature.sig }], keys });
    expect(r.problems[0]).toMatchObject({ where: 'checkpoint', what: expect.stringMatching(/unknown key/) as unknown });
  });
});

describe('audit_key records as InfluxDB points', () => {
  it('read back exactly, with and without a key they replace', () => {
    const readBack = (r: JournalRecord) => {
      const p = toPoint(r);
      return fromPoint(p.measurement, { ...p.tags, ...p.fields }, Number(BigInt(p.timeNs) / 1_000_000n));
    };
    expect(readBack(announce)).toEqual(announce);
    const rotated: AuditKeyEvent = { ...announce, key: 'system:audit_key:x', replaces: keyId };
    expect(readBack(rotated)).toEqual(rotated);
    expect(toPoint(rotated).measurement).toBe('gateway_event');
  });
});
