/**
 * Verifies a gateway journal as an auditor would (docs/audit.md, "Verify"):
 * from the journal's rows, its stored Merkle nodes, its checkpoints and its
 * signing keys, all handed in (this module reads no file and no database).
 *
 * - Every leaf is recomputed from the row's body (the UTF-8 bytes as
 *   journaled) with the independent verifier's leaf hash (./rfc9162-verify.ts)
 *   and compared with the leaf the writer stored.
 * - The tree is rebuilt here, not with the writer's ./merkle.ts: a stack of
 *   perfect subtrees, merged as leaves arrive, and folded right to left for
 *   the tree head at a size. This is RFC 6962 §2.1's MTH, whose split at the
 *   largest power of two below n makes the tree of n leaves exactly the
 *   perfect subtrees of n's binary decomposition, largest first. Each perfect
 *   subtree completed is compared with the node the writer stored.
 * - A seq without a row (its leaf stays in the tree) must be declared by a
 *   later telemetry_shed record's range; anything else missing was deleted.
 * - Every checkpoint: signed by a key the journal holds in audit_keys, whose
 *   id is that key's, announced in the log (an audit_key record) within the
 *   checkpoint's size, not used after it was retired; its root equal to the
 *   rebuilt tree's at its size; each consistent with the one before
 *   (RFC 9162 §2.1.4 proof, built here from the verified nodes and checked
 *   by ./rfc9162-verify.ts), and the newest with the log as it is now.
 *
 * Problems are reported with the first broken entry first: entries in seq
 * order, then stored nodes, then checkpoints and keys.
 */
import { checkSignature, keyIdOf, publicKeyFromRaw, type SignedCheckpoint } from './checkpoint.js';
import { HeadBuilder, verifierLeafHash, verifyConsistency } from './rfc9162-verify.js';
import { createHash, type KeyObject } from 'node:crypto';

type Bytes = Uint8Array;

export interface AuditRow {
  readonly seq: number;
  readonly body: string;
  /** The stored leaf of this seq when the reader has it at hand (null: none stored); absent: asked of `node`. */
  readonly leaf?: Bytes | null;
}

export interface StoredCheckpoint {
  readonly size: number;
  readonly root: Bytes;
  readonly time: number;
  readonly keyId: string;
  /** Base64 Ed25519 signature over the checkpoint text (./checkpoint.ts). */
  readonly sig: string;
}

export interface AuditKey {
  readonly keyId: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  readonly publicKey: string;
  readonly createdAt: number;
  readonly retiredAt: number | null;
}

export interface JournalAuditInput {
  /** The journal's rows in ascending seq order. */
  readonly rows: Iterable<AuditRow>;
  /** How many leaves the stored tree holds (level 0). */
  readonly treeSize: number;
  /** A stored Merkle node (level 0: leaves), or null when there is none. */
  readonly node: (level: number, index: number) => Bytes | null;
  readonly checkpoints: readonly StoredCheckpoint[];
  readonly keys: readonly AuditKey[];
  /** Key ids the auditor trusts from elsewhere (e.g. the server's copy); when given, no other key is accepted. */
  readonly trustedKeys?: ReadonlySet<string>;
  /** The checkpoints' origin; by default `openfacility/<site>` of the first audit_key record. */
  readonly origin?: string;
  /** Called every few thousand entries: entries done, of the tree's size. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface AuditProblem {
  /** entry: a journal entry (seq) is wrong or missing; tree: a stored node; checkpoint / key: those tables. */
  readonly where: 'entry' | 'tree' | 'checkpoint' | 'key';
  /** The entry that breaks (for a checkpoint: the first entry it implicates), when known. */
  readonly seq: number | null;
  /** The entry's record key, when its body still names one. */
  readonly key: string | null;
  readonly checkpointSize: number | null;
  readonly what: string;
}

export interface AuditReport {
  readonly ok: boolean;
  /** Leaves in the stored tree. */
  readonly size: number;
  readonly rows: number;
  /** Seqs without a row, each declared by a telemetry_shed record. */
  readonly shedDeclared: number;
  readonly checkpoints: number;
  readonly keys: number;
  /** First broken entry first; at most MAX_PROBLEMS. */
  readonly problems: readonly AuditProblem[];
}

export const MAX_PROBLEMS = 1000;

/** The leaf of a seq already missing when a v1 journal was upgraded (docs/audit.md). */
export const missingMarkerText = (seq: number): string => `openfacility-missing/v1 ${seq}`;

const interior = (left: Bytes, right: Bytes): Bytes => createHash('sha256').update(Uint8Array.of(1)).update(left).update(right).digest();
const EMPTY: Bytes = createHash('sha256').digest();
const hex = (b: Bytes): string => Buffer.from(b).toString('hex');
const utf8 = new TextEncoder();

function same(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface ShedDeclaration {
  readonly seq: number;
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly count: number;
  missing: number;
}

interface KeyAnnouncement {
  readonly seq: number;
  readonly publicKey: string;
  readonly site: string;
}

function recordOf(body: string): { key: string | null; system: Record<string, unknown> | null } {
  try {
    const r = JSON.parse(body) as Record<string, unknown>;
    return { key: typeof r.key === 'string' ? r.key : null, system: r.kind === 'system' ? r : null };
  } catch {
    return { key: null, system: null };
  }
}

export function verifyJournal(input: JournalAuditInput): AuditReport {
  const problems: AuditProblem[] = [];
  const problem = (p: AuditProblem): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  const N = input.treeSize;
  const cps = [...input.checkpoints].sort((a, b) => a.size - b.size);
  /** Rebuilt tree head at each checkpoint size reached. */
  const rebuilt = new Map<number, Bytes>();
  const sizesWanted = new Set(cps.map((c) => c.size));
  if (sizesWanted.has(0)) rebuilt.set(0, EMPTY);

  // ---- the pass: leaves in order, perfect subtrees merged on a stack (the verifier's HeadBuilder) ----
  let badNodes = 0;
  const heads = new HeadBuilder((level, index, hash) => {
    const stored = input.node(level, index);
    if (stored === null || !same(stored, hash)) {
      // One report per damaged subtree is plenty: the first is what names where to look.
      if (badNodes++ === 0) {
        const first = index * 2 ** level + 1;
        problem({ where: 'tree', seq: first, key: null, checkpointSize: null, what: `stored Merkle node (level ${level}, index ${index}) over seq ${first}–${heads.count} ${stored === null ? 'is missing' : 'differs from the one rebuilt from the entries'}` });
      }
    }
  });
  const pushLeaf = (leaf: Bytes): void => {
    heads.push(leaf);
    const leaves = heads.count;
    if (sizesWanted.has(leaves)) rebuilt.set(leaves, heads.root());
    if (input.onProgress && leaves % 65_536 === 0) input.onProgress(leaves, N);
  };

  const missing: number[][] = [];
  const noteMissing = (seq: number): void => {
    const last = missing[missing.length - 1];
    if (last && last[1] === seq - 1) last[1] = seq;
    else missing.push([seq, seq]);
  };
  /** A seq without a row: its stored leaf stands in (shedding keeps leaves); it must be declared later. */
  const storedLeafFor = (seq: number): void => {
    noteMissing(seq);
    const stored = input.node(0, seq - 1);
    if (stored === null) {
      problem({ where: 'entry', seq, key: null, checkpointSize: null, what: `entry ${seq} has neither a row nor a leaf in the tree` });
      pushLeaf(new Uint8Array(32));
    } else {
      pushLeaf(stored);
    }
  };

  const sheds: ShedDeclaration[] = [];
  const announced = new Map<string, KeyAnnouncement>();
  let rows = 0;
  let next = 1;
  for (const row of input.rows) {
    rows++;
    if (!Number.isSafeInteger(row.seq) || row.seq < next) {
      problem({ where: 'entry', seq: row.seq, key: recordOf(row.body).key, checkpointSize: null, what: `entry ${row.seq} is out of order (after ${next - 1})` });
      continue;
    }
    if (row.seq > N) {
      problem({ where: 'entry', seq: row.seq, key: recordOf(row.body).key, checkpointSize: null, what: `entry ${row.seq} is not in the Merkle tree (it holds ${N}): inserted, or written without its leaf` });
      continue;
    }
    for (; next < row.seq; next++) storedLeafFor(next);
    next = row.seq + 1;
    const leaf = verifierLeafHash(utf8.encode(row.body));
    const stored = row.leaf !== undefined ? row.leaf : input.node(0, row.seq - 1);
    const isSystem = row.body.includes('"kind":"system"');
    if (stored === null || !same(stored, leaf) || isSystem) {
      const rec = recordOf(row.body);
      if (stored === null) problem({ where: 'entry', seq: row.seq, key: rec.key, checkpointSize: null, what: `entry ${row.seq} has no leaf in the tree` });
      else if (!same(stored, leaf)) problem({ where: 'entry', seq: row.seq, key: rec.key, checkpointSize: null, what: `entry ${row.seq}'s body does not hash to its leaf: edited, moved, or put in another's place` });
      const s = rec.system;
      if (s && s.event === 'telemetry_shed' && typeof s.fromSeq === 'number' && typeof s.toSeq === 'number' && typeof s.count === 'number') {
        sheds.push({ seq: row.seq, fromSeq: s.fromSeq, toSeq: s.toSeq, count: s.count, missing: 0 });
      } else if (s && s.event === 'audit_key' && typeof s.keyId === 'string' && typeof s.publicKey === 'string' && typeof s.site === 'string' && !announced.has(s.keyId)) {
        announced.set(s.keyId, { seq: row.seq, publicKey: s.publicKey, site: s.site });
      }
    }
    pushLeaf(leaf);
  }
  for (; next <= N; next++) storedLeafFor(next);

  // ---- seqs without rows: each declared by a later telemetry_shed record --------------------------
  let shedDeclared = 0;
  // Both in ascending order, so one pass: declarations ending before a gap are never needed again.
  const declared = sheds.filter((x) => x.seq > x.toSeq).sort((a, b) => a.fromSeq - b.fromSeq);
  let di = 0;
  for (const [from, to] of missing) {
    let s = from!;
    while (s <= to!) {
      while (di < declared.length && declared[di]!.toSeq < s) di++;
      const d = declared.slice(di, di + 2).find((x) => x.fromSeq <= s && s <= x.toSeq);
      if (!d) {
        problem({ where: 'entry', seq: s, key: null, checkpointSize: null, what: `entry ${s} is missing (deleted): no telemetry_shed record declares it` });
        break;
      }
      const end = Math.min(to!, d.toSeq);
      d.missing += end - s + 1;
      shedDeclared += end - s + 1;
      s = end + 1;
    }
  }
  for (const d of sheds) {
    if (d.missing > d.count) problem({ where: 'entry', seq: d.fromSeq, key: null, checkpointSize: null, what: `${d.missing} entries are missing in seq ${d.fromSeq}–${d.toSeq}, but the telemetry_shed record at ${d.seq} declares ${d.count}: some were deleted` });
  }

  // ---- keys ---------------------------------------------------------------------------------------
  const keys = new Map<string, KeyObject>();
  const keyRows = new Map<string, AuditKey>();
  for (const k of input.keys) {
    let key: KeyObject;
    try {
      key = publicKeyFromRaw(k.publicKey);
    } catch {
      problem({ where: 'key', seq: null, key: null, checkpointSize: null, what: `audit key ${k.keyId}: the public key is not 32 bytes of base64` });
      continue;
    }
    if (keyIdOf(key) !== k.keyId) {
      problem({ where: 'key', seq: null, key: null, checkpointSize: null, what: `audit key ${k.keyId}: the public key's id is ${keyIdOf(key)}` });
      continue;
    }
    const a = announced.get(k.keyId);
    if (!a) {
      problem({ where: 'key', seq: null, key: null, checkpointSize: null, what: `audit key ${k.keyId} is not announced by an audit_key record in the log` });
      continue;
    }
    if (a.publicKey !== k.publicKey) {
      problem({ where: 'key', seq: a.seq, key: null, checkpointSize: null, what: `audit key ${k.keyId}: the public key differs from the one announced at entry ${a.seq}` });
      continue;
    }
    if (input.trustedKeys && !input.trustedKeys.has(k.keyId)) continue;
    keys.set(k.keyId, key);
    keyRows.set(k.keyId, k);
  }
  const firstAnnouncement = [...announced.values()].sort((a, b) => a.seq - b.seq)[0];
  const origin = input.origin ?? (firstAnnouncement ? `openfacility/${firstAnnouncement.site}` : null);

  // ---- checkpoints --------------------------------------------------------------------------------
  let lastGood = 0;
  let prev: StoredCheckpoint | null = null;
  for (const c of cps) {
    const at = { where: 'checkpoint' as const, key: null, checkpointSize: c.size };
    let sound = true;
    if (c.size > N) {
      problem({ ...at, seq: N + 1, what: `checkpoint of size ${c.size} cannot be consistent with the log: it holds ${N} entries, so entries from seq ${N + 1} were removed (truncated)` });
      sound = false;
    }
    if (origin === null) {
      problem({ ...at, seq: null, what: `checkpoint of size ${c.size}: the log announces no signing key (no audit_key record)` });
      sound = false;
    } else {
      const signed: SignedCheckpoint = { checkpoint: { origin, size: c.size, root: c.root, time: c.time }, signature: { keyId: c.keyId, sig: c.sig }, cosignatures: [] };
      let why: string | null;
      try {
        why = checkSignature(signed, keys);
      } catch (e) {
        why = `malformed (${(e as Error).message})`;
      }
      const k = keyRows.get(c.keyId);
      const a = announced.get(c.keyId);
      if (why === null && a && a.seq > c.size) why = `signed by key ${c.keyId}, announced only at entry ${a.seq}, after it`;
      if (why === null && k && k.retiredAt !== null && c.time > k.retiredAt) why = `signed by key ${c.keyId} after it was retired`;
      if (why !== null) {
        problem({ ...at, seq: null, what: `checkpoint of size ${c.size}: ${why}` });
        sound = false;
      }
    }
    const mine = rebuilt.get(c.size);
    if (mine && !same(mine, c.root)) {
      problem({ ...at, seq: lastGood + 1, what: `checkpoint of size ${c.size}: its root ${hex(c.root).slice(0, 16)}… differs from the log rebuilt from its entries (${hex(mine).slice(0, 16)}…): an entry in seq ${lastGood + 1}–${c.size} changed` });
      sound = false;
    }
    if (prev && c.time < prev.time) problem({ ...at, seq: null, what: `checkpoint of size ${c.size} is dated before the one of size ${prev.size}` });
    if (sound && prev && prev.size <= N && c.size <= N) {
      const proof = consistencyProofFrom(input.node, prev.size, c.size);
      if (proof === null || !verifyConsistency(prev.size, c.size, prev.root, c.root, proof)) {
        problem({ ...at, seq: prev.size + 1, what: `checkpoint of size ${c.size} is not consistent with the one of size ${prev.size}` });
        sound = false;
      }
    }
    if (sound) lastGood = c.size;
    prev = c;
  }
  // The log as it is now must extend the newest checkpoint.
  if (prev && prev.size <= N && problems.every((p) => p.where !== 'checkpoint')) {
    const proof = consistencyProofFrom(input.node, prev.size, N);
    if (proof === null || !verifyConsistency(prev.size, N, prev.root, heads.root(), proof)) {
      problem({ where: 'checkpoint', key: null, checkpointSize: prev.size, seq: prev.size + 1, what: `the log of ${N} entries is not consistent with the checkpoint of size ${prev.size}` });
    }
  }

  // Entries first, in seq order: a changed body also makes the stored nodes above it and the checkpoints over it
  // disagree with the rebuilt tree, and those follow from it. A node or checkpoint alone comes first only when no entry broke.
  const rank = (p: AuditProblem): number => (p.where === 'entry' ? 0 : p.where === 'tree' ? 1 : 2);
  const ordered = problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || (rank(a.p) === 0 ? (a.p.seq ?? 0) - (b.p.seq ?? 0) : 0) || a.i - b.i)
    .map((x) => x.p);
  return { ok: ordered.length === 0, size: N, rows, shedDeclared, checkpoints: cps.length, keys: input.keys.length, problems: ordered };
}

/**
 * RFC 9162 §2.1.4.1 PROOF(m, D[n]) from perfect-subtree nodes (verified
 * against the entries by the pass above); null when a node is missing.
 */
function consistencyProofFrom(node: JournalAuditInput['node'], m: number, n: number): Bytes[] | null {
  if (m === 0 || m === n) return [];
  const mth = (lo: number, hi: number): Bytes | null => {
    const width = hi - lo;
    const level = Math.log2(width);
    if (Number.isInteger(level) && lo % width === 0) return node(level, lo / width);
    const k = largestPow2Below(width);
    const l = mth(lo, lo + k);
    const r = mth(lo + k, hi);
    return l && r ? interior(l, r) : null;
  };
  const out: (Bytes | null)[] = [];
  // SUBPROOF(m, D[lo:hi], b), unrolled: descend, collecting siblings, then reverse (the RFC appends on the way up).
  let lo = 0;
  let hi = n;
  let mm = m;
  let whole = true;
  for (;;) {
    const width = hi - lo;
    if (mm === width) {
      if (!whole) out.push(mth(lo, hi));
      break;
    }
    const k = largestPow2Below(width);
    if (mm <= k) {
      out.push(mth(lo + k, hi));
      hi = lo + k;
    } else {
      out.push(mth(lo, lo + k));
      lo += k;
      mm -= k;
      whole = false;
    }
  }
  // Collected top-down; the RFC's recursion appends each sibling after the proof below it, so the proof is the reverse.
  const ordered = out.reverse();
  return ordered.some((x) => x === null) ? null : (ordered as Bytes[]);
}

function largestPow2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
