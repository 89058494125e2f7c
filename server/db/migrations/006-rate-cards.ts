/**
 * Version 6: rate cards (core/accounting/rates.ts). Each change stores the
 * whole card as a new row; the newest row is the card in force, and its
 * versions say from which date each set of prices applies. Rows are never
 * changed or removed (triggers), so a statement that names the card it was
 * priced with can be reproduced from it years later.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('rate_cards')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('card', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute();
  await sql`CREATE TRIGGER rate_cards_no_update BEFORE UPDATE ON rate_cards BEGIN SELECT RAISE(ABORT, 'rate cards are kept as they were: store a new card instead'); END`.execute(db);
  await sql`CREATE TRIGGER rate_cards_no_delete BEFORE DELETE ON rate_cards BEGIN SELECT RAISE(ABORT, 'rate cards are kept as they were: store a new card instead'); END`.execute(db);
}
