/**
 * Printable pages (HTML that prints cleanly on A4; no script, no external
 * resource): a member's or team's statement for a month and the subsidy claim
 * of a closed month, in Chinese or English (`?lang=zh-CN|en`, else from
 * Accept-Language). The figures are exactly those of the ledger for a closed
 * month (its frozen charges and the adjustments since), of GET /statements for
 * an open one (computeMonth), and of GET /statements/:month/claim
 * (closedClaim); server/print/ only lays them out.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ownMemberScope } from '../auth/principal.js';
import { HttpProblem, problems } from '../problems.js';
import { renderClaim } from '../print/claim.js';
import { chooseLang, LANGS } from '../print/messages.js';
import { renderStatement, type Names, type StatementPrint } from '../print/statement.js';
import { monthPeriod, type Party, type Statement, type StatementLine } from '../../core/accounting/price.js';
import { chargeLine } from '../../core/accounting/reproduce.js';
import type { ServerContext } from './context.js';
import { ProblemSchema } from './schemas.js';
import { closedClaim, computeMonth } from './statements.js';
import { requireUsage, type UsageSource } from './usage.js';

const Month = Type.Object({ month: Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM, in the site’s time zone' }) }, { additionalProperties: false });
const LangQuery = Type.Optional(Type.Union(LANGS.map((l) => Type.Literal(l)), { description: 'Page language; default from Accept-Language (zh… → zh-CN, else en)' }));
const Html = Type.String({ description: 'A self-contained HTML page (inline CSS, A4 print rules)' });

function siteOf(source: UsageSource): Names & { id: string; timezone: string } {
  return { id: source.siteId, name: source.site.file.site.name, nameZh: source.site.file.site.nameZh ?? null, timezone: source.site.timezone };
}

interface Printable {
  readonly rateCardId: number;
  readonly statement: Statement | undefined;
  readonly closed: StatementPrint['closed'];
}

/** An open month: the statement as GET /statements prices it now. */
async function priceNow(ctx: ServerContext, month: string, kind: Party['kind'], id: string): Promise<Printable> {
  const { rateCardId, result } = await computeMonth(ctx, month);
  return { rateCardId, statement: result.statements.find((st) => st.party.kind === kind && st.party.id === id), closed: null };
}

/**
 * A closed month: the statement as it was frozen — the party's charges in the
 * ledger (each holds its statement line) — and the adjustments booked since.
 * Null when the month is not closed.
 */
async function frozenStatement(ctx: ServerContext, siteId: string, month: string, kind: Party['kind'], id: string): Promise<Printable | null> {
  const period = await ctx.db.selectFrom('billing_periods').selectAll().where('site_id', '=', siteId).where('period', '=', month).executeTakeFirst();
  if (!period) return null;
  const rows = await ctx.db.selectFrom('ledger_entries').selectAll().where('site_id', '=', siteId).where('period', '=', month).where('party_type', '=', kind).where('party_id', '=', id).orderBy('id').execute();
  const charges = rows.filter((r) => r.kind === 'charge');
  const { from, to } = monthPeriod(requireUsage(ctx).site.timezone, month);
  const parsed = charges.map((r) => chargeLine(r.line));
  const lines = parsed.map((c) => c.line);
  const cardId = parsed[0]?.rateCardId ?? 0;
  const sum = (f: (l: StatementLine) => number) => lines.reduce((n, l) => n + f(l), 0);
  const statement: Statement | undefined =
    charges.length === 0
      ? undefined
      : {
          party: { kind, id },
          currency: period.currency,
          from,
          to,
          lines,
          totals: { lines: lines.length, grossMinor: sum((l) => l.grossMinor), amountMinor: sum((l) => l.amountMinor), referenceMinor: sum((l) => l.referenceMinor), subsidyMinor: sum((l) => l.subsidyMinor) },
        };
  const adjustments = rows
    .filter((r) => r.kind === 'adjustment')
    .map((r) => ({ id: r.id, corrects: r.corrects, resourceClass: r.resource_class, amountMinor: r.amount_minor, reason: r.reason ?? '', createdAt: Number(r.created_at) }));
  return { rateCardId: cardId, statement, closed: { at: Number(period.closed_at), adjustments } };
}

export const printRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/statements/:month/print',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'member'] } },
      schema: {
        tags: ['accounting'],
        summary: 'One statement of a month as a printable page (zh-CN or English)',
        description:
          'A closed month: the statement as frozen in the ledger, with the adjustments booked since and the amount due after them. An open month: as GET /statements prices it now (marked provisional). A member may print their own member statement only; any other party answers 404 to them.',
        params: Month,
        querystring: Type.Object(
          {
            party: Type.String({ pattern: '^(member|team):[A-Za-z0-9_-]{1,64}$', description: 'member:<id> or team:<id>' }),
            lang: LangQuery,
          },
          { additionalProperties: false },
        ),
        produces: ['text/html'],
        response: { 200: Html, 404: ProblemSchema, 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const { month } = req.params;
      const { party } = req.query;
      const scope = ownMemberScope(req.principal);
      if (scope === undefined) throw problems.unauthorized();
      const colon = party.indexOf(':');
      const kind = party.slice(0, colon) as 'member' | 'team';
      const id = party.slice(colon + 1);
      // A member is told nothing about anyone else's statement, not even that it exists.
      if (scope !== null && (kind !== 'member' || id !== scope)) throw problems.notFound(`a statement of ${party} for ${month}`);
      const lang = chooseLang(req.query.lang, req.headers['accept-language']);
      const source = requireUsage(ctx);
      const frozen = await frozenStatement(ctx, source.siteId, month, kind, id);
      const { rateCardId, statement, closed } = frozen ?? (await priceNow(ctx, month, kind, id));
      if (!statement) {
        throw new HttpProblem(404, 'not_found', `${party} has no statement for ${month}: nothing was billed to it that month (GET /api/v1/statements?month=${month} lists the month’s statements)`);
      }
      const memberIds = [...new Set(statement.lines.map((l) => l.memberId).concat(kind === 'member' ? [id] : []))];
      const memberRows = memberIds.length === 0 ? [] : await ctx.db.selectFrom('members').select(['id', 'name', 'name_zh', 'member_no']).where('id', 'in', memberIds).execute();
      const members = Object.fromEntries(memberRows.map((m) => [m.id, { name: m.name, nameZh: m.name_zh, memberNo: m.member_no }]));
      let names: Names | null = null;
      let memberNo: string | null = null;
      if (kind === 'member') {
        const m = members[id];
        if (m) ({ memberNo } = m);
        names = m ?? null;
      } else {
        const t = await ctx.db.selectFrom('teams').select(['name', 'name_zh']).where('id', '=', id).executeTakeFirst();
        names = t ? { name: t.name, nameZh: t.name_zh } : null;
      }
      const html = renderStatement({ lang, site: siteOf(source), month, rateCardId, statement, party: { names, memberNo }, members, generatedAt: ctx.clock.now(), closed });
      return reply.type('text/html; charset=utf-8').header('cache-control', 'private, no-store').header('vary', 'Accept-Language').send(html);
    },
  );

  app.get(
    '/statements/:month/claim/print',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor'] } },
      schema: {
        tags: ['accounting'],
        summary: 'The subsidy claim of a closed month as a printable page (zh-CN or English)',
        description: 'The figures of GET /statements/:month/claim, one row per category with both languages’ labels. 404 while the month is not closed.',
        params: Month,
        querystring: Type.Object({ lang: LangQuery }, { additionalProperties: false }),
        produces: ['text/html'],
        response: { 200: Html, 404: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const { month } = req.params;
      const lang = chooseLang(req.query.lang, req.headers['accept-language']);
      const source = requireUsage(ctx);
      const claim = await closedClaim(ctx, month);
      const period = await ctx.db.selectFrom('billing_periods').select('closed_at').where('site_id', '=', source.siteId).where('period', '=', month).executeTakeFirst();
      const html = renderClaim({ lang, site: siteOf(source), month, currency: claim.currency, lines: claim.lines, total: claim.total, closedAt: period?.closed_at ?? null, generatedAt: ctx.clock.now() });
      return reply.type('text/html; charset=utf-8').header('cache-control', 'private, no-store').header('vary', 'Accept-Language').send(html);
    },
  );
};
