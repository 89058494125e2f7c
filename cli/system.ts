/**
 * `facility start`: the whole system in one process, in dependency order —
 * site file (generated on first start), InfluxDB (local influxd unless an URL
 * is given), gateway, HTTP server, simulated devices — and stopped in reverse.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { Site } from '../core/site/model.js';
import { DeviceCredentialVerifier } from '../gateway/auth/secrets.js';
import { indexPolicy, type PolicyIndex } from '../core/access/policy-index.js';
import type { PolicyView } from '../gateway/access/runner.js';
import type { ExternalBrokerSettings } from '../gateway/broker/external-broker.js';
import { Gateway } from '../gateway/gateway.js';
import { PolicyClient } from '../gateway/policy/policy-client.js';
import { CheckpointShipper } from '../gateway/journal/checkpoint-shipper.js';
import { seedDemoRoster } from './demo-roster.js';
import { sessioniserConfig } from '../core/usage/sessioniser.js';
import type { UsageSource } from '../server/routes/usage.js';
import { readPolicySnapshot } from '../server/policy/snapshot.js';
import { InfluxV1Client } from '../gateway/influx/client.js';
import { InfluxdProcess, ensureInfluxd } from '../gateway/influx/influxd.js';
import { ensureCommand } from '../gateway/platform/debian.js';
import { buildApp, type ServerOptions } from '../server/app.js';
import { ServerAuditLog } from '../server/audit/log.js';
import { loadOrCreateAuditKey } from '../gateway/journal/audit-keys.js';
import { ensureAdmin } from '../server/auth/bootstrap.js';
import { migrate, openSqlite, type ServerDb } from '../server/db/database.js';
import { AUDIT_KEY_FILE } from './audit.js';
import { ConfigError, type FacilityConfig } from './config.js';
import { initSite, loadSiteFile } from './init.js';
import { startSimulator, type SimHandle } from './sim.js';

export interface RunningSystem {
  readonly site: Site;
  readonly gateway: Gateway;
  readonly mqttPort: number;
  readonly httpUrl: string;
  readonly influxUrl: string;
  readonly sitePath: string;
  readonly secretsPath: string;
  stop(): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now() };

export function sitePaths(config: FacilityConfig): { dataDir: string; sitePath: string; secretsPath: string } {
  const dataDir = resolve(config.dataDir);
  return {
    dataDir,
    sitePath: resolve(config.siteFile ?? join(dataDir, 'site.yaml')),
    secretsPath: resolve(config.secretsFile ?? join(dataDir, 'device-secrets.json')),
  };
}

/** Opens the server database, applies migrations and makes sure an administrator exists (first run). */
export async function openServer(config: FacilityConfig, dataDir: string, logger: Logger): Promise<{ db: ServerDb; options: ServerOptions }> {
  const db = openSqlite(resolve(config.server.dbFile ?? join(dataDir, 'server.db')));
  try {
    const m = await migrate(db);
    if (m.applied.length > 0) logger.info({ applied: m.applied, version: m.version }, 'server database migrated');
    const admin = await ensureAdmin(db, { env: process.env, clock: systemClock, passwordFile: join(dataDir, 'initial-admin-password.txt') });
    if (admin) {
      if (admin.generatedPassword) {
        console.log(
          [
            '',
            'First start: an administrator account was created. 首次启动：已创建管理员账号。',
            `  user name 用户名   ${admin.username}`,
            `  password  密码     ${admin.generatedPassword}`,
            `  (also in ${admin.passwordFile ?? ''}, readable only by you: delete it after logging in and changing the password)`,
            '',
          ].join('\n'),
        );
      } else {
        logger.info({ username: admin.username }, 'administrator created from FACILITY_ADMIN_PASSWORD');
      }
    }
  } catch (err) {
    await db.destroy();
    throw err;
  }
  // The audit log: its key beside the database (made on the first start, 0600), a checkpoint every hour with news.
  const audit = await ServerAuditLog.open(db, { key: loadOrCreateAuditKey(join(dataDir, 'server-audit-key.pem')), origin: 'openfacility/server', clock: systemClock });
  const hourly = setInterval(() => {
    audit.checkpoint('hourly').catch((err: unknown) => logger.warn({ err }, 'audit checkpoint failed'));
  }, 3600_000);
  hourly.unref();
  return {
    db,
    options: {
      db,
      audit,
      clock: systemClock,
      sessionTtlMs: config.server.sessionTtlHours * 3600_000,
      loginPerIpPerMinute: config.server.loginPerIpPerMinute,
      loginFailuresPerAccount: config.server.loginFailuresPerAccount,
      loginRefillMs: config.server.loginRefillMinutes * 60_000,
      requestsPerMinute: config.server.requestsPerMinute,
    },
  };
}

/**
 * `facility start` (mode all): gateway and server in one process. `facility
 * gateway` (mode gateway): the gateway alone, taking its access policy from a
 * central server (config gateway.serverUrl) and keeping it on disk, so it
 * decides on its own when that server is away.
 */
export async function startSystem(config: FacilityConfig, logger: Logger, mode: 'all' | 'gateway' = 'all'): Promise<RunningSystem> {
  if (mode === 'gateway' && (config.gateway.serverUrl === null || config.gateway.serverToken === null)) {
    throw new ConfigError('facility gateway needs the central server: set gateway.serverUrl (--server-url) and the gateway token (FACILITY_GATEWAY_TOKEN; an admin creates it with POST /api/v1/gateways)');
  }
  const { dataDir, sitePath, secretsPath } = sitePaths(config);
  mkdirSync(dataDir, { recursive: true });
  const stack: { name: string; stop: () => Promise<void> | void }[] = [];
  const stopAll = async () => {
    for (const part of stack.reverse()) {
      try {
        await part.stop();
      } catch (err) {
        logger.error({ err, part: part.name }, 'error while stopping');
      }
    }
    stack.length = 0;
  };

  try {
    if (!existsSync(sitePath)) {
      if (config.siteFile !== null) throw new Error(`site file ${sitePath} does not exist; create one with \`facility init --site ${sitePath}\``);
      const r = await initSite({ sitePath, secretsPath });
      logger.info({ sitePath, secretsPath, devices: r.deviceCount }, 'no site file yet: wrote the example maker space');
    }
    const site = await loadSiteFile(sitePath);

    let influxUrl = config.influx.url;
    if (influxUrl === null) {
      const binary = await ensureInfluxd({ install: true, logger });
      const influxd = new InfluxdProcess({ dataDir: join(dataDir, 'influxdb'), port: config.influx.localPort, binary, logger: logger.child({ part: 'influxd' }) });
      stack.push({ name: 'influxd', stop: () => influxd.stop() });
      influxUrl = (await influxd.start()).url;
    }
    const influx = new InfluxV1Client({
      url: influxUrl,
      db: config.influx.db,
      token: config.influx.token ?? undefined,
      username: config.influx.username ?? undefined,
      password: config.influx.password ?? undefined,
    });
    await ensureDatabase(influx, logger, config.influx.retentionDays);

    let server: { db: ServerDb; options: ServerOptions } | null = null;
    let policy: PolicyView & { refresh?: () => Promise<void> };
    if (mode === 'all') {
      // The server (same process): its database is the access policy's source, read again on every change.
      const s = await openServer(config, dataDir, logger);
      server = { db: s.db, options: { ...s.options, usage: { siteId: site.id, config: sessioniserConfig(site), influx, site } } };
      stack.push({ name: 'server-db', stop: () => s.db.destroy() });
      if (config.sim.enabled && config.sim.demoRoster) await seedDemoRoster(s.db, site, { seed: config.sim.seed, now: systemClock.now(), logger });
      const local = new LocalPolicy(s.db, systemClock, logger);
      await local.refresh();
      policy = local;
    } else {
      const { serverUrl, serverToken } = config.gateway;
      if (serverUrl === null || serverToken === null) throw new ConfigError('unreachable: checked above');
      const client = new PolicyClient({
        serverUrl,
        token: serverToken,
        path: join(dataDir, 'policy.json'),
        clock: systemClock,
        logger: logger.child({ part: 'policy' }),
        pollMs: config.gateway.policyPollS * 1000,
      });
      const remote = new RemotePolicy(client);
      await client.start();
      stack.push({ name: 'policy', stop: () => client.stop() });
      policy = remote;
    }

    const registry = new Registry();
    const verifier = new DeviceCredentialVerifier(site);
    const gateway = new Gateway(
      {
        mqtt: config.mqtt,
        externalBroker: externalBrokerSettings(config, site.id),
        journal: {
          path: join(dataDir, 'journal.db'),
          maxPending: config.journal.maxPending,
          maxRejects: config.journal.maxRejects,
          audit: { keyPath: join(dataDir, AUDIT_KEY_FILE), checkpointEveryMs: config.journal.checkpointEveryMs },
        },
        sink: config.influx,
        influx: { url: influxUrl, db: config.influx.db, token: config.influx.token, username: config.influx.username, password: config.influx.password },
        time: config.time,
        logLevel: config.log.level,
      },
      {
        site,
        verifyCredentials: (id, pw) => verifier.verify(id, pw),
        siteDir: dirname(sitePath),
        policy,
        clock: systemClock,
        logger,
        registry,
      },
    );
    stack.push({ name: 'gateway', stop: () => gateway.stop() });
    const { mqttPort } = await gateway.start();
    if (mode !== 'all') {
      // The journal's checkpoints and keys leave the gateway for the server (docs/audit.md); the server being away only delays them.
      const { serverUrl, serverToken } = config.gateway;
      if (serverUrl === null || serverToken === null) throw new ConfigError('unreachable: checked above');
      const shipper = new CheckpointShipper({ journalPath: join(dataDir, 'journal.db'), site: site.id, serverUrl, token: serverToken, clock: systemClock, logger: logger.child({ part: 'checkpoints' }) });
      const off = gateway.journal.onCheckpointSigned(() => shipper.notify());
      shipper.start();
      stack.push({ name: 'checkpoint-shipper', stop: () => { off(); return shipper.stop(); } });
    }

    const app: FastifyInstance = await buildApp({
      logger,
      ...(server && { server: server.options }),
      trustProxy: config.server.trustProxy,
      gateway: { health: () => gateway.health(), registry },
      live: gateway.live,
      site,
      onPolicyChange: () => void policy.refresh?.(),
    });
    stack.push({ name: 'http', stop: () => app.close() });
    const address = await app.listen({ host: config.http.host, port: config.http.port });
    const httpUrl = address.replace('0.0.0.0', 'localhost');

    if (config.sim.enabled) {
      // Simulated serial readers sit on pseudo-terminal pairs made by socat.
      if ([...site.devices.values()].some((d) => d.serial !== null)) await ensureCommand({ command: 'socat', pkg: 'socat', install: true, logger });
      const sim: SimHandle = await startSimulator({ site, secretsPath, siteDir: dirname(sitePath), brokerUrl: config.broker.url ?? `mqtt://127.0.0.1:${mqttPort}`, speed: config.sim.speed, seed: config.sim.seed, logger: logger.child({ part: 'sim' }) });
      stack.push({ name: 'sim', stop: () => sim.stop() });
    }

    return { site, gateway, mqttPort, httpUrl, influxUrl, sitePath, secretsPath, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** broker.* → the external broker client's settings (null in embedded mode); reads broker.passwordFile. */
export function externalBrokerSettings(config: FacilityConfig, siteId: string): ExternalBrokerSettings | null {
  const b = config.broker;
  if (b.mode !== 'external' || b.url === null) return null;
  let password = b.password;
  if (b.passwordFile !== null) {
    try {
      password = readFileSync(b.passwordFile, 'utf8').trim();
    } catch (e) {
      throw new ConfigError(`broker.passwordFile ${b.passwordFile}: ${(e as Error).message}`);
    }
  }
  // Stable across restarts (the broker keeps this member's unacknowledged messages under it), unique per host.
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40);
  return {
    url: b.url,
    username: b.username,
    password,
    clientId: b.clientId ?? `openfacility-${siteId}-${host}`.slice(0, 100),
    shareGroup: b.shareGroup,
    connections: b.connections,
    sessionExpiryS: b.sessionExpiryS,
    keepaliveS: b.keepaliveS,
    connectTimeoutMs: b.connectTimeoutMs,
    minBackoffMs: 500,
    maxBackoffMs: 30_000,
    leaveOnStop: b.leaveOnStop,
  };
}

async function ensureDatabase(influx: InfluxV1Client, logger: Logger, retentionDays: number | null): Promise<void> {
  try {
    await influx.createDatabase();
  } catch (err) {
    // InfluxDB 2.x/3.x map databases to buckets and may refuse CREATE DATABASE; writes then tell us more.
    logger.warn({ err: (err as Error).message, db: influx.db }, 'could not create the InfluxDB database (it may already exist or be mapped to a bucket)');
  }
  if (retentionDays === null) return;
  try {
    const r = await influx.setRetention(retentionDays);
    if (r.before !== r.after) logger.info({ db: influx.db, policy: r.policy, before: r.before, after: r.after }, 'InfluxDB retention set');
  } catch (err) {
    // 2.x/3.x keep retention on the bucket: set it there (docs/influxdb.md "Retention").
    logger.error({ err: (err as Error).message, db: influx.db, retentionDays }, 'could not set the InfluxDB retention policy; raw signals are kept as InfluxDB decides');
  }
}

/**
 * Usage for a server on its own: it needs the site file and the InfluxDB the
 * gateways write to (--site, --influx-url); without them the usage routes
 * answer 503 and say so.
 */
async function serverUsage(config: FacilityConfig, logger: Logger): Promise<UsageSource | undefined> {
  const { sitePath } = sitePaths(config);
  if (config.influx.url === null || !existsSync(sitePath)) {
    logger.info({ sitePath, influxUrl: config.influx.url }, 'usage routes off: they need the site file (--site) and the InfluxDB URL (--influx-url)');
    return undefined;
  }
  const site = await loadSiteFile(sitePath);
  const influx = new InfluxV1Client({
    url: config.influx.url,
    db: config.influx.db,
    token: config.influx.token ?? undefined,
    username: config.influx.username ?? undefined,
    password: config.influx.password ?? undefined,
  });
  return { siteId: site.id, config: sessioniserConfig(site), influx, site };
}

/** `facility server`: the server alone (API and pages), for a central server with remote gateways. */
export async function startServerOnly(config: FacilityConfig, logger: Logger): Promise<{ httpUrl: string; stop(): Promise<void> }> {
  const { dataDir } = sitePaths(config);
  mkdirSync(dataDir, { recursive: true });
  const server = await openServer(config, dataDir, logger);
  try {
    const usage = await serverUsage(config, logger);
    const app = await buildApp({ logger, server: { ...server.options, ...(usage && { usage }) }, trustProxy: config.server.trustProxy });
    const address = await app.listen({ host: config.http.host, port: config.http.port });
    return {
      httpUrl: address.replace('0.0.0.0', 'localhost'),
      stop: async () => {
        await app.close();
        await server.db.destroy();
      },
    };
  } catch (err) {
    await server.db.destroy();
    throw err;
  }
}

/**
 * The access policy for a gateway running in the server's own process: read
 * straight from the database (no HTTP, no token), again after every change.
 * Always current, so its age is 0.
 */
class LocalPolicy implements PolicyView {
  private index: PolicyIndex | null = null;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: ServerDb,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  refresh(): Promise<void> {
    // One read at a time, in order: the last change always wins.
    this.refreshing = this.refreshing.then(async () => {
      try {
        this.index = indexPolicy(await readPolicySnapshot(this.db, this.clock.now()));
      } catch (err) {
        this.logger.error({ err }, 'could not read the access policy from the server database');
      }
    });
    return this.refreshing;
  }

  current(): PolicyIndex | null {
    return this.index;
  }

  ageMs(): number | null {
    return this.index ? 0 : null;
  }
}

/** The access policy held by a gateway of a central server: the PolicyClient's snapshot, indexed once per version. */
class RemotePolicy implements PolicyView {
  private index: PolicyIndex | null = null;
  private version = -1;

  constructor(private readonly client: PolicyClient) {}

  current(): PolicyIndex | null {
    const c = this.client.current();
    if (!c) return null;
    if (c.version !== this.version || !this.index) {
      this.index = indexPolicy(c.snapshot);
      this.version = c.version;
    }
    return this.index;
  }

  ageMs(now: number): number | null {
    return this.client.ageMs(now);
  }
}
