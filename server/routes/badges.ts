/**
 * Badges: the cards a member holds. A badge is a (format, credential) pair in
 * the gateway's canonical form (normaliseCard), so the policy a gateway gets
 * matches what its readers decode. A credential is held by at most one badge
 * that has not been returned (the database enforces it too); returning a badge
 * frees its card for someone else. Badges are never deleted.
 *
 * An override badge (`override: true`) is a manager's card that opens doors
 * and machines whatever the rules (the gateway logs each use as an override).
 * Only an administrator may set or clear it — a manager could otherwise give
 * their own card the run of the place — and returning a badge clears it, so a
 * card handed back never carries it to its next holder. It is not part of the
 * CSV import/export: imported badges are never override badges.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { CREDENTIAL_FORMATS, type CredentialFormat } from '../../core/signals.js';
import { normaliseCard } from '../../gateway/decoders/canonical.js';
import { assertOwnedBy, ownMemberScope } from '../auth/principal.js';
import { actorOf, recordChange } from '../db/changes.js';
import type { ServerDb } from '../db/database.js';
import type { BadgeRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { FIELD, isUniqueViolation, Nullable, TEXT } from './members.js';
import { IdParam, IsoDate, NoQuery, PageQuery, ProblemSchema } from './schemas.js';

export const BADGE_STATUSES = ['active', 'lost', 'blocked', 'returned'] as const;
export type BadgeStatus = (typeof BADGE_STATUSES)[number];

/** What each format's credential looks like, for error messages. */
export const CREDENTIAL_HINT: Readonly<Record<CredentialFormat, string>> = Object.freeze({
  uid: '8, 14 or 20 hex digits (a 4-, 7- or 10-byte card UID)',
  em4100: '10 hex digits',
  wiegand26: 'facility:card in decimal, e.g. 12:34567 (facility ≤ 255, card ≤ 65535)',
});

/** The canonical credential (as the gateway decodes it), or null with the format's hint. */
export function normaliseCredential(format: CredentialFormat, credential: string): string | null {
  return normaliseCard(format, credential.trim());
}

const FormatSchema = Type.Union(CREDENTIAL_FORMATS.map((f) => Type.Literal(f)));
const StatusSchema = Type.Union(BADGE_STATUSES.map((s) => Type.Literal(s)));
const Credential = Type.String({ minLength: 1, maxLength: 64, description: 'uid/em4100: hex digits; wiegand26: facility:card' });
const Note = Type.String({ minLength: 1, maxLength: FIELD.note.maxLength, pattern: TEXT });

export const BadgeSchema = Type.Object(
  {
    id: Type.String(),
    memberId: Type.String(),
    memberNo: Type.String(),
    memberName: Type.String(),
    format: FormatSchema,
    credential: Type.String(),
    status: StatusSchema,
    issuedOn: Type.String(),
    note: Nullable(Type.String()),
    override: Type.Boolean({ description: 'An override badge: opens doors and machines whatever the rules (set by an administrator)' }),
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
  },
  { additionalProperties: false },
);

type BadgeWithHolder = BadgeRow & { member_no: string; member_name: string };

export function toBadge(b: BadgeWithHolder) {
  return {
    id: b.id,
    memberId: b.member_id,
    memberNo: b.member_no,
    memberName: b.member_name,
    format: b.format,
    credential: b.credential,
    status: b.status,
    issuedOn: b.issued_on,
    note: b.note,
    override: b.override !== 0,
    createdAt: Number(b.created_at),
    updatedAt: Number(b.updated_at),
  };
}

/** The change log's image of a badge: the badge's own columns. */
export function badgeImage(b: BadgeRow) {
  return { id: b.id, memberId: b.member_id, format: b.format, credential: b.credential, status: b.status, issuedOn: b.issued_on, note: b.note, override: b.override !== 0 };
}

/** Badges with their holder's number and name. */
export function badgesWithHolder(db: ServerDb) {
  return db
    .selectFrom('badges')
    .innerJoin('members', 'members.id', 'badges.member_id')
    .selectAll('badges')
    .select(['members.member_no as member_no', 'members.name as member_name']);
}

/** The badge (not returned) that holds this credential now, with its holder. */
export async function currentHolder(db: ServerDb, format: CredentialFormat, credential: string, exceptBadgeId: string | null = null): Promise<BadgeWithHolder | undefined> {
  let q = badgesWithHolder(db).where('badges.format', '=', format).where('badges.credential', '=', credential).where('badges.status', '<>', 'returned');
  if (exceptBadgeId !== null) q = q.where('badges.id', '<>', exceptBadgeId);
  return q.executeTakeFirst();
}

const heldBy = (format: string, credential: string, holder: BadgeWithHolder | undefined) =>
  problems.conflict(
    holder
      ? `the ${format} card ${credential} is held by member ${holder.member_no} (badge ${holder.id}, ${holder.status}); mark that badge returned first`
      : `the ${format} card ${credential} is held by another badge; mark that badge returned first`,
  );

const BadgeCreate = Type.Object(
  {
    format: FormatSchema,
    credential: Credential,
    issuedOn: IsoDate,
    status: Type.Optional(StatusSchema),
    note: Type.Optional(Nullable(Note)),
  },
  { additionalProperties: false },
);

const BadgePatch = Type.Object(
  {
    status: Type.Optional(StatusSchema),
    note: Type.Optional(Nullable(Note)),
    override: Type.Optional(Type.Boolean({ description: 'Administrators only: make this an override badge (true) or an ordinary one (false)' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

const STAFF = ['admin', 'manager', 'auditor'] as const;
const WRITERS = ['admin', 'manager'] as const;

export const badgeRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const db = ctx.db;

  /** 400 in the same shape as schema validation: the credential does not read as a card of that format. */
  function canonical(format: CredentialFormat, credential: string, path: string): string {
    const c = normaliseCredential(format, credential);
    if (c === null) {
      const message = `${JSON.stringify(credential)} is not a ${format} card id: expected ${CREDENTIAL_HINT[format]}`;
      throw problems.badRequest(message, [{ path, message }]);
    }
    return c;
  }

  app.get(
    '/members/:id/badges',
    {
      config: { authz: { roles: [...STAFF, 'member'] } },
      schema: { tags: ['badges'], summary: 'A member’s badges, returned ones included (a member may list only their own)', params: IdParam, querystring: NoQuery, response: { 200: Type.Array(BadgeSchema), 404: ProblemSchema } },
    },
    async (req) => {
      assertOwnedBy(req.principal, req.params.id, `member ${req.params.id}`);
      if (!(await db.selectFrom('members').select('id').where('id', '=', req.params.id).executeTakeFirst())) throw problems.notFound(`member ${req.params.id}`);
      const rows = await badgesWithHolder(db).where('badges.member_id', '=', req.params.id).orderBy('badges.issued_on').orderBy('badges.created_at').execute();
      return rows.map(toBadge);
    },
  );

  app.post(
    '/members/:id/badges',
    {
      config: { authz: { roles: WRITERS } },
      schema: {
        tags: ['badges'],
        summary: 'Issue a badge to a member (409 when another badge not returned holds the card)',
        params: IdParam,
        body: BadgeCreate,
        response: { 201: BadgeSchema, 404: ProblemSchema, 409: ProblemSchema },
      },
    },
    async (req, reply) => {
      const member = await db.selectFrom('members').select(['id', 'member_no', 'name']).where('id', '=', req.params.id).executeTakeFirst();
      if (!member) throw problems.notFound(`member ${req.params.id}`);
      const b = req.body;
      const credential = canonical(b.format, b.credential, 'body/credential');
      const now = ctx.clock.now();
      const row: BadgeRow = {
        id: newId('bdg'),
        member_id: member.id,
        format: b.format,
        credential,
        status: b.status ?? 'active',
        issued_on: b.issuedOn,
        note: b.note ?? null,
        override: 0,
        created_at: now,
        updated_at: now,
      };
      let version: number;
      try {
        version = await db.transaction().execute(async (trx) => {
          if (row.status !== 'returned') {
            const holder = await currentHolder(trx, row.format, credential);
            if (holder) throw heldBy(row.format, credential, holder);
          }
          await trx.insertInto('badges').values(row).execute();
          return recordChange(trx, { actor: actorOf(req.principal), entity: 'badge', entityId: row.id, action: 'create', before: null, after: badgeImage(row), at: now });
        });
      } catch (err) {
        throw isUniqueViolation(err) ? heldBy(row.format, credential, undefined) : err;
      }
      ctx.policyChanged(version);
      return reply.code(201).send(toBadge({ ...row, member_no: member.member_no, member_name: member.name }));
    },
  );

  app.get(
    '/badges',
    {
      config: { authz: { roles: STAFF } },
      schema: {
        tags: ['badges'],
        summary: 'Badges; filter by format, credential (whose card is this?) and status',
        description:
          'The credential is matched in its canonical form, so 0a1b2c3d4e finds 0A1B2C3D4E. Without a format it is matched in every format it can be read as.',
        querystring: Type.Object(
          { format: Type.Optional(FormatSchema), credential: Type.Optional(Credential), status: Type.Optional(StatusSchema), override: Type.Optional(Type.Boolean()), ...PageQuery },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(BadgeSchema) },
      },
    },
    async (req) => {
      const { format, credential, status, override, limit, offset } = req.query;
      let q = badgesWithHolder(db);
      if (format !== undefined) q = q.where('badges.format', '=', format);
      if (credential !== undefined) {
        if (format !== undefined) {
          q = q.where('badges.credential', '=', canonical(format, credential, 'querystring/credential'));
        } else {
          const readings = CREDENTIAL_FORMATS.flatMap((f) => {
            const c = normaliseCredential(f, credential);
            return c === null ? [] : [{ f, c }];
          });
          if (readings.length === 0) {
            const message = `${JSON.stringify(credential)} is not a card id in any format (${CREDENTIAL_FORMATS.map((f) => `${f}: ${CREDENTIAL_HINT[f]}`).join('; ')})`;
            throw problems.badRequest(message, [{ path: 'querystring/credential', message }]);
          }
          q = q.where((eb) => eb.or(readings.map(({ f, c }) => eb.and([eb('badges.format', '=', f), eb('badges.credential', '=', c)]))));
        }
      }
      if (status !== undefined) q = q.where('badges.status', '=', status);
      if (override !== undefined) q = q.where('badges.override', '=', override ? 1 : 0);
      const rows = await q.orderBy('badges.format').orderBy('badges.credential').orderBy('badges.created_at').limit(limit ?? 50).offset(offset ?? 0).execute();
      return rows.map(toBadge);
    },
  );

  app.patch(
    '/badges/:id',
    {
      config: { authz: { roles: WRITERS } },
      schema: {
        tags: ['badges'],
        summary: 'Mark a badge lost, blocked, returned (frees its card) or active again; change its note; administrators: make it an override badge (badges are never deleted)',
        description: 'Only an administrator may send `override` (a manager gets 403). Returning a badge clears its override.',
        params: IdParam,
        body: BadgePatch,
        response: { 200: BadgeSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req) => {
      if (req.body.override !== undefined && req.principal?.role !== 'admin') {
        throw problems.forbidden('only an administrator may make a badge an override badge or an ordinary one again (override); leave override out to change the status or note');
      }
      const before = await badgesWithHolder(db).where('badges.id', '=', req.params.id).executeTakeFirst();
      if (!before) throw problems.notFound(`badge ${req.params.id}`);
      const now = ctx.clock.now();
      const status = req.body.status ?? before.status;
      if (status === 'returned' && req.body.override === true) {
        throw problems.unprocessable('a returned badge opens nothing and cannot be an override badge; make it active first', [{ path: 'body/override', message: 'the badge is returned' }]);
      }
      const after: BadgeWithHolder = {
        ...before,
        status,
        ...(req.body.note !== undefined && { note: req.body.note }),
        // A card handed back must not carry its override to whoever gets it next.
        override: status === 'returned' ? 0 : req.body.override !== undefined ? (req.body.override ? 1 : 0) : before.override,
        updated_at: now,
      };
      let version: number;
      try {
        version = await db.transaction().execute(async (trx) => {
          // A returned card may have gone to someone else since: taking it back needs it free.
          if (before.status === 'returned' && after.status !== 'returned') {
            const holder = await currentHolder(trx, after.format, after.credential, after.id);
            if (holder) throw heldBy(after.format, after.credential, holder);
          }
          await trx.updateTable('badges').set({ status: after.status, note: after.note, override: after.override, updated_at: now }).where('id', '=', before.id).execute();
          return recordChange(trx, { actor: actorOf(req.principal), entity: 'badge', entityId: before.id, action: 'update', before: badgeImage(before), after: badgeImage(after), at: now });
        });
      } catch (err) {
        throw isUniqueViolation(err) ? heldBy(after.format, after.credential, undefined) : err;
      }
      ctx.policyChanged(version);
      return toBadge(after);
    },
  );

  app.get(
    '/me/badges',
    {
      config: { authz: { roles: ['member'] } },
      schema: { tags: ['badges', 'me'], summary: 'My badges', querystring: NoQuery, response: { 200: Type.Array(BadgeSchema) } },
    },
    async (req) => {
      const own = ownMemberScope(req.principal) ?? '';
      const rows = await badgesWithHolder(db).where('badges.member_id', '=', own).orderBy('badges.issued_on').orderBy('badges.created_at').execute();
      return rows.map(toBadge);
    },
  );
};
