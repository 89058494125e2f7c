/** Every error leaves as a problem+json body (../problems.ts); nothing leaks a stack trace. */
import fp from 'fastify-plugin';
import type { FastifyError, FastifyPluginAsync } from 'fastify';
import { HttpProblem, problemBody } from '../problems.js';

const errorsPlugin: FastifyPluginAsync = async (app) => {
  app.setErrorHandler((err: FastifyError | HttpProblem, req, reply) => {
    const lang = req.headers['accept-language'];
    if (err instanceof HttpProblem) {
      return reply.code(err.status).type('application/problem+json').send(problemBody(err.status, err.code, err.detail, lang, err.errors));
    }
    if (err.validation) {
      const errors = err.validation.map((v) => ({ path: `${err.validationContext ?? 'body'}${v.instancePath || ''}`, message: v.message ?? 'is not valid' }));
      return reply
        .code(400)
        .type('application/problem+json')
        .send(problemBody(400, 'validation', `the ${err.validationContext ?? 'request'} does not match the API schema (see /docs)`, lang, errors));
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return reply.code(status).type('application/problem+json').send(problemBody(status, 'server_error', 'the server could not complete the request; it has been logged', lang));
    }
    // Fastify's own client errors (body too large, bad JSON, unsupported media type, rate limit …): its message is safe and specific.
    return reply.code(status).type('application/problem+json').send(problemBody(status, (err.code ?? 'error').toLowerCase(), err.message, lang));
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .type('application/problem+json')
      .send(problemBody(404, 'no_route', `there is no ${req.method} ${req.url.split('?')[0] ?? ''}; the API is described at /docs`, req.headers['accept-language'])),
  );
};

export default fp(errorsPlugin, { name: 'facility-errors' });
