/**
 * Machines out of service: "members and managers can put a machine out of
 * service, only a manager puts it back, and downtime is recorded".
 *
 * - Anyone who finds a machine broken (a member included) reports it out of
 *   service with a reason; from the next policy version on, gateways refuse it
 *   to everyone but override badges. A second report while it is out changes
 *   nothing (it answers the current state), so a machine never has two open
 *   downtime periods (the database enforces that too).
 * - Only a manager or an administrator puts it back into service: a member
 *   cannot judge that a repair is done.
 * - Every period out of service is a downtime record (started, ended, why, who
 *   reported it, who put it back): availability for utilisation is computed
 *   from these.
 *
 * The server does not know the sites' machine lists — they are in the
 * gateways' site files — so it accepts any well-formed site and equipment id
 * (the site model's ID_PATTERN). A report for a machine no site has is
 * harmless: no gateway ever asks about it.
 *
 * Which machines are out of service now, and why, is not personal: members
 * may see it (so they do not walk to a broken laser). Who reported it is shown
 * only to staff.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ID_PATTERN } from '../../core/site/model.js';
import type { Principal } from '../auth/principal.js';
import { actorOf, recordChange } from '../db/changes.js';
import type { ServerDb } from '../db/database.js';
import type { EquipmentDowntimeRow, EquipmentStatusRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';
import { FIELD, Nullable, TEXT } from './members.js';
import { Empty, PageQuery, ProblemSchema } from './schemas.js';

const STAFF = ['admin', 'manager', 'auditor'] as const;
const RESTORERS = ['admin', 'manager'] as const;
const REPORTERS = ['admin', 'manager', 'member'] as const;

const SiteId = Type.String({ pattern: ID_PATTERN, maxLength: 64, description: 'A site id of the site files (the server does not check that the site exists)' });
const EquipmentId = Type.String({ pattern: ID_PATTERN, maxLength: 64, description: 'An equipment id of that site’s file (the server does not check that the machine exists)' });
const MachineParams = Type.Object({ siteId: SiteId, equipmentId: EquipmentId }, { additionalProperties: false });
const Reason = Type.String({ minLength: 1, maxLength: FIELD.note.maxLength, pattern: TEXT, description: 'What is wrong (1–500 characters)' });

const downtimeProps = {
  id: Type.String(),
  siteId: Type.String(),
  equipmentId: Type.String(),
  startedAt: Type.Integer({ description: 'Epoch ms' }),
  endedAt: Nullable(Type.Integer({ description: 'Epoch ms; null while the machine is still out of service' })),
  open: Type.Boolean({ description: 'Still out of service' }),
  durationMs: Type.Integer({ description: 'endedAt − startedAt; for an open period, up to now' }),
  reason: Type.String(),
  reportedBy: Type.Optional(Type.String({ description: 'Staff only' })),
  restoredBy: Type.Optional(Nullable(Type.String({ description: 'Staff only' }))),
};
const DowntimeSchema = Type.Object(downtimeProps, { additionalProperties: false });
const DowntimeInPeriodSchema = Type.Object(
  { ...downtimeProps, inPeriodMs: Type.Integer({ description: 'How much of the period asked for (from, to; up to now) the machine was out of service' }) },
  { additionalProperties: false },
);
type DowntimeJson = Static<typeof DowntimeSchema>;

const MachineStateSchema = Type.Object(
  {
    siteId: Type.String(),
    equipmentId: Type.String(),
    outOfService: Type.Boolean(),
    since: Nullable(Type.Integer({ description: 'When it went out of service or came back, epoch ms; null if it was never out of service' })),
    reason: Nullable(Type.String()),
    changedBy: Type.Optional(Nullable(Type.String({ description: 'Staff only: who made the last change' }))),
    downtime: Type.Union([DowntimeSchema, Type.Null()], { description: 'The downtime period the machine is in, or the one this request closed' }),
  },
  { additionalProperties: false },
);
type MachineStateJson = Static<typeof MachineStateSchema>;

const OutOfServiceSchema = Type.Object(
  {
    siteId: Type.String(),
    equipmentId: Type.String(),
    since: Type.Integer({ description: 'Epoch ms' }),
    reason: Type.String(),
    reportedBy: Type.Optional(Type.String({ description: 'Staff only' })),
  },
  { additionalProperties: false },
);

const isStaff = (p: Principal | null): boolean => p !== null && (STAFF as readonly string[]).includes(p.role);

function toDowntime(d: EquipmentDowntimeRow, now: number, staff: boolean): DowntimeJson {
  const started = Number(d.started_at);
  const ended = d.ended_at === null ? null : Number(d.ended_at);
  return {
    id: d.id,
    siteId: d.site_id,
    equipmentId: d.equipment_id,
    startedAt: started,
    endedAt: ended,
    open: ended === null,
    durationMs: Math.max(0, (ended ?? now) - started),
    reason: d.reason,
    ...(staff && { reportedBy: d.reported_by, restoredBy: d.restored_by }),
  };
}

function toMachineState(siteId: string, equipmentId: string, st: EquipmentStatusRow | undefined, downtime: EquipmentDowntimeRow | undefined, now: number, staff: boolean): MachineStateJson {
  return {
    siteId,
    equipmentId,
    outOfService: st?.out_of_service === 1,
    since: st === undefined ? null : Number(st.since),
    reason: st?.reason ?? null,
    ...(staff && { changedBy: st?.changed_by ?? null }),
    downtime: downtime === undefined ? null : toDowntime(downtime, now, staff),
  };
}

/** The change log's image of a machine's state, naming the downtime period the change opened or closed. */
function statusImage(st: EquipmentStatusRow, downtimeId: string | null) {
  return { siteId: st.site_id, equipmentId: st.equipment_id, outOfService: st.out_of_service === 1, since: Number(st.since), reason: st.reason, downtimeId };
}

async function machineStatus(db: ServerDb, siteId: string, equipmentId: string): Promise<EquipmentStatusRow | undefined> {
  return db.selectFrom('equipment_status').selectAll().where('site_id', '=', siteId).where('equipment_id', '=', equipmentId).executeTakeFirst();
}

async function openDowntime(db: ServerDb, siteId: string, equipmentId: string): Promise<EquipmentDowntimeRow | undefined> {
  return db.selectFrom('equipment_downtime').selectAll().where('site_id', '=', siteId).where('equipment_id', '=', equipmentId).where('ended_at', 'is', null).executeTakeFirst();
}

export const equipmentRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const db = ctx.db;

  app.post(
    '/sites/:siteId/equipment/:equipmentId/out-of-service',
    {
      config: { authz: { roles: REPORTERS } },
      schema: {
        tags: ['equipment'],
        summary: 'Put a machine out of service (members too): gateways refuse it to all but override badges; opens a downtime period',
        description:
          '201 when this puts the machine out of service; 200 with the current state (and no new downtime period) when it already is. Site and equipment ids are not checked against the site files, which the server does not have.',
        params: MachineParams,
        body: Type.Object({ reason: Reason }, { additionalProperties: false }),
        response: { 200: MachineStateSchema, 201: MachineStateSchema },
      },
    },
    async (req, reply) => {
      const { siteId, equipmentId } = req.params;
      const actor = actorOf(req.principal);
      const now = ctx.clock.now();
      const r = await db.transaction().execute(async (trx) => {
        const before = await machineStatus(trx, siteId, equipmentId);
        if (before?.out_of_service === 1) return { created: false, status: before, downtime: await openDowntime(trx, siteId, equipmentId), version: null };
        const status: EquipmentStatusRow = { site_id: siteId, equipment_id: equipmentId, out_of_service: 1, since: now, reason: req.body.reason, changed_by: actor };
        const downtime: EquipmentDowntimeRow = {
          id: newId('dtm'),
          site_id: siteId,
          equipment_id: equipmentId,
          started_at: now,
          ended_at: null,
          reason: req.body.reason,
          reported_by: actor,
          restored_by: null,
        };
        if (before) {
          await trx.updateTable('equipment_status').set(status).where('site_id', '=', siteId).where('equipment_id', '=', equipmentId).execute();
        } else {
          await trx.insertInto('equipment_status').values(status).execute();
        }
        await trx.insertInto('equipment_downtime').values(downtime).execute();
        const version = await recordChange(trx, {
          actor,
          entity: 'equipment',
          entityId: `${siteId}/${equipmentId}`,
          action: before ? 'update' : 'create',
          before: before ? statusImage(before, null) : null,
          after: statusImage(status, downtime.id),
          at: now,
        });
        return { created: true, status, downtime, version };
      });
      if (r.version !== null) ctx.policyChanged(r.version);
      return reply.code(r.created ? 201 : 200).send(toMachineState(siteId, equipmentId, r.status, r.downtime, now, isStaff(req.principal)));
    },
  );

  app.post(
    '/sites/:siteId/equipment/:equipmentId/in-service',
    {
      config: { authz: { roles: RESTORERS } },
      schema: {
        tags: ['equipment'],
        summary: 'Put a machine back into service (managers and administrators): closes its downtime period',
        description: 'Answers the machine’s state with the downtime period just closed (its duration); a machine that is not out of service is left as it is (200, downtime null).',
        params: MachineParams,
        body: Type.Optional(Empty),
        response: { 200: MachineStateSchema },
      },
    },
    async (req) => {
      const { siteId, equipmentId } = req.params;
      const actor = actorOf(req.principal);
      const now = ctx.clock.now();
      const r = await db.transaction().execute(async (trx) => {
        const before = await machineStatus(trx, siteId, equipmentId);
        if (before?.out_of_service !== 1) return { status: before, downtime: undefined, version: null };
        const status: EquipmentStatusRow = { site_id: siteId, equipment_id: equipmentId, out_of_service: 0, since: now, reason: null, changed_by: actor };
        await trx.updateTable('equipment_status').set(status).where('site_id', '=', siteId).where('equipment_id', '=', equipmentId).execute();
        const open = await openDowntime(trx, siteId, equipmentId);
        let closed: EquipmentDowntimeRow | undefined;
        if (open) {
          // A clock set back must not give a negative period (the table refuses one).
          closed = { ...open, ended_at: Math.max(now, Number(open.started_at)), restored_by: actor };
          await trx.updateTable('equipment_downtime').set({ ended_at: closed.ended_at, restored_by: actor }).where('id', '=', open.id).execute();
        }
        const version = await recordChange(trx, {
          actor,
          entity: 'equipment',
          entityId: `${siteId}/${equipmentId}`,
          action: 'update',
          before: statusImage(before, open?.id ?? null),
          after: statusImage(status, open?.id ?? null),
          at: now,
        });
        return { status, downtime: closed, version };
      });
      if (r.version !== null) ctx.policyChanged(r.version);
      return toMachineState(siteId, equipmentId, r.status, r.downtime, now, true);
    },
  );

  app.get(
    '/equipment/status',
    {
      config: { authz: { roles: [...STAFF, 'member'] } },
      schema: {
        tags: ['equipment'],
        summary: 'Machines out of service now: since when and why (who reported it: staff only)',
        querystring: Type.Object({ siteId: Type.Optional(SiteId) }, { additionalProperties: false }),
        response: { 200: Type.Array(OutOfServiceSchema) },
      },
    },
    async (req) => {
      const staff = isStaff(req.principal);
      let q = db.selectFrom('equipment_status').selectAll().where('out_of_service', '=', 1);
      if (req.query.siteId !== undefined) q = q.where('site_id', '=', req.query.siteId);
      const rows = await q.orderBy('site_id').orderBy('equipment_id').execute();
      return rows.map((st) => ({
        siteId: st.site_id,
        equipmentId: st.equipment_id,
        since: Number(st.since),
        reason: st.reason ?? '',
        ...(staff && { reportedBy: st.changed_by }),
      }));
    },
  );

  app.get(
    '/equipment/downtime',
    {
      config: { authz: { roles: STAFF } },
      schema: {
        tags: ['equipment'],
        summary: 'Downtime periods overlapping a period (from, to: epoch ms), with their durations',
        description:
          'A period counts when any part of it falls in [from, to): one that began before `from` or is still open is included. `inPeriodMs` is the part inside [from, to), up to now.',
        querystring: Type.Object(
          {
            siteId: Type.Optional(SiteId),
            equipmentId: Type.Optional(EquipmentId),
            from: Type.Optional(Type.Integer({ minimum: 0, description: 'Start of the period, epoch ms (inclusive)' })),
            to: Type.Optional(Type.Integer({ minimum: 0, description: 'End of the period, epoch ms (exclusive)' })),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(DowntimeInPeriodSchema), 422: ProblemSchema },
      },
    },
    async (req) => {
      const { siteId, equipmentId, from, to, limit, offset } = req.query;
      if (from !== undefined && to !== undefined && from >= to) {
        throw problems.unprocessable(`the period is empty: from (${from}) must be before to (${to})`, [{ path: 'querystring/to', message: 'must be after from' }]);
      }
      let q = db.selectFrom('equipment_downtime').selectAll();
      if (siteId !== undefined) q = q.where('site_id', '=', siteId);
      if (equipmentId !== undefined) q = q.where('equipment_id', '=', equipmentId);
      if (to !== undefined) q = q.where('started_at', '<', to);
      if (from !== undefined) q = q.where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', from)]));
      const rows = await q.orderBy('started_at').orderBy('site_id').orderBy('equipment_id').orderBy('id').limit(limit ?? 50).offset(offset ?? 0).execute();
      const now = ctx.clock.now();
      return rows.map((d) => {
        const out = toDowntime(d, now, true);
        const start = Math.max(out.startedAt, from ?? out.startedAt);
        const end = Math.min(out.endedAt ?? now, to ?? Number.POSITIVE_INFINITY);
        return { ...out, inPeriodMs: Math.max(0, end - start) };
      });
    },
  );
};
