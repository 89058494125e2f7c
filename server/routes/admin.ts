/** Administrators manage logins (people) and API tokens (services, gateways). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ROLES } from '../db/schema.js';
import { actorOf, recordChange } from '../db/changes.js';
import { hashPassword, weakPassword } from '../auth/passwords.js';
import { createApiToken, destroyUserSessions } from '../auth/sessions.js';
import { newId } from '../ids.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { IdParam, NoQuery, PageQuery, ProblemSchema } from './schemas.js';

const PersonRole = Type.Union([Type.Literal('admin'), Type.Literal('manager'), Type.Literal('auditor'), Type.Literal('member')]);
const User = Type.Object(
  { id: Type.String(), username: Type.String(), role: PersonRole, memberId: Type.Union([Type.String(), Type.Null()]), disabled: Type.Boolean(), createdAt: Type.Integer() },
  { additionalProperties: false },
);
const Token = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: Type.Union(ROLES.map((r) => Type.Literal(r))),
    siteId: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.Integer(),
    lastUsedAt: Type.Union([Type.Integer(), Type.Null()]),
    revoked: Type.Boolean(),
  },
  { additionalProperties: false },
);
const Username = Type.String({ minLength: 2, maxLength: 64, pattern: '^[A-Za-z0-9._@-]+$' });

export const adminRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const admin = { authz: { roles: ['admin'] as const } };
  const toUser = (u: { id: string; username: string; role: 'admin' | 'manager' | 'auditor' | 'member'; member_id: string | null; disabled: number; created_at: number }) => ({
    id: u.id,
    username: u.username,
    role: u.role,
    memberId: u.member_id,
    disabled: u.disabled !== 0,
    createdAt: Number(u.created_at),
  });

  app.get(
    '/users',
    { config: admin, schema: { tags: ['admin'], summary: 'Logins', querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }), response: { 200: Type.Array(User) } } },
    async (req) => {
      const rows = await ctx.db.selectFrom('users').selectAll().orderBy('username').limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute();
      return rows.map(toUser);
    },
  );

  app.post(
    '/users',
    {
      config: admin,
      schema: {
        tags: ['admin'],
        summary: 'Create a login (a member login must name its member)',
        body: Type.Object({ username: Username, password: Type.String({ minLength: 1, maxLength: 1024 }), role: PersonRole, memberId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false }),
        response: { 201: User, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const { username, password, role, memberId } = req.body;
      const weak = weakPassword(password, username);
      if (weak) throw problems.unprocessable(weak);
      if (role === 'member' && !memberId) throw problems.unprocessable('a member login needs memberId: the member it belongs to');
      if (role !== 'member' && memberId) throw problems.unprocessable('only member logins belong to a member; leave memberId out');
      if (memberId && !(await ctx.db.selectFrom('members').select('id').where('id', '=', memberId).executeTakeFirst())) throw problems.unprocessable(`there is no member ${memberId}`);
      if (await ctx.db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst()) throw problems.conflict(`the user name ${username} is taken`);
      const now = ctx.clock.now();
      const row = { id: newId('usr'), username, password_hash: hashPassword(password, ctx.passwordParams), role, member_id: memberId ?? null, disabled: 0, created_at: now, updated_at: now };
      await ctx.db.transaction().execute(async (trx) => {
        await trx.insertInto('users').values(row).execute();
        await recordChange(trx, { actor: actorOf(req.principal), entity: 'user', entityId: row.id, action: 'create', before: null, after: { username, role, memberId: row.member_id }, at: now });
      });
      return reply.code(201).send(toUser(row));
    },
  );

  app.patch(
    '/users/:id',
    {
      config: admin,
      schema: {
        tags: ['admin'],
        summary: 'Change a login’s role, disable it, or set a new password (ends its sessions)',
        params: IdParam,
        body: Type.Object({ role: Type.Optional(PersonRole), disabled: Type.Optional(Type.Boolean()), password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: User, 404: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req) => {
      const user = await ctx.db.selectFrom('users').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!user) throw problems.notFound(`user ${req.params.id}`);
      const { role, disabled, password } = req.body;
      if (role === 'member' && !user.member_id) throw problems.unprocessable('this login belongs to no member; create a member login instead');
      if (password !== undefined) {
        const weak = weakPassword(password, user.username);
        if (weak) throw problems.unprocessable(weak);
      }
      if (req.principal?.kind === 'user' && req.principal.id === user.id && (disabled === true || (role !== undefined && role !== 'admin'))) {
        throw problems.unprocessable('you cannot disable or demote your own login; ask another administrator');
      }
      const now = ctx.clock.now();
      const set = {
        ...(role !== undefined && { role }),
        ...(disabled !== undefined && { disabled: disabled ? 1 : 0 }),
        ...(password !== undefined && { password_hash: hashPassword(password, ctx.passwordParams) }),
        updated_at: now,
      };
      await ctx.db.transaction().execute(async (trx) => {
        await trx.updateTable('users').set(set).where('id', '=', user.id).execute();
        await recordChange(trx, {
          actor: actorOf(req.principal),
          entity: 'user',
          entityId: user.id,
          action: 'update',
          before: { role: user.role, disabled: user.disabled !== 0 },
          after: { role: role ?? user.role, disabled: disabled ?? user.disabled !== 0, ...(password !== undefined && { password: 'reset' }) },
          at: now,
        });
      });
      if (disabled || password !== undefined || role !== undefined) await destroyUserSessions(ctx.db, user.id);
      return toUser({ ...user, ...set });
    },
  );

  const toToken = (t: { id: string; name: string; role: (typeof ROLES)[number]; site_id: string | null; created_at: number; last_used_at: number | null; revoked_at: number | null }) => ({
    id: t.id,
    name: t.name,
    role: t.role,
    siteId: t.site_id,
    createdAt: Number(t.created_at),
    lastUsedAt: t.last_used_at === null ? null : Number(t.last_used_at),
    revoked: t.revoked_at !== null,
  });

  app.get(
    '/tokens',
    { config: admin, schema: { tags: ['admin'], summary: 'API tokens (never their secrets)', querystring: NoQuery, response: { 200: Type.Array(Token) } } },
    async () => (await ctx.db.selectFrom('api_tokens').selectAll().orderBy('created_at').execute()).map(toToken),
  );

  app.post(
    '/tokens',
    {
      config: admin,
      schema: {
        tags: ['admin'],
        summary: 'Create an API token; its secret is shown only in this response',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            role: Type.Union(ROLES.filter((r) => r !== 'member').map((r) => Type.Literal(r))),
            siteId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ token: Type.String(), info: Token }, { additionalProperties: false }), 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const { name, role, siteId } = req.body;
      if (role === 'gateway' && !siteId) throw problems.unprocessable('a gateway token is bound to a site: give siteId');
      const now = ctx.clock.now();
      const { id, token } = await createApiToken(ctx.db, { name, role, siteId: siteId ?? null, createdBy: actorOf(req.principal) }, now);
      await recordChange(ctx.db, { actor: actorOf(req.principal), entity: 'token', entityId: id, action: 'create', before: null, after: { name, role, siteId: siteId ?? null }, at: now });
      return reply.code(201).send({ token, info: toToken({ id, name, role, site_id: siteId ?? null, created_at: now, last_used_at: null, revoked_at: null }) });
    },
  );

  app.delete(
    '/tokens/:id',
    { config: admin, schema: { tags: ['admin'], summary: 'Revoke an API token', params: IdParam, response: { 204: Type.Null(), 404: ProblemSchema } } },
    async (req, reply) => {
      const now = ctx.clock.now();
      const r = await ctx.db.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', req.params.id).where('revoked_at', 'is', null).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) throw problems.notFound(`token ${req.params.id}`);
      await recordChange(ctx.db, { actor: actorOf(req.principal), entity: 'token', entityId: req.params.id, action: 'delete', before: null, after: { revoked: true }, at: now });
      return reply.code(204).send(null);
    },
  );
};
