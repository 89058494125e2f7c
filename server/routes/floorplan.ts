/**
 * What the live floor plan page (server/web/) draws, besides the live state
 * itself (GET /live, /live/stream in ./live.ts):
 *
 * - GET /floorplan: the site's plan, laid out from the site file
 *   (core/site/layout.ts): spaces with their names and capacities, desks,
 *   machines, doors and the devices guarding them; the current month in the
 *   site's time zone (for the member page's statement); and whether the
 *   caller may see who is where. Anyone logged in: it holds nothing personal.
 * - GET /floorplan/people: the names of the members the live state shows now
 *   (inside a space, or using a machine), for admins and managers only. Who is
 *   where is personal data: the live state carries member ids only, members
 *   see only their own, and names are never sent to anyone else.
 *
 * The site is the one `facility start` loads; a server without a site file
 * answers 503 to GET /floorplan, one without a gateway to GET /floorplan/people.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { layoutFloor } from '../../core/site/layout.js';
import { DESK_KINDS, SPACE_KINDS, type Site } from '../../core/site/model.js';
import { dateOfDay, localDay, zoneAround } from '../../core/usage/calendar.js';
import type { Role } from '../db/schema.js';
import { HttpProblem } from '../problems.js';
import type { ServerContext } from './context.js';
import type { LiveSource } from './live.js';
import { NoQuery, ProblemSchema } from './schemas.js';

export interface FloorplanRouteOptions extends ServerContext {
  /** Null: no gateway in this process (GET /floorplan/people answers 503). */
  readonly live: LiveSource | null;
  /** Null: no site file loaded (GET /floorplan answers 503). */
  readonly site: Site | null;
}

/** Who may see members' names on the floor plan. */
export const NAME_VIEWERS: readonly Role[] = ['admin', 'manager'];
const VIEWERS: readonly Role[] = ['admin', 'manager', 'auditor', 'member'];

const Num = Type.Number();
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Box = { x: Num, y: Num, w: Num, h: Num };

export const FloorplanSchema = Type.Object(
  {
    site: Type.Object({ id: Type.String(), name: Type.String(), nameZh: Nullable(Type.String()), timezone: Type.String() }, { additionalProperties: false }),
    month: Type.String({ description: 'The current month in the site’s time zone, YYYY-MM' }),
    width: Num,
    height: Num,
    spaces: Type.Array(
      Type.Object(
        { id: Type.String(), name: Type.String(), nameZh: Nullable(Type.String()), kind: Type.Union(SPACE_KINDS.map((k) => Type.Literal(k))), capacity: Type.Union([Type.Integer(), Type.Null()]), ...Box, headerH: Num },
        { additionalProperties: false },
      ),
    ),
    desks: Type.Array(Type.Object({ id: Type.String(), space: Type.String(), kind: Type.Union(DESK_KINDS.map((k) => Type.Literal(k))), ...Box }, { additionalProperties: false })),
    machines: Type.Array(
      Type.Object({ id: Type.String(), space: Type.String(), name: Type.String(), nameZh: Nullable(Type.String()), class: Type.String(), ...Box }, { additionalProperties: false }),
    ),
    doors: Type.Array(
      Type.Object(
        { id: Type.String(), space: Type.String(), name: Nullable(Type.String()), devices: Type.Array(Type.String(), { description: 'Devices at the door (readers, controllers): their live status colours it' }), ...Box },
        { additionalProperties: false },
      ),
    ),
    viewer: Type.Object(
      { role: Type.String(), names: Type.Boolean({ description: 'Whether GET /floorplan/people answers this caller' }), memberId: Nullable(Type.String()) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const PeopleSchema = Type.Object(
  {
    members: Type.Record(
      Type.String(),
      Type.Object({ name: Type.String(), nameZh: Nullable(Type.String()), memberNo: Type.String() }, { additionalProperties: false }),
      { description: 'Member id → names, for the members the live state shows now (inside a space or at a machine)' },
    ),
  },
  { additionalProperties: false },
);

const noSite = (): HttpProblem =>
  new HttpProblem(503, 'site_unavailable', 'this server has no site file loaded (it is started without one), so it has no floor plan; run facility start with the site file');
const noLive = (): HttpProblem =>
  new HttpProblem(503, 'live_unavailable', 'this server has no gateway in its process (facility server), so it has no live state; run facility start for both in one process');

/** The plan as the page draws it; the same for every caller. */
export function floorplanOf(site: Site): Omit<typeof FloorplanSchema.static, 'month' | 'viewer'> {
  const file = site.file;
  const plan = layoutFloor(file);
  const round = <R extends { x: number; y: number; w: number; h: number }>(r: R) => ({ x: Math.round(r.x), y: Math.round(r.y), w: Math.round(r.w), h: Math.round(r.h) });
  const atDoor = new Map<string, string[]>();
  for (const d of site.devices.values()) {
    if (d.target?.type !== 'door') continue;
    const list = atDoor.get(d.target.id) ?? [];
    list.push(d.id);
    atDoor.set(d.target.id, list);
  }
  return {
    site: { id: site.id, name: file.site.name, nameZh: file.site.nameZh ?? null, timezone: site.timezone },
    width: Math.round(plan.width),
    height: Math.round(plan.height),
    spaces: plan.spaces.map((p) => {
      const s = site.spaces.get(p.id)!;
      return { id: p.id, name: s.name, nameZh: s.nameZh ?? null, kind: s.kind, capacity: s.capacity ?? null, ...round(p), headerH: Math.round(p.header.h) };
    }),
    desks: plan.desks.map((p) => ({ id: p.id, space: p.space, kind: site.desks.get(p.id)!.kind ?? 'hot', ...round(p) })),
    machines: plan.machines.map((p) => {
      const e = site.equipment.get(p.id)!;
      return { id: p.id, space: p.space, name: e.name, nameZh: e.nameZh ?? null, class: e.class, ...round(p) };
    }),
    doors: plan.doors.map((p) => ({ id: p.id, space: p.space, name: site.doors.get(p.id)!.name ?? null, devices: (atDoor.get(p.id) ?? []).sort(), ...round(p) })),
  };
}

export const floorplanRoutes: FastifyPluginAsync<FloorplanRouteOptions> = async (root, opts) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  // Laid out once per site (the site file does not change while the server runs).
  let cached: { site: Site; plan: ReturnType<typeof floorplanOf> } | null = null;

  app.get(
    '/floorplan',
    {
      config: { authz: { roles: VIEWERS } },
      schema: {
        tags: ['live'],
        summary: 'The site’s floor plan for the live page: spaces, desks, machines and doors laid out from the site file (no personal data)',
        querystring: NoQuery,
        response: { 200: FloorplanSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const site = opts.site;
      if (!site) throw noSite();
      if (cached?.site !== site) cached = { site, plan: floorplanOf(site) };
      const now = opts.clock.now();
      const month = dateOfDay(localDay(zoneAround(site.timezone, now, now), now)).slice(0, 7);
      const p = req.principal!;
      void reply.header('cache-control', 'private, no-cache');
      return {
        ...cached.plan,
        month,
        viewer: { role: p.role, names: NAME_VIEWERS.includes(p.role), memberId: p.kind === 'user' ? p.memberId : null },
      };
    },
  );

  app.get(
    '/floorplan/people',
    {
      config: { authz: { roles: NAME_VIEWERS } },
      schema: {
        tags: ['live'],
        summary: 'Names of the members the live state shows now (inside a space, at a machine): who is where, for admins and managers only',
        querystring: NoQuery,
        response: { 200: PeopleSchema, 503: ProblemSchema },
      },
    },
    async (_req, reply) => {
      if (!opts.live) throw noLive();
      const state = opts.live.snapshot();
      const ids = new Set<string>();
      for (const list of Object.values(state.presence)) for (const p of list) if (p.memberId !== null) ids.add(p.memberId);
      for (const m of Object.values(state.machines)) if (m.memberId !== null) ids.add(m.memberId);
      const rows = ids.size === 0 ? [] : await opts.db.selectFrom('members').select(['id', 'name', 'name_zh', 'member_no']).where('id', 'in', [...ids]).execute();
      void reply.header('cache-control', 'private, no-store');
      return { members: Object.fromEntries(rows.map((r) => [r.id, { name: r.name, nameZh: r.name_zh, memberNo: r.member_no }])) };
    },
  );
};
