/**
 * The ledger of closed months (docs/accounting.md): charges frozen when a
 * month was closed, and adjustments recorded after it. Staff read every
 * entry; a member reads the entries booked to them. Administrators and
 * managers record an adjustment: it names the charge it corrects and why,
 * changes the amount (and the reference value, if that was wrong) by a signed
 * delta, and is a new entry; nothing is ever edited (the database refuses).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ownMemberScope } from '../auth/principal.js';
import { actorOf } from '../db/changes.js';
import type { Selectable } from 'kysely';
import type { LedgerEntriesTable } from '../db/schema.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { csvText, sendCsv } from './csv.js';
import { PageQuery, ProblemSchema } from './schemas.js';

const Entry = Type.Object(
  {
    id: Type.Integer(),
    siteId: Type.String(),
    month: Type.String(),
    kind: Type.Union([Type.Literal('charge'), Type.Literal('adjustment')]),
    party: Type.Object({ kind: Type.Union([Type.Literal('member'), Type.Literal('team')]), id: Type.String() }),
    resourceClass: Type.String(),
    amountMinor: Type.Integer(),
    referenceMinor: Type.Integer(),
    subsidyMinor: Type.Integer(),
    currency: Type.String(),
    line: Type.Object({}, { additionalProperties: true, description: 'The statement line a charge books (with its sessions), or what an adjustment changes' }),
    corrects: Type.Union([Type.Integer(), Type.Null()]),
    reason: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.Integer(),
    createdBy: Type.String(),
  },
  { additionalProperties: false },
);

/** The ledger CSV's columns (money in minor units; a charge's statement line in date … sessions). */
export const LEDGER_CSV_COLUMNS = [
  'id', 'site_id', 'month', 'kind', 'party_kind', 'party_id', 'resource_class', 'amount_minor', 'reference_minor', 'subsidy_minor', 'currency',
  'date', 'quantity_unit', 'quantity', 'rate_card_id', 'sessions', 'corrects', 'reason', 'created_at', 'created_by',
] as const;

const toEntry = (r: Selectable<LedgerEntriesTable>) => ({
  id: r.id,
  siteId: r.site_id,
  month: r.period,
  kind: r.kind,
  party: { kind: r.party_type, id: r.party_id },
  resourceClass: r.resource_class,
  amountMinor: r.amount_minor,
  referenceMinor: r.reference_minor,
  subsidyMinor: r.subsidy_minor,
  currency: r.currency,
  line: JSON.parse(r.line) as Record<string, unknown>,
  corrects: r.corrects,
  reason: r.reason,
  createdAt: Number(r.created_at),
  createdBy: r.created_by,
});

export const ledgerRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  const LedgerFilter = {
    month: Type.Optional(Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$' })),
    partyId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  };

  /** The entries a caller may read, oldest first: a member those booked to them. */
  function entries(principal: Parameters<typeof ownMemberScope>[0], month: string | undefined, partyId: string | undefined) {
    const scope = ownMemberScope(principal);
    if (scope === undefined) throw problems.unauthorized();
    let q = ctx.db.selectFrom('ledger_entries').selectAll();
    if (month !== undefined) q = q.where('period', '=', month);
    if (scope !== null) q = q.where('party_type', '=', 'member').where('party_id', '=', scope);
    else if (partyId !== undefined) q = q.where('party_id', '=', partyId);
    return q.orderBy('id');
  }

  app.get(
    '/ledger',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'member'] } },
      schema: {
        tags: ['accounting'],
        summary: 'Ledger entries of closed months, oldest first (a member: those booked to them)',
        querystring: Type.Object({ ...LedgerFilter, ...PageQuery }, { additionalProperties: false }),
        response: { 200: Type.Array(Entry) },
      },
    },
    async (req) => {
      const rows = await entries(req.principal, req.query.month, req.query.partyId).limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute();
      return rows.map(toEntry);
    },
  );

  app.get(
    '/ledger.csv',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'member'] } },
      schema: {
        tags: ['accounting'],
        summary: 'Ledger entries as CSV, every matching entry (a member: those booked to them)',
        querystring: Type.Object(LedgerFilter, { additionalProperties: false }),
        produces: ['text/csv'],
        response: { 200: Type.String({ description: `CSV: ${LEDGER_CSV_COLUMNS.join(',')}` }) },
      },
    },
    async (req, reply) => {
      const rows = await entries(req.principal, req.query.month, req.query.partyId).execute();
      const csv = csvText(
        LEDGER_CSV_COLUMNS,
        rows.map((r) => {
          const line = JSON.parse(r.line) as { date?: string; quantityUnit?: string; quantity?: number; sessions?: { id: string }[]; rateCardId?: number };
          return [
            r.id, r.site_id, r.period, r.kind, r.party_type, r.party_id, r.resource_class, r.amount_minor, r.reference_minor, r.subsidy_minor, r.currency,
            line.date ?? null, line.quantityUnit ?? null, line.quantity ?? null, line.rateCardId ?? null, (line.sessions ?? []).map((x) => x.id).join(' '),
            r.corrects, r.reason, new Date(Number(r.created_at)).toISOString(), r.created_by,
          ];
        }),
      );
      return sendCsv(reply, `ledger${req.query.month !== undefined ? `-${req.query.month}` : ''}.csv`, csv);
    },
  );

  app.post(
    '/ledger/adjustments',
    {
      config: { authz: { roles: ['admin', 'manager'] } },
      schema: {
        tags: ['accounting'],
        summary: 'Correct a closed month: a new entry against one of its charges, never an edit',
        body: Type.Object(
          {
            corrects: Type.Integer({ minimum: 1, description: 'The charge this corrects' }),
            amountMinor: Type.Integer({ minimum: -1_000_000_000, maximum: 1_000_000_000, description: 'Change to the amount charged (negative: a refund)' }),
            referenceMinor: Type.Optional(Type.Integer({ minimum: -1_000_000_000, maximum: 1_000_000_000, description: 'Change to the reference value, if it was wrong (default 0)' })),
            reason: Type.String({ minLength: 3, maxLength: 2000, description: 'Why: shown on the statement and to auditors' }),
          },
          { additionalProperties: false },
        ),
        response: { 201: Entry, 404: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const charge = await ctx.db.selectFrom('ledger_entries').selectAll().where('id', '=', b.corrects).executeTakeFirst();
      if (!charge) throw problems.notFound(`ledger entry ${b.corrects}`);
      if (charge.kind !== 'charge') throw problems.unprocessable(`entry ${b.corrects} is an adjustment: correct the charge it adjusts (${charge.corrects ?? '?'})`);
      const referenceDelta = b.referenceMinor ?? 0;
      const now = ctx.clock.now();
      const row = {
        site_id: charge.site_id,
        period: charge.period,
        kind: 'adjustment' as const,
        party_type: charge.party_type,
        party_id: charge.party_id,
        resource_class: charge.resource_class,
        amount_minor: b.amountMinor,
        reference_minor: referenceDelta,
        // The subsidy is reference − charged: it moves opposite to the amount.
        subsidy_minor: referenceDelta - b.amountMinor,
        currency: charge.currency,
        line: JSON.stringify({ amountMinor: b.amountMinor, referenceMinor: referenceDelta }),
        corrects: charge.id,
        reason: b.reason,
        created_at: now,
        created_by: actorOf(req.principal),
      };
      const r = await ctx.db.insertInto('ledger_entries').values(row).returning('id').executeTakeFirstOrThrow();
      return reply.code(201).send(toEntry({ ...row, id: Number(r.id) }));
    },
  );
};
