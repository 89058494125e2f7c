/**
 * The utilisation report the benchmark times: core/usage/metrics.ts over the
 * month's sessions and gaps, by day (as the periodic report asks), and the
 * month's headline figures from its total.
 */
import type { Site } from '../../core/site/model.js';
import { metricsCalendars, metricsResources, utilisation, type UtilisationReport } from '../../core/usage/metrics.js';
import type { UnknownGap, UsageSession } from '../../core/usage/sessioniser.js';

export interface ReportInput {
  readonly site: Site;
  readonly from: number;
  readonly to: number;
  readonly sessions: readonly UsageSession[];
  readonly gaps: readonly UnknownGap[];
}

export function report(i: ReportInput): { report: UtilisationReport; headline: Record<string, number | null> } {
  const r = utilisation({ sessions: i.sessions, gaps: i.gaps, resources: metricsResources(i.site), calendars: metricsCalendars(i.site), from: i.from, to: i.to, granularity: 'day' });
  const t = r.total.site;
  return {
    report: r,
    headline: {
      days: r.buckets.length,
      deskUtilisation: t.desks.utilisation,
      peakDesksOccupied: t.desks.peakOccupied,
      machineUtilisation: t.machines.utilisation,
      machineRunningHours: Math.round(t.machines.runningMs / 360_000) / 10,
      energyKwh: Math.round(t.machines.energyWh / 100) / 10,
      uniqueMembers: t.uniqueMembers,
      peakPeople: t.presence.peakPeople,
    },
  };
}
