/**
 * What the Merkle log costs the journal's writer thread per record
 * (docs/BENCHMARKS.md, "Journal: Merkle log"): the same rows inserted in
 * transactions of `batch` records, as the writer does, without and with the
 * leaf and node appends (gateway/journal/merkle-store.ts), on a fresh
 * schema-v2 journal in a temporary directory (WAL, synchronous=FULL).
 *
 *   npx tsx bench/journal/merkle.ts [records=1000000] [batch=20000]
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateJournal } from '../../gateway/journal/protocol.js';
import { SqliteNodeStore } from '../../gateway/journal/merkle-store.js';

const N = Number(process.argv[2] ?? 1_000_000);
const BATCH = Number(process.argv[3] ?? 20_000);

function body(seq: number): string {
  return JSON.stringify({
    kind: 'occupancy', key: `occ-${seq % 50}:1:${seq}`, site: 'demo', device: `occ-${seq % 50}`, deviceKind: 'occupancy-sensor',
    space: 'cowork', target: { type: 'desk', id: `D${seq % 50}` }, seq, ts: 1_767_225_600_000 + seq, tsSource: 'device', occupied: seq % 3 === 0,
  });
}

function run(withTree: boolean): number {
  const dir = mkdtempSync(join(tmpdir(), 'bench-merkle-'));
  const db = new Database(join(dir, 'journal.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  migrateJournal(db);
  const tree = new SqliteNodeStore(db);
  const insert = db.prepare<[string, number, number, number, string]>('INSERT OR IGNORE INTO journal (key, class, ts, at, body) VALUES (?, ?, ?, ?, ?)');
  const bodies = Array.from({ length: BATCH }, (_, i) => body(i));
  const t0 = performance.now();
  for (let start = 0; start < N; start += BATCH) {
    tree.transaction(() => {
      for (let i = 0; i < BATCH && start + i < N; i++) {
        const b = bodies[i]!;
        const r = insert.run(`k${start + i}`, 1, start + i, 0, b);
        if (withTree) tree.appendRow(Number(r.lastInsertRowid), b);
      }
    });
  }
  const ms = performance.now() - t0;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

// Alternate, twice each, so neither side gets all the warm caches.
const plain: number[] = [];
const tree: number[] = [];
for (let round = 0; round < 2; round++) {
  plain.push(run(false));
  tree.push(run(true));
}
const best = (xs: number[]) => Math.min(...xs);
const us = (ms: number) => ((ms * 1000) / N).toFixed(2);
console.log(`${N} records in transactions of ${BATCH}`);
console.log(`journal rows only:        ${best(plain).toFixed(0)} ms  (${us(best(plain))} µs/record)`);
console.log(`rows + Merkle leaf/nodes: ${best(tree).toFixed(0)} ms  (${us(best(tree))} µs/record)`);
console.log(`Merkle log cost:          ${us(best(tree) - best(plain))} µs/record on the writer thread`);
