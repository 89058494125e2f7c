/**
 * An independent verifier of Merkle-log proofs, written from the verification
 * algorithms of RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).
 * It shares no code with the writer (./merkle.ts): its own hashing, its own
 * arithmetic (halving instead of the writer's recursion), so an auditor's
 * check does not inherit a writer's mistake. Numbers are handled with
 * arithmetic, not 32-bit bit operators, so any safe-integer tree size works.
 */
import { createHash } from 'node:crypto';

type Bytes = Uint8Array;

function h(...parts: Bytes[]): Bytes {
  const s = createHash('sha256');
  for (const p of parts) s.update(p);
  return s.digest();
}

/** SHA-256(0x00 || entry): what the log stores for an entry. */
export function verifierLeafHash(entry: Bytes): Bytes {
  return h(Uint8Array.of(0), entry);
}

const interior = (left: Bytes, right: Bytes): Bytes => h(Uint8Array.of(1), left, right);

function same(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

const odd = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

/** RFC 9162 §2.1.3.2: does `path` prove that `leaf` (its hash) is entry `index` of the tree of `size` with `root`? */
export function verifyInclusion(leaf: Bytes, index: number, size: number, path: readonly Bytes[], root: Bytes): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = interior(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = interior(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && same(r, root);
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree (`size2`, `root2`) extends the tree (`size1`, `root1`)? */
export function verifyConsistency(size1: number, size2: number, root1: Bytes, root2: Bytes, proof: readonly Bytes[]): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size1 > size2) return false;
  if (size1 === size2) return proof.length === 0 && same(root1, root2);
  // Every tree extends the empty one (and there is nothing to prove).
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = 2 ** Math.round(Math.log2(size1)) === size1 ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = interior(c, fr);
      sr = interior(c, sr);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = interior(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return same(fr, root1) && same(sr, root2) && sn === 0;
}

/**
 * The tree heads of a growing list of leaf hashes, straight from the RFC 6962
 * §2.1 definition: a stack of perfect subtrees (a binary counter), folded
 * from the right for the head. `root()` may be asked after any push.
 */
export class HeadBuilder {
  private readonly stack: { size: number; hash: Bytes }[] = [];
  count = 0;

  /** `onSubtree` hears each perfect subtree of two or more leaves as it completes: level (log2 of its size), index at that level, hash. */
  constructor(private readonly onSubtree?: (level: number, index: number, hash: Bytes) => void) {}

  push(leaf: Bytes): void {
    this.count++;
    let cur = { size: 1, hash: leaf };
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.size === cur.size) {
      const left = this.stack.pop()!;
      cur = { size: left.size * 2, hash: interior(left.hash, cur.hash) };
      this.onSubtree?.(Math.round(Math.log2(cur.size)), this.count / cur.size - 1, cur.hash);
    }
    this.stack.push(cur);
  }

  root(): Bytes {
    if (this.stack.length === 0) return h();
    let r = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) r = interior(this.stack[i]!.hash, r);
    return r;
  }
}
