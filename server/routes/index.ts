/**
 * The API's route areas, each an encapsulated fastify plugin registered under
 * /api/v1 with the ServerContext as its options. Add a new area here.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from './context.js';

export type RouteArea = FastifyPluginAsync<ServerContext>;

export const ROUTE_AREAS: readonly RouteArea[] = [];
