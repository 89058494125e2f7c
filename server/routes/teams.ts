/**
 * Start-up teams incubated in the space. A team is registered, then graduates
 * or exits (with the date and the reason, which the space reports on). Team
 * names are unique (ignoring case): spreadsheets refer to teams by name.
 * Staff read and write; a member reads only their own team.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Principal } from '../auth/principal.js';
import { ownMemberScope } from '../auth/principal.js';
import { actorOf, recordChange } from '../db/changes.js';
import type { ServerDb } from '../db/database.js';
import type { TeamRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { containsPattern, likeExpr, MEMBER_STATUSES, NameText, Nullable, TEXT } from './members.js';
import { IdParam, IsoDate, NoQuery, PageQuery, ProblemSchema } from './schemas.js';

export const TEAM_STATUSES = ['incubating', 'graduated', 'exited'] as const;
export type TeamStatus = (typeof TEAM_STATUSES)[number];
export const EXIT_REASON_MAX = 500;

const TeamStatusSchema = Type.Union(TEAM_STATUSES.map((s) => Type.Literal(s)));
const ExitReason = Type.String({ minLength: 1, maxLength: EXIT_REASON_MAX, pattern: TEXT });

export const TeamSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    nameZh: Nullable(Type.String()),
    foundedOn: Nullable(Type.String()),
    registeredOn: Type.String(),
    status: TeamStatusSchema,
    exitOn: Nullable(Type.String()),
    exitReason: Nullable(Type.String()),
    graduatedOn: Nullable(Type.String()),
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
  },
  { additionalProperties: false },
);

export function toTeam(t: TeamRow) {
  return {
    id: t.id,
    name: t.name,
    nameZh: t.name_zh,
    foundedOn: t.founded_on,
    registeredOn: t.registered_on,
    status: t.status,
    exitOn: t.exit_on,
    exitReason: t.exit_reason,
    graduatedOn: t.graduated_on,
    createdAt: Number(t.created_at),
    updatedAt: Number(t.updated_at),
  };
}

export interface TeamFacts {
  readonly status: TeamStatus;
  readonly registeredOn: string;
  readonly foundedOn: string | null;
  readonly exitOn: string | null;
  readonly exitReason: string | null;
  readonly graduatedOn: string | null;
}

/**
 * What is wrong with a team as a whole: an exited team has an exit date and a
 * reason, and only an exited team has them; it exits after it registered; only
 * a graduated team has a graduation date (optional), not before it registered. (A
 * team may be founded after it registers: incubators take teams before the
 * company exists.)
 */
export function teamRuleProblems(t: TeamFacts): { field: keyof TeamFacts; message: string }[] {
  const out: { field: keyof TeamFacts; message: string }[] = [];
  if (t.status === 'exited') {
    if (t.exitOn === null) out.push({ field: 'exitOn', message: 'an exited team needs exitOn, the date it left' });
    if (t.exitReason === null) out.push({ field: 'exitReason', message: 'an exited team needs exitReason, why it left' });
  } else {
    if (t.exitOn !== null) out.push({ field: 'exitOn', message: `exitOn is only for an exited team; this one is ${t.status}` });
    if (t.exitReason !== null) out.push({ field: 'exitReason', message: `exitReason is only for an exited team; this one is ${t.status}` });
  }
  if (t.exitOn !== null && t.exitOn < t.registeredOn) out.push({ field: 'exitOn', message: `exitOn ${t.exitOn} is before registeredOn ${t.registeredOn}` });
  if (t.graduatedOn !== null && t.status !== 'graduated') out.push({ field: 'graduatedOn', message: `graduatedOn is only for a graduated team; this one is ${t.status}` });
  if (t.graduatedOn !== null && t.graduatedOn < t.registeredOn) out.push({ field: 'graduatedOn', message: `graduatedOn ${t.graduatedOn} is before registeredOn ${t.registeredOn}` });
  return out;
}

/** The key that makes team names unique. */
export const teamNameKey = (name: string): string => name.trim().toLowerCase();

/**
 * Another team (not `exceptId`) already called `name`, ignoring case. Compared
 * here rather than with SQL lower(), which folds only ASCII; a space has
 * hundreds of teams, not millions.
 */
async function teamNamed(db: ServerDb, name: string, exceptId: string | null): Promise<TeamRow | undefined> {
  const key = teamNameKey(name);
  const rows = await db.selectFrom('teams').selectAll().execute();
  return rows.find((r) => r.id !== exceptId && teamNameKey(r.name) === key);
}

/**
 * The team a member may see: their own. Staff see every team (null); a member
 * reaching for another team gets 404, as if it did not exist.
 */
export async function assertTeamVisible(db: ServerDb, p: Principal | null, teamId: string): Promise<void> {
  const scope = ownMemberScope(p);
  if (scope === undefined) throw problems.unauthorized();
  if (scope === null) return;
  const me = await db.selectFrom('members').select('team_id').where('id', '=', scope).executeTakeFirst();
  if (!me || me.team_id !== teamId) throw problems.notFound(`team ${teamId}`);
}

/** What a team's members see of each other (contact details and plans stay with staff: GET /members?teamId=). */
const TeamMember = Type.Object(
  {
    id: Type.String(),
    memberNo: Type.String(),
    name: Type.String(),
    nameZh: Nullable(Type.String()),
    status: Type.Union(MEMBER_STATUSES.map((s) => Type.Literal(s))),
    joinedOn: Type.String(),
    leftOn: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

const TeamCreate = Type.Object(
  {
    name: NameText,
    nameZh: Type.Optional(Nullable(NameText)),
    foundedOn: Type.Optional(Nullable(IsoDate)),
    registeredOn: IsoDate,
    status: Type.Optional(TeamStatusSchema),
    exitOn: Type.Optional(Nullable(IsoDate)),
    exitReason: Type.Optional(Nullable(ExitReason)),
    graduatedOn: Type.Optional(Nullable(IsoDate)),
  },
  { additionalProperties: false },
);

const TeamPatch = Type.Object(
  {
    name: Type.Optional(NameText),
    nameZh: Type.Optional(Nullable(NameText)),
    foundedOn: Type.Optional(Nullable(IsoDate)),
    registeredOn: Type.Optional(IsoDate),
    status: Type.Optional(TeamStatusSchema),
    exitOn: Type.Optional(Nullable(IsoDate)),
    exitReason: Type.Optional(Nullable(ExitReason)),
    graduatedOn: Type.Optional(Nullable(IsoDate)),
  },
  { additionalProperties: false, minProperties: 1 },
);

const STAFF = ['admin', 'manager', 'auditor'] as const;
const WRITERS = ['admin', 'manager'] as const;

export const teamRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const db = ctx.db;

  function checkRules(t: TeamFacts): void {
    const errors = teamRuleProblems(t).map((p) => ({ path: `body/${p.field}`, message: p.message }));
    if (errors.length > 0) throw problems.unprocessable(errors.map((e) => e.message).join('; '), errors);
  }
  const nameTaken = (existing: TeamRow) => problems.conflict(`there is already a team called ${existing.name} (${existing.id}); team names are unique`);

  app.get(
    '/teams',
    {
      config: { authz: { roles: STAFF } },
      schema: {
        tags: ['teams'],
        summary: 'Teams, by name; filter by status or a search text',
        querystring: Type.Object(
          { status: Type.Optional(TeamStatusSchema), q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000]*$', description: 'Part of the name or Chinese name' })), ...PageQuery },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(TeamSchema) },
      },
    },
    async (req) => {
      const { status, q, limit, offset } = req.query;
      let query = db.selectFrom('teams').selectAll();
      if (status !== undefined) query = query.where('status', '=', status);
      if (q !== undefined) {
        const p = containsPattern(q.trim());
        query = query.where((eb) => eb.or([likeExpr('name', p), likeExpr('name_zh', p)]));
      }
      const rows = await query.orderBy('name').orderBy('id').limit(limit ?? 50).offset(offset ?? 0).execute();
      return rows.map(toTeam);
    },
  );

  app.post(
    '/teams',
    {
      config: { authz: { roles: WRITERS } },
      schema: {
        tags: ['teams'],
        summary: 'Register a team (status incubating unless given; exitOn and exitReason only, and always, for an exited team)',
        body: TeamCreate,
        response: { 201: TeamSchema, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const facts: TeamFacts = {
        status: b.status ?? 'incubating',
        registeredOn: b.registeredOn,
        foundedOn: b.foundedOn ?? null,
        exitOn: b.exitOn ?? null,
        exitReason: b.exitReason ?? null,
        graduatedOn: b.graduatedOn ?? null,
      };
      checkRules(facts);
      const now = ctx.clock.now();
      const row: TeamRow = {
        id: newId('team'),
        name: b.name,
        name_zh: b.nameZh ?? null,
        founded_on: facts.foundedOn,
        registered_on: facts.registeredOn,
        status: facts.status,
        exit_on: facts.exitOn,
        exit_reason: facts.exitReason,
        graduated_on: facts.graduatedOn,
        created_at: now,
        updated_at: now,
      };
      const version = await db.transaction().execute(async (trx) => {
        const taken = await teamNamed(trx, row.name, null);
        if (taken) throw nameTaken(taken);
        await trx.insertInto('teams').values(row).execute();
        return recordChange(trx, { actor: actorOf(req.principal), entity: 'team', entityId: row.id, action: 'create', before: null, after: toTeam(row), at: now });
      });
      ctx.policyChanged(version);
      return reply.code(201).send(toTeam(row));
    },
  );

  app.get(
    '/teams/:id',
    {
      config: { authz: { roles: [...STAFF, 'member'] } },
      schema: { tags: ['teams'], summary: 'One team (a member may read only their own team)', params: IdParam, querystring: NoQuery, response: { 200: TeamSchema, 404: ProblemSchema } },
    },
    async (req) => {
      await assertTeamVisible(db, req.principal, req.params.id);
      const row = await db.selectFrom('teams').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!row) throw problems.notFound(`team ${req.params.id}`);
      return toTeam(row);
    },
  );

  app.patch(
    '/teams/:id',
    {
      config: { authz: { roles: WRITERS } },
      schema: {
        tags: ['teams'],
        summary: 'Change a team; a team leaving gets status exited with exitOn and exitReason (teams are never deleted)',
        params: IdParam,
        body: TeamPatch,
        response: { 200: TeamSchema, 404: ProblemSchema, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req) => {
      const b = req.body;
      const before = await db.selectFrom('teams').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!before) throw problems.notFound(`team ${req.params.id}`);
      const status = b.status ?? before.status;
      // A team no longer exited (taken back in) loses its exit date and reason unless they are given.
      const keepExit = status === 'exited';
      const facts: TeamFacts = {
        status,
        registeredOn: b.registeredOn ?? before.registered_on,
        foundedOn: b.foundedOn !== undefined ? b.foundedOn : before.founded_on,
        exitOn: b.exitOn !== undefined ? b.exitOn : keepExit ? before.exit_on : null,
        exitReason: b.exitReason !== undefined ? b.exitReason : keepExit ? before.exit_reason : null,
        // Likewise a team no longer graduated loses its graduation date.
        graduatedOn: b.graduatedOn !== undefined ? b.graduatedOn : status === 'graduated' ? before.graduated_on : null,
      };
      checkRules(facts);
      const now = ctx.clock.now();
      const after: TeamRow = {
        ...before,
        ...(b.name !== undefined && { name: b.name }),
        ...(b.nameZh !== undefined && { name_zh: b.nameZh }),
        founded_on: facts.foundedOn,
        registered_on: facts.registeredOn,
        status: facts.status,
        exit_on: facts.exitOn,
        exit_reason: facts.exitReason,
        graduated_on: facts.graduatedOn,
        updated_at: now,
      };
      const { id: _id, created_at: _c, ...set } = after;
      const version = await db.transaction().execute(async (trx) => {
        if (b.name !== undefined) {
          const taken = await teamNamed(trx, b.name, before.id);
          if (taken) throw nameTaken(taken);
        }
        await trx.updateTable('teams').set(set).where('id', '=', before.id).execute();
        return recordChange(trx, { actor: actorOf(req.principal), entity: 'team', entityId: before.id, action: 'update', before: toTeam(before), after: toTeam(after), at: now });
      });
      ctx.policyChanged(version);
      return toTeam(after);
    },
  );

  app.get(
    '/teams/:id/members',
    {
      config: { authz: { roles: [...STAFF, 'member'] } },
      schema: {
        tags: ['teams'],
        summary: 'A team’s members (names and status; a member may list only their own team)',
        params: IdParam,
        querystring: Type.Object({ status: Type.Optional(Type.Union(MEMBER_STATUSES.map((s) => Type.Literal(s)))), ...PageQuery }, { additionalProperties: false }),
        response: { 200: Type.Array(TeamMember), 404: ProblemSchema },
      },
    },
    async (req) => {
      await assertTeamVisible(db, req.principal, req.params.id);
      if (!(await db.selectFrom('teams').select('id').where('id', '=', req.params.id).executeTakeFirst())) throw problems.notFound(`team ${req.params.id}`);
      let query = db.selectFrom('members').select(['id', 'member_no', 'name', 'name_zh', 'status', 'joined_on', 'left_on']).where('team_id', '=', req.params.id);
      if (req.query.status !== undefined) query = query.where('status', '=', req.query.status);
      const rows = await query.orderBy('member_no').limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute();
      return rows.map((m) => ({ id: m.id, memberNo: m.member_no, name: m.name, nameZh: m.name_zh, status: m.status, joinedOn: m.joined_on, leftOn: m.left_on }));
    },
  );

  app.get(
    '/me/team',
    {
      config: { authz: { roles: ['member'] } },
      schema: { tags: ['teams', 'me'], summary: 'My team (404 when I am in none)', querystring: NoQuery, response: { 200: TeamSchema, 404: ProblemSchema } },
    },
    async (req) => {
      const own = ownMemberScope(req.principal) ?? '';
      const row = await db
        .selectFrom('members')
        .innerJoin('teams', 'teams.id', 'members.team_id')
        .selectAll('teams')
        .where('members.id', '=', own)
        .executeTakeFirst();
      if (!row) throw problems.notFound('your team');
      return toTeam(row);
    },
  );
};
