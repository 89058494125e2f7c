/**
 * Builds the HTTP application (fastify), without listening: tests use
 * app.inject(), the CLI calls listen(). One encapsulated plugin per route
 * area under /api/v1; every route declares who may call it and the schemas of
 * what it takes and returns (enforced by ./plugins/auth.ts).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Site } from '../core/site/model.js';
import type { ScryptParams } from '../gateway/auth/secrets.js';
import { hashPassword } from './auth/passwords.js';
import { LoginGuard } from './auth/login-guard.js';
import type { ServerDb } from './db/database.js';
import authPlugin from './plugins/auth.js';
import errorsPlugin from './plugins/errors.js';
import openapiPlugin from './plugins/openapi.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import type { ServerContext } from './routes/context.js';
import { healthRoutes, type HealthRouteOptions } from './routes/health.js';
import { liveRoutes, type LiveSource } from './routes/live.js';
import { floorplanRoutes } from './routes/floorplan.js';
import { pageRoutes } from './routes/pages.js';
import { ROUTE_AREAS } from './routes/index.js';
import type { UsageSource } from './routes/usage.js';
import type { ServerAuditLog } from './audit/log.js';
import { PolicyEvents } from './policy/events.js';
import { problems } from './problems.js';
import { bookingSettingsOf, DEFAULT_BOOKING_SETTINGS, type BookingSettings } from '../core/booking/rules.js';
import { CheckinJob } from './bookings/checkin-job.js';

export interface ServerOptions {
  readonly db: ServerDb;
  readonly clock: Clock;
  readonly sessionTtlMs: number;
  /** Lower scrypt cost for tests; production uses the defaults. */
  readonly passwordParams?: Partial<ScryptParams>;
  readonly loginPerIpPerMinute: number;
  readonly loginFailuresPerAccount: number;
  readonly loginRefillMs: number;
  /** Requests per minute per address on the whole API. */
  readonly requestsPerMinute: number;
  /** The site and its InfluxDB, for usage computed from raw signals (server/routes/usage.ts). */
  readonly usage?: UsageSource;
  /** The server's audit log; without it the audit routes answer 503 and closing a month signs no checkpoint. */
  readonly audit?: ServerAuditLog;
  /** Booking rules; default: the site file's `bookings` section, else DEFAULT_BOOKING_SETTINGS (30 min–4 h, 14 days ahead, 15 min grace, auto-release). */
  readonly bookings?: BookingSettings;
  /** How often bookings are checked in from usage (default 5 min; 0: never, e.g. tests). Needs `usage`. */
  readonly bookingCheckinEveryMs?: number;
}

/** The site file's booking rules, if it has a site and they are given there. */
const bookingSettingsFromSite = (site: Site | undefined): BookingSettings | null => (site ? bookingSettingsOf(site) : null);

export interface AppOptions {
  readonly logger: Logger;
  readonly version?: string;
  /** The API (accounts, reference data, policy); absent for a gateway on its own, which serves only /healthz and /metrics. */
  readonly server?: ServerOptions;
  readonly gateway?: HealthRouteOptions;
  /** The gateway's live state, when it runs in this process; without it GET /api/v1/live answers 503. */
  readonly live?: LiveSource;
  /** Behind a TLS-terminating proxy: trust X-Forwarded-* (so cookies get Secure). */
  readonly trustProxy?: boolean;
  /** The site file, for the live floor plan (default: the usage source's). */
  readonly site?: Site;
  /** Where the browser pages' files are (server/web/pages.ts); default: found beside the server's modules. */
  readonly webDir?: string;
  /** Called with the new policy version after a change to reference data (for gateways listening). */
  readonly onPolicyChange?: (version: number) => void;
}

import type { RouteArea } from './routes/index.js';
export type { RouteArea };

export async function buildApp(opts: AppOptions, areas: readonly RouteArea[] = ROUTE_AREAS): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = opts.logger;
  const app = Fastify({
    loggerInstance,
    // Per-request lines would drown the gateway's own logs; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    trustProxy: opts.trustProxy ?? false,
    ajv: { customOptions: { removeAdditional: false, allErrors: true, coerceTypes: 'array', useDefaults: true } },
  });
  await app.register(helmet, {
    // The API docs UI needs its own inline bootstrap; it sets a matching CSP on its pages (staticCSP).
    // Plain HTTP on a LAN is the common install: never ask browsers to upgrade to an https that is not there.
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], imgSrc: ["'self'", 'data:'], styleSrc: ["'self'", "'unsafe-inline'"], upgradeInsecureRequests: null } },
  });
  await app.register(errorsPlugin);
  const s = opts.server;
  if (!s) {
    // A gateway on its own: operations endpoints only, no accounts and no API.
    if (opts.gateway) await app.register(healthRoutes, opts.gateway);
    return app;
  }
  const policyEvents = new PolicyEvents((err) => app.log.error({ err }, 'a policy-change listener failed'));
  const ctx: ServerContext = {
    db: s.db,
    clock: s.clock,
    sessionTtlMs: s.sessionTtlMs,
    ...(s.passwordParams && { passwordParams: s.passwordParams }),
    loginGuard: new LoginGuard(s.loginFailuresPerAccount, s.loginRefillMs),
    dummyHash: hashPassword('not a real password, for timing', s.passwordParams),
    limits: { loginPerIpPerMinute: s.loginPerIpPerMinute },
    policyChanged: (v) => {
      policyEvents.publish(v);
      opts.onPolicyChange?.(v);
    },
    policyEvents,
    usage: s.usage ?? null,
    audit: s.audit ?? null,
    site: opts.site ?? s.usage?.site ?? null,
    bookings: s.bookings ?? bookingSettingsFromSite(opts.site ?? s.usage?.site) ?? DEFAULT_BOOKING_SETTINGS,
  };

  // Bookings checked in from reality every few minutes where the server reads usage (docs/bookings.md).
  if (s.usage && ctx.site && s.bookingCheckinEveryMs !== 0) {
    const job = new CheckinJob({ ctx, site: ctx.site, usage: s.usage, logger: app.log, ...(s.bookingCheckinEveryMs !== undefined && { everyMs: s.bookingCheckinEveryMs }) });
    app.addHook('onReady', async () => job.start());
    app.addHook('onClose', async () => job.stop());
  }

  await app.register(cookie);
  await app.register(rateLimit, { global: true, max: s.requestsPerMinute, timeWindow: '1 minute' });
  // ajv's coercion lets "Infinity" and 1e309 through as numbers past their maximum (ajv-validator/ajv#2212):
  // a query number that is not finite is refused here, before any handler sees it.
  app.addHook('preHandler', async (req) => {
    const q = req.query as Record<string, unknown> | undefined;
    if (!q || typeof q !== 'object') return;
    for (const [k, v] of Object.entries(q)) {
      if (typeof v === 'number' && !Number.isFinite(v)) throw problems.badRequest(`querystring/${k} must be a finite number`, [{ path: `querystring/${k}`, message: 'must be a finite number' }]);
    }
  });
  await app.register(authPlugin, { db: s.db, clock: s.clock, sessionTtlMs: s.sessionTtlMs, publicPrefixes: ['/docs'] });
  await app.register(openapiPlugin, { version: opts.version ?? '0.1.0' });
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: 10 * 1024 * 1024 }, (_req, body, done) => done(null, body));

  if (opts.gateway) await app.register(healthRoutes, opts.gateway);
  await app.register(authRoutes, { ...ctx, prefix: '/api/v1' });
  await app.register(adminRoutes, { ...ctx, prefix: '/api/v1' });
  for (const area of areas) await app.register(area, { ...ctx, prefix: '/api/v1' });
  await app.register(liveRoutes, { ...ctx, prefix: '/api/v1', live: opts.live ?? null });
  await app.register(floorplanRoutes, { ...ctx, prefix: '/api/v1', live: opts.live ?? null, site: opts.site ?? s.usage?.site ?? null });
  // The browser pages (live floor plan, member page) and their files: public shells that read the API above.
  await app.register(pageRoutes, opts.webDir !== undefined ? { webDir: opts.webDir } : {});
  return app;
}
