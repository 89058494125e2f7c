/**
 * Authentication and route-level authorisation for every route.
 *
 * - Every route must declare `config.authz` (who may call it) and schemas for
 *   what it takes and returns; a route that does not cannot be registered, so
 *   the app does not start (and the tests fail) rather than serve it unchecked.
 * - Auditors are read-only by construction: they may be listed only on GET routes.
 * - The caller is resolved from the session cookie or an `Authorization:
 *   Bearer fac_…` token; roles are checked before the handler runs. Object-level
 *   checks (a member reaching for another member's data) are the handlers' job,
 *   with assertOwnedBy() / ownMemberScope() (../auth/principal.ts).
 */
import '@fastify/cookie';
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import type { Clock } from '../../core/clock.js';
import type { ServerDb } from '../db/database.js';
import { resolveApiToken, resolveSession, SESSION_COOKIE } from '../auth/sessions.js';
import { problems } from '../problems.js';

export interface AuthPluginOptions {
  readonly db: ServerDb;
  readonly clock: Clock;
  readonly sessionTtlMs: number;
  /** URL prefixes of routes registered by third-party plugins (API docs UI), which are public. */
  readonly publicPrefixes: readonly string[];
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/** Every API route and who may call it: the table the authorisation tests walk. */
export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  readonly roles: readonly string[] | 'public';
  readonly selfService: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    routeTable: readonly RouteEntry[];
  }
}

const authPlugin: FastifyPluginAsync<AuthPluginOptions> = async (app, opts) => {
  app.decorateRequest('principal', null);
  const table: RouteEntry[] = [];
  app.decorate('routeTable', table);

  app.addHook('onRoute', (route) => {
    if (opts.publicPrefixes.some((p) => route.url.startsWith(p))) {
      route.config = { ...(route.config as object), authz: { roles: 'public' } };
      return;
    }
    const where = `${String(route.method)} ${route.url}`;
    const authz = (route.config as { authz?: { roles: readonly string[] | 'public'; selfService?: boolean } } | undefined)?.authz;
    if (!authz) throw new Error(`route ${where} declares no authz policy (config.authz)`);
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (authz.roles !== 'public' && authz.roles.includes('auditor') && !authz.selfService && methods.some((m) => !READ_METHODS.has(m))) {
      throw new Error(`route ${where}: auditors are read-only and may not be allowed on ${methods.join('/')}`);
    }
    for (const m of methods) if (m !== 'HEAD') table.push({ method: m, url: route.url, roles: authz.roles, selfService: authz.selfService === true });
    const schema = route.schema ?? {};
    if (!schema.response) throw new Error(`route ${where} declares no response schema`);
    if (methods.some((m) => ['POST', 'PUT', 'PATCH'].includes(m)) && !schema.body) throw new Error(`route ${where} declares no body schema`);
    if (route.url.includes(':') && !schema.params) throw new Error(`route ${where} declares no params schema`);
    if (methods.includes('GET') && !schema.querystring) throw new Error(`route ${where} declares no querystring schema`);
  });

  app.addHook('onRequest', async (req) => {
    const now = opts.clock.now();
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      req.principal = m ? await resolveApiToken(opts.db, m[1]!, now) : null;
      // A credential that does not check out is refused outright, never downgraded to anonymous.
      if (!req.principal) throw problems.unauthorized('the API token is not valid (unknown, revoked or malformed)');
    } else {
      const cookie = req.cookies[SESSION_COOKIE];
      if (cookie) req.principal = await resolveSession(opts.db, cookie, now, opts.sessionTtlMs);
    }
    // Roles are checked here, before the body is even parsed or validated: a caller who may not
    // use a route learns nothing about what it takes.
    const authz = req.routeOptions.config.authz;
    if (!authz || authz.roles === 'public') return;
    if (!req.principal) throw problems.unauthorized();
    if (!authz.roles.includes(req.principal.role)) throw problems.forbidden(`this needs one of the roles ${authz.roles.join(', ')}; you are ${req.principal.role}`);
  });
};

export default fp(authPlugin, { name: 'facility-auth', dependencies: ['@fastify/cookie'] });
