#!/usr/bin/env node
/**
 * The `facility` command. Parses flags, builds the configuration, starts parts.
 * Nothing else lives here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino, type Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { fetchServerRecord, rotateAuditKey, runAuditVerify, type ServerRecord } from './audit.js';
import { archiveJournal } from '../gateway/journal/archive.js';
import { SINK_CURSOR } from '../gateway/journal/journal.js';
import { runVerifyEvidence } from './audit-evidence.js';
import { checkCosigned, witnessOnce } from './audit-witness.js';
import { crossCheck } from '../gateway/influx/crosscheck.js';
import { InfluxV1Client } from '../gateway/influx/client.js';
import { buildConfig, ConfigError, type FacilityConfig } from './config.js';
import { initSite, loadSiteFile } from './init.js';
import { GATEWAY_BROKER_USER, writeMosquittoConfig } from './mosquitto.js';
import { runSimCommand } from './sim.js';
import { sitePaths, startServerOnly, startSystem } from './system.js';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
  return n;
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

interface CommonFlags {
  config?: string;
  dataDir?: string;
  site?: string;
  secrets?: string;
  logLevel?: string;
}

/** defaults ← config file ← flags. */
function configFrom(flags: CommonFlags, overrides: Record<string, unknown>): FacilityConfig {
  let fromFile: Record<string, unknown> = {};
  if (flags.config) {
    let text: string;
    try {
      text = readFileSync(flags.config, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${flags.config}: ${(e as Error).message}`);
    }
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && typeof parsed !== 'object') throw new ConfigError(`${flags.config}: expected a YAML mapping`);
    fromFile = (parsed ?? {}) as Record<string, unknown>;
  }
  const merged = mergeDeep(fromFile, {
    ...(flags.dataDir !== undefined && { dataDir: flags.dataDir }),
    ...(flags.site !== undefined && { siteFile: flags.site }),
    ...(flags.secrets !== undefined && { secretsFile: flags.secrets }),
    ...(flags.logLevel !== undefined && { log: { level: flags.logLevel } }),
    ...overrides,
  });
  return buildConfig(merged);
}

function mergeDeep(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const prev = out[k];
    out[k] = prev && typeof prev === 'object' && v && typeof v === 'object' && !Array.isArray(v) ? mergeDeep(prev as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

function makeLogger(level: string): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}

const program = new Command();
program.name('facility').description('OpenFacility: access, occupancy and equipment telemetry for maker spaces').showHelpAfterError();

const common = (cmd: Command) =>
  cmd
    .option('--config <file>', 'YAML configuration file (see README, "Configuration")')
    .option('--data-dir <dir>', 'data directory (journal, local InfluxDB, generated site)', undefined)
    .option('--site <file>', 'site file (default <data-dir>/site.yaml)')
    .option('--secrets <file>', 'device secrets file (default <data-dir>/device-secrets.json)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']));

common(program.command('init'))
  .description('write an example maker-space site file and its device secrets')
  .option('--site-id <id>', 'site id', 'demo-makerspace')
  .option('--desks <n>', 'hot desks on the co-working floor (default 36), e.g. 500 for a load test', int('--desks'))
  .option('--machines <n>', 'machines (default 10), e.g. 40 for a load test', int('--machines'))
  .option('--force', 'overwrite existing files')
  .action(async (flags: CommonFlags & { siteId: string; force?: boolean; desks?: number; machines?: number }) => {
    const config = configFrom(flags, {});
    const { sitePath, secretsPath } = sitePaths(config);
    const r = await initSite({
      sitePath,
      secretsPath,
      siteId: flags.siteId,
      force: flags.force ?? false,
      ...(flags.desks !== undefined && { hotDesks: flags.desks }),
      ...(flags.machines !== undefined && { machines: flags.machines }),
    });
    console.log(`Wrote ${r.sitePath} (${r.deviceCount} devices) and ${r.secretsPath} (device secrets, keep private).`);
    console.log('Edit the site file to describe your space, then run: npm start');
  });

interface RunFlags extends CommonFlags {
  mqttPort?: number;
  httpPort?: number;
  influxUrl?: string;
  influxDb?: string;
  influxPort?: number;
  sim: boolean;
  simSpeed?: number;
  serverUrl?: string;
}

const runOptions = (cmd: Command) =>
  cmd
    .option('--mqtt-port <port>', 'MQTT port', int('--mqtt-port'))
    .option('--http-port <port>', 'HTTP port', int('--http-port'))
    .option('--influx-url <url>', 'use this InfluxDB (1.x, or 2.x/3.x v1 API) instead of running a local influxd')
    .option('--influx-db <name>', 'InfluxDB database')
    .option('--influx-port <port>', 'port of the local influxd', int('--influx-port'))
    .option('--no-sim', 'do not run simulated devices')
    .option('--sim-speed <n>', 'simulated time per real time', num('--sim-speed'));

/** `facility start` and `facility gateway`: run until a signal, then stop in order. */
async function runSystem(flags: RunFlags, mode: 'all' | 'gateway'): Promise<void> {
  const config = configFrom(flags, {
    mqtt: { port: flags.mqttPort },
    http: { port: flags.httpPort },
    influx: {
      url: flags.influxUrl,
      db: flags.influxDb,
      localPort: flags.influxPort,
      token: process.env.FACILITY_INFLUX_TOKEN,
      password: process.env.FACILITY_INFLUX_PASSWORD,
    },
    sim: { ...(flags.sim === false && { enabled: false }), speed: flags.simSpeed },
    broker: { password: process.env.FACILITY_BROKER_PASSWORD },
    ...(mode === 'gateway' && { gateway: { serverUrl: flags.serverUrl, serverToken: process.env.FACILITY_GATEWAY_TOKEN } }),
  });
  const logger = makeLogger(config.log.level);
  const s = await startSystem(config, logger, mode);
  console.log(
    [
      '',
      mode === 'all'
        ? `OpenFacility is running for site "${s.site.id}" (${s.site.devices.size} devices).`
        : `OpenFacility gateway is running for site "${s.site.id}" (${s.site.devices.size} devices), policy from ${config.gateway.serverUrl ?? ''}.`,
      `  Health     ${s.httpUrl}/healthz`,
      `  Metrics    ${s.httpUrl}/metrics`,
      ...(mode === 'all' ? [`  API        ${s.httpUrl}/api/v1  (docs ${s.httpUrl}/docs)`] : []),
      config.broker.mode === 'external'
        ? `  MQTT       ${config.broker.url ?? ''}  (external broker, shared group "${config.broker.shareGroup}"; docs/deployment.md)`
        : `  MQTT       mqtt://localhost:${s.mqttPort}  (topics fac/v1/${s.site.id}/…, docs/protocol.md)`,
      `  InfluxDB   ${s.influxUrl}  database "${config.influx.db}"`,
      `  Site file  ${s.sitePath}`,
      `  Data       ${sitePaths(config).dataDir}`,
      config.sim.enabled ? `  Simulator  on (speed ×${config.sim.speed}); --no-sim to turn it off` : '  Simulator  off',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      logger.warn('second signal: exiting now (acknowledged signals are already on disk)');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    s.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

runOptions(common(program.command('start')))
  .description('run the whole system: broker, journal, InfluxDB sink, access decisions, server (API), simulated devices')
  .action((flags: RunFlags) => runSystem(flags, 'all'));

runOptions(common(program.command('gateway')))
  .description('run a gateway alone, taking its access policy from a central server (token in FACILITY_GATEWAY_TOKEN); it keeps deciding from its saved policy while the server is away')
  .option('--server-url <url>', 'central server, e.g. http://server:8080 (or gateway.serverUrl in the config file)')
  .action((flags: RunFlags) => runSystem(flags, 'gateway'));

common(program.command('server'))
  .description('run the server alone (API, accounts, reference data), for remote gateways')
  .option('--http-port <port>', 'HTTP port', int('--http-port'))
  .option('--influx-url <url>', 'the InfluxDB the gateways write to (for usage; with --site)')
  .option('--influx-db <name>', 'InfluxDB database')
  .action(async (flags: CommonFlags & { httpPort?: number; influxUrl?: string; influxDb?: string }) => {
    const config = configFrom(flags, {
      http: { port: flags.httpPort },
      influx: { url: flags.influxUrl, db: flags.influxDb, token: process.env.FACILITY_INFLUX_TOKEN, password: process.env.FACILITY_INFLUX_PASSWORD },
    });
    const logger = makeLogger(config.log.level);
    const s = await startServerOnly(config, logger);
    console.log(`OpenFacility server at ${s.httpUrl} (API docs: ${s.httpUrl}/docs). Press Ctrl-C to stop.`);
    const shutdown = () => void s.stop().then(() => process.exit(0));
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });

common(program.command('sim'))
  .description('simulate the site’s devices against a broker')
  .option('--broker <url>', 'MQTT broker URL', 'mqtt://127.0.0.1:1883')
  .option('--speed <n>', 'simulated time per real time', num('--speed'), 1)
  .option('--seed <n>', 'random seed', int('--seed'), 1)
  .option('--members <n>', 'members in the simulated population (default 120)', int('--members'))
  .option('--intensity <x>', 'multiplies machine jobs, meetings and visitors (default 1)', num('--intensity'))
  .option('--duration <s>', 'stop after this many real seconds', num('--duration'))
  .action(async (flags: CommonFlags & { broker: string; speed: number; seed: number; members?: number; intensity?: number; duration?: number }) => {
    const config = configFrom(flags, {});
    const { sitePath, secretsPath } = sitePaths(config);
    await runSimCommand({
      sitePath,
      secretsPath,
      brokerUrl: flags.broker,
      speed: flags.speed,
      seed: flags.seed,
      durationS: flags.duration,
      ...(flags.members !== undefined && { members: flags.members }),
      ...(flags.intensity !== undefined && { intensity: flags.intensity }),
      logger: makeLogger(config.log.level),
    });
  });

const siteCmd = program.command('site').description('site file tools');
siteCmd
  .command('check <file>')
  .description('validate a site file and report every problem with its line')
  .action(async (file: string) => {
    const site = await loadSiteFile(file);
    console.log(`${file}: OK — site "${site.id}", ${site.spaces.size} spaces, ${site.desks.size} desks, ${site.equipment.size} machines, ${site.devices.size} devices`);
  });

common(program.command('mosquitto-config'))
  .description('write a Mosquitto 2.0 password file, ACL file and mosquitto.conf snippet from the site file, for broker.mode external (docs/deployment.md)')
  .requiredOption('--out <dir>', 'directory for passwd, acl, mosquitto.conf (and gateway-password, when the gateway has none configured)')
  .option('--port <port>', 'the listener in mosquitto.conf', int('--port'), 1883)
  .option('--bind <address>', 'address the listener binds to (default all)')
  .option('--gateway-user <name>', `the gateway's user name (default broker.username, else ${GATEWAY_BROKER_USER})`)
  .option('--persistence-dir <dir>', 'Mosquitto persistence_location (default /var/lib/mosquitto/)')
  .action(async (flags: CommonFlags & { out: string; port: number; bind?: string; gatewayUser?: string; persistenceDir?: string }) => {
    const config = configFrom(flags, { broker: { password: process.env.FACILITY_BROKER_PASSWORD } });
    const { sitePath, secretsPath } = sitePaths(config);
    const site = await loadSiteFile(sitePath);
    const b = config.broker;
    const r = await writeMosquittoConfig({
      site,
      sitePath,
      secretsPath,
      outDir: flags.out,
      port: flags.port,
      ...(flags.bind !== undefined && { bindAddress: flags.bind }),
      ...(flags.persistenceDir !== undefined && { persistenceLocation: flags.persistenceDir }),
      gatewayUser: flags.gatewayUser ?? b.username ?? GATEWAY_BROKER_USER,
      gatewayPassword: b.passwordFile !== null ? readFileSync(b.passwordFile, 'utf8').trim() : b.password,
      shareGroup: b.shareGroup,
      env: process.env,
    });
    for (const p of r.problems) console.error(`warning: ${p}`);
    console.log(`Wrote ${r.files.passwordFile}, ${r.files.aclFile} and ${r.files.conf} (${r.users} users, site "${site.id}").`);
    if (r.files.gatewayPassword) console.log(`The gateway's password is in ${r.files.gatewayPassword}: set broker.passwordFile to it.`);
    if (r.problems.length > 0) process.exitCode = 1;
  });

const auditCmd = program.command('audit').description('the tamper-evident journal (docs/audit.md)');
common(auditCmd.command('verify'))
  .description('check the journal: every entry against its Merkle leaf, the tree, every checkpoint signature and root, consistency between checkpoints; names the first entry that breaks (exit 0 ok, 1 broken)')
  .option('--journal <path>', 'a journal file (default <data-dir>/journal.db)')
  .option('--trust-key <id...>', 'accept checkpoints only from these key ids (e.g. as the server recorded them)')
  .option('--archive <file...>', 'archives of rows moved out of the journal (facility audit archive); read before the live rows')
  .option('--server <url>', "check against what the server keeps for this gateway: its keys become the trusted keys, its checkpoints are checked too (token in FACILITY_AUDIT_TOKEN, or the gateway's own FACILITY_GATEWAY_TOKEN)")
  .option('--gateway <id>', 'the gateway id at the server (default: me, with the gateway token)', 'me')
  .action(async (flags: CommonFlags & { journal?: string; trustKey?: string[]; archive?: string[]; server?: string; gateway: string }) => {
    const path = flags.journal ?? join(sitePaths(configFrom(flags, {})).dataDir, 'journal.db');
    let fromServer: ServerRecord | undefined;
    if (flags.server !== undefined) {
      const token = process.env.FACILITY_AUDIT_TOKEN ?? process.env.FACILITY_GATEWAY_TOKEN;
      if (token === undefined) throw new ConfigError('--server needs a token: FACILITY_AUDIT_TOKEN (staff) or FACILITY_GATEWAY_TOKEN (the gateway itself)');
      fromServer = await fetchServerRecord(flags.server, token, flags.gateway);
    }
    const tty = process.stderr.isTTY;
    let lastLine = 0;
    const code = runAuditVerify(
      path,
      {
        out: (line) => {
          if (tty && lastLine > 0) process.stderr.write('\r\x1b[K');
          lastLine = 0;
          console.log(line);
        },
        progress: (done, total) => {
          // On a terminal, one line rewritten in place; in a log, a line every ~million entries.
          const line = `  ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} entries`;
          if (tty) {
            process.stderr.write(`\r${line}`);
            lastLine = 1;
          } else if (done % 1_048_576 === 0) {
            process.stderr.write(`${line}\n`);
          }
        },
      },
      flags.trustKey && new Set(flags.trustKey),
      flags.archive ?? [],
      fromServer,
    );
    process.exitCode = code;
  });
common(auditCmd.command('rotate-key'))
  .description('replace the gateway’s checkpoint-signing key: the old one is retired (its checkpoints keep verifying), the new one announced in the journal and used from now on')
  .action(async (flags: CommonFlags) => {
    const config = configFrom(flags, {});
    const { dataDir, sitePath } = sitePaths(config);
    const site = await loadSiteFile(sitePath);
    const r = await rotateAuditKey({ dataDir, siteId: site.id, logger: makeLogger(config.log.level), now: () => Date.now() });
    console.log(`Audit key ${r.current} now signs the journal's checkpoints${r.retired ? `; ${r.retired} is retired (its checkpoints keep verifying)` : ''}. First checkpoint: size ${r.checkpoint.checkpoint.size}.`);
  });

common(auditCmd.command('archive'))
  .description('move journal rows received before a cutoff (checkpointed, already in InfluxDB, older than time.maxPastMs) to an archive file; the tree, checkpoints and keys stay; verify then with --archive')
  .option('--before <time>', 'cutoff, ISO 8601: rows received before it move (default: journal.archiveAfterDays ago)')
  .requiredOption('--out <file>', 'the archive to write (must not exist)')
  .option('--journal <path>', 'a journal file (default <data-dir>/journal.db)')
  .action((flags: CommonFlags & { before?: string; out: string; journal?: string }) => {
    const config = configFrom(flags, {});
    const days = config.journal.archiveAfterDays;
    if (flags.before === undefined && days === null) throw new ConfigError('say --before <time>, or set journal.archiveAfterDays');
    const beforeAt = flags.before !== undefined ? Date.parse(flags.before) : Date.now() - days! * 86_400_000;
    if (!Number.isFinite(beforeAt)) throw new ConfigError(`--before "${flags.before}" is not an ISO 8601 time`);
    const r = archiveJournal({
      journalPath: flags.journal ?? join(sitePaths(config).dataDir, 'journal.db'),
      outPath: flags.out,
      beforeAt,
      now: Date.now(),
      minAgeMs: config.time.maxPastMs,
      sinkCursor: SINK_CURSOR,
    });
    if (r.rows === 0) console.log(`Nothing to archive before ${new Date(beforeAt).toISOString()} (held back by: ${r.limitedBy}).`);
    else console.log(`Archived entries ${r.fromSeq}–${r.toSeq} (${r.rows.toLocaleString('en-US')} rows, bodies sha256 ${r.digest}) to ${flags.out}${r.limitedBy === 'cutoff' ? '' : `; rows after ${r.toSeq} are held back by: ${r.limitedBy}`}. Keep the file: verify with --archive ${flags.out}.`);
  });

auditCmd
  .command('verify-evidence <file>')
  .description("check an auditor's evidence bundle (GET /api/v1/statements/YYYY-MM/evidence) with nothing but this tool: the server's log against its signed checkpoint, then the month priced again from the raw records, to the cent and line by line (exit 0 ok, 1 not)")
  .option('--trust-key <id...>', "the server key ids you trust (GET /api/v1/audit/keys, or the operator's published key)")
  .action((file: string, flags: { trustKey?: string[] }) => {
    process.exitCode = runVerifyEvidence(file, flags.trustKey ?? [], (line) => console.log(line));
  });

common(auditCmd.command('cross-check'))
  .description("compare InfluxDB with the journal hour by hour (counts and content hashes): a point changed, deleted or forged directly in InfluxDB is named by its record key (exit 0 same, 1 not)")
  .requiredOption('--from <time>', 'start, ISO 8601 (e.g. 2026-11-01T00:00:00+08:00)')
  .requiredOption('--to <time>', 'end (exclusive), ISO 8601')
  .option('--journal <path>', 'a journal file (default <data-dir>/journal.db)')
  .option('--influx-url <url>', 'InfluxDB (default: the configured one, else the local influxd on its port)')
  .action(async (flags: CommonFlags & { from: string; to: string; journal?: string; influxUrl?: string }) => {
    const config = configFrom(flags, {});
    const { dataDir, sitePath } = sitePaths(config);
    const from = Date.parse(flags.from);
    const to = Date.parse(flags.to);
    if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) throw new Error('--from and --to must be ISO 8601 times, --to after --from');
    const site = await loadSiteFile(sitePath);
    const url = flags.influxUrl ?? config.influx.url ?? `http://127.0.0.1:${config.influx.localPort}`;
    const influx = new InfluxV1Client({ url, db: config.influx.db, token: config.influx.token ?? undefined, username: config.influx.username ?? undefined, password: config.influx.password ?? undefined });
    const r = await crossCheck({ journalPath: flags.journal ?? join(dataDir, 'journal.db'), influx, site: site.id, from, to, onHour: (done, total) => process.stderr.isTTY && process.stderr.write(`\r  ${done} of ${total} hours`) });
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    for (const h of r.hours) {
      const at = new Date(h.hour).toISOString().slice(0, 16);
      console.log(`${at}  journal ${h.journal.count}  InfluxDB ${h.influx.count}  ${h.same ? 'same' : 'DIFFERENT'}`);
      if (!h.same) {
        for (const k of h.missingOrChanged) console.log(`    missing or changed in InfluxDB: ${k}`);
        for (const k of h.extra) console.log(`    in InfluxDB, not in the journal: ${k}`);
      }
    }
    if (r.unsent > 0) console.log(`(${r.unsent} journal records of the span are not written to InfluxDB yet and were left out)`);
    console.log(r.ok ? 'OK: InfluxDB holds exactly what the journal has' : 'BROKEN: InfluxDB differs from the journal (above)');
    process.exitCode = r.ok ? 0 : 1;
  });

auditCmd
  .command('witness')
  .description("cosign the server's newest checkpoint with your witness key, if its log only grew since the last one you cosigned (refuses split views, rollbacks and forks; exit 1 then)")
  .requiredOption('--server <url>', 'the server API, e.g. http://host:8080/api/v1')
  .option('--token <token>', 'an API token allowed to attach cosignatures (administrator or manager); default FACILITY_TOKEN')
  .requiredOption('--key <pem>', "the witness's Ed25519 private key (PKCS#8 PEM), which the operator does not hold")
  .requiredOption('--state <file>', 'where the witness remembers what it cosigned')
  .action(async (flags: { server: string; token?: string; key: string; state: string }) => {
    const r = await witnessOnce({ api: flags.server.replace(/\/$/, ''), token: flags.token ?? process.env.FACILITY_TOKEN ?? '' }, { keyPath: flags.key, statePath: flags.state, now: Date.now() });
    console.log(r.ok ? `cosigned the checkpoint of size ${r.cosigned}` : `REFUSED (${r.reason}): ${r.detail}`);
    process.exitCode = r.ok ? 0 : 1;
  });
auditCmd
  .command('check-cosigned')
  .description("alarm (exit 1) unless the server's newest checkpoint carries a valid cosignature of the witness key")
  .requiredOption('--server <url>', 'the server API, e.g. http://host:8080/api/v1')
  .option('--token <token>', 'an API token (an auditor is enough); default FACILITY_TOKEN')
  .requiredOption('--witness-key <key>', "the witness's public key: raw Ed25519 in base64, or a PEM file")
  .action(async (flags: { server: string; token?: string; witnessKey: string }) => {
    const r = await checkCosigned({ api: flags.server.replace(/\/$/, ''), token: flags.token ?? process.env.FACILITY_TOKEN ?? '' }, flags.witnessKey);
    console.log(r.detail);
    process.exitCode = r.ok ? 0 : 1;
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error;
  console.error(e instanceof ConfigError ? e.message : `facility: ${e.message}`);
  process.exit(1);
});
