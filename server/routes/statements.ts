/**
 * Statements of a month, computed when asked: the month's sessions read back
 * from InfluxDB (server/usage/readback.ts, the same sessioniser the gateway
 * runs), priced by core/accounting/price.ts with the rate card in force and
 * the members' plans and teams (docs/accounting.md). Nothing is stored here:
 * closing a month (which freezes its statements in the ledger) builds on
 * exactly this computation.
 *
 * Staff see every statement; a member sees their own statement only (lines
 * billed to their team are on the team's statement, which members do not see
 * here).
 *
 * From the roster as it stands: a member with a team is billed through the
 * team (`billTo: team`, to the team their session recorded), one without is
 * billed personally; members have no price group yet. A plan's quota keys are
 * machine classes (`laser-cutter`), or `desk-hot`, `desk-fixed`, `lab`,
 * `open-space`, `room`.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { subsidyClaim, type ClaimLedgerEntry, type ClaimLine, type ClaimService, type SubsidyClaim } from '../../core/accounting/claim.js';
import { monthPeriod, priceStatements, pricingResources, type MemberBilling, type NoShowBooking, type PlanQuotas, type PricingResources, type PricingResult } from '../../core/accounting/price.js';
import { parseRateCard } from '../../core/accounting/rates.js';
import { chargeLine, lineDifferences, partyLines, siteDigest, statementsDigest, type BillingInputs } from '../../core/accounting/reproduce.js';
import { ownMemberScope } from '../auth/principal.js';
import { EVIDENCE_FORMAT, type EvidenceBundle } from '../../core/audit/evidence.js';
import type { JournalRecord } from '../../core/signals.js';
import { readStart } from '../../core/usage/period.js';
import { readRecords } from '../usage/readback.js';
import { actorOf } from '../db/changes.js';
import { HttpProblem, problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { readUsage, requireUsage } from './usage.js';
import { currentRateCard, rateCardById } from './rate-card.js';
import { csvText, sendCsv } from './csv.js';
import { Empty, NoQuery, ProblemSchema } from './schemas.js';
import { AuditCheckpointRef, checkpointRef } from '../audit/log.js';

/** A plan's quota key → the resource class it frees (docs/accounting.md). */
export function quotaClass(key: string): string {
  if (key === 'room') return 'room';
  if (key === 'lab' || key === 'open-space') return `space:${key}`;
  if (key === 'desk-hot' || key === 'desk-fixed') return `desk:${key.slice(5)}`;
  return `machine:${key}`;
}

const Open = (description: string) => Type.Object({}, { additionalProperties: true, description });

const StatementsResponse = Type.Object(
  {
    siteId: Type.String(),
    month: Type.String(),
    currency: Type.String(),
    from: Type.Integer(),
    to: Type.Integer(),
    rateCardId: Type.Integer({ description: 'The stored rate card the statements were priced with' }),
    statements: Type.Array(Open('A statement: party, lines (each with the sessions and journal keys it bills), totals (docs/accounting.md, "Output")')),
    unbilled: Type.Array(Open('A session nobody is billed for, and why')),
    unpriced: Type.Array(Open('Billable usage with no price, and why')),
  },
  { additionalProperties: false },
);

/**
 * A booking's resource → the class pricing bills it under (machine:<class>, desk:<kind>, room), or null when
 * the resource is no longer in the site.
 */
function bookingClass(resources: PricingResources, type: 'equipment' | 'desk' | 'room', id: string): string | null {
  switch (type) {
    case 'equipment': {
      const m = resources.machines[id];
      return m ? `machine:${m.class}` : null;
    }
    case 'desk': {
      const d = resources.desks[id];
      return d ? `desk:${d.kind}` : null;
    }
    case 'room':
      return resources.spaces[id]?.kind === 'room' ? 'room' : null;
  }
}

/** Members' bookings starting in [from, to) that check-in found unused (no_show, or released by auto-release). */
async function noShowBookings(ctx: ServerContext, siteId: string, resources: PricingResources, from: number, to: number): Promise<NoShowBooking[]> {
  const rows = await ctx.db
    .selectFrom('bookings')
    .select(['id', 'member_id', 'resource_type', 'resource_id', 'from_ms', 'to_ms'])
    .where('site_id', '=', siteId)
    .where('kind', '=', 'booking')
    .where('status', 'in', ['no_show', 'released'])
    .where('from_ms', '>=', from)
    .where('from_ms', '<', to)
    .orderBy('from_ms')
    .orderBy('id')
    .execute();
  const out: NoShowBooking[] = [];
  for (const r of rows) {
    const resourceClass = bookingClass(resources, r.resource_type, r.resource_id);
    if (resourceClass === null || r.member_id === null) continue;
    out.push({ bookingId: r.id, memberId: r.member_id, resourceClass, from: Number(r.from_ms), to: Number(r.to_ms) });
  }
  return out;
}

/** The billing inputs as the roster, the newest rate card, the grants and the bookings stand now, for [from, to). */
async function currentInputs(ctx: ServerContext, siteId: string, resources: PricingResources, from: number, to: number): Promise<BillingInputs> {
  const stored = await currentRateCard(ctx.db);
  if (!stored) throw problems.unprocessable('no rate card is stored yet: an administrator or manager stores one with PUT /api/v1/rate-card');
  const [memberRows, planRows, grantRows, noShows] = await Promise.all([
    ctx.db.selectFrom('members').select(['id', 'plan_id', 'plan_valid_from', 'plan_valid_to', 'team_id', 'price_group', 'bill_to']).execute(),
    ctx.db.selectFrom('plans').select(['id', 'quotas']).execute(),
    ctx.db.selectFrom('free_time_grants').selectAll().where('from_ms', '<', to).where('to_ms', '>', from).orderBy('from_ms').orderBy('id').execute(),
    noShowBookings(ctx, siteId, resources, from, to),
  ]);
  const members: Record<string, MemberBilling> = {};
  for (const m of memberRows) {
    members[m.id] = { planId: m.plan_id, planValidFrom: m.plan_valid_from, planValidTo: m.plan_valid_to, group: m.price_group, teamId: m.team_id, billTo: m.bill_to };
  }
  const plans: Record<string, PlanQuotas> = {};
  for (const p of planRows) {
    const quotas = JSON.parse(p.quotas) as Record<string, number>;
    plans[p.id] = { quotas: Object.fromEntries(Object.entries(quotas).map(([k, v]) => [quotaClass(k), v])) };
  }
  const grants = grantRows.map((g) => ({ memberId: g.member_id, resourceClass: g.resource_class, from: Number(g.from_ms), to: Number(g.to_ms), reason: `${g.id}: ${g.reason}` }));
  return { rateCardId: stored.id, members, plans, grants, noShows };
}

/**
 * A month's statements priced from the raw signals: with the inputs as they
 * stand now (what GET shows and what closing freezes), or with frozen ones
 * (verifying a closed month).
 */
export async function computeMonth(
  ctx: ServerContext,
  month: string,
  frozen?: BillingInputs,
): Promise<{ siteId: string; from: number; to: number; rateCardId: number; inputs: BillingInputs; result: PricingResult }> {
  const source = requireUsage(ctx);
  const { from, to } = monthPeriod(source.site.timezone, month);
  const resources = pricingResources(source.site);
  const inputs = frozen ?? { ...(await currentInputs(ctx, source.site.id, resources, from, to)), siteSha256: siteDigest(source.config, resources) };
  const stored = await rateCardById(ctx.db, inputs.rateCardId);
  if (!stored) throw problems.unprocessable(`the rate card ${inputs.rateCardId} the month was priced with is not stored`);
  const parsed = parseRateCard(stored.card);
  if (!parsed.ok) throw problems.unprocessable(`the stored rate card ${stored.id} does not parse: ${parsed.errors[0]?.message ?? ''}`);
  const usage = await readUsage(source, from, to);
  // Sessions still open at the month's end are billed for their part inside it.
  const result = priceStatements({
    sessions: [...usage.sessions, ...usage.open],
    resources,
    members: inputs.members,
    plans: inputs.plans,
    grants: inputs.grants,
    // Months closed before no-show fees were priced froze none.
    noShows: inputs.noShows ?? [],
    rateCard: parsed.card,
    timezone: source.site.timezone,
    from,
    to,
  });
  return { siteId: source.siteId, from, to, rateCardId: stored.id, inputs, result };
}

/** The subsidy claim of a closed month (404 when it is not closed), from its ledger and the services recorded in it. */
export async function closedClaim(
  ctx: ServerContext,
  month: string,
): Promise<{ siteId: string; month: string; currency: string; lines: ClaimLine[]; total: SubsidyClaim['total']; checkpoint: AuditCheckpointRef | null }> {
  const source = requireUsage(ctx);
  const period = await ctx.db.selectFrom('billing_periods').selectAll().where('site_id', '=', source.siteId).where('period', '=', month).executeTakeFirst();
  if (!period) throw problems.notFound(`a closed period ${month} (close it first: POST /api/v1/statements/${month}/close)`);
  const rows = await ctx.db.selectFrom('ledger_entries').selectAll().where('site_id', '=', source.siteId).where('period', '=', month).orderBy('id').execute();
  const entries: ClaimLedgerEntry[] = rows.map((r) => {
    const line = JSON.parse(r.line) as { quantity?: number; quantityUnit?: string; sessions?: { count: number }[] };
    return {
      kind: r.kind,
      resourceClass: r.resource_class,
      amountMinor: r.amount_minor,
      referenceMinor: r.reference_minor,
      ...(r.kind === 'charge' && { quantity: line.quantity ?? 0, quantityUnit: line.quantityUnit ?? '', sessions: line.sessions ?? [] }),
    };
  });
  const { from, to } = monthPeriod(source.site.timezone, month);
  const serviceRows = await ctx.db
    .selectFrom('services')
    .select(['id', 'kind', 'minutes', 'external_participants', 'fee_minor', 'reference_minor'])
    .where('started_at', '>=', from)
    .where('started_at', '<', to)
    .where((eb) => eb.or([eb('site_id', 'is', null), eb('site_id', '=', source.siteId)]))
    .execute();
  const counts = new Map<string, number>();
  if (serviceRows.length > 0) {
    for (const p of await ctx.db.selectFrom('service_participants').select('service_id').where('service_id', 'in', serviceRows.map((r) => r.id)).execute()) counts.set(p.service_id, (counts.get(p.service_id) ?? 0) + 1);
  }
  const services: ClaimService[] = serviceRows.map((r) => ({ kind: r.kind, minutes: r.minutes, participants: (counts.get(r.id) ?? 0) + r.external_participants, feeMinor: r.fee_minor, referenceMinor: r.reference_minor }));
  const costRows = await ctx.db.selectFrom('costs').select(['category', 'amount_minor', 'currency']).where('site_id', '=', source.siteId).where('period', '=', month).execute();
  const foreign = costRows.find((c) => c.currency !== period.currency);
  if (foreign) throw problems.unprocessable(`a cost of ${month} is in ${foreign.currency}, the month was billed in ${period.currency}: record costs in the billing currency`);
  const claim = subsidyClaim(period.currency, entries, services, costRows.map((c) => ({ category: c.category, amountMinor: c.amount_minor })));
  // The checkpoint covering every ledger entry, cost and change the claim was computed from.
  const checkpoint = ctx.audit ? checkpointRef(await ctx.audit.checkpoint('report')) : null;
  return { siteId: source.siteId, month, currency: claim.currency, lines: [...claim.lines], total: claim.total, checkpoint };
}

const LineDifference = Type.Object(
  {
    line: Type.String({ description: 'party | member | resource class | local date | sessions' }),
    change: Type.Union([Type.Literal('changed'), Type.Literal('gone'), Type.Literal('new')], { description: 'gone: frozen but not there now; new: there now but not frozen' }),
    fields: Type.Array(Type.Object({ field: Type.String(), frozen: Type.Union([Type.Number(), Type.String(), Type.Null()]), now: Type.Union([Type.Number(), Type.String(), Type.Null()]) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

/** The statement CSV's columns, one row per statement line (money in minor units). */
export const STATEMENT_CSV_COLUMNS = [
  'party_kind', 'party_id', 'member_id', 'team_id', 'resource_class', 'date', 'quantity_unit', 'quantity', 'free_quantity', 'granted_quantity',
  'charged_quantity', 'unit_price_minor', 'starting_fee_minor', 'amount_minor', 'reference_minor', 'subsidy_minor', 'currency', 'cap_applied', 'rate_version', 'sessions',
] as const;

/** The claim CSV's columns: a row per category, then the total (money in minor units). */
export const CLAIM_CSV_COLUMNS = [
  'category', 'deliveries', 'hours', 'days', 'kwh', 'participants', 'reference_minor', 'fees_minor', 'costs_minor', 'claimable_minor', 'currency',
  'evidence_charges', 'evidence_adjustments', 'evidence_sessions', 'evidence_records', 'evidence_services', 'evidence_costs',
] as const;

export const statementRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/statements',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'member'] } },
      schema: {
        tags: ['accounting'],
        summary: 'Statements of a month, priced now from the raw signals and the rate card in force',
        description: 'Staff get every member’s and team’s statement; a member gets their own only.',
        querystring: Type.Object({ month: Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM, in the site’s time zone' }) }, { additionalProperties: false }),
        response: { 200: StatementsResponse, 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req) => {
      const scope = ownMemberScope(req.principal);
      if (scope === undefined) throw problems.unauthorized();
      const { siteId, from, to, rateCardId, result } = await computeMonth(ctx, req.query.month);
      const statements = scope === null ? result.statements : result.statements.filter((st) => st.party.kind === 'member' && st.party.id === scope);
      return {
        siteId,
        month: req.query.month,
        currency: result.currency,
        from,
        to,
        rateCardId,
        statements: [...statements],
        unbilled: scope === null ? [...result.unbilled] : [],
        unpriced: scope === null ? [...result.unpriced] : [],
      };
    },
  );

  const Month = Type.Object({ month: Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM, in the site’s time zone' }) }, { additionalProperties: false });

  app.post(
    '/statements/:month/close',
    {
      config: { authz: { roles: ['admin', 'manager'] } },
      schema: {
        tags: ['accounting'],
        summary: 'Close a month: its statements are priced once more and frozen in the append-only ledger',
        description:
          'Writes one charge per statement line and the period row with the SHA-256 of the statements, in one transaction. A closed month never changes; corrections are adjustments. Closing twice answers 409.',
        params: Month,
        body: Empty,
        response: {
          201: Type.Object(
            {
              siteId: Type.String(),
              month: Type.String(),
              currency: Type.String(),
              statementsSha256: Type.String(),
              entries: Type.Integer(),
              amountMinor: Type.Integer(),
              referenceMinor: Type.Integer(),
              subsidyMinor: Type.Integer(),
              rateCardId: Type.Integer(),
              checkpoint: Type.Union([AuditCheckpointRef, Type.Null()], { description: "The server audit log's checkpoint signed right after the close (it covers the charges and the close)" }),
            },
            { additionalProperties: false },
          ),
          409: ProblemSchema,
          422: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    async (req, reply) => {
      const month = req.params.month;
      const { siteId, to, rateCardId, inputs, result } = await computeMonth(ctx, month);
      const now = ctx.clock.now();
      if (to > now) throw problems.unprocessable(`${month} has not ended yet: close it once it is over`);
      const digest = statementsDigest(result);
      const actor = actorOf(req.principal);
      let entries = 0;
      let amount = 0;
      let reference = 0;
      let subsidy = 0;
      await ctx.db.transaction().execute(async (trx) => {
        if (await trx.selectFrom('billing_periods').select('period').where('site_id', '=', siteId).where('period', '=', month).executeTakeFirst()) {
          throw problems.conflict(`${month} is already closed; corrections are adjustments`);
        }
        for (const st of result.statements) {
          for (const line of st.lines) {
            await trx
              .insertInto('ledger_entries')
              .values({
                site_id: siteId,
                period: month,
                kind: 'charge',
                party_type: st.party.kind,
                party_id: st.party.id,
                resource_class: line.resourceClass,
                amount_minor: line.amountMinor,
                reference_minor: line.referenceMinor,
                subsidy_minor: line.subsidyMinor,
                currency: result.currency,
                line: JSON.stringify({ ...line, rateCardId }),
                corrects: null,
                reason: null,
                created_at: now,
                created_by: actor,
              })
              .execute();
            entries++;
            amount += line.amountMinor;
            reference += line.referenceMinor;
            subsidy += line.subsidyMinor;
          }
        }
        await trx.insertInto('billing_periods').values({ site_id: siteId, period: month, closed_at: now, closed_by: actor, statements_sha256: digest, currency: result.currency, inputs: JSON.stringify(inputs) }).execute();
      });
      const checkpoint = ctx.audit ? checkpointRef(await ctx.audit.checkpoint(`close ${month}`)) : null;
      return reply.code(201).send({ siteId, month, currency: result.currency, statementsSha256: digest, entries, amountMinor: amount, referenceMinor: reference, subsidyMinor: subsidy, rateCardId, checkpoint });
    },
  );

  app.get(
    '/statements/:month/verify',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor'] } },
      schema: {
        tags: ['accounting'],
        summary: 'Price a closed month again from the raw signals and compare with what was frozen',
        params: Month,
        querystring: NoQuery,
        response: {
          200: Type.Object(
            {
              month: Type.String(),
              frozenSha256: Type.String(),
              recomputedSha256: Type.String(),
              same: Type.Boolean(),
              differences: Type.Array(LineDifference, { description: 'Line by line: what was frozen and what the raw signals give now' }),
            },
            { additionalProperties: false },
          ),
          404: ProblemSchema,
          422: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    async (req) => {
      const month = req.params.month;
      const source = requireUsage(ctx);
      const closed = await ctx.db.selectFrom('billing_periods').selectAll().where('site_id', '=', source.siteId).where('period', '=', month).executeTakeFirst();
      if (!closed) throw problems.notFound(`a closed period ${month}`);
      if (closed.inputs === null) throw problems.unprocessable(`${month} was closed before its pricing inputs were kept (version 7): it cannot be re-priced exactly`);
      // Priced with what the month was closed with (rate card, roster, grants), not today's.
      const { result } = await computeMonth(ctx, month, JSON.parse(closed.inputs) as BillingInputs);
      const recomputed = statementsDigest(result);
      const charges = await ctx.db.selectFrom('ledger_entries').select(['party_type', 'party_id', 'line']).where('site_id', '=', source.siteId).where('period', '=', month).where('kind', '=', 'charge').orderBy('id').execute();
      const frozen = charges.map((c) => ({ party: { kind: c.party_type, id: c.party_id }, line: chargeLine(c.line).line }));
      const differences = lineDifferences(frozen, partyLines(result)).map((d) => ({ ...d, fields: [...d.fields] }));
      return { month, frozenSha256: closed.statements_sha256, recomputedSha256: recomputed, same: recomputed === closed.statements_sha256, differences };
    },
  );

  app.get(
    '/statements/:month/evidence',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor'] } },
      schema: {
        tags: ['accounting', 'audit'],
        summary: "An auditor's evidence bundle of a closed month: the raw records, the site configuration, and the server's audit log up to a signed checkpoint",
        description:
          'Verifies away from the server with `facility audit verify-evidence <file>` (core/audit/evidence.ts): the log against the checkpoint, then the month priced again from the records with the inputs the close logged, compared with the frozen charges line by line (docs/audit.md, "Evidence bundle").',
        params: Month,
        querystring: NoQuery,
        response: { 200: Type.Object({}, { additionalProperties: true, description: 'core/audit/evidence.ts EvidenceBundle' }), 404: ProblemSchema, 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const month = req.params.month;
      const source = requireUsage(ctx);
      if (!ctx.audit) throw problems.unavailable('this server keeps no audit log, so it cannot vouch for a bundle');
      const closed = await ctx.db.selectFrom('billing_periods').select('period').where('site_id', '=', source.siteId).where('period', '=', month).executeTakeFirst();
      if (!closed) throw problems.notFound(`a closed period ${month} (close it first: POST /api/v1/statements/${month}/close)`);
      const checkpoint = await ctx.audit.checkpoint('evidence');
      const [entries, keys] = await Promise.all([
        ctx.db.selectFrom('audit_log').select('body').where('idx', '<=', checkpoint.size).orderBy('idx').execute(),
        ctx.db.selectFrom('audit_keys').select(['key_id', 'public_key']).orderBy('created_at').execute(),
      ]);
      const { from, to } = monthPeriod(source.site.timezone, month);
      const records: JournalRecord[] = [];
      const unreadable = { count: 0, first: null as string | null };
      try {
        for await (const batch of readRecords(source.influx, { site: source.siteId, from: readStart(source.config, from), to }, unreadable)) records.push(...batch);
      } catch (err) {
        throw new HttpProblem(503, 'influxdb_unavailable', `could not read the month's records from InfluxDB: ${(err as Error).message}`);
      }
      const bundle: EvidenceBundle = {
        format: EVIDENCE_FORMAT,
        site: source.siteId,
        month,
        generatedAt: ctx.clock.now(),
        config: source.config,
        resources: pricingResources(source.site),
        records,
        server: {
          origin: ctx.audit.origin,
          keys: keys.map((k) => ({ keyId: k.key_id, publicKey: k.public_key })),
          checkpoint: { size: checkpoint.size, root: checkpoint.root, time: checkpoint.time, keyId: checkpoint.keyId, sig: checkpoint.sig },
          entries: entries.map((e) => e.body),
        },
      };
      return reply.header('content-disposition', `attachment; filename="evidence-${source.siteId}-${month}.json"`).send(bundle);
    },
  );

  app.get(
    '/statements/:month/claim',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor'] } },
      schema: {
        tags: ['accounting'],
        summary: 'The subsidy claim of a closed month, by category, with the evidence totals behind each number',
        description:
          'From the month’s ledger (charges and adjustments) and the services recorded in it: services delivered, value at reference prices, fees collected, claimable gap. Categories: docs/accounting.md, "Subsidy claim".',
        params: Month,
        querystring: NoQuery,
        response: {
          200: Type.Object(
            {
              siteId: Type.String(),
              month: Type.String(),
              currency: Type.String(),
              lines: Type.Array(Type.Object({}, { additionalProperties: true })),
              total: Type.Object({}, { additionalProperties: true }),
              checkpoint: Type.Union([AuditCheckpointRef, Type.Null()], { description: 'The server audit log checkpoint the claim was computed at' }),
            },
            { additionalProperties: false },
          ),
          404: ProblemSchema,
          422: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    async (req) => closedClaim(ctx, req.params.month),
  );

  app.get(
    '/statements/:month/claim.csv',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor'] } },
      schema: {
        tags: ['accounting'],
        summary: 'The subsidy claim of a closed month as CSV: a row per category and the total (UTF-8 with BOM)',
        params: Month,
        querystring: NoQuery,
        produces: ['text/csv'],
        response: { 200: Type.String({ description: `CSV: ${CLAIM_CSV_COLUMNS.join(',')}` }), 404: ProblemSchema, 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const claim = await closedClaim(ctx, req.params.month);
      const rows = [...claim.lines, { category: 'total', ...claim.total }].map((l) => [
        l.category, l.deliveries, l.hours, l.days, l.kwh, l.participants, l.referenceMinor, l.feesMinor, l.costsMinor, l.claimableMinor, claim.currency,
        l.evidence.charges, l.evidence.adjustments, l.evidence.sessions, l.evidence.records, l.evidence.services, l.evidence.costs,
      ]);
      return sendCsv(reply, `claim-${req.params.month}.csv`, csvText(CLAIM_CSV_COLUMNS, rows));
    },
  );

  app.get(
    '/statements.csv',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'member'] } },
      schema: {
        tags: ['accounting'],
        summary: 'Statement lines of a month as CSV (UTF-8 with BOM, one row per line; a member: their own)',
        querystring: Type.Object({ month: Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM, in the site’s time zone' }) }, { additionalProperties: false }),
        produces: ['text/csv'],
        response: { 200: Type.String({ description: `CSV: ${STATEMENT_CSV_COLUMNS.join(',')}` }), 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const scope = ownMemberScope(req.principal);
      if (scope === undefined) throw problems.unauthorized();
      const { result } = await computeMonth(ctx, req.query.month);
      const statements = scope === null ? result.statements : result.statements.filter((st) => st.party.kind === 'member' && st.party.id === scope);
      const rows = statements.flatMap((st) =>
        st.lines.map((l) => [
          st.party.kind,
          st.party.id,
          l.memberId,
          l.teamId ?? '',
          l.resourceClass,
          l.date,
          l.quantityUnit,
          String(l.quantity),
          String(l.freeQuantity),
          String(l.grantedQuantity),
          String(l.chargedQuantity),
          String(l.unitPriceMinor),
          String(l.startingFeeMinor),
          String(l.amountMinor),
          String(l.referenceMinor),
          String(l.subsidyMinor),
          result.currency,
          l.capApplied ?? '',
          l.rateVersion,
          l.sessions.map((x) => x.id).join(' '),
        ]),
      );
      return sendCsv(reply, `statements-${req.query.month}.csv`, csvText(STATEMENT_CSV_COLUMNS, rows));
    },
  );
};
