/**
 * The Merkle log (core/audit/merkle.ts) against RFC 6962 §2.1, checked by the
 * independent verifier (core/audit/rfc9162-verify.ts): known answers computed
 * here straight from the definitions, every inclusion and consistency proof of
 * small trees, and proofs over a simulated year of monthly checkpoints.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendLeaf, consistencyProof, EMPTY_ROOT, inclusionProof, leafHash, MemoryNodeStore, nodeHash, rootAt, type Hash } from '../../core/audit/merkle.js';
import { HeadBuilder, verifierLeafHash, verifyConsistency, verifyInclusion } from '../../core/audit/rfc9162-verify.js';

const sha = (...parts: (number[] | Uint8Array)[]): Buffer => {
  const s = createHash('sha256');
  for (const p of parts) s.update(Uint8Array.from(p));
  return s.digest();
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (s: string): Uint8Array => Buffer.from(s, 'hex');

function logOf(entries: readonly Uint8Array[]): MemoryNodeStore {
  const store = new MemoryNodeStore();
  for (const e of entries) appendLeaf(store, leafHash(e));
  return store;
}
const entriesN = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => Buffer.from(`entry ${i}`));

describe('known answers from the definitions of RFC 6962 §2.1', () => {
  it('the empty tree is SHA-256 of nothing; leaves and nodes are prefixed 0x00 and 0x01', () => {
    expect(hex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(rootAt(new MemoryNodeStore(), 0))).toBe(hex(EMPTY_ROOT));
    expect(hex(leafHash(new Uint8Array()))).toBe(hex(sha([0x00])));
    expect(hex(leafHash(new Uint8Array()))).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    const a = sha([1]);
    const b = sha([2]);
    expect(hex(nodeHash(a, b))).toBe(hex(sha([0x01], a, b)));
  });

  it('a tree of seven leaves, hashed by hand: the left subtree takes the largest power of two below n', () => {
    const d = entriesN(7);
    const L = d.map((x) => sha([0x00], x));
    const N = (l: Buffer, r: Buffer) => sha([0x01], l, r);
    // MTH(D[7]) = N(MTH(D[0:4]), MTH(D[4:7])); MTH(D[4:7]) = N(MTH(D[4:6]), L6).
    const root7 = N(N(N(L[0]!, L[1]!), N(L[2]!, L[3]!)), N(N(L[4]!, L[5]!), L[6]!));
    const store = logOf(d);
    expect(hex(rootAt(store, 7))).toBe(hex(root7));
    // Earlier heads from the same store: D[3] = N(N(L0, L1), L2); D[5] = N(D[0:4], L4).
    expect(hex(rootAt(store, 3))).toBe(hex(N(N(L[0]!, L[1]!), L[2]!)));
    expect(hex(rootAt(store, 5))).toBe(hex(N(N(N(L[0]!, L[1]!), N(L[2]!, L[3]!)), L[4]!)));
    // PATH(4, D[7]) = PATH(0, D[4:7]) + [MTH(D[0:4])] = [L5, L6] then the left half … by the recursion: [L5, L6, MTH(D[0:4])].
    expect(inclusionProof(store, 4, 7).map(hex)).toEqual([L[5]!, L[6]!, N(N(L[0]!, L[1]!), N(L[2]!, L[3]!))].map(hex));
    // PROOF(3, D[7]) by §2.1.2: SUBPROOF(3, D[0:4], true) + [MTH(D[4:7])] = [L2, L3, N(L0, L1), MTH(D[4:7])].
    expect(consistencyProof(store, 3, 7).map(hex)).toEqual([L[2]!, L[3]!, N(L[0]!, L[1]!), N(N(L[4]!, L[5]!), L[6]!)].map(hex));
  });

  it('agrees with the Certificate Transparency test vectors (eight leaves)', () => {
    const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(bytes);
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    const store = logOf(leaves);
    expect(roots.map((_, i) => hex(rootAt(store, i + 1)))).toEqual(roots);
  });
});

describe('every proof of every tree up to 40 leaves verifies independently, and a wrong one does not', () => {
  const N = 40;
  const d = entriesN(N);
  const store = logOf(d);
  const roots = Array.from({ length: N + 1 }, (_, n) => rootAt(store, n));

  it('inclusion: each leaf in each tree; tampered leaf, index, size, path or root fail', () => {
    for (let n = 1; n <= N; n++) {
      for (let m = 0; m < n; m++) {
        const path = inclusionProof(store, m, n);
        const leaf = verifierLeafHash(d[m]!);
        expect(verifyInclusion(leaf, m, n, path, roots[n]!)).toBe(true);
        expect(path.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
        if (n > 1) {
          expect(verifyInclusion(verifierLeafHash(d[(m + 1) % n]!), m, n, path, roots[n]!)).toBe(false);
          expect(verifyInclusion(leaf, (m + 1) % n, n, path, roots[n]!)).toBe(false);
          expect(verifyInclusion(leaf, m, n, path.slice(1), roots[n]!)).toBe(false);
        }
        // (A wrong size alone is not always caught: a left leaf's path has the same shape in trees of 3 and 4.
        // The size and root come together from a signed checkpoint, so they cannot be mixed.)
        if (n < N) expect(verifyInclusion(leaf, m, n + 1, path, roots[n + 1]!)).toBe(false);
        expect(verifyInclusion(leaf, m, n, path, roots[n === N ? 1 : n + 1]!)).toBe(false);
      }
    }
    expect(verifyInclusion(verifierLeafHash(d[0]!), 0, 0, [], EMPTY_ROOT)).toBe(false);
  });

  it('consistency: each pair of sizes; swapped roots, a changed hash or a dropped one fail', () => {
    for (let n = 0; n <= N; n++) {
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(store, m, n);
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, proof)).toBe(true);
        expect(proof.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(Math.max(n, 2))));
        if (m > 0 && m < n) {
          expect(verifyConsistency(m, n, roots[n]!, roots[m]!, proof)).toBe(false);
          const bad = proof.map((p, i) => (i === 0 ? Uint8Array.from(p, (x, j) => (j === 0 ? x ^ 1 : x)) : p));
          expect(verifyConsistency(m, n, roots[m]!, roots[n]!, bad)).toBe(false);
          expect(verifyConsistency(m, n, roots[m]!, roots[n]!, proof.slice(0, -1))).toBe(false);
          expect(verifyConsistency(m - 1, n, roots[m]!, roots[n]!, proof)).toBe(false);
        }
      }
    }
  });

  it("the verifier's own tree heads (a stack of perfect subtrees) equal the writer's at every size", () => {
    const heads = new HeadBuilder();
    expect(hex(heads.root())).toBe(hex(EMPTY_ROOT));
    for (let n = 1; n <= N; n++) {
      heads.push(verifierLeafHash(d[n - 1]!));
      expect(hex(heads.root())).toBe(hex(roots[n]!));
    }
  });

  it('a history rewritten under the same size is caught: the old head is not consistent with the forged log', () => {
    const forged = logOf(d.map((x, i) => (i === 17 ? Buffer.from('forged') : x)));
    for (const [m, n] of [[20, 40], [18, 33], [32, 40]] as const) {
      expect(verifyConsistency(m, n, roots[m]!, rootAt(forged, n), consistencyProof(forged, m, n))).toBe(false);
    }
    // Before the forged entry the two logs agree.
    expect(verifyConsistency(17, 40, roots[17]!, rootAt(forged, 40), consistencyProof(forged, 17, 40))).toBe(true);
  });
});

describe('a simulated year', () => {
  it('inclusion of 1,000 random entries and consistency between every pair of monthly checkpoints, each proof O(log n)', () => {
    // A small space's year: 200,000 journal entries, checkpoints at uneven month ends.
    const total = 200_000;
    const store = new MemoryNodeStore();
    const monthEnds = [14_003, 29_911, 47_250, 62_001, 80_000, 98_777, 114_320, 131_072, 150_999, 166_666, 183_400, total];
    const entry = (i: number) => Buffer.from(`{"seq":${i},"kind":"power","w":${(i * 37) % 2000}}`);
    const heads: { size: number; root: Hash }[] = [];
    for (let i = 0; i < total; i++) {
      appendLeaf(store, leafHash(entry(i)));
      if (monthEnds.includes(i + 1)) heads.push({ size: i + 1, root: rootAt(store, i + 1) });
    }
    const logBound = Math.ceil(Math.log2(total));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: total - 1 }), fc.integer({ min: 0, max: heads.length - 1 }), (i, h) => {
        const head = heads[h]!;
        if (i >= head.size) return true;
        const path = inclusionProof(store, i, head.size);
        return path.length <= logBound && verifyInclusion(verifierLeafHash(entry(i)), i, head.size, path, head.root);
      }),
      { numRuns: 1000, seed: 6962 },
    );
    for (const a of heads) {
      for (const b of heads) {
        if (a.size > b.size) continue;
        const proof = consistencyProof(store, a.size, b.size);
        expect(proof.length).toBeLessThanOrEqual(2 * logBound);
        expect(verifyConsistency(a.size, b.size, a.root, b.root, proof)).toBe(true);
      }
    }
  });
});
