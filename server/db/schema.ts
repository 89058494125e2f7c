/**
 * The server's relational schema, as Kysely table types. Written to run on
 * SQLite (the embedded default) and PostgreSQL (multi-site): ids are text,
 * dates are ISO `YYYY-MM-DD` text, instants are epoch milliseconds (bigint),
 * lists and small records are JSON text.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

export const ROLES = ['admin', 'manager', 'auditor', 'member', 'gateway'] as const;
export type Role = (typeof ROLES)[number];

/** Epoch ms: numbers in, numbers out (PostgreSQL returns bigint as string; the db layer parses it). */
type Instant = ColumnType<number, number, number>;

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  role: Exclude<Role, 'gateway'>;
  /** For role member: the member this login belongs to. */
  member_id: string | null;
  disabled: number;
  created_at: Instant;
  updated_at: Instant;
}

export interface SessionsTable {
  /** SHA-256 of the cookie value: a database leak does not hand out live sessions. */
  id_hash: string;
  user_id: string;
  created_at: Instant;
  last_seen_at: Instant;
  expires_at: Instant;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  token_hash: string;
  role: Role;
  /** Gateway tokens are bound to a site. */
  site_id: string | null;
  created_by: string | null;
  created_at: Instant;
  last_used_at: Instant | null;
  revoked_at: Instant | null;
}

export interface TeamsTable {
  id: string;
  name: string;
  name_zh: string | null;
  founded_on: string | null;
  registered_on: string;
  status: 'incubating' | 'graduated' | 'exited';
  exit_on: string | null;
  exit_reason: string | null;
  /** When a graduated team graduated (null: not recorded). */
  graduated_on: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Instant;
  updated_at: Instant;
}

export interface PlansTable {
  id: string;
  name: string;
  name_zh: string | null;
  /** JSON: space ids the plan opens. */
  spaces: string;
  /** JSON: [{ days: [1..7], from: 'HH:MM', to: 'HH:MM' }] in the site's time zone. */
  hours: string;
  /** JSON: { '<machine class or resource>': hours per month }. */
  quotas: string;
  active: number;
  created_at: Instant;
  updated_at: Instant;
}

export interface MembersTable {
  id: string;
  member_no: string;
  name: string;
  name_zh: string | null;
  email: string | null;
  phone: string | null;
  team_id: string | null;
  status: 'active' | 'suspended' | 'left';
  joined_on: string;
  left_on: string | null;
  plan_id: string | null;
  plan_valid_from: string | null;
  plan_valid_to: string | null;
  /** The rate card's member group whose prices apply (null: none). */
  price_group: ColumnType<string | null, string | null | undefined, string | null>;
  /** 'team': through the team the session recorded (personal when none); 'self': always personal. */
  bill_to: ColumnType<'self' | 'team', 'self' | 'team' | undefined, 'self' | 'team'>;
  created_at: Instant;
  updated_at: Instant;
}

export interface BadgesTable {
  id: string;
  member_id: string;
  format: 'uid' | 'em4100' | 'wiegand26';
  credential: string;
  status: 'active' | 'lost' | 'blocked' | 'returned';
  issued_on: string;
  note: string | null;
  /** 1: an override badge (a manager's card that opens everything, logged as override); set only by an administrator. */
  override: Generated<number>;
  created_at: Instant;
  updated_at: Instant;
}

/**
 * A machine's current state, one row per site and machine once it has first
 * been put out of service (kept after it is back, with who put it back).
 * Site and equipment ids are the site files' (the server has no machine list).
 */
export interface EquipmentStatusTable {
  site_id: string;
  equipment_id: string;
  out_of_service: number;
  /** When it went out of service, or came back into service. */
  since: Instant;
  /** Why it is out of service; null once it is back. */
  reason: string | null;
  /** The actor (change-log form, e.g. user:manager) of the last change. */
  changed_by: string;
}

/** One period out of service; open while ended_at is null (at most one open per machine). */
export interface EquipmentDowntimeTable {
  id: string;
  site_id: string;
  equipment_id: string;
  started_at: Instant;
  ended_at: Instant | null;
  reason: string;
  reported_by: string;
  restored_by: string | null;
}

export interface TrainersTable {
  id: string;
  name: string;
  name_zh: string | null;
  member_id: string | null;
  /** JSON: machine classes / certifications they may train for. */
  qualifications: string;
  active: number;
  created_at: Instant;
  updated_at: Instant;
}

export interface CertificationsTable {
  id: string;
  member_id: string;
  /** A machine class (laser-cutter, cnc, …) or a space's required certification (fablab-safety). */
  class: string;
  issued_on: string;
  expires_on: string | null;
  trainer_id: string | null;
  revoked_at: Instant | null;
  note: string | null;
  created_at: Instant;
  updated_at: Instant;
}

/**
 * Every change to reference data, in order: who changed what, before and after.
 * Its id is the access-policy version (the snapshot gateways hold names the last
 * change it includes).
 */
export interface ChangesTable {
  id: Generated<number>;
  at: Instant;
  actor: string;
  entity: string;
  entity_id: string;
  action: 'create' | 'update' | 'delete' | 'import';
  before: string | null;
  after: string | null;
}

export interface GatewaysTable {
  id: string;
  site_id: string;
  name: string;
  token_id: string;
  last_seen_at: Instant | null;
  policy_version_seen: number | null;
  created_at: Instant;
}

export const SERVICE_KINDS = ['training', 'mentoring', 'event', 'technical', 'investment'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

/** A service no sensor measures (training, mentoring, event, technical service, investment introduction). */
export interface ServicesTable {
  id: string;
  kind: ServiceKind;
  title: string;
  title_zh: string | null;
  site_id: string | null;
  started_at: Instant;
  minutes: number;
  /** Who gave it (a mentor's or organisation's name), when not a trainer on record. */
  provider: string | null;
  trainer_id: string | null;
  /** The team it was given to (mentoring a team), if any. */
  team_id: string | null;
  /** Participants who are not members (public events, roadshows). */
  external_participants: number;
  /** What participants paid in all, and its value at market prices (minor units). */
  fee_minor: number;
  reference_minor: number;
  note: string | null;
  created_at: Instant;
  updated_at: Instant;
}

export interface ServiceParticipantsTable {
  service_id: string;
  member_id: string;
}

/** A closed billing period (site, local month). Rows are never changed or removed. */
export interface BillingPeriodsTable {
  site_id: string;
  period: string;
  closed_at: Instant;
  closed_by: string;
  statements_sha256: string;
  currency: string;
  /** JSON: what the month was priced with besides the raw signals (server/routes/statements.ts BillingInputs); null before version 7. */
  inputs: ColumnType<string | null, string | null | undefined, never>;
}

/** What the space paid in a month for what it claims as costs. */
export interface CostsTable {
  id: string;
  site_id: string;
  period: string;
  category: 'space' | 'broadband' | 'shared_equipment' | 'software';
  description: string;
  supplier: string | null;
  invoice_ref: string | null;
  amount_minor: number;
  currency: string;
  created_at: Instant;
  created_by: string;
}

/** The server's append-only audit log (migration 009): entry idx − 1 of the Merkle tree. */
export interface AuditLogTable {
  idx: Generated<number>;
  at: Instant;
  source: 'change' | 'ledger' | 'close' | 'rate_card';
  ref: string;
  body: string;
  leaf_hash: ColumnType<Buffer | null, Buffer | null | undefined, Buffer>;
}

export interface AuditKeysTable {
  key_id: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  public_key: string;
  created_at: Instant;
  retired_at: Instant | null;
}

export interface AuditCheckpointsTable {
  size: number;
  /** Base64. */
  root: string;
  time: Instant;
  key_id: string;
  sig: string;
  reason: string;
  cosignatures: ColumnType<string, string | undefined, string>;
}

/** Investment a team raised. */
export interface TeamInvestmentsTable {
  id: string;
  team_id: string;
  on_date: string;
  amount_minor: number | null;
  currency: string;
  source: 'social' | 'own' | null;
  investor: string | null;
  round: string | null;
  note: string | null;
  created_at: Instant;
  created_by: string;
}

/** Free time for work that benefits the space. */
export interface FreeTimeGrantsTable {
  id: string;
  member_id: string;
  resource_class: string;
  from_ms: Instant;
  to_ms: Instant;
  reason: string;
  created_at: Instant;
  created_by: string;
}

/** The append-only ledger: charges written at closing, adjustments after. */
export interface LedgerEntriesTable {
  id: Generated<number>;
  site_id: string;
  period: string;
  kind: 'charge' | 'adjustment';
  party_type: 'member' | 'team';
  party_id: string;
  resource_class: string;
  amount_minor: number;
  reference_minor: number;
  subsidy_minor: number;
  currency: string;
  line: string;
  corrects: number | null;
  reason: string | null;
  created_at: Instant;
  created_by: string;
}

/** A rate card as stored (JSON of core/accounting/rates.ts RateCardInput); the newest row is in force. */
export interface RateCardsTable {
  id: Generated<number>;
  card: string;
  created_at: Instant;
  created_by: string;
}

export type BookingStatus = 'requested' | 'confirmed' | 'cancelled' | 'released' | 'used' | 'no_show';
export type BookingKind = 'booking' | 'block' | 'visitor';

export interface BookingsTable {
  id: string;
  site_id: string;
  resource_type: 'equipment' | 'desk' | 'room';
  resource_id: string;
  kind: BookingKind;
  member_id: string | null;
  visitor_id: string | null;
  title: string | null;
  from_ms: Instant;
  to_ms: Instant;
  /** The end plus the resource's buffer: nobody else may hold [from_ms, hold_to). */
  hold_to: Instant;
  status: BookingStatus;
  used_at: Instant | null;
  checked_at: Instant | null;
  created_at: Instant;
  created_by: string;
  updated_at: Instant;
}

export interface BookingVisitorsTable {
  id: string;
  name: string;
  contact: string;
  created_at: Instant;
}

/** A checkpoint-signing key a gateway announced (migration 011). */
export interface GatewayAuditKeysTable {
  gateway_id: string;
  key_id: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  public_key: string;
  created_at: Instant;
  retired_at: Instant | null;
  announced_at: Instant;
}

/** A gateway checkpoint the server accepted (kept for good). */
export interface GatewayCheckpointsTable {
  gateway_id: string;
  size: number;
  origin: string;
  /** Base64. */
  root: string;
  time: Instant;
  key_id: string;
  sig: string;
  received_at: Instant;
}

/** A gateway checkpoint refused as evidence of a rewritten history. */
export interface GatewayAuditAlarmsTable {
  id: Generated<number>;
  gateway_id: string;
  at: Instant;
  code: string;
  detail: string;
  /** The checkpoint as it came (JSON). */
  checkpoint: string;
}

export interface DB {
  users: UsersTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  teams: TeamsTable;
  plans: PlansTable;
  members: MembersTable;
  badges: BadgesTable;
  trainers: TrainersTable;
  certifications: CertificationsTable;
  changes: ChangesTable;
  gateways: GatewaysTable;
  equipment_status: EquipmentStatusTable;
  equipment_downtime: EquipmentDowntimeTable;
  services: ServicesTable;
  service_participants: ServiceParticipantsTable;
  billing_periods: BillingPeriodsTable;
  ledger_entries: LedgerEntriesTable;
  rate_cards: RateCardsTable;
  costs: CostsTable;
  free_time_grants: FreeTimeGrantsTable;
  team_investments: TeamInvestmentsTable;
  audit_log: AuditLogTable;
  audit_keys: AuditKeysTable;
  audit_checkpoints: AuditCheckpointsTable;
  bookings: BookingsTable;
  booking_visitors: BookingVisitorsTable;
  gateway_audit_keys: GatewayAuditKeysTable;
  gateway_checkpoints: GatewayCheckpointsTable;
  gateway_audit_alarms: GatewayAuditAlarmsTable;
}

export type UserRow = Selectable<UsersTable>;
export type MemberRow = Selectable<MembersTable>;
export type TeamRow = Selectable<TeamsTable>;
export type BadgeRow = Selectable<BadgesTable>;
export type PlanRow = Selectable<PlansTable>;
export type CertificationRow = Selectable<CertificationsTable>;
export type TrainerRow = Selectable<TrainersTable>;
export type EquipmentStatusRow = Selectable<EquipmentStatusTable>;
export type EquipmentDowntimeRow = Selectable<EquipmentDowntimeTable>;
export type BookingRow = Selectable<BookingsTable>;
export type ServiceRow = Selectable<ServicesTable>;
export type NewMember = Insertable<MembersTable>;
export type MemberUpdate = Updateable<MembersTable>;
