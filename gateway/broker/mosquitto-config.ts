/**
 * Mosquitto 2.0 configuration from the site file, for external broker mode:
 * a password file, an ACL file and a mosquitto.conf snippet
 * (`facility mosquitto-config`, docs/deployment.md).
 *
 * - Password file: `user:$7$<iterations>$<salt>$<hash>`, the PBKDF2-SHA512
 *   form mosquitto_passwd writes by default since 2.0 (12-byte salt, 64-byte
 *   key, both base64). 101 iterations, mosquitto_passwd's own default: device
 *   secrets are random 192-bit tokens that no guessing reaches, and every
 *   device of a building reconnects at once after a broker restart.
 * - ACL file: the same rules the embedded broker enforces, from the same
 *   source (each decoder's uplinkFilters/commandFilters): a device writes only
 *   its own uplinks and reads only its own commands; the gateway reads every
 *   uplink, shared subscriptions included, and writes commands, its status and
 *   the live state; an observer reads what its `topics` allow.
 *
 * Mosquitto cannot check that a client id belongs to its user name, nor refuse
 * a retained message on a channel that may not be retained: docs/deployment.md
 * lists what the embedded broker checks that Mosquitto does not.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { gatewayStatusTopic, stateFilter } from '../../core/protocol/topics.js';
import { minimalFilters, sharedFilter } from '../../core/protocol/mqtt-filter.js';
import type { DeviceInfo, Site } from '../../core/site/model.js';
import { mqttDecoder } from '../decoders/index.js';

export const MOSQUITTO_PBKDF2_ITERATIONS = 101;
const SALT_BYTES = 12;
const KEY_BYTES = 64;

/** The default user name of the gateway on the external broker. */
export const GATEWAY_BROKER_USER = 'openfacility-gateway';

/** One password-file hash in Mosquitto 2.0's `$7$` form. */
export function mosquittoPasswordHash(password: string, salt: Buffer = randomBytes(SALT_BYTES), iterations = MOSQUITTO_PBKDF2_ITERATIONS): string {
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, KEY_BYTES, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether `password` is the one behind a `$7$` hash (for tests and `check`). */
export function verifyMosquittoHash(hash: string, password: string): boolean {
  const m = /^\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (!m) return false;
  return mosquittoPasswordHash(password, Buffer.from(m[2]!, 'base64'), Number(m[1])) === hash;
}

/** A broker user: its password (plaintext, hashed when written) and what it may read and write. */
export interface BrokerUser {
  readonly username: string;
  readonly password: string;
  readonly comment: string;
  readonly write: readonly string[];
  readonly read: readonly string[];
}

export interface SecretsSource {
  /** The plaintext secret of a device, a shared login (by login id) or an observer; undefined when unknown. */
  device(id: string): string | undefined;
  login(id: string): string | undefined;
  observer(id: string): string | undefined;
}

export interface MosquittoUsersResult {
  readonly users: readonly BrokerUser[];
  /** Devices and observers left out (no secret known), and conflicts; each says what to do. */
  readonly problems: readonly string[];
}

/**
 * Every broker user of the site: the gateway, each MQTT device's user name
 * (devices sharing a login share one user, with the union of their topics),
 * and each observer.
 */
export function mosquittoUsers(site: Site, secrets: SecretsSource, gateway: { readonly username: string; readonly password: string; readonly shareGroup: string }): MosquittoUsersResult {
  const problems: string[] = [];
  const byUser = new Map<string, { password: string; devices: DeviceInfo[]; write: string[]; read: string[] }>();
  const uplinks: string[] = [];
  const commands: string[] = [];
  for (const device of site.devices.values()) {
    if (device.mqtt === null || device.serial !== null || device.credentials === null) continue;
    const decoder = mqttDecoder(device.format);
    const up = decoder.uplinkFilters(device, site);
    const cmd = decoder.commandFilters(device, site);
    uplinks.push(...up);
    commands.push(...cmd);
    const cred = device.credentials;
    const password = 'login' in cred ? secrets.login(cred.login) : secrets.device(device.id);
    if (password === undefined) {
      problems.push(`device "${device.id}": no secret for it ${'login' in cred ? `(login "${cred.login}") ` : ''}in the secrets file or a secret reference; its user "${device.mqtt.username}" is left out`);
      continue;
    }
    const u = byUser.get(device.mqtt.username);
    if (!u) {
      byUser.set(device.mqtt.username, { password, devices: [device], write: [...up], read: [...cmd] });
      continue;
    }
    if (u.password !== password) {
      problems.push(`device "${device.id}": user name "${device.mqtt.username}" is also ${u.devices[0]!.id}'s, with another secret: Mosquitto has one password per user; left out`);
      continue;
    }
    u.devices.push(device);
    u.write.push(...up);
    u.read.push(...cmd);
  }
  const users: BrokerUser[] = [];
  const upl = minimalFilters(uplinks);
  users.push({
    username: gateway.username,
    password: gateway.password,
    comment: 'the gateway: reads every uplink (also as shared subscriptions), writes commands, its status and the live state',
    read: [...upl, ...upl.map((f) => sharedFilter(gateway.shareGroup, f))],
    write: [...minimalFilters(commands), gatewayStatusTopic(site.id), stateFilter(site.id)],
  });
  for (const [username, u] of [...byUser].sort(([a], [b]) => a.localeCompare(b))) {
    const what = u.devices.map((d) => `${d.id} (${d.format} ${d.kind})`).join(', ');
    users.push({ username, password: u.password, comment: `device${u.devices.length > 1 ? 's' : ''} ${what}`, write: minimalFilters(u.write), read: minimalFilters(u.read) });
  }
  for (const observer of [...site.observers.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const password = secrets.observer(observer.id);
    if (password === undefined) {
      problems.push(`observer "${observer.id}": no secret for it in the secrets file or a secret reference; left out`);
      continue;
    }
    const read = [...(observer.topics.includes('state') ? [stateFilter(site.id)] : []), ...(observer.topics.includes('gateway-status') ? [gatewayStatusTopic(site.id)] : [])];
    users.push({ username: observer.id, password, comment: `observer ${observer.id} (read-only)`, read, write: [] });
  }
  const names = new Set<string>();
  for (const u of users) {
    if (names.has(u.username)) problems.push(`user name "${u.username}" is used twice (the gateway's user name must not be a device's or an observer's)`);
    names.add(u.username);
  }
  return { users, problems };
}

/** The password file: one `user:$7$…` line per user. */
export function mosquittoPasswordFile(users: readonly BrokerUser[], hash: (password: string) => string = (p) => mosquittoPasswordHash(p)): string {
  return users.map((u) => `${u.username}:${hash(u.password)}\n`).join('');
}

/**
 * The ACL file. `topic write`/`topic read` lines under a `user` line
 * (mosquitto.conf(5), "acl_file"); nothing is allowed that is not listed.
 */
export function mosquittoAclFile(site: Site, users: readonly BrokerUser[], generatedFrom: string): string {
  const lines = [
    `# OpenFacility site "${site.id}": Mosquitto ACL generated by \`facility mosquitto-config\` from ${generatedFrom}.`,
    '# Generate it again after changing the site file; edits here are lost.',
    '',
  ];
  for (const u of users) {
    lines.push(`# ${u.comment}`, `user ${u.username}`);
    for (const f of u.write) lines.push(`topic write ${f}`);
    for (const f of u.read) lines.push(`topic read ${f}`);
    lines.push('');
  }
  return lines.join('\n');
}

export interface MosquittoConfOptions {
  readonly port: number;
  /** Address to listen on; default all. */
  readonly bindAddress?: string;
  readonly passwordFile: string;
  readonly aclFile: string;
  /** Where Mosquitto keeps sessions and queued messages across its restarts; default Debian's /var/lib/mosquitto/. */
  readonly persistenceLocation?: string;
}

/**
 * A mosquitto.conf snippet: one listener, no anonymous clients, our password
 * and ACL files, and the queue limits shared subscriptions need (a gone member
 * keeps its share queued until it comes back; the 1,000-message default would
 * drop the rest).
 */
export function mosquittoConf(o: MosquittoConfOptions): string {
  return [
    '# OpenFacility: generated by `facility mosquitto-config` (docs/deployment.md).',
    '# Include it from mosquitto.conf (include_dir), or use it as the whole file.',
    `listener ${o.port}${o.bindAddress ? ` ${o.bindAddress}` : ''}`,
    'allow_anonymous false',
    `password_file ${o.passwordFile}`,
    `acl_file ${o.aclFile}`,
    '# Messages queued for a gateway member that is away (QoS 1; its share of the stream until it is back).',
    'max_queued_messages 1000000',
    'max_inflight_messages 100',
    '# Sessions and queued messages survive a broker restart only with persistence (written every autosave_interval s).',
    'persistence true',
    `persistence_location ${o.persistenceLocation ?? '/var/lib/mosquitto/'}`,
    'autosave_interval 60',
    '',
  ].join('\n');
}
