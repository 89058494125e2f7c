/**
 * Services delivered in a period by kind (training, mentoring, event,
 * technical, investment): deliveries, participants and hours. A service is in
 * the period it started in. Participants are attendances: the distinct
 * members of each delivery plus its external participants, summed over
 * deliveries (one person at two trainings counts twice; `uniqueMembers`
 * counts them once). Hours are the services' durations (not × participants),
 * to 2 decimals. Pure.
 */
import { SERVICE_KINDS, type ServiceKind } from './catalogue.js';
import type { ServiceRecord } from './inputs.js';
import { round2 } from './values.js';

export interface ServiceKindTotals {
  readonly deliveries: number;
  readonly participants: number;
  readonly memberParticipants: number;
  readonly externalParticipants: number;
  readonly uniqueMembers: number;
  readonly minutes: number;
  readonly hours: number;
  /** Service ids, sorted (the evidence; several sites are aggregated as the union). */
  readonly ids: readonly string[];
}

export function servicesByKind(services: readonly ServiceRecord[], from: number, to: number): Readonly<Record<ServiceKind, ServiceKindTotals>> {
  const acc = new Map<ServiceKind, { ids: string[]; members: number; external: number; unique: Set<string>; minutes: number }>();
  for (const k of SERVICE_KINDS) acc.set(k, { ids: [], members: 0, external: 0, unique: new Set(), minutes: 0 });
  for (const s of services) {
    if (!(s.startedAt >= from && s.startedAt < to)) continue;
    const a = acc.get(s.kind);
    if (!a) throw new RangeError(`service ${s.id}: unknown kind "${String(s.kind)}"`);
    const members = new Set(s.memberIds);
    a.ids.push(s.id);
    a.members += members.size;
    a.external += Math.max(0, s.externalParticipants);
    for (const m of members) a.unique.add(m);
    a.minutes += Math.max(0, s.minutes);
  }
  const out = {} as Record<ServiceKind, ServiceKindTotals>;
  for (const k of SERVICE_KINDS) {
    const a = acc.get(k)!;
    out[k] = {
      deliveries: a.ids.length,
      participants: a.members + a.external,
      memberParticipants: a.members,
      externalParticipants: a.external,
      uniqueMembers: a.unique.size,
      minutes: a.minutes,
      hours: round2(a.minutes / 60),
      ids: a.ids.sort(),
    };
  }
  return out;
}
