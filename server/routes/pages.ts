/**
 * The browser pages (server/web/pages.ts): GET /floorplan, GET /member and GET /book
 * (HTML, `?lang=zh-CN|en`, else from Accept-Language), and their script and
 * stylesheet under /assets/. Public: they carry no data, only the page
 * shell; everything shown comes from the API, whose routes check who calls
 * (a caller without a session is shown a login form).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { chooseLang, LANGS } from '../print/messages.js';
import { ASSET_TYPES, loadAssets, renderPage, type AssetName, type PageName } from '../web/pages.js';

export interface PageRouteOptions {
  /** Where the asset files are (default: server/web/). */
  readonly webDir?: string;
}

const open = { authz: { roles: 'public' as const } };
const LangQuery = Type.Object(
  { lang: Type.Optional(Type.Union(LANGS.map((l) => Type.Literal(l)), { description: 'Page language; default from Accept-Language (zh… → zh-CN, else en)' })) },
  { additionalProperties: false },
);
const NoQuery = Type.Object({}, { additionalProperties: false });

export const pageRoutes: FastifyPluginAsync<PageRouteOptions> = async (app, opts) => {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const assets = loadAssets(opts.webDir);

  const pages: Record<PageName, string> = {
    floorplan: 'The live floor plan: spaces, desks, machines and doors coloured by their live state, counts per space; who is where for managers',
    member: 'The member page: my current session, my usage this month, my statement',
    book: 'The public booking page (no login): which shared machines, desks and rooms are free now and when they are booked; a visitor’s booking request',
  };
  for (const [page, summary] of Object.entries(pages) as [PageName, string][]) {
    typed.get(
      `/${page}`,
      { config: open, schema: { tags: ['pages'], summary, querystring: LangQuery, produces: ['text/html'], response: { 200: Type.String({ description: 'HTML page' }) } } },
      async (req, reply) => {
        const lang = chooseLang(req.query.lang, req.headers['accept-language']);
        return reply.header('cache-control', 'no-cache').header('content-language', lang).header('vary', 'accept-language').type('text/html; charset=utf-8').send(renderPage(page, lang));
      },
    );
  }

  for (const [name, type] of Object.entries(ASSET_TYPES) as [AssetName, string][]) {
    typed.get(
      `/assets/${name}`,
      { config: open, schema: { tags: ['pages'], summary: `The pages’ ${name}`, querystring: NoQuery, response: { 200: Type.String() } } },
      // no-cache: revalidated on every load, so a server upgrade is never mixed with an old script.
      async (_req, reply) => reply.header('cache-control', 'no-cache').type(type).send(assets[name]),
    );
  }
};
