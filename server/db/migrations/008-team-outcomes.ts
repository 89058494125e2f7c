/**
 * Version 8: what evaluation needs to know of teams (issue #8,
 * docs/indicators.md).
 *
 * - `teams.graduated_on`: the date a graduated team graduated (optional, and
 *   only for graduated teams; a graduation without a date is not counted in a
 *   period's graduations).
 * - `team_investments`: investment a team raised — when, how much (minor
 *   units, or null when not disclosed), from outside capital ('social') or the
 *   space's own fund ('own'), who invested, which round. Evaluation counts
 *   the teams that raised investment in a period.
 * (A team's enterprise registration is `teams.founded_on`, the date its
 * company was founded.)
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('teams').addColumn('graduated_on', 'text').execute();
  await db.schema
    .createTable('team_investments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
    .addColumn('on_date', 'text', (c) => c.notNull().check(sql`on_date glob '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'`))
    .addColumn('amount_minor', 'integer', (c) => c.check(sql`amount_minor is null or amount_minor > 0`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.check(sql`source is null or source in ('social', 'own')`))
    .addColumn('investor', 'text')
    .addColumn('round', 'text')
    .addColumn('note', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('team_investments_team').on('team_investments').columns(['team_id', 'on_date']).execute();
}
