/**
 * The journal's Merkle tree in its own SQLite database (table merkle_nodes,
 * docs/audit.md): a NodeStore for core/audit/merkle.ts.
 *
 * Appending a leaf stores it and the perfect subtrees it completes; the only
 * node an append reads is the left sibling of each node it stores, which was
 * the newest of its level before (appendLeaf stores a node, then reads its
 * sibling). So the right frontier — the newest two nodes per level, ~80 in
 * all — is kept in memory and appends never SELECT. Older nodes (for tree
 * heads of earlier sizes and proofs) are read from the table.
 *
 * The frontier is a cache of what the database holds: after a rolled-back
 * transaction, or when another connection may have written, call reload().
 */
import type Database from 'better-sqlite3';
import { appendLeaf, leafHash, type Hash, type NodeStore } from '../../core/audit/merkle.js';

/**
 * The leaf data of a journal row: the UTF-8 bytes of its body exactly as
 * journaled. The canonical encoding is the journal body, written once, never
 * re-serialised.
 */
export function journalLeaf(body: string): Hash {
  return leafHash(Buffer.from(body, 'utf8'));
}

/**
 * The leaf of a seq that was already missing when a v1 journal was upgraded
 * (shed before the journal was a Merkle log): a marker anyone can recompute.
 */
export function missingMarker(seq: number): string {
  return `openfacility-missing/v1 ${seq}`;
}

export class SqliteNodeStore implements NodeStore {
  private leaves = 0;
  /** Per level: the newest node stored, as [index, hash]. */
  private frontier: ([number, Hash] | undefined)[] = [];
  /** Per level: the node stored before the newest (the newest's left sibling when the newest is a right child). */
  private previous: ([number, Hash] | undefined)[] = [];
  private readonly insert: Database.Statement<[number, number, Buffer]>;
  private readonly select: Database.Statement<[number, number], { hash: Buffer }>;
  private readonly newest: Database.Statement<[number], { idx: number; hash: Buffer }>;

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare('INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)');
    this.select = db.prepare('SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?');
    this.newest = db.prepare('SELECT idx, hash FROM merkle_nodes WHERE level = ? ORDER BY idx DESC LIMIT 1');
    this.reload();
  }

  /**
   * Runs `fn` in a transaction (nested: inside the caller's) whose rows and
   * leaves commit together. When it fails, the transaction rolled back, so
   * the frontier is read again from the database before the error goes on.
   */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (e) {
      this.reload();
      throw e;
    }
  }

  /** Reads the frontier (and so the size) again from the database. */
  reload(): void {
    this.frontier = [];
    this.previous = [];
    for (let level = 0; ; level++) {
      const row = this.newest.get(level);
      if (!row) break;
      this.frontier[level] = [row.idx, new Uint8Array(row.hash)];
      const before = row.idx > 0 ? this.select.get(level, row.idx - 1) : undefined;
      if (before) this.previous[level] = [row.idx - 1, new Uint8Array(before.hash)];
    }
    this.leaves = this.frontier[0] ? this.frontier[0][0] + 1 : 0;
  }

  size(): number {
    return this.leaves;
  }

  get(level: number, index: number): Hash {
    const f = this.frontier[level];
    if (f && f[0] === index) return f[1];
    const p = this.previous[level];
    if (p && p[0] === index) return p[1];
    const row = this.select.get(level, index);
    if (!row) throw new RangeError(`no Merkle node at level ${level}, index ${index}`);
    return new Uint8Array(row.hash);
  }

  put(level: number, index: number, hash: Hash): void {
    const f = this.frontier[level];
    const expected = f ? f[0] + 1 : 0;
    if (index !== expected) throw new RangeError(`Merkle node (${level}, ${index}) out of order: level ${level} expects index ${expected}`);
    this.insert.run(level, index, Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength));
    this.previous[level] = f;
    this.frontier[level] = [index, hash];
    if (level === 0) this.leaves = index + 1;
  }

  /** Appends the leaf of journal row `seq` (leaf seq − 1), refusing any other order: the tree and the rows stay in step. */
  appendRow(seq: number, body: string): void {
    if (seq !== this.leaves + 1) throw new Error(`journal seq ${seq} is not the next Merkle leaf (the tree holds ${this.leaves})`);
    appendLeaf(this, journalLeaf(body));
  }
}

/**
 * Schema v2 upgrade: hashes a v1 journal's rows in seq order, a marker leaf
 * for each seq missing (shed before the upgrade). Runs inside the migration's
 * transaction.
 */
export function hashExistingRows(db: Database.Database): void {
  const store = new SqliteNodeStore(db);
  // In pages: a connection cannot write while it iterates.
  const page = db.prepare<[number], { seq: number; body: string }>('SELECT seq, body FROM journal WHERE seq >= ? ORDER BY seq LIMIT 10000');
  let next = 1;
  for (let rows = page.all(next); rows.length > 0; rows = page.all(next)) {
    for (const row of rows) {
      for (; next < row.seq; next++) appendLeaf(store, journalLeaf(missingMarker(next)));
      store.appendRow(row.seq, row.body);
      next = row.seq + 1;
    }
  }
}
