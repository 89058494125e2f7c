/**
 * Bookings in the server's database (issue #13): the reads the booking rules
 * need (the member's policy rows, the slots holding a resource, the member's
 * booked hours), and writes in one `BEGIN IMMEDIATE` transaction, so the
 * rule check and the insert see the same database (the table's triggers
 * refuse an overlap in any case: migration 010).
 */
import { sql, type Kysely } from 'kysely';
import type { PolicyCertification, PolicyMember, PolicyPlan } from '../../core/access/policy-index.js';
import { bookableResources, type HeldSlot, type MemberSlot, type ResourceType } from '../../core/booking/rules.js';
import type { Site } from '../../core/site/model.js';
import type { ServerDb } from '../db/database.js';
import type { DB } from '../db/schema.js';

/** Statuses that hold a slot; the others (requested, cancelled, released) free it. */
export const HOLDING_STATUSES = ['confirmed', 'used', 'no_show'] as const;

const DAY_MS = 86_400_000;

/**
 * Runs `fn` in a write transaction taken at its start (BEGIN IMMEDIATE): no
 * other writer, in this process or another, can slip in between what `fn`
 * reads and what it writes.
 */
export async function immediate<T>(db: ServerDb, fn: (conn: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`BEGIN IMMEDIATE`.execute(conn);
    try {
      const r = await fn(conn);
      await sql`COMMIT`.execute(conn);
      return r;
    } catch (err) {
      await sql`ROLLBACK`.execute(conn);
      throw err;
    }
  });
}

/** Whether an error is the database refusing an overlapping booking (migration 010's triggers). */
export const isBookingConflict = (err: unknown): boolean => err instanceof Error && err.message.includes('booking_conflict');

/** The member's rows as the policy snapshot carries them (what a gateway would decide with). */
export async function memberPolicy(db: Kysely<DB>, memberId: string): Promise<{ member?: PolicyMember; plan?: PolicyPlan; certifications: PolicyCertification[] }> {
  const m = await db.selectFrom('members').select(['id', 'member_no', 'status', 'team_id', 'plan_id', 'plan_valid_from', 'plan_valid_to']).where('id', '=', memberId).executeTakeFirst();
  if (!m) return { certifications: [] };
  const member: PolicyMember = { id: m.id, memberNo: m.member_no, status: m.status, teamId: m.team_id, planId: m.plan_id, planValidFrom: m.plan_valid_from, planValidTo: m.plan_valid_to };
  const p = m.plan_id === null ? undefined : await db.selectFrom('plans').select(['id', 'spaces', 'hours', 'quotas', 'active']).where('id', '=', m.plan_id).executeTakeFirst();
  const plan: PolicyPlan | undefined = p && {
    id: p.id,
    spaces: JSON.parse(p.spaces) as string[],
    hours: JSON.parse(p.hours) as PolicyPlan['hours'],
    quotas: JSON.parse(p.quotas) as Record<string, number>,
    active: p.active !== 0,
  };
  const certs = await db.selectFrom('certifications').select(['member_id', 'class', 'issued_on', 'expires_on', 'revoked_at']).where('member_id', '=', memberId).execute();
  return {
    member,
    ...(plan && { plan }),
    certifications: certs.map((c) => ({ memberId: c.member_id, class: c.class, issuedOn: c.issued_on, expiresOn: c.expires_on, revoked: c.revoked_at !== null })),
  };
}

export async function isOutOfService(db: Kysely<DB>, siteId: string, equipmentId: string): Promise<boolean> {
  const r = await db.selectFrom('equipment_status').select('out_of_service').where('site_id', '=', siteId).where('equipment_id', '=', equipmentId).executeTakeFirst();
  return r?.out_of_service === 1;
}

/** Bookings holding the resource near [from, to) (within the buffer), except `exceptId`. */
export async function heldSlots(db: Kysely<DB>, siteId: string, type: ResourceType, id: string, from: number, to: number, bufferMs: number, exceptId?: string): Promise<HeldSlot[]> {
  let q = db
    .selectFrom('bookings')
    .select(['id', 'from_ms', 'to_ms', 'member_id'])
    .where('site_id', '=', siteId)
    .where('resource_type', '=', type)
    .where('resource_id', '=', id)
    .where('status', 'in', [...HOLDING_STATUSES])
    .where('from_ms', '<', to + bufferMs)
    .where('hold_to', '>', from - bufferMs);
  if (exceptId !== undefined) q = q.where('id', '<>', exceptId);
  return (await q.execute()).map((b) => ({ id: b.id, from: Number(b.from_ms), to: Number(b.to_ms), memberId: b.member_id }));
}

/** The member's holding bookings of resources of one rule class, in the ~6 weeks around `at` (the week and month limits). */
export async function memberSlotsOfClass(db: Kysely<DB>, site: Site, memberId: string, cls: string, at: number): Promise<MemberSlot[]> {
  const same = bookableResources(site).filter((r) => r.class === cls);
  if (same.length === 0) return [];
  const rows = await db
    .selectFrom('bookings')
    .select(['resource_type', 'resource_id', 'from_ms', 'to_ms'])
    .where('site_id', '=', site.id)
    .where('member_id', '=', memberId)
    .where('status', 'in', [...HOLDING_STATUSES])
    .where('from_ms', '>', at - 40 * DAY_MS)
    .where('from_ms', '<', at + 40 * DAY_MS)
    .execute();
  const keys = new Set(same.map((r) => `${r.type}:${r.id}`));
  return rows.filter((b) => keys.has(`${b.resource_type}:${b.resource_id}`)).map((b) => ({ from: Number(b.from_ms), to: Number(b.to_ms) }));
}
