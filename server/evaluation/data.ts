/**
 * What the server hands the evaluation core (core/evaluation/, docs/indicators.md
 * "What the server supplies") for one site: the period's and the previous
 * period's usage sessions, utilisation parts, priced lines, services, teams,
 * roster and workstations, gathered from InfluxDB (the read-back) and the
 * database. The figures themselves are computed by the core, never here.
 *
 * One read-back covers both periods (and the served trend, when asked for):
 * sessions overlapping the whole span, then each period takes those that
 * overlap it, as the core does. A period still in progress is read and
 * measured up to now (the hours still to come are neither used nor free).
 *
 * Priced lines: a closed month gives its frozen ledger entries (charges and
 * adjustments); an open month is priced now (computeMonth, the statements'
 * computation). A month that cannot be priced (no rate card stored) makes
 * the period's lines unsupplied: the low-cost figures are then null
 * (`not-supplied`), never computed from some of the months. No-show fees
 * (docs/accounting.md, "No-show fees") are left out: a fee for a booking
 * nobody used is not usage delivered at a low cost.
 *
 * Bookings: members' bookings (not blocks or visitors' requests) starting in
 * either period, with the status check-in left them in.
 */
import type { BookingRecord, EvaluationData, InvestmentEvent, LowCostLine, ServiceRecord, TeamRecord, UseRecord } from '../../core/evaluation/inputs.js';
import { periodOf, periodsUpTo, previousPeriod, type ReportPeriod } from '../../core/evaluation/periods.js';
import { utilisationParts } from '../../core/evaluation/utilisation.js';
import type { Granularity, Interval } from '../../core/usage/calendar.js';
import { metricsCalendars, metricsResources, utilisation, type UtilisationReport } from '../../core/usage/metrics.js';
import type { UsageSession } from '../../core/usage/sessioniser.js';
import { HttpProblem } from '../problems.js';
import type { ServerContext } from '../routes/context.js';
import { computeMonth } from '../routes/statements.js';
import { readUsage, type UsageSource } from '../routes/usage.js';
import type { PeriodUsage } from '../usage/readback.js';

/** How far the gathering has got: `step` 'usage' is the read-back (0–1 of the span), 'prices' the months priced. */
export interface EvaluationProgress {
  readonly siteId: string;
  readonly step: 'usage' | 'prices';
  readonly done: number;
}

export interface EvaluationDataOptions {
  /** The clock's reading: periods are measured up to it. */
  readonly now: number;
  readonly onProgress?: (p: EvaluationProgress) => void;
  /**
   * Also what the charts need: hourly and per-bucket utilisation of the
   * current period, and the usage of the served trend's months (the 12
   * months ending with the period's last month). Costs a longer read-back.
   */
  readonly charts?: boolean;
}

/** The chart inputs of one site (options.charts). */
export interface SiteChartData {
  /** Hourly utilisation of the current period (up to now); null when nothing of it has happened yet. */
  readonly hourly: UtilisationReport | null;
  /** Utilisation of the current period by `seriesGranularity`. */
  readonly series: UtilisationReport | null;
  readonly seriesGranularity: Granularity;
  /** The served trend's months, oldest first; months not begun yet are marked. */
  readonly trendPeriods: readonly (ReportPeriod & { readonly future: boolean })[];
  /** Uses and services over the trend's months. */
  readonly trendUses: readonly UseRecord[];
  readonly trendServices: readonly ServiceRecord[];
}

export interface SiteEvaluationData {
  readonly siteId: string;
  readonly current: EvaluationData;
  readonly previous: EvaluationData;
  readonly charts: SiteChartData | null;
}

/** The last month of a period, as a month period (the served trend ends there). */
export function lastMonthOf(p: ReportPeriod): ReportPeriod {
  const year = p.key.slice(0, 4);
  const month = p.kind === 'month' ? p.key : p.kind === 'quarter' ? `${year}-${String(Number(p.key.slice(6)) * 3).padStart(2, '0')}` : `${year}-12`;
  return periodOf('month', month, p.timezone);
}

/** The month keys ('2026-11') a period covers, in order. */
export function monthsOf(p: ReportPeriod): string[] {
  const last = lastMonthOf(p);
  const n = p.kind === 'month' ? 1 : p.kind === 'quarter' ? 3 : 12;
  return periodsUpTo(last, n).map((m) => m.key);
}

/**
 * The evaluation reads months to years at once: a day per query rather than
 * the read-back's default six hours. On a quiet site the number of queries
 * dominates (12 months: 0.4 s by day against 2 s by six hours in the test
 * suite); a busy site's day of records is still a bounded batch.
 */
export const EVALUATION_WINDOW_MS = 24 * 3600_000;

/** The read-back by day, with its failures as the usage routes answer them (422: the read; 503: InfluxDB). */
const readBack = (source: UsageSource, from: number, to: number, onProgress?: (done: number) => void): Promise<PeriodUsage> =>
  readUsage(source, from, to, { windowMs: EVALUATION_WINDOW_MS, ...(onProgress && { onProgress }) });

const overlaps = (s: { start: number; end: number }, from: number, to: number): boolean => s.start < to && (s.end > from || s.start >= from);

const useOf = (s: UsageSession): UseRecord => ({ id: s.id, memberId: s.memberId, teamId: s.teamId, start: s.start, end: s.end });

/** Every team, as the evaluation reads it (teams.founded_on is the date the team's enterprise was registered). */
async function teamRecords(ctx: ServerContext): Promise<TeamRecord[]> {
  const [rows, investments] = await Promise.all([
    ctx.db.selectFrom('teams').select(['id', 'registered_on', 'status', 'exit_on', 'exit_reason', 'graduated_on', 'founded_on']).orderBy('id').execute(),
    ctx.db.selectFrom('team_investments').select(['team_id', 'on_date', 'amount_minor', 'source']).orderBy('on_date').orderBy('id').execute(),
  ]);
  const byTeam = new Map<string, InvestmentEvent[]>();
  for (const i of investments) {
    const list = byTeam.get(i.team_id) ?? [];
    list.push({ on: i.on_date, amountMinor: i.amount_minor, source: i.source });
    byTeam.set(i.team_id, list);
  }
  return rows.map((t) => ({
    id: t.id,
    admittedOn: t.registered_on,
    status: t.status,
    exitOn: t.exit_on,
    exitReason: t.exit_reason,
    graduatedOn: t.graduated_on,
    enterpriseRegisteredOn: t.founded_on,
    investments: byTeam.get(t.id) ?? [],
  }));
}

/** Services of the site (rows without a site are every site's) started in [from, to), with their member participants. */
async function serviceRecords(ctx: ServerContext, siteId: string, from: number, to: number): Promise<{ records: ServiceRecord[]; fees: Map<string, { feeMinor: number; referenceMinor: number }> }> {
  const rows = await ctx.db
    .selectFrom('services')
    .select(['id', 'kind', 'started_at', 'minutes', 'team_id', 'external_participants', 'fee_minor', 'reference_minor'])
    .where('started_at', '>=', from)
    .where('started_at', '<', to)
    .where((eb) => eb.or([eb('site_id', 'is', null), eb('site_id', '=', siteId)]))
    .orderBy('started_at')
    .orderBy('id')
    .execute();
  const members = new Map<string, string[]>();
  if (rows.length > 0) {
    const ids = rows.map((r) => r.id);
    // SQLite caps bound parameters: ask in slices.
    for (let i = 0; i < ids.length; i += 500) {
      for (const p of await ctx.db.selectFrom('service_participants').select(['service_id', 'member_id']).where('service_id', 'in', ids.slice(i, i + 500)).orderBy('member_id').execute()) {
        const list = members.get(p.service_id) ?? [];
        list.push(p.member_id);
        members.set(p.service_id, list);
      }
    }
  }
  const fees = new Map<string, { feeMinor: number; referenceMinor: number }>();
  const records = rows.map((r): ServiceRecord => {
    fees.set(r.id, { feeMinor: r.fee_minor, referenceMinor: r.reference_minor });
    return { id: r.id, kind: r.kind, startedAt: Number(r.started_at), minutes: r.minutes, teamId: r.team_id, memberIds: members.get(r.id) ?? [], externalParticipants: r.external_participants };
  });
  return { records, fees };
}

/**
 * The priced lines of a period's months, or undefined when a month cannot be
 * priced (no rate card stored). Months not begun by `now` have no lines.
 */
async function pricedLines(ctx: ServerContext, source: UsageSource, period: ReportPeriod, now: number, progress: () => void): Promise<LowCostLine[] | undefined> {
  const lines: LowCostLine[] = [];
  for (const month of monthsOf(period)) {
    const m = periodOf('month', month, period.timezone);
    if (m.from >= now) {
      progress();
      continue;
    }
    const closed = await ctx.db.selectFrom('billing_periods').select('period').where('site_id', '=', source.siteId).where('period', '=', month).executeTakeFirst();
    if (closed) {
      const rows = await ctx.db.selectFrom('ledger_entries').select(['kind', 'amount_minor', 'reference_minor', 'line']).where('site_id', '=', source.siteId).where('period', '=', month).orderBy('id').execute();
      for (const r of rows) {
        if (r.kind === 'charge' && (JSON.parse(r.line) as { quantityUnit?: string }).quantityUnit === 'booking') continue;
        lines.push({ kind: r.kind, amountMinor: r.amount_minor, referenceMinor: r.reference_minor });
      }
    } else {
      let priced;
      try {
        priced = await computeMonth(ctx, month);
      } catch (err) {
        // No rate card (or a stored one that does not parse): the period's low-cost figures are not supplied.
        if (err instanceof HttpProblem && err.status === 422) return undefined;
        throw err;
      }
      for (const st of priced.result.statements) for (const l of st.lines) if (l.quantityUnit !== 'booking') lines.push({ kind: 'charge', amountMinor: l.amountMinor, referenceMinor: l.referenceMinor, quantity: l.quantity });
    }
    progress();
  }
  return lines;
}

/** Members' bookings of the site starting in [from, to). */
async function bookingRecords(ctx: ServerContext, siteId: string, from: number, to: number): Promise<BookingRecord[]> {
  const rows = await ctx.db
    .selectFrom('bookings')
    .select(['id', 'from_ms', 'to_ms', 'status'])
    .where('site_id', '=', siteId)
    .where('kind', '=', 'booking')
    .where('from_ms', '>=', from)
    .where('from_ms', '<', to)
    .orderBy('from_ms')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ id: r.id, from: Number(r.from_ms), to: Number(r.to_ms), status: r.status }));
}

/** Machine downtime of the site overlapping [from, to), as the utilisation route reads it. */
async function downtimeOf(ctx: ServerContext, siteId: string, from: number, to: number): Promise<Map<string, Interval[]>> {
  const rows = await ctx.db.selectFrom('equipment_downtime').select(['equipment_id', 'started_at', 'ended_at']).where('site_id', '=', siteId).where('started_at', '<', to).execute();
  const downtime = new Map<string, Interval[]>();
  for (const d of rows) {
    const end = d.ended_at === null ? to : Number(d.ended_at);
    if (end <= from) continue;
    const list = downtime.get(d.equipment_id) ?? [];
    list.push({ from: Number(d.started_at), to: end });
    downtime.set(d.equipment_id, list);
  }
  return downtime;
}

/** How the occupancy chart buckets a period: by day for a month or quarter, by ISO week for a year. */
export const seriesGranularityOf = (p: ReportPeriod): Granularity => (p.kind === 'year' ? 'week' : 'day');

/**
 * One site's evaluation inputs for `period` and the period before it.
 * Workstations are the desks of the site file as it is now; those allocated
 * are its fixed desks (assigned to a team or member: the site file has no
 * agreements, so a fixed desk stands for one).
 */
export async function evaluationData(ctx: ServerContext, source: UsageSource, period: ReportPeriod, opts: EvaluationDataOptions): Promise<SiteEvaluationData> {
  const { now } = opts;
  const prev = previousPeriod(period);
  const trend = opts.charts ? periodsUpTo(lastMonthOf(period), 12) : [];
  const spanFrom = Math.min(prev.from, ...trend.map((t) => t.from));
  const spanTo = Math.min(period.to, now);
  const report = (step: EvaluationProgress['step'], done: number) => opts.onProgress?.({ siteId: source.siteId, step, done: Math.min(1, Math.max(0, done)) });

  const empty: PeriodUsage = { from: spanFrom, to: spanFrom, sessions: [], open: [], gaps: [], records: 0, unreadable: { count: 0, first: null } };
  const usage = spanTo > spanFrom ? await readBack(source, spanFrom, spanTo, (d) => report('usage', d)) : empty;
  report('usage', 1);
  const sessions = [...usage.sessions, ...usage.open];

  const [memberRows, teams, services, downtime, bookings] = await Promise.all([
    ctx.db.selectFrom('members').select(['id', 'team_id']).where('team_id', 'is not', null).orderBy('id').execute(),
    teamRecords(ctx),
    serviceRecords(ctx, source.siteId, spanFrom, period.to),
    downtimeOf(ctx, source.siteId, spanFrom, spanTo),
    bookingRecords(ctx, source.site.id, prev.from, period.to),
  ]);
  const memberTeams = new Map(memberRows.map((m) => [m.id, m.team_id!] as const));
  const desks = [...source.site.desks.values()];
  const workstations = { total: desks.length, allocated: desks.filter((d) => d.kind === 'fixed').length };
  const resources = metricsResources(source.site);
  const calendars = metricsCalendars(source.site);
  const measure = (p: ReportPeriod, granularity: Granularity): UtilisationReport | null => {
    const to = Math.min(p.to, now);
    if (to <= p.from) return null;
    return utilisation({ sessions: sessions.filter((s) => overlaps(s, p.from, to)), gaps: usage.gaps, resources, calendars, from: p.from, to, granularity, teams: memberTeams, downtime });
  };

  const months = monthsOf(period).length + monthsOf(prev).length;
  let priced = 0;
  const tick = () => report('prices', ++priced / months);
  const currentLines = await pricedLines(ctx, source, period, now, tick);
  const previousLines = await pricedLines(ctx, source, prev, now, tick);

  const dataOf = (p: ReportPeriod, lines: LowCostLine[] | undefined): EvaluationData => {
    const total = measure(p, 'month');
    const periodServices = services.records.filter((s) => s.startedAt >= p.from && s.startedAt < p.to);
    // Services with a market value are delivered at a fee too: free trainings and mentoring count in the value given away, as in the subsidy claim.
    const serviceLines: LowCostLine[] = periodServices.flatMap((s) => {
      const f = services.fees.get(s.id)!;
      return f.referenceMinor > 0 ? [{ kind: 'charge' as const, amountMinor: f.feeMinor, referenceMinor: f.referenceMinor }] : [];
    });
    return {
      uses: sessions.filter((s) => overlaps(s, p.from, p.to)).map(useOf),
      services: periodServices,
      memberTeams,
      teams,
      ...(lines !== undefined && { lines: [...lines, ...serviceLines] }),
      ...(total !== null && { utilisation: utilisationParts(total.total) }),
      workstations,
      bookings: bookings.filter((b) => b.from >= p.from && b.from < p.to),
    };
  };

  let charts: SiteChartData | null = null;
  if (opts.charts) {
    const granularity = seriesGranularityOf(period);
    const first = trend[0]!;
    const last = trend[trend.length - 1]!;
    charts = {
      hourly: measure(period, 'hour'),
      series: measure(period, granularity),
      seriesGranularity: granularity,
      trendPeriods: trend.map((t) => ({ ...t, future: t.from >= now })),
      trendUses: sessions.filter((s) => overlaps(s, first.from, last.to)).map(useOf),
      trendServices: services.records.filter((s) => s.startedAt >= first.from && s.startedAt < last.to),
    };
  }
  return { siteId: source.siteId, current: dataOf(period, currentLines), previous: dataOf(prev, previousLines), charts };
}
