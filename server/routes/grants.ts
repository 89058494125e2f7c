/**
 * Free-time grants: free use of a resource class for a member over a stretch
 * of time, for work that benefits the space (teaching the laser course,
 * maintaining the printers). Usage they cover is priced at nothing and its
 * whole reference value counts as subsidy (docs/accounting.md, "Free-time
 * grants"); every grant names its reason, which the statement line shows.
 *
 * Administrators and managers grant and withdraw; staff read all grants, a
 * member their own. A grant touching a closed month can be neither added nor
 * withdrawn (409): the month was priced with it (or without it).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { monthPeriod } from '../../core/accounting/price.js';
import { RESOURCE_CLASS_PATTERN } from '../../core/accounting/rates.js';
import { ownMemberScope } from '../auth/principal.js';
import { actorOf, recordChange } from '../db/changes.js';
import type { FreeTimeGrantsTable } from '../db/schema.js';
import type { Selectable } from 'kysely';
import { newId } from '../ids.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { assertMonthsOpen } from './periods.js';
import { IdParam, PageQuery, ProblemSchema } from './schemas.js';

const Grant = Type.Object(
  {
    id: Type.String(),
    memberId: Type.String(),
    resourceClass: Type.String(),
    from: Type.Integer({ description: 'Epoch ms, inclusive' }),
    to: Type.Integer({ description: 'Epoch ms, exclusive' }),
    reason: Type.String(),
    createdAt: Type.Integer(),
    createdBy: Type.String(),
  },
  { additionalProperties: false },
);

const toGrant = (r: Selectable<FreeTimeGrantsTable>) => ({
  id: r.id,
  memberId: r.member_id,
  resourceClass: r.resource_class,
  from: Number(r.from_ms),
  to: Number(r.to_ms),
  reason: r.reason,
  createdAt: Number(r.created_at),
  createdBy: r.created_by,
});

/** A grant is for work done: at most a year at a time. */
const MAX_GRANT_MS = 366 * 86_400_000;

export const grantRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/grants',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'member'] } },
      schema: {
        tags: ['accounting'],
        summary: 'Free-time grants, oldest first; in a month, or of a member (a member: their own)',
        querystring: Type.Object(
          {
            month: Type.Optional(Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', description: 'Grants touching this local month' })),
            memberId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(Grant) },
      },
    },
    async (req) => {
      const scope = ownMemberScope(req.principal);
      if (scope === undefined) throw problems.unauthorized();
      let q = ctx.db.selectFrom('free_time_grants').selectAll();
      const member = scope ?? req.query.memberId;
      if (member !== undefined) q = q.where('member_id', '=', member);
      if (req.query.month !== undefined) {
        const { from, to } = monthPeriod(ctx.usage?.site.timezone ?? 'UTC', req.query.month);
        q = q.where('from_ms', '<', to).where('to_ms', '>', from);
      }
      const rows = await q.orderBy('from_ms').orderBy('id').limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute();
      return rows.map(toGrant);
    },
  );

  app.post(
    '/grants',
    {
      config: { authz: { roles: ['admin', 'manager'] } },
      schema: {
        tags: ['accounting'],
        summary: 'Grant a member free time on a resource class, for work that benefits the space',
        body: Type.Object(
          {
            memberId: Type.String({ minLength: 1, maxLength: 64 }),
            resourceClass: Type.String({ pattern: RESOURCE_CLASS_PATTERN, description: 'desk:hot, desk:fixed, space:open-space, space:lab, room or machine:<equipment class>' }),
            from: Type.String({ format: 'date-time', description: 'From (RFC 3339, with its offset)' }),
            to: Type.String({ format: 'date-time', description: 'Until (exclusive)' }),
            reason: Type.String({ minLength: 3, maxLength: 500, pattern: '^\\S([\\s\\S]*\\S)?$', description: 'The work it rewards: shown on the statement and to auditors' }),
          },
          { additionalProperties: false },
        ),
        response: { 201: Grant, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const from = Date.parse(b.from);
      const to = Date.parse(b.to);
      if (!(to > from)) throw problems.unprocessable('to must be after from', [{ path: 'body/to', message: `${b.to} is not after ${b.from}` }]);
      if (to - from > MAX_GRANT_MS) throw problems.unprocessable('a grant covers at most 366 days: grant again for the next stretch', [{ path: 'body/to', message: 'more than 366 days after from' }]);
      if (!(await ctx.db.selectFrom('members').select('id').where('id', '=', b.memberId).executeTakeFirst())) {
        throw problems.unprocessable(`there is no member ${b.memberId}`, [{ path: 'body/memberId', message: `there is no member ${b.memberId}` }]);
      }
      await assertMonthsOpen(ctx, from, to, 'the grant');
      const now = ctx.clock.now();
      const row = { id: newId('ftg'), member_id: b.memberId, resource_class: b.resourceClass, from_ms: from, to_ms: to, reason: b.reason, created_at: now, created_by: actorOf(req.principal) };
      await ctx.db.transaction().execute(async (trx) => {
        await trx.insertInto('free_time_grants').values(row).execute();
        await recordChange(trx, { actor: row.created_by, entity: 'grant', entityId: row.id, action: 'create', before: null, after: toGrant(row), at: now });
      });
      return reply.code(201).send(toGrant(row));
    },
  );

  app.delete(
    '/grants/:id',
    {
      config: { authz: { roles: ['admin', 'manager'] } },
      schema: { tags: ['accounting'], summary: 'Withdraw a grant (not once a month it touches is closed)', params: IdParam, response: { 204: Type.Null(), 404: ProblemSchema, 409: ProblemSchema } },
    },
    async (req, reply) => {
      const row = await ctx.db.selectFrom('free_time_grants').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!row) throw problems.notFound(`grant ${req.params.id}`);
      await assertMonthsOpen(ctx, Number(row.from_ms), Number(row.to_ms), `grant ${row.id}`);
      await ctx.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('free_time_grants').where('id', '=', row.id).execute();
        await recordChange(trx, { actor: actorOf(req.principal), entity: 'grant', entityId: row.id, action: 'delete', before: toGrant(row), after: null, at: ctx.clock.now() });
      });
      return reply.code(204).send(null);
    },
  );
};
