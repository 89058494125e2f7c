/**
 * Evaluation and statistics (docs/indicators.md, "Server: API and report"):
 * every indicator of a month, quarter or year with the previous period, the
 * change and the evidence, as JSON, as CSV and as a printable page with
 * charts (zh-CN or English); and the catalogue of indicators. For managers
 * and auditors (and administrators). The figures are the core's
 * (core/evaluation/); server/evaluation/ gathers what it needs.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { INDICATORS, PERIOD_KINDS, UNIT_LABELS, type IndicatorGroup, type PeriodKind } from '../../core/evaluation/index.js';
import type { EvaluationReport, ReportSection } from '../../core/evaluation/report.js';
import { seriesGranularityOf, type EvaluationProgress } from '../evaluation/data.js';
import { chartData, computeEvaluation, type EvaluationRequest } from '../evaluation/report.js';
import { renderEvaluation } from '../print/evaluation.js';
import { chooseLang, LANGS } from '../print/messages.js';
import type { ServerContext } from './context.js';
import { csvText, sendCsv, type CsvCell } from './csv.js';
import { currentRateCard } from './rate-card.js';
import { NoQuery, ProblemSchema } from './schemas.js';

const STAFF = { authz: { roles: ['admin', 'manager', 'auditor'] } } as const;

const PeriodQuery = {
  kind: Type.Union(PERIOD_KINDS.map((k) => Type.Literal(k)), { description: 'month, quarter or year' }),
  key: Type.String({ pattern: '^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$', description: 'The period: 2026-11 (month), 2026-Q4 (quarter), 2026 (year), in the sites’ time zone' }),
  sites: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}(,[A-Za-z0-9_-]{1,64}){0,31}$', description: 'Comma-separated site ids to report on together; default every site this server serves. An unknown site is a 422' })),
};
const EvaluationQuery = Type.Object(PeriodQuery, { additionalProperties: false });
const ReportQuery = Type.Object(
  { ...PeriodQuery, lang: Type.Optional(Type.Union(LANGS.map((l) => Type.Literal(l)), { description: 'Page language; default from Accept-Language (zh… → zh-CN, else en)' })) },
  { additionalProperties: false },
);

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Open = (description: string) => Type.Object({}, { additionalProperties: true, description });

const PeriodSchema = Type.Object(
  { kind: Type.String(), key: Type.String(), timezone: Type.String(), from: Type.Integer({ description: 'epoch ms, inclusive' }), to: Type.Integer({ description: 'epoch ms, exclusive' }) },
  { additionalProperties: false },
);

const RowSchema = Type.Object(
  {
    id: Type.String(),
    nameZh: Type.String(),
    nameEn: Type.String(),
    unit: Type.String(),
    value: Nullable(Type.Number()),
    previous: Nullable(Type.Number()),
    change: Type.Object({ absolute: Nullable(Type.Number()), relative: Nullable(Type.Number()), nullReason: Nullable(Type.String()) }, { additionalProperties: false }),
    evidence: Type.Integer({ description: 'Records the value rests on' }),
    previousEvidence: Type.Integer(),
    nullReason: Nullable(Type.String({ description: 'Why value is null: not-supplied, zero-denominator, no-subjects, no-one-at-risk' })),
    numerator: Type.Optional(Type.Number()),
    denominator: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
);

const SectionSchema = Type.Object(
  {
    scope: Type.String({ description: 'A site id, or total' }),
    rows: Type.Array(RowSchema, { description: 'Every indicator of the catalogue, in catalogue order' }),
    details: Open('The breakdowns behind this period’s figures: served ids, team flows with exit reasons, survival curves by cohort, services by kind, low-cost breakdown (docs/indicators.md)'),
    previousDetails: Open('The same for the previous period'),
  },
  { additionalProperties: false },
);

const ReportResponse = Type.Object(
  {
    version: Type.Literal(1),
    period: PeriodSchema,
    previous: PeriodSchema,
    sites: Type.Array(Type.String()),
    bySite: Type.Array(SectionSchema),
    total: SectionSchema,
    measuredTo: Nullable(Type.Integer({ description: 'The period has not ended: figures measured up to this instant (epoch ms)' })),
    generatedAt: Type.Integer(),
  },
  { additionalProperties: false },
);

const DEFINITION_ANCHORS: Readonly<Record<IndicatorGroup, string>> = {
  served: 'entrepreneurs-and-teams-served',
  teams: 'teams-residence-admissions-graduations-exits',
  survival: 'start-up-survival-初创企业存活率',
  services: 'services-delivered',
  'low-cost': 'low-cost-delivery',
  capacity: 'workstations-and-utilisation',
  bookings: 'bookings-booked-and-used',
};

const IndicatorSchema = Type.Object(
  {
    id: Type.String(),
    nameZh: Type.String(),
    nameEn: Type.String(),
    unit: Type.String(),
    unitZh: Type.String(),
    unitEn: Type.String(),
    group: Type.String(),
    guidance: Type.String({ description: 'Which figure of the public guidance or assessments it answers' }),
    definition: Type.String({ description: 'Where its definition is written (formula, inputs, edges)' }),
  },
  { additionalProperties: false },
);

/** The CSV's columns: one row per indicator (the sites together, then each site when several). */
export const EVALUATION_CSV_COLUMNS = [
  'scope', 'period', 'previous_period', 'indicator', 'name_zh', 'name_en', 'unit', 'value', 'previous', 'change_absolute', 'change_relative',
  'evidence', 'previous_evidence', 'null_reason', 'numerator', 'denominator',
] as const;

export function evaluationCsv(r: EvaluationReport): string {
  const sections: ReportSection[] = [r.total, ...(r.bySite.length > 1 ? r.bySite : [])];
  const rows: CsvCell[][] = sections.flatMap((s) =>
    s.rows.map((x) => [s.scope, r.period.key, r.previous.key, x.id, x.nameZh, x.nameEn, x.unit, x.value, x.previous, x.change.absolute, x.change.relative, x.evidence, x.previousEvidence, x.nullReason, x.numerator ?? null, x.denominator ?? null]),
  );
  return csvText(EVALUATION_CSV_COLUMNS, rows);
}

/** Progress of the read-back in the request's log, every tenth of the way (a year of a big site takes a while). */
function progressLogger(log: FastifyBaseLogger): (p: EvaluationProgress) => void {
  const last = new Map<string, number>();
  return (p) => {
    const k = `${p.siteId}:${p.step}`;
    const tenth = Math.floor(p.done * 10);
    if ((last.get(k) ?? -1) >= tenth) return;
    last.set(k, tenth);
    log.debug({ site: p.siteId, step: p.step, done: Math.round(p.done * 100) / 100 }, 'evaluation progress');
  };
}

function requestOf(q: { kind: PeriodKind; key: string; sites?: string | undefined }): EvaluationRequest {
  return { kind: q.kind, key: q.key, ...(q.sites !== undefined && { sites: q.sites.split(',') }) };
}

export const evaluationRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/evaluation/indicators',
    {
      config: STAFF,
      schema: {
        tags: ['evaluation'],
        summary: 'The indicators spaces are evaluated on: id, names in Chinese and English, unit, group and where each is defined',
        querystring: NoQuery,
        response: { 200: Type.Array(IndicatorSchema) },
      },
    },
    async () =>
      INDICATORS.map((d) => ({
        id: d.id,
        nameZh: d.nameZh,
        nameEn: d.nameEn,
        unit: d.unit,
        unitZh: UNIT_LABELS[d.unit].zh,
        unitEn: UNIT_LABELS[d.unit].en,
        group: d.group,
        guidance: d.guidance,
        definition: `docs/indicators.md#${DEFINITION_ANCHORS[d.group]}`,
      })),
  );

  app.get(
    '/evaluation',
    {
      config: STAFF,
      schema: {
        tags: ['evaluation'],
        summary: 'Every indicator of a month, quarter or year, with the previous period, the change and the evidence',
        description:
          'Usage is read back from InfluxDB for both periods; teams, services and the ledger from the database; open months priced as GET /statements prices them (without a rate card the low-cost figures are null, not-supplied). One section per site and one for the sites together. Definitions: docs/indicators.md.',
        querystring: EvaluationQuery,
        response: { 200: ReportResponse, 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const computed = await computeEvaluation(ctx, requestOf(req.query), { onProgress: progressLogger(req.log) });
      void reply.header('cache-control', 'private, no-store');
      const r = computed.report;
      const section = (x: ReportSection) => ({ ...x, rows: [...x.rows] });
      return { ...r, sites: [...r.sites], bySite: r.bySite.map(section), total: section(r.total), measuredTo: computed.measuredTo, generatedAt: ctx.clock.now() };
    },
  );

  app.get(
    '/evaluation.csv',
    {
      config: STAFF,
      schema: {
        tags: ['evaluation'],
        summary: 'The report of GET /evaluation as CSV: one row per indicator with both names, value, previous, change and evidence',
        querystring: EvaluationQuery,
        produces: ['text/csv'],
        response: { 200: Type.String({ description: 'UTF-8 CSV with a BOM' }), 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const { report } = await computeEvaluation(ctx, requestOf(req.query), { onProgress: progressLogger(req.log) });
      return sendCsv(reply.header('cache-control', 'private, no-store'), `evaluation-${report.period.key}.csv`, evaluationCsv(report));
    },
  );

  app.get(
    '/evaluation/report',
    {
      config: STAFF,
      schema: {
        tags: ['evaluation'],
        summary: 'The statistics report as a printable page with charts (zh-CN or English)',
        description:
          'The figures of GET /evaluation for the sites together, the exits by reason, and four SVG charts drawn on the server: desk utilisation by hour of week, desk occupancy over the period, survival by admission cohort, entrepreneurs served over the 12 months ending with the period (which reads those months back too). No script, no external resource.',
        querystring: ReportQuery,
        produces: ['text/html'],
        response: { 200: Type.String({ description: 'A self-contained HTML page (inline CSS and SVG, A4 print rules)' }), 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const lang = chooseLang(req.query.lang, req.headers['accept-language']);
      const computed = await computeEvaluation(ctx, requestOf(req.query), { charts: true, onProgress: progressLogger(req.log) });
      const charts = chartData(computed);
      const card = await currentRateCard(ctx.db);
      const html = renderEvaluation({
        lang,
        sites: computed.sources.map((s) => ({ id: s.siteId, name: s.site.file.site.name, nameZh: s.site.file.site.nameZh ?? null })),
        report: computed.report,
        currency: card?.card.currency ?? 'CNY',
        heatmap: charts.heatmap,
        occupancy: charts.occupancy,
        occupancyBucket: seriesGranularityOf(computed.report.period) === 'week' ? 'week' : 'day',
        trend: charts.trend,
        measuredTo: computed.measuredTo,
        generatedAt: ctx.clock.now(),
      });
      return reply.type('text/html; charset=utf-8').header('cache-control', 'private, no-store').header('vary', 'Accept-Language').send(html);
    },
  );
};
