/**
 * Dashboards as JSON, deterministically: the same source always gives the
 * same bytes (keys sorted at every level, two-space indent, newline at the
 * end), so the committed files can be diffed against a fresh rendering.
 */
import { fileURLToPath } from 'node:url';
import { DASHBOARDS } from './src/index.js';

/** Where the generated dashboards are committed (and where Grafana's file provider reads them). */
export const JSON_DIR = fileURLToPath(new URL('./json/', import.meta.url));

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (typeof x !== 'function' && x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

/** The JSON text of one built dashboard. */
export function toJson(dashboard: unknown): string {
  return `${JSON.stringify(sortKeys(dashboard), null, 2)}\n`;
}

/** File name (`<name>.json`) → JSON text, for every dashboard in dashboards/src/index.ts. */
export function renderAll(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, make] of Object.entries(DASHBOARDS).sort(([a], [b]) => a.localeCompare(b))) out.set(`${name}.json`, toJson(make().build()));
  return out;
}
