import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initSite, loadSiteFile, SiteFileLoadError } from '../../cli/init.js';
import { exampleSiteFile } from '../../core/site/example.js';
import type { Site } from '../../core/site/model.js';
import { validateSite } from '../../core/site/validate.js';
import {
  DeviceCredentialVerifier,
  generateDeviceSecret,
  hashSecret,
  hashSecretScrypt,
  parseSecretsFile,
  readSecretsFile,
  resolveSecretRef,
  verifySecret,
  writeFileAtomic,
  writeSecretsFile,
} from '../../gateway/auth/secrets.js';

// Small scrypt parameters keep the tests fast; the format and code path are the same.
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

describe('device secrets', () => {
  it('generates distinct 192-bit base64url secrets', () => {
    const a = generateDeviceSecret();
    const b = generateDeviceSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(24);
    expect(a).not.toBe(b);
  });

  it('hashes with a fresh salt and verifies the round trip', () => {
    const secret = generateDeviceSecret();
    const h1 = hashSecret(secret);
    const h2 = hashSecret(secret);
    expect(h1).toMatch(/^sha256\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(h1).not.toBe(h2);
    expect(verifySecret(h1, secret)).toBe(true);
    expect(verifySecret(h1, Buffer.from(secret, 'utf8'))).toBe(true);
    expect(verifySecret(h2, secret)).toBe(true);
  });

  it('refuses a wrong secret', () => {
    const h = hashSecret('right-secret');
    expect(verifySecret(h, 'wrong-secret')).toBe(false);
    expect(verifySecret(h, '')).toBe(false);
    expect(verifySecret(h, 'right-secret ')).toBe(false);
  });

  it('hashes and verifies with scrypt', () => {
    const h = hashSecretScrypt('correct horse battery staple', FAST_SCRYPT);
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(verifySecret(h, 'correct horse battery staple')).toBe(true);
    expect(verifySecret(h, 'correct horse battery stable')).toBe(false);
  });

  it('uses default scrypt parameters a site file accepts', () => {
    const h = hashSecretScrypt('pass phrase');
    expect(h.startsWith('scrypt$32768$8$1$')).toBe(true);
    expect(verifySecret(h, 'pass phrase')).toBe(true);
  });

  it('refuses scrypt parameters a site file would refuse', () => {
    expect(() => hashSecretScrypt('x', { N: 1000 })).toThrow(/outside what a site file accepts/);
  });

  const good = hashSecret('s');
  it.each([
    ['empty', ''],
    ['unknown algorithm', 'md5$abc$def'],
    ['no parts', 'sha256'],
    ['truncated hash', good.slice(0, -1)],
    ['extra part', `${good}$x`],
    ['not base64url', good.replace(/\$([^$]+)$/, '$!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!')],
    ['scrypt huge N', `scrypt$1073741824$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`],
    ['scrypt N not a power of two', `scrypt$1000$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`],
    ['scrypt missing parts', 'scrypt$1024$8$1'],
  ])('never throws on a malformed stored hash: %s', (_name, stored) => {
    expect(verifySecret(stored, 's')).toBe(false);
  });
});

describe('resolveSecretRef', () => {
  const noFile = (path: string): never => {
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
  };

  it('reads environment variables', () => {
    expect(resolveSecretRef('env:PM1_SECRET', { PM1_SECRET: 'abc' }, noFile)).toBe('abc');
  });

  it('names a missing or empty variable', () => {
    expect(() => resolveSecretRef('env:PM1_SECRET', {}, noFile)).toThrow('secret env:PM1_SECRET: environment variable PM1_SECRET is not set');
    expect(() => resolveSecretRef('env:PM1_SECRET', { PM1_SECRET: '' }, noFile)).toThrow('environment variable PM1_SECRET is empty');
  });

  it('reads files, without the trailing newline', () => {
    const files: Record<string, string | Buffer> = { '/run/secrets/dc': 'door-secret\n', '/run/secrets/crlf': Buffer.from('s2\r\n') };
    const read = (p: string) => files[p] ?? noFile(p);
    expect(resolveSecretRef('file:/run/secrets/dc', {}, read)).toBe('door-secret');
    expect(resolveSecretRef('file:/run/secrets/crlf', {}, read)).toBe('s2');
  });

  it('names a missing, unreadable or empty file', () => {
    expect(() => resolveSecretRef('file:/run/secrets/none', {}, noFile)).toThrow('secret file:/run/secrets/none: cannot read secret file /run/secrets/none: the file does not exist');
    const denied = () => {
      throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    };
    expect(() => resolveSecretRef('file:/root/x', {}, denied)).toThrow('cannot read secret file /root/x: permission denied');
    expect(() => resolveSecretRef('file:/empty', {}, () => '\n')).toThrow('secret file /empty is empty');
  });

  it('refuses what is not a reference', () => {
    expect(() => resolveSecretRef('vault:x', {}, noFile)).toThrow('"vault:x" is not a secret reference');
  });
});

describe('DeviceCredentialVerifier', () => {
  function siteWith(credentials: Record<string, { hash: string } | { secret: string }>): Site {
    const file = exampleSiteFile({
      credentialsFor: (id) => credentials[id] ?? { hash: hashSecret(`unused-${id}`) },
    });
    const r = validateSite(file);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.site;
  }
  const deps = { env: { DC_MAIN: 'env-secret' }, readFile: (p: string) => (p === '/secrets/br' ? 'file-secret\n' : '') };

  it('verifies hashes, scrypt hashes and secret references', () => {
    const site = siteWith({
      'occ-st-01': { hash: hashSecret('desk-secret') },
      'pm-reflow-1': { hash: hashSecretScrypt('meter pass phrase', FAST_SCRYPT) },
      'dc-main': { secret: 'env:DC_MAIN' },
      'br-laser-1': { secret: 'file:/secrets/br' },
    });
    const v = new DeviceCredentialVerifier(site, deps);
    const pw = (s: string) => Buffer.from(s, 'utf8');
    expect(v.verify('occ-st-01', pw('desk-secret'))).toBe(true);
    expect(v.verify('occ-st-01', pw('desk-secreT'))).toBe(false);
    expect(v.verify('dc-main', pw('env-secret'))).toBe(true);
    expect(v.verify('dc-main', pw('env-secret2'))).toBe(false);
    expect(v.verify('br-laser-1', pw('file-secret'))).toBe(true);
    expect(v.verify('br-laser-1', pw('file-secret\n'))).toBe(false);
    // scrypt: first success is remembered; wrong passwords stay wrong before and after.
    expect(v.verify('pm-reflow-1', pw('wrong'))).toBe(false);
    expect(v.verify('pm-reflow-1', pw('meter pass phrase'))).toBe(true);
    expect(v.verify('pm-reflow-1', pw('meter pass phrase'))).toBe(true);
    expect(v.verify('pm-reflow-1', pw('wrong'))).toBe(false);
  });

  it('verifies devices on a shared login with the login’s password', () => {
    const site = siteWith({ 'login:tasmota-fleet': { hash: hashSecretScrypt('fleet pass phrase', FAST_SCRYPT) }, 'pm-fdm-1': { hash: hashSecret('shelly-secret') } });
    const v = new DeviceCredentialVerifier(site, deps);
    const pw = (s: string) => Buffer.from(s, 'utf8');
    for (const id of ['pm-laser-1', 'pm-laser-2', 'pm-cnc-1', 'pm-lathe-1']) {
      expect(v.verify(id, pw('fleet pass phrase'))).toBe(true);
      expect(v.verify(id, pw('shelly-secret'))).toBe(false);
    }
    // The login's password is not another device's.
    expect(v.verify('pm-fdm-1', pw('fleet pass phrase'))).toBe(false);
    expect(v.verify('pm-fdm-1', pw('shelly-secret'))).toBe(true);
  });

  it('has no password for devices without a connection of their own', () => {
    const v = new DeviceCredentialVerifier(siteWith({}), deps);
    for (const id of ['occ-cw-01', 'occ-roadshow', 'rd-fablab', 'rd-workshop']) expect(v.verify(id, Buffer.from(''))).toBe(false);
  });

  it('refuses unknown devices and missing passwords', () => {
    const site = siteWith({ 'occ-st-01': { hash: hashSecret('desk-secret') } });
    const v = new DeviceCredentialVerifier(site, deps);
    expect(v.verify('occ-st-01', undefined)).toBe(false);
    expect(v.verify('nobody', Buffer.from('desk-secret'))).toBe(false);
  });

  it('lists every unresolvable reference at construction', () => {
    const site = siteWith({ 'dc-main': { secret: 'env:NOPE' }, 'dc-fablab': { secret: 'file:/missing' }, 'login:tasmota-fleet': { secret: 'env:FLEET' } });
    const missing = (p: string): never => {
      throw Object.assign(new Error(p), { code: 'ENOENT' });
    };
    expect(() => new DeviceCredentialVerifier(site, { env: {}, readFile: missing })).toThrow(
      /cannot resolve 3 device secret references in the site file:\n {2}login "tasmota-fleet": secret env:FLEET: environment variable FLEET is not set.*\n {2}device "dc-main": secret env:NOPE: environment variable NOPE is not set.*\n {2}device "dc-fablab": secret file:\/missing: cannot read secret file \/missing: the file does not exist/,
    );
  });
});

describe('files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'facility-secrets-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes and reads the secrets file, private to its owner', async () => {
    const path = join(dir, 'device-secrets.json');
    const data = { version: 1 as const, site: 'demo', devices: { 'occ-1': 'aaa', 'pm-1': 'bbb' }, logins: { plugs: 'ccc' } };
    await writeSecretsFile(path, data);
    expect(await readSecretsFile(path)).toEqual(data);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['device-secrets.json']); // no temp file left behind
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(data);
  });

  it('replaces an existing file atomically', async () => {
    const path = join(dir, 'f.txt');
    await writeFile(path, 'old', { mode: 0o644 });
    await writeFileAtomic(path, 'new');
    expect(await readFile(path, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['f.txt']);
  });

  it('leaves nothing behind when the write fails', async () => {
    await expect(writeFileAtomic(join(dir, 'no-such-dir', 'f.txt'), 'x')).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses to write an invalid secrets file', async () => {
    const bad = { version: 1 as const, site: 'demo', devices: { 'occ 1': '' } };
    await expect(writeSecretsFile(join(dir, 's.json'), bad)).rejects.toThrow(/"occ 1" is not a valid device id[\s\S]*the secret must be a non-empty string/);
  });

  it('explains a missing secrets file', async () => {
    const path = join(dir, 'none.json');
    await expect(readSecretsFile(path)).rejects.toThrow(`device secrets file ${path} not found; \`facility init\` writes it`);
  });

  it.each([
    ['not JSON', '{"version": 1,', /s\.json: not valid JSON \(.*\); a device secrets file looks like/],
    ['not an object', '[1, 2]', /s\.json: a device secrets file is a JSON object/],
    ['wrong version', '{"version": 2, "site": "demo", "devices": {}}', /"version" must be 1, found 2/],
    ['bad site', '{"version": 1, "site": "a b", "devices": {}}', /"site" must be the site id, found "a b"/],
    ['no devices', '{"version": 1, "site": "demo"}', /"devices" must be an object mapping device id to secret/],
    ['secret not a string', '{"version": 1, "site": "demo", "devices": {"d1": 5}}', /devices\.d1: the secret must be a non-empty string/],
    ['unknown field', '{"version": 1, "site": "demo", "devices": {}, "extra": true}', /unknown field "extra"/],
    ['logins not an object', '{"version": 1, "site": "demo", "devices": {}, "logins": ["x"]}', /"logins" must be an object mapping login id to password/],
    ['login password empty', '{"version": 1, "site": "demo", "devices": {}, "logins": {"plugs": ""}}', /logins\.plugs: the password must be a non-empty string/],
    ['bad login id', '{"version": 1, "site": "demo", "devices": {}, "logins": {"my plugs": "x"}}', /logins: "my plugs" is not a valid login id/],
  ])('reports a corrupt secrets file: %s', (_name, text, message) => {
    expect(() => parseSecretsFile(text, 's.json')).toThrow(message);
  });

  it('reads a corrupt file with its path in the message', async () => {
    const path = join(dir, 'device-secrets.json');
    await writeFile(path, 'garbage');
    await expect(readSecretsFile(path)).rejects.toThrow(`${path}: not valid JSON`);
  });
});

describe('initSite and loadSiteFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'facility-init-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a site whose every device secret verifies against its hash', async () => {
    const sitePath = join(dir, 'site.yaml');
    const secretsPath = join(dir, 'device-secrets.json');
    const r = await initSite({ sitePath, secretsPath, siteId: 'shenzhen-1' });
    expect(r).toEqual({ sitePath, secretsPath, deviceCount: 65 });

    const site = await loadSiteFile(sitePath);
    const secrets = await readSecretsFile(secretsPath);
    expect(site.id).toBe('shenzhen-1');
    expect(secrets.site).toBe('shenzhen-1');
    // Every device with its own login has a secret; serial readers and bridged sensors have none.
    const own = [...site.devices.values()].filter((d) => d.credentials !== null && 'hash' in d.credentials);
    expect(Object.keys(secrets.devices).sort()).toEqual(own.map((d) => d.id).sort());
    const verifier = new DeviceCredentialVerifier(site, { env: {}, readFile: () => '' });
    for (const device of own) {
      const secret = secrets.devices[device.id]!;
      expect(device.credentials !== null && 'hash' in device.credentials && verifySecret(device.credentials.hash, secret)).toBe(true);
      expect(verifier.verify(device.id, Buffer.from(secret))).toBe(true);
    }
    // Devices on a shared login verify with the login's password.
    const shared = [...site.devices.values()].filter((d) => d.credentials !== null && 'login' in d.credentials);
    expect(shared.length).toBeGreaterThan(0);
    for (const device of shared) {
      const login = (device.credentials as { login: string }).login;
      expect(verifier.verify(device.id, Buffer.from(secrets.logins![login]!))).toBe(true);
      expect(verifier.verify(device.id, Buffer.from('wrong'))).toBe(false);
    }
    // Secrets never appear in the site file.
    const text = await readFile(sitePath, 'utf8');
    expect(Object.keys(secrets.logins!)).toEqual(['tasmota-fleet']);
    for (const secret of [...Object.values(secrets.devices), ...Object.values(secrets.logins!)]) expect(text).not.toContain(secret);
    // 65 devices less 4 on the shared login, 2 serial readers and 37 bridged sensors; every secret distinct.
    expect(new Set([...Object.values(secrets.devices), ...Object.values(secrets.logins!)]).size).toBe(65 - 4 - 2 - 37 + 1);
    expect((await stat(secretsPath)).mode & 0o777).toBe(0o600);
  });

  it('refuses to overwrite unless forced', async () => {
    const sitePath = join(dir, 'site.yaml');
    const secretsPath = join(dir, 'device-secrets.json');
    await initSite({ sitePath, secretsPath });
    const before = await readFile(secretsPath, 'utf8');
    await expect(initSite({ sitePath, secretsPath })).rejects.toThrow(/already exist; not overwriting\. .*use --force/);
    expect(await readFile(secretsPath, 'utf8')).toBe(before);
    await writeFile(join(dir, 'only-secrets.json'), '{}');
    await expect(initSite({ sitePath: join(dir, 'new.yaml'), secretsPath: join(dir, 'only-secrets.json') })).rejects.toThrow(/only-secrets\.json already exists/);
    await initSite({ sitePath, secretsPath, force: true });
    expect(await readFile(secretsPath, 'utf8')).not.toBe(before);
    await loadSiteFile(sitePath);
  });

  it('refuses an invalid site id', async () => {
    await expect(initSite({ sitePath: join(dir, 'a.yaml'), secretsPath: join(dir, 'b.json'), siteId: 'my site' })).rejects.toThrow(/site id "my site" is not valid/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('throws the formatted file:line errors', async () => {
    const sitePath = join(dir, 'site.yaml');
    await initSite({ sitePath, secretsPath: join(dir, 's.json') });
    const text = (await readFile(sitePath, 'utf8')).replace('    desk: cw-03\n', '    desk: D99\n');
    await writeFile(sitePath, text);
    // Devices come as door controllers (4), the exit reader (1), serial readers (2), machine badge readers (2), power meters (10),
    // the Zigbee bridge (1), then desk sensors: cw-03 is the third.
    const line = text.split('\n').indexOf('    desk: D99') + 1;
    const err = await loadSiteFile(sitePath).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SiteFileLoadError);
    expect((err as Error).message).toBe(`${sitePath}:${line}:11: devices[${4 + 1 + 2 + 2 + 10 + 1 + 2}].desk: there is no desk "D99"; define it under desks: or fix the reference`);
    expect((err as SiteFileLoadError).errors).toHaveLength(1);
  });

  it('explains a missing site file', async () => {
    const path = join(dir, 'site.yaml');
    await expect(loadSiteFile(path)).rejects.toThrow(`site file ${path} not found; write an example with \`facility init\``);
    await expect(loadSiteFile(dir)).rejects.toThrow('is a directory, not a site file');
  });
});
