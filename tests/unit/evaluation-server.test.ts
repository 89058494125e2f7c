/**
 * The server's multi-site paths that one served site cannot reach in the
 * integration tests: the CSV of several sites (the total, then each site) and
 * the charts' data summed over sites (used and available time added before
 * dividing, the served trend over the union of members).
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { INDICATORS } from '../../core/evaluation/catalogue.js';
import type { EvaluationData } from '../../core/evaluation/inputs.js';
import { periodOf, periodsUpTo } from '../../core/evaluation/periods.js';
import { report } from '../../core/evaluation/report.js';
import type { UtilisationReport } from '../../core/usage/metrics.js';
import type { SiteEvaluationData } from '../../server/evaluation/data.js';
import { chartData, type ComputedEvaluation } from '../../server/evaluation/report.js';
import { evaluationCsv } from '../../server/routes/evaluation.js';

const TZ = 'Asia/Shanghai';
const H = 3600_000;
const nov = periodOf('month', '2026-11', TZ);
const trend = periodsUpTo(nov, 12).map((p) => ({ ...p, future: false }));
const at = nov.from + 10 * 86_400_000;

/** Just what chartData reads of a utilisation report: bucket keys, local starts and desk time. */
function fakeReport(granularity: 'hour' | 'day', buckets: { key: string; start: string; used: number; available: number }[]): UtilisationReport {
  return {
    granularity,
    buckets: buckets.map((b) => ({ key: b.key, start: b.start, site: { desks: { occupiedDeskMs: b.used, availableDeskMs: b.available } } })),
  } as unknown as UtilisationReport;
}

function site(id: string, member: string, used: number, available: number): SiteEvaluationData {
  const current: EvaluationData = { uses: [{ id: `${id}-u`, memberId: member, teamId: null, start: at, end: at + H }], memberTeams: new Map([[member, `team-${member}`]]) };
  return {
    siteId: id,
    current,
    previous: {},
    charts: {
      // 2026-11-02 is a Monday.
      hourly: fakeReport('hour', [{ key: '2026-11-02T09', start: '2026-11-02T09:00', used, available }]),
      series: fakeReport('day', [{ key: '2026-11-02', start: '2026-11-02T00:00', used, available }]),
      seriesGranularity: 'day',
      trendPeriods: trend,
      trendUses: current.uses!,
      trendServices: [{ id: 'svc-shared', kind: 'training', startedAt: at, minutes: 60, memberIds: ['m-both'], externalParticipants: 0 }],
    },
  };
}

function computed(sites: SiteEvaluationData[]): ComputedEvaluation {
  const r = report({ kind: 'month', key: '2026-11', timezone: TZ, sites: sites.map((s) => ({ siteId: s.siteId, current: s.current, previous: s.previous })) });
  return { report: r, sources: [], data: sites, measuredTo: null };
}

describe('several sites', () => {
  const both = computed([site('north', 'm-1', 1 * H, 10 * H), site('south', 'm-2', 9 * H, 10 * H)]);

  it('the CSV has the total, then each site, one row per indicator', () => {
    const rows = parseCsv<Record<string, string>>(evaluationCsv(both.report).slice(1), { columns: true });
    expect(rows).toHaveLength(3 * INDICATORS.length);
    expect([...new Set(rows.map((r) => r.scope))]).toEqual(['total', 'north', 'south']);
    const served = rows.filter((r) => r.indicator === 'members-served').map((r) => [r.scope, r.value]);
    expect(served).toEqual([['total', '2'], ['north', '1'], ['south', '1']]);
  });

  it('charts add used and available time over the sites, then divide: 10 h of 20, not the mean of 10 % and 90 %', () => {
    const c = chartData(both);
    expect(c.heatmap).toHaveLength(7 * 24);
    expect(c.heatmap.find((x) => x.weekday === 1 && x.hour === 9)!.value).toBe(0.5);
    expect(c.heatmap.filter((x) => x.value !== null)).toHaveLength(1);
    expect(c.occupancy).toEqual([{ label: '2026-11-02', value: 0.5 }]);
    // November: m-1 and m-2 used a site, m-both took part in the training given to both sites (counted once).
    expect(c.trend).toHaveLength(12);
    expect(c.trend[11]).toEqual({ label: '2026-11', value: 3 });
    expect(c.trend[0]).toEqual({ label: '2025-12', value: 0 });
  });

  it('months not begun are null in the trend', () => {
    const s = site('north', 'm-1', 0, 0);
    const future = { ...s, charts: { ...s.charts!, trendPeriods: trend.map((p, i) => ({ ...p, future: i === 11 })) } };
    expect(chartData(computed([future])).trend[11]).toEqual({ label: '2026-11', value: null });
  });
});
