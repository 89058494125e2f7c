/**
 * How long `facility audit verify` takes per entry (docs/BENCHMARKS.md,
 * "Journal: Merkle log"): builds a journal of N small records with its
 * Merkle tree in a temporary directory, then verifies it from the file as
 * the command does (gateway/journal/audit-source.ts + core/audit/verify-journal.ts).
 *
 *   npx tsx bench/journal/verify.ts [records=1000000]
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateJournal } from '../../gateway/journal/protocol.js';
import { SqliteNodeStore } from '../../gateway/journal/merkle-store.js';
import { openJournalAudit } from '../../gateway/journal/audit-source.js';
import { verifyJournal } from '../../core/audit/verify-journal.js';
const N = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'bench-verify-'));
const db = new Database(join(dir, 'journal.db')); db.pragma('journal_mode = WAL'); migrateJournal(db);
const tree = new SqliteNodeStore(db);
const insert = db.prepare('INSERT INTO journal (key, class, ts, at, body) VALUES (?, 1, ?, 0, ?)');
for (let s = 0; s < N; s += 20000) tree.transaction(() => { for (let i = s; i < s + 20000 && i < N; i++) { const b = JSON.stringify({ kind: 'occupancy', key: `k${i}`, site: 'demo', seq: i, occupied: i % 2 === 0, ts: 1767225600000 + i }); const r = insert.run(`k${i}`, i, b); tree.appendRow(Number(r.lastInsertRowid), b); } });
db.close();
const t0 = performance.now();
const src = openJournalAudit(join(dir, 'journal.db'));
const r = verifyJournal(src.input);
src.close();
const ms = performance.now() - t0;
rmSync(dir, { recursive: true, force: true });
console.log(`verify ${N} entries: ${ms.toFixed(0)} ms (${((ms * 1000) / N).toFixed(2)} µs/entry), problems ${r.problems.length} (no checkpoints or keys in this journal)`);
