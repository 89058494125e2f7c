/**
 * Builds the HTTP application (fastify), without listening: tests use
 * app.inject(), the CLI calls listen(). Later issues add their route areas here.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { healthRoutes, type HealthRouteOptions } from './routes/health.js';

export interface AppOptions {
  readonly logger: Logger;
  readonly gateway?: HealthRouteOptions;
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = opts.logger;
  const app = Fastify({
    loggerInstance,
    // Per-request lines would drown the gateway's own logs; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  });
  if (opts.gateway) await app.register(healthRoutes, opts.gateway);
  return app;
}
