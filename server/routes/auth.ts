/** Logging in and out (session cookie), who am I, changing one's password. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ROLES } from '../db/schema.js';
import { recordChange } from '../db/changes.js';
import { hashPassword, verifyPassword, weakPassword } from '../auth/passwords.js';
import { createSession, destroySession, destroyUserSessions, SESSION_COOKIE } from '../auth/sessions.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { Empty, NoQuery, ProblemSchema } from './schemas.js';

const Me = Type.Object(
  {
    kind: Type.Union([Type.Literal('user'), Type.Literal('token')]),
    id: Type.String(),
    name: Type.String(),
    role: Type.Union(ROLES.map((r) => Type.Literal(r))),
    memberId: Type.Union([Type.String(), Type.Null()]),
    siteId: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

const ALL = [...ROLES];

export const authRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/auth/login',
    {
      config: { authz: { roles: 'public' }, rateLimit: { max: ctx.limits.loginPerIpPerMinute, timeWindow: '1 minute' } },
      schema: {
        tags: ['auth'],
        summary: 'Log in; sets the session cookie',
        body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 128 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
        response: { 200: Me, 401: ProblemSchema, 429: ProblemSchema },
      },
    },
    async (req, reply) => {
      const now = ctx.clock.now();
      const { username, password } = req.body;
      if (!ctx.loginGuard.allowed(username, now)) throw problems.tooMany('too many failed logins for this account; wait a few minutes and try again');
      const user = await ctx.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
      // Verify even for unknown users, so timing does not tell which names exist.
      const ok = verifyPassword(user?.password_hash ?? ctx.dummyHash, password) && user !== undefined && !user.disabled;
      if (!ok || !user) {
        ctx.loginGuard.failed(username, now);
        req.log.info({ username }, 'login failed');
        throw problems.unauthorized('wrong user name or password');
      }
      ctx.loginGuard.succeeded(username);
      const secret = await createSession(ctx.db, user.id, now, ctx.sessionTtlMs);
      void reply.setCookie(SESSION_COOKIE, secret, {
        httpOnly: true,
        sameSite: 'strict',
        path: '/',
        secure: req.protocol === 'https',
        maxAge: Math.floor(ctx.sessionTtlMs / 1000),
      });
      return { kind: 'user' as const, id: user.id, name: user.username, role: user.role, memberId: user.member_id, siteId: null };
    },
  );

  app.post(
    '/auth/logout',
    { config: { authz: { roles: ALL, selfService: true } }, schema: { tags: ['auth'], summary: 'Log out (ends this session)', body: Type.Optional(Empty), response: { 204: Type.Null() } } },
    async (req, reply) => {
      const cookie = req.cookies[SESSION_COOKIE];
      if (cookie) await destroySession(ctx.db, cookie);
      void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/auth/me',
    { config: { authz: { roles: ALL } }, schema: { tags: ['auth'], summary: 'Who is calling', querystring: NoQuery, response: { 200: Me } } },
    async (req) => {
      const p = req.principal!;
      return p.kind === 'user'
        ? { kind: 'user' as const, id: p.id, name: p.username, role: p.role, memberId: p.memberId, siteId: null }
        : { kind: 'token' as const, id: p.id, name: p.name, role: p.role, memberId: null, siteId: p.siteId };
    },
  );

  app.post(
    '/auth/password',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'member'], selfService: true } },
      schema: {
        tags: ['auth'],
        summary: 'Change one’s own password (ends every other session)',
        body: Type.Object({ current: Type.String({ minLength: 1, maxLength: 1024 }), next: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), 401: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      if (p.kind !== 'user') throw problems.forbidden('API tokens have no password');
      const user = await ctx.db.selectFrom('users').selectAll().where('id', '=', p.id).executeTakeFirstOrThrow();
      if (!verifyPassword(user.password_hash, req.body.current)) throw problems.unauthorized('the current password is wrong');
      const weak = weakPassword(req.body.next, user.username);
      if (weak) throw problems.unprocessable(weak);
      const now = ctx.clock.now();
      await ctx.db.transaction().execute(async (trx) => {
        await trx.updateTable('users').set({ password_hash: hashPassword(req.body.next, ctx.passwordParams), updated_at: now }).where('id', '=', p.id).execute();
        await recordChange(trx, { actor: `user:${p.username}`, entity: 'user', entityId: p.id, action: 'update', before: null, after: { password: 'changed' }, at: now });
      });
      await destroyUserSessions(ctx.db, p.id);
      const secret = await createSession(ctx.db, p.id, now, ctx.sessionTtlMs);
      void reply.setCookie(SESSION_COOKIE, secret, { httpOnly: true, sameSite: 'strict', path: '/', secure: req.protocol === 'https', maxAge: Math.floor(ctx.sessionTtlMs / 1000) });
      return reply.code(204).send(null);
    },
  );
};
