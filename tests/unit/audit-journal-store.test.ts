/**
 * gateway/journal/merkle-store.ts against the in-memory store of
 * core/audit/merkle.ts (one contract, two implementations): the same tree
 * heads and proofs at every size, appends that never read the table, and a
 * frontier that survives a rolled-back transaction.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { appendLeaf, consistencyProof, inclusionProof, leafHash, MemoryNodeStore, rootAt } from '../../core/audit/merkle.js';
import { migrateJournal } from '../../gateway/journal/protocol.js';
import { journalLeaf, SqliteNodeStore } from '../../gateway/journal/merkle-store.js';

function journalDb(): Database.Database {
  const db = new Database(':memory:');
  migrateJournal(db);
  return db;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('SqliteNodeStore', () => {
  it('gives the tree heads and proofs of the in-memory store at every size up to 100', () => {
    const db = journalDb();
    const sql = new SqliteNodeStore(db);
    const mem = new MemoryNodeStore();
    for (let seq = 1; seq <= 100; seq++) {
      const body = `{"n":${seq}}`;
      sql.transaction(() => sql.appendRow(seq, body));
      appendLeaf(mem, leafHash(Buffer.from(body)));
      expect(sql.size()).toBe(seq);
      expect(hex(rootAt(sql, seq))).toBe(hex(rootAt(mem, seq)));
    }
    // A fresh store reads the same tree back.
    const again = new SqliteNodeStore(db);
    for (const [m, n] of [[1, 100], [37, 64], [64, 65], [99, 100]] as const) {
      expect(inclusionProof(again, m - 1, n).map(hex)).toEqual(inclusionProof(mem, m - 1, n).map(hex));
      expect(consistencyProof(again, m, n).map(hex)).toEqual(consistencyProof(mem, m, n).map(hex));
    }
    db.close();
  });

  it('never reads the table while appending (the frontier holds every sibling needed)', () => {
    const db = journalDb();
    const store = new SqliteNodeStore(db);
    // Any read from the table would throw from here on.
    (store as unknown as { select: { get: () => never } }).select = { get: () => { throw new Error('appending read a node from the table'); } };
    expect(() => store.transaction(() => { for (let seq = 1; seq <= 1000; seq++) store.appendRow(seq, `x${seq}`); })).not.toThrow();
    db.close();
  });

  it('refuses a leaf out of seq order, and after a rolled-back transaction appends where the database left off', () => {
    const db = journalDb();
    const store = new SqliteNodeStore(db);
    store.transaction(() => { for (let seq = 1; seq <= 5; seq++) store.appendRow(seq, `x${seq}`); });
    expect(() => store.appendRow(7, 'x7')).toThrow(/not the next Merkle leaf/);
    expect(() =>
      store.transaction(() => {
        store.appendRow(6, 'x6');
        store.appendRow(7, 'x7');
        throw new Error('forced');
      }),
    ).toThrow('forced');
    expect(store.size()).toBe(5);
    store.transaction(() => store.appendRow(6, 'x6'));
    const mem = new MemoryNodeStore();
    for (let seq = 1; seq <= 6; seq++) appendLeaf(mem, journalLeaf(`x${seq}`));
    expect(hex(rootAt(store, 6))).toBe(hex(rootAt(mem, 6)));
    db.close();
  });
});
