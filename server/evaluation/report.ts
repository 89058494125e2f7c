/**
 * The periodic statistics report of the sites asked for: each site's inputs
 * gathered (data.ts), the core's `report({ sites })` computing every
 * indicator per site and for the sites together, and for the printed page the
 * charts' data summed over the sites (rates from summed parts, as the core
 * aggregates them).
 *
 * The server serves one site today (ctx.usage); the list of known sites is
 * that one. A request naming a site the server does not know is refused
 * (422), so clients can already ask for several.
 */
import { periodOf, type PeriodKind, type ReportPeriod } from '../../core/evaluation/periods.js';
import { report, type EvaluationReport } from '../../core/evaluation/report.js';
import { servedTrend } from '../../core/evaluation/served.js';
import type { ServiceRecord, UseRecord } from '../../core/evaluation/inputs.js';
import { hourOfWeekGrid } from '../../core/evaluation/utilisation.js';
import { round4 } from '../../core/evaluation/values.js';
import { problems } from '../problems.js';
import type { ServerContext } from '../routes/context.js';
import { requireUsage, type UsageSource } from '../routes/usage.js';
import { evaluationData, type EvaluationProgress, type SiteChartData, type SiteEvaluationData } from './data.js';

/** The sites this server can evaluate (one today: the site it reads usage for). */
export function knownSites(ctx: ServerContext): UsageSource[] {
  return [requireUsage(ctx)];
}

export interface EvaluationRequest {
  readonly kind: PeriodKind;
  readonly key: string;
  /** Site ids; default every site the server knows. */
  readonly sites?: readonly string[];
}

export interface ComputedEvaluation {
  readonly report: EvaluationReport;
  readonly sources: readonly UsageSource[];
  readonly data: readonly SiteEvaluationData[];
  /** Set when the period has not ended yet: figures are measured up to this instant. */
  readonly measuredTo: number | null;
}

/** The sources asked for, in the order asked; an unknown or repeated site is a 422 naming it. */
export function chooseSites(ctx: ServerContext, ids: readonly string[] | undefined): UsageSource[] {
  const known = knownSites(ctx);
  if (ids === undefined || ids.length === 0) return known;
  const seen = new Set<string>();
  return ids.map((id, i) => {
    const s = known.find((k) => k.siteId === id);
    if (!s) throw problems.unprocessable(`site ${id} is not served here: this server evaluates ${known.map((k) => k.siteId).join(', ')}`, [{ path: 'querystring/sites', message: `unknown site ${id}` }]);
    if (seen.has(id)) throw problems.unprocessable(`site ${id} is named twice`, [{ path: 'querystring/sites', message: `site ${id} at position ${i + 1} repeats` }]);
    seen.add(id);
    return s;
  });
}

/** The period asked for, in the sites' time zone; a key not of its kind (kind=month&key=2026-Q4) is a 422. */
export function periodFor(req: EvaluationRequest, sources: readonly UsageSource[]): ReportPeriod {
  const zones = new Set(sources.map((s) => s.site.timezone));
  if (zones.size > 1) throw problems.unprocessable(`sites evaluated together must share a time zone; these are in ${[...zones].join(', ')}`);
  try {
    return periodOf(req.kind, req.key, sources[0]!.site.timezone);
  } catch (err) {
    if (err instanceof RangeError) throw problems.unprocessable(err.message, [{ path: 'querystring/key', message: err.message }]);
    throw err;
  }
}

/** Gathers every site's inputs and computes the report; the core's refusals (a malformed team date) are 422s. */
export async function computeEvaluation(ctx: ServerContext, req: EvaluationRequest, opts: { charts?: boolean; onProgress?: (p: EvaluationProgress) => void } = {}): Promise<ComputedEvaluation> {
  const sources = chooseSites(ctx, req.sites);
  const period = periodFor(req, sources);
  const now = ctx.clock.now();
  const data: SiteEvaluationData[] = [];
  // One site at a time: each read-back is already windowed and prefetching, and InfluxDB is shared.
  for (const source of sources) data.push(await evaluationData(ctx, source, period, { now, ...(opts.charts && { charts: true }), ...(opts.onProgress && { onProgress: opts.onProgress }) }));
  try {
    const r = report({ kind: req.kind, key: req.key, timezone: period.timezone, sites: data.map((d) => ({ siteId: d.siteId, current: d.current, previous: d.previous })) });
    return { report: r, sources, data, measuredTo: period.to > now ? now : null };
  } catch (err) {
    if (err instanceof RangeError) throw problems.unprocessable(`the data cannot be evaluated: ${err.message}`);
    throw err;
  }
}

export interface ChartData {
  readonly heatmap: { weekday: number; hour: number; value: number | null }[];
  readonly occupancy: { label: string; value: number | null }[];
  /** Entrepreneurs served per month of the trend; null for months not begun. */
  readonly trend: { label: string; value: number | null }[];
}

/** The charts' data over every site (computeEvaluation with charts: true): used and available time summed, then divided. */
export function chartData(computed: ComputedEvaluation): ChartData {
  const used = new Array<number>(7 * 24).fill(0);
  const avail = new Array<number>(7 * 24).fill(0);
  const series = new Map<string, { used: number; available: number }>();
  const uses: UseRecord[] = [];
  const services = new Map<string, ServiceRecord>();
  const memberTeams = new Map<string, string>();
  let trendPeriods: SiteChartData['trendPeriods'] = [];
  for (const d of computed.data) {
    const c = d.charts;
    if (!c) continue;
    if (c.hourly) {
      for (const cell of hourOfWeekGrid(c.hourly, 'desks')) {
        const i = (cell.weekday - 1) * 24 + cell.hour;
        used[i]! += cell.usedMs;
        avail[i]! += cell.availableMs;
      }
    }
    for (const b of c.series?.buckets ?? []) {
      const s = series.get(b.key) ?? { used: 0, available: 0 };
      s.used += b.site.desks.occupiedDeskMs;
      s.available += b.site.desks.availableDeskMs;
      series.set(b.key, s);
    }
    uses.push(...c.trendUses);
    for (const s of c.trendServices) services.set(s.id, s);
    for (const [m, t] of d.current.memberTeams ?? []) if (!memberTeams.has(m)) memberTeams.set(m, t);
    trendPeriods = c.trendPeriods;
  }
  const served = servedTrend(trendPeriods, uses, [...services.values()], memberTeams);
  return {
    heatmap: used.map((u, i) => ({ weekday: Math.floor(i / 24) + 1, hour: i % 24, value: avail[i]! > 0 ? round4(u / avail[i]!) : null })),
    occupancy: [...series].map(([label, s]) => ({ label, value: s.available > 0 ? round4(s.used / s.available) : null })),
    trend: served.map((p, i) => ({ label: p.label, value: trendPeriods[i]!.future ? null : p.members })),
  };
}
