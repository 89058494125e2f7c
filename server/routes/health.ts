/** GET /healthz and GET /metrics: the gateway's observability, on the HTTP port. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginCallback } from 'fastify';
import type { Registry } from 'prom-client';

const ClassCounts = Type.Object({ access: Type.Integer(), billing: Type.Integer(), telemetry: Type.Integer(), system: Type.Integer() });

export const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  site: Type.String(),
  broker: Type.Object({
    mode: Type.Union([Type.Literal('embedded'), Type.Literal('external')], { description: 'embedded: the gateway is the broker; external: a client of an existing broker (docs/deployment.md)' }),
    listening: Type.Boolean({ description: 'embedded: accepting connections; external: every connection up and subscribed' }),
    port: Type.Integer({ description: 'embedded: the MQTT port; external: 0' }),
    clients: Type.Integer({ description: 'embedded: authenticated clients; external: this gateway’s connections that are up' }),
    external: Type.Optional(
      Type.Object({
        url: Type.String(),
        clientId: Type.String(),
        shareGroup: Type.String(),
        connections: Type.Integer(),
        connected: Type.Integer(),
        subscriptions: Type.Integer({ description: 'shared subscriptions per connection, one per uplink filter of the site' }),
        refusedSubscriptions: Type.Array(Type.String()),
        received: Type.Integer(),
        unresolved: Type.Object({ no_device: Type.Integer(), refused: Type.Integer(), ambiguous: Type.Integer() }),
        journalRefusals: Type.Integer(),
        lastError: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
  }),
  journal: Type.Object({
    lastSeq: Type.Integer(),
    pending: Type.Integer(),
    pendingByClass: ClassCounts,
    appended: Type.Integer(),
    duplicates: Type.Integer(),
    shed: Type.Integer(),
    refused: Type.Integer(),
    commits: Type.Integer(),
    lastCommitMs: Type.Number(),
    failing: Type.Union([Type.String(), Type.Null()]),
  }),
  sink: Type.Object({
    cursor: Type.Integer(),
    state: Type.String(),
    lastError: Type.Union([Type.String(), Type.Null()]),
    failingSince: Type.Union([Type.Integer(), Type.Null()]),
    written: Type.Integer(),
    lagRecords: Type.Integer(),
    lagSeconds: Type.Number(),
  }),
  serial: Type.Array(
    Type.Object({
      device: Type.String(),
      path: Type.String(),
      state: Type.String(),
      since: Type.Number(),
      reads: Type.Integer(),
      rejects: Type.Integer(),
      lastError: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  access: Type.Object({
    policyVersion: Type.Union([Type.Integer(), Type.Null()]),
    policyAgeS: Type.Union([Type.Integer(), Type.Null()]),
    decisions: Type.Integer(),
    granted: Type.Integer(),
    refused: Type.Integer(),
    duplicates: Type.Integer(),
    late: Type.Integer({ description: 'Swipes that arrived too late to act on (a reader’s queued backlog)' }),
    sessions: Type.Integer(),
    present: Type.Integer(),
    hourMeters: Type.Record(Type.String(), Type.Number(), { description: 'Running hours of each machine over its life (its hour meter, for maintenance)' }),
  }),
  startup: Type.Object(
    {
      gatewayMs: Type.Integer({ description: 'From the gateway’s start to accepting connections (journal, access state and live view rebuilt, broker listening), ms' }),
      processMs: Type.Integer({ description: 'From the process’s start to then, module loading included, ms' }),
    },
    { description: 'How long the last start took' },
  ),
  live: Type.Object({
    records: Type.Integer({ description: 'Records the live view has taken since the start (its replay included)' }),
    late: Type.Integer({ description: 'Records that came later than the allowed lateness (60 s): not in the live view' }),
    waiting: Type.Integer({ description: 'Records waiting for the sessioniser’s watermark' }),
    retainedTopics: Type.Integer({ description: 'Retained live-state topics published' }),
    tickMs: Type.Number({ description: 'How long deriving the live state last held the event loop, ms' }),
    maxTickMs: Type.Number({ description: 'The longest it has, since the start, ms' }),
  }),
  audit: Type.Object(
    {
      lastCheckpoint: Type.Union([
        Type.Object({ size: Type.Integer(), time: Type.Integer({ description: 'epoch ms' }), keyId: Type.String() }, { description: "The journal's newest signed checkpoint (docs/audit.md)" }),
        Type.Null(),
      ]),
    },
    { description: 'The tamper-evident journal' },
  ),
  problems: Type.Array(Type.String()),
});
export type Health = Static<typeof HealthSchema>;
/** The same shape with read-only arrays, as the gateway returns it. */
export type GatewayHealthLike = Omit<Health, 'problems' | 'serial'> & { readonly problems: readonly string[]; readonly serial: readonly Health['serial'][number][] };

export interface HealthRouteOptions {
  readonly health: () => Health | GatewayHealthLike;
  readonly registry: Registry;
}

export const healthRoutes: FastifyPluginCallback<HealthRouteOptions> = (app, opts, done) => {
  const open = { authz: { roles: 'public' as const } };
  const query = Type.Object({}, { additionalProperties: false });
  app.get('/healthz', { config: open, schema: { tags: ['operations'], querystring: query, response: { 200: HealthSchema } } }, (_req, reply) => reply.send(opts.health()));
  app.get(
    '/metrics',
    { config: open, schema: { tags: ['operations'], querystring: query, response: { 200: Type.String() } } },
    async (_req, reply) => {
      // health() refreshes the gauges (journal backlog, sink lag) before the scrape.
      opts.health();
      const text = await opts.registry.metrics();
      return reply.type(opts.registry.contentType).send(text);
    },
  );
  done();
};
