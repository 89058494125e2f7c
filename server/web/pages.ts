/**
 * The browser pages: the live floor plan (/floorplan) and the member page
 * (/member). Each is a small HTML shell in one language, a stylesheet and a
 * vanilla ES module (floorplan.js, member.js, with common.js), served as files
 * by the server: no build step, no CDN, no inline script (the CSP allows
 * scripts from 'self' only). The shells carry no data: the scripts read the
 * API with the session cookie, which decides what each caller gets.
 */
import { readFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { esc } from '../print/format.js';
import { LANGS, type Lang } from '../print/messages.js';
import { catalogue, webMsg, type WebMessageKey } from './messages.js';

/** The files served under /assets/, with their content types. */
export const ASSET_TYPES = Object.freeze({
  'common.js': 'text/javascript; charset=utf-8',
  'floorplan.js': 'text/javascript; charset=utf-8',
  'member.js': 'text/javascript; charset=utf-8',
  'book.js': 'text/javascript; charset=utf-8',
  'pages.css': 'text/css; charset=utf-8',
});
export type AssetName = keyof typeof ASSET_TYPES;

/**
 * Where the asset files are: beside this module when run from source, and in
 * the source tree when run from dist/ (tsc copies no .js or .css).
 */
export function defaultWebDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [here, resolve(here, '..', '..', '..', 'server', 'web')];
  const found = candidates.find((d) => existsSync(join(d, 'floorplan.js')));
  if (!found) throw new Error(`the web pages' files (floorplan.js, member.js, common.js, pages.css) are in none of ${candidates.join(', ')}`);
  return found;
}

/** Reads every asset once (at start), so a request never touches the disk. */
export function loadAssets(dir: string = defaultWebDir()): Readonly<Record<AssetName, string>> {
  return Object.freeze(Object.fromEntries(Object.keys(ASSET_TYPES).map((name) => [name, readFileSync(join(dir, name), 'utf8')])) as Record<AssetName, string>);
}

export type PageName = 'floorplan' | 'member' | 'book';

const TITLE: Record<PageName, WebMessageKey> = { floorplan: 'floor.title', member: 'member.title', book: 'book.title' };

/** A JSON data block: `<` escaped so no string in it can close the element. */
const jsonBlock = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');

export function renderPage(page: PageName, lang: Lang): string {
  const m = (k: WebMessageKey) => esc(webMsg(lang, k));
  const other = LANGS.find((l) => l !== lang)!;
  const nav = (target: PageName, key: WebMessageKey) =>
    target === page ? `<span class="current">${m(key)}</span>` : `<a href="/${target}?lang=${lang}">${m(key)}</a>`;
  const main =
    page === 'floorplan'
      ? `<p id="totals" class="totals" aria-live="polite"></p>
  <div class="layout">
    <div id="plan" class="plan"></div>
    <aside id="who" class="who" hidden></aside>
  </div>
  <div id="legend" class="legend"></div>`
      : page === 'book'
        ? `<p class="intro">${m('book.intro')}</p>
  <p id="zone" class="note"></p>
  <table id="availability" class="availability"><thead><tr><th>${m('book.resource')}</th><th>${m('book.where')}</th><th>${m('book.now')}</th><th>${m('book.busy')}</th></tr></thead><tbody></tbody></table>
  <form id="request" class="card request">
    <h2>${m('book.request')}</h2>
    <label>${m('book.resource')} <select name="resource" required></select></label>
    <label>${m('book.date')} <input name="date" type="date" required></label>
    <label>${m('book.start')} <input name="start" type="time" step="900" required></label>
    <label>${m('book.minutes')} <input name="minutes" type="number" min="15" step="15" value="60" required></label>
    <label>${m('book.name')} <input name="name" autocomplete="name" required maxlength="200"></label>
    <label>${m('book.contact')} <input name="contact" autocomplete="email" required maxlength="254"></label>
    <button type="submit">${m('book.send')}</button>
    <p id="request-result" class="result" aria-live="polite"></p>
  </form>`
        : `<section id="me-now" class="card"></section>
  <section id="me-usage" class="card"></section>
  <section id="me-statement" class="card"></section>`;
  return `<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${m(TITLE[page])} · OpenFacility</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/pages.css">
<script type="application/json" id="messages">${jsonBlock(catalogue(lang))}</script>
<script type="module" src="/assets/${page}.js"></script>
</head>
<body data-page="${page}">
<header class="top">
  <h1 id="site-name">${m(TITLE[page])}</h1>
  <nav>${nav('floorplan', 'nav.floor')} ${nav('member', 'nav.member')} ${nav('book', 'nav.book')} <a href="/${page}?lang=${other}" lang="${other}" data-lang="${other}">${m('nav.lang')}</a>
    <span id="status" class="status"></span> <button id="logout" type="button" hidden>${m('logout')}</button></nav>
</header>
<main id="main">
  <p id="message" class="message">${m('loading')}</p>
  <form id="login" class="login card" hidden>
    <h2>${m('login.title')}</h2>
    <label>${m('login.username')} <input name="username" autocomplete="username" required></label>
    <label>${m('login.password')} <input name="password" type="password" autocomplete="current-password" required></label>
    <button type="submit">${m('login.submit')}</button>
    <p class="error" id="login-error" hidden>${m('login.failed')}</p>
  </form>
  <div id="content" hidden>
  ${main}
  </div>
</main>
</body>
</html>
`;
}
