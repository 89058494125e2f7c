/**
 * Investment a team raised: when, how much (minor units; null when the team
 * does not disclose it), from outside capital ('social') or the space's own
 * fund ('own'), who invested and which round. Evaluation counts the teams that
 * raised investment in a period (docs/indicators.md); the provincial and Torch
 * surveys ask for it. Staff read all of a team's; a member their own team's.
 * Administrators and managers record and remove entries (change-logged).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Selectable } from 'kysely';
import { actorOf, recordChange } from '../db/changes.js';
import type { TeamInvestmentsTable } from '../db/schema.js';
import { newId } from '../ids.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { NameText, Nullable, ONE_LINE } from './members.js';
import { IdParam, IsoDate, NoQuery, ProblemSchema } from './schemas.js';
import { assertTeamVisible } from './teams.js';

const SOURCES = ['social', 'own'] as const;

const Investment = Type.Object(
  {
    id: Type.String(),
    teamId: Type.String(),
    on: Type.String({ description: 'YYYY-MM-DD: when the money was committed' }),
    amountMinor: Nullable(Type.Integer()),
    currency: Type.String(),
    source: Nullable(Type.Union(SOURCES.map((s) => Type.Literal(s)))),
    investor: Nullable(Type.String()),
    round: Nullable(Type.String()),
    note: Nullable(Type.String()),
    createdAt: Type.Integer(),
    createdBy: Type.String(),
  },
  { additionalProperties: false },
);

export const toInvestment = (r: Selectable<TeamInvestmentsTable>) => ({
  id: r.id,
  teamId: r.team_id,
  on: r.on_date,
  amountMinor: r.amount_minor,
  currency: r.currency,
  source: r.source,
  investor: r.investor,
  round: r.round,
  note: r.note,
  createdAt: Number(r.created_at),
  createdBy: r.created_by,
});

const TeamInvestmentParams = Type.Object(
  { id: IdParam.properties.id, investmentId: IdParam.properties.id },
  { additionalProperties: false },
);

export const investmentRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  const teamExists = async (id: string) => {
    if (!(await ctx.db.selectFrom('teams').select('id').where('id', '=', id).executeTakeFirst())) throw problems.notFound(`team ${id}`);
  };

  app.get(
    '/teams/:id/investments',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'member'] } },
      schema: { tags: ['teams'], summary: 'Investment the team raised, oldest first (a member: their own team only)', params: IdParam, querystring: NoQuery, response: { 200: Type.Array(Investment), 404: ProblemSchema } },
    },
    async (req) => {
      await assertTeamVisible(ctx.db, req.principal, req.params.id);
      await teamExists(req.params.id);
      const rows = await ctx.db.selectFrom('team_investments').selectAll().where('team_id', '=', req.params.id).orderBy('on_date').orderBy('id').execute();
      return rows.map(toInvestment);
    },
  );

  app.post(
    '/teams/:id/investments',
    {
      config: { authz: { roles: ['admin', 'manager'] } },
      schema: {
        tags: ['teams'],
        summary: 'Record investment a team raised',
        params: IdParam,
        body: Type.Object(
          {
            on: IsoDate,
            // Not nullable: with type coercion a 0 would pass as null.
            amountMinor: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e15, description: 'Minor units; leave out when not disclosed' })),
            currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217; default CNY' })),
            source: Type.Optional(Nullable(Type.Union(SOURCES.map((s) => Type.Literal(s)), { description: "social: outside capital; own: the space's own fund" }))),
            investor: Type.Optional(Nullable(NameText)),
            round: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 50, pattern: ONE_LINE, description: 'angel, seed, A, …' }))),
            note: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 500, pattern: ONE_LINE }))),
          },
          { additionalProperties: false },
        ),
        response: { 201: Investment, 404: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const team = await ctx.db.selectFrom('teams').select('id').where('id', '=', req.params.id).executeTakeFirst();
      if (!team) throw problems.notFound(`team ${req.params.id}`);
      const now = ctx.clock.now();
      const row: Selectable<TeamInvestmentsTable> = {
        id: newId('inv'),
        team_id: team.id,
        on_date: b.on,
        amount_minor: b.amountMinor ?? null,
        currency: b.currency ?? 'CNY',
        source: b.source ?? null,
        investor: b.investor ?? null,
        round: b.round ?? null,
        note: b.note ?? null,
        created_at: now,
        created_by: actorOf(req.principal),
      };
      await ctx.db.transaction().execute(async (trx) => {
        await trx.insertInto('team_investments').values(row).execute();
        await recordChange(trx, { actor: row.created_by, entity: 'investment', entityId: row.id, action: 'create', before: null, after: toInvestment(row), at: now });
      });
      return reply.code(201).send(toInvestment(row));
    },
  );

  app.delete(
    '/teams/:id/investments/:investmentId',
    { config: { authz: { roles: ['admin', 'manager'] } }, schema: { tags: ['teams'], summary: 'Remove an investment recorded by mistake', params: TeamInvestmentParams, response: { 204: Type.Null(), 404: ProblemSchema } } },
    async (req, reply) => {
      const row = await ctx.db.selectFrom('team_investments').selectAll().where('id', '=', req.params.investmentId).where('team_id', '=', req.params.id).executeTakeFirst();
      if (!row) throw problems.notFound(`investment ${req.params.investmentId} of team ${req.params.id}`);
      await ctx.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('team_investments').where('id', '=', row.id).execute();
        await recordChange(trx, { actor: actorOf(req.principal), entity: 'investment', entityId: row.id, action: 'delete', before: toInvestment(row), after: null, at: ctx.clock.now() });
      });
      return reply.code(204).send(null);
    },
  );
};
