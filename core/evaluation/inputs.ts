/**
 * The plain-data inputs of the evaluation. The server queries them (usage
 * sessions read back from InfluxDB, the teams, services and participants
 * tables, statement lines or ledger entries, the utilisation report) and
 * hands them in; nothing here reads a database or a clock.
 */
import type { UsageSession } from '../usage/sessioniser.js';
import type { ServiceKind } from './catalogue.js';

/** One recorded use: a usage session (core/usage/sessioniser.ts) is one. */
export type UseRecord = Pick<UsageSession, 'id' | 'memberId' | 'teamId' | 'start' | 'end'>;

/** A service delivered (server services table, with its service_participants). */
export interface ServiceRecord {
  readonly id: string;
  readonly kind: ServiceKind;
  /** Epoch ms; a service is in the period it started in. */
  readonly startedAt: number;
  readonly minutes: number;
  /** The team it was given to (mentoring a team), if any: that team is served. */
  readonly teamId?: string | null;
  /** Member participants (service_participants.member_id). */
  readonly memberIds: readonly string[];
  /** Participants who are not members. */
  readonly externalParticipants: number;
}

export const TEAM_STATUSES = ['incubating', 'graduated', 'exited'] as const;
export type TeamStatus = (typeof TEAM_STATUSES)[number];

/** An investment a team raised (angel, venture, the space's own fund …). */
export interface InvestmentEvent {
  /** Local date the money was committed, YYYY-MM-DD. */
  readonly on: string;
  /** Minor units (fen); absent when not disclosed (then counted, not summed). */
  readonly amountMinor?: number | null;
  /** 'social' (outside capital) or 'own' (the space's own fund), as the Torch survey splits it. */
  readonly source?: 'social' | 'own' | null;
}

/**
 * A team as the evaluation needs it. The teams table has id, registered_on
 * (admission: `admittedOn`), status, exit_on and exit_reason. The rest are
 * proposed columns, optional here: a team without them is simply not counted
 * by the figures that need them.
 */
export interface TeamRecord {
  readonly id: string;
  /** Local date admitted to the space (teams.registered_on), YYYY-MM-DD. */
  readonly admittedOn: string;
  readonly status: TeamStatus;
  /** Exited teams: the local date they left (teams.exit_on). */
  readonly exitOn?: string | null;
  readonly exitReason?: string | null;
  /** Graduated teams: the local date they graduated (proposed column; the table has none yet). */
  readonly graduatedOn?: string | null;
  /** Local date the team registered its enterprise (proposed column). */
  readonly enterpriseRegisteredOn?: string | null;
  /** Investment raised (proposed table: team_investments). */
  readonly investments?: readonly InvestmentEvent[];
}

/**
 * A priced line of usage: a statement line (core/accounting/price.ts
 * StatementLine) or a ledger entry (charges and adjustments of a closed
 * month). The lines given are the period's.
 */
export interface LowCostLine {
  readonly amountMinor: number;
  /** Value at reference (market) prices. */
  readonly referenceMinor: number;
  /** Quantity billed (minutes, days or Wh); informative only, units differ between lines. */
  readonly quantity?: number;
  /** Ledger: an adjustment corrects the fees, it is not a delivery. Default 'charge'. */
  readonly kind?: 'charge' | 'adjustment';
}

/**
 * Desk and machine time of the period as the utilisation metrics report it
 * (core/usage/metrics.ts; `utilisationParts(report.total)` derives these).
 * Parts, not rates, so several sites add up.
 */
export interface UtilisationParts {
  readonly desks: number;
  readonly availableDeskMs: number;
  readonly occupiedDeskMs: number;
  readonly machines: number;
  readonly availableMachineMs: number;
  readonly runningMachineMs: number;
  /** Machine sessions started in the period (evidence of the machine figure). */
  readonly machineSessions: number;
  readonly labMachines: number;
  readonly availableLabMachineMs: number;
  readonly runningLabMachineMs: number;
  readonly labMachineSessions: number;
}

/** Workstations (desks) at the period end, and how many are allocated to a team or member then. */
export interface Workstations {
  readonly total: number;
  /** Allocated under an agreement (a holder or a resident team) at the period end. */
  readonly allocated?: number | null;
}

/**
 * A member's booking of a machine, hot desk or room (server bookings table,
 * kind 'booking': not blocks, not visitors' requests) with the status
 * check-in left it in (docs/bookings.md, "Statuses").
 */
export interface BookingRecord {
  readonly id: string;
  /** The booked period, epoch ms; a booking is in the period it starts in. */
  readonly from: number;
  readonly to: number;
  readonly status: 'requested' | 'confirmed' | 'cancelled' | 'released' | 'used' | 'no_show';
}

/**
 * Everything one site gives for one period. Every part is optional: a part
 * not supplied makes its indicators null ('not-supplied'); an empty list
 * makes them 0.
 */
export interface EvaluationData {
  /** Usage sessions overlapping the period (presence, machine and desk sessions with a member or team). */
  readonly uses?: readonly UseRecord[];
  /** Services; only those started in the period count, so the list may be wider. */
  readonly services?: readonly ServiceRecord[];
  /** Member id → current team (the roster), for uses and participations that recorded no team. */
  readonly memberTeams?: ReadonlyMap<string, string>;
  /** All teams ever admitted (the flows and survival pick by date). */
  readonly teams?: readonly TeamRecord[];
  /** Priced lines of the period. */
  readonly lines?: readonly LowCostLine[];
  readonly utilisation?: UtilisationParts;
  readonly workstations?: Workstations;
  /** Members' bookings; only those starting in the period count, so the list may be wider. */
  readonly bookings?: readonly BookingRecord[];
}
