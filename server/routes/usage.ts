/**
 * Usage over any period, computed from the raw records in InfluxDB by the
 * same sessioniser the gateway runs live (server/usage/readback.ts,
 * docs/utilisation.md).
 *
 * - Staff (admin, manager, auditor) see every session. A member sees only
 *   their own presence and machine sessions (desk sensors do not know who sat
 *   there, so desk sessions carry no member and are staff-only).
 * - The server needs the site (its desks, machines and spaces) and InfluxDB:
 *   `facility start` hands both over; a server without them answers 503 and
 *   says what to configure.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Site } from '../../core/site/model.js';
import { GRANULARITIES, type Granularity, type Interval } from '../../core/usage/calendar.js';
import { metricsCalendars, metricsResources, utilisation } from '../../core/usage/metrics.js';
import type { SessioniserConfig, UnknownGap, UsageSession } from '../../core/usage/sessioniser.js';
import type { InfluxV1Client } from '../../gateway/influx/client.js';
import { ownMemberScope } from '../auth/principal.js';
import { HttpProblem, problems } from '../problems.js';
import { usageForPeriod, UsageReadError, type PeriodUsage, type ReadbackOptions } from '../usage/readback.js';
import type { ServerContext } from './context.js';
import { ProblemSchema } from './schemas.js';

/** Where the server reads usage from: one site's sessioniser settings and its InfluxDB. */
export interface UsageSource {
  readonly siteId: string;
  readonly config: SessioniserConfig;
  readonly influx: InfluxV1Client;
  /** The site itself, for utilisation (its desks, machines and calendars). */
  readonly site: Site;
}

/** Hourly reports are for short periods: at most this long. */
export const MAX_HOURLY_PERIOD_MS = 8 * 86_400_000;

/** The longest period one request may cover (a quarter and a bit). */
export const MAX_PERIOD_MS = 93 * 86_400_000;

const KINDS = ['desk', 'presence', 'machine'] as const;
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

const SessionSchema = Type.Object(
  {
    kind: Type.Union(KINDS.map((k) => Type.Literal(k))),
    id: Type.String(),
    resource: Type.String({ description: 'Desk, space (presence) or machine id' }),
    space: Type.Union([Type.String(), Type.Null()]),
    memberId: Type.Union([Type.String(), Type.Null()]),
    teamId: Type.Union([Type.String(), Type.Null()], { description: 'The member’s team as the access decision recorded it; null when none or not recorded' }),
    start: Type.Integer({ description: 'epoch ms' }),
    end: Type.Integer({ description: 'epoch ms' }),
    endInferred: Type.Boolean({ description: 'The end was not observed (timeout, closing time, device offline or silent)' }),
    endReason: Type.String(),
    runningMs: NullableNumber,
    idleMs: NullableNumber,
    energyWh: NullableNumber,
    accessSessionId: Type.Union([Type.String(), Type.Null()]),
    evidence: Type.Object({ first: Type.String(), last: Type.String(), count: Type.Integer() }, { description: 'Journal keys of the first and last record the session rests on, and how many' }),
  },
  { additionalProperties: false },
);

const GapSchema = Type.Object(
  { device: Type.String(), resource: Type.String(), from: Type.Integer(), to: Type.Integer() },
  { additionalProperties: false, description: 'A device offline: unknown, neither used nor free' },
);

const UsageResponse = Type.Object(
  {
    siteId: Type.String(),
    from: Type.Integer(),
    to: Type.Integer(),
    sessions: Type.Array(SessionSchema, { description: 'Sessions overlapping [from, to), as recorded (not clipped)' }),
    open: Type.Array(SessionSchema, { description: 'Sessions still open at `to`, cut there (endReason open)' }),
    gaps: Type.Array(GapSchema),
    records: Type.Integer({ description: 'Raw records read (including the look-back before `from`)' }),
    unreadable: Type.Object({ count: Type.Integer(), first: Type.Union([Type.String(), Type.Null()]) }),
  },
  { additionalProperties: false },
);

const UsageQuery = Type.Object(
  {
    from: Type.Integer({ minimum: 0, description: 'Start of the period, epoch ms (inclusive)' }),
    to: Type.Integer({ minimum: 0, description: 'End of the period, epoch ms (exclusive); at most 93 days after from' }),
    kind: Type.Optional(Type.Union(KINDS.map((k) => Type.Literal(k)))),
    resource: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only this desk, space or machine' })),
    memberId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only this member (staff); members always see only their own' })),
  },
  { additionalProperties: false },
);

const unavailable = () =>
  new HttpProblem(
    503,
    'usage_unavailable',
    'usage is computed from InfluxDB with the site file, and this server has neither: run `facility start`, which hands both over, or give `facility server` a site file (--site) and an InfluxDB URL (--influx-url)',
  );

/** The usage source, or the 503 that says what to configure. */
export function requireUsage(ctx: ServerContext): UsageSource {
  if (!ctx.usage) throw unavailable();
  return ctx.usage;
}

/** A period's usage read back from InfluxDB, its failures as problems (422: the read itself; 503: InfluxDB). */
export async function readUsage(source: UsageSource, from: number, to: number, options: Pick<ReadbackOptions, 'windowMs' | 'onProgress'> = {}): Promise<PeriodUsage> {
  try {
    return await usageForPeriod(source.influx, source.config, { site: source.siteId, from, to, ...options });
  } catch (err) {
    if (err instanceof UsageReadError) throw problems.unprocessable(err.message);
    throw new HttpProblem(503, 'influxdb_unavailable', `could not read usage from InfluxDB: ${(err as Error).message}; check that InfluxDB is running and reachable (GET /healthz)`);
  }
}

/** A period must be non-empty and at most `limitMs` long. */
function checkPeriod(from: number, to: number, limitMs: number, hint = ''): void {
  if (from >= to) throw problems.unprocessable(`the period is empty: from (${from}) must be before to (${to})`, [{ path: 'querystring/to', message: 'must be after from' }]);
  const days = limitMs / 86_400_000;
  if (to - from > limitMs) {
    throw problems.unprocessable(`the period is ${Math.ceil((to - from) / 86_400_000)} days; ask for at most ${days} days at a time${hint}`, [{ path: 'querystring/to', message: `at most ${days} days after from` }]);
  }
}

function toJson(s: UsageSession): Static<typeof SessionSchema> {
  return { ...s };
}

const gapJson = (g: UnknownGap) => ({ device: g.device, resource: g.resource, from: g.from, to: g.to });

export const usageRoutes: FastifyPluginAsync<ServerContext> = async (fastify, ctx) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/usage/sessions',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor', 'member'] } },
      schema: {
        tags: ['usage'],
        summary: 'Usage sessions of a period (desks, presence in spaces, machine runs), computed from the raw signals',
        description:
          'Reads the period (and a look-back of at least 24 h before it, for sessions already running) from InfluxDB and runs the sessioniser. Members get only their own presence and machine sessions.',
        querystring: UsageQuery,
        response: { 200: UsageResponse, 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req) => {
      const source = requireUsage(ctx);
      const { from, to, kind, resource } = req.query;
      checkPeriod(from, to, MAX_PERIOD_MS);
      const scope = ownMemberScope(req.principal);
      if (scope === undefined) throw problems.unauthorized();
      const member = scope ?? req.query.memberId ?? null;
      const usage = await readUsage(source, from, to);
      const wanted = (s: UsageSession) => (kind === undefined || s.kind === kind) && (resource === undefined || s.resource === resource) && (member === null || s.memberId === member);
      return {
        siteId: source.siteId,
        from,
        to,
        sessions: usage.sessions.filter(wanted).map(toJson),
        open: usage.open.filter(wanted).map(toJson),
        // Which devices were offline is operations data: staff only.
        gaps: scope === null ? usage.gaps.filter((g) => resource === undefined || g.resource === resource).map(gapJson) : [],
        records: usage.records,
        unreadable: usage.unreadable,
      };
    },
  );
};

const UtilisationQuery = Type.Object(
  {
    from: Type.Integer({ minimum: 0, description: 'Start of the period, epoch ms (inclusive)' }),
    to: Type.Integer({ minimum: 0, description: 'End of the period, epoch ms (exclusive); at most 93 days after from (8 days by hour)' }),
    granularity: Type.Optional(Type.Union(GRANULARITIES.map((g) => Type.Literal(g)), { description: 'Buckets in the site’s local time; default day' })),
  },
  { additionalProperties: false },
);

const Open = (description: string) => Type.Object({}, { additionalProperties: true, description });

const UtilisationResponse = Type.Object(
  {
    siteId: Type.String(),
    version: Type.Literal(1),
    timezone: Type.String(),
    from: Type.Integer(),
    to: Type.Integer(),
    granularity: Type.Union(GRANULARITIES.map((g) => Type.Literal(g))),
    buckets: Type.Array(Open('One bucket: site, spaces, desks and machines (docs/utilisation.md, "Metrics")')),
    total: Open('The whole period, same shape as a bucket'),
    ignored: Type.Object({ sessions: Type.Integer(), gaps: Type.Integer() }),
    records: Type.Integer(),
  },
  { additionalProperties: false },
);

export const utilisationRoutes: FastifyPluginAsync<ServerContext> = async (fastify, ctx) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/usage/utilisation',
    {
      config: { authz: { roles: ['admin', 'manager', 'auditor'] } },
      schema: {
        tags: ['usage'],
        summary: 'Utilisation of desks, spaces and machines over a period, by hour, day, ISO week or month',
        description:
          'Computed from the raw signals in InfluxDB through the sessioniser, over the opening-hours calendar (holidays and make-up days included); machine downtime from the out-of-service records. Definitions: docs/utilisation.md, "Metrics".',
        querystring: UtilisationQuery,
        response: { 200: UtilisationResponse, 422: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (req) => {
      const source = requireUsage(ctx);
      const { from, to } = req.query;
      const granularity: Granularity = req.query.granularity ?? 'day';
      checkPeriod(from, to, granularity === 'hour' ? MAX_HOURLY_PERIOD_MS : MAX_PERIOD_MS, granularity === 'hour' ? ' by hour (or use granularity=day)' : '');
      const usage = await readUsage(source, from, to);
      const [members, downtimeRows] = await Promise.all([
        ctx.db.selectFrom('members').select(['id', 'team_id']).where('team_id', 'is not', null).execute(),
        ctx.db.selectFrom('equipment_downtime').select(['equipment_id', 'started_at', 'ended_at']).where('site_id', '=', source.siteId).where('started_at', '<', to).execute(),
      ]);
      const teams = new Map(members.map((m) => [m.id, m.team_id!] as const));
      const downtime = new Map<string, Interval[]>();
      for (const d of downtimeRows) {
        const end = d.ended_at === null ? to : Number(d.ended_at);
        if (end <= from) continue;
        const list = downtime.get(d.equipment_id) ?? [];
        list.push({ from: Number(d.started_at), to: end });
        downtime.set(d.equipment_id, list);
      }
      const report = utilisation({
        sessions: [...usage.sessions, ...usage.open],
        gaps: usage.gaps,
        resources: metricsResources(source.site),
        calendars: metricsCalendars(source.site),
        from,
        to,
        granularity,
        teams,
        downtime,
      });
      return { siteId: source.siteId, ...report, buckets: [...report.buckets], records: usage.records };
    },
  );
};
