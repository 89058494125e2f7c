/**
 * Version 4: services that no sensor measures — trainings, mentor sessions,
 * events and roadshows, technical services, investment introductions — as
 * the space delivers them to members, teams and the public. Accounting bills
 * or gives them free and counts them in the subsidy claim; evaluation counts
 * them (services delivered by kind, participants, hours).
 *
 * One row per delivery; its participants (members) in `service_participants`,
 * plus a count of participants who are not members (public events).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('services')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('training', 'mentoring', 'event', 'technical', 'investment')`))
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('title_zh', 'text')
    .addColumn('site_id', 'text')
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('minutes', 'integer', (c) => c.notNull().check(sql`minutes > 0`))
    .addColumn('provider', 'text')
    .addColumn('trainer_id', 'text', (c) => c.references('trainers.id'))
    .addColumn('team_id', 'text', (c) => c.references('teams.id'))
    .addColumn('external_participants', 'integer', (c) => c.notNull().defaultTo(0).check(sql`external_participants >= 0`))
    .addColumn('fee_minor', 'integer', (c) => c.notNull().defaultTo(0).check(sql`fee_minor >= 0`))
    .addColumn('reference_minor', 'integer', (c) => c.notNull().defaultTo(0).check(sql`reference_minor >= 0`))
    .addColumn('note', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('services_started').on('services').column('started_at').execute();
  await db.schema
    .createTable('service_participants')
    .addColumn('service_id', 'text', (c) => c.notNull().references('services.id').onDelete('cascade'))
    .addColumn('member_id', 'text', (c) => c.notNull().references('members.id'))
    .addPrimaryKeyConstraint('service_participants_pk', ['service_id', 'member_id'])
    .execute();
  await db.schema.createIndex('service_participants_member').on('service_participants').column('member_id').execute();
}
