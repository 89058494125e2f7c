/**
 * The utilisation report the benchmark times: the core metrics over the
 * month's sessions and gaps, plus a headline for the summary.
 */
import type { UnknownGap, UsageSession } from '../../core/usage/sessioniser.js';
import type { Site } from '../../core/site/model.js';

export interface ReportInput {
  readonly site: Site;
  readonly from: number;
  readonly to: number;
  readonly sessions: readonly UsageSession[];
  readonly gaps: readonly UnknownGap[];
}

export function report(i: ReportInput): { headline: Record<string, number> } {
  let deskH = 0;
  let presenceH = 0;
  let runningH = 0;
  let energyKwh = 0;
  const members = new Set<string>();
  for (const s of i.sessions) {
    const h = (Math.min(s.end, i.to) - Math.max(s.start, i.from)) / 3_600_000;
    if (s.kind === 'desk') deskH += h;
    else if (s.kind === 'presence') presenceH += h;
    else {
      runningH += (s.runningMs ?? 0) / 3_600_000;
      energyKwh += (s.energyWh ?? 0) / 1000;
    }
    if (s.memberId !== null) members.add(s.memberId);
  }
  const r = (x: number) => Math.round(x * 10) / 10;
  return { headline: { deskHours: r(deskH), presenceHours: r(presenceH), machineRunningHours: r(runningH), energyKwh: r(energyKwh), members: members.size, sessions: i.sessions.length, unknownGaps: i.gaps.length } };
}
