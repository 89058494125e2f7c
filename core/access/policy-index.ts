/** The access-policy snapshot, indexed for decisions (built once per version). */
import type { PolicySnapshot } from '../policy/snapshot.js';

type Snap = PolicySnapshot;
export type PolicyBadge = Snap['badges'][number];
export type PolicyMember = Snap['members'][number];
export type PolicyPlan = Snap['plans'][number];
export type PolicyCertification = Snap['certifications'][number];
export type PolicyBooking = NonNullable<Snap['bookings']>[number];

export interface PolicyIndex {
  readonly version: number;
  readonly generatedAt: number;
  badge(format: string, credential: string): PolicyBadge | undefined;
  member(id: string): PolicyMember | undefined;
  plan(id: string): PolicyPlan | undefined;
  certifications(memberId: string, cls: string): readonly PolicyCertification[];
  outOfService(siteId: string, equipmentId: string): { since: number; reason: string } | undefined;
  /** The booking holding a machine at `now`, if any. */
  bookingAt(siteId: string, equipmentId: string, now: number): PolicyBooking | undefined;
  /** The start of the first booking of the machine after `now` that `memberId` does not hold (null: none). */
  nextBookingStart(siteId: string, equipmentId: string, now: number, memberId: string | null): number | null;
}

export function indexPolicy(s: PolicySnapshot): PolicyIndex {
  const badges = new Map(s.badges.map((b) => [`${b.format}\u0000${b.credential}`, b]));
  const members = new Map(s.members.map((m) => [m.id, m]));
  const plans = new Map(s.plans.map((p) => [p.id, p]));
  const certs = new Map<string, PolicyCertification[]>();
  for (const c of s.certifications) {
    const k = `${c.memberId}\u0000${c.class}`;
    const list = certs.get(k);
    if (list) list.push(c);
    else certs.set(k, [c]);
  }
  const bookings = new Map<string, PolicyBooking[]>();
  for (const b of s.bookings ?? []) {
    const k = `${b.siteId}\u0000${b.equipmentId}`;
    const list = bookings.get(k);
    if (list) list.push(b);
    else bookings.set(k, [b]);
  }
  for (const list of bookings.values()) list.sort((a, b) => a.from - b.from);
  const oos = new Map(s.outOfService.map((o) => [`${o.siteId}\u0000${o.equipmentId}`, { since: o.since, reason: o.reason }]));
  return {
    version: s.version,
    generatedAt: s.generatedAt,
    badge: (format, credential) => badges.get(`${format}\u0000${credential}`),
    member: (id) => members.get(id),
    plan: (id) => plans.get(id),
    certifications: (memberId, cls) => certs.get(`${memberId}\u0000${cls}`) ?? [],
    outOfService: (siteId, equipmentId) => oos.get(`${siteId}\u0000${equipmentId}`),
    bookingAt: (siteId, equipmentId, now) => bookings.get(`${siteId}\u0000${equipmentId}`)?.find((b) => b.from <= now && now < b.to),
    nextBookingStart: (siteId, equipmentId, now, memberId) => {
      // A member's own bookings do not cut their session; back-to-back ones of theirs run on.
      const next = bookings.get(`${siteId}\u0000${equipmentId}`)?.find((b) => b.from > now && (memberId === null || b.memberId !== memberId));
      return next?.from ?? null;
    },
  };
}
