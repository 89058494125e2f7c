/**
 * Validates a parsed site file and builds the frozen `Site` the rest of the
 * system is handed. Two passes, both collecting every problem rather than
 * stopping at the first:
 *
 *  1. the JSON schema (SiteFileSchema), with TypeBox's raw messages translated
 *     into sentences a site manager can act on;
 *  2. what a schema cannot say: unique ids, references between sections,
 *     which device kind may attach to what, signal kinds, time zone, hashes.
 *
 * Pure: no I/O, no clock. Line numbers are the YAML layer's business
 * (./parse.ts); here an issue carries the path of the offending value.
 */
import type { TSchema } from '@sinclair/typebox';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { END_PATTERN, START_PATTERN } from '../policy/snapshot.js';
import { CONTROLLER_SILENT_AFTER_MS } from '../protocol/commands.js';
import { KINDS_BY_DEVICE } from '../signals.js';
import { MODEL_DEFAULTS, SILENT_AFTER_S_BY_FORMAT } from './models.js';
import {
  DATE_PATTERN,
  DEVICE_FORMATS,
  DEVICE_KINDS,
  FORMATS_BY_KIND,
  ID_PATTERN,
  MQTT_FORMATS,
  MqttIdentitySchema,
  SERIAL_FORMATS,
  SPACE_KINDS,
  SiteFileSchema,
  type DeskDef,
  type DeviceDef,
  type DeviceFormat,
  type DeviceInfo,
  type DeviceKind,
  type LoginDef,
  OBSERVER_TOPICS,
  type ObserverInfo,
  type ObserverTopic,
  type DoorDef,
  type EquipmentDef,
  type Site,
  type SiteFile,
  type SpaceDef,
  type TargetRef,
  type TargetType,
} from './model.js';

export type SitePath = (string | number)[];

/** Stable codes, so callers and tests can tell kinds of problem apart without parsing prose. */
export type SiteIssueCode =
  | 'required'
  | 'unknown-field'
  | 'invalid-value'
  | 'duplicate-id'
  | 'unknown-reference'
  | 'wrong-space-kind'
  | 'attachment'
  | 'measures'
  | 'timezone'
  | 'reserved-id'
  | 'credentials'
  | 'format'
  | 'duplicate-identity'
  | 'calendar'
  | 'too-many-issues';

export interface SiteIssue {
  /** Path of the offending value; for a missing field, the object that lacks it. */
  readonly path: SitePath;
  /** What is wrong and how to fix it. */
  readonly message: string;
  readonly code: SiteIssueCode;
}

export type SiteValidation = { ok: true; site: Site } | { ok: false; errors: SiteIssue[] };

/** Which targets each kind of device may attach to (exactly one of them). */
export const ATTACHMENTS_BY_DEVICE: Readonly<Record<DeviceKind, readonly TargetType[]>> = Object.freeze({
  'occupancy-sensor': Object.freeze(['desk', 'space'] as const),
  // A meter on a machine, or a sub-meter on a space's supply.
  'power-meter': Object.freeze(['equipment', 'space'] as const),
  'badge-reader': Object.freeze(['door', 'equipment'] as const),
  'door-controller': Object.freeze(['door'] as const),
  // A bridge attaches to nothing, or to the space it sits in.
  'zigbee-bridge': Object.freeze(['space'] as const),
});

/** Kinds that may be attached to nothing. */
const UNATTACHED_OK: ReadonlySet<DeviceKind> = new Set(['zigbee-bridge']);

/**
 * Device ids that cannot be used: `gateway` is the gateway's own MQTT client id
 * and topic level (core/protocol/topics.ts). Compared case-insensitively so
 * that `Gateway` cannot be mistaken for it in logs either.
 */
export const RESERVED_DEVICE_IDS: ReadonlySet<string> = new Set(['gateway']);

/** What an observer may read when its topics are not given: the live state and whether the gateway is up. */
export const DEFAULT_OBSERVER_TOPICS: readonly ObserverTopic[] = Object.freeze(['state', 'gateway-status']);

/** Beyond this many problems the rest are summarised: fix the first ones, the others often follow. */
export const MAX_REPORTED_ISSUES = 100;

const TARGET_TYPES: readonly TargetType[] = ['desk', 'door', 'equipment', 'space'];
const COLLECTIONS = ['spaces', 'desks', 'doors', 'equipment', 'devices', 'logins', 'observers'] as const;
type Collection = (typeof COLLECTIONS)[number];
const SINGULAR: Readonly<Record<Collection, string>> = {
  spaces: 'space',
  desks: 'desk',
  doors: 'door',
  equipment: 'machine',
  devices: 'device',
  logins: 'login',
  observers: 'observer',
};
const COLLECTION_OF_TARGET: Readonly<Record<TargetType, Collection>> = {
  desk: 'desks',
  door: 'doors',
  equipment: 'equipment',
  space: 'spaces',
};
/** What each attachment field means, for "attach it to …" advice. */
const TARGET_HINT: Readonly<Record<TargetType, string>> = {
  desk: 'desk: <desk id> (the desk it watches)',
  door: 'door: <door id> (the door it guards)',
  equipment: 'equipment: <machine id> (the machine it meters or interlocks)',
  space: 'space: <space id> (the room it watches)',
};

const ID_RE = new RegExp(ID_PATTERN);
/** The patterns of model.ts's MQTT fields, read from the schema so the advice follows any change there. */
const TOPIC_PATTERN = MqttIdentitySchema.properties.topic.pattern;
const CLIENT_ID_PATTERN = MqttIdentitySchema.properties.clientId.pattern;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ABSOLUTE_PATH_RE = /^(\/|[A-Za-z]:[\\/])/;

// ---------------------------------------------------------------------------
// Stored credential hashes
// ---------------------------------------------------------------------------

/**
 * Bounds on scrypt parameters accepted in a site file. A typo such as N=2^30
 * would otherwise make every connection attempt allocate gigabytes.
 */
export const SCRYPT_LIMITS = Object.freeze({ minLog2N: 10, maxLog2N: 20, maxR: 16, maxP: 16, maxMemBytes: 256 * 1024 * 1024 });

export type ParsedCredentialHash =
  | { readonly algorithm: 'sha256'; readonly salt: string; readonly hash: string }
  | { readonly algorithm: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: string; readonly hash: string };

const B64URL_RE = /^[A-Za-z0-9_-]+$/;
/** Unpadded base64url length of n bytes. */
const b64Len = (bytes: number): number => Math.ceil((bytes * 4) / 3);
const isB64url = (s: string, minBytes: number, maxBytes: number): boolean =>
  B64URL_RE.test(s) && s.length % 4 !== 1 && s.length >= b64Len(minBytes) && s.length <= b64Len(maxBytes);
const decimal = (s: string): number | null => (/^[1-9][0-9]{0,9}$/.test(s) ? Number(s) : null);

/**
 * The one definition of the stored hash formats (salt and hash are unpadded base64url):
 *
 *   sha256$<salt>$<hash>            hash = SHA-256(salt bytes ‖ secret bytes), salt ≥ 16 bytes
 *   scrypt$<N>$<r>$<p>$<salt>$<hash>
 *
 * gateway/auth/secrets.ts computes and verifies them; this only checks the shape.
 */
export function parseCredentialHash(stored: string): { ok: true; value: ParsedCredentialHash } | { ok: false; reason: string } {
  const parts = stored.split('$');
  if (parts[0] === 'sha256') {
    const [, salt, hash] = parts;
    if (parts.length !== 3 || salt === undefined || hash === undefined) {
      return { ok: false, reason: 'a sha256 hash has three parts: sha256$<salt>$<hash>' };
    }
    if (!isB64url(salt, 16, 64)) return { ok: false, reason: 'the salt must be 16 to 64 bytes of unpadded base64url' };
    if (!isB64url(hash, 32, 32)) return { ok: false, reason: 'the hash part must be 32 bytes (43 characters) of unpadded base64url' };
    return { ok: true, value: { algorithm: 'sha256', salt, hash } };
  }
  if (parts[0] === 'scrypt') {
    const [, nText, rText, pText, salt, hash] = parts;
    if (parts.length !== 6 || nText === undefined || rText === undefined || pText === undefined || salt === undefined || hash === undefined) {
      return { ok: false, reason: 'a scrypt hash has six parts: scrypt$<N>$<r>$<p>$<salt>$<hash>' };
    }
    const N = decimal(nText);
    const r = decimal(rText);
    const p = decimal(pText);
    const L = SCRYPT_LIMITS;
    if (N === null || !Number.isInteger(Math.log2(N)) || N < 2 ** L.minLog2N || N > 2 ** L.maxLog2N) {
      return { ok: false, reason: `scrypt N must be a power of two from ${2 ** L.minLog2N} to ${2 ** L.maxLog2N}` };
    }
    if (r === null || r > L.maxR) return { ok: false, reason: `scrypt r must be from 1 to ${L.maxR}` };
    if (p === null || p > L.maxP) return { ok: false, reason: `scrypt p must be from 1 to ${L.maxP}` };
    if (128 * N * r > L.maxMemBytes) return { ok: false, reason: `scrypt N × r needs more than ${L.maxMemBytes / 2 ** 20} MiB; lower N or r` };
    if (!isB64url(salt, 16, 64)) return { ok: false, reason: 'the salt must be 16 to 64 bytes of unpadded base64url' };
    if (!isB64url(hash, 16, 64)) return { ok: false, reason: 'the hash part must be 16 to 64 bytes of unpadded base64url' };
    return { ok: true, value: { algorithm: 'scrypt', N, r, p, salt, hash } };
  }
  return { ok: false, reason: 'a hash starts with sha256$ or scrypt$' };
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Obj, key: string): string | undefined => {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
};
const isId = (v: unknown): v is string => typeof v === 'string' && ID_RE.test(v);
/** "a power-meter", "an occupancy-sensor". */
const a = (word: string): string => `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;

/** A value as it would appear in a message: quoted, and cut short. */
function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  let text: string;
  try {
    text = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? typeof v);
  } catch {
    text = typeof v;
  }
  return text.length > 48 ? `${text.slice(0, 45)}…` : text;
}

/**
 * A value from the file inside a sentence: text as it is, anything else as show() writes it. Never
 * String(v): a list nested a few thousand deep overflows the stack in Array#toString.
 */
function text(v: unknown): string {
  return typeof v === 'string' ? v : show(v);
}

/** `devices[3].desk`, as people read and write it. */
export function formatSitePath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** One issue as a line, for callers without a source file (JSON over HTTP, tests). */
export function formatSiteIssue(issue: SiteIssue): string {
  const where = formatSitePath(issue.path);
  return where === '' ? issue.message : `${where}: ${issue.message}`;
}

/** Edit distance counting a swap of neighbours as one edit ("nmae" → "name"), for "did you mean" hints. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]![j]!;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i]![j] = best;
    }
  }
  return at(a.length, b.length);
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDist) {
      best = c;
      bestDist = dist;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------
// Pass 1: schema, with readable messages
// ---------------------------------------------------------------------------

/** JSON pointer → path, with array indices as numbers (found by walking the value). */
function pointerToPath(pointer: string, root: unknown): SitePath {
  if (pointer === '') return [];
  const out: SitePath = [];
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^(0|[1-9][0-9]*)$/.test(seg)) {
      const i = Number(seg);
      out.push(i);
      node = node[i];
    } else {
      out.push(seg);
      node = isObj(node) ? node[seg] : undefined;
    }
  }
  return out;
}

/** Advice per pattern used in model.ts: the raw regular expression tells a manager nothing. */
function patternMessage(schema: TSchema, value: unknown): string {
  const pattern = (schema as { pattern?: string }).pattern;
  if (pattern === ID_PATTERN) {
    return `${show(value)} is not a valid id: an id has 1 to 64 characters, only letters A-Z a-z, digits 0-9, "-" and "_", and starts with a letter or digit (ids appear in MQTT topics and InfluxDB tags, so no spaces, dots, slashes or Chinese characters; put those in name/nameZh)`;
  }
  if (pattern === '^[a-z0-9][a-z0-9-]{0,63}$') {
    return `${show(value)} is not a valid machine class: use lowercase letters a-z, digits and "-", e.g. laser-cutter, 3d-printer, cnc`;
  }
  if (pattern === DATE_PATTERN) {
    return `${show(value)} is not a date: write YYYY-MM-DD, e.g. 2025-10-01`;
  }
  if (pattern === START_PATTERN) {
    return `${show(value)} is not a time: write HH:MM on the 24-hour clock, e.g. 09:00`;
  }
  if (pattern === END_PATTERN) {
    return `${show(value)} is not a time: write HH:MM on the 24-hour clock, e.g. 18:00, or 24:00 for the end of the day`;
  }
  if (pattern?.startsWith('^(sha256|scrypt)')) {
    return 'must be a hash starting with sha256$ or scrypt$, as written by facility init (see docs/site-file.md, "Credentials")';
  }
  if (pattern?.startsWith('^(env|file):')) {
    return `${show(value)} is not a secret reference: write env:VARIABLE_NAME or file:/absolute/path/to/secret`;
  }
  if (pattern === TOPIC_PATTERN) {
    // [MQTT-4.7.1-1] wildcards only in subscriptions; topics starting with $ are the broker's own (MQTT 3.1.1 §4.7.2).
    return `${show(value)} cannot be used in an MQTT topic: no + or # (wildcards), no leading $ (reserved for the broker), no leading, trailing or double "/"; use what the device is configured with, e.g. plug_laser_1`;
  }
  if (pattern === CLIENT_ID_PATTERN) {
    return `${show(value)} is not a usable MQTT client id: no spaces, "/", "+" or "#"; use the client id the device sends, e.g. DVES_3A5F1C`;
  }
  const description = (schema as { description?: string }).description;
  return `${show(value)} does not have the expected form${description === undefined ? '' : ` (${description})`}`;
}

function typeMessage(expected: string, value: unknown): string {
  if (value === null) return `is empty; write ${expected} after the colon, or remove the line if the field is optional`;
  if (expected === 'text' && (typeof value === 'number' || typeof value === 'boolean')) {
    // YAML reads 007 as the number 7 and `no` / `on` in older YAML as booleans: quoting keeps the text.
    return `must be text, but ${show(value)} reads as a ${typeof value}; put the value in quotes, e.g. "${String(value)}"`;
  }
  return `must be ${expected}, not ${Array.isArray(value) ? 'a list' : isObj(value) ? 'a mapping' : show(value)}`;
}

function literalValues(schema: TSchema): string[] | null {
  const anyOf = (schema as { anyOf?: TSchema[] }).anyOf;
  if (!Array.isArray(anyOf) || anyOf.length === 0) return null;
  const values: string[] = [];
  for (const s of anyOf) {
    const c = (s as { const?: unknown }).const;
    if (typeof c !== 'string' && typeof c !== 'number') return null;
    values.push(String(c));
  }
  return values;
}

/**
 * A union of objects (credentials): choose the variant the writer meant by the
 * keys present, and report that variant's errors, not all variants'.
 */
function unionOfObjects(error: ValueError, root: unknown, path: SitePath): SiteIssue[] {
  const variants = (error.schema as { anyOf?: TSchema[] }).anyOf ?? [];
  // A short form and a long one (closedDates: "2025-10-01" or { date, name }): the value's type says which was meant.
  const textAt = variants.findIndex((v) => (v as { type?: unknown }).type === 'string');
  if (textAt >= 0) {
    const value = error.value;
    const objectAt = variants.findIndex((v) => (v as { type?: unknown }).type === 'object');
    const chosen = typeof value === 'string' ? textAt : isObj(value) && objectAt >= 0 ? objectAt : -1;
    if (chosen >= 0) return translateAll(error.errors[chosen] ?? [], root);
    const text = (variants[textAt] as { pattern?: string }).pattern === DATE_PATTERN ? 'a date (YYYY-MM-DD)' : 'text';
    const keys = objectAt >= 0 ? Object.keys((variants[objectAt] as { properties?: Record<string, unknown> }).properties ?? {}) : [];
    return [{ path, code: 'invalid-value', message: typeMessage(keys.length > 0 ? `${text} or a mapping { ${keys.map((k) => `${k}: …`).join(', ')} }` : text, value) }];
  }
  const keysOf = (s: TSchema): string[] => Object.keys((s as { properties?: Record<string, unknown> }).properties ?? {});
  const options = variants.map(keysOf).map((keys) => `${keys.join('/')}:`);
  // "hash: or secret:", "hash:, secret: or login:".
  const listed = options.length <= 2 ? options.join(' or ') : `${options.slice(0, -1).join(', ')} or ${options[options.length - 1]!}`;
  const value = error.value;
  if (!isObj(value)) return [{ path, code: 'invalid-value', message: `${typeMessage('a mapping', value)}; give ${listed}` }];
  const matching = variants.map((s, i) => ({ i, hits: keysOf(s).filter((k) => k in value).length })).filter((m) => m.hits > 0);
  if (matching.length === 0) {
    return [{ path, code: 'required', message: `needs ${listed} (see docs/site-file.md, "Credentials")` }];
  }
  if (matching.length > 1) {
    const given = matching.map((m) => options[m.i]!).join(' and ');
    return [{ path, code: 'invalid-value', message: `has ${given}; give only one of ${listed}` }];
  }
  const chosen = error.errors[matching[0]!.i];
  return chosen === undefined ? [] : translateAll(chosen, root);
}

function translate(error: ValueError, root: unknown): SiteIssue[] {
  const path = pointerToPath(error.path, root);
  const { schema, value } = error;
  const s = schema as Record<string, unknown>;
  const issue = (message: string, code: SiteIssueCode = 'invalid-value'): SiteIssue[] => [{ path, message, code }];
  // TypeBox has some sixty error kinds; model.ts can produce the dozen below,
  // and `default` keeps TypeBox's own message for the rest.
  // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty: {
      const field = String(path[path.length - 1]);
      const description = typeof s.description === 'string' ? ` (${s.description})` : '';
      return [{ path: path.slice(0, -1), code: 'required', message: `required field "${field}" is missing; add ${field}:${description}` }];
    }
    case ValueErrorType.ObjectAdditionalProperties: {
      const field = String(path[path.length - 1]);
      const allowed = Object.keys((s.properties as Record<string, unknown> | undefined) ?? {});
      const guess = closest(field, allowed);
      const hint = guess === undefined ? '' : `did you mean "${guess}"? `;
      return [{ path, code: 'unknown-field', message: `unknown field "${field}"; ${hint}allowed here: ${allowed.join(', ')}` }];
    }
    case ValueErrorType.Union: {
      const values = literalValues(schema);
      if (values !== null) {
        const guess = typeof value === 'string' ? closest(value, values) : undefined;
        const hint = guess === undefined ? '' : ` (did you mean ${guess}?)`;
        return issue(`must be one of ${values.join(', ')}; ${show(value)} is not${hint}`);
      }
      return unionOfObjects(error, root, path);
    }
    case ValueErrorType.Literal:
      return issue(`must be ${show(s.const)}, not ${show(value)}`);
    case ValueErrorType.Object:
      return issue(typeMessage('a mapping (indented "key: value" lines)', value));
    case ValueErrorType.Array:
      return issue(typeMessage('a list (lines starting with "- ")', value));
    case ValueErrorType.ArrayMinItems:
      return issue(`needs at least ${String(s.minItems)} entr${s.minItems === 1 ? 'y' : 'ies'}`);
    case ValueErrorType.ArrayMaxItems:
      return issue(`has ${Array.isArray(value) ? value.length : '?'} entries; at most ${String(s.maxItems)} are allowed`);
    case ValueErrorType.String:
      return issue(typeMessage('text', value));
    case ValueErrorType.StringMinLength:
      return issue(s.minLength === 1 ? 'must not be empty' : `must have at least ${String(s.minLength)} characters`);
    case ValueErrorType.StringMaxLength:
      return issue(`is too long: at most ${String(s.maxLength)} characters`);
    case ValueErrorType.StringPattern:
      return issue(patternMessage(schema, value));
    case ValueErrorType.Boolean:
      return issue(typeMessage('true or false', value));
    case ValueErrorType.Number:
      return issue(typeMessage('a number', value));
    case ValueErrorType.Integer:
      return issue(typeMessage('a whole number', value));
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return issue(`must be at least ${String(s.minimum)}, not ${show(value)}`);
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return issue(`must be at most ${String(s.maximum)}, not ${show(value)}`);
    case ValueErrorType.NumberExclusiveMinimum:
      return issue(`must be more than ${String(s.exclusiveMinimum)}, not ${show(value)}`);
    default:
      // Kinds model.ts does not use today; TypeBox's own message is better than nothing.
      return issue(error.message);
  }
}

function translateAll(errors: Iterable<ValueError>, root: unknown): SiteIssue[] {
  const out: SiteIssue[] = [];
  const missing = new Set<string>();
  for (const e of errors) {
    // TypeBox reports a missing required field twice: once as missing, once as
    // "expected string" for the undefined value. Keep the first.
    if (e.type === ValueErrorType.ObjectRequiredProperty) {
      if (missing.has(e.path)) continue;
      missing.add(e.path);
    } else if (e.value === undefined && missing.has(e.path)) {
      continue;
    }
    out.push(...translate(e, root));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Pass 2: what the schema cannot say
// ---------------------------------------------------------------------------

function entries(root: Obj, key: Collection): [number, Obj][] {
  const list = root[key];
  if (!Array.isArray(list)) return [];
  const out: [number, Obj][] = [];
  list.forEach((item: unknown, i) => {
    if (isObj(item)) out.push([i, item]);
  });
  return out;
}

function semanticIssues(root: Obj): SiteIssue[] {
  const issues: SiteIssue[] = [];
  const add = (path: SitePath, code: SiteIssueCode, message: string): void => {
    issues.push({ path, code, message });
  };

  // Time zone.
  const site = root.site;
  if (isObj(site)) {
    const tz = str(site, 'timezone');
    if (tz !== undefined && tz !== '' && !isTimeZone(tz)) {
      add(['site', 'timezone'], 'timezone', `${show(tz)} is not a known IANA time zone; use a name such as Asia/Shanghai, Asia/Hong_Kong or Europe/Berlin`);
    }
  }

  if (isObj(site)) calendarIssues(site, add);
  if (isObj(root.bookings)) closureIssues(root.bookings, add);

  // Unique ids, and an index per collection for references.
  const index = {} as Record<Collection, Map<string, Obj>>;
  for (const coll of COLLECTIONS) {
    const seen = new Map<string, number>();
    const byId = new Map<string, Obj>();
    for (const [i, item] of entries(root, coll)) {
      const id = str(item, 'id');
      if (id === undefined) continue;
      const first = seen.get(id);
      if (first !== undefined) {
        add([coll, i, 'id'], 'duplicate-id', `${SINGULAR[coll]} id "${id}" is already used by ${coll}[${first}]; give each ${SINGULAR[coll]} its own id`);
      } else {
        seen.set(id, i);
        byId.set(id, item);
      }
    }
    index[coll] = byId;
  }

  const checkRef = (path: SitePath, type: TargetType, ref: unknown): Obj | undefined => {
    if (!isId(ref)) return undefined; // a malformed id is already a schema error
    const found = index[COLLECTION_OF_TARGET[type]].get(ref);
    if (found === undefined) {
      const coll = COLLECTION_OF_TARGET[type];
      const guess = closest(ref, [...index[coll].keys()]);
      const hint = guess === undefined ? '' : ` (did you mean "${guess}"?)`;
      add(path, 'unknown-reference', `there is no ${type === 'equipment' ? 'machine' : type} "${ref}"${hint}; define it under ${coll}: or fix the reference`);
    }
    return found;
  };

  for (const coll of ['desks', 'doors', 'equipment'] as const) {
    for (const [i, item] of entries(root, coll)) {
      const space = checkRef([coll, i, 'space'], 'space', item.space);
      if (coll === 'equipment' && space !== undefined && space.kind !== 'lab' && (SPACE_KINDS as readonly unknown[]).includes(space.kind)) {
        add(
          [coll, i, 'space'],
          'wrong-space-kind',
          `machine "${text(item.id)}" stands in space "${String(item.space)}", which is ${a(String(space.kind))}; machines stand in a space of kind lab: change that space's kind to lab or move the machine to a lab`,
        );
      }
    }
  }

  const meteredBy = new Map<string, string>(); // "desk:D01" → device id, for one-sensor-per-target rules
  for (const [i, dev] of entries(root, 'devices')) {
    const id = str(dev, 'id');
    if (id !== undefined && RESERVED_DEVICE_IDS.has(id.toLowerCase())) {
      add(['devices', i, 'id'], 'reserved-id', `"${id}" is reserved for the gateway itself; choose another device id`);
    }
    const kind = (DEVICE_KINDS as readonly unknown[]).includes(dev.kind) ? (dev.kind as DeviceKind) : undefined;
    const present = TARGET_TYPES.filter((t) => dev[t] !== undefined);
    const allowed = kind === undefined ? TARGET_TYPES : ATTACHMENTS_BY_DEVICE[kind];
    const advice = allowed.map((t) => TARGET_HINT[t]).join(' or ');
    if (present.length === 0) {
      if (kind === undefined || !UNATTACHED_OK.has(kind)) add(['devices', i], 'attachment', `is not attached to anything; add ${advice}`);
    } else if (present.length > 1) {
      add(['devices', i], 'attachment', `has ${present.map((t) => `${t}:`).join(' and ')}; a device attaches to exactly one thing, keep one`);
    } else {
      const type = present[0]!;
      if (kind !== undefined && !allowed.includes(type)) {
        add(['devices', i, type], 'attachment', `${a(kind)} cannot attach to ${a(type === 'equipment' ? 'machine' : type)}; attach it with ${advice}`);
      } else {
        const target = checkRef(['devices', i, type], type, dev[type]);
        // Two power meters on one machine would bill its energy twice; two
        // occupancy sensors on one desk would fight over its state.
        if (target !== undefined && id !== undefined && (kind === 'power-meter' || (kind === 'occupancy-sensor' && type === 'desk'))) {
          const key = `${kind}:${type}:${String(dev[type])}`;
          const other = meteredBy.get(key);
          if (other !== undefined) {
            add(['devices', i, type], 'attachment', `${type === 'equipment' ? 'machine' : type} "${String(dev[type])}" already has ${kind} "${other}"; one ${kind} per ${type === 'equipment' ? 'machine' : type}, remove one of them`);
          } else {
            meteredBy.set(key, id);
          }
        }
      }
    }

    const measures = dev.measures;
    if (kind !== undefined && Array.isArray(measures)) {
      const may = KINDS_BY_DEVICE[kind];
      if (measures.length === 0) {
        add(['devices', i, 'measures'], 'measures', `lists no signal kinds; list some of ${may.join(', ')}, or leave measures out to get all of them`);
      }
      const seen = new Set<unknown>();
      measures.forEach((m: unknown, j) => {
        if (typeof m !== 'string') return;
        if (!(may as readonly string[]).includes(m)) {
          add(['devices', i, 'measures', j], 'measures', `${a(kind)} cannot send "${m}"; it may send ${may.join(', ')}`);
        } else if (seen.has(m)) {
          add(['devices', i, 'measures', j], 'measures', `"${m}" is listed twice; remove one`);
        }
        seen.add(m);
      });
    }

    connectionIssues(dev, i, kind, index, add);

    credentialIssues(dev.credentials, ['devices', i, 'credentials'], add);
  }
  // A login's password is checked like a device's: a malformed hash would lock out every device using it.
  for (const [i, login] of entries(root, 'logins')) credentialIssues(login.credentials, ['logins', i, 'credentials'], add);
  observerIssues(root, add);
  identityIssues(root, add);
  return issues;
}

type AddIssue = (path: SitePath, code: SiteIssueCode, message: string) => void;

const DATE_RE = new RegExp(DATE_PATTERN);
const START_RE = new RegExp(START_PATTERN);
const END_RE = new RegExp(END_PATTERN);
/** A well-formed YYYY-MM-DD that names a day of the calendar (not 2025-02-30). */
const isCalendarDate = (date: string): boolean => new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) === date;
const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Closed and extra open dates: real dates, each closed date once, no date both closed and open, hours that open before they close. */
function calendarIssues(site: Obj, add: AddIssue): void {
  const closedAt = new Map<string, number>();
  const closed = Array.isArray(site.closedDates) ? (site.closedDates as unknown[]) : [];
  closed.forEach((entry, i) => {
    const date = typeof entry === 'string' ? entry : isObj(entry) ? str(entry, 'date') : undefined;
    if (date === undefined || !DATE_RE.test(date)) return; // a schema error
    const path: SitePath = typeof entry === 'string' ? ['site', 'closedDates', i] : ['site', 'closedDates', i, 'date'];
    if (!isCalendarDate(date)) return add(path, 'invalid-value', `${show(date)} is not a day of the calendar; check the month and day`);
    const first = closedAt.get(date);
    if (first !== undefined) add(path, 'calendar', `${date} is already listed at site.closedDates[${first}]; list each closed date once`);
    else closedAt.set(date, i);
  });
  const extra = Array.isArray(site.extraOpenDates) ? (site.extraOpenDates as unknown[]) : [];
  extra.forEach((entry, i) => {
    if (!isObj(entry)) return;
    const date = str(entry, 'date');
    if (date !== undefined && DATE_RE.test(date)) {
      if (!isCalendarDate(date)) add(['site', 'extraOpenDates', i, 'date'], 'invalid-value', `${show(date)} is not a day of the calendar; check the month and day`);
      else if (closedAt.has(date)) {
        add(['site', 'extraOpenDates', i, 'date'], 'calendar', `${date} is also a closed date (site.closedDates[${closedAt.get(date)!}]); a date is either closed or open, remove one of them`);
      }
    }
    const from = str(entry, 'from');
    const to = str(entry, 'to');
    if (from !== undefined && to !== undefined && START_RE.test(from) && END_RE.test(to) && minutes(to) <= minutes(from)) {
      add(['site', 'extraOpenDates', i, 'to'], 'invalid-value', `closes at ${to}, not after it opens at ${from}; give a closing time later the same day (24:00 for midnight)`);
    }
  });
}

/** Booking closures: each ends after it starts (one that does not would never apply, silently). */
function closureIssues(bookings: Obj, add: AddIssue): void {
  const closures = Array.isArray(bookings.closures) ? (bookings.closures as unknown[]) : [];
  closures.forEach((c, i) => {
    if (!isObj(c)) return;
    const from = str(c, 'from');
    const to = str(c, 'to');
    if (from === undefined || to === undefined) return; // a schema error
    const a = Date.parse(from);
    const b = Date.parse(to);
    if (Number.isNaN(a) || Number.isNaN(b)) return add(['bookings', 'closures', i, Number.isNaN(a) ? 'from' : 'to'], 'invalid-value', `${show(Number.isNaN(a) ? from : to)} is not a real instant; check the date and time`);
    if (b <= a) add(['bookings', 'closures', i, 'to'], 'invalid-value', `ends at ${to}, not after it starts at ${from}; a closure must end after it starts`);
  });
}

/** What the schema cannot check in a hash or a secret reference (a device's, or a shared login's). */
function credentialIssues(cred: unknown, path: SitePath, add: AddIssue): void {
  if (!isObj(cred)) return;
  const hash = str(cred, 'hash');
  if (hash !== undefined && /^(sha256|scrypt)\$/.test(hash)) {
    const parsed = parseCredentialHash(hash);
    if (!parsed.ok) add([...path, 'hash'], 'credentials', `is not a valid hash: ${parsed.reason}; regenerate it (docs/site-file.md, "Credentials")`);
  }
  const secret = str(cred, 'secret');
  if (secret !== undefined && /^(env|file):./.test(secret)) {
    const [scheme, ...rest] = secret.split(':');
    const target = rest.join(':');
    if (scheme === 'env' && !ENV_NAME_RE.test(target)) {
      const example = `${String(path[0]) === 'logins' ? 'LOGIN' : String(path[0]) === 'observers' ? 'OBSERVER' : 'DEVICE'}_${String(path[1])}_SECRET`;
      add([...path, 'secret'], 'credentials', `"${target}" is not an environment variable name; use letters, digits and "_", e.g. env:${example}`);
    }
    if (scheme === 'file' && !ABSOLUTE_PATH_RE.test(target)) {
      add([...path, 'secret'], 'credentials', `"${target}" is not an absolute path; write file:/full/path/to/secret so it does not depend on the working directory`);
    }
  }
}

/**
 * Observers (read-only dashboard logins) must never be mistaken for a device: the broker tells them apart
 * by user name and client id, so an observer id may not be a device id (in any letter case, as in logs),
 * a device's MQTT user name, or the start of a device's client id (<id> or <id>-…), which an observer may
 * use and would then take over that device's session [MQTT-3.1.4-2].
 */
function observerIssues(root: Obj, add: AddIssue): void {
  const devices = entries(root, 'devices');
  const loginUser = new Map<string, string>();
  for (const [, login] of entries(root, 'logins')) {
    const id = str(login, 'id');
    const username = str(login, 'username');
    if (id !== undefined && username !== undefined) loginUser.set(id, username);
  }
  for (const [i, obs] of entries(root, 'observers')) {
    credentialIssues(obs.credentials, ['observers', i, 'credentials'], add);
    if (Array.isArray(obs.topics)) {
      const seen = new Set<unknown>();
      obs.topics.forEach((t: unknown, j) => {
        if (seen.has(t) && (OBSERVER_TOPICS as readonly unknown[]).includes(t)) add(['observers', i, 'topics', j], 'invalid-value', `${show(t)} is listed twice; remove one`);
        seen.add(t);
      });
    }
    const id = str(obs, 'id');
    if (id === undefined || !isId(id)) continue;
    if (RESERVED_DEVICE_IDS.has(id.toLowerCase())) {
      add(['observers', i, 'id'], 'reserved-id', `"${id}" is reserved for the gateway itself; choose another observer id`);
      continue;
    }
    for (const [k, dev] of devices) {
      const devId = str(dev, 'id');
      if (devId === undefined) continue;
      const mqtt = isObj(dev.mqtt) ? dev.mqtt : {};
      const cred = isObj(dev.credentials) ? dev.credentials : {};
      const clientId = str(mqtt, 'clientId') ?? devId;
      const username = str(mqtt, 'username') ?? (typeof cred.login === 'string' ? loginUser.get(cred.login) : undefined) ?? devId;
      let clash: string | undefined;
      if (devId.toLowerCase() === id.toLowerCase()) clash = `is also the id of device "${devId}" (devices[${k}])`;
      else if (username === id) clash = `is the MQTT user name of device "${devId}" (devices[${k}])`;
      else if (clientId === id || clientId.startsWith(`${id}-`)) clash = `would let it connect with the client id "${clientId}" of device "${devId}" (devices[${k}]) and knock that device off`;
      if (clash !== undefined) {
        add(['observers', i, 'id'], 'duplicate-identity', `observer id "${id}" ${clash}; an observer must not be mistaken for a device, give it another id (e.g. "${id}-dashboard")`);
        break;
      }
    }
  }
}

/** How a device connects: its format against its kind, and the settings each format needs. */
function connectionIssues(dev: Obj, i: number, kind: DeviceKind | undefined, index: Record<Collection, Map<string, Obj>>, add: AddIssue): void {
  const has = (k: string) => dev[k] !== undefined;
  // Before the per-format rules, which stop early: it applies to readers and bridges as much as to MQTT devices.
  if (has('occupancyTimeoutS') && kind !== undefined && kind !== 'occupancy-sensor') {
    add(['devices', i, 'occupancyTimeoutS'], 'format', `only occupancy sensors have an occupancy timeout; remove occupancyTimeoutS from this ${kind}`);
  }
  const format = ((DEVICE_FORMATS as readonly unknown[]).includes(dev.format) ? dev.format : dev.format === undefined ? 'canonical' : undefined) as DeviceFormat | undefined;
  if (format === undefined || kind === undefined) return;
  const formats = FORMATS_BY_KIND[kind];
  if (!formats.includes(format)) {
    const choices = formats.length === 1 ? `format: ${formats[0]!}` : `format: to one of ${formats.join(', ')}`;
    if (has('format')) add(['devices', i, 'format'], 'format', `${a(kind)} cannot speak ${format}; set ${choices}`);
    // No format: the default (canonical) is what does not fit, and the line to write is missing.
    else add(['devices', i], 'format', `${a(kind)} cannot speak canonical, the default format; add ${choices}`);
    return;
  }
  const serial = SERIAL_FORMATS.includes(format);
  const bridged = format === 'zigbee2mqtt' && kind !== 'zigbee-bridge';
  if (serial) {
    if (!has('serial')) add(['devices', i], 'format', `reads cards over a serial port (${format}); add serial: { path: /dev/ttyUSB0, baudRate: 9600 } with the port it is wired to`);
    for (const k of ['credentials', 'mqtt', 'bridge']) {
      if (has(k)) add(['devices', i, k], 'format', `a serial ${format} reader has no ${k} (the gateway reads it directly, it does not connect over MQTT); remove ${k}:`);
    }
    return;
  }
  if (has('serial')) add(['devices', i, 'serial'], 'format', `only rdm6300 and wiegand26 readers use a serial port; remove serial: or set format: to rdm6300 or wiegand26`);
  if (bridged) {
    if (!has('bridge')) add(['devices', i], 'format', 'reports through a Zigbee2MQTT bridge; add bridge: <id of its zigbee-bridge device>');
    else if (isId(dev.bridge)) {
      const b = index.devices.get(dev.bridge);
      if (!b) {
        const bridges = [...index.devices.values()].filter((d) => d.kind === 'zigbee-bridge').map((d) => String(d.id));
        const guess = closest(dev.bridge, bridges);
        const hint = guess === undefined ? '' : ` (did you mean "${guess}"?)`;
        add(['devices', i, 'bridge'], 'unknown-reference', `there is no device "${dev.bridge}"${hint}; add a device of kind zigbee-bridge with that id, or fix the reference`);
      } else if (b.kind !== 'zigbee-bridge') {
        add(['devices', i, 'bridge'], 'format', `"${dev.bridge}" is ${a(text(b.kind))}, not a zigbee-bridge; set bridge: to the id of the zigbee-bridge device the sensor is paired with`);
      }
    }
    if (has('credentials')) add(['devices', i, 'credentials'], 'format', 'a bridged sensor has no MQTT login of its own (its bridge has); remove credentials:');
    if (isObj(dev.mqtt)) {
      for (const k of Object.keys(dev.mqtt)) {
        if (k !== 'friendlyName') add(['devices', i, 'mqtt', k], 'format', `a bridged sensor does not connect itself, so it has no ${k}; remove it (only mqtt: { friendlyName: … } applies)`);
      }
    }
    return;
  }
  if (has('bridge')) add(['devices', i, 'bridge'], 'format', 'only Zigbee2MQTT sensors report through a bridge; remove bridge: or set format: zigbee2mqtt');
  if (!has('credentials')) add(['devices', i], 'credentials', `connects over MQTT (${format}); add credentials: { hash: … }, { secret: env:… } or { login: <shared login id> }`);
  if (isObj(dev.credentials) && isId(dev.credentials.login) && !index.logins.has(dev.credentials.login)) {
    const guess = closest(dev.credentials.login, [...index.logins.keys()]);
    const hint = guess === undefined ? '' : ` (did you mean "${guess}"?)`;
    add(['devices', i, 'credentials', 'login'], 'unknown-reference', `there is no login "${dev.credentials.login}"${hint}; define it under logins: or fix the reference`);
  }
  if (isObj(dev.mqtt) && dev.mqtt.friendlyName !== undefined) add(['devices', i, 'mqtt', 'friendlyName'], 'format', 'friendlyName is for sensors paired with a Zigbee2MQTT bridge only; remove it');
  if (isObj(dev.mqtt) && dev.mqtt.topic !== undefined && format === 'canonical') add(['devices', i, 'mqtt', 'topic'], 'format', 'canonical devices use the fac/v1/<site>/d/<device> topics; remove topic');
}

/** MQTT identities must be unambiguous: client ids, topics, friendly names, serial ports. */
function identityIssues(root: Obj, addIssue: AddIssue): void {
  const seen = new Map<string, string>();
  let count = 0;
  const add: AddIssue = (...a) => {
    count++;
    addIssue(...a);
  };
  const issuesBefore = () => count;
  const spaces: { ns: string; id: string; path: SitePath }[] = [];
  const claim = (key: string, path: SitePath, what: string, owner: string, fix: string) => {
    const other = seen.get(key);
    if (other !== undefined) add(path, 'duplicate-identity', `${what} is already used by device "${other}"; ${fix}`);
    else seen.set(key, owner);
  };
  for (const [i, dev] of entries(root, 'devices')) {
    const id = str(dev, 'id');
    if (id === undefined) continue;
    const format = (typeof dev.format === 'string' ? dev.format : 'canonical') as DeviceFormat;
    const mqtt = isObj(dev.mqtt) ? dev.mqtt : {};
    // An explicit value is reported where it is written; a default at the device that lacks the field.
    const at = (field: string): SitePath => (typeof mqtt[field] === 'string' ? ['devices', i, 'mqtt', field] : ['devices', i]);
    const bridged = format === 'zigbee2mqtt' && dev.kind !== 'zigbee-bridge';
    if (SERIAL_FORMATS.includes(format)) {
      if (isObj(dev.serial) && typeof dev.serial.path === 'string') {
        claim(`serial:${dev.serial.path}`, ['devices', i, 'serial', 'path'], `serial port ${dev.serial.path}`, id, 'each reader needs its own port (two readers cannot share one line)');
      }
    } else if (bridged) {
      if (typeof dev.bridge !== 'string') continue; // reported as a missing bridge
      const name = typeof mqtt.friendlyName === 'string' ? mqtt.friendlyName : id;
      claim(`z2m:${dev.bridge}:${name}`, at('friendlyName'), `friendly name "${name}" on bridge "${dev.bridge}"`, id, 'give each sensor its own friendly_name in Zigbee2MQTT and set mqtt.friendlyName to it');
    } else if (MQTT_FORMATS.includes(format)) {
      const clientId = typeof mqtt.clientId === 'string' ? mqtt.clientId : id;
      if (typeof mqtt.clientId === 'string' && RESERVED_DEVICE_IDS.has(clientId.toLowerCase())) {
        add(['devices', i, 'mqtt', 'clientId'], 'reserved-id', `"${clientId}" is reserved for the gateway itself; configure the device with another client id`);
      } else {
        // A broker drops the older of two connections with one client id [MQTT-3.1.4-2]: the two devices would knock each other off.
        claim(`client:${clientId}`, at('clientId'), `MQTT client id "${clientId}"`, id, 'give each device its own client id (set mqtt.clientId to what the device sends)');
      }
      if (format !== 'canonical') {
        const topic = typeof mqtt.topic === 'string' ? mqtt.topic : defaultTopic(format, id);
        const before = issuesBefore();
        claim(`topic:${format}:${topic}`, at('topic'), `${format} topic "${topic}"`, id, 'give each device its own topic, on the device and in mqtt.topic');
        if (issuesBefore() === before) for (const ns of namespacesOf(format, topic)) spaces.push({ ns, id, path: at('topic') });
      }
    }
  }
  topicOverlaps(spaces, add);
}

/**
 * The topic prefixes a device publishes and hears under. Two devices' prefixes must never nest: a
 * Tasmota plug with topic "x" publishes tele/x/…, which is inside the prefix of a Shelly whose prefix is
 * "tele/x", so one could speak for the other.
 */
function namespacesOf(format: DeviceFormat, topic: string): string[] {
  switch (format) {
    case 'tasmota':
      return [`tele/${topic}/`, `stat/${topic}/`, `cmnd/${topic}/`];
    case 'shelly-gen2':
    case 'zigbee2mqtt':
      return [`${topic}/`];
    // Canonical devices live under fac/v1/<site>/d/<id>/ (checked by id); serial readers have no topics.
    case 'canonical':
    case 'rdm6300':
    case 'wiegand26':
      return [];
  }
}

function topicOverlaps(spaces: { ns: string; id: string; path: SitePath }[], add: AddIssue): void {
  // fac/ is OpenFacility's own protocol (canonical devices, the gateway's topics).
  for (const s of spaces) {
    if (s.ns.startsWith('fac/')) add(s.path, 'duplicate-identity', `topic "${s.ns.slice(0, -1)}" lies under fac/, which is OpenFacility's own topic space; choose a topic that does not start with fac/`);
  }
  // Sorted, a prefix comes right before the names it contains (or before another that it also contains).
  const sorted = [...spaces].sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  for (let k = 1; k < sorted.length; k++) {
    const a = sorted[k - 1]!;
    const b = sorted[k]!;
    if (a.id !== b.id && b.ns.startsWith(a.ns)) {
      add(b.path, 'duplicate-identity', `its topics (${b.ns}…) lie inside those of device "${a.id}" (${a.ns}…), so one could publish as the other; choose topics that do not contain each other`);
    }
  }
}

function defaultTopic(format: DeviceFormat, id: string): string {
  return format === 'zigbee2mqtt' ? 'zigbee2mqtt' : id;
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function canonicalTimeZone(tz: string): string {
  return new Intl.DateTimeFormat(undefined, { timeZone: tz }).resolvedOptions().timeZone;
}

// ---------------------------------------------------------------------------
// Building the Site
// ---------------------------------------------------------------------------

/** A Map that refuses changes once built, so a frozen Site stays frozen. */
class FrozenMap<K, V> extends Map<K, V> {
  private locked = false;
  constructor(items: Iterable<readonly [K, V]>) {
    super();
    for (const [k, v] of items) super.set(k, v);
    this.locked = true;
    Object.freeze(this);
  }
  override set(key: K, value: V): this {
    if (this.locked) throw new TypeError('Site maps are read-only');
    return super.set(key, value);
  }
  override delete(_key: K): boolean {
    throw new TypeError('Site maps are read-only');
  }
  override clear(): void {
    throw new TypeError('Site maps are read-only');
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

function byId<T extends { id: string }>(list: readonly T[] | undefined): FrozenMap<string, T> {
  return new FrozenMap((list ?? []).map((item) => [item.id, item] as const));
}

function resolveDevice(
  dev: DeviceDef,
  desks: ReadonlyMap<string, DeskDef>,
  doors: ReadonlyMap<string, DoorDef>,
  equipment: ReadonlyMap<string, EquipmentDef>,
  logins: ReadonlyMap<string, LoginDef>,
): DeviceInfo {
  let target: TargetRef | null = null;
  let space: string | null = null;
  if (dev.desk !== undefined) {
    target = { type: 'desk', id: dev.desk };
    space = desks.get(dev.desk)?.space ?? null;
  } else if (dev.door !== undefined) {
    target = { type: 'door', id: dev.door };
    space = doors.get(dev.door)?.space ?? null;
  } else if (dev.equipment !== undefined) {
    target = { type: 'equipment', id: dev.equipment };
    space = equipment.get(dev.equipment)?.space ?? null;
  } else if (dev.space !== undefined) {
    target = { type: 'space', id: dev.space };
    space = dev.space;
  }
  const format = dev.format ?? 'canonical';
  const bridged = format === 'zigbee2mqtt' && dev.kind !== 'zigbee-bridge';
  const connects = MQTT_FORMATS.includes(format) && !bridged;
  const login = dev.credentials && 'login' in dev.credentials ? logins.get(dev.credentials.login) : undefined;
  // Own properties only: a model named "constructor" must not find Object's.
  const modelKey = dev.model?.toLowerCase();
  const model = modelKey !== undefined && Object.hasOwn(MODEL_DEFAULTS, modelKey) ? MODEL_DEFAULTS[modelKey] : undefined;
  const occupancyTimeoutS = dev.occupancyTimeoutS ?? (dev.kind === 'occupancy-sensor' ? model?.occupancyTimeoutS : undefined);
  // Canonical controllers heartbeat (core/protocol/commands.ts): offline after a few missed beats, not the format's hour.
  const controller = format === 'canonical' && (dev.kind === 'door-controller' || dev.kind === 'badge-reader');
  const silentAfterS = dev.silentAfterS ?? model?.silentAfterS ?? (controller ? CONTROLLER_SILENT_AFTER_MS / 1000 : SILENT_AFTER_S_BY_FORMAT[format]);
  return deepFreeze({
    id: dev.id,
    kind: dev.kind,
    format,
    space,
    target,
    measures: [...(dev.measures ?? KINDS_BY_DEVICE[dev.kind])],
    credentials: dev.credentials ?? null,
    mqtt: connects
      ? {
          clientId: dev.mqtt?.clientId ?? dev.id,
          username: dev.mqtt?.username ?? login?.username ?? dev.id,
          topic: dev.mqtt?.topic ?? defaultTopic(format, dev.id),
        }
      : null,
    bridge: bridged && dev.bridge !== undefined ? { device: dev.bridge, friendlyName: dev.mqtt?.friendlyName ?? dev.id } : null,
    serial: dev.serial ? { path: dev.serial.path, baudRate: dev.serial.baudRate ?? 9600 } : null,
    model: dev.model ?? null,
    occupancyTimeoutMs: occupancyTimeoutS !== undefined ? occupancyTimeoutS * 1000 : null,
    silentAfterMs: silentAfterS !== undefined ? silentAfterS * 1000 : null,
    direction: dev.direction ?? 'in',
  });
}

function buildSite(file: SiteFile): Site {
  const spaces = byId<SpaceDef>(file.spaces);
  const desks = byId<DeskDef>(file.desks);
  const doors = byId<DoorDef>(file.doors);
  const equipment = byId<EquipmentDef>(file.equipment);
  const logins = byId<LoginDef>(file.logins);
  const devices = new FrozenMap((file.devices ?? []).map((d) => [d.id, resolveDevice(d, desks, doors, equipment, logins)] as const));
  const observers = new FrozenMap(
    (file.observers ?? []).map((o) => [o.id, deepFreeze<ObserverInfo>({ id: o.id, credentials: o.credentials, topics: [...(o.topics ?? DEFAULT_OBSERVER_TOPICS)] })] as const),
  );
  const byClientId = new FrozenMap([...devices.values()].filter((d) => d.mqtt !== null).map((d) => [d.mqtt!.clientId, d.id] as const));
  const bridgedMaps = new Map<string, Map<string, string>>();
  for (const d of devices.values()) {
    if (!d.bridge) continue;
    let m = bridgedMaps.get(d.bridge.device);
    if (!m) bridgedMaps.set(d.bridge.device, (m = new Map<string, string>()));
    m.set(d.bridge.friendlyName, d.id);
  }
  const bridged = new FrozenMap([...bridgedMaps].map(([k, v]) => [k, new FrozenMap(v) as ReadonlyMap<string, string>] as const));
  return Object.freeze({
    file,
    id: file.site.id,
    timezone: canonicalTimeZone(file.site.timezone),
    spaces,
    desks,
    doors,
    equipment,
    devices,
    logins,
    observers,
    byClientId,
    bridged,
  });
}

/**
 * Checks a parsed site file (plain data, e.g. from YAML or JSON) and builds the
 * frozen Site. Every problem is reported, with the path of the value at fault.
 */
export function validateSite(obj: unknown): SiteValidation {
  if (!isObj(obj)) {
    const what = obj === null || obj === undefined ? 'is empty' : `holds ${Array.isArray(obj) ? 'a list' : show(obj)}`;
    return {
      ok: false,
      errors: [{ path: [], code: 'invalid-value', message: `the site file ${what}; it must be a mapping with version: 1, site:, spaces: and optionally desks:, doors:, equipment:, devices: (see docs/site-file.md)` }],
    };
  }
  const issues = translateAll(Value.Errors(SiteFileSchema, obj), obj);
  // Skip semantic findings at a path the schema already complained about:
  // one mistake, one message.
  const flagged = new Set(issues.map((i) => formatSitePath(i.path)));
  for (const issue of semanticIssues(obj)) {
    if (!flagged.has(formatSitePath(issue.path))) issues.push(issue);
  }
  if (issues.length > 0) {
    if (issues.length > MAX_REPORTED_ISSUES) {
      const more = issues.length - MAX_REPORTED_ISSUES;
      const kept = issues.slice(0, MAX_REPORTED_ISSUES);
      kept.push({ path: [], code: 'too-many-issues', message: `… and ${more} more problem${more === 1 ? '' : 's'}; fix the ones above and check again` });
      return { ok: false, errors: kept };
    }
    return { ok: false, errors: issues };
  }
  const file = deepFreeze(structuredClone(obj) as SiteFile);
  return { ok: true, site: buildSite(file) };
}
