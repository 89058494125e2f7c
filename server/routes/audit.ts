/**
 * The audit API (docs/audit.md): the server's signed checkpoints and keys, the
 * log's entries, inclusion and consistency proofs an auditor checks with their
 * own verifier, a verification run over the whole log and the audited tables,
 * and witnesses' cosignatures. Staff read; administrators and managers sign a
 * checkpoint on demand and attach a witness's cosignature (it authenticates
 * itself: it verifies only with the witness's key, which the auditor knows and
 * the operator does not hold; auditors stay read-only).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { checkCosignature, keyIdOf, publicKeyFromRaw } from '../../core/audit/checkpoint.js';
import type { ServerAuditLog, StoredCheckpoint } from '../audit/log.js';
import { signedOf, toStored } from '../audit/log.js';
import { verifyServerLog } from '../audit/verify.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { Empty, NoQuery, ProblemSchema } from './schemas.js';

const STAFF = ['admin', 'manager', 'auditor'] as const;

const Cosignature = Type.Object({ keyId: Type.String(), sig: Type.String(), time: Type.Integer(), publicKey: Type.String() }, { additionalProperties: false });
const CheckpointSchema = Type.Object(
  {
    origin: Type.String(),
    size: Type.Integer(),
    root: Type.String({ description: 'Base64 SHA-256 tree head' }),
    time: Type.Integer(),
    keyId: Type.String(),
    sig: Type.String({ description: 'Base64 Ed25519 signature over `body`' }),
    reason: Type.String(),
    cosignatures: Type.Array(Cosignature),
    body: Type.String({ description: 'The exact text signed (docs/audit.md)' }),
  },
  { additionalProperties: false },
);
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

function requireAudit(ctx: ServerContext): ServerAuditLog {
  if (!ctx.audit) throw problems.unavailable('this server keeps no audit log (it starts with one under `facility start` or `facility server`)');
  return ctx.audit;
}

export const auditRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const out = (c: StoredCheckpoint, origin: string) => ({ origin, ...c, cosignatures: [...c.cosignatures] });

  app.get(
    '/audit/checkpoints',
    { config: { authz: { roles: STAFF } }, schema: { tags: ['audit'], summary: "The server log's signed checkpoints, oldest first", querystring: NoQuery, response: { 200: Type.Array(CheckpointSchema), 503: ProblemSchema } } },
    async () => {
      const log = requireAudit(ctx);
      const rows = await ctx.db.selectFrom('audit_checkpoints').selectAll().orderBy('size').execute();
      return rows.map((r) => out(toStored(r, log.origin), log.origin));
    },
  );

  app.post(
    '/audit/checkpoints',
    { config: { authz: { roles: ['admin', 'manager'] } }, schema: { tags: ['audit'], summary: 'Sign a checkpoint of everything logged so far', body: Empty, response: { 201: CheckpointSchema, 503: ProblemSchema } } },
    async (_req, reply) => {
      const log = requireAudit(ctx);
      return reply.code(201).send(out(await log.checkpoint('on request'), log.origin));
    },
  );

  app.get(
    '/audit/keys',
    {
      config: { authz: { roles: STAFF } },
      schema: {
        tags: ['audit'],
        summary: 'Every key the server has signed checkpoints with (raw Ed25519 public keys, base64)',
        querystring: NoQuery,
        response: { 200: Type.Array(Type.Object({ keyId: Type.String(), publicKey: Type.String(), createdAt: Type.Integer(), retiredAt: Type.Union([Type.Integer(), Type.Null()]) }, { additionalProperties: false })) },
      },
    },
    async () => (await ctx.db.selectFrom('audit_keys').selectAll().orderBy('created_at').execute()).map((k) => ({ keyId: k.key_id, publicKey: k.public_key, createdAt: Number(k.created_at), retiredAt: k.retired_at === null ? null : Number(k.retired_at) })),
  );

  app.get(
    '/audit/entries',
    {
      config: { authz: { roles: STAFF } },
      schema: {
        tags: ['audit'],
        summary: 'Log entries in order (entry n is tree leaf n − 1; its leaf is SHA-256(0x00 || UTF-8 body))',
        querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0, default: 0 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 500 })) }, { additionalProperties: false }),
        response: { 200: Type.Array(Type.Object({ entry: Type.Integer(), at: Type.Integer(), source: Type.String(), ref: Type.String(), body: Type.String() }, { additionalProperties: false })) },
      },
    },
    async (req) =>
      (await ctx.db.selectFrom('audit_log').select(['idx', 'at', 'source', 'ref', 'body']).where('idx', '>', req.query.after ?? 0).orderBy('idx').limit(req.query.limit ?? 500).execute()).map((r) => ({
        entry: r.idx,
        at: Number(r.at),
        source: r.source,
        ref: r.ref,
        body: r.body,
      })),
  );

  app.get(
    '/audit/proofs/inclusion',
    {
      config: { authz: { roles: STAFF } },
      schema: {
        tags: ['audit'],
        summary: 'That log entry `entry` is in the tree of `size` entries (RFC 6962 audit path, base64 hashes)',
        querystring: Type.Object({ entry: Type.Integer({ minimum: 1 }), size: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ entry: Type.Integer(), size: Type.Integer(), leafIndex: Type.Integer(), root: Type.String(), path: Type.Array(Type.String()) }, { additionalProperties: false }), 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req) => {
      const log = requireAudit(ctx);
      const { entry, size } = req.query;
      await log.catchUp();
      if (size > log.size() || entry > size) throw problems.unprocessable(`entry ${entry} in a tree of ${size}: the log holds ${log.size()} entries`);
      return { entry, size, leafIndex: entry - 1, root: b64(log.rootAt(size)), path: log.inclusion(entry - 1, size).map(b64) };
    },
  );

  app.get(
    '/audit/proofs/consistency',
    {
      config: { authz: { roles: STAFF } },
      schema: {
        tags: ['audit'],
        summary: 'That the tree of `to` entries extends the tree of `from` (RFC 6962 consistency proof, base64 hashes)',
        querystring: Type.Object({ from: Type.Integer({ minimum: 0 }), to: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ from: Type.Integer(), to: Type.Integer(), proof: Type.Array(Type.String()) }, { additionalProperties: false }), 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req) => {
      const log = requireAudit(ctx);
      const { from, to } = req.query;
      await log.catchUp();
      if (from > to || to > log.size()) throw problems.unprocessable(`from ${from} to ${to}: from must not pass to, and the log holds ${log.size()} entries`);
      return { from, to, proof: log.consistency(from, to).map(b64) };
    },
  );

  app.get(
    '/audit/verify',
    {
      config: { authz: { roles: STAFF } },
      schema: {
        tags: ['audit'],
        summary: 'Check the whole log, its checkpoints and the audited tables; names the first thing that breaks',
        querystring: NoQuery,
        response: {
          200: Type.Object(
            {
              ok: Type.Boolean(),
              entries: Type.Integer(),
              hashed: Type.Integer(),
              checkpoints: Type.Integer(),
              problems: Type.Array(Type.Object({ kind: Type.String(), entry: Type.Union([Type.Integer(), Type.Null()]), detail: Type.String() }, { additionalProperties: false })),
            },
            { additionalProperties: false },
          ),
          503: ProblemSchema,
        },
      },
    },
    async () => {
      const log = requireAudit(ctx);
      await log.catchUp();
      const r = await verifyServerLog(ctx.db, log.origin);
      return { ...r, problems: [...r.problems] };
    },
  );

  app.post(
    '/audit/checkpoints/:size/cosignatures',
    {
      config: { authz: { roles: ['admin', 'manager'] } },
      schema: {
        tags: ['audit'],
        summary: "A witness's cosignature of a checkpoint (it checked the log only grew since the last one it cosigned)",
        params: Type.Object({ size: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
        body: Type.Object({ publicKey: Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', description: "The witness's raw Ed25519 public key, base64" }), sig: Type.String({ maxLength: 200 }), time: Type.Integer() }, { additionalProperties: false }),
        response: { 201: CheckpointSchema, 404: ProblemSchema, 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const log = requireAudit(ctx);
      const row = await ctx.db.selectFrom('audit_checkpoints').selectAll().where('size', '=', req.params.size).executeTakeFirst();
      if (!row) throw problems.notFound(`a checkpoint of size ${req.params.size}`);
      const stored = toStored(row, log.origin);
      const witness = publicKeyFromRaw(req.body.publicKey);
      const keyId = keyIdOf(witness);
      const candidate = { ...signedOf(stored, log.origin), cosignatures: [{ keyId, sig: req.body.sig, time: req.body.time }] };
      if (!checkCosignature(candidate, witness)) throw problems.unprocessable(`the cosignature does not verify with key ${keyId} over this checkpoint`);
      const cosignatures = [...stored.cosignatures.filter((c) => c.keyId !== keyId), { keyId, sig: req.body.sig, time: req.body.time, publicKey: req.body.publicKey }];
      await ctx.db.updateTable('audit_checkpoints').set({ cosignatures: JSON.stringify(cosignatures) }).where('size', '=', row.size).execute();
      return reply.code(201).send(out({ ...stored, cosignatures }, log.origin));
    },
  );
};
