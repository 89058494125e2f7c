/**
 * The access-policy snapshot: everything a gateway needs to decide door and
 * machine access on its own (members' status and plan, badges, plans,
 * certifications, teams) and nothing else — no names, e-mails or phones: the
 * edge needs none, so personal data stays at the server.
 *
 * `buildPolicySnapshot` is a pure function from rows to the snapshot (no I/O,
 * no clock: the caller hands in the version and the time); `readPolicySnapshot`
 * is the database reader that feeds it. The TypeBox schema is the contract
 * the server serialises with and the gateway validates against.
 *
 * Design decisions:
 * - Identical version ⇒ identical content (except generatedAt): nothing in the
 *   snapshot depends on the time it was made. In particular an expired
 *   certification is kept with its `expiresOn` and no "expired" flag — a flag
 *   would go stale on the gateway at midnight; the edge compares dates when it
 *   decides. Revoked certifications are kept with `revoked: true`, so a
 *   gateway can tell "revoked" from "never trained" in its refusal reason.
 * - Returned badges are left out: a card handed back may be given to someone
 *   else, and until then it opens nothing. Lost and blocked badges stay, with
 *   their status, so the edge can refuse them with the right reason (and raise
 *   an alarm for a blocked card) instead of "unknown card".
 * - Members who left, deactivated plans and exited teams stay, with their
 *   status: the edge refuses with a reason instead of guessing.
 * - Override badges carry `override: true` (set only by an administrator);
 *   the edge lets them through whatever the rules, and logs it as an override.
 * - Machines out of service are listed by site and equipment id, with since
 *   when and why (no reporter: that is personal and the edge has no use for
 *   it). Machines back in service are left out.
 * - Machines booked (issue #13): the bookings that hold a machine (confirmed,
 *   in use, or a no-show not released) and had not ended when the version's
 *   change was made, with the holder's member id only (null for blocks and
 *   visitors' bookings; a visitor's name never leaves the server). Cut at the
 *   version's time, not the server's clock, so the same version keeps the
 *   same content; how far ahead members may book bounds the list. The section
 *   is left out when nothing is booked, so gateways that predate bookings
 *   still accept the snapshots of a server where nobody books.
 * - Lists are sorted by id (badges by format and credential, machines out of
 *   service by site and equipment id) so two snapshots of the same version are
 *   byte-for-byte comparable.
 */
import type { PolicySnapshot } from '../../core/policy/snapshot.js';
import { POLICY_ENTITIES } from '../db/changes.js';
import type { ServerDb } from '../db/database.js';
import type { BadgeRow, BookingRow, CertificationRow, EquipmentStatusRow, MemberRow, PlanRow, TeamRow } from '../db/schema.js';
import { HOLDING_STATUSES } from '../bookings/store.js';

export { END_PATTERN, PolicyHoursSchema, PolicySnapshotSchema, START_PATTERN, type PolicySnapshot } from '../../core/policy/snapshot.js';

/** The columns the builder reads: anything else a row carries (names, e-mails, phones) cannot reach the output. */
export interface PolicyRows {
  readonly version: number;
  readonly generatedAt: number;
  readonly members: readonly Pick<MemberRow, 'id' | 'member_no' | 'status' | 'team_id' | 'plan_id' | 'plan_valid_from' | 'plan_valid_to'>[];
  readonly badges: readonly Pick<BadgeRow, 'format' | 'credential' | 'member_id' | 'status' | 'override'>[];
  readonly plans: readonly Pick<PlanRow, 'id' | 'spaces' | 'hours' | 'quotas' | 'active'>[];
  readonly certifications: readonly Pick<CertificationRow, 'id' | 'member_id' | 'class' | 'issued_on' | 'expires_on' | 'revoked_at'>[];
  readonly teams: readonly Pick<TeamRow, 'id' | 'status'>[];
  /** Machines' states; those back in service (out_of_service 0) are left out of the snapshot. */
  readonly equipment: readonly Pick<EquipmentStatusRow, 'site_id' | 'equipment_id' | 'out_of_service' | 'since' | 'reason'>[];
  /** Machines' bookings that hold them (the reader picks them); none: the section is left out. */
  readonly bookings?: readonly Pick<BookingRow, 'id' | 'site_id' | 'resource_id' | 'member_id' | 'from_ms' | 'to_ms'>[];
}

const byKey = <T>(key: (t: T) => string) => (a: T, b: T): number => {
  const ka = key(a);
  const kb = key(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

/** Parses a JSON column, saying which row and column is broken (a bad row is a server bug, not the gateway's problem). */
function json<T>(text: string, where: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`policy snapshot: ${where} is not valid JSON`);
  }
}

export function buildPolicySnapshot(rows: PolicyRows): PolicySnapshot {
  return {
    version: rows.version,
    generatedAt: rows.generatedAt,
    members: [...rows.members].sort(byKey((m) => m.id)).map((m) => ({
      id: m.id,
      memberNo: m.member_no,
      status: m.status,
      teamId: m.team_id,
      planId: m.plan_id,
      planValidFrom: m.plan_valid_from,
      planValidTo: m.plan_valid_to,
    })),
    badges: rows.badges
      .flatMap((b) => (b.status === 'returned' ? [] : [{ format: b.format, credential: b.credential, memberId: b.member_id, status: b.status, override: b.override === 1 }]))
      .sort(byKey((b) => `${b.format}\u0000${b.credential}`)),
    plans: [...rows.plans].sort(byKey((p) => p.id)).map((p) => ({
      id: p.id,
      spaces: json<string[]>(p.spaces, `plans.spaces of ${p.id}`),
      hours: json<PolicySnapshot['plans'][number]['hours']>(p.hours, `plans.hours of ${p.id}`),
      quotas: json<Record<string, number>>(p.quotas, `plans.quotas of ${p.id}`),
      active: p.active !== 0,
    })),
    certifications: [...rows.certifications].sort(byKey((c) => c.id)).map((c) => ({
      memberId: c.member_id,
      class: c.class,
      issuedOn: c.issued_on,
      expiresOn: c.expires_on,
      revoked: c.revoked_at !== null,
    })),
    outOfService: rows.equipment
      .flatMap((e) => (e.out_of_service === 1 ? [{ siteId: e.site_id, equipmentId: e.equipment_id, since: Number(e.since), reason: e.reason ?? '' }] : []))
      .sort(byKey((e) => `${e.siteId}\u0000${e.equipmentId}`)),
    teams: [...rows.teams].sort(byKey((t) => t.id)).map((t) => ({ id: t.id, status: t.status })),
    ...(rows.bookings !== undefined && rows.bookings.length > 0 && {
      bookings: [...rows.bookings]
        .sort(byKey((b) => `${b.site_id}\u0000${b.resource_id}\u0000${String(b.from_ms).padStart(16, '0')}\u0000${b.id}`))
        .map((b) => ({ siteId: b.site_id, equipmentId: b.resource_id, memberId: b.member_id, from: Number(b.from_ms), to: Number(b.to_ms) })),
    }),
  };
}

/** The current policy version: the newest change to a policy entity, 0 when there is none. */
export async function readPolicyVersion(db: ServerDb): Promise<number> {
  const r = await db
    .selectFrom('changes')
    .select((eb) => eb.fn.max('id').as('v'))
    .where('entity', 'in', [...POLICY_ENTITIES])
    .executeTakeFirst();
  return Number(r?.v ?? 0);
}

/**
 * Reads the rows and the version in one transaction, so the version names
 * exactly the changes the rows include (a write between the two reads would
 * otherwise give a snapshot that claims a version it does not contain, or
 * contains changes of a version it does not claim).
 */
export async function readPolicySnapshot(db: ServerDb, now: number): Promise<PolicySnapshot> {
  return db.transaction().execute(async (trx) => {
    const [version, members, badges, plans, certifications, teams, equipment] = await Promise.all([
      readPolicyVersion(trx),
      trx.selectFrom('members').select(['id', 'member_no', 'status', 'team_id', 'plan_id', 'plan_valid_from', 'plan_valid_to']).execute(),
      trx.selectFrom('badges').select(['format', 'credential', 'member_id', 'status', 'override']).where('status', '<>', 'returned').execute(),
      trx.selectFrom('plans').select(['id', 'spaces', 'hours', 'quotas', 'active']).execute(),
      trx.selectFrom('certifications').select(['id', 'member_id', 'class', 'issued_on', 'expires_on', 'revoked_at']).execute(),
      trx.selectFrom('teams').select(['id', 'status']).execute(),
      trx.selectFrom('equipment_status').select(['site_id', 'equipment_id', 'out_of_service', 'since', 'reason']).where('out_of_service', '=', 1).execute(),
    ]);
    // Bookings not over when the version's change was made (that time, not now: same version, same content).
    const versionAt = version === 0 ? 0 : Number((await trx.selectFrom('changes').select('at').where('id', '=', version).executeTakeFirst())?.at ?? 0);
    const bookings = await trx
      .selectFrom('bookings')
      .select(['id', 'site_id', 'resource_id', 'member_id', 'from_ms', 'to_ms'])
      .where('resource_type', '=', 'equipment')
      .where('status', 'in', [...HOLDING_STATUSES])
      .where('to_ms', '>', versionAt)
      .execute();
    return buildPolicySnapshot({ version, generatedAt: now, members, badges, plans, certifications, teams, equipment, bookings });
  });
}
