/**
 * Checks the server's audit log (docs/audit.md, "Verify"): every entry's body
 * against its leaf hash, the tree rebuilt from the bodies against every signed
 * checkpoint (signature by a key on record, root at its size), and the audited
 * tables against the log (a row edited or deleted after it was logged). It
 * names the first thing that breaks.
 *
 * The tree is rebuilt here from the RFC 6962 definition with a stack of
 * perfect subtrees, and leaves are hashed by the independent verifier
 * (core/audit/rfc9162-verify.ts): nothing is shared with the writer
 * (core/audit/merkle.ts), so a mistake there is not repeated here.
 */
import { sql } from 'kysely';
import { checkSignature, publicKeyFromRaw } from '../../core/audit/checkpoint.js';
import { HeadBuilder, verifierLeafHash } from '../../core/audit/rfc9162-verify.js';
import type { ServerDb } from '../db/database.js';
import { IMAGES } from '../db/migrations/009-audit-log.js';
import { signedOf, toStored } from './log.js';

export interface AuditProblem {
  readonly kind: 'entry-changed' | 'entry-missing' | 'entry-inserted' | 'checkpoint-mismatch' | 'checkpoint-signature' | 'checkpoint-beyond-log' | 'row-changed' | 'row-deleted' | 'row-unlogged';
  /** The log entry (1-based idx) or checkpoint size it concerns, when there is one. */
  readonly entry: number | null;
  readonly detail: string;
}

export interface AuditReport {
  readonly ok: boolean;
  readonly entries: number;
  readonly hashed: number;
  readonly checkpoints: number;
  /** Every problem found, the first (in log order) first. */
  readonly problems: readonly AuditProblem[];
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

export async function verifyServerLog(db: ServerDb, origin: string, onProgress?: (done: number, total: number) => void): Promise<AuditReport> {
  const problems: AuditProblem[] = [];
  const total = Number((await db.selectFrom('audit_log').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const checkpoints = (await db.selectFrom('audit_checkpoints').selectAll().orderBy('size').execute()).map((r) => toStored(r, origin));
  const keys = new Map((await db.selectFrom('audit_keys').selectAll().execute()).map((k) => [k.key_id, publicKeyFromRaw(k.public_key)]));
  const bySize = new Map(checkpoints.map((c) => [c.size, c]));
  const builder = new HeadBuilder();
  let hashed = 0;
  let expected = 1;
  // Entries are hashed in order: one without a hash before one with a hash was put in afterwards.
  let unhashed: number | null = null;
  const checkAt = (size: number): void => {
    const c = bySize.get(size);
    if (!c) return;
    if (b64(builder.root()) !== c.root) problems.push({ kind: 'checkpoint-mismatch', entry: size, detail: `the log's first ${size} entries do not give the root signed in the checkpoint of ${new Date(c.time).toISOString()} (${c.reason}): entries up to ${size} were changed, removed, reordered or inserted` });
  };
  checkAt(0);
  for (let after = 0; ; ) {
    const rows = await db.selectFrom('audit_log').select(['idx', 'source', 'ref', 'body', 'leaf_hash']).where('idx', '>', after).orderBy('idx').limit(5000).execute();
    if (rows.length === 0) break;
    for (const r of rows) {
      if (r.idx !== expected) {
        problems.push({ kind: 'entry-missing', entry: expected, detail: `entries ${expected}–${r.idx - 1} are missing from the log` });
        expected = r.idx;
      }
      const leaf = verifierLeafHash(Buffer.from(r.body, 'utf8'));
      if (r.leaf_hash === null) unhashed ??= r.idx;
      else if (unhashed !== null) {
        problems.push({ kind: 'entry-inserted', entry: unhashed, detail: `entry ${unhashed} was put into the log after later entries were hashed` });
        unhashed = null;
      }
      if (r.leaf_hash !== null) {
        hashed++;
        if (b64(leaf) !== b64(r.leaf_hash)) problems.push({ kind: 'entry-changed', entry: r.idx, detail: `entry ${r.idx} (${r.source} ${r.ref}) was changed after it was hashed` });
      }
      builder.push(leaf);
      checkAt(builder.count);
      expected++;
      after = r.idx;
    }
    onProgress?.(builder.count, total);
  }
  for (const c of checkpoints) {
    const bad = checkSignature(signedOf(c, origin), keys);
    if (bad) problems.push({ kind: 'checkpoint-signature', entry: c.size, detail: `checkpoint of size ${c.size}: ${bad}` });
    if (c.size > builder.count) problems.push({ kind: 'checkpoint-beyond-log', entry: c.size, detail: `a checkpoint covers ${c.size} entries but the log has ${builder.count}: its tail was removed` });
  }
  // The audited tables against the log: each row's image must be logged, and each logged row must still exist as logged.
  for (const t of IMAGES) {
    const image = t.image;
    const changed = await sql
      .raw<{ ref: string }>(`SELECT CAST(${t.ref} AS TEXT) AS ref FROM ${t.table} R WHERE NOT EXISTS (SELECT 1 FROM audit_log L WHERE L.source = '${t.source}' AND L.ref = CAST(${t.ref} AS TEXT) AND L.body = ${image})`)
      .execute(db);
    for (const r of changed.rows) {
      const logged = await db.selectFrom('audit_log').select('idx').where('source', '=', t.source as 'change').where('ref', '=', r.ref).executeTakeFirst();
      problems.push(
        logged
          ? { kind: 'row-changed', entry: logged.idx, detail: `${t.table} ${r.ref} differs from what was logged at entry ${logged.idx}: it was edited afterwards` }
          : { kind: 'row-unlogged', entry: null, detail: `${t.table} ${r.ref} is not in the log: it was written with the log's triggers removed` },
      );
    }
    const gone = await sql.raw<{ idx: number; ref: string }>(`SELECT L.idx AS idx, L.ref AS ref FROM audit_log L WHERE L.source = '${t.source}' AND NOT EXISTS (SELECT 1 FROM ${t.table} R WHERE CAST(${t.ref} AS TEXT) = L.ref)`).execute(db);
    for (const r of gone.rows) problems.push({ kind: 'row-deleted', entry: r.idx, detail: `${t.table} ${r.ref}, logged at entry ${r.idx}, was deleted` });
  }
  problems.sort((a, b) => (a.entry ?? Number.MAX_SAFE_INTEGER) - (b.entry ?? Number.MAX_SAFE_INTEGER));
  return { ok: problems.length === 0, entries: builder.count, hashed, checkpoints: checkpoints.length, problems };
}
