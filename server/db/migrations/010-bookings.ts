/**
 * Version 10: bookings of machines, hot desks and rooms (issue #13,
 * docs/bookings.md).
 *
 * - `bookings`: one row per booking, block (training, event, maintenance) or
 *   visitor request. `hold_to` is the end plus the resource's buffer at the
 *   time it was booked: the stretch nobody else may hold.
 * - Double booking is impossible in the database itself: a booking that holds
 *   its slot (confirmed, used, no_show) cannot overlap another holding one of
 *   the same resource — triggers refuse the insert or update with
 *   'booking_conflict'. SQLite runs one writer at a time, so the check and the
 *   write cannot interleave with another request's, whatever the API does;
 *   the API also checks in its own BEGIN IMMEDIATE transaction, to answer 409
 *   with the rule's reason.
 * - `booking_visitors`: who asked from the public page (name, contact). Kept
 *   apart so the bookings table, its change log and the gateways' snapshot
 *   carry only ids.
 */
import { sql, type Kysely } from 'kysely';

/** Statuses that hold a slot (the others free it). */
export const HOLDING = "('confirmed', 'used', 'no_show')";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('booking_visitors')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('contact', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('bookings')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('resource_type', 'text', (c) => c.notNull().check(sql`resource_type in ('equipment', 'desk', 'room')`))
    .addColumn('resource_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('booking', 'block', 'visitor')`))
    .addColumn('member_id', 'text', (c) => c.references('members.id'))
    .addColumn('visitor_id', 'text', (c) => c.references('booking_visitors.id'))
    .addColumn('title', 'text')
    .addColumn('from_ms', 'bigint', (c) => c.notNull())
    .addColumn('to_ms', 'bigint', (c) => c.notNull())
    .addColumn('hold_to', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('requested', 'confirmed', 'cancelled', 'released', 'used', 'no_show')`))
    .addColumn('used_at', 'bigint')
    .addColumn('checked_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addCheckConstraint('bookings_period', sql`to_ms > from_ms and hold_to >= to_ms`)
    .addCheckConstraint('bookings_party', sql`(kind = 'booking' and member_id is not null and visitor_id is null) or (kind = 'block' and visitor_id is null) or (kind = 'visitor' and visitor_id is not null and member_id is null)`)
    .execute();
  await db.schema.createIndex('bookings_resource').on('bookings').columns(['site_id', 'resource_type', 'resource_id', 'from_ms']).execute();
  await db.schema.createIndex('bookings_member').on('bookings').columns(['member_id', 'from_ms']).execute();
  await db.schema.createIndex('bookings_period').on('bookings').columns(['to_ms']).execute();
  const overlap = (self: string) => sql.raw(`
    SELECT RAISE(ABORT, 'booking_conflict') WHERE EXISTS (
      SELECT 1 FROM bookings b
      WHERE b.site_id = NEW.site_id AND b.resource_type = NEW.resource_type AND b.resource_id = NEW.resource_id
        AND b.status IN ${HOLDING} AND b.from_ms < NEW.hold_to AND NEW.from_ms < b.hold_to${self});`);
  await sql`CREATE TRIGGER bookings_no_overlap_insert BEFORE INSERT ON bookings WHEN NEW.status IN ${sql.raw(HOLDING)}
    BEGIN ${overlap('')} END`.execute(db);
  await sql`CREATE TRIGGER bookings_no_overlap_update BEFORE UPDATE OF status, from_ms, to_ms, hold_to, resource_id, resource_type, site_id ON bookings
    WHEN NEW.status IN ${sql.raw(HOLDING)}
    BEGIN ${overlap(' AND b.id <> NEW.id')} END`.execute(db);
}
