/**
 * Membership plans: which spaces a member may enter, in which hours, and how
 * many hours a month of which machine class or resource. Plans are public to
 * every logged-in role (members compare them); only administrators and
 * managers write them. A plan is never deleted — members and the change log
 * refer to it — it is deactivated (`active: false`).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ID_PATTERN } from '../../core/site/model.js';
import { actorOf, recordChange } from '../db/changes.js';
import { ROLES, type PlanRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { END_PATTERN, PolicyHoursSchema, START_PATTERN } from '../policy/snapshot.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { IdParam, PageQuery, ProblemSchema } from './schemas.js';

/** A machine class (laser-cutter), a resource (meeting-room) or a certification name (fablab-safety). */
export const CLASS_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
/** More than a month has (31 × 24) is a typing error. */
const MAX_QUOTA_HOURS = 744;

const Hours = Type.Array(
  Type.Object(
    {
      days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7, uniqueItems: true, description: 'ISO weekdays: 1 = Monday … 7 = Sunday' }),
      from: Type.String({ pattern: START_PATTERN, description: 'HH:MM' }),
      to: Type.String({ pattern: END_PATTERN, description: 'HH:MM after from, on the same day; 24:00 for the end of the day' }),
    },
    { additionalProperties: false },
  ),
  { maxItems: 50, description: 'Weekly opening hours in the site’s time zone; a period past midnight is two entries' },
);
type HoursList = Static<typeof Hours>;
// No uniqueItems: with allErrors the validator compares every pair even past maxItems (a 30,000-item body
// held the server 7 s); duplicates are refused in the handler instead, in one pass.
const Spaces = Type.Array(Type.Union([Type.Literal('*'), Type.String({ pattern: ID_PATTERN })]), {
  maxItems: 200,
  description: 'Space ids of the site files, each once; "*" for every space',
});

/** 422 when a space is listed twice. */
function checkSpacesOnce(spaces: readonly string[] | undefined): void {
  if (!spaces) return;
  const seen = new Set<string>();
  for (const sp of spaces) {
    if (seen.has(sp)) throw problems.unprocessable(`space ${sp} is listed twice`, [{ path: 'body/spaces', message: `${sp} appears more than once` }]);
    seen.add(sp);
  }
}
const Quotas = Type.Record(Type.String({ pattern: CLASS_PATTERN }), Type.Number({ minimum: 0, maximum: MAX_QUOTA_HOURS }), {
  additionalProperties: false,
  maxProperties: 200,
  description: 'Hours per month by machine class or resource',
});
const Name = Type.String({ minLength: 1, maxLength: 100 });

const Plan = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    nameZh: Type.Union([Type.String(), Type.Null()]),
    spaces: Type.Array(Type.String()),
    hours: Type.Array(PolicyHoursSchema),
    quotas: Type.Record(Type.String(), Type.Number()),
    active: Type.Boolean(),
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
  },
  { additionalProperties: false },
);
type PlanJson = Static<typeof Plan>;

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const next = (day: number): number => (day % 7) + 1;

/**
 * What is wrong with a weekly schedule beyond its shape: a period must end
 * after it starts on the same day. One past midnight is refused with the split
 * spelled out, so the manager can paste it.
 */
export function checkHours(hours: HoursList, path = 'body/hours'): { path: string; message: string }[] {
  const errors: { path: string; message: string }[] = [];
  hours.forEach((h, i) => {
    const from = minutes(h.from);
    const to = minutes(h.to);
    if (to === from) errors.push({ path: `${path}/${i}`, message: `${h.from}–${h.to} is an empty period; give an end after the start` });
    else if (to < from) {
      const split = `[{ "days": ${JSON.stringify(h.days)}, "from": "${h.from}", "to": "24:00" }, { "days": ${JSON.stringify(h.days.map(next))}, "from": "00:00", "to": "${h.to}" }]`;
      errors.push({ path: `${path}/${i}`, message: `${h.from}–${h.to} runs past midnight; split it into two periods: ${split}` });
    }
  });
  return errors;
}

function toPlan(row: PlanRow): PlanJson {
  return {
    id: row.id,
    name: row.name,
    nameZh: row.name_zh,
    spaces: JSON.parse(row.spaces) as string[],
    hours: JSON.parse(row.hours) as HoursList,
    quotas: JSON.parse(row.quotas) as Record<string, number>,
    active: row.active !== 0,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export const planRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const anyone = { authz: { roles: [...ROLES] } };
  const writers = { authz: { roles: ['admin', 'manager'] as const } };

  const assertNameFree = async (name: string, except: string | null): Promise<void> => {
    let q = ctx.db.selectFrom('plans').select('id').where('name', '=', name);
    if (except !== null) q = q.where('id', '<>', except);
    if (await q.executeTakeFirst()) throw problems.conflict(`a plan named ${name} exists; choose another name or change that plan`);
  };

  app.get(
    '/plans',
    {
      config: anyone,
      schema: {
        tags: ['plans'],
        summary: 'Membership plans (every logged-in role may read them)',
        querystring: Type.Object({ active: Type.Optional(Type.Boolean()), ...PageQuery }, { additionalProperties: false }),
        response: { 200: Type.Array(Plan) },
      },
    },
    async (req) => {
      let q = ctx.db.selectFrom('plans').selectAll().orderBy('name').orderBy('id');
      if (req.query.active !== undefined) q = q.where('active', '=', req.query.active ? 1 : 0);
      const rows = await q.limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute();
      return rows.map(toPlan);
    },
  );

  app.get(
    '/plans/:id',
    { config: anyone, schema: { tags: ['plans'], summary: 'One plan', params: IdParam, querystring: Type.Object({}, { additionalProperties: false }), response: { 200: Plan, 404: ProblemSchema } } },
    async (req) => {
      const row = await ctx.db.selectFrom('plans').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!row) throw problems.notFound(`plan ${req.params.id}`);
      return toPlan(row);
    },
  );

  app.post(
    '/plans',
    {
      config: writers,
      schema: {
        tags: ['plans'],
        summary: 'Create a plan',
        body: Type.Object(
          { name: Name, nameZh: Type.Optional(Name), spaces: Spaces, hours: Hours, quotas: Type.Optional(Quotas), active: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: { 201: Plan, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      checkSpacesOnce(b.spaces);
      const errors = checkHours(b.hours);
      if (errors.length > 0) throw problems.unprocessable('the opening hours are not valid', errors);
      await assertNameFree(b.name, null);
      const now = ctx.clock.now();
      const row: PlanRow = {
        id: newId('pln'),
        name: b.name,
        name_zh: b.nameZh ?? null,
        spaces: JSON.stringify(b.spaces),
        hours: JSON.stringify(b.hours),
        quotas: JSON.stringify(b.quotas ?? {}),
        active: b.active === false ? 0 : 1,
        created_at: now,
        updated_at: now,
      };
      const plan = toPlan(row);
      const version = await ctx.db.transaction().execute(async (trx) => {
        await trx.insertInto('plans').values(row).execute();
        return recordChange(trx, { actor: actorOf(req.principal), entity: 'plan', entityId: row.id, action: 'create', before: null, after: plan, at: now });
      });
      ctx.policyChanged(version);
      return reply.code(201).send(plan);
    },
  );

  app.patch(
    '/plans/:id',
    {
      config: writers,
      schema: {
        tags: ['plans'],
        summary: 'Change a plan, or deactivate it (active: false); plans are never deleted',
        params: IdParam,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            nameZh: Type.Optional(Type.Union([Name, Type.Null()])),
            spaces: Type.Optional(Spaces),
            hours: Type.Optional(Hours),
            quotas: Type.Optional(Quotas),
            active: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Plan, 404: ProblemSchema, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req) => {
      const b = req.body;
      checkSpacesOnce(b.spaces);
      const before = await ctx.db.selectFrom('plans').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!before) throw problems.notFound(`plan ${req.params.id}`);
      if (b.hours) {
        const errors = checkHours(b.hours);
        if (errors.length > 0) throw problems.unprocessable('the opening hours are not valid', errors);
      }
      if (b.name !== undefined && b.name !== before.name) await assertNameFree(b.name, before.id);
      const now = ctx.clock.now();
      const set = {
        ...(b.name !== undefined && { name: b.name }),
        ...(b.nameZh !== undefined && { name_zh: b.nameZh }),
        ...(b.spaces !== undefined && { spaces: JSON.stringify(b.spaces) }),
        ...(b.hours !== undefined && { hours: JSON.stringify(b.hours) }),
        ...(b.quotas !== undefined && { quotas: JSON.stringify(b.quotas) }),
        ...(b.active !== undefined && { active: b.active ? 1 : 0 }),
        updated_at: now,
      };
      const after = toPlan({ ...before, ...set });
      const version = await ctx.db.transaction().execute(async (trx) => {
        await trx.updateTable('plans').set(set).where('id', '=', before.id).execute();
        return recordChange(trx, { actor: actorOf(req.principal), entity: 'plan', entityId: before.id, action: 'update', before: toPlan(before), after, at: now });
      });
      ctx.policyChanged(version);
      return after;
    },
  );
};
