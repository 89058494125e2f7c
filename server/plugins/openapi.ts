/** The OpenAPI document, generated from the routes' own schemas, and a browsable UI at /docs (assets served locally, no CDN). */
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';

const openapiPlugin: FastifyPluginAsync<{ version: string }> = async (app, opts) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'OpenFacility API',
        description: 'Members, teams, badges, plans, certifications and the access policy of a maker space. 众创空间会员、团队、门卡、套餐与认证管理接口。',
        version: opts.version,
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'facility_session' },
          token: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ session: [] }, { token: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: false } });
};

export default fp(openapiPlugin, { name: 'facility-openapi' });
