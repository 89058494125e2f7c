/**
 * The journal as an append-only Merkle log in the manner of RFC 6962 §2.1
 * (Certificate Transparency; RFC 9162 §2.1 keeps the same tree):
 *
 *   MTH({})        = SHA-256()
 *   MTH({d0})      = SHA-256(0x00 || d0)                         leaf
 *   MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))  node, k the largest power of two < n
 *
 * The 0x00 / 0x01 prefixes keep a leaf from ever hashing like a node (second
 * preimage). This module is the writer's side: it keeps the hashes of the
 * perfect subtrees as leaves arrive (at most two hashes stored per leaf), and
 * answers the tree head of any earlier size and the inclusion and consistency
 * proofs of §2.1.1 and §2.1.2, each O(log n) hashes long. Checking proofs is
 * done by ./rfc9162-verify.ts, written separately from the RFC's verification
 * algorithms and sharing no code with this file, so a mistake here is not
 * repeated there.
 *
 * Storage is behind `NodeStore`, so the gateway keeps the nodes in its
 * journal database and tests keep them in memory. Pure: no I/O, no clock.
 */
import { createHash } from 'node:crypto';

export type Hash = Uint8Array;

const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);

export function leafHash(data: Uint8Array): Hash {
  return createHash('sha256').update(LEAF).update(data).digest();
}

export function nodeHash(left: Hash, right: Hash): Hash {
  return createHash('sha256').update(NODE).update(left).update(right).digest();
}

/** MTH of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Hash = createHash('sha256').digest();

/**
 * The hashes of perfect subtrees: `get(level, index)` is MTH of leaves
 * [index·2^level, (index+1)·2^level). Level 0 holds the leaf hashes.
 */
export interface NodeStore {
  /** How many leaves the log holds. */
  size(): number;
  get(level: number, index: number): Hash;
  /** Stores a node; called in order of completion (level 0 first for each leaf). */
  put(level: number, index: number, hash: Hash): void;
}

/** Keeps every perfect subtree in memory (tests, tools, small logs). */
export class MemoryNodeStore implements NodeStore {
  private readonly levels: Hash[][] = [[]];
  size(): number {
    return this.levels[0]!.length;
  }
  get(level: number, index: number): Hash {
    const h = this.levels[level]?.[index];
    if (h === undefined) throw new RangeError(`no node at level ${level}, index ${index}`);
    return h;
  }
  put(level: number, index: number, hash: Hash): void {
    const row = (this.levels[level] ??= []);
    if (index !== row.length) throw new RangeError(`node (${level}, ${index}) out of order: the level holds ${row.length}`);
    row.push(hash);
  }
}

/** The largest power of two strictly less than n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Exact for every safe integer (no 32-bit bit tricks: a log may pass 2^31 leaves). */
const isPow2 = (n: number): boolean => n > 0 && 2 ** Math.round(Math.log2(n)) === n;

/**
 * Appends a leaf (its hash already computed) and the perfect subtrees it
 * completes; returns the leaf's index.
 */
export function appendLeaf(store: NodeStore, leaf: Hash): number {
  const index = store.size();
  store.put(0, index, leaf);
  let level = 0;
  let i = index;
  let h = leaf;
  // A right child (odd index) completes its parent.
  while (i % 2 === 1) {
    h = nodeHash(store.get(level, i - 1), h);
    level++;
    i = (i - 1) / 2;
    store.put(level, i, h);
  }
  return index;
}

/** MTH(D[lo:hi]) for the ranges the RFC's recursion visits (lo a multiple of a power of two ≥ hi − lo's split). */
export function rangeHash(store: NodeStore, lo: number, hi: number): Hash {
  const n = hi - lo;
  if (n <= 0) throw new RangeError(`empty range [${lo}, ${hi})`);
  if (isPow2(n) && lo % n === 0) return store.get(Math.log2(n), lo / n);
  const k = splitPoint(n);
  return nodeHash(rangeHash(store, lo, lo + k), rangeHash(store, lo + k, hi));
}

/** The tree head (root hash) of the log's first `size` leaves. */
export function rootAt(store: NodeStore, size: number): Hash {
  if (size < 0 || size > store.size()) throw new RangeError(`size ${size} is not within the log (0..${store.size()})`);
  return size === 0 ? EMPTY_ROOT : rangeHash(store, 0, size);
}

/** RFC 6962 §2.1.1 PATH(m, D[n]): the audit path of leaf m in the tree of the first n leaves. */
export function inclusionProof(store: NodeStore, m: number, n: number): Hash[] {
  if (n > store.size()) throw new RangeError(`tree size ${n} is beyond the log (${store.size()})`);
  if (!(m >= 0 && m < n)) throw new RangeError(`leaf ${m} is not in a tree of ${n}`);
  const path: Hash[] = [];
  const walk = (lo: number, hi: number, leaf: number): void => {
    const size = hi - lo;
    if (size === 1) return;
    const k = splitPoint(size);
    if (leaf - lo < k) {
      walk(lo, lo + k, leaf);
      path.push(rangeHash(store, lo + k, hi));
    } else {
      walk(lo + k, hi, leaf);
      path.push(rangeHash(store, lo, lo + k));
    }
  };
  walk(0, n, m);
  return path;
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]): that the tree of the first n leaves extends the tree of the first m. */
export function consistencyProof(store: NodeStore, m: number, n: number): Hash[] {
  if (n > store.size()) throw new RangeError(`tree size ${n} is beyond the log (${store.size()})`);
  if (!(m >= 0 && m <= n)) throw new RangeError(`a tree of ${m} cannot be a prefix of a tree of ${n}`);
  if (m === 0 || m === n) return [];
  const proof: Hash[] = [];
  const sub = (lo: number, hi: number, first: number, complete: boolean): void => {
    const size = hi - lo;
    if (first === size) {
      if (!complete) proof.push(rangeHash(store, lo, hi));
      return;
    }
    const k = splitPoint(size);
    if (first <= k) {
      sub(lo, lo + k, first, complete);
      proof.push(rangeHash(store, lo + k, hi));
    } else {
      sub(lo + k, hi, first - k, false);
      proof.push(rangeHash(store, lo, lo + k));
    }
  };
  sub(0, n, m, true);
  return proof;
}
