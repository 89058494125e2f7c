/**
 * Bookings of machines, hot desks and rooms (issue #13, docs/bookings.md).
 *
 * - Members book and cancel their own; managers and administrators book for
 *   any member, block slots (trainings, events, maintenance) and confirm
 *   visitors' requests. Auditors read.
 * - Every booking is checked by the pure rules (core/booking/rules.ts) inside
 *   one BEGIN IMMEDIATE transaction with its insert: two requests for the last
 *   slot cannot both pass the check. The table's triggers refuse an overlap
 *   whatever the path (migration 010): 409 `booking_conflict`.
 * - Every write goes to the change log (entity booking, a policy entity:
 *   gateways get machines' bookings with the next snapshot version).
 * - Refusals answer 422 with `booking_<reason>` and the rule's sentence in the
 *   caller's language (Accept-Language zh → Chinese).
 * - The public routes (/public/bookings/…) need no login and carry no
 *   personal data: resources, when they are free and busy, and a visitor's
 *   request (answered with its id and status only).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { bookedTime, evaluateCheckins, type CheckinBooking, type CheckinSession } from '../../core/booking/checkin.js';
import { toICalendar, type CalendarEvent } from '../../core/booking/ical.js';
import { bookableResources, checkBooking, findResource, REFUSALS, RESOURCE_TYPES, ruleFor, type BookableResource, type BookingActor, type BookingRefusal } from '../../core/booking/rules.js';
import { openIntervals, siteCalendar, spaceOpenState } from '../../core/usage/calendar.js';
import type { Site } from '../../core/site/model.js';
import { ownMemberScope, type Principal } from '../auth/principal.js';
import { heldSlots, HOLDING_STATUSES, immediate, isBookingConflict, isOutOfService, memberPolicy, memberSlotsOfClass } from '../bookings/store.js';
import { actorOf, recordChange } from '../db/changes.js';
import type { ServerDb } from '../db/database.js';
import type { BookingRow, BookingStatus } from '../db/schema.js';
import { newId } from '../ids.js';
import { HttpProblem, problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { FIELD, Nullable, ONE_LINE } from './members.js';
import { Empty, IdParam, NoQuery } from './schemas.js';
import { readUsage } from './usage.js';

const STAFF = ['admin', 'manager', 'auditor'] as const;
const MANAGERS = ['admin', 'manager'] as const;
const BOOKERS = ['admin', 'manager', 'member'] as const;
const READERS = [...STAFF, 'member'] as const;

const DAY_MS = 86_400_000;
const ResourceTypeSchema = Type.Union(RESOURCE_TYPES.map((t) => Type.Literal(t)));
const ResourceId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' });
const Instant = (description: string) => Type.Integer({ minimum: 0, maximum: 8_640_000_000_000, description });
const Title = Type.String({ minLength: 1, maxLength: FIELD.name.maxLength, pattern: ONE_LINE });

const BookingSchema = Type.Object(
  {
    id: Type.String(),
    siteId: Type.String(),
    resourceType: ResourceTypeSchema,
    resourceId: Type.String(),
    kind: Type.Union([Type.Literal('booking'), Type.Literal('block'), Type.Literal('visitor')]),
    memberId: Nullable(Type.String()),
    title: Nullable(Type.String()),
    from: Type.Integer(),
    to: Type.Integer(),
    status: Type.Union(['requested', 'confirmed', 'cancelled', 'released', 'used', 'no_show'].map((s) => Type.Literal(s))),
    usedAt: Nullable(Type.Integer()),
    createdAt: Type.Integer(),
    createdBy: Type.Optional(Type.String({ description: 'Staff only' })),
    visitor: Type.Optional(Type.Object({ name: Type.String(), contact: Type.String() }, { additionalProperties: false, description: 'Staff only: who asked from the public page' })),
  },
  { additionalProperties: false },
);
type BookingJson = Static<typeof BookingSchema>;

const RuleSchema = Type.Object(
  {
    minMinutes: Type.Number(),
    maxMinutes: Type.Number(),
    stepMinutes: Type.Number(),
    aheadDays: Type.Number(),
    bufferMinutes: Type.Number(),
    maxHoursPerWeek: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
);
const ResourceSchema = Type.Object(
  {
    type: ResourceTypeSchema,
    id: Type.String(),
    space: Type.String(),
    class: Type.String(),
    certification: Nullable(Type.String()),
    name: Type.String(),
    nameZh: Type.String(),
    rule: RuleSchema,
  },
  { additionalProperties: false },
);

const BookedTimeSchema = Type.Object(
  { bookings: Type.Integer(), bookedMs: Type.Integer(), usedMs: Type.Integer(), unusedMs: Type.Integer({ description: 'Booked but unused: no-shows, released or not' }), noShows: Type.Integer() },
  { additionalProperties: false },
);

const isStaff = (p: Principal | null): boolean => p !== null && (STAFF as readonly string[]).includes(p.role);
const zh = (req: FastifyRequest): boolean => /^\s*zh\b/i.test(req.headers['accept-language'] ?? '');

function refusal(req: FastifyRequest, reason: BookingRefusal): HttpProblem {
  const m = REFUSALS[reason];
  return reason === 'conflict' ? new HttpProblem(409, 'booking_conflict', zh(req) ? m.zh : m.en) : new HttpProblem(422, `booking_${reason}`, zh(req) ? m.zh : m.en);
}

function requireSite(ctx: ServerContext): Site {
  if (!ctx.site) throw problems.unavailable('bookings need the site file; start the server with the site (facility start / facility server --site)');
  return ctx.site;
}

function toJson(b: BookingRow, staff: boolean, visitor?: { name: string; contact: string }): BookingJson {
  return {
    id: b.id,
    siteId: b.site_id,
    resourceType: b.resource_type,
    resourceId: b.resource_id,
    kind: b.kind,
    memberId: b.member_id,
    title: b.title,
    from: Number(b.from_ms),
    to: Number(b.to_ms),
    status: b.status,
    usedAt: b.used_at === null ? null : Number(b.used_at),
    createdAt: Number(b.created_at),
    ...(staff && { createdBy: b.created_by }),
    ...(staff && visitor && { visitor }),
  };
}

/** The change log's image of a booking: ids and times only (a visitor's name stays in booking_visitors). */
function image(b: BookingRow) {
  return { siteId: b.site_id, resource: `${b.resource_type}:${b.resource_id}`, kind: b.kind, memberId: b.member_id, visitorId: b.visitor_id, title: b.title, from: Number(b.from_ms), to: Number(b.to_ms), status: b.status };
}

interface NewBooking {
  readonly resource: BookableResource | undefined;
  readonly resourceType: BookableResource['type'];
  readonly resourceId: string;
  readonly from: number;
  readonly to: number;
  readonly actor: BookingActor;
  readonly memberId: string | null;
  readonly visitorId: string | null;
  readonly title: string | null;
  readonly status: BookingStatus;
  readonly createdBy: string;
}

/** Checks the rules and writes the booking in one immediate transaction; answers the row and the policy version. */
async function createBooking(ctx: ServerContext, site: Site, req: FastifyRequest, n: NewBooking, visitor?: { name: string; contact: string }): Promise<{ row: BookingRow; version: number }> {
  const now = ctx.clock.now();
  const r = n.resource;
  const rule = ruleFor(ctx.bookings, r?.class ?? '');
  const bufferMs = rule.bufferMinutes * 60_000;
  try {
    return await immediate(ctx.db, async (db) => {
      const policy = n.memberId !== null && (n.actor === 'member' || n.actor === 'manager') ? await memberPolicy(db, n.memberId) : undefined;
      const verdict = checkBooking({
        site,
        settings: ctx.bookings,
        now,
        resource: r,
        from: n.from,
        to: n.to,
        actor: n.actor,
        ...(policy && { member: policy.member, plan: policy.plan, certifications: policy.certifications }),
        outOfService: r?.type === 'equipment' ? await isOutOfService(db, site.id, r.id) : false,
        // A visitor's request holds nothing until confirmed; it is checked against what is held now.
        held: r ? await heldSlots(db, site.id, r.type, r.id, n.from, n.to, bufferMs) : [],
        memberSlots: r && n.memberId !== null && n.actor === 'member' ? await memberSlotsOfClass(db, site, n.memberId, r.class, n.from) : [],
      });
      if (!verdict.ok) throw refusal(req, verdict.reason);
      let visitorId = n.visitorId;
      if (visitor) {
        visitorId = newId('vis');
        await db.insertInto('booking_visitors').values({ id: visitorId, name: visitor.name, contact: visitor.contact, created_at: now }).execute();
      }
      const row: BookingRow = {
        id: newId('bkg'),
        site_id: site.id,
        resource_type: n.resourceType,
        resource_id: n.resourceId,
        kind: n.actor === 'block' ? 'block' : n.actor === 'visitor' ? 'visitor' : 'booking',
        member_id: n.memberId,
        visitor_id: visitorId,
        title: n.title,
        from_ms: n.from,
        to_ms: n.to,
        hold_to: n.to + bufferMs,
        status: n.status,
        used_at: null,
        checked_at: null,
        created_at: now,
        created_by: n.createdBy,
        updated_at: now,
      };
      await db.insertInto('bookings').values(row).execute();
      const version = await recordChange(db, { actor: n.createdBy, entity: 'booking', entityId: row.id, action: 'create', before: null, after: image(row), at: now });
      return { row, version };
    });
  } catch (err) {
    if (isBookingConflict(err)) throw refusal(req, 'conflict');
    throw err;
  }
}

async function updateStatus(ctx: ServerContext, req: FastifyRequest, id: string, check: (b: BookingRow) => BookingStatus, extra: Partial<Pick<BookingRow, 'used_at' | 'checked_at'>> = {}): Promise<{ row: BookingRow; version: number }> {
  const now = ctx.clock.now();
  try {
    return await immediate(ctx.db, async (db) => {
      const before = await db.selectFrom('bookings').selectAll().where('id', '=', id).executeTakeFirst();
      if (!before) throw problems.notFound(`booking ${id}`);
      const status = check(before);
      const row: BookingRow = { ...before, ...extra, status, updated_at: now };
      await db.updateTable('bookings').set({ status, updated_at: now, ...extra }).where('id', '=', id).execute();
      const version = await recordChange(db, { actor: actorOf(req.principal), entity: 'booking', entityId: id, action: 'update', before: image(before), after: image(row), at: now });
      return { row, version };
    });
  } catch (err) {
    if (isBookingConflict(err)) throw refusal(req, 'conflict');
    throw err;
  }
}

/** The start of the oldest member booking still waiting for its check-in, or null when none is. */
export async function oldestUndecided(ctx: ServerContext, site: Site): Promise<number | null> {
  const now = ctx.clock.now();
  const r = await ctx.db
    .selectFrom('bookings')
    .select((eb) => eb.fn.min('from_ms').as('from'))
    .where('site_id', '=', site.id)
    .where('status', '=', 'confirmed')
    .where('kind', '=', 'booking')
    .where('from_ms', '<', now + ctx.bookings.graceMinutes * 60_000)
    .executeTakeFirst();
  return r?.from === null || r?.from === undefined ? null : Number(r.from);
}

/**
 * Applies check-in outcomes (core/booking/checkin.ts) to confirmed bookings;
 * answers how many changed and the newest policy version. `sessions` must be
 * all usage from `coveredFrom` to now: only bookings whose grace window lies
 * inside that are decided (one whose window was not read is never taken for
 * a no-show).
 */
export async function applyCheckins(ctx: ServerContext, site: Site, sessions: readonly CheckinSession[], actor: string, coveredFrom: number): Promise<{ changed: number; version: number | null }> {
  const now = ctx.clock.now();
  const graceMs = ctx.bookings.graceMinutes * 60_000;
  const rows = await ctx.db
    .selectFrom('bookings')
    .selectAll()
    .where('site_id', '=', site.id)
    .where('status', '=', 'confirmed')
    .where('kind', '=', 'booking')
    .where('from_ms', '<', now + graceMs)
    .where('from_ms', '>=', coveredFrom + graceMs)
    .execute();
  const outcomes = evaluateCheckins(rows.map((b) => checkinOf(site, b)), sessions, { now, graceMs, autoRelease: ctx.bookings.autoRelease });
  let version: number | null = null;
  for (const o of outcomes) {
    await immediate(ctx.db, async (db) => {
      const before = await db.selectFrom('bookings').selectAll().where('id', '=', o.id).where('status', '=', 'confirmed').executeTakeFirst();
      if (!before) return;
      const row: BookingRow = { ...before, status: o.status, used_at: o.usedAt, checked_at: now, updated_at: now };
      await db.updateTable('bookings').set({ status: o.status, used_at: o.usedAt, checked_at: now, updated_at: now }).where('id', '=', o.id).execute();
      version = await recordChange(db, { actor, entity: 'booking', entityId: o.id, action: 'update', before: image(before), after: image(row), at: now });
    });
  }
  if (version !== null) ctx.policyChanged(version);
  return { changed: outcomes.length, version };
}

function checkinOf(site: Site, b: BookingRow): CheckinBooking {
  const space = b.resource_type === 'equipment' ? site.equipment.get(b.resource_id)?.space : b.resource_type === 'desk' ? site.desks.get(b.resource_id)?.space : b.resource_id;
  return { id: b.id, resourceType: b.resource_type, resourceId: b.resource_id, space: space ?? '', memberId: b.member_id, kind: b.kind, from: Number(b.from_ms), to: Number(b.to_ms), status: b.status };
}

async function visitorsOf(db: ServerDb, rows: readonly BookingRow[]): Promise<Map<string, { name: string; contact: string }>> {
  const ids = [...new Set(rows.flatMap((r) => (r.visitor_id === null ? [] : [r.visitor_id])))];
  if (ids.length === 0) return new Map();
  const v = await db.selectFrom('booking_visitors').select(['id', 'name', 'contact']).where('id', 'in', ids).execute();
  return new Map(v.map((x) => [x.id, { name: x.name, contact: x.contact }]));
}

function calendarEvents(rows: readonly BookingRow[], site: Site, host: string, withHolder: boolean): CalendarEvent[] {
  return rows.map((b) => {
    const r = findResource(site, b.resource_type, b.resource_id);
    const what = r ? `${r.name} / ${r.nameZh}` : `${b.resource_type} ${b.resource_id}`;
    const summary = b.kind === 'block' ? `${what}: ${b.title ?? 'blocked'}` : withHolder && b.member_id !== null ? `${what} (${b.member_id})` : what;
    return {
      uid: `${b.id}@${host}`,
      from: Number(b.from_ms),
      to: Number(b.to_ms),
      summary,
      location: r ? `${site.file.site.name} · ${site.spaces.get(r.space)?.name ?? r.space}` : site.file.site.name,
      description: `status: ${b.status}`,
      status: b.status === 'requested' ? 'TENTATIVE' : b.status === 'cancelled' || b.status === 'released' ? 'CANCELLED' : 'CONFIRMED',
      modified: Number(b.updated_at),
    };
  });
}

const Period = {
  from: Type.Optional(Instant('Start of the period, epoch ms (default: now − 1 day)')),
  to: Type.Optional(Instant('End of the period, epoch ms (default: from + 31 days)')),
};

export const bookingRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const db = ctx.db;

  app.get(
    '/bookings/resources',
    {
      config: { authz: { roles: READERS } },
      schema: { tags: ['bookings'], summary: 'What can be booked: machines, hot desks and rooms of the site, with their slot rules', querystring: NoQuery, response: { 200: Type.Array(ResourceSchema) } },
    },
    async () => {
      const site = requireSite(ctx);
      return bookableResources(site).map((r) => ({ ...r, rule: ruleFor(ctx.bookings, r.class) }));
    },
  );

  app.get(
    '/bookings',
    {
      config: { authz: { roles: READERS } },
      schema: {
        tags: ['bookings'],
        summary: 'Bookings in a period, by member, resource or status (members: their own)',
        querystring: Type.Object(
          {
            ...Period,
            memberId: Type.Optional(Type.String({ maxLength: 64 })),
            resourceType: Type.Optional(ResourceTypeSchema),
            resourceId: Type.Optional(ResourceId),
            status: Type.Optional(Type.String({ pattern: '^(requested|confirmed|cancelled|released|used|no_show)$' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(BookingSchema) },
      },
    },
    async (req) => {
      const now = ctx.clock.now();
      const from = req.query.from ?? now - DAY_MS;
      const to = req.query.to ?? from + 31 * DAY_MS;
      if (to <= from) throw problems.unprocessable('the period is empty: to must be after from');
      const scope = ownMemberScope(req.principal);
      let q = db.selectFrom('bookings').selectAll().where('from_ms', '<', to).where('to_ms', '>', from);
      if (scope !== null && scope !== undefined) q = q.where('member_id', '=', scope);
      if (req.query.memberId !== undefined) q = q.where('member_id', '=', req.query.memberId);
      if (req.query.resourceType !== undefined) q = q.where('resource_type', '=', req.query.resourceType);
      if (req.query.resourceId !== undefined) q = q.where('resource_id', '=', req.query.resourceId);
      if (req.query.status !== undefined) q = q.where('status', '=', req.query.status as BookingStatus);
      const rows = await q.orderBy('from_ms').orderBy('id').limit(2000).execute();
      const staff = isStaff(req.principal);
      const visitors = staff ? await visitorsOf(db, rows) : new Map<string, { name: string; contact: string }>();
      return rows.map((b) => toJson(b, staff, b.visitor_id === null ? undefined : visitors.get(b.visitor_id)));
    },
  );

  app.post(
    '/bookings',
    {
      config: { authz: { roles: BOOKERS } },
      schema: {
        tags: ['bookings'],
        summary: 'Book a machine, hot desk or room (members: for themselves; managers: for any member)',
        description: '201 with the booking; 409 booking_conflict when the slot is taken (buffer included); 422 booking_<reason> when a rule refuses (docs/bookings.md).',
        body: Type.Object(
          { resourceType: ResourceTypeSchema, resourceId: ResourceId, from: Instant('Start, epoch ms'), to: Instant('End, epoch ms (exclusive)'), memberId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
          { additionalProperties: false },
        ),
        response: { 201: BookingSchema },
      },
    },
    async (req, reply) => {
      const site = requireSite(ctx);
      const b = req.body;
      const p = req.principal!;
      let memberId: string;
      let actor: BookingActor;
      if (p.role === 'member') {
        const own = ownMemberScope(p);
        if (own === null || own === undefined || own.startsWith('\u0000')) throw problems.forbidden('your login is not linked to a member');
        if (b.memberId !== undefined && b.memberId !== own) throw problems.forbidden('members book for themselves only');
        memberId = own;
        actor = 'member';
      } else {
        if (b.memberId === undefined) throw problems.unprocessable('say which member the booking is for (memberId)', [{ path: 'body/memberId', message: 'required for managers' }]);
        memberId = b.memberId;
        actor = 'manager';
      }
      const r = await createBooking(ctx, site, req, {
        resource: findResource(site, b.resourceType, b.resourceId),
        resourceType: b.resourceType,
        resourceId: b.resourceId,
        from: b.from,
        to: b.to,
        actor,
        memberId,
        visitorId: null,
        title: null,
        status: 'confirmed',
        createdBy: actorOf(p),
      });
      ctx.policyChanged(r.version);
      return reply.code(201).send(toJson(r.row, isStaff(p)));
    },
  );

  app.post(
    '/bookings/blocks',
    {
      config: { authz: { roles: MANAGERS } },
      schema: {
        tags: ['bookings'],
        summary: 'Block a slot for a training, an event or maintenance (managers); optionally held by a member (the trainer), who may then use the machine',
        body: Type.Object(
          { resourceType: ResourceTypeSchema, resourceId: ResourceId, from: Instant('Start, epoch ms'), to: Instant('End, epoch ms (exclusive)'), title: Title, memberId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
          { additionalProperties: false },
        ),
        response: { 201: BookingSchema },
      },
    },
    async (req, reply) => {
      const site = requireSite(ctx);
      const b = req.body;
      if (b.memberId !== undefined && !(await db.selectFrom('members').select('id').where('id', '=', b.memberId).executeTakeFirst())) throw problems.unprocessable(`member ${b.memberId} does not exist`);
      const r = await createBooking(ctx, site, req, {
        resource: findResource(site, b.resourceType, b.resourceId),
        resourceType: b.resourceType,
        resourceId: b.resourceId,
        from: b.from,
        to: b.to,
        actor: 'block',
        memberId: b.memberId ?? null,
        visitorId: null,
        title: b.title,
        status: 'confirmed',
        createdBy: actorOf(req.principal),
      });
      ctx.policyChanged(r.version);
      return reply.code(201).send(toJson(r.row, true));
    },
  );

  app.patch(
    '/bookings/:id',
    {
      config: { authz: { roles: BOOKERS } },
      schema: {
        tags: ['bookings'],
        summary: 'Cancel a booking: { "status": "cancelled" } (members: their own, before it ends); the slot is free again',
        params: IdParam,
        body: Type.Object({ status: Type.Literal('cancelled') }, { additionalProperties: false }),
        response: { 200: BookingSchema },
      },
    },
    async (req) => {
      const scope = ownMemberScope(req.principal);
      const r = await updateStatus(ctx, req, req.params.id, (b) => {
        if (scope !== null && scope !== b.member_id) throw problems.notFound(`booking ${req.params.id}`);
        if (!['requested', 'confirmed'].includes(b.status)) throw problems.conflict(`the booking is ${b.status}; only requested or confirmed bookings can be cancelled`);
        if (scope !== null && Number(b.to_ms) <= ctx.clock.now()) throw problems.conflict('the booking is over');
        return 'cancelled';
      });
      ctx.policyChanged(r.version);
      return toJson(r.row, isStaff(req.principal));
    },
  );

  app.post(
    '/bookings/:id/confirm',
    {
      config: { authz: { roles: MANAGERS } },
      schema: { tags: ['bookings'], summary: 'Confirm a visitor’s request (managers): it then holds its slot; 409 when the slot was taken meanwhile', params: IdParam, body: Type.Optional(Empty), response: { 200: BookingSchema } },
    },
    async (req) => {
      const r = await updateStatus(ctx, req, req.params.id, (b) => {
        if (b.status !== 'requested') throw problems.conflict(`the booking is ${b.status}; only requests can be confirmed`);
        return 'confirmed';
      });
      ctx.policyChanged(r.version);
      const visitors = await visitorsOf(db, [r.row]);
      return toJson(r.row, true, r.row.visitor_id === null ? undefined : visitors.get(r.row.visitor_id));
    },
  );

  app.get(
    '/bookings/members/:id/calendar.ics',
    {
      config: { authz: { roles: READERS } },
      schema: { tags: ['bookings'], summary: 'iCalendar feed (RFC 5545) of a member’s bookings, 30 days back to 90 ahead (members: their own)', params: IdParam, querystring: NoQuery, produces: ['text/calendar'], response: { 200: Type.String() } },
    },
    async (req, reply) => {
      const site = requireSite(ctx);
      const scope = ownMemberScope(req.principal);
      if (scope !== null && scope !== req.params.id) throw problems.notFound(`member ${req.params.id}`);
      const now = ctx.clock.now();
      const rows = await db.selectFrom('bookings').selectAll().where('member_id', '=', req.params.id).where('to_ms', '>', now - 30 * DAY_MS).where('from_ms', '<', now + 90 * DAY_MS).where('status', '<>', 'requested').orderBy('from_ms').execute();
      const body = toICalendar(`${site.file.site.name}: bookings`, calendarEvents(rows, site, req.hostname || 'openfacility', false), now);
      return reply.type('text/calendar; charset=utf-8').header('cache-control', 'private, no-store').send(body);
    },
  );

  app.get(
    '/bookings/resources/:type/:resourceId/calendar.ics',
    {
      config: { authz: { roles: READERS } },
      schema: {
        tags: ['bookings'],
        summary: 'iCalendar feed (RFC 5545) of a resource’s bookings and blocks, 30 days back to 90 ahead (member ids for staff only)',
        params: Type.Object({ type: ResourceTypeSchema, resourceId: ResourceId }, { additionalProperties: false }),
        querystring: NoQuery,
        produces: ['text/calendar'],
        response: { 200: Type.String() },
      },
    },
    async (req, reply) => {
      const site = requireSite(ctx);
      const r = findResource(site, req.params.type, req.params.resourceId);
      if (!r) throw problems.notFound(`${req.params.type} ${req.params.resourceId}`);
      const now = ctx.clock.now();
      const rows = await db
        .selectFrom('bookings')
        .selectAll()
        .where('site_id', '=', site.id)
        .where('resource_type', '=', r.type)
        .where('resource_id', '=', r.id)
        .where('status', 'in', [...HOLDING_STATUSES, 'cancelled', 'released'])
        .where('to_ms', '>', now - 30 * DAY_MS)
        .where('from_ms', '<', now + 90 * DAY_MS)
        .orderBy('from_ms')
        .execute();
      const body = toICalendar(`${r.name} / ${r.nameZh}`, calendarEvents(rows, site, req.hostname || 'openfacility', isStaff(req.principal)), now);
      return reply.type('text/calendar; charset=utf-8').header('cache-control', 'private, no-store').send(body);
    },
  );

  app.post(
    '/bookings/check-in',
    {
      config: { authz: { roles: MANAGERS } },
      schema: {
        tags: ['bookings'],
        summary: 'Check bookings in from reality now: used when the badge, desk sensor or machine power showed use within the grace period; else a no-show (released when auto-release is on)',
        description: 'Reads the usage sessions of the last `lookbackHours` from InfluxDB (503 without it). Run it every few minutes (cron, or the server job).',
        body: Type.Object({ lookbackHours: Type.Integer({ minimum: 1, maximum: 72, description: 'How far back to read usage (bookings that began within it are checked)' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ changed: Type.Integer(), version: Nullable(Type.Integer()) }, { additionalProperties: false }) },
      },
    },
    async (req) => {
      const site = requireSite(ctx);
      if (!ctx.usage) throw problems.unavailable('check-in reads usage from InfluxDB, which this server has not got');
      const now = ctx.clock.now();
      const from = now - req.body.lookbackHours * 3_600_000;
      const usage = await readUsage(ctx.usage, from, now);
      return applyCheckins(ctx, site, [...usage.sessions, ...usage.open], actorOf(req.principal), from);
    },
  );

  app.get(
    '/bookings/report',
    {
      config: { authz: { roles: STAFF } },
      schema: {
        tags: ['bookings'],
        summary: 'Booked, used, and booked-but-unused time per member and per resource in a period (bookings starting in it); per resource also its open time and the shares of it booked and used',
        querystring: Type.Object(Period, { additionalProperties: false }),
        response: {
          200: Type.Object(
            {
              from: Type.Integer(),
              to: Type.Integer(),
              total: BookedTimeSchema,
              byMember: Type.Array(Type.Intersect([Type.Object({ memberId: Type.String() }), BookedTimeSchema])),
              byResource: Type.Array(
                Type.Intersect([
                  Type.Object({
                    resourceType: Type.String(),
                    resourceId: Type.String(),
                    openMs: Type.Integer({ description: 'Open time of the resource’s space in the period (its calendar)' }),
                    bookedShare: Nullable(Type.Number({ description: 'bookedMs / openMs, null when never open' })),
                    usedShare: Nullable(Type.Number({ description: 'usedMs / openMs: booked and really used' })),
                  }),
                  BookedTimeSchema,
                ]),
              ),
            },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (req) => {
      const site = requireSite(ctx);
      const now = ctx.clock.now();
      const from = req.query.from ?? now - 31 * DAY_MS;
      const to = req.query.to ?? now;
      if (to <= from) throw problems.unprocessable('the period is empty: to must be after from');
      const rows = (await db.selectFrom('bookings').selectAll().where('site_id', '=', site.id).where('kind', '=', 'booking').where('from_ms', '>=', from).where('from_ms', '<', to).execute()).map((b) => checkinOf(site, b));
      const zero = { bookings: 0, bookedMs: 0, usedMs: 0, unusedMs: 0, noShows: 0 };
      const byMember = bookedTime(rows, (b) => b.memberId);
      const byResource = bookedTime(rows, (b) => `${b.resourceType}:${b.resourceId}`);
      return {
        from,
        to,
        total: bookedTime(rows, () => 'all').get('all') ?? zero,
        byMember: [...byMember].sort(([a], [b]) => (a < b ? -1 : 1)).map(([memberId, t]) => ({ memberId, ...t })),
        byResource: [...byResource]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([k, t]) => {
            const resourceType = k.slice(0, k.indexOf(':'));
            const resourceId = k.slice(k.indexOf(':') + 1);
            const r = findResource(site, resourceType as BookableResource['type'], resourceId);
            const openMs = r ? openIntervals(siteCalendar(site, r.space), from, to).reduce((a, iv) => a + iv.to - iv.from, 0) : 0;
            const share = (ms: number) => (openMs > 0 ? Math.round((ms / openMs) * 10_000) / 10_000 : null);
            return { resourceType, resourceId, openMs, bookedShare: share(t.bookedMs), usedShare: share(t.usedMs), ...t };
          }),
      };
    },
  );

  // ---------------------------------------------------------------------------
  // Public: no login, no personal data.

  app.get(
    '/public/bookings/availability',
    {
      config: { authz: { roles: 'public' } },
      schema: {
        tags: ['bookings'],
        summary: 'Public: which machines, hot desks and rooms are free now, and when they are busy in the next days (no names, no member ids)',
        querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 14, default: 7 })) }, { additionalProperties: false }),
        response: {
          200: Type.Object(
            {
              site: Type.Object({ id: Type.String(), name: Type.String(), nameZh: Type.String(), timezone: Type.String() }, { additionalProperties: false }),
              now: Type.Integer(),
              resources: Type.Array(
                Type.Object(
                  {
                    type: ResourceTypeSchema,
                    id: Type.String(),
                    name: Type.String(),
                    nameZh: Type.String(),
                    space: Type.String(),
                    spaceName: Type.String(),
                    spaceNameZh: Type.String(),
                    openNow: Type.Boolean(),
                    outOfService: Type.Boolean(),
                    freeNow: Type.Boolean(),
                    freeUntil: Nullable(Type.Integer({ description: 'When the next booking or closing time begins (null: not within the days asked)' })),
                    busy: Type.Array(Type.Object({ from: Type.Integer(), to: Type.Integer() }, { additionalProperties: false })),
                    rule: RuleSchema,
                  },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (req, reply) => {
      const site = requireSite(ctx);
      const now = ctx.clock.now();
      const until = now + (req.query.days ?? 7) * DAY_MS;
      const held = await db
        .selectFrom('bookings')
        .select(['resource_type', 'resource_id', 'from_ms', 'hold_to'])
        .where('site_id', '=', site.id)
        .where('status', 'in', [...HOLDING_STATUSES])
        .where('hold_to', '>', now)
        .where('from_ms', '<', until)
        .orderBy('from_ms')
        .execute();
      const oos = new Set((await db.selectFrom('equipment_status').select('equipment_id').where('site_id', '=', site.id).where('out_of_service', '=', 1).execute()).map((e) => e.equipment_id));
      const resources = bookableResources(site).map((r) => {
        const busy = held.filter((h) => h.resource_type === r.type && h.resource_id === r.id).map((h) => ({ from: Number(h.from_ms), to: Number(h.hold_to) }));
        const open = spaceOpenState(site, r.space, now);
        const outOfService = r.type === 'equipment' && oos.has(r.id);
        const holding = busy.some((b) => b.from <= now && now < b.to);
        const nextBusy = busy.find((b) => b.from > now)?.from ?? null;
        const freeNow = open.open && !outOfService && !holding;
        const ends = [nextBusy, open.closesAt].filter((x): x is number => x !== null);
        const space = site.spaces.get(r.space);
        return {
          type: r.type,
          id: r.id,
          name: r.name,
          nameZh: r.nameZh,
          space: r.space,
          spaceName: space?.name ?? r.space,
          spaceNameZh: space?.nameZh ?? space?.name ?? r.space,
          openNow: open.open,
          outOfService,
          freeNow,
          freeUntil: freeNow && ends.length > 0 ? Math.min(...ends) : null,
          busy,
          rule: ruleFor(ctx.bookings, r.class),
        };
      });
      void reply.header('cache-control', 'no-store');
      return { site: { id: site.id, name: site.file.site.name, nameZh: site.file.site.nameZh ?? site.file.site.name, timezone: site.timezone }, now, resources };
    },
  );

  app.post(
    '/public/bookings/requests',
    {
      config: { authz: { roles: 'public' }, rateLimit: { max: 10, timeWindow: '1 minute' } },
      schema: {
        tags: ['bookings'],
        summary: 'Public: a visitor asks to book a machine, desk or room; a manager confirms it (POST /bookings/{id}/confirm)',
        description: '201 with the request’s id and status only. The name and contact are kept at the server for staff, never shown publicly or sent to gateways.',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: FIELD.name.maxLength, pattern: ONE_LINE }),
            contact: Type.String({ minLength: 3, maxLength: FIELD.email.maxLength, pattern: ONE_LINE, description: 'E-mail or phone' }),
            resourceType: ResourceTypeSchema,
            resourceId: ResourceId,
            from: Instant('Start, epoch ms'),
            to: Instant('End, epoch ms (exclusive)'),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ id: Type.String(), status: Type.Literal('requested') }, { additionalProperties: false }) },
      },
    },
    async (req, reply) => {
      const site = requireSite(ctx);
      const b = req.body;
      const r = await createBooking(
        ctx,
        site,
        req,
        {
          resource: findResource(site, b.resourceType, b.resourceId),
          resourceType: b.resourceType,
          resourceId: b.resourceId,
          from: b.from,
          to: b.to,
          actor: 'visitor',
          memberId: null,
          visitorId: null,
          title: null,
          status: 'requested',
          createdBy: 'visitor',
        },
        { name: b.name, contact: b.contact },
      );
      ctx.policyChanged(r.version);
      return reply.code(201).send({ id: r.row.id, status: 'requested' as const });
    },
  );
};
