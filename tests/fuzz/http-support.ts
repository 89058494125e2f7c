/**
 * Shared by the HTTP fuzzers (http-bodies.test.ts, query-injection.test.ts):
 * arbitraries built from the app's own OpenAPI document (each route's JSON
 * schemas, as fastify validates them), a hash of every table of the server's
 * database, and path parameters for the test server's seeded world.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import type { TestServer } from '../harness/server.js';
import { PROTO_KEYS, toJsonText, wrongValue } from './support.js';

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  maxItems?: number;
};

interface OpenApiOperation {
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  parameters?: { in: string; name: string; schema?: JsonSchema; required?: boolean }[];
}

/** The app's OpenAPI document (fastify-swagger), paths in `{param}` form. */
export function openApi(s: TestServer): Record<string, Record<string, OpenApiOperation>> {
  return (s.app as unknown as { swagger(): { paths: Record<string, Record<string, OpenApiOperation>> } }).swagger().paths;
}

export const toOpenApiPath = (url: string): string => url.replace(/:([A-Za-z]+)/g, '{$1}');

export function operation(s: TestServer, method: string, url: string): OpenApiOperation | undefined {
  return openApi(s)[toOpenApiPath(url)]?.[method.toLowerCase()];
}

const patternCache = new Map<string, fc.Arbitrary<string>>();
function matching(pattern: string): fc.Arbitrary<string> {
  let a = patternCache.get(pattern);
  if (!a) {
    try {
      a = fc.stringMatching(new RegExp(pattern));
    } catch {
      a = fc.string({ maxLength: 20 });
    }
    patternCache.set(pattern, a);
  }
  return a;
}

/**
 * Values a schema accepts, mostly (lengths and ranges are kept, patterns and
 * formats followed); `idsFor` supplies real ids for properties named like
 * references (teamId, memberId, …), so bodies reach the handlers' own checks.
 */
export function fromSchema(schema: JsonSchema | undefined, idsFor: (name: string) => readonly string[], name = '', depth = 0): fc.Arbitrary<unknown> {
  if (schema === undefined || depth > 5) return fc.jsonValue({ maxDepth: 2 });
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum !== undefined) return fc.constantFrom(...schema.enum);
  const alts = schema.anyOf ?? schema.oneOf;
  if (alts !== undefined) return fc.oneof(...alts.map((a) => fromSchema(a, idsFor, name, depth + 1)));
  const types = Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type];
  if (types.length > 1) return fc.oneof(...types.map((t) => fromSchema({ ...schema, type: t }, idsFor, name, depth + 1)));
  const ids = idsFor(name);
  switch (types[0]) {
    case 'object': {
      const props = schema.properties ?? {};
      const keys = Object.keys(props);
      if (keys.length === 0) return fc.constant({});
      const rec: Record<string, fc.Arbitrary<unknown>> = {};
      for (const k of keys) rec[k] = fromSchema(props[k], idsFor, k, depth + 1);
      const required = (schema.required ?? []).filter((k) => keys.includes(k));
      return fc.record(rec, { requiredKeys: required });
    }
    case 'array': {
      const min = schema.minItems ?? 0;
      return fc.array(fromSchema(schema.items, idsFor, name, depth + 1), { minLength: min, maxLength: Math.min(schema.maxItems ?? 4, min + 4) });
    }
    case 'string': {
      if (ids.length > 0) return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ids) }, { weight: 1, arbitrary: fc.constantFrom('x_does_not_exist', '') });
      if (schema.format === 'date') return fc.date({ min: new Date('2020-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
      if (schema.format === 'date-time') return fc.date({ min: new Date('2020-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }).map((d) => d.toISOString());
      if (schema.format === 'email') return fc.emailAddress();
      const min = schema.minLength ?? 0;
      const max = Math.min(schema.maxLength ?? 40, 60);
      if (schema.pattern !== undefined) return matching(schema.pattern).map((v) => v.slice(0, max));
      return fc.string({ minLength: Math.min(min, max), maxLength: max });
    }
    case 'integer': {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? Math.floor(schema.exclusiveMinimum) + 1 : -1000);
      const max = schema.maximum ?? Math.max(min + 1_000_000, 1_000_000);
      return fc.integer({ min: Math.max(min, Number.MIN_SAFE_INTEGER), max: Math.min(max, Number.MAX_SAFE_INTEGER) });
    }
    case 'number': {
      const min = schema.minimum ?? schema.exclusiveMinimum ?? -1e6;
      const max = schema.maximum ?? 1e9;
      return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case undefined:
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A schema-shaped body damaged: one field wrong, an extra (mass-assignment or prototype) field, or gone. */
export function damaged(body: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const extraKeys = fc.constantFrom('paid', 'role', 'memberId', 'id', 'createdAt', 'status', ...PROTO_KEYS);
  return fc.tuple(body, fc.nat(), wrongValue, extraKeys, fc.nat(2)).map(([b, i, v, extra, how]) => {
    if (b === null || typeof b !== 'object' || Array.isArray(b)) return v;
    const o = { ...(b as Record<string, unknown>) };
    const keys = Object.keys(o);
    if (how === 0 && keys.length > 0) o[keys[i % keys.length]!] = v;
    else if (how === 1) Object.defineProperty(o, extra, { value: v, enumerable: true, writable: true, configurable: true });
    else if (keys.length > 0) delete o[keys[i % keys.length]!];
    return o;
  });
}

/** JSON text of a body: own __proto__ keys kept, deep nesting written without recursion (support.ts toJsonText). */
export const jsonText = (v: unknown): string => toJsonText(v);

/**
 * A hash of every row of each table, to prove a refused request changed nothing. `ignore`: tables
 * any authenticated request touches (a session's last-seen time), not state a request may change.
 */
export async function dbHashes(s: TestServer, ignore: ReadonlySet<string> = new Set()): Promise<Record<string, string>> {
  const tables = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`.execute(s.db);
  const out: Record<string, string> = {};
  for (const { name } of tables.rows) {
    if (ignore.has(name)) continue;
    const rows = await sql.raw(`SELECT * FROM "${name.replace(/"/g, '""')}" ORDER BY 1`).execute(s.db);
    // When a credential was last used is bookkeeping of the authentication, not a write by the request
    // (a gateway token's first use in a run sets it, whatever the request then does).
    out[name] = createHash('sha256')
      .update(JSON.stringify(rows.rows, (k, v: unknown) => (k === 'last_used_at' ? undefined : typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('base64') : v)))
      .digest('hex')
      .slice(0, 16);
  }
  return out;
}

/** The tables whose hashes differ. */
export function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((t) => before[t] !== after[t]);
}
