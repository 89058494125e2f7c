/** Signed checkpoints, key rotation and the witness (core/audit/checkpoint.ts): A5 and A6 of the test catalogue. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkCosignature,
  checkpointBody,
  checkSignature,
  keyIdOf,
  parseCheckpointBody,
  publicKeyFromRaw,
  rawPublicKey,
  signCheckpoint,
  witnessCosign,
  type Checkpoint,
  type WitnessState,
} from '../../core/audit/checkpoint.js';
import { appendLeaf, consistencyProof, leafHash, MemoryNodeStore, rootAt } from '../../core/audit/merkle.js';

const ed = () => generateKeyPairSync('ed25519');
const T = Date.UTC(2026, 10, 25, 8);

function log(n: number, tamperAt = -1): MemoryNodeStore {
  const s = new MemoryNodeStore();
  for (let i = 0; i < n; i++) appendLeaf(s, leafHash(Buffer.from(i === tamperAt ? 'forged' : `e${i}`)));
  return s;
}
const cp = (store: MemoryNodeStore, size: number, time = T): Checkpoint => ({ origin: 'openfacility/site-a', size, root: rootAt(store, size), time });

describe('checkpoint text', () => {
  it('has one exact form that parses back, and refuses anything else', () => {
    const store = log(5);
    const c = cp(store, 5);
    const body = checkpointBody(c);
    expect(body.split('\n').slice(0, 3)).toEqual(['openfacility-checkpoint/v1', 'origin openfacility/site-a', 'size 5']);
    const back = parseCheckpointBody(body)!;
    expect({ ...back, root: Buffer.from(back.root).toString('hex') }).toEqual({ ...c, root: Buffer.from(c.root).toString('hex') });
    expect(parseCheckpointBody(body.replace('size 5', 'size 05'))).toBeNull();
    expect(parseCheckpointBody(`${body}extra\n`)).toBeNull();
    expect(() => checkpointBody({ ...c, origin: 'bad origin' })).toThrow(/origin/);
  });
});

describe('signatures and key rotation (A5)', () => {
  it('old checkpoints verify with the old key after rotation, new ones with the new key; an unknown key or a changed field is refused', () => {
    const store = log(30);
    const k1 = ed();
    const k2 = ed();
    const old = signCheckpoint(cp(store, 10), k1.privateKey);
    const fresh = signCheckpoint(cp(store, 30), k2.privateKey);
    const keys = new Map([
      [keyIdOf(k1.publicKey), k1.publicKey],
      [keyIdOf(k2.publicKey), k2.publicKey],
    ]);
    expect(checkSignature(old, keys)).toBeNull();
    expect(checkSignature(fresh, keys)).toBeNull();
    // Keys travel as raw 32-byte public keys.
    const again = publicKeyFromRaw(rawPublicKey(k1.publicKey).toString('base64'));
    expect(checkSignature(old, new Map([[keyIdOf(again), again]]))).toBeNull();
    expect(checkSignature(old, new Map([[keyIdOf(k2.publicKey), k2.publicKey]]))).toMatch(/unknown key/);
    const bumped = { ...old, checkpoint: { ...old.checkpoint, size: 11 } };
    expect(checkSignature(bumped, keys)).toMatch(/does not match/);
    const rerooted = { ...old, checkpoint: { ...old.checkpoint, root: rootAt(store, 11) } };
    expect(checkSignature(rerooted, keys)).toMatch(/does not match/);
  });
});

describe('the witness (A6: split view, rollback)', () => {
  const logKey = ed();
  const witness = ed();
  const keys = new Map([[keyIdOf(logKey.publicKey), logKey.publicKey]]);

  it('cosigns a log that only grows; refuses a second root for a size it cosigned, a smaller size, or a history that does not extend', () => {
    const honest = log(100);
    let state: WitnessState = {};
    const first = witnessCosign(state, signCheckpoint(cp(honest, 40), logKey.privateKey), keys, [], witness.privateKey, T);
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    state = first.state;
    expect(checkCosignature(first.cosigned, witness.publicKey)).toBe(true);
    const next = witnessCosign(state, signCheckpoint(cp(honest, 100), logKey.privateKey), keys, consistencyProof(honest, 40, 100), witness.privateKey, T + 3_600_000);
    expect(next.ok).toBe(true);
    if (!next.ok) return;
    state = next.state;

    // The operator rewrites entry 7 and shows the new history to someone else.
    const forked = log(100, 7);
    const split = witnessCosign(state, signCheckpoint(cp(forked, 100), logKey.privateKey), keys, [], witness.privateKey, T);
    expect(split).toMatchObject({ ok: false, reason: 'split-view' });
    const longer = log(120, 7);
    const grown = witnessCosign(state, signCheckpoint(cp(longer, 120), logKey.privateKey), keys, consistencyProof(longer, 100, 120), witness.privateKey, T);
    expect(grown).toMatchObject({ ok: false, reason: 'not-consistent' });
    expect(witnessCosign(state, signCheckpoint(cp(honest, 90), logKey.privateKey), keys, [], witness.privateKey, T)).toMatchObject({ ok: false, reason: 'rollback' });
    const stranger = ed();
    expect(witnessCosign(state, signCheckpoint(cp(honest, 100), stranger.privateKey), keys, [], witness.privateKey, T)).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('a cosignature is bound to the checkpoint and the witness key: a forged or moved one does not verify', () => {
    const honest = log(8);
    const r = witnessCosign({}, signCheckpoint(cp(honest, 8), logKey.privateKey), keys, [], witness.privateKey, T);
    if (!r.ok) throw new Error(r.detail);
    expect(checkCosignature(r.cosigned, ed().publicKey)).toBe(false);
    const moved = { ...r.cosigned, checkpoint: cp(honest, 7) };
    expect(checkCosignature(moved, witness.publicKey)).toBe(false);
    const retimed = { ...r.cosigned, cosignatures: r.cosigned.cosignatures.map((c) => ({ ...c, time: c.time + 1 })) };
    expect(checkCosignature(retimed, witness.publicKey)).toBe(false);
  });
});
