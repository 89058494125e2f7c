/**
 * Costs: what the space paid in a month for what it claims as costs —
 * broadband and shared software members use free, and, as evidence beside
 * their categories, rent and shared hardware (docs/accounting.md, "Subsidy
 * claim"). One entry per invoice, in the billing currency (the rate card's).
 *
 * Administrators and managers record and remove entries; staff read them
 * (JSON and CSV). Once the month is closed its costs are frozen: the database
 * refuses any change (migration 007 triggers), the API answers 409.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Selectable } from 'kysely';
import { parseRateCard } from '../../core/accounting/rates.js';
import { actorOf, recordChange } from '../db/changes.js';
import type { CostsTable } from '../db/schema.js';
import { newId } from '../ids.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { csvText, sendCsv } from './csv.js';
import { ONE_LINE } from './members.js';
import { currentRateCard } from './rate-card.js';
import { requireUsage } from './usage.js';
import { IdParam, PageQuery, ProblemSchema } from './schemas.js';

export const COST_CATEGORIES = ['space', 'broadband', 'shared_equipment', 'software'] as const;

const MonthPattern = '^[0-9]{4}-(0[1-9]|1[0-2])$';

const Cost = Type.Object(
  {
    id: Type.String(),
    siteId: Type.String(),
    month: Type.String(),
    category: Type.Union(COST_CATEGORIES.map((c) => Type.Literal(c))),
    description: Type.String(),
    supplier: Type.Union([Type.String(), Type.Null()]),
    invoiceRef: Type.Union([Type.String(), Type.Null()]),
    amountMinor: Type.Integer(),
    currency: Type.String(),
    createdAt: Type.Integer(),
    createdBy: Type.String(),
  },
  { additionalProperties: false },
);

const toCost = (r: Selectable<CostsTable>) => ({
  id: r.id,
  siteId: r.site_id,
  month: r.period,
  category: r.category,
  description: r.description,
  supplier: r.supplier,
  invoiceRef: r.invoice_ref,
  amountMinor: r.amount_minor,
  currency: r.currency,
  createdAt: Number(r.created_at),
  createdBy: r.created_by,
});

export const COST_CSV_COLUMNS = ['id', 'site_id', 'month', 'category', 'description', 'supplier', 'invoice_ref', 'amount_minor', 'currency', 'created_at', 'created_by'] as const;

/** The database's refusal of a change to a closed month's costs. */
const isFrozen = (err: unknown): boolean => err instanceof Error && /its costs are frozen/.test(err.message);
const frozen = (month: string) => problems.conflict(`${month} is closed: its costs are frozen (record a cost of an open month instead)`);

export const costRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const staff = { authz: { roles: ['admin', 'manager', 'auditor'] as const } };
  const writers = { authz: { roles: ['admin', 'manager'] as const } };
  const Filter = { month: Type.Optional(Type.String({ pattern: MonthPattern })), category: Type.Optional(Type.Union(COST_CATEGORIES.map((c) => Type.Literal(c)))) };

  const list = (month: string | undefined, category: string | undefined) => {
    let q = ctx.db.selectFrom('costs').selectAll();
    if (month !== undefined) q = q.where('period', '=', month);
    if (category !== undefined) q = q.where('category', '=', category as CostsTable['category']);
    return q.orderBy('period').orderBy('category').orderBy('created_at').orderBy('id');
  };

  app.get(
    '/costs',
    {
      config: staff,
      schema: { tags: ['accounting'], summary: 'Costs recorded, by month', querystring: Type.Object({ ...Filter, ...PageQuery }, { additionalProperties: false }), response: { 200: Type.Array(Cost) } },
    },
    async (req) => (await list(req.query.month, req.query.category).limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute()).map(toCost),
  );

  app.get(
    '/costs.csv',
    {
      config: staff,
      schema: {
        tags: ['accounting'],
        summary: 'Costs recorded as CSV (UTF-8 with BOM, money in minor units)',
        querystring: Type.Object(Filter, { additionalProperties: false }),
        produces: ['text/csv'],
        response: { 200: Type.String({ description: `CSV: ${COST_CSV_COLUMNS.join(',')}` }) },
      },
    },
    async (req, reply) => {
      const rows = await list(req.query.month, req.query.category).execute();
      const csv = csvText(
        COST_CSV_COLUMNS,
        rows.map((r) => [r.id, r.site_id, r.period, r.category, r.description, r.supplier, r.invoice_ref, r.amount_minor, r.currency, new Date(Number(r.created_at)).toISOString(), r.created_by]),
      );
      return sendCsv(reply, `costs${req.query.month !== undefined ? `-${req.query.month}` : ''}.csv`, csv);
    },
  );

  app.post(
    '/costs',
    {
      config: writers,
      schema: {
        tags: ['accounting'],
        summary: 'Record a cost the space paid in a month (an invoice)',
        body: Type.Object(
          {
            month: Type.String({ pattern: MonthPattern, description: 'The local month the cost is for' }),
            category: Type.Union(COST_CATEGORIES.map((c) => Type.Literal(c))),
            description: Type.String({ minLength: 1, maxLength: 500, pattern: ONE_LINE }),
            supplier: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200, pattern: ONE_LINE }), Type.Null()])),
            invoiceRef: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 100, pattern: ONE_LINE }), Type.Null()])),
            amountMinor: Type.Integer({ minimum: 1, maximum: 100_000_000_000, description: 'What was paid, in minor units of the billing currency' }),
          },
          { additionalProperties: false },
        ),
        response: { 201: Cost, 409: ProblemSchema, 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const siteId = requireUsage(ctx).siteId;
      const stored = await currentRateCard(ctx.db);
      const parsed = stored ? parseRateCard(stored.card) : null;
      if (!parsed?.ok) throw problems.unprocessable('no rate card is stored yet, and costs are kept in its currency: store one with PUT /api/v1/rate-card first');
      const currency = parsed.card.currency;
      const now = ctx.clock.now();
      const row: Selectable<CostsTable> = {
        id: newId('cst'),
        site_id: siteId,
        period: b.month,
        category: b.category,
        description: b.description,
        supplier: b.supplier ?? null,
        invoice_ref: b.invoiceRef ?? null,
        amount_minor: b.amountMinor,
        currency,
        created_at: now,
        created_by: actorOf(req.principal),
      };
      try {
        await ctx.db.transaction().execute(async (trx) => {
          await trx.insertInto('costs').values(row).execute();
          await recordChange(trx, { actor: row.created_by, entity: 'cost', entityId: row.id, action: 'create', before: null, after: toCost(row), at: now });
        });
      } catch (err) {
        throw isFrozen(err) ? frozen(b.month) : err;
      }
      return reply.code(201).send(toCost(row));
    },
  );

  app.delete(
    '/costs/:id',
    { config: writers, schema: { tags: ['accounting'], summary: 'Remove a cost recorded by mistake (not once its month is closed)', params: IdParam, response: { 204: Type.Null(), 404: ProblemSchema, 409: ProblemSchema } } },
    async (req, reply) => {
      const row = await ctx.db.selectFrom('costs').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!row) throw problems.notFound(`cost ${req.params.id}`);
      try {
        await ctx.db.transaction().execute(async (trx) => {
          await trx.deleteFrom('costs').where('id', '=', row.id).execute();
          await recordChange(trx, { actor: actorOf(req.principal), entity: 'cost', entityId: row.id, action: 'delete', before: toCost(row), after: null, at: ctx.clock.now() });
        });
      } catch (err) {
        throw isFrozen(err) ? frozen(row.period) : err;
      }
      return reply.code(204).send(null);
    },
  );
};
