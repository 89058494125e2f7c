/**
 * Entrepreneurs (members) and start-up teams served in a period: those with
 * at least one recorded use (a usage session overlapping the period) or one
 * participation in a service started in it (docs/indicators.md).
 *
 * A use's team is the one it recorded (the team at the access decision),
 * else the member's team in the roster; a service given to a team serves
 * that team; a participant's team comes from the roster. Pure.
 */
import type { ServiceRecord, UseRecord } from './inputs.js';

export interface Served {
  /** Distinct ids, sorted (several sites are aggregated as the union). */
  readonly members: readonly string[];
  readonly teams: readonly string[];
  /** Records that served a member: uses with a member, plus member participations. */
  readonly memberEvidence: number;
  /** Records that served a team: uses and participations attributable to a team, plus services given to a team. */
  readonly teamEvidence: number;
}

const sorted = (s: ReadonlySet<string>): string[] => [...s].sort();

export function served(from: number, to: number, uses: readonly UseRecord[], services: readonly ServiceRecord[], memberTeams: ReadonlyMap<string, string> = new Map()): Served {
  const members = new Set<string>();
  const teams = new Set<string>();
  let memberEvidence = 0;
  let teamEvidence = 0;
  for (const u of uses) {
    // Overlap with [from, to); a zero-length use at `from` still counts as a use in the period.
    if (!(u.start < to && (u.end > from || u.start >= from))) continue;
    if (u.memberId !== null) {
      members.add(u.memberId);
      memberEvidence++;
    }
    const team = u.teamId ?? (u.memberId !== null ? memberTeams.get(u.memberId) : undefined);
    if (team !== undefined) {
      teams.add(team);
      teamEvidence++;
    }
  }
  for (const s of services) {
    if (!(s.startedAt >= from && s.startedAt < to)) continue;
    if (s.teamId) {
      teams.add(s.teamId);
      teamEvidence++;
    }
    for (const m of new Set(s.memberIds)) {
      members.add(m);
      memberEvidence++;
      const team = memberTeams.get(m);
      if (team !== undefined) {
        teams.add(team);
        teamEvidence++;
      }
    }
  }
  return { members: sorted(members), teams: sorted(teams), memberEvidence, teamEvidence };
}

export interface ServedPoint {
  readonly label: string;
  readonly members: number;
  readonly teams: number;
}

/** Entrepreneurs and teams served in each of several periods (the served trend; `periodsUpTo` gives consecutive ones). */
export function servedTrend(
  periods: readonly { readonly key: string; readonly from: number; readonly to: number }[],
  uses: readonly UseRecord[],
  services: readonly ServiceRecord[],
  memberTeams?: ReadonlyMap<string, string>,
): ServedPoint[] {
  return periods.map((p) => {
    const s = served(p.from, p.to, uses, services, memberTeams);
    return { label: p.key, members: s.members.length, teams: s.teams.length };
  });
}
