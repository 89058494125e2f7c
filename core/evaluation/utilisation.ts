/**
 * From the utilisation metrics (core/usage/metrics.ts) to what the
 * evaluation needs: the parts of desk, machine and lab-machine utilisation
 * (summable across sites), the hour-of-week grid behind the heat map, and a
 * series over the period behind the occupancy chart. Pure.
 */
import { dayNumber, isoWeekdayOfDay } from '../usage/calendar.js';
import type { PeriodMetrics, UtilisationReport } from '../usage/metrics.js';
import type { UtilisationParts } from './inputs.js';
import { round4 } from './values.js';

/** The parts of a period's (or bucket's) metrics: `utilisationParts(report.total)`. */
export function utilisationParts(m: PeriodMetrics): UtilisationParts {
  const labs = new Set(m.spaces.filter((s) => s.kind === 'lab').map((s) => s.id));
  let labMachines = 0;
  let availableLab = 0;
  let runningLab = 0;
  let labSessions = 0;
  for (const mc of m.machines) {
    if (!labs.has(mc.space)) continue;
    labMachines++;
    availableLab += mc.availableMs;
    runningLab += mc.runningMs;
    labSessions += mc.sessions;
  }
  return {
    desks: m.site.desks.desks,
    availableDeskMs: m.site.desks.availableDeskMs,
    occupiedDeskMs: m.site.desks.occupiedDeskMs,
    machines: m.site.machines.machines,
    availableMachineMs: m.site.machines.availableMs,
    runningMachineMs: m.site.machines.runningMs,
    machineSessions: m.site.machines.sessions,
    labMachines,
    availableLabMachineMs: availableLab,
    runningLabMachineMs: runningLab,
    labMachineSessions: labSessions,
  };
}

export const ZERO_PARTS: UtilisationParts = Object.freeze({
  desks: 0,
  availableDeskMs: 0,
  occupiedDeskMs: 0,
  machines: 0,
  availableMachineMs: 0,
  runningMachineMs: 0,
  machineSessions: 0,
  labMachines: 0,
  availableLabMachineMs: 0,
  runningLabMachineMs: 0,
  labMachineSessions: 0,
});

export function addParts(a: UtilisationParts, b: UtilisationParts): UtilisationParts {
  const out: Record<string, number> = {};
  for (const k of Object.keys(ZERO_PARTS) as (keyof UtilisationParts)[]) out[k] = a[k] + b[k];
  return out as unknown as UtilisationParts;
}

export type Measure = 'desks' | 'machines';

function usedAvailable(m: PeriodMetrics, measure: Measure): [number, number] {
  switch (measure) {
    case 'desks':
      return [m.site.desks.occupiedDeskMs, m.site.desks.availableDeskMs];
    case 'machines':
      return [m.site.machines.runningMs, m.site.machines.availableMs];
  }
}

export interface HourOfWeekCell {
  /** ISO weekday, 1 = Monday. */
  readonly weekday: number;
  readonly hour: number;
  readonly usedMs: number;
  readonly availableMs: number;
  /** used / available over every such hour of the period; null when never available. */
  readonly value: number | null;
}

/**
 * Utilisation by hour of week: 7 × 24 cells (Monday 00:00 first), each the
 * sum over the report's hourly buckets falling on that local weekday and hour
 * (a rate of sums, not an average of rates). The report must be hourly.
 */
export function hourOfWeekGrid(report: UtilisationReport, measure: Measure = 'desks'): HourOfWeekCell[] {
  if (report.granularity !== 'hour') throw new RangeError(`hourOfWeekGrid needs an hourly report, got ${report.granularity}`);
  const used = new Array<number>(7 * 24).fill(0);
  const avail = new Array<number>(7 * 24).fill(0);
  for (const b of report.buckets) {
    const wd = isoWeekdayOfDay(dayNumber(b.start.slice(0, 10)));
    const hour = Number(b.start.slice(11, 13));
    const i = (wd - 1) * 24 + hour;
    const [u, a] = usedAvailable(b, measure);
    used[i]! += u;
    avail[i]! += a;
  }
  return used.map((u, i) => ({ weekday: Math.floor(i / 24) + 1, hour: i % 24, usedMs: u, availableMs: avail[i]!, value: avail[i]! > 0 ? round4(u / avail[i]!) : null }));
}

export interface SeriesPoint {
  /** The bucket's key ('2026-11-25', '2026-W48', …). */
  readonly label: string;
  readonly from: number;
  readonly value: number | null;
}

/** Utilisation per bucket of a report, for the occupancy-over-the-period chart. */
export function occupancySeries(report: UtilisationReport, measure: Measure = 'desks'): SeriesPoint[] {
  return report.buckets.map((b) => {
    const [u, a] = usedAvailable(b, measure);
    return { label: b.key, from: b.from, value: a > 0 ? round4(u / a) : null };
  });
}
