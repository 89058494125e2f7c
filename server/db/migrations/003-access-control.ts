/**
 * Version 3: access control at the edge needs two more facts from the server.
 * - Override badges (`badges.override`, 0/1): a manager's card that opens doors
 *   and machines whatever the rules; only an administrator sets it.
 * - Machines out of service: `equipment_status` holds each machine's current
 *   state (one row per site and machine, kept after it is back in service),
 *   `equipment_downtime` one row per period out of service, from which
 *   availability (uptime) for utilisation is computed. At most one period per
 *   machine is open (ended_at null); the database enforces it.
 * The server does not know the sites' machine lists (they are in the gateways'
 * site files), so there are no foreign keys on site and equipment ids.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('badges')
    .addColumn('override', 'integer', (c) => c.notNull().defaultTo(0).check(sql`override in (0, 1)`))
    .execute();

  await db.schema
    .createTable('equipment_status')
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('equipment_id', 'text', (c) => c.notNull())
    .addColumn('out_of_service', 'integer', (c) => c.notNull().check(sql`out_of_service in (0, 1)`))
    .addColumn('since', 'bigint', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('changed_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('equipment_status_pk', ['site_id', 'equipment_id'])
    .execute();

  await db.schema
    .createTable('equipment_downtime')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('equipment_id', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('reported_by', 'text', (c) => c.notNull())
    .addColumn('restored_by', 'text')
    .addCheckConstraint('equipment_downtime_period', sql`ended_at is null or ended_at >= started_at`)
    .execute();
  await db.schema.createIndex('equipment_downtime_machine').on('equipment_downtime').columns(['site_id', 'equipment_id', 'started_at']).execute();
  await db.schema.createIndex('equipment_downtime_started').on('equipment_downtime').column('started_at').execute();
  // One open period per machine: a second report while it is out adds nothing.
  await sql`CREATE UNIQUE INDEX equipment_downtime_open ON equipment_downtime (site_id, equipment_id) WHERE ended_at IS NULL`.execute(db);
}
