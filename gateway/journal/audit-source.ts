/**
 * A journal file as the verifier's input (core/audit/verify-journal.ts):
 * read-only, two connections (one streams the rows while the other answers
 * node lookups; better-sqlite3 keeps a connection busy while it iterates).
 */
import Database from 'better-sqlite3';
import type { AuditKey, AuditRow, JournalAuditInput, StoredCheckpoint } from '../../core/audit/verify-journal.js';
import { openArchive, type ArchiveReader } from './archive.js';

export interface JournalAuditSource {
  /** Everything but onProgress / trustedKeys, which the caller adds. */
  readonly input: Omit<JournalAuditInput, 'onProgress' | 'trustedKeys'>;
  close(): void;
}

export class JournalNotAuditable extends Error {
  override readonly name = 'JournalNotAuditable';
}

/**
 * `archivePaths`: archives of rows moved out of the journal (./archive.ts); their rows are read first, in
 * seq order (archives by their first seq), then the live ones. A row both archived and live with the same
 * body (a crash between archiving and deleting) is read once.
 */
export function openJournalAudit(path: string, archivePaths: readonly string[] = []): JournalAuditSource {
  const rowsDb = new Database(path, { readonly: true, fileMustExist: true });
  const nodesDb = new Database(path, { readonly: true, fileMustExist: true });
  const archives: ArchiveReader[] = [];
  const close = () => {
    rowsDb.close();
    nodesDb.close();
    for (const a of archives) a.close();
  };
  try {
    for (const p of archivePaths) archives.push(openArchive(p));
    archives.sort((a, b) => a.fromSeq - b.fromSeq);
    const version = rowsDb.pragma('user_version', { simple: true }) as number;
    if (version < 2) throw new JournalNotAuditable(`${path} is a journal of schema v${version}, before it was a Merkle log: start the gateway on it once to upgrade it (the upgrade hashes its rows)`);
    const nodeStmt = nodesDb.prepare<[number, number], { hash: Buffer }>('SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?');
    const treeSize = (nodesDb.prepare('SELECT max(idx) AS m FROM merkle_nodes WHERE level = 0').get() as { m: number | null }).m;
    const checkpoints: StoredCheckpoint[] = (nodesDb.prepare('SELECT size, root, time, key_id, sig FROM checkpoints ORDER BY size').all() as { size: number; root: Buffer; time: number; key_id: string; sig: string }[]).map(
      (r) => ({ size: r.size, root: new Uint8Array(r.root), time: r.time, keyId: r.key_id, sig: r.sig }),
    );
    const keys: AuditKey[] = (nodesDb.prepare('SELECT key_id, public_key, created_at, retired_at FROM audit_keys ORDER BY created_at').all() as { key_id: string; public_key: string; created_at: number; retired_at: number | null }[]).map(
      (r) => ({ keyId: r.key_id, publicKey: r.public_key, createdAt: r.created_at, retiredAt: r.retired_at }),
    );
    // Each row with its stored leaf, in one pass (a lookup per row would double the reads).
    const rowsStmt = rowsDb.prepare('SELECT j.seq AS seq, j.body AS body, m.hash AS hash FROM journal j LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = j.seq - 1 ORDER BY j.seq');
    function* rows(): Generator<AuditRow> {
      // Archived rows: their leaves are asked of the node table (`leaf` absent).
      let last = 0;
      const archivedBody = (seq: number): string | undefined => {
        for (const a of archives) {
          const b = a.body(seq);
          if (b !== undefined) return b;
        }
        return undefined;
      };
      for (const [i, a] of archives.entries()) {
        for (const r of a.rows()) {
          // Overlapping archives: a row an earlier archive gave already, the same, is read once.
          if (r.seq <= last && archives.slice(0, i).some((x) => x.body(r.seq) === r.body)) continue;
          last = Math.max(last, r.seq);
          yield { seq: r.seq, body: r.body };
        }
      }
      for (const r of rowsStmt.iterate() as IterableIterator<{ seq: number; body: string; hash: Buffer | null }>) {
        if (r.seq <= last && archivedBody(r.seq) === r.body) continue;
        yield { seq: r.seq, body: r.body, leaf: r.hash };
      }
    }
    return {
      input: {
        rows: { [Symbol.iterator]: rows },
        treeSize: treeSize === null ? 0 : treeSize + 1,
        node: (level, index) => {
          const r = nodeStmt.get(level, index);
          return r ? new Uint8Array(r.hash) : null;
        },
        checkpoints,
        keys,
      },
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}
