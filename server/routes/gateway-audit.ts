/**
 * Gateway checkpoints at the server (docs/audit.md "Gateway checkpoints at the
 * server"; the rules are in ../audit/gateway-checkpoints.ts):
 *
 * - POST /gateways/:id/keys (gateway): the keys its journal signs with.
 * - POST /gateways/:id/checkpoints (gateway): one signed checkpoint, with a
 *   consistency proof from the newest one the server kept. 201 kept, 200 the
 *   same again; 409 refused (`proof_needed`, or an alarm: `fork`,
 *   `not_consistent`, `rollback`, `bad_signature`); 422 `unknown_key`,
 *   `retired_key`, `wrong_origin`.
 * - GET /gateways/:id/checkpoints (staff; a gateway for itself): keys,
 *   checkpoints and alarms.
 *
 * A gateway token may name only its own gateway: by id, or as `me` (a gateway
 * need not know the id the server gave it). Another id answers 404, as if it
 * did not exist.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Principal } from '../auth/principal.js';
import { announceKey, readGatewayAudit, submitCheckpoint, type GatewayRef } from '../audit/gateway-checkpoints.js';
import { actorOf } from '../db/changes.js';
import { ensureGateway, isGatewayToken } from '../policy/gateways.js';
import { HttpProblem, problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { ProblemSchema } from './schemas.js';

const B64Hash = Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', description: 'A SHA-256 hash, base64' });
const KeyId = Type.String({ pattern: '^[0-9a-f]{16}$' });
const Epoch = Type.Integer({ minimum: 0, maximum: 8_640_000_000_000_000 });
const Size = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

const CheckpointBody = Type.Object(
  {
    origin: Type.String({ minLength: 1, maxLength: 200 }),
    size: Size,
    root: B64Hash,
    time: Epoch,
    keyId: KeyId,
    sig: Type.String({ pattern: '^[A-Za-z0-9+/]{86}==$', description: 'Ed25519 signature, base64' }),
  },
  { additionalProperties: false },
);
const KeyBody = Type.Object(
  {
    keyId: KeyId,
    publicKey: Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', description: 'Raw 32-byte Ed25519 public key, base64' }),
    createdAt: Epoch,
    retiredAt: Type.Union([Type.Null(), Epoch], { description: "null first: ajv would coerce a null to 0 for an integer tried first" }),
  },
  { additionalProperties: false },
);
const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }) }, { additionalProperties: false });
const Ack = Type.Object({ gatewayId: Type.String(), status: Type.String(), latest: CheckpointBody }, { additionalProperties: false });

export const gatewayAuditRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  /** The gateway a call names, registering a gateway token's own on its first call; 404 for anyone else's. */
  const resolve = async (p: Principal | null, id: string): Promise<GatewayRef> => {
    if (isGatewayToken(p)) {
      const own = await ctx.db.transaction().execute((trx) => ensureGateway(trx, p, ctx.clock.now()));
      if (id !== 'me' && id !== own.id) throw problems.notFound(`gateway ${id}`);
      return own;
    }
    const row = await ctx.db.selectFrom('gateways').select(['id', 'site_id']).where('id', '=', id).executeTakeFirst();
    if (!row) throw problems.notFound(`gateway ${id}`);
    return { id: row.id, siteId: row.site_id };
  };

  app.post(
    '/gateways/:id/keys',
    {
      config: { authz: { roles: ['gateway'] as const } },
      schema: {
        tags: ['audit'],
        summary: "A gateway announces the keys its journal signs checkpoints with (new ones, or an old one's retirement)",
        params: Params,
        body: Type.Object({ keys: Type.Array(KeyBody, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ gatewayId: Type.String(), created: Type.Integer(), updated: Type.Integer() }, { additionalProperties: false }), 404: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req) => {
      const gw = await resolve(req.principal, req.params.id);
      const now = ctx.clock.now();
      let created = 0;
      let updated = 0;
      for (const [i, k] of req.body.keys.entries()) {
        let r: Awaited<ReturnType<typeof announceKey>>;
        try {
          r = await announceKey(ctx.db, gw, k, actorOf(req.principal), now);
        } catch (e) {
          if (e instanceof RangeError) throw problems.unprocessable(e.message, [{ path: `/keys/${i}`, message: e.message }]);
          throw e;
        }
        if (r === 'created') created++;
        if (r === 'updated') updated++;
      }
      return { gatewayId: gw.id, created, updated };
    },
  );

  app.post(
    '/gateways/:id/checkpoints',
    {
      config: { authz: { roles: ['gateway'] as const } },
      schema: {
        tags: ['audit'],
        summary: 'A gateway sends a signed checkpoint of its journal, with a consistency proof from the newest one kept',
        params: Params,
        body: Type.Object(
          {
            checkpoint: CheckpointBody,
            proof: Type.Optional(Type.Object({ fromSize: Size, hashes: Type.Array(B64Hash, { maxItems: 128 }) }, { additionalProperties: false })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Ack, 201: Ack, 404: ProblemSchema, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (req, reply) => {
      const gw = await resolve(req.principal, req.params.id);
      const v = await submitCheckpoint(ctx.db, gw, req.body, actorOf(req.principal), ctx.clock.now());
      if (v.ok) return reply.code(v.status === 'kept' ? 201 : 200).send({ gatewayId: gw.id, status: v.status, latest: v.latest });
      if (v.status === 'alarm') {
        req.log.error({ gatewayId: gw.id, code: v.code, detail: v.detail, size: req.body.checkpoint.size }, 'gateway checkpoint refused: its history does not extend the one kept (alarm recorded)');
        throw new HttpProblem(409, v.code, v.detail);
      }
      throw new HttpProblem(v.code === 'proof_needed' ? 409 : 422, v.code, v.detail);
    },
  );

  app.get(
    '/gateways/:id/checkpoints',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'gateway'] as const } },
      schema: {
        tags: ['audit'],
        summary: "A gateway's announced keys, the checkpoints the server kept (by size) and the alarms",
        params: Params,
        querystring: Type.Object(
          { afterSize: Type.Optional(Type.Integer({ minimum: -1, maximum: Number.MAX_SAFE_INTEGER, default: -1 })), limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 200 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            {
              gatewayId: Type.String(),
              siteId: Type.String(),
              keys: Type.Array(Type.Object({ keyId: Type.String(), publicKey: Type.String(), createdAt: Type.Integer(), retiredAt: Type.Union([Type.Integer(), Type.Null()]), announcedAt: Type.Integer() }, { additionalProperties: false })),
              latest: Type.Union([CheckpointBody, Type.Null()]),
              checkpoints: Type.Array(Type.Object({ ...CheckpointBody.properties, receivedAt: Type.Integer() }, { additionalProperties: false })),
              alarms: Type.Array(Type.Object({ id: Type.Integer(), at: Type.Integer(), code: Type.String(), detail: Type.String() }, { additionalProperties: false })),
            },
            { additionalProperties: false },
          ),
          404: ProblemSchema,
        },
      },
    },
    async (req) => {
      const gw = await resolve(req.principal, req.params.id);
      const state = await readGatewayAudit(ctx.db, gw.id, req.query.afterSize ?? -1, req.query.limit ?? 200);
      return { gatewayId: gw.id, siteId: gw.siteId, keys: [...state.keys], latest: state.latest, checkpoints: [...state.checkpoints], alarms: [...state.alarms] };
    },
  );
};
