/**
 * Access policy for gateways. Each gateway keeps the snapshot locally and
 * decides at the edge without the server; this area hands it out and tells
 * gateways when it changes:
 *
 * - GET /policy: the snapshot (../policy/snapshot.ts), with an ETag of its
 *   version; If-None-Match with the held version answers 304 without building
 *   it. A gateway token's call records when the gateway was seen and which
 *   version it now holds (registering the gateway on its first call).
 * - GET /policy/events: Server-Sent Events. `event: version` with the current
 *   version on connect, one per new version after (fed by ctx.policyChanged,
 *   through ctx.policyEvents), a comment line every 15 s so proxies and the
 *   client can tell a live connection from a dead one. Streams end when the
 *   server closes.
 * - POST /gateways, GET /gateways: gateways attached to this server, their
 *   tokens, when they were last seen and the version they hold.
 */
import { PassThrough } from 'node:stream';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Principal } from '../auth/principal.js';
import { createApiToken } from '../auth/sessions.js';
import { actorOf, recordChange } from '../db/changes.js';
import type { Selectable } from 'kysely';
import type { GatewaysTable } from '../db/schema.js';
import { newId } from '../ids.js';
import { ensureGateway, isGatewayToken } from '../policy/gateways.js';
import { PolicySnapshotSchema, readPolicySnapshot, readPolicyVersion } from '../policy/snapshot.js';
import type { ServerContext } from './context.js';
import { NoQuery, ProblemSchema } from './schemas.js';

export const HEARTBEAT_MS = 15_000;
/** How long an SSE client waits before reconnecting after the stream drops (the `retry:` field). */
const RETRY_MS = 3_000;

/** The strong ETag of a policy version. */
export const policyEtag = (version: number): string => `"${version}"`;

/** Whether an If-None-Match header names this version (RFC 9110 §13.1.2: weak comparison, lists, `*`). */
export function matchesVersion(ifNoneMatch: string | undefined, version: number): boolean {
  if (ifNoneMatch === undefined) return false;
  const want = policyEtag(version);
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === want;
  });
}

/** One Server-Sent Event (the data is one line: a number). */
export const sseEvent = (event: string, data: string | number): string => `event: ${event}\nid: ${data}\ndata: ${data}\n\n`;
export const SSE_HEARTBEAT = ': heartbeat\n\n';

const Gateway = Type.Object(
  {
    id: Type.String(),
    siteId: Type.String(),
    name: Type.String(),
    tokenId: Type.String(),
    tokenRevoked: Type.Boolean(),
    createdAt: Type.Integer(),
    lastSeenAt: Type.Union([Type.Integer(), Type.Null()]),
    policyVersionSeen: Type.Union([Type.Integer(), Type.Null()], { description: 'The policy version the gateway last fetched (the one it decides with)' }),
    upToDate: Type.Boolean({ description: 'It holds the current policy version' }),
    listening: Type.Boolean({ description: 'It is connected to /policy/events on this server now' }),
  },
  { additionalProperties: false },
);
type GatewayJson = Static<typeof Gateway>;

const SiteId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' });

export const policyRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  /** Open event streams, with the token of the gateway holding each (for `listening`). */
  const streams = new Map<PassThrough, string | null>();

  /**
   * Records that a gateway token called: registers its gateway on the first
   * call (a gateway is identified by its token), then last seen and, when it
   * fetched the policy, the version it now holds.
   */
  const touchGateway = async (p: Principal | null, versionHeld: number | null): Promise<void> => {
    if (!isGatewayToken(p)) return;
    const now = ctx.clock.now();
    await ctx.db.transaction().execute(async (trx) => {
      const { id } = await ensureGateway(trx, p, now);
      await trx
        .updateTable('gateways')
        .set({ last_seen_at: now, ...(versionHeld !== null && { policy_version_seen: versionHeld }) })
        .where('id', '=', id)
        .execute();
    });
  };
  const touchLater = (p: Principal | null, log: FastifyBaseLogger): void => {
    touchGateway(p, null).catch((err: unknown) => log.warn({ err }, 'could not record that a gateway was seen'));
  };

  app.get(
    '/policy',
    {
      config: { authz: { roles: ['gateway', 'admin', 'auditor'] as const } },
      schema: {
        tags: ['policy'],
        summary: 'The access-policy snapshot gateways decide with (no personal data); ETag = version, If-None-Match → 304',
        querystring: NoQuery,
        response: { 200: PolicySnapshotSchema, 304: Type.Null() },
      },
    },
    async (req, reply) => {
      void reply.header('cache-control', 'private, no-cache');
      const current = await readPolicyVersion(ctx.db);
      if (matchesVersion(req.headers['if-none-match'], current)) {
        await touchGateway(req.principal, current);
        return reply.code(304).header('etag', policyEtag(current)).send(null);
      }
      const snapshot = await readPolicySnapshot(ctx.db, ctx.clock.now());
      await touchGateway(req.principal, snapshot.version);
      return reply.header('etag', policyEtag(snapshot.version)).send(snapshot);
    },
  );

  app.get(
    '/policy/events',
    {
      config: { authz: { roles: ['gateway', 'admin'] as const } },
      schema: {
        tags: ['policy'],
        summary: 'Server-Sent Events: `version` on connect and on every new policy version; a comment line every 15 s',
        querystring: NoQuery,
        response: { 200: Type.String({ description: 'text/event-stream' }) },
      },
    },
    async (req, reply) => {
      await touchGateway(req.principal, null);
      const p = req.principal;
      // Listen before reading the version: a change committed in between is then announced, not lost.
      let last: number | null = null;
      const early: number[] = [];
      const stream = new PassThrough();
      const unsubscribe = ctx.policyEvents.subscribe((v) => {
        if (last === null) early.push(v);
        else if (v > last && !stream.writableEnded) {
          last = v;
          stream.write(sseEvent('version', v));
        }
      });
      let version: number;
      try {
        version = Math.max(await readPolicyVersion(ctx.db), ...early);
      } catch (err) {
        unsubscribe();
        throw err;
      }
      last = version;
      streams.set(stream, p?.kind === 'token' ? p.id : null);
      stream.write(`retry: ${RETRY_MS}\n\n`);
      stream.write(sseEvent('version', version));
      const heartbeat = setInterval(() => {
        if (stream.writableEnded) return;
        stream.write(SSE_HEARTBEAT);
        touchLater(p, req.log);
      }, HEARTBEAT_MS);
      // Fastify destroys the stream when the client goes away; the server's close ends it.
      stream.once('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(stream);
      });
      return reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache, no-transform')
        .header('x-accel-buffering', 'no')
        // The schema says what the body is (text); fastify pipes a stream as it is, unserialised.
        .send(stream as unknown as string);
    },
  );

  // A server closing waits for open responses: end the streams first, so close() does not hang on them.
  app.addHook('preClose', (done) => {
    for (const stream of streams.keys()) stream.end();
    done();
  });

  const toGateway = (
    g: Pick<Selectable<GatewaysTable>, 'id' | 'site_id' | 'name' | 'token_id' | 'created_at' | 'last_seen_at' | 'policy_version_seen'> & { revoked_at: number | null },
    current: number,
    listening: ReadonlySet<string | null>,
  ): GatewayJson => ({
    id: g.id,
    siteId: g.site_id,
    name: g.name,
    tokenId: g.token_id,
    tokenRevoked: g.revoked_at !== null,
    createdAt: Number(g.created_at),
    lastSeenAt: g.last_seen_at === null ? null : Number(g.last_seen_at),
    policyVersionSeen: g.policy_version_seen === null ? null : Number(g.policy_version_seen),
    upToDate: g.policy_version_seen !== null && Number(g.policy_version_seen) === current,
    listening: listening.has(g.token_id),
  });

  app.get(
    '/gateways',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor'] as const } },
      schema: {
        tags: ['policy'],
        summary: 'Gateways, when each was last seen and the policy version it holds',
        querystring: Type.Object({ siteId: Type.Optional(SiteId) }, { additionalProperties: false }),
        response: { 200: Type.Object({ policyVersion: Type.Integer(), gateways: Type.Array(Gateway) }, { additionalProperties: false }) },
      },
    },
    async (req) => {
      let q = ctx.db
        .selectFrom('gateways')
        .innerJoin('api_tokens', 'api_tokens.id', 'gateways.token_id')
        .select(['gateways.id', 'gateways.site_id', 'gateways.name', 'gateways.token_id', 'gateways.created_at', 'gateways.last_seen_at', 'gateways.policy_version_seen', 'api_tokens.revoked_at'])
        .orderBy('gateways.site_id')
        .orderBy('gateways.name');
      if (req.query.siteId !== undefined) q = q.where('gateways.site_id', '=', req.query.siteId);
      const [rows, current] = await Promise.all([q.execute(), readPolicyVersion(ctx.db)]);
      const listening = new Set(streams.values());
      return { policyVersion: current, gateways: rows.map((g) => toGateway(g, current, listening)) };
    },
  );

  app.post(
    '/gateways',
    {
      config: { authz: { roles: ['admin'] as const } },
      schema: {
        tags: ['policy'],
        summary: 'Attach a gateway: creates it and its token (role gateway, bound to the site); the token is shown only in this response',
        body: Type.Object({ siteId: SiteId, name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
        response: { 201: Type.Object({ token: Type.String(), gateway: Gateway }, { additionalProperties: false }), 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const { siteId, name } = req.body;
      const now = ctx.clock.now();
      const actor = actorOf(req.principal);
      const id = newId('gwy');
      const { tokenId, token } = await ctx.db.transaction().execute(async (trx) => {
        const t = await createApiToken(trx, { name, role: 'gateway', siteId, createdBy: actor }, now);
        await recordChange(trx, { actor, entity: 'token', entityId: t.id, action: 'create', before: null, after: { name, role: 'gateway', siteId }, at: now });
        await trx.insertInto('gateways').values({ id, site_id: siteId, name, token_id: t.id, last_seen_at: null, policy_version_seen: null, created_at: now }).execute();
        await recordChange(trx, { actor, entity: 'gateway', entityId: id, action: 'create', before: null, after: { siteId, name, tokenId: t.id }, at: now });
        return { tokenId: t.id, token: t.token };
      });
      const current = await readPolicyVersion(ctx.db);
      const gateway = toGateway({ id, site_id: siteId, name, token_id: tokenId, created_at: now, last_seen_at: null, policy_version_seen: null, revoked_at: null }, current, new Set());
      return reply.code(201).send({ token, gateway });
    },
  );
};
