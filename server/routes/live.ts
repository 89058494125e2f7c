/**
 * Live state (core/usage/live.ts) over HTTP, from the gateway in this
 * process (`facility start`):
 *
 * - GET /live: the current state.
 * - GET /live/stream: Server-Sent Events. `event: snapshot` with the whole
 *   state on connect, then `event: change` with the entries that changed
 *   (apply them over the snapshot: core/usage/live.ts applyLiveChange), at
 *   most one a second; a comment line every 15 s so proxies keep the
 *   connection open and the client can tell a live one from a dead one.
 *
 * Who: staff (admin, manager, auditor) see member ids; a member sees the
 * counts and states, and their own member id only (forViewer). A server
 * without a gateway in its process (`facility server`, for remote gateways)
 * has no live state: both answer 503 live_unavailable; a remote gateway
 * publishes its live state on MQTT (docs/protocol.md).
 */
import { PassThrough } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { forViewer, LiveStateSchema, type LiveChange, type LiveState } from '../../core/usage/live.js';
import { ownMemberScope, type Principal } from '../auth/principal.js';
import { HttpProblem } from '../problems.js';
import type { ServerContext } from './context.js';
import { NoQuery, ProblemSchema } from './schemas.js';

/** What the routes need from the gateway's live view (gateway/live/live-view.ts). */
export interface LiveSource {
  snapshot(): LiveState;
  /** Returns the function that unsubscribes. */
  subscribe(listener: (change: LiveChange) => void): () => void;
}

export interface LiveRouteOptions extends ServerContext {
  /** Null: no gateway in this process. */
  readonly live: LiveSource | null;
}

export const LIVE_HEARTBEAT_MS = 15_000;
const RETRY_MS = 3_000;
const VIEWERS = ['admin', 'manager', 'auditor', 'member'] as const;

const unavailable = (): HttpProblem =>
  new HttpProblem(
    503,
    'live_unavailable',
    'this server has no gateway in its process (facility server), so it has no live state; run facility start for both in one process, or read a remote gateway’s retained state on MQTT under fac/v1/<site>/state/ (docs/protocol.md)',
  );

/** Staff see everything (undefined); a member only their own member id. */
const viewerOf = (p: Principal | null): string | null | undefined => {
  const scope = ownMemberScope(p);
  return scope === null ? undefined : scope === undefined ? '\u0000none' : scope;
};

export const liveRoutes: FastifyPluginAsync<LiveRouteOptions> = async (root, opts) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const streams = new Set<PassThrough>();

  app.get(
    '/live',
    {
      config: { authz: { roles: VIEWERS } },
      schema: {
        tags: ['live'],
        summary: 'Live state: occupancy per space, desks, people inside, machines and who uses them, devices online (member ids for staff only)',
        querystring: NoQuery,
        response: { 200: LiveStateSchema, 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      if (!opts.live) throw unavailable();
      void reply.header('cache-control', 'private, no-cache');
      return forViewer(opts.live.snapshot(), viewerOf(req.principal));
    },
  );

  app.get(
    '/live/stream',
    {
      config: { authz: { roles: VIEWERS } },
      schema: {
        tags: ['live'],
        summary: 'Server-Sent Events: `snapshot` (the whole state) on connect, then `change` (entries to replace); a comment line every 15 s',
        querystring: NoQuery,
        response: { 200: Type.String({ description: 'text/event-stream' }), 503: ProblemSchema },
      },
    },
    async (req, reply) => {
      const live = opts.live;
      if (!live) throw unavailable();
      const viewer = viewerOf(req.principal);
      const stream = new PassThrough();
      const send = (event: string, data: unknown) => {
        if (!stream.writableEnded) stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      // Subscribe and take the snapshot in one synchronous step: no change can fall between them.
      const unsubscribe = live.subscribe((change) => send('change', forViewer(change, viewer)));
      streams.add(stream);
      stream.write(`retry: ${RETRY_MS}\n\n`);
      send('snapshot', forViewer(live.snapshot(), viewer));
      const heartbeat = setInterval(() => {
        if (!stream.writableEnded) stream.write(': heartbeat\n\n');
      }, LIVE_HEARTBEAT_MS);
      // Fastify destroys the stream when the client goes away; the server's close ends it.
      stream.once('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(stream);
      });
      return reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache, no-transform')
        .header('x-accel-buffering', 'no')
        .send(stream as unknown as string);
    },
  );

  // A server closing waits for open responses: end the streams first, so close() does not hang on them.
  app.addHook('preClose', (done) => {
    for (const stream of streams) stream.end();
    done();
  });
};
