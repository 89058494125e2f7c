/**
 * `facility mosquitto-config --out <dir>`: a Mosquitto 2.0 password file, ACL
 * file and mosquitto.conf snippet from the site file, for external broker mode
 * (gateway/broker/mosquitto-config.ts, docs/deployment.md).
 *
 * Mosquitto needs each password's plaintext to hash it its own way; the site
 * file holds only hashes or secret references, so plaintexts come from the
 * references and from the secrets file (`--secrets`), each checked against the
 * site file's hash first.
 */
import { readFileSync } from 'node:fs';
import { chown, mkdir, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Site } from '../core/site/model.js';
import { readSecretsFile, resolveSecretRef, verifySecret, writeFileAtomic, type DeviceSecretsFile } from '../gateway/auth/secrets.js';
import { GATEWAY_BROKER_USER, mosquittoAclFile, mosquittoConf, mosquittoPasswordFile, mosquittoUsers, type SecretsSource } from '../gateway/broker/mosquitto-config.js';

export interface MosquittoConfigCommand {
  readonly site: Site;
  readonly sitePath: string;
  readonly secretsPath: string;
  readonly outDir: string;
  readonly port: number;
  readonly bindAddress?: string;
  readonly gatewayUser: string;
  /** The gateway's password (broker.password, passwordFile or FACILITY_BROKER_PASSWORD); null: kept from <out>/gateway-password or made. */
  readonly gatewayPassword: string | null;
  readonly shareGroup: string;
  readonly persistenceLocation?: string;
  readonly env: NodeJS.ProcessEnv;
}

export interface MosquittoConfigResult {
  readonly files: { readonly passwordFile: string; readonly aclFile: string; readonly conf: string; readonly gatewayPassword: string | null };
  readonly users: number;
  readonly problems: readonly string[];
}

type Cred = { hash: string } | { secret: string };

export async function writeMosquittoConfig(o: MosquittoConfigCommand): Promise<MosquittoConfigResult> {
  const outDir = resolve(o.outDir);
  await mkdir(outDir, { recursive: true });
  let file: DeviceSecretsFile | null = null;
  const problems: string[] = [];
  try {
    file = await readSecretsFile(o.secretsPath);
  } catch (err) {
    problems.push(`${(err as Error).message}: only devices with secret references get a user`);
  }
  const plain = (what: string, cred: Cred, fromFile: string | undefined): string | undefined => {
    if ('secret' in cred) {
      try {
        return resolveSecretRef(cred.secret, o.env, (p) => readFileSync(p));
      } catch (err) {
        problems.push(`${what}: ${(err as Error).message}`);
        return undefined;
      }
    }
    if (fromFile === undefined) return undefined;
    if (!verifySecret(cred.hash, fromFile)) {
      problems.push(`${what}: the secrets file's secret does not match the site file's hash (an older secrets file?); left out`);
      return undefined;
    }
    return fromFile;
  };
  const secrets: SecretsSource = {
    device: (id) => {
      const cred = o.site.devices.get(id)?.credentials;
      return cred && !('login' in cred) ? plain(`device "${id}"`, cred, file?.devices[id]) : undefined;
    },
    login: (id) => {
      const login = o.site.logins.get(id);
      return login ? plain(`login "${id}"`, login.credentials, file?.logins?.[id]) : undefined;
    },
    observer: (id) => {
      const obs = o.site.observers.get(id);
      return obs ? plain(`observer "${id}"`, obs.credentials, file?.devices[id]) : undefined;
    },
  };

  const gatewayPasswordPath = join(outDir, 'gateway-password');
  let gatewayPassword = o.gatewayPassword;
  let wrotePassword: string | null = null;
  if (gatewayPassword === null) {
    // Kept across runs, so that generating the files again does not lock a running gateway out.
    gatewayPassword = await readFile(gatewayPasswordPath, 'utf8').then((t) => t.trim(), () => null);
    if (!gatewayPassword) {
      gatewayPassword = randomBytes(24).toString('base64url');
      await writeFileAtomic(gatewayPasswordPath, `${gatewayPassword}\n`, { mode: 0o600 });
      wrotePassword = gatewayPasswordPath;
    }
  }

  const r = mosquittoUsers(o.site, secrets, { username: o.gatewayUser, password: gatewayPassword, shareGroup: o.shareGroup });
  problems.push(...r.problems);
  const passwordFile = join(outDir, 'passwd');
  const aclFile = join(outDir, 'acl');
  const conf = join(outDir, 'mosquitto.conf');
  // The broker (user mosquitto) reads the password file: group-readable, for chgrp mosquitto (docs/deployment.md).
  await writeFileAtomic(passwordFile, mosquittoPasswordFile(r.users), { mode: 0o640 });
  // Started as root, Mosquitto reads its files as the user `mosquitto` (Debian's package creates it).
  const gid = mosquittoGroup();
  if (gid !== null && process.getuid?.() === 0) await chown(passwordFile, 0, gid);
  else problems.push(`${passwordFile} is readable by its owner only (and its group): make it readable to the user Mosquitto runs as (chgrp mosquitto)`);
  await writeFileAtomic(aclFile, mosquittoAclFile(o.site, r.users, o.sitePath), { mode: 0o644 });
  await writeFileAtomic(
    conf,
    mosquittoConf({ port: o.port, ...(o.bindAddress !== undefined && { bindAddress: o.bindAddress }), passwordFile, aclFile, ...(o.persistenceLocation !== undefined && { persistenceLocation: o.persistenceLocation }) }),
    { mode: 0o644 },
  );
  return { files: { passwordFile, aclFile, conf, gatewayPassword: wrotePassword }, users: r.users.length, problems };
}

/** The gid of the group `mosquitto`, or null (no such group, e.g. Mosquitto not installed here). */
function mosquittoGroup(): number | null {
  try {
    const line = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('mosquitto:'));
    const gid = line ? Number(line.split(':')[2]) : NaN;
    return Number.isInteger(gid) ? gid : null;
  } catch {
    return null;
  }
}

export { GATEWAY_BROKER_USER };
