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
import { monthPeriod, priceStatements, pricingResources, type MemberBilling, type PlanQuotas } from '../../core/accounting/price.js';
import { parseRateCard } from '../../core/accounting/rates.js';
import { ownMemberScope } from '../auth/principal.js';
import { HttpProblem, problems } from '../problems.js';
import { usageForPeriod, UsageReadError } from '../usage/readback.js';
import type { ServerContext } from './context.js';
import { currentRateCard } from './rate-card.js';
import { ProblemSchema } from './schemas.js';

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
      const source = ctx.usage;
      if (!source) {
        throw new HttpProblem(503, 'usage_unavailable', 'statements are priced from usage in InfluxDB with the site file, and this server has neither: run `facility start`, or give `facility server` --site and --influx-url');
      }
      const stored = await currentRateCard(ctx.db);
      if (!stored) throw problems.unprocessable('no rate card is stored yet: an administrator or manager stores one with PUT /api/v1/rate-card');
      const parsed = parseRateCard(stored.card);
      if (!parsed.ok) throw problems.unprocessable(`the stored rate card ${stored.id} does not parse: ${parsed.errors[0]?.message ?? ''}`);
      const { from, to } = monthPeriod(source.site.timezone, req.query.month);
      let usage;
      try {
        usage = await usageForPeriod(source.influx, source.config, { site: source.siteId, from, to });
      } catch (err) {
        if (err instanceof UsageReadError) throw problems.unprocessable(err.message);
        throw new HttpProblem(503, 'influxdb_unavailable', `could not read usage from InfluxDB: ${(err as Error).message}; check that InfluxDB is running and reachable (GET /healthz)`);
      }
      const [memberRows, planRows] = await Promise.all([
        ctx.db.selectFrom('members').select(['id', 'plan_id', 'team_id']).execute(),
        ctx.db.selectFrom('plans').select(['id', 'quotas']).execute(),
      ]);
      const members: Record<string, MemberBilling> = {};
      for (const m of memberRows) members[m.id] = { planId: m.plan_id, group: null, teamId: m.team_id, billTo: m.team_id !== null ? 'team' : 'self' };
      const plans: Record<string, PlanQuotas> = {};
      for (const p of planRows) {
        const quotas = JSON.parse(p.quotas) as Record<string, number>;
        plans[p.id] = { quotas: Object.fromEntries(Object.entries(quotas).map(([k, v]) => [quotaClass(k), v])) };
      }
      // Sessions still open at the month's end are billed for their part inside it.
      const result = priceStatements({ sessions: [...usage.sessions, ...usage.open], resources: pricingResources(source.site), members, plans, rateCard: parsed.card, timezone: source.site.timezone, from, to });
      const statements = scope === null ? result.statements : result.statements.filter((st) => st.party.kind === 'member' && st.party.id === scope);
      return {
        siteId: source.siteId,
        month: req.query.month,
        currency: result.currency,
        from,
        to,
        rateCardId: stored.id,
        statements: [...statements],
        unbilled: scope === null ? [...result.unbilled] : [],
        unpriced: scope === null ? [...result.unpriced] : [],
      };
    },
  );
};
