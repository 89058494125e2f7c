/**
 * Members: the people who use the space. Staff list, create and change them;
 * a member reads only their own record. Members are never deleted — accounting
 * and the change log refer to them for years — they leave (status left, leftOn).
 *
 * The field rules here (formats, cross-field rules) are shared with the CSV
 * import (./import-export.ts), so a record is accepted or refused for the same
 * reasons whichever way it arrives.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { assertOwnedBy, ownMemberScope } from '../auth/principal.js';
import { actorOf, recordChange } from '../db/changes.js';
import type { MemberRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { IdParam, IsoDate, NoQuery, PageQuery, ProblemSchema } from './schemas.js';

export const MEMBER_STATUSES = ['active', 'suspended', 'left'] as const;
/** Whose statement a member's usage goes on (docs/accounting.md, "Who is billed"). */
export const BILL_TO = ['team', 'self'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

/**
 * Field formats, one definition for the API schemas and the CSV import. A
 * member number starts with a letter or digit (so a spreadsheet never reads it
 * as a formula) and has no spaces.
 */
export const FIELD = Object.freeze({
  memberNo: { pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]*$', maxLength: 32 },
  name: { maxLength: 200 },
  email: { maxLength: 254 },
  phone: { pattern: '^\\+?[0-9][0-9 ()-]*$', minLength: 3, maxLength: 32 },
  note: { maxLength: 500 },
  id: { maxLength: 64 },
});

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** One line of text with no space at either end (names, numbers). */
export const ONE_LINE = '^\\S(.*\\S)?$';
/** Free text that may run over several lines, with no space at either end (notes, reasons). */
export const TEXT = '^\\S([\\s\\S]*\\S)?$';

/** A name: one line, not blank. */
export const NameText = Type.String({ minLength: 1, maxLength: FIELD.name.maxLength, pattern: ONE_LINE });
const MemberNo = Type.String({ minLength: 1, ...FIELD.memberNo, description: 'Letters, digits and . _ / - ; starts with a letter or digit' });
const Email = Type.String({ format: 'email', maxLength: FIELD.email.maxLength });
const Phone = Type.String({ ...FIELD.phone, description: 'Digits, spaces, ( ) and -, optionally starting with +' });
const RefId = Type.String({ minLength: 1, maxLength: FIELD.id.maxLength });
const MemberStatusSchema = Type.Union(MEMBER_STATUSES.map((s) => Type.Literal(s)));
const BillToSchema = Type.Union(BILL_TO.map((s) => Type.Literal(s)), {
  description: "team: usage goes on the statement of the team the use was recorded for (personal when none); self: always the member's own",
});
const PriceGroup = Type.String({ minLength: 1, maxLength: 64, pattern: ONE_LINE, description: "The rate card's member group whose prices apply" });

export const MemberSchema = Type.Object(
  {
    id: Type.String(),
    memberNo: Type.String(),
    name: Type.String(),
    nameZh: Nullable(Type.String()),
    email: Nullable(Type.String()),
    phone: Nullable(Type.String()),
    teamId: Nullable(Type.String()),
    status: MemberStatusSchema,
    joinedOn: Type.String(),
    leftOn: Nullable(Type.String()),
    planId: Nullable(Type.String()),
    planValidFrom: Nullable(Type.String()),
    planValidTo: Nullable(Type.String()),
    priceGroup: Nullable(Type.String()),
    billTo: BillToSchema,
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
  },
  { additionalProperties: false },
);

export function toMember(m: MemberRow) {
  return {
    id: m.id,
    memberNo: m.member_no,
    name: m.name,
    nameZh: m.name_zh,
    email: m.email,
    phone: m.phone,
    teamId: m.team_id,
    status: m.status,
    joinedOn: m.joined_on,
    leftOn: m.left_on,
    planId: m.plan_id,
    planValidFrom: m.plan_valid_from,
    planValidTo: m.plan_valid_to,
    priceGroup: m.price_group,
    billTo: m.bill_to,
    createdAt: Number(m.created_at),
    updatedAt: Number(m.updated_at),
  };
}

/** The fields the cross-field rules look at. */
export interface MemberFacts {
  readonly status: MemberStatus;
  readonly joinedOn: string;
  readonly leftOn: string | null;
  readonly planId: string | null;
  readonly planValidFrom: string | null;
  readonly planValidTo: string | null;
}

/**
 * What is wrong with a member record as a whole (dates already valid ISO
 * dates, so they compare as text): a member who left has a leaving date and
 * only they do; plan validity needs a plan and runs forwards.
 */
export function memberRuleProblems(m: MemberFacts): { field: keyof MemberFacts; message: string }[] {
  const out: { field: keyof MemberFacts; message: string }[] = [];
  if (m.status === 'left' && m.leftOn === null) out.push({ field: 'leftOn', message: 'a member who left needs leftOn, the date they left' });
  if (m.status !== 'left' && m.leftOn !== null) out.push({ field: 'leftOn', message: `leftOn is only for a member who left; this one is ${m.status}` });
  if (m.leftOn !== null && m.leftOn < m.joinedOn) out.push({ field: 'leftOn', message: `leftOn ${m.leftOn} is before joinedOn ${m.joinedOn}` });
  if (m.planId === null && (m.planValidFrom !== null || m.planValidTo !== null)) {
    out.push({ field: m.planValidFrom !== null ? 'planValidFrom' : 'planValidTo', message: 'plan validity dates need a plan' });
  }
  if (m.planValidFrom !== null && m.planValidTo !== null && m.planValidTo < m.planValidFrom) {
    out.push({ field: 'planValidTo', message: `planValidTo ${m.planValidTo} is before planValidFrom ${m.planValidFrom}` });
  }
  return out;
}

/** A LIKE pattern matching `text` anywhere, with LIKE's own wildcards taken literally (used with ESCAPE '\'). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** `column LIKE pattern ESCAPE '\'`: the pattern is a bound parameter, never spliced into SQL. */
export function likeExpr(column: string, pattern: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`${sql.ref(column)} like ${pattern} escape '\\'`;
}

/** A UNIQUE constraint refused the write (two requests raced past the friendly check). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505');
}

const MemberCreate = Type.Object(
  {
    memberNo: MemberNo,
    name: NameText,
    nameZh: Type.Optional(Nullable(NameText)),
    email: Type.Optional(Nullable(Email)),
    phone: Type.Optional(Nullable(Phone)),
    teamId: Type.Optional(Nullable(RefId)),
    status: Type.Optional(MemberStatusSchema),
    joinedOn: IsoDate,
    leftOn: Type.Optional(Nullable(IsoDate)),
    planId: Type.Optional(Nullable(RefId)),
    planValidFrom: Type.Optional(Nullable(IsoDate)),
    planValidTo: Type.Optional(Nullable(IsoDate)),
    priceGroup: Type.Optional(Nullable(PriceGroup)),
    billTo: Type.Optional(BillToSchema),
  },
  { additionalProperties: false },
);

const MemberPatch = Type.Object(
  {
    memberNo: Type.Optional(MemberNo),
    name: Type.Optional(NameText),
    nameZh: Type.Optional(Nullable(NameText)),
    email: Type.Optional(Nullable(Email)),
    phone: Type.Optional(Nullable(Phone)),
    teamId: Type.Optional(Nullable(RefId)),
    status: Type.Optional(MemberStatusSchema),
    joinedOn: Type.Optional(IsoDate),
    leftOn: Type.Optional(Nullable(IsoDate)),
    planId: Type.Optional(Nullable(RefId)),
    planValidFrom: Type.Optional(Nullable(IsoDate)),
    planValidTo: Type.Optional(Nullable(IsoDate)),
    priceGroup: Type.Optional(Nullable(PriceGroup)),
    billTo: Type.Optional(BillToSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);

const ListQuery = Type.Object(
  {
    status: Type.Optional(MemberStatusSchema),
    teamId: Type.Optional(RefId),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000]*$', description: 'Part of the member number, name or Chinese name' })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

const STAFF = ['admin', 'manager', 'auditor'] as const;
const WRITERS = ['admin', 'manager'] as const;

export const memberRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const db = ctx.db;

  /** 422 for references to things that do not exist; the field says which. */
  async function checkReferences(teamId: string | null, planId: string | null): Promise<void> {
    const errors: { path: string; message: string }[] = [];
    if (teamId !== null && !(await db.selectFrom('teams').select('id').where('id', '=', teamId).executeTakeFirst())) {
      errors.push({ path: 'body/teamId', message: `there is no team ${teamId}` });
    }
    if (planId !== null && !(await db.selectFrom('plans').select('id').where('id', '=', planId).executeTakeFirst())) {
      errors.push({ path: 'body/planId', message: `there is no plan ${planId}` });
    }
    if (errors.length > 0) throw problems.unprocessable(errors.map((e) => e.message).join('; '), errors);
  }

  function checkRules(m: MemberFacts): void {
    const errors = memberRuleProblems(m).map((p) => ({ path: `body/${p.field}`, message: p.message }));
    if (errors.length > 0) throw problems.unprocessable(errors.map((e) => e.message).join('; '), errors);
  }

  const duplicateNo = (memberNo: string) => problems.conflict(`member number ${memberNo} is taken; member numbers are unique`);

  app.get(
    '/members',
    {
      config: { authz: { roles: STAFF } },
      schema: {
        tags: ['members'],
        summary: 'Members, by member number; filter by status, team, or a search text',
        querystring: ListQuery,
        response: { 200: Type.Array(MemberSchema) },
      },
    },
    async (req) => {
      const { status, teamId, q, limit, offset } = req.query;
      let query = db.selectFrom('members').selectAll();
      if (status !== undefined) query = query.where('status', '=', status);
      if (teamId !== undefined) query = query.where('team_id', '=', teamId);
      if (q !== undefined) {
        const p = containsPattern(q.trim());
        query = query.where((eb) => eb.or([likeExpr('member_no', p), likeExpr('name', p), likeExpr('name_zh', p)]));
      }
      const rows = await query.orderBy('member_no').limit(limit ?? 50).offset(offset ?? 0).execute();
      return rows.map(toMember);
    },
  );

  app.post(
    '/members',
    {
      config: { authz: { roles: WRITERS } },
      schema: {
        tags: ['members'],
        summary: 'Add a member (members are never deleted: they leave, for history and accounting)',
        body: MemberCreate,
        response: { 201: MemberSchema, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const facts: MemberFacts = {
        status: b.status ?? 'active',
        joinedOn: b.joinedOn,
        leftOn: b.leftOn ?? null,
        planId: b.planId ?? null,
        planValidFrom: b.planValidFrom ?? null,
        planValidTo: b.planValidTo ?? null,
      };
      checkRules(facts);
      await checkReferences(b.teamId ?? null, facts.planId);
      const now = ctx.clock.now();
      const row: MemberRow = {
        id: newId('mem'),
        member_no: b.memberNo,
        name: b.name,
        name_zh: b.nameZh ?? null,
        email: b.email ?? null,
        phone: b.phone ?? null,
        team_id: b.teamId ?? null,
        status: facts.status,
        joined_on: facts.joinedOn,
        left_on: facts.leftOn,
        plan_id: facts.planId,
        plan_valid_from: facts.planValidFrom,
        plan_valid_to: facts.planValidTo,
        price_group: b.priceGroup ?? null,
        bill_to: b.billTo ?? 'team',
        created_at: now,
        updated_at: now,
      };
      let version: number;
      try {
        version = await db.transaction().execute(async (trx) => {
          if (await trx.selectFrom('members').select('id').where('member_no', '=', row.member_no).executeTakeFirst()) throw duplicateNo(row.member_no);
          await trx.insertInto('members').values(row).execute();
          return recordChange(trx, { actor: actorOf(req.principal), entity: 'member', entityId: row.id, action: 'create', before: null, after: toMember(row), at: now });
        });
      } catch (err) {
        throw isUniqueViolation(err) ? duplicateNo(row.member_no) : err;
      }
      ctx.policyChanged(version);
      return reply.code(201).send(toMember(row));
    },
  );

  app.get(
    '/members/:id',
    {
      config: { authz: { roles: [...STAFF, 'member'] } },
      schema: { tags: ['members'], summary: 'One member (a member may read only their own record)', params: IdParam, querystring: NoQuery, response: { 200: MemberSchema, 404: ProblemSchema } },
    },
    async (req) => {
      assertOwnedBy(req.principal, req.params.id, `member ${req.params.id}`);
      const row = await db.selectFrom('members').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!row) throw problems.notFound(`member ${req.params.id}`);
      return toMember(row);
    },
  );

  app.patch(
    '/members/:id',
    {
      config: { authz: { roles: WRITERS } },
      schema: {
        tags: ['members'],
        summary: 'Change a member; a member leaving gets status left and leftOn (members are never deleted)',
        params: IdParam,
        body: MemberPatch,
        response: { 200: MemberSchema, 404: ProblemSchema, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req) => {
      const b = req.body;
      const before = await db.selectFrom('members').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!before) throw problems.notFound(`member ${req.params.id}`);
      const status = b.status ?? before.status;
      const planId = b.planId !== undefined ? b.planId : before.plan_id;
      const facts: MemberFacts = {
        status,
        joinedOn: b.joinedOn ?? before.joined_on,
        // Coming back (status no longer left) clears the leaving date unless it is given.
        leftOn: b.leftOn !== undefined ? b.leftOn : status === 'left' ? before.left_on : null,
        planId,
        // Taking the plan away takes its validity with it unless dates are given.
        planValidFrom: b.planValidFrom !== undefined ? b.planValidFrom : planId === null ? null : before.plan_valid_from,
        planValidTo: b.planValidTo !== undefined ? b.planValidTo : planId === null ? null : before.plan_valid_to,
      };
      checkRules(facts);
      await checkReferences(b.teamId ?? null, b.planId ?? null);
      const now = ctx.clock.now();
      const after: MemberRow = {
        ...before,
        ...(b.memberNo !== undefined && { member_no: b.memberNo }),
        ...(b.name !== undefined && { name: b.name }),
        ...(b.nameZh !== undefined && { name_zh: b.nameZh }),
        ...(b.email !== undefined && { email: b.email }),
        ...(b.phone !== undefined && { phone: b.phone }),
        ...(b.teamId !== undefined && { team_id: b.teamId }),
        ...(b.priceGroup !== undefined && { price_group: b.priceGroup }),
        ...(b.billTo !== undefined && { bill_to: b.billTo }),
        status: facts.status,
        joined_on: facts.joinedOn,
        left_on: facts.leftOn,
        plan_id: facts.planId,
        plan_valid_from: facts.planValidFrom,
        plan_valid_to: facts.planValidTo,
        updated_at: now,
      };
      const { id: _id, created_at: _c, ...set } = after;
      let version: number;
      try {
        version = await db.transaction().execute(async (trx) => {
          if (after.member_no !== before.member_no && (await trx.selectFrom('members').select('id').where('member_no', '=', after.member_no).executeTakeFirst())) {
            throw duplicateNo(after.member_no);
          }
          await trx.updateTable('members').set(set).where('id', '=', before.id).execute();
          return recordChange(trx, { actor: actorOf(req.principal), entity: 'member', entityId: before.id, action: 'update', before: toMember(before), after: toMember(after), at: now });
        });
      } catch (err) {
        throw isUniqueViolation(err) ? duplicateNo(after.member_no) : err;
      }
      ctx.policyChanged(version);
      return toMember(after);
    },
  );

  app.get(
    '/me/member',
    {
      config: { authz: { roles: ['member'] } },
      schema: { tags: ['members', 'me'], summary: 'My own member record', querystring: NoQuery, response: { 200: MemberSchema, 404: ProblemSchema } },
    },
    async (req) => {
      const own = ownMemberScope(req.principal) ?? '';
      const row = await db.selectFrom('members').selectAll().where('id', '=', own).executeTakeFirst();
      if (!row) throw problems.notFound('your member record');
      return toMember(row);
    },
  );
};
