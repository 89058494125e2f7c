/**
 * The browser pages' shells and words (server/web/pages.ts, messages.ts):
 * every message the scripts ask for exists in both languages with the same
 * placeholders, the catalogue reaches the script as a JSON data block that no
 * string can break out of, and the shell has no inline script.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LANGS } from '../../server/print/messages.js';
import { WEB_MESSAGES, type WebMessageKey } from '../../server/web/messages.js';
import { ASSET_TYPES, defaultWebDir, loadAssets, renderPage } from '../../server/web/pages.js';

const dir = defaultWebDir();
const scripts = ['common.js', 'floorplan.js', 'member.js', 'book.js'].map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('web pages', () => {
  it('has every message the scripts ask for, in both languages with the same placeholders', () => {
    const literal = [...scripts.matchAll(/\bt\('([\w.]+)'/g)].map((m) => m[1]!);
    // State words are looked up by the state's name: t(`state.${st}`).
    const states = ['occupied', 'vacant', 'unknown', 'running', 'idle', 'off', 'online', 'offline'].map((s) => `state.${s}`);
    const kinds = ['desk', 'presence', 'machine'].map((k) => `kind.${k}`);
    const arrays = [...scripts.matchAll(/'(me\.usage\.\w+)'/g)].map((m) => m[1]!);
    const used = new Set([...literal, ...states, ...kinds, ...arrays]);
    expect(literal.length).toBeGreaterThan(20);
    expect([...used].filter((k) => !(k in WEB_MESSAGES))).toEqual([]);
    for (const [key, text] of Object.entries(WEB_MESSAGES) as [WebMessageKey, Record<string, string>][]) {
      expect({ key, zh: placeholders(text['zh-CN']!) }).toEqual({ key, zh: placeholders(text.en!) });
    }
  });

  it.each(LANGS)('renders the shells in %s: the language, the catalogue as data, the script as a file', (lang) => {
    for (const page of ['floorplan', 'member', 'book'] as const) {
      const html = renderPage(page, lang);
      expect(html).toContain(`<html lang="${lang}">`);
      expect(html).toContain(`<script type="module" src="/assets/${page}.js"></script>`);
      // Only the module and the JSON data block: no script the CSP would have to allow inline.
      expect(html.match(/<script[^>]*>/g)).toEqual(['<script type="application/json" id="messages">', `<script type="module" src="/assets/${page}.js">`]);
      const block = /<script type="application\/json" id="messages">([^<]*)<\/script>/.exec(html)![1]!;
      expect(JSON.parse(block)).toEqual(Object.fromEntries(Object.entries(WEB_MESSAGES).map(([k, v]) => [k, v[lang]])));
    }
  });

  it('serves every asset it names', () => {
    const assets = loadAssets();
    for (const name of Object.keys(ASSET_TYPES)) expect((assets as Record<string, string>)[name]!.length).toBeGreaterThan(100);
  });
});
