/** What route areas are handed: the database, the clock and the server's settings (no globals). */
import type { Clock } from '../../core/clock.js';
import type { ScryptParams } from '../../gateway/auth/secrets.js';
import type { LoginGuard } from '../auth/login-guard.js';
import type { ServerDb } from '../db/database.js';
import type { PolicyEvents } from '../policy/events.js';
import type { UsageSource } from './usage.js';
import type { ServerAuditLog } from '../audit/log.js';
import type { BookingSettings } from '../../core/booking/rules.js';
import type { Site } from '../../core/site/model.js';

export interface ServerContext {
  readonly db: ServerDb;
  readonly clock: Clock;
  readonly sessionTtlMs: number;
  readonly passwordParams?: Partial<ScryptParams>;
  readonly loginGuard: LoginGuard;
  /** A hash to verify against for unknown users (same cost as a real one). */
  readonly dummyHash: string;
  readonly limits: { readonly loginPerIpPerMinute: number };
  /** Tells gateways listening for policy changes that a new version exists. */
  readonly policyChanged: (version: number) => void;
  /** Where policyChanged announcements go in this process (the policy events stream subscribes). */
  readonly policyEvents: PolicyEvents;
  /** Where usage is read from (site and InfluxDB); null when the server has neither. */
  readonly usage: UsageSource | null;
  /** The server's audit log (server/audit/log.ts); null when the server keeps none (some tests). */
  readonly audit: ServerAuditLog | null;
  /** The site file (bookable resources, calendars); null when the server has none (bookings then answer 503). */
  readonly site: Site | null;
  /** Booking rules (core/booking/rules.ts; docs/bookings.md). */
  readonly bookings: BookingSettings;
}
