/**
 * Version 9: the server's audit log (issue #10, docs/audit.md).
 *
 * Every change to reference data (the change log: members, teams, badges,
 * plans, certifications, rate cards, grants, costs, services, …), every ledger
 * entry (charges and adjustments) and every period close is copied, as it is
 * written, into `audit_log` by triggers — whichever way the row arrives (API,
 * import, or by hand in the SQLite shell). The log is append-only (the
 * database refuses edits and deletions); the server hashes each entry into an
 * RFC 6962 Merkle tree (`leaf_hash`, set once) and signs checkpoints of it
 * (`audit_checkpoints`) with its own key (`audit_keys`). A report names the
 * checkpoint it was computed from; an auditor checks the log against the
 * checkpoints and the tables against the log.
 *
 * Entry i of the tree is the row with idx = i + 1; its leaf is the UTF-8 of
 * `body`, a JSON object made by SQLite's json_object in the trigger (so the
 * bytes depend on nothing but the row).
 */
import { sql, type Kysely } from 'kysely';

/** The logged image of a row of each audited table (SQLite json_object; R is the row: the table's alias, NEW in triggers). */
export const IMAGES: readonly { table: string; source: string; ref: string; at: string; image: string }[] = [
  {
    table: 'changes',
    source: 'change',
    ref: 'R.id',
    at: 'R.at',
    image: `json_object('table', 'changes', 'id', R.id, 'at', R.at, 'actor', R.actor, 'entity', R.entity, 'entity_id', R.entity_id, 'action', R.action, 'before', R.before, 'after', R.after)`,
  },
  {
    table: 'ledger_entries',
    source: 'ledger',
    ref: 'R.id',
    at: 'R.created_at',
    image: `json_object('table', 'ledger_entries', 'id', R.id, 'site_id', R.site_id, 'period', R.period, 'kind', R.kind, 'party_type', R.party_type, 'party_id', R.party_id, 'resource_class', R.resource_class, 'amount_minor', R.amount_minor, 'reference_minor', R.reference_minor, 'subsidy_minor', R.subsidy_minor, 'currency', R.currency, 'line', R.line, 'corrects', R.corrects, 'reason', R.reason, 'created_at', R.created_at, 'created_by', R.created_by)`,
  },
  {
    table: 'billing_periods',
    source: 'close',
    ref: "R.site_id || '/' || R.period",
    at: 'R.closed_at',
    image: `json_object('table', 'billing_periods', 'site_id', R.site_id, 'period', R.period, 'closed_at', R.closed_at, 'closed_by', R.closed_by, 'statements_sha256', R.statements_sha256, 'currency', R.currency, 'inputs', R.inputs)`,
  },
  {
    table: 'rate_cards',
    source: 'rate_card',
    ref: 'R.id',
    at: 'R.created_at',
    image: `json_object('table', 'rate_cards', 'id', R.id, 'card', R.card, 'created_at', R.created_at, 'created_by', R.created_by)`,
  },
];

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_log')
    .addColumn('idx', 'integer', (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('leaf_hash', 'blob')
    .execute();
  await sql`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(db);
  // The one update allowed: setting an entry's leaf hash, once.
  await sql`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    WHEN OLD.leaf_hash IS NOT NULL OR NEW.idx IS NOT OLD.idx OR NEW.at IS NOT OLD.at OR NEW.source IS NOT OLD.source OR NEW.ref IS NOT OLD.ref OR NEW.body IS NOT OLD.body
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(db);

  // What is there already goes into the log first, in the order it was written.
  const existing = IMAGES.map((t) => `SELECT ${t.at} AS at, '${t.source}' AS source, CAST(${t.ref} AS TEXT) AS ref, ${t.image} AS body FROM ${t.table} R`).join(' UNION ALL ');
  await sql.raw(`INSERT INTO audit_log (at, source, ref, body) SELECT at, source, ref, body FROM (${existing}) ORDER BY at, source, ref`).execute(db);

  for (const t of IMAGES) {
    const row = (e: string) => e.replaceAll('R.', 'NEW.');
    await sql.raw(`CREATE TRIGGER audit_${t.table} AFTER INSERT ON ${t.table} BEGIN INSERT INTO audit_log (at, source, ref, body) VALUES (${row(t.at)}, '${t.source}', CAST(${row(t.ref)} AS TEXT), ${row(t.image)}); END`).execute(db);
  }

  await db.schema
    .createTable('audit_keys')
    .addColumn('key_id', 'text', (c) => c.primaryKey())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retired_at', 'bigint')
    .execute();
  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('size', 'integer', (c) => c.primaryKey())
    .addColumn('root', 'text', (c) => c.notNull())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('sig', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    /** JSON array of witnesses' cosignatures { keyId, sig, time }. */
    .addColumn('cosignatures', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();
  await sql`CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are kept'); END`.execute(db);
  await sql`CREATE TRIGGER audit_checkpoints_keep BEFORE UPDATE ON audit_checkpoints
    WHEN NEW.size IS NOT OLD.size OR NEW.root IS NOT OLD.root OR NEW.time IS NOT OLD.time OR NEW.key_id IS NOT OLD.key_id OR NEW.sig IS NOT OLD.sig
    BEGIN SELECT RAISE(ABORT, 'a checkpoint is kept as signed; only cosignatures are added'); END`.execute(db);
}
