/**
 * The rate card (docs/accounting.md): prices per resource class, versioned by
 * the date they apply from. Everyone logged in may read it (members see what
 * they will be charged); administrators and managers store a new one, which
 * must parse (core/accounting/rates.ts) or is refused with every problem and
 * its path. Each stored card is kept (the history is what closed statements
 * name), and each change is in the change log.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { formatRateCardPath, parseRateCard, RateCardSchema, type RateCardInput } from '../../core/accounting/rates.js';
import { actorOf, recordChange } from '../db/changes.js';
import type { ServerDb } from '../db/database.js';
import type { RateCardsTable } from '../db/schema.js';
import type { Selectable } from 'kysely';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { NoQuery, PageQuery, ProblemSchema } from './schemas.js';

const StoredCard = Type.Object(
  {
    id: Type.Integer({ description: 'Which stored card this is (statements name it)' }),
    card: RateCardSchema,
    createdAt: Type.Integer(),
    createdBy: Type.String(),
  },
  { additionalProperties: false },
);

/** The card in force (the newest stored), or null before any. */
export interface StoredRateCard {
  readonly id: number;
  readonly card: RateCardInput;
  readonly createdAt: number;
  readonly createdBy: string;
}

const toStored = (row: Selectable<RateCardsTable>): StoredRateCard => ({ id: row.id, card: JSON.parse(row.card) as RateCardInput, createdAt: Number(row.created_at), createdBy: row.created_by });

export async function currentRateCard(db: ServerDb): Promise<StoredRateCard | null> {
  const row = await db.selectFrom('rate_cards').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst();
  return row ? toStored(row) : null;
}

/** A stored card by its id, or null. */
export async function rateCardById(db: ServerDb, id: number): Promise<StoredRateCard | null> {
  const row = await db.selectFrom('rate_cards').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toStored(row) : null;
}

export const rateCardRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/rate-card',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'member'] } },
      schema: { tags: ['accounting'], summary: 'The rate card in force', querystring: NoQuery, response: { 200: StoredCard, 404: ProblemSchema } },
    },
    async () => {
      const current = await currentRateCard(ctx.db);
      if (!current) throw problems.notFound('a rate card (none stored yet: PUT /api/v1/rate-card)');
      return current;
    },
  );

  app.get(
    '/rate-card/history',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor'] } },
      schema: { tags: ['accounting'], summary: 'Every rate card stored, newest first (staff)', querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }), response: { 200: Type.Array(StoredCard) } },
    },
    async (req) => {
      const rows = await ctx.db.selectFrom('rate_cards').selectAll().orderBy('id', 'desc').limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute();
      return rows.map(toStored);
    },
  );

  app.put(
    '/rate-card',
    {
      config: { authz: { roles: ['admin', 'manager'] } },
      schema: {
        tags: ['accounting'],
        summary: 'Store a new rate card (the whole card; its versions say from when each applies)',
        body: RateCardSchema,
        response: { 201: StoredCard, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const parsed = parseRateCard(req.body);
      if (!parsed.ok) {
        throw problems.unprocessable(
          `the rate card has ${parsed.errors.length} problem${parsed.errors.length === 1 ? '' : 's'}; fix them and send it again`,
          parsed.errors.map((e) => ({ path: `body/${formatRateCardPath(e.path)}`, message: e.message })),
        );
      }
      const now = ctx.clock.now();
      const actor = actorOf(req.principal);
      const stored = await ctx.db.transaction().execute(async (trx) => {
        const before = await trx.selectFrom('rate_cards').select(['id', 'card']).orderBy('id', 'desc').limit(1).executeTakeFirst();
        const row = await trx.insertInto('rate_cards').values({ card: JSON.stringify(req.body), created_at: now, created_by: actor }).returning('id').executeTakeFirstOrThrow();
        const id = Number(row.id);
        await recordChange(trx, { actor, entity: 'rate_card', entityId: String(id), action: before ? 'update' : 'create', before: before ? (JSON.parse(before.card) as unknown) : null, after: req.body, at: now });
        return { id, card: req.body, createdAt: now, createdBy: actor };
      });
      return reply.code(201).send(stored);
    },
  );
};
