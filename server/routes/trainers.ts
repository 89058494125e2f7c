/**
 * Trainers: who may certify members, for which classes. Staff read them;
 * administrators and managers keep them. A trainer who stops is deactivated
 * (never deleted: their certifications keep naming them). Trainers are not
 * part of the access policy — a certification stays valid when its trainer
 * leaves — so changes here do not announce a new policy version.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { actorOf, recordChange } from '../db/changes.js';
import type { TrainerRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { problems } from '../problems.js';
import { Certification, listCertifications, localDate, toCertification } from './certifications.js';
import type { ServerContext } from './context.js';
import { CLASS_PATTERN } from './plans.js';
import { IdParam, PageQuery, ProblemSchema } from './schemas.js';

const Trainer = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    nameZh: Type.Union([Type.String(), Type.Null()]),
    memberId: Type.Union([Type.String(), Type.Null()]),
    qualifications: Type.Array(Type.String()),
    active: Type.Boolean(),
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
  },
  { additionalProperties: false },
);
type TrainerJson = Static<typeof Trainer>;

const Name = Type.String({ minLength: 1, maxLength: 100 });
const Qualifications = Type.Array(Type.String({ pattern: CLASS_PATTERN }), {
  maxItems: 100,
  uniqueItems: true,
  description: 'Machine classes and certification names they may certify',
});
const MemberId = Type.String({ minLength: 1, maxLength: 64 });

function toTrainer(row: TrainerRow): TrainerJson {
  return {
    id: row.id,
    name: row.name,
    nameZh: row.name_zh,
    memberId: row.member_id,
    qualifications: JSON.parse(row.qualifications) as string[],
    active: row.active !== 0,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export const trainerRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const staff = { authz: { roles: ['admin', 'manager', 'auditor'] as const } };
  const writers = { authz: { roles: ['admin', 'manager'] as const } };

  const assertMember = async (memberId: string): Promise<void> => {
    if (!(await ctx.db.selectFrom('members').select('id').where('id', '=', memberId).executeTakeFirst())) throw problems.unprocessable(`there is no member ${memberId}`);
  };

  app.get(
    '/trainers',
    {
      config: staff,
      schema: {
        tags: ['trainers'],
        summary: 'Trainers (staff)',
        querystring: Type.Object(
          { active: Type.Optional(Type.Boolean()), qualifiedFor: Type.Optional(Type.String({ pattern: CLASS_PATTERN, description: 'Only those qualified for this class' })), ...PageQuery },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(Trainer) },
      },
    },
    async (req) => {
      let q = ctx.db.selectFrom('trainers').selectAll().orderBy('name').orderBy('id');
      if (req.query.active !== undefined) q = q.where('active', '=', req.query.active ? 1 : 0);
      let trainers = (await q.execute()).map(toTrainer);
      // Qualifications are a JSON list: filter here (trainers are few) rather than with dialect-specific JSON SQL.
      const cls = req.query.qualifiedFor;
      if (cls !== undefined) trainers = trainers.filter((t) => t.qualifications.includes(cls));
      const offset = req.query.offset ?? 0;
      return trainers.slice(offset, offset + (req.query.limit ?? 50));
    },
  );

  app.post(
    '/trainers',
    {
      config: writers,
      schema: {
        tags: ['trainers'],
        summary: 'Add a trainer',
        body: Type.Object(
          { name: Name, nameZh: Type.Optional(Name), memberId: Type.Optional(MemberId), qualifications: Qualifications, active: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: { 201: Trainer, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      if (b.memberId !== undefined) await assertMember(b.memberId);
      const now = ctx.clock.now();
      const row: TrainerRow = {
        id: newId('trn'),
        name: b.name,
        name_zh: b.nameZh ?? null,
        member_id: b.memberId ?? null,
        qualifications: JSON.stringify(b.qualifications),
        active: b.active === false ? 0 : 1,
        created_at: now,
        updated_at: now,
      };
      const trainer = toTrainer(row);
      await ctx.db.transaction().execute(async (trx) => {
        await trx.insertInto('trainers').values(row).execute();
        await recordChange(trx, { actor: actorOf(req.principal), entity: 'trainer', entityId: row.id, action: 'create', before: null, after: trainer, at: now });
      });
      return reply.code(201).send(trainer);
    },
  );

  app.patch(
    '/trainers/:id',
    {
      config: writers,
      schema: {
        tags: ['trainers'],
        summary: 'Change a trainer’s record or qualifications, or deactivate them',
        params: IdParam,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            nameZh: Type.Optional(Type.Union([Name, Type.Null()])),
            memberId: Type.Optional(Type.Union([MemberId, Type.Null()])),
            qualifications: Type.Optional(Qualifications),
            active: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Trainer, 404: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req) => {
      const b = req.body;
      const before = await ctx.db.selectFrom('trainers').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!before) throw problems.notFound(`trainer ${req.params.id}`);
      if (b.memberId !== undefined && b.memberId !== null) await assertMember(b.memberId);
      const now = ctx.clock.now();
      const set = {
        ...(b.name !== undefined && { name: b.name }),
        ...(b.nameZh !== undefined && { name_zh: b.nameZh }),
        ...(b.memberId !== undefined && { member_id: b.memberId }),
        ...(b.qualifications !== undefined && { qualifications: JSON.stringify(b.qualifications) }),
        ...(b.active !== undefined && { active: b.active ? 1 : 0 }),
        updated_at: now,
      };
      const after = toTrainer({ ...before, ...set });
      await ctx.db.transaction().execute(async (trx) => {
        await trx.updateTable('trainers').set(set).where('id', '=', before.id).execute();
        await recordChange(trx, { actor: actorOf(req.principal), entity: 'trainer', entityId: before.id, action: 'update', before: toTrainer(before), after, at: now });
      });
      return after;
    },
  );

  app.get(
    '/trainers/:id/certifications',
    {
      config: staff,
      schema: {
        tags: ['trainers'],
        summary: 'The certifications a trainer issued (staff)',
        params: IdParam,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: Type.Array(Certification), 404: ProblemSchema },
      },
    },
    async (req) => {
      const trainer = await ctx.db.selectFrom('trainers').select('id').where('id', '=', req.params.id).executeTakeFirst();
      if (!trainer) throw problems.notFound(`trainer ${req.params.id}`);
      const day = localDate(ctx.clock.now());
      const rows = await listCertifications(ctx.db).where('trainer_id', '=', trainer.id).limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute();
      return rows.map((r) => toCertification(r, day));
    },
  );
};
