/**
 * The access decision: a swipe at a door or a machine, the site, the policy
 * snapshot, the time and the live state → grant or refuse, with a reason.
 * Pure and total: every input has an answer, and the same inputs always the
 * same answer. The gateway runs it on every swipe (gateway/access/), decides
 * from its local snapshot when the server is away, and journals the result.
 *
 * Rules, in order (the first that refuses decides):
 *  1. a policy must be loaded; 2. the card must be known and not lost or
 *  blocked; 3. an override badge opens anything (even with a stale policy);
 *  4. a policy older than the site's limit opens nothing else; 5. the member
 *  must be active; 6. leaving through an exit reader is always allowed;
 *  7. for a machine: not out of service; 8. a plan, active, valid today,
 *  covering the space; 9. inside the opening hours (the space's calendar, with
 *  the site's closed dates and make-up days) and the plan's hours;
 *  10. the certification the lab or machine needs, valid today and not lapsed
 *  from disuse; 11. doors: the lab's safety capacity and anti-passback;
 *  machines: not booked by someone else, and a second swipe by the member
 *  running it ends the session.
 */
import type { Site, TargetRef } from '../site/model.js';
import type { CredentialFormat } from '../signals.js';
import type { PolicyIndex } from './policy-index.js';
import { REASONS, type ReasonCode } from './reasons.js';
import { spaceOpenState } from '../usage/calendar.js';
import { isOpen, localTime, msUntilClose, type LocalTime } from './time.js';

export interface AccessState {
  /** People present in a space now. */
  occupancy(spaceId: string): number;
  /** Whether the member is inside the space (badged in, not out). */
  isInside(memberId: string, spaceId: string): boolean;
  /** The session running on a machine, if any. */
  session(equipmentId: string): { readonly memberId: string; readonly sessionId: string } | null;
  /** The booking holding a machine at `now` (memberId null: a block or a visitor's booking, held by no member). */
  booking(equipmentId: string, now: number): { readonly memberId: string | null; readonly until: number } | null;
  /** The start of the next booking of the machine after `now` that `memberId` does not hold (their own do not cut their session). */
  nextBookingStart(equipmentId: string, now: number, memberId: string): number | null;
  /** When the member last used something needing this certification (for lapse from disuse). */
  lastUsed(memberId: string, certification: string): number | null;
}

export interface AccessRequest {
  readonly target: TargetRef;
  readonly credential: { readonly format: CredentialFormat; readonly id: string };
  /** At a door: whether the reader lets people in or out. */
  readonly direction: 'in' | 'out';
}

export type AccessAction = 'unlock' | 'power_on' | 'power_off' | 'none';

export interface Decision {
  readonly grant: boolean;
  readonly reason: ReasonCode;
  readonly memberId: string | null;
  readonly override: boolean;
  readonly action: AccessAction;
  /** Presence change at a door: the member entered or left the space. */
  readonly presence: 'enter' | 'leave' | null;
  /** Machines: the longest the member may run it on this grant (until closing, the plan's hours, the next booking, the machine's limit). */
  readonly maxRunMs: number | null;
  /** A grant on a machine another member is running: their session ends, this one starts. */
  readonly takeover: boolean;
  readonly policyVersion: number;
  /** The space the target belongs to. */
  readonly space: string | null;
  /** The certification checked, if any. */
  readonly certification: string | null;
}

export interface DecideInput {
  readonly site: Site;
  readonly policy: PolicyIndex | null;
  /** How old the policy is: since the server last confirmed it (ms), null without one. */
  readonly policyAgeMs: number | null;
  readonly now: number;
  readonly request: AccessRequest;
  readonly state: AccessState;
}

const DEFAULT_POLICY_MAX_AGE_MS = 24 * 3600_000;

/** Past this age of its access policy the gateway opens for override badges only (site.policyMaxAgeS, default 24 h). */
export function policyMaxAgeMs(site: Site): number {
  return site.file.site.policyMaxAgeS !== undefined ? site.file.site.policyMaxAgeS * 1000 : DEFAULT_POLICY_MAX_AGE_MS;
}
const DAY_MS = 86_400_000;

/** The certification a target needs: the machine's (its class by default), or the lab's; null for none. */
export function requiredCertification(site: Site, target: TargetRef): string | null {
  if (target.type === 'equipment') {
    const equipment = site.equipment.get(target.id);
    if (equipment) return equipment.certification ?? equipment.class;
  }
  const space = spaceOf(site, target);
  return space ? (site.spaces.get(space)?.requiresCertification ?? null) : null;
}

export function decide(input: DecideInput): Decision {
  const { site, policy, now, request, state } = input;
  const target = request.target;
  const space = spaceOf(site, target);
  const equipment = target.type === 'equipment' ? site.equipment.get(target.id) : undefined;
  const certification = requiredCertification(site, target);
  const base = { policyVersion: policy?.version ?? 0, space, certification, maxRunMs: null, takeover: false, presence: null, override: false } as const;
  const refuse = (reason: ReasonCode, memberId: string | null = null): Decision => ({ ...base, grant: false, reason, memberId, action: 'none' });

  if (!policy) return refuse('policy_missing');
  const badge = policy.badge(request.credential.format, request.credential.id);
  if (!badge) return refuse('unknown_badge');
  if (badge.status === 'lost') return refuse('badge_lost', badge.memberId);
  if (badge.status === 'blocked') return refuse('badge_blocked', badge.memberId);
  const memberId = badge.memberId;

  if (badge.override) return grantFor(input, memberId, 'override', true, space, certification);

  if (input.policyAgeMs === null || input.policyAgeMs > policyMaxAgeMs(site)) return refuse('policy_stale', memberId);

  const member = policy.member(memberId);
  if (!member) return refuse('unknown_member', memberId);
  if (member.status === 'suspended') return refuse('member_suspended', memberId);
  if (member.status === 'left') return refuse('member_left', memberId);

  if (target.type === 'door' && request.direction === 'out') {
    return { ...base, grant: true, reason: 'exit', memberId, action: 'unlock', presence: 'leave' };
  }
  if (equipment) {
    const running = state.session(equipment.id);
    // The member running the machine badges again: their session ends (whatever the rules say now).
    if (running && running.memberId === memberId) return { ...base, grant: true, reason: 'session_ended', memberId, action: 'power_off' };
    if (policy.outOfService(site.id, equipment.id)) return refuse('out_of_service', memberId);
  }

  const t = localTime(now, site.timezone);
  if (!member.planId) return refuse('no_plan', memberId);
  const plan = policy.plan(member.planId);
  if (!plan || !plan.active) return refuse('plan_inactive', memberId);
  if (member.planValidFrom !== null && t.date < member.planValidFrom) return refuse('plan_not_started', memberId);
  if (member.planValidTo !== null && t.date > member.planValidTo) return refuse('plan_expired', memberId);
  if (space && !plan.spaces.includes('*') && !plan.spaces.includes(space)) return refuse('space_not_in_plan', memberId);

  // The space's calendar: its weekly hours (else the site's), closed on the site's closed dates, open
  // on its make-up working days (docs/site-file.md). Plans have weekly hours only.
  if (!spaceOpenState(site, space, now).open) return refuse('outside_opening_hours', memberId);
  if (plan.hours.length > 0 && !isOpen(plan.hours, t)) return refuse('outside_plan_hours', memberId);

  if (certification) {
    const verdict = certificationVerdict(input, memberId, certification, t);
    if (verdict) return refuse(verdict, memberId);
  }

  if (target.type === 'door') {
    const s = space ? site.spaces.get(space) : undefined;
    const door = site.doors.get(target.id);
    const inside = space !== null && state.isInside(memberId, space);
    if (door?.antiPassback && inside) return refuse('anti_passback', memberId);
    if (s?.capacity !== undefined && !inside && state.occupancy(s.id) >= s.capacity) return refuse('space_full', memberId);
    return { ...base, grant: true, reason: 'granted', memberId, action: 'unlock', presence: inside ? null : 'enter' };
  }
  if (equipment) {
    const booking = state.booking(equipment.id, now);
    if (booking && booking.memberId !== memberId) return refuse('booked', memberId);
    const decision = grantFor(input, memberId, 'granted', false, space, certification);
    if (decision.maxRunMs !== null && decision.maxRunMs <= 0) return refuse('closing', memberId);
    return decision;
  }
  return { ...base, grant: true, reason: 'granted', memberId, action: 'unlock', presence: null };
}

function grantFor(input: DecideInput, memberId: string, reason: 'granted' | 'override', override: boolean, space: string | null, certification: string | null): Decision {
  const { site, policy, request, state, now } = input;
  const base = { policyVersion: policy?.version ?? 0, space, certification, override, memberId, grant: true, reason } as const;
  if (request.target.type === 'door') {
    if (request.direction === 'out') return { ...base, action: 'unlock', presence: 'leave', maxRunMs: null, takeover: false };
    const inside = space !== null && state.isInside(memberId, space);
    return { ...base, action: 'unlock', presence: inside ? null : 'enter', maxRunMs: null, takeover: false };
  }
  if (request.target.type !== 'equipment') return { ...base, action: 'unlock', presence: null, maxRunMs: null, takeover: false };
  const equipment = site.equipment.get(request.target.id)!;
  const running = state.session(equipment.id);
  if (override && running && running.memberId === memberId) return { ...base, reason: 'session_ended', action: 'power_off', presence: null, maxRunMs: null, takeover: false };
  const limits: number[] = [];
  const t = localTime(now, site.timezone);
  const opening = spaceOpenState(site, space, now);
  if (opening.closesAt !== null) limits.push(opening.closesAt - now);
  const member = policy?.member(memberId);
  const plan = member?.planId ? policy?.plan(member.planId) : undefined;
  if (!override && plan && plan.hours.length > 0) limits.push(msUntilClose(plan.hours, t));
  if (equipment.maxSessionS !== undefined) limits.push(equipment.maxSessionS * 1000);
  const next = state.nextBookingStart(equipment.id, now, memberId);
  if (next !== null) limits.push(Math.max(0, next - now));
  return {
    ...base,
    action: 'power_on',
    presence: null,
    maxRunMs: limits.length > 0 ? Math.min(...limits) : null,
    takeover: running !== null && running.memberId !== memberId,
  };
}

function certificationVerdict(input: DecideInput, memberId: string, cls: string, t: LocalTime): ReasonCode | null {
  const certs = input.policy!.certifications(memberId, cls);
  if (certs.length === 0) return 'certification_missing';
  const current = certs.filter((c) => c.issuedOn <= t.date && !c.revoked);
  if (current.length === 0) return certs.some((c) => c.revoked) ? 'certification_revoked' : 'certification_missing';
  const valid = current.filter((c) => c.expiresOn === null || c.expiresOn >= t.date);
  if (valid.length === 0) return 'certification_expired';
  const lapseDays = input.site.file.site.certificationLapseDays;
  if (lapseDays !== undefined) {
    const horizon = input.now - lapseDays * DAY_MS;
    const last = input.state.lastUsed(memberId, cls);
    // Trained recently (within the window) counts as use.
    const newest = valid.reduce((a, c) => (c.issuedOn > a ? c.issuedOn : a), '0000-00-00');
    const issuedMs = Date.parse(`${newest}T00:00:00Z`);
    if ((last === null || last < horizon) && issuedMs < horizon) return 'certification_lapsed';
  }
  return null;
}

function spaceOf(site: Site, target: TargetRef): string | null {
  switch (target.type) {
    case 'door':
      return site.doors.get(target.id)?.space ?? null;
    case 'equipment':
      return site.equipment.get(target.id)?.space ?? null;
    case 'desk':
      return site.desks.get(target.id)?.space ?? null;
    case 'space':
      return target.id;
  }
}

/** The reason's texts and feedback pattern, for journals, readers and members. */
export function explain(d: Decision): (typeof REASONS)[ReasonCode] {
  return REASONS[d.reason];
}
