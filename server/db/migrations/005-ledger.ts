/**
 * Version 5: the accounting ledger (issue #7), append-only.
 *
 * - `billing_periods`: one row per site and month ('YYYY-MM', the site's local
 *   calendar month) once it is closed: when, by whom, and the SHA-256 of the
 *   statements it froze. A closed period never reopens.
 * - `ledger_entries`: what members and teams were charged. Closing a period
 *   writes one `charge` per statement line; a correction after closing is an
 *   `adjustment` naming the entry it corrects and why. Entries are never
 *   updated or deleted: the database refuses it (triggers), so an edit cannot
 *   happen by mistake, through the API or by hand in the SQLite shell.
 * Money is integer minor units with its currency on every entry.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('billing_periods')
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('period', 'text', (c) => c.notNull().check(sql`period glob '[0-9][0-9][0-9][0-9]-[0-1][0-9]'`))
    .addColumn('closed_at', 'bigint', (c) => c.notNull())
    .addColumn('closed_by', 'text', (c) => c.notNull())
    .addColumn('statements_sha256', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('billing_periods_pk', ['site_id', 'period'])
    .execute();

  await db.schema
    .createTable('ledger_entries')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('period', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('charge', 'adjustment')`))
    .addColumn('party_type', 'text', (c) => c.notNull().check(sql`party_type in ('member', 'team')`))
    .addColumn('party_id', 'text', (c) => c.notNull())
    .addColumn('resource_class', 'text', (c) => c.notNull())
    .addColumn('amount_minor', 'integer', (c) => c.notNull())
    .addColumn('reference_minor', 'integer', (c) => c.notNull())
    .addColumn('subsidy_minor', 'integer', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    /** The statement line (JSON) a charge books, with the sessions it bills; for an adjustment, what changes. */
    .addColumn('line', 'text', (c) => c.notNull())
    .addColumn('corrects', 'integer', (c) => c.references('ledger_entries.id'))
    .addColumn('reason', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addCheckConstraint('ledger_adjustment_names_why', sql`kind = 'charge' or (reason is not null and length(reason) > 0)`)
    .execute();
  await db.schema.createIndex('ledger_entries_period').on('ledger_entries').columns(['site_id', 'period', 'id']).execute();
  await db.schema.createIndex('ledger_entries_party').on('ledger_entries').columns(['party_type', 'party_id', 'period']).execute();

  await sql`CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: record an adjustment instead'); END`.execute(db);
  await sql`CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: record an adjustment instead'); END`.execute(db);
  await sql`CREATE TRIGGER billing_periods_no_update BEFORE UPDATE ON billing_periods BEGIN SELECT RAISE(ABORT, 'a closed billing period cannot change'); END`.execute(db);
  await sql`CREATE TRIGGER billing_periods_no_delete BEFORE DELETE ON billing_periods BEGIN SELECT RAISE(ABORT, 'a closed billing period cannot be reopened'); END`.execute(db);
  // Charges are written only while a period is being closed, in the same transaction, before its row exists.
  await sql`CREATE TRIGGER ledger_no_charge_after_close BEFORE INSERT ON ledger_entries WHEN NEW.kind = 'charge' AND EXISTS (SELECT 1 FROM billing_periods WHERE site_id = NEW.site_id AND period = NEW.period) BEGIN SELECT RAISE(ABORT, 'the period is closed: corrections are adjustments'); END`.execute(db);
  // Adjustments correct closed periods only (an open one is simply recomputed).
  await sql`CREATE TRIGGER ledger_adjust_closed_only BEFORE INSERT ON ledger_entries WHEN NEW.kind = 'adjustment' AND NOT EXISTS (SELECT 1 FROM billing_periods WHERE site_id = NEW.site_id AND period = NEW.period) BEGIN SELECT RAISE(ABORT, 'the period is not closed: nothing to adjust yet'); END`.execute(db);
}
