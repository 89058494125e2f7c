/**
 * Safety certifications: a member trained for a machine class (laser-cutter)
 * or a space's required certification (fablab-safety), from a date, usually
 * until an expiry. Staff read them all; a member reads their own. Only
 * administrators and managers issue, extend or revoke them; the trainer named
 * must be active and qualified for that class.
 *
 * Dates are the server's local calendar dates (the server runs in the site's
 * time zone); a certification is valid through its expiry date.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { assertOwnedBy, ownMemberScope } from '../auth/principal.js';
import { actorOf, recordChange } from '../db/changes.js';
import type { ServerDb } from '../db/database.js';
import type { CertificationRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { CLASS_PATTERN } from './plans.js';
import { IdParam, IsoDate, PageQuery, ProblemSchema } from './schemas.js';

export const Certification = Type.Object(
  {
    id: Type.String(),
    memberId: Type.String(),
    class: Type.String(),
    issuedOn: Type.String(),
    expiresOn: Type.Union([Type.String(), Type.Null()]),
    trainerId: Type.Union([Type.String(), Type.Null()]),
    revoked: Type.Boolean(),
    revokedAt: Type.Union([Type.Integer(), Type.Null()]),
    valid: Type.Boolean({ description: 'Issued, not revoked and not expired, as of today' }),
    note: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
  },
  { additionalProperties: false },
);
type CertificationJson = Static<typeof Certification>;

/** The local calendar date of an instant, YYYY-MM-DD. */
export function localDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Valid on `today`: issued by then, not revoked, not expired (the expiry date itself still counts). */
export function isValidOn(c: Pick<CertificationRow, 'issued_on' | 'expires_on' | 'revoked_at'>, today: string): boolean {
  return c.revoked_at === null && c.issued_on <= today && (c.expires_on === null || c.expires_on >= today);
}

export function toCertification(row: CertificationRow, today: string): CertificationJson {
  return {
    id: row.id,
    memberId: row.member_id,
    class: row.class,
    issuedOn: row.issued_on,
    expiresOn: row.expires_on,
    trainerId: row.trainer_id,
    revoked: row.revoked_at !== null,
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    valid: isValidOn(row, today),
    note: row.note,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** What the change log keeps: the stored facts, not the day-dependent `valid`. */
const forLog = (c: CertificationJson): Omit<CertificationJson, 'valid'> => {
  const { valid: _valid, ...rest } = c;
  return rest;
};

export function listCertifications(db: ServerDb) {
  return db.selectFrom('certifications').selectAll().orderBy('issued_on', 'desc').orderBy('id');
}

const Class = Type.String({ pattern: CLASS_PATTERN, description: 'Machine class (laser-cutter) or certification name (fablab-safety)' });
const Note = Type.String({ maxLength: 500 });

export const certificationRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const staff = { authz: { roles: ['admin', 'manager', 'auditor'] as const } };
  const writers = { authz: { roles: ['admin', 'manager'] as const } };
  const today = (): string => localDate(ctx.clock.now());

  app.get(
    '/certifications',
    {
      config: staff,
      schema: {
        tags: ['certifications'],
        summary: 'Certifications, filtered (staff)',
        querystring: Type.Object(
          {
            memberId: Type.Optional(Type.String({ maxLength: 64 })),
            class: Type.Optional(Class),
            valid: Type.Optional(Type.Boolean({ description: 'true: valid today; false: revoked, expired or not yet issued' })),
            expiringBefore: Type.Optional(Type.String({ format: 'date', description: 'Only those with an expiry date before this day, YYYY-MM-DD (combine with valid=true for renewals due)' })),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(Certification) },
      },
    },
    async (req) => {
      const { memberId, class: cls, valid, expiringBefore } = req.query;
      const day = today();
      let q = listCertifications(ctx.db);
      if (memberId !== undefined) q = q.where('member_id', '=', memberId);
      if (cls !== undefined) q = q.where('class', '=', cls);
      if (expiringBefore !== undefined) q = q.where('expires_on', 'is not', null).where('expires_on', '<', expiringBefore);
      if (valid !== undefined) {
        q = q.where((eb) => {
          const ok = eb.and([eb('revoked_at', 'is', null), eb('issued_on', '<=', day), eb.or([eb('expires_on', 'is', null), eb('expires_on', '>=', day)])]);
          return valid ? ok : eb.not(ok);
        });
      }
      const rows = await q.limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute();
      return rows.map((r) => toCertification(r, day));
    },
  );

  app.get(
    '/members/:id/certifications',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'member'] as const } },
      schema: {
        tags: ['certifications'],
        summary: 'A member’s certifications (staff, or that member)',
        params: IdParam,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: Type.Array(Certification), 404: ProblemSchema },
      },
    },
    async (req) => {
      // Someone else's member answers 404, exactly like one that does not exist.
      assertOwnedBy(req.principal, req.params.id, `member ${req.params.id}`);
      const member = await ctx.db.selectFrom('members').select('id').where('id', '=', req.params.id).executeTakeFirst();
      if (!member) throw problems.notFound(`member ${req.params.id}`);
      const day = today();
      const rows = await listCertifications(ctx.db).where('member_id', '=', member.id).limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute();
      return rows.map((r) => toCertification(r, day));
    },
  );

  app.get(
    '/me/certifications',
    {
      config: { authz: { roles: ['member'] as const } },
      schema: {
        tags: ['certifications'],
        summary: 'My certifications (member logins)',
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: Type.Array(Certification) },
      },
    },
    async (req) => {
      const own = ownMemberScope(req.principal);
      if (own === undefined || own === null) throw problems.unauthorized();
      const day = today();
      const rows = await listCertifications(ctx.db).where('member_id', '=', own).limit(req.query.limit ?? 50).offset(req.query.offset ?? 0).execute();
      return rows.map((r) => toCertification(r, day));
    },
  );

  app.post(
    '/certifications',
    {
      config: writers,
      schema: {
        tags: ['certifications'],
        summary: 'Record a certification (the trainer, if named, must be active and qualified for the class)',
        body: Type.Object(
          {
            memberId: Type.String({ minLength: 1, maxLength: 64 }),
            class: Class,
            issuedOn: IsoDate,
            expiresOn: Type.Optional(IsoDate),
            trainerId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            note: Type.Optional(Note),
          },
          { additionalProperties: false },
        ),
        response: { 201: Certification, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      if (!(await ctx.db.selectFrom('members').select('id').where('id', '=', b.memberId).executeTakeFirst())) throw problems.unprocessable(`there is no member ${b.memberId}`);
      if (b.expiresOn !== undefined && b.expiresOn < b.issuedOn) throw problems.unprocessable(`expiresOn ${b.expiresOn} is before issuedOn ${b.issuedOn}`);
      if (b.trainerId !== undefined) {
        const trainer = await ctx.db.selectFrom('trainers').selectAll().where('id', '=', b.trainerId).executeTakeFirst();
        if (!trainer) throw problems.unprocessable(`there is no trainer ${b.trainerId}`);
        if (!trainer.active) throw problems.unprocessable(`trainer ${trainer.name} (${trainer.id}) is not active; name an active trainer or reactivate them first`);
        const qualified = JSON.parse(trainer.qualifications) as string[];
        if (!qualified.includes(b.class)) {
          throw problems.unprocessable(`trainer ${trainer.name} (${trainer.id}) is not qualified for ${b.class} (qualified for: ${qualified.join(', ') || 'nothing'}); add the qualification first or name another trainer`);
        }
      }
      const now = ctx.clock.now();
      const row: CertificationRow = {
        id: newId('crt'),
        member_id: b.memberId,
        class: b.class,
        issued_on: b.issuedOn,
        expires_on: b.expiresOn ?? null,
        trainer_id: b.trainerId ?? null,
        revoked_at: null,
        note: b.note ?? null,
        created_at: now,
        updated_at: now,
      };
      const cert = toCertification(row, today());
      const version = await ctx.db.transaction().execute(async (trx) => {
        await trx.insertInto('certifications').values(row).execute();
        return recordChange(trx, { actor: actorOf(req.principal), entity: 'certification', entityId: row.id, action: 'create', before: null, after: forLog(cert), at: now });
      });
      ctx.policyChanged(version);
      return reply.code(201).send(cert);
    },
  );

  app.patch(
    '/certifications/:id',
    {
      config: writers,
      schema: {
        tags: ['certifications'],
        summary: 'Extend (or correct) the expiry, revoke or reinstate, or change the note',
        params: IdParam,
        body: Type.Object(
          {
            expiresOn: Type.Optional(Type.Union([IsoDate, Type.Null()], { description: 'null: does not expire' })),
            revoked: Type.Optional(Type.Boolean()),
            note: Type.Optional(Type.Union([Note, Type.Null()])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Certification, 404: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req) => {
      const b = req.body;
      const before = await ctx.db.selectFrom('certifications').selectAll().where('id', '=', req.params.id).executeTakeFirst();
      if (!before) throw problems.notFound(`certification ${req.params.id}`);
      if (b.expiresOn !== undefined && b.expiresOn !== null && b.expiresOn < before.issued_on) {
        throw problems.unprocessable(`expiresOn ${b.expiresOn} is before the issue date ${before.issued_on}`);
      }
      const now = ctx.clock.now();
      const set = {
        ...(b.expiresOn !== undefined && { expires_on: b.expiresOn }),
        // Revoking again keeps the first revocation's time.
        ...(b.revoked !== undefined && { revoked_at: b.revoked ? (before.revoked_at ?? now) : null }),
        ...(b.note !== undefined && { note: b.note }),
        updated_at: now,
      };
      const day = today();
      const after = toCertification({ ...before, ...set }, day);
      const version = await ctx.db.transaction().execute(async (trx) => {
        await trx.updateTable('certifications').set(set).where('id', '=', before.id).execute();
        return recordChange(trx, {
          actor: actorOf(req.principal),
          entity: 'certification',
          entityId: before.id,
          action: 'update',
          before: forLog(toCertification(before, day)),
          after: forLog(after),
          at: now,
        });
      });
      ctx.policyChanged(version);
      return after;
    },
  );
};
