/**
 * Version 7: what accounting needs besides sessions and the rate card
 * (issue #7, docs/accounting.md).
 *
 * - `members.price_group` (a rate card's member group, null for none) and
 *   `members.bill_to` ('team': usage goes on the statement of the team the
 *   session recorded, personal when it recorded none; 'self': always on the
 *   member's own statement). Existing members keep being billed as before
 *   ('team').
 * - `billing_periods.inputs`: what a month was priced with besides the raw
 *   signals (rate card id, members' plan/group/team/billing, plans' quotas,
 *   free-time grants), frozen at closing so that verifying the month re-prices
 *   it from the raw signals with exactly those, whatever the roster says later.
 *   Null for months closed before this version.
 * - `costs`: what the space paid for what it claims as costs (rent, broadband,
 *   shared hardware, software) per local month. Once the month is closed its
 *   costs can be neither added, changed nor removed (triggers).
 * - `free_time_grants`: free time given to a member for work that benefits the
 *   space (teaching a course, maintaining a machine), with the reason; usage of
 *   that resource class in that time is free and counted as subsidy.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('members').addColumn('price_group', 'text').execute();
  await db.schema
    .alterTable('members')
    .addColumn('bill_to', 'text', (c) => c.notNull().defaultTo('team').check(sql`bill_to in ('self', 'team')`))
    .execute();
  await db.schema.alterTable('billing_periods').addColumn('inputs', 'text').execute();

  await db.schema
    .createTable('costs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('period', 'text', (c) => c.notNull().check(sql`period glob '[0-9][0-9][0-9][0-9]-[0-1][0-9]'`))
    .addColumn('category', 'text', (c) => c.notNull().check(sql`category in ('space', 'broadband', 'shared_equipment', 'software')`))
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('supplier', 'text')
    .addColumn('invoice_ref', 'text')
    .addColumn('amount_minor', 'integer', (c) => c.notNull().check(sql`amount_minor > 0`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('costs_period').on('costs').columns(['site_id', 'period']).execute();
  const closed = (row: 'NEW' | 'OLD') => sql.raw(`EXISTS (SELECT 1 FROM billing_periods WHERE site_id = ${row}.site_id AND period = ${row}.period)`);
  await sql`CREATE TRIGGER costs_closed_insert BEFORE INSERT ON costs WHEN ${closed('NEW')} BEGIN SELECT RAISE(ABORT, 'the month is closed: its costs are frozen'); END`.execute(db);
  await sql`CREATE TRIGGER costs_closed_update BEFORE UPDATE ON costs WHEN ${closed('OLD')} OR ${closed('NEW')} BEGIN SELECT RAISE(ABORT, 'the month is closed: its costs are frozen'); END`.execute(db);
  await sql`CREATE TRIGGER costs_closed_delete BEFORE DELETE ON costs WHEN ${closed('OLD')} BEGIN SELECT RAISE(ABORT, 'the month is closed: its costs are frozen'); END`.execute(db);

  await db.schema
    .createTable('free_time_grants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('member_id', 'text', (c) => c.notNull().references('members.id'))
    .addColumn('resource_class', 'text', (c) => c.notNull())
    .addColumn('from_ms', 'bigint', (c) => c.notNull())
    .addColumn('to_ms', 'bigint', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull().check(sql`length(reason) > 0`))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addCheckConstraint('free_time_grants_forwards', sql`to_ms > from_ms`)
    .execute();
  await db.schema.createIndex('free_time_grants_member').on('free_time_grants').columns(['member_id', 'from_ms']).execute();
}
