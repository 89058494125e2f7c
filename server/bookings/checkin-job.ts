/**
 * The check-in job: every few minutes, when a booking waits for its check-in,
 * reads the usage sessions since just before it (badge presence, desk
 * sensors, machine power) and applies
 * core/booking/checkin.ts to the confirmed bookings (used, released, no_show),
 * so a no-show's slot is free again soon after its grace period — for members
 * booking, and for the gateways, which get the release with the next policy
 * version. Runs only where the server reads usage (InfluxDB and the site).
 *
 * Lifecycle: inert constructor, start(), idempotent stop(). A run never
 * overlaps the previous one; a failed run is logged and the next one tries
 * again (nothing is lost: bookings stay confirmed until a run decides them).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Site } from '../../core/site/model.js';
import type { ServerContext } from '../routes/context.js';
import { applyCheckins, oldestUndecided } from '../routes/bookings.js';
import { readUsage, type UsageSource } from '../routes/usage.js';

export interface CheckinJobOptions {
  readonly ctx: ServerContext;
  readonly site: Site;
  readonly usage: UsageSource;
  readonly logger: FastifyBaseLogger;
  /** How often to run (default 5 min). */
  readonly everyMs?: number;
  /** How far back usage is read at most (default 2 days); bookings older than that wait for POST /bookings/check-in. */
  readonly maxLookbackMs?: number;
}

export class CheckinJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly o: CheckinJobOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.o.everyMs ?? 300_000);
    this.timer.unref();
  }

  /** One run (also what the timer calls); resolves when it is done, never rejects. */
  runOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.check()
      .catch((err: unknown) => this.o.logger.warn({ err }, 'booking check-in failed; the next run tries again'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /**
   * Reads usage only when a booking waits for its check-in, and from just
   * before the oldest one's grace window (at most `maxLookbackMs` back): a
   * space with no bookings costs no InfluxDB read.
   */
  private async check(): Promise<void> {
    const { ctx, site } = this.o;
    const oldest = await oldestUndecided(ctx, site);
    if (oldest === null) return;
    const now = ctx.clock.now();
    const from = Math.max(now - (this.o.maxLookbackMs ?? 2 * 86_400_000), Math.min(now, oldest - ctx.bookings.graceMinutes * 60_000));
    const u = await readUsage(this.o.usage, from, now);
    const r = await applyCheckins(ctx, site, [...u.sessions, ...u.open], 'system:booking-checkin', from);
    if (r.changed > 0) this.o.logger.info({ changed: r.changed }, 'bookings checked in');
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
