/**
 * Device secrets: generating them, hashing them for the site file, checking
 * what a device presents as its MQTT password, and the private secrets file
 * that provisioning flashes into devices (and firmware-sim reads).
 *
 * Hash formats are defined once, in core/site/validate.ts (parseCredentialHash):
 *
 *   sha256$<salt>$<hash>               hash = SHA-256(salt ‖ secret), the default
 *   scrypt$<N>$<r>$<p>$<salt>$<hash>   for secrets a person chose
 */
import { createHash, createHmac, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Site } from '../../core/site/model.js';
import { ID_PATTERN } from '../../core/site/model.js';
import { parseCredentialHash } from '../../core/site/validate.js';

/** 24 random bytes = 192 bits, 32 base64url characters: fits the 32-character password fields of small MQTT firmwares. */
export const DEVICE_SECRET_BYTES = 24;
const SALT_BYTES = 16;

export function generateDeviceSecret(): string {
  return randomBytes(DEVICE_SECRET_BYTES).toString('base64url');
}

const toBytes = (secret: Buffer | string): Buffer => (typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);

function sha256Salted(salt: Buffer, secret: Buffer): Buffer {
  return createHash('sha256').update(salt).update(secret).digest();
}

/**
 * Salted SHA-256, deliberately fast. A slow KDF protects low-entropy secrets
 * against offline guessing; a device secret is a random ≥128-bit token, which
 * no amount of guessing reaches, so a KDF would add nothing but CPU cost on
 * every CONNECT — and after a power cut or a broker restart, every device in
 * the building reconnects at once. The salt keeps equal secrets from having
 * equal hashes. For human-chosen secrets use hashSecretScrypt.
 */
export function hashSecret(secret: string): string {
  const salt = randomBytes(SALT_BYTES);
  return `sha256$${salt.toString('base64url')}$${sha256Salted(salt, toBytes(secret)).toString('base64url')}`;
}

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** 2^15 × 8 × 128 B = 32 MiB and ~50–100 ms per check: fine for the few devices with a person-chosen secret. */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });
const SCRYPT_KEY_BYTES = 32;

function scrypt(secret: Buffer, salt: Buffer, params: ScryptParams, keyLength: number): Buffer {
  // Node refuses (ERR_CRYPTO_INVALID_SCRYPT_PARAMS) when 128·N·r exceeds maxmem (32 MiB by default).
  const maxmem = 2 * 128 * params.N * params.r + 128 * params.r * params.p + 2 ** 20;
  return scryptSync(secret, salt, keyLength, { N: params.N, r: params.r, p: params.p, maxmem });
}

/** scrypt hash, for secrets a person chose (and so could be guessed offline from a leaked site file). */
export function hashSecretScrypt(secret: string, params: Partial<ScryptParams> = {}): string {
  const p: ScryptParams = { ...DEFAULT_SCRYPT_PARAMS, ...params };
  const stored = (salt: Buffer, hash: Buffer) => `scrypt$${p.N}$${p.r}$${p.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
  // Check the parameters against the site file's limits before spending the work.
  const check = parseCredentialHash(stored(Buffer.alloc(SALT_BYTES), Buffer.alloc(SCRYPT_KEY_BYTES)));
  if (!check.ok) throw new RangeError(`scrypt parameters N=${p.N} r=${p.r} p=${p.p} are outside what a site file accepts: ${check.reason}`);
  const salt = randomBytes(SALT_BYTES);
  return stored(salt, scrypt(toBytes(secret), salt, p, SCRYPT_KEY_BYTES));
}

/**
 * Whether `presented` is the secret behind `stored`. Constant-time in the
 * compared bytes. Never throws: a malformed stored hash simply verifies
 * nothing (site validation reports malformed hashes when the file is loaded).
 */
export function verifySecret(stored: string, presented: Buffer | string): boolean {
  try {
    const parsed = parseCredentialHash(stored);
    if (!parsed.ok) return false;
    const v = parsed.value;
    const salt = Buffer.from(v.salt, 'base64url');
    const expected = Buffer.from(v.hash, 'base64url');
    const actual = v.algorithm === 'sha256' ? sha256Salted(salt, toBytes(presented)) : scrypt(toBytes(presented), salt, v, expected.length);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  } catch {
    return false;
  }
}

export type SecretRef = `env:${string}` | `file:${string}`;
export type EnvLike = Readonly<Record<string, string | undefined>>;
export type ReadFileSync = (path: string) => string | Buffer;

/**
 * The plaintext secret a reference points at. Throws an Error naming the
 * variable or file when it cannot be had. A file's trailing newline (as
 * `echo secret > file` writes) is not part of the secret.
 */
export function resolveSecretRef(ref: string, env: EnvLike, readFile: ReadFileSync): string {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const value = env[name];
    if (value === undefined || value === '') {
      throw new Error(`secret ${ref}: environment variable ${name} is ${value === undefined ? 'not set' : 'empty'}; set it before starting, or use a hash in the site file instead`);
    }
    return value;
  }
  if (ref.startsWith('file:')) {
    const path = ref.slice(5);
    let content: string;
    try {
      const raw = readFile(path);
      content = typeof raw === 'string' ? raw : raw.toString('utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'the file does not exist' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new Error(`secret ${ref}: cannot read secret file ${path}: ${reason}`);
    }
    const secret = content.replace(/(\r?\n)+$/, '');
    if (secret === '') throw new Error(`secret ${ref}: secret file ${path} is empty`);
    return secret;
  }
  throw new Error(`"${ref}" is not a secret reference; write env:VARIABLE_NAME or file:/absolute/path`);
}

export interface SecretRefDeps {
  readonly env: EnvLike;
  readonly readFile: ReadFileSync;
}

type Check =
  | { readonly type: 'hash'; readonly stored: string; readonly slow: boolean }
  | { readonly type: 'secret'; readonly digest: Buffer };

const digest = (bytes: Buffer): Buffer => createHash('sha256').update(bytes).digest();

/**
 * Answers "is this the password of device X?" (or of observer X: a dashboard's
 * read-only login) for the broker's authenticate hook. Devices and observers
 * share one table and one check, since the site file never lets an observer id
 * be a device id. Secret references are resolved once, here, so a missing variable or
 * file stops start-up with every problem listed instead of refusing devices
 * one by one later.
 */
export class DeviceCredentialVerifier {
  private readonly checks = new Map<string, Check>();
  /**
   * After a device passes a scrypt check, a keyed fast hash of its password
   * is remembered, so its reconnects (and wrong guesses) cost one HMAC rather
   * than 32 MiB and ~100 ms each. The key is random per process and the
   * cache lives only in memory, which already sees every plaintext password.
   */
  private readonly cacheKey = randomBytes(32);
  private readonly slowCache = new Map<string, Buffer>();

  constructor(site: Site, deps: SecretRefDeps = { env: process.env, readFile: (path) => readFileSync(path) }) {
    const problems: string[] = [];
    const checkFor = (what: string, cred: { hash: string } | { secret: string }): Check | undefined => {
      if ('hash' in cred) {
        const parsed = parseCredentialHash(cred.hash);
        return { type: 'hash', stored: cred.hash, slow: parsed.ok && parsed.value.algorithm === 'scrypt' };
      }
      try {
        return { type: 'secret', digest: digest(Buffer.from(resolveSecretRef(cred.secret, deps.env, deps.readFile), 'utf8')) };
      } catch (err) {
        problems.push(`${what}: ${(err as Error).message}`);
        return undefined;
      }
    };
    const loginChecks = new Map<string, Check>();
    for (const login of site.logins.values()) {
      const c = checkFor(`login "${login.id}"`, login.credentials);
      if (c) loginChecks.set(login.id, c);
    }
    for (const device of site.devices.values()) {
      const cred = device.credentials;
      if (cred === null) continue; // serial readers and bridged sensors have no login of their own
      // Devices sharing a login share its check (and, for scrypt, its cache entry).
      const c = 'login' in cred ? loginChecks.get(cred.login) : checkFor(`device "${device.id}"`, cred);
      if (c) this.checks.set(device.id, c);
    }
    for (const observer of site.observers.values()) {
      const c = checkFor(`observer "${observer.id}"`, observer.credentials);
      if (c) this.checks.set(observer.id, c);
    }
    if (problems.length > 0) {
      throw new Error(`cannot resolve ${problems.length} device secret reference${problems.length === 1 ? '' : 's'} in the site file:\n  ${problems.join('\n  ')}`);
    }
  }

  /** Checks the password of a device (against its own credentials or its shared login's), or of an observer. */
  verify(id: string, password: Buffer | undefined): boolean {
    const check = this.checks.get(id);
    if (check === undefined || password === undefined) return false;
    if (check.type === 'secret') return timingSafeEqual(digest(password), check.digest);
    if (!check.slow) return verifySecret(check.stored, password);
    const keyed = createHmac('sha256', this.cacheKey).update(password).digest();
    const known = this.slowCache.get(check.stored);
    // The site's hash is fixed for this verifier's life: only one password matches it.
    if (known !== undefined) return timingSafeEqual(keyed, known);
    if (!verifySecret(check.stored, password)) return false;
    this.slowCache.set(check.stored, keyed);
    return true;
  }
}

// ---------------------------------------------------------------------------
// The device secrets file
// ---------------------------------------------------------------------------

/** What provisioning flashes into devices: each device's plaintext secret, and shared logins' passwords. Private (mode 0600). */
export interface DeviceSecretsFile {
  readonly version: 1;
  readonly site: string;
  readonly devices: Readonly<Record<string, string>>;
  /** Shared login id → password (devices with credentials: { login }). */
  readonly logins?: Readonly<Record<string, string>>;
}

const ID_RE = new RegExp(ID_PATTERN);
const SHAPE = '{ "version": 1, "site": "<site id>", "devices": { "<device id>": "<secret>" }, "logins": { "<login id>": "<password>" } }';

/** Checks a decoded secrets file; throws one Error listing every problem. `source` labels the messages. */
export function checkSecretsFile(data: unknown, source: string): DeviceSecretsFile {
  const problems: string[] = [];
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new Error(`${source}: a device secrets file is a JSON object ${SHAPE}`);
  }
  const obj = data as Record<string, unknown>;
  if (obj.version !== 1) problems.push(`"version" must be 1, found ${JSON.stringify(obj.version) ?? 'nothing'}`);
  if (typeof obj.site !== 'string' || !ID_RE.test(obj.site)) problems.push(`"site" must be the site id, found ${JSON.stringify(obj.site) ?? 'nothing'}`);
  for (const key of Object.keys(obj)) {
    if (!['version', 'site', 'devices', 'logins'].includes(key)) problems.push(`unknown field "${key}"`);
  }
  const devices = obj.devices;
  if (typeof devices !== 'object' || devices === null || Array.isArray(devices)) {
    problems.push('"devices" must be an object mapping device id to secret');
  } else {
    for (const [id, secret] of Object.entries(devices as Record<string, unknown>)) {
      if (!ID_RE.test(id)) problems.push(`devices: "${id}" is not a valid device id`);
      if (typeof secret !== 'string' || secret === '') problems.push(`devices.${id}: the secret must be a non-empty string`);
    }
  }
  const logins = obj.logins;
  if (logins !== undefined) {
    if (typeof logins !== 'object' || logins === null || Array.isArray(logins)) problems.push('"logins" must be an object mapping login id to password');
    else
      for (const [id, secret] of Object.entries(logins as Record<string, unknown>)) {
        if (!ID_RE.test(id)) problems.push(`logins: "${id}" is not a valid login id`);
        if (typeof secret !== 'string' || secret === '') problems.push(`logins.${id}: the password must be a non-empty string`);
      }
  }
  if (problems.length > 0) throw new Error(`${source}: invalid device secrets file:\n  ${problems.join('\n  ')}\nexpected ${SHAPE}`);
  return {
    version: 1,
    site: obj.site as string,
    devices: { ...(devices as Record<string, string>) },
    ...(logins !== undefined && { logins: { ...(logins as Record<string, string>) } }),
  };
}

/** Parses the text of a secrets file. */
export function parseSecretsFile(text: string, source: string): DeviceSecretsFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message}); a device secrets file looks like ${SHAPE}`);
  }
  return checkSecretsFile(data, source);
}

export async function readSecretsFile(path: string): Promise<DeviceSecretsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`device secrets file ${path} not found; \`facility init\` writes it together with the site file`);
    }
    throw new Error(`cannot read device secrets file ${path}: ${(err as Error).message}`);
  }
  return parseSecretsFile(text, path);
}

/** Writes the secrets file crash-safely, readable by its owner only. */
export async function writeSecretsFile(path: string, data: DeviceSecretsFile): Promise<void> {
  const checked = checkSecretsFile(data, 'secrets to write');
  await writeFileAtomic(path, `${JSON.stringify(checked, null, 2)}\n`, { mode: 0o600 });
}

/**
 * Replaces `path` with `data` so that a crash leaves either the old file or
 * the new one, never a mix: write a temp file in the same directory (rename
 * is only atomic within one file system), fsync it, rename it over the
 * target, then fsync the directory so the rename itself survives power loss.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: { mode?: number } = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // Windows cannot open a directory to fsync it; there the rename is as durable as NTFS makes it.
  if (process.platform !== 'win32') {
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
