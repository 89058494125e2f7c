/**
 * Services no sensor measures: trainings, mentor sessions, events and
 * roadshows, technical services, investment introductions. Managers record
 * each delivery (when, how long, who gave it, which members took part and how
 * many others, what was charged and what it is worth at market prices);
 * accounting counts them in statements and the subsidy claim, evaluation in
 * "services delivered".
 *
 * Staff read all of them; a member sees the ones they took part in (without
 * the other participants). Every write is in the change log. A delivery is
 * corrected by PATCH until its month is closed; after that it is frozen with
 * the month's claim (409), and none can be added to or moved into it.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Transaction } from 'kysely';
import { ID_PATTERN } from '../../core/site/model.js';
import { ownMemberScope } from '../auth/principal.js';
import { actorOf, recordChange } from '../db/changes.js';
import { SERVICE_KINDS, type DB, type ServiceRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { assertMonthsOpen } from './periods.js';
import { IdParam, NoQuery, PageQuery, ProblemSchema } from './schemas.js';

const Kind = Type.Union(SERVICE_KINDS.map((k) => Type.Literal(k)), {
  description: 'training, mentoring (mentor sessions), event (events and roadshows), technical (technical services), investment (investment introductions)',
});
const Title = Type.String({ minLength: 1, maxLength: 200 });
const Minor = Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: 'Money in minor units (fen for CNY)' });
const MemberIds = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 5000, uniqueItems: true, description: 'Members who took part' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const Service = Type.Object(
  {
    id: Type.String(),
    kind: Kind,
    title: Type.String(),
    titleZh: Type.Union([Type.String(), Type.Null()]),
    siteId: Type.Union([Type.String(), Type.Null()]),
    startedAt: Type.Integer({ description: 'epoch ms' }),
    minutes: Type.Integer(),
    provider: Type.Union([Type.String(), Type.Null()]),
    trainerId: Type.Union([Type.String(), Type.Null()]),
    teamId: Type.Union([Type.String(), Type.Null()]),
    participants: Type.Array(Type.String(), { description: 'Member ids (staff only; a member sees only themselves)' }),
    externalParticipants: Type.Integer(),
    feeMinor: Type.Integer(),
    referenceMinor: Type.Integer(),
    note: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
  },
  { additionalProperties: false },
);
type ServiceJson = Static<typeof Service>;

const Body = {
  kind: Kind,
  title: Title,
  titleZh: Type.Optional(Nullable(Title)),
  siteId: Type.Optional(Type.Union([Type.String({ pattern: ID_PATTERN }), Type.Null()])),
  startedAt: Type.Integer({ minimum: 0, description: 'When it began, epoch ms' }),
  minutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60, description: 'How long it lasted' }),
  provider: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200 }))),
  trainerId: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 64 }))),
  teamId: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 64 }))),
  participants: Type.Optional(MemberIds),
  externalParticipants: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  feeMinor: Type.Optional(Minor),
  referenceMinor: Type.Optional(Minor),
  note: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 2000 }))),
};

function toService(row: ServiceRow, participants: readonly string[]): ServiceJson {
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    titleZh: row.title_zh,
    siteId: row.site_id,
    startedAt: Number(row.started_at),
    minutes: row.minutes,
    provider: row.provider,
    trainerId: row.trainer_id,
    teamId: row.team_id,
    participants: [...participants].sort(),
    externalParticipants: row.external_participants,
    feeMinor: row.fee_minor,
    referenceMinor: row.reference_minor,
    note: row.note,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** Unknown member, team or trainer ids, each named, as one 422. */
async function checkRefs(trx: Transaction<DB>, b: { participants?: readonly string[]; teamId?: string | null; trainerId?: string | null }): Promise<void> {
  const errors: { path: string; message: string }[] = [];
  const wanted = b.participants ?? [];
  if (wanted.length > 0) {
    const found = new Set((await trx.selectFrom('members').select('id').where('id', 'in', wanted).execute()).map((r) => r.id));
    wanted.forEach((id, i) => {
      if (!found.has(id)) errors.push({ path: `body/participants/${i}`, message: `there is no member ${id}` });
    });
  }
  if (b.teamId != null && !(await trx.selectFrom('teams').select('id').where('id', '=', b.teamId).executeTakeFirst())) errors.push({ path: 'body/teamId', message: `there is no team ${b.teamId}` });
  if (b.trainerId != null && !(await trx.selectFrom('trainers').select('id').where('id', '=', b.trainerId).executeTakeFirst())) errors.push({ path: 'body/trainerId', message: `there is no trainer ${b.trainerId}` });
  if (errors.length > 0) throw problems.unprocessable('the service names members, a team or a trainer that do not exist', errors);
}

export const serviceRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const writers = { authz: { roles: ['admin', 'manager'] as const } };
  const readers = { authz: { roles: ['admin', 'manager', 'auditor', 'member'] as const } };

  const participantsOf = async (ids: readonly string[]): Promise<Map<string, string[]>> => {
    const out = new Map<string, string[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return out;
    for (const p of await ctx.db.selectFrom('service_participants').selectAll().where('service_id', 'in', ids).execute()) out.get(p.service_id)?.push(p.member_id);
    return out;
  };

  app.get(
    '/services',
    {
      config: readers,
      schema: {
        tags: ['services'],
        summary: 'Services delivered (trainings, mentoring, events, technical services, investment introductions) in a period',
        description: 'Staff see every service with its participants; a member sees the services they took part in, with themselves as the only participant shown.',
        querystring: Type.Object(
          {
            from: Type.Optional(Type.Integer({ minimum: 0, description: 'Began at or after, epoch ms' })),
            to: Type.Optional(Type.Integer({ minimum: 0, description: 'Began before, epoch ms' })),
            kind: Type.Optional(Kind),
            memberId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only those this member took part in (staff)' })),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(Service) },
      },
    },
    async (req) => {
      const scope = ownMemberScope(req.principal);
      if (scope === undefined) throw problems.unauthorized();
      const member = scope ?? req.query.memberId;
      let q = ctx.db.selectFrom('services').selectAll();
      if (req.query.from !== undefined) q = q.where('started_at', '>=', req.query.from);
      if (req.query.to !== undefined) q = q.where('started_at', '<', req.query.to);
      if (req.query.kind !== undefined) q = q.where('kind', '=', req.query.kind);
      if (member !== undefined) q = q.where('id', 'in', ctx.db.selectFrom('service_participants').select('service_id').where('member_id', '=', member));
      const rows = await q.orderBy('started_at').orderBy('id').limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute();
      const parts = await participantsOf(rows.map((r) => r.id));
      return rows.map((r) => toService(r, scope === null ? (parts.get(r.id) ?? []) : [scope]));
    },
  );

  app.get(
    '/services/:id',
    {
      config: readers,
      schema: { tags: ['services'], summary: 'One service (a member: only one they took part in)', params: IdParam, querystring: NoQuery, response: { 200: Service, 404: ProblemSchema } },
    },
    async (req) => {
      const scope = ownMemberScope(req.principal);
      if (scope === undefined) throw problems.unauthorized();
      const row = await ctx.db.selectFrom('services').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      const parts = row ? ((await participantsOf([row.id])).get(row.id) ?? []) : [];
      // A member asking for one they did not attend gets the same answer as for one that does not exist.
      if (!row || (scope !== null && !parts.includes(scope))) throw problems.notFound(`service ${req.params.id}`);
      return toService(row, scope === null ? parts : [scope]);
    },
  );

  app.post(
    '/services',
    {
      config: writers,
      schema: {
        tags: ['services'],
        summary: 'Record a service delivered',
        body: Type.Object(Body, { additionalProperties: false }),
        response: { 201: Service, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      await assertMonthsOpen(ctx, b.startedAt, b.startedAt, 'the service');
      const now = ctx.clock.now();
      const row: ServiceRow = {
        id: newId('svc'),
        kind: b.kind,
        title: b.title,
        title_zh: b.titleZh ?? null,
        site_id: b.siteId ?? null,
        started_at: b.startedAt,
        minutes: b.minutes,
        provider: b.provider ?? null,
        trainer_id: b.trainerId ?? null,
        team_id: b.teamId ?? null,
        external_participants: b.externalParticipants ?? 0,
        fee_minor: b.feeMinor ?? 0,
        reference_minor: b.referenceMinor ?? 0,
        note: b.note ?? null,
        created_at: now,
        updated_at: now,
      };
      const participants = b.participants ?? [];
      const service = toService(row, participants);
      await ctx.db.transaction().execute(async (trx) => {
        await checkRefs(trx, b);
        await trx.insertInto('services').values(row).execute();
        if (participants.length > 0) await trx.insertInto('service_participants').values(participants.map((m) => ({ service_id: row.id, member_id: m }))).execute();
        await recordChange(trx, { actor: actorOf(req.principal), entity: 'service', entityId: row.id, action: 'create', before: null, after: service, at: now });
      });
      return reply.code(201).send(service);
    },
  );

  app.patch(
    '/services/:id',
    {
      config: writers,
      schema: {
        tags: ['services'],
        summary: 'Correct a service record (participants replace the list)',
        params: IdParam,
        body: Type.Object(
          { ...Body, kind: Type.Optional(Body.kind), title: Type.Optional(Body.title), startedAt: Type.Optional(Body.startedAt), minutes: Type.Optional(Body.minutes) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Service, 404: ProblemSchema, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req) => {
      const b = req.body;
      const before = await ctx.db.selectFrom('services').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!before) throw problems.notFound(`service ${req.params.id}`);
      // A service counted in a closed month's claim stays as it was, and none moves into one.
      await assertMonthsOpen(ctx, Number(before.started_at), Number(before.started_at), `service ${before.id}`);
      if (b.startedAt !== undefined) await assertMonthsOpen(ctx, b.startedAt, b.startedAt, 'the new start of the service');
      const beforeParts = (await participantsOf([before.id])).get(before.id) ?? [];
      const now = ctx.clock.now();
      const set = {
        ...(b.kind !== undefined && { kind: b.kind }),
        ...(b.title !== undefined && { title: b.title }),
        ...(b.titleZh !== undefined && { title_zh: b.titleZh }),
        ...(b.siteId !== undefined && { site_id: b.siteId }),
        ...(b.startedAt !== undefined && { started_at: b.startedAt }),
        ...(b.minutes !== undefined && { minutes: b.minutes }),
        ...(b.provider !== undefined && { provider: b.provider }),
        ...(b.trainerId !== undefined && { trainer_id: b.trainerId }),
        ...(b.teamId !== undefined && { team_id: b.teamId }),
        ...(b.externalParticipants !== undefined && { external_participants: b.externalParticipants }),
        ...(b.feeMinor !== undefined && { fee_minor: b.feeMinor }),
        ...(b.referenceMinor !== undefined && { reference_minor: b.referenceMinor }),
        ...(b.note !== undefined && { note: b.note }),
        updated_at: now,
      };
      const parts = b.participants ?? beforeParts;
      const after = toService({ ...before, ...set }, parts);
      await ctx.db.transaction().execute(async (trx) => {
        await checkRefs(trx, b);
        await trx.updateTable('services').set(set).where('id', '=', before.id).execute();
        if (b.participants !== undefined) {
          await trx.deleteFrom('service_participants').where('service_id', '=', before.id).execute();
          if (parts.length > 0) await trx.insertInto('service_participants').values(parts.map((m) => ({ service_id: before.id, member_id: m }))).execute();
        }
        await recordChange(trx, { actor: actorOf(req.principal), entity: 'service', entityId: before.id, action: 'update', before: toService(before, beforeParts), after, at: now });
      });
      return after;
    },
  );
};
