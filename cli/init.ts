/**
 * `facility init` and site loading: the file-system side of core/site. The
 * command-line parsing lives in ./facility.ts.
 */
import { access, readFile, stat } from 'node:fs/promises';
import { exampleSiteFile, siteToYaml, SITE_FILE_HEADER } from '../core/site/example.js';
import { ID_PATTERN, type Site } from '../core/site/model.js';
import { formatSiteErrors, MAX_SITE_FILE_BYTES, parseSiteText, type SiteFileError } from '../core/site/parse.js';
import { generateDeviceSecret, hashSecret, writeFileAtomic, writeSecretsFile } from '../gateway/auth/secrets.js';

export interface InitSiteOptions {
  readonly sitePath: string;
  readonly secretsPath: string;
  readonly siteId?: string;
  /** Overwrite existing files (their device secrets are lost: devices must be re-provisioned). */
  readonly force?: boolean;
  /** Size of the example: hot desks (default 36) and machines (default 10). */
  readonly hotDesks?: number;
  readonly machines?: number;
}

export interface InitSiteResult {
  readonly sitePath: string;
  readonly secretsPath: string;
  readonly deviceCount: number;
}

/** A site file that does not load; `errors` is empty when the file could not be read at all. */
export class SiteFileLoadError extends Error {
  constructor(
    message: string,
    readonly errors: readonly SiteFileError[],
  ) {
    super(message);
    this.name = 'SiteFileLoadError';
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the example maker space: a fresh secret per device into the private
 * secrets file, and only their hashes into the site file. Secrets are written
 * first: a site file whose secrets were lost would lock every device out.
 */
export async function initSite(opts: InitSiteOptions): Promise<InitSiteResult> {
  if (opts.siteId !== undefined && !new RegExp(ID_PATTERN).test(opts.siteId)) {
    throw new Error(`site id ${JSON.stringify(opts.siteId)} is not valid: use 1 to 64 letters, digits, "-" or "_", starting with a letter or digit (it appears in MQTT topics)`);
  }
  if (opts.force !== true) {
    const existing: string[] = [];
    for (const path of [opts.sitePath, opts.secretsPath]) if (await exists(path)) existing.push(path);
    if (existing.length > 0) {
      throw new Error(
        `${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; not overwriting. ` +
          'Overwriting generates new device secrets, so every device must be provisioned again: use --force if that is what you want, or choose other paths.',
      );
    }
  }

  const secrets: Record<string, string> = {};
  const logins: Record<string, string> = {};
  const file = exampleSiteFile({
    ...(opts.siteId !== undefined && { siteId: opts.siteId }),
    ...(opts.hotDesks !== undefined && { hotDesks: opts.hotDesks }),
    ...(opts.machines !== undefined && { machines: opts.machines }),
    credentialsFor: (id) => {
      const secret = generateDeviceSecret();
      if (id.startsWith('login:')) logins[id.slice('login:'.length)] = secret;
      else secrets[id] = secret;
      return { hash: hashSecret(secret) };
    },
  });
  const text = siteToYaml(file, SITE_FILE_HEADER);
  // Check what we are about to write with the same parser that will read it (e.g. a --site-id that is not a valid id).
  const check = parseSiteText(text, opts.sitePath);
  if (!check.ok) throw new SiteFileLoadError(`the generated site file is not valid:\n${formatSiteErrors(check.errors)}`, check.errors);

  await writeSecretsFile(opts.secretsPath, { version: 1, site: file.site.id, devices: secrets, logins });
  await writeFileAtomic(opts.sitePath, text, { mode: 0o644 });
  return { sitePath: opts.sitePath, secretsPath: opts.secretsPath, deviceCount: file.devices?.length ?? 0 };
}

/**
 * Reads and validates a site file. On failure the Error's message is the
 * list of `file:line:column: path: problem` lines, ready to print.
 */
export async function loadSiteFile(path: string): Promise<Site> {
  let text: string;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new SiteFileLoadError(`${path} is a directory, not a site file`, []);
    if (info.size > MAX_SITE_FILE_BYTES) {
      throw new SiteFileLoadError(`${path}: the file is ${(info.size / 2 ** 20).toFixed(1)} MB; a site file may be at most ${MAX_SITE_FILE_BYTES / 2 ** 20} MB`, []);
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof SiteFileLoadError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SiteFileLoadError(`site file ${path} not found; write an example with \`facility init\` (format: docs/site-file.md)`, []);
    }
    throw new SiteFileLoadError(`cannot read site file ${path}: ${(err as Error).message}`, []);
  }
  const result = parseSiteText(text, path);
  if (!result.ok) throw new SiteFileLoadError(formatSiteErrors(result.errors), result.errors);
  return result.site;
}
