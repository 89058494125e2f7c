/**
 * Shared by the site file fuzzers (site-file.test.ts, site-validate.test.ts):
 * a small example site, the consistency check of an accepted site, and the
 * check of one parse outcome.
 */
import fc from 'fast-check';
import { exampleSiteFile, siteToYaml } from '../../core/site/example.js';
import type { Site, SiteFile } from '../../core/site/model.js';
import { parseSiteText } from '../../core/site/parse.js';
import { PROTO_KEYS, wrongValue } from './support.js';

export const FILE = 'site.yaml';
export const base: SiteFile = exampleSiteFile({ hotDesks: 2, machines: 3, credentialsFor: (id) => ({ secret: `env:SECRET_${id.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}` }) });
export const baseYaml = siteToYaml(base, 'fuzz base');
export const baseLines = baseYaml.split('\n');

/** Why an accepted site is not consistent (empty when it is). */
export function siteProblems(site: Site): string[] {
  const p: string[] = [];
  const f = site.file;
  const unique = (what: string, ids: readonly string[]): void => {
    if (new Set(ids).size !== ids.length) p.push(`${what} ids are not unique: ${ids.join(',')}`);
  };
  unique('space', f.spaces.map((s) => s.id));
  unique('desk', (f.desks ?? []).map((d) => d.id));
  unique('door', (f.doors ?? []).map((d) => d.id));
  unique('equipment', (f.equipment ?? []).map((e) => e.id));
  unique('device', (f.devices ?? []).map((d) => d.id));
  unique('login', (f.logins ?? []).map((l) => l.id));
  if (site.id !== f.site.id) p.push('site id');
  if (site.devices.size !== (f.devices ?? []).length) p.push('devices map size');
  if (site.spaces.size !== f.spaces.length) p.push('spaces map size');
  for (const d of f.desks ?? []) if (!site.spaces.has(d.space)) p.push(`desk ${d.id} in unknown space ${d.space}`);
  for (const d of f.doors ?? []) if (!site.spaces.has(d.space)) p.push(`door ${d.id} in unknown space ${d.space}`);
  for (const e of f.equipment ?? []) if (!site.spaces.has(e.space)) p.push(`equipment ${e.id} in unknown space ${e.space}`);
  const targetExists = (t: { type: string; id: string }): boolean =>
    t.type === 'desk' ? site.desks.has(t.id) : t.type === 'door' ? site.doors.has(t.id) : t.type === 'equipment' ? site.equipment.has(t.id) : t.type === 'space' ? site.spaces.has(t.id) : false;
  for (const [id, d] of site.devices) {
    if (d.id !== id) p.push(`device map key ${id} holds ${d.id}`);
    if (d.target !== null && !targetExists(d.target)) p.push(`device ${id} targets unknown ${d.target.type} ${d.target.id}`);
    if (d.space !== null && !site.spaces.has(d.space)) p.push(`device ${id} in unknown space ${d.space}`);
    if (d.bridge !== null) {
      const b = site.devices.get(d.bridge.device);
      if (b?.kind !== 'zigbee-bridge') p.push(`device ${id} bridged through ${d.bridge.device}, not a bridge of the site`);
    }
    if (d.kind !== 'zigbee-bridge' && d.target === null && d.space === null) p.push(`device ${id} attached to nothing`);
  }
  for (const [clientId, id] of site.byClientId) {
    const d = site.devices.get(id);
    if (!d) p.push(`client id ${clientId} → unknown device ${id}`);
    else if (d.mqtt?.clientId !== clientId) p.push(`client id ${clientId} → ${id} whose client id is ${d.mqtt?.clientId}`);
  }
  for (const [bridge, names] of site.bridged) {
    if (site.devices.get(bridge)?.kind !== 'zigbee-bridge') p.push(`bridged table names ${bridge}, not a bridge`);
    for (const [, id] of names) if (!site.devices.has(id)) p.push(`bridge ${bridge} lists unknown sensor ${id}`);
  }
  for (const id of site.observers.keys()) if (site.devices.has(id)) p.push(`observer ${id} shares a device id`);
  return p;
}

/** Reads one text as a site file and checks the outcome: problems are empty when it is fine. */
export function parseOutcome(text: string): { ok: boolean; problems: string[] } {
  let r;
  try {
    r = parseSiteText(text, FILE);
  } catch (e) {
    return { ok: false, problems: [`parseSiteText threw ${(e as Error).name}: ${(e as Error).message.slice(0, 300)}`] };
  }
  if (r.ok) return { ok: true, problems: siteProblems(r.site) };
  const lines = text.split(/\r\n|\r|\n/).length;
  const p: string[] = [];
  if (r.errors.length === 0) p.push('refused without an error');
  for (const e of r.errors) {
    if (e.file !== FILE) p.push(`error names file ${e.file}`);
    if (!(Number.isInteger(e.line) && e.line >= 1 && e.line <= lines + 1)) p.push(`line ${e.line} outside 1…${lines + 1}`);
    if (!(Number.isInteger(e.column) && e.column >= 1)) p.push(`column ${e.column}`);
    if (typeof e.message !== 'string' || e.message.length === 0) p.push('error without a message');
  }
  return { ok: false, problems: p };
}

// ---------------------------------------------------------------------------------------------
// Object-level mutations

/** Every path to a value in the base site file. */
function pathsOf(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...prefix, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...prefix, k], out);
  return out;
}
const PATHS = pathsOf(base).filter((p) => p.length > 0);
const IDS = [...new Set(PATHS.filter((p) => p[p.length - 1] === 'id').map((p) => String(p.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], base))))];

function parentOf(o: unknown, path: readonly (string | number)[]): { parent: Record<string | number, unknown>; key: string | number } | null {
  let cur = o;
  for (const k of path.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  if (cur === null || typeof cur !== 'object') return null;
  return { parent: cur as Record<string | number, unknown>, key: path[path.length - 1]! };
}

type ObjOp = (o: unknown) => void;
/** structuredClone overflows the stack on the deeply nested values wrongValue makes: share those instead. */
function cloneOrSame<T>(v: T): T {
  try {
    return structuredClone(v);
  } catch {
    return v;
  }
}
const path = fc.constantFrom(...PATHS);
const objOp: fc.Arbitrary<ObjOp> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(path, wrongValue).map(([p, v]) => (o: unknown) => { const r = parentOf(o, p); if (r) r.parent[r.key] = v; }) },
  { weight: 2, arbitrary: path.map((p) => (o: unknown) => { const r = parentOf(o, p); if (r) { if (Array.isArray(r.parent)) r.parent.splice(Number(r.key), 1); else delete r.parent[r.key]; } }) },
  // an item copied within its list: duplicate ids, duplicate MQTT identities, two devices on one target
  { weight: 2, arbitrary: path.filter((p) => typeof p[p.length - 1] === 'number').map((p) => (o: unknown) => { const r = parentOf(o, p); if (r && Array.isArray(r.parent)) r.parent.push(cloneOrSame(r.parent[Number(r.key)])); }) },
  // a reference (or an id) pointed at another id of the file, of any kind
  { weight: 3, arbitrary: fc.tuple(path.filter((p) => ['id', 'space', 'desk', 'door', 'equipment', 'bridge', 'login'].includes(String(p[p.length - 1]))), fc.constantFrom(...IDS, 'nowhere', 'gateway')).map(([p, id]) => (o: unknown) => { const r = parentOf(o, p); if (r) r.parent[r.key] = id; }) },
  // a prototype key added to an object
  { weight: 1, arbitrary: fc.tuple(path, fc.constantFrom(...PROTO_KEYS), wrongValue).map(([p, k, v]) => (o: unknown) => { const r = parentOf(o, [...p, k]); if (r && !Array.isArray(r.parent)) Object.defineProperty(r.parent, k, { value: v, enumerable: true, writable: true, configurable: true }); }) },
);
export const mutatedObject = fc.array(objOp, { minLength: 1, maxLength: 3 }).map((ops) => {
  const o = structuredClone(base) as unknown;
  for (const op of ops) op(o);
  return o;
});

