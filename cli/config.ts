/**
 * The whole system's runtime configuration: one schema with defaults and
 * descriptions. Built from defaults ← optional config file ← command-line
 * flags, validated once with every error reported, then frozen and passed down.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const Port = (def: number, description: string) => Type.Integer({ minimum: 0, maximum: 65535, default: def, description });
const Pos = (def: number, description: string) => Type.Integer({ minimum: 1, default: def, description });

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './var', description: 'Journal, local InfluxDB data, generated site and secrets' }),
    siteFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Site file; default <dataDir>/site.yaml, written by `facility init` on first start' }),
    secretsFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Device secrets (for the simulator); default <dataDir>/device-secrets.json' }),
    log: Type.Object({ level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }) }, { default: {} }),
    mqtt: Type.Object(
      {
        host: Type.String({ default: '0.0.0.0', description: 'Address the embedded broker listens on' }),
        port: Port(1883, 'MQTT port'),
        maxPacketSize: Pos(65536, 'Largest MQTT packet accepted, bytes'),
        connectTimeoutMs: Pos(10_000, 'CONNECT must arrive within this time'),
        drainTimeoutMs: Pos(10_000, 'A subscriber that does not drain within this time is dropped'),
        keepaliveLimitS: Pos(1200, 'Largest keepalive a client may ask for, s'),
        connectRatePerSec: Pos(200, 'New connections per second (burst 2 s worth)'),
        devicePublishRatePerSec: Pos(100, 'Messages per second a device may publish'),
        devicePublishBurst: Pos(2000, 'Burst a device may publish above its rate (e.g. a backlog after reconnecting)'),
        authFailuresPerMinute: Pos(20, 'Failed logins per address per minute before its connections are dropped'),
      },
      { default: {}, additionalProperties: false },
    ),
    broker: Type.Object(
      {
        mode: Type.Union([Type.Literal('embedded'), Type.Literal('external')], {
          default: 'embedded',
          description: 'embedded: the gateway is the MQTT broker (mqtt.*); external: it consumes an existing broker with MQTT 5 shared subscriptions (docs/deployment.md)',
        }),
        url: Type.Union([Type.String({ pattern: '^mqtts?://[^\\s/]+(:[0-9]+)?/?$' }), Type.Null()], { default: null, description: 'The external broker, e.g. mqtt://broker:1883 (mode external)' }),
        username: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'The gateway’s user on the external broker (`facility mosquitto-config` names it "openfacility-gateway")' }),
        password: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Better from FACILITY_BROKER_PASSWORD or passwordFile' }),
        passwordFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'A file holding the password (e.g. gateway-password, written by `facility mosquitto-config`)' }),
        shareGroup: Type.String({ pattern: '^[^/+#\\s]{1,64}$', default: 'openfacility', description: 'Shared-subscription group: gateway instances in one group split the messages' }),
        clientId: Type.Union([Type.String({ pattern: '^[A-Za-z0-9_.-]{1,100}$' }), Type.Null()], {
          default: null,
          description: 'Base client id, unique per gateway instance and the same across its restarts (the broker keeps its unacknowledged messages under it); default openfacility-<site>-<hostname>',
        }),
        connections: Type.Integer({ minimum: 1, maximum: 64, default: 4, description: 'Members of the share group per gateway (connection n has client id <clientId>-<n>)' }),
        sessionExpiryS: Type.Integer({ minimum: 60, maximum: 4_294_967_295, default: 7 * 24 * 3600, description: 'How long the broker keeps a gone member’s session and queued messages, s' }),
        leaveOnStop: Type.Boolean({
          default: false,
          description: 'On an orderly stop, leave the share group for good (for an instance being removed); otherwise the broker keeps queueing its share until it is back',
        }),
        keepaliveS: Pos(30, 'MQTT keepalive, s'),
        connectTimeoutMs: Pos(10_000, 'CONNACK must arrive within this time'),
      },
      { default: {}, additionalProperties: false },
    ),
    http: Type.Object(
      { host: Type.String({ default: '0.0.0.0' }), port: Port(8080, 'HTTP port: /healthz, /metrics, API and pages') },
      { default: {}, additionalProperties: false },
    ),
    server: Type.Object(
      {
        dbFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Server database (SQLite); default <dataDir>/server.db' }),
        sessionTtlHours: Type.Number({ exclusiveMinimum: 0, maximum: 24 * 90, default: 12, description: 'A login session ends after this long without use' }),
        loginPerIpPerMinute: Pos(10, 'Login attempts per address per minute'),
        loginFailuresPerAccount: Pos(10, 'Failed logins an account may have before it must wait'),
        loginRefillMinutes: Pos(15, 'One more attempt per this many minutes once an account has used its failures'),
        requestsPerMinute: Pos(1200, 'API requests per address per minute'),
        trustProxy: Type.Boolean({ default: false, description: 'Behind a TLS-terminating reverse proxy: trust X-Forwarded-* (session cookies then get Secure)' }),
      },
      { default: {}, additionalProperties: false },
    ),
    gateway: Type.Object(
      {
        serverUrl: Type.Union([Type.String({ pattern: '^https?://' }), Type.Null()], {
          default: null,
          description: 'A central server to take the access policy from (`facility gateway`); null: the server runs in this process',
        }),
        serverToken: Type.Union([Type.String(), Type.Null()], { default: null, description: 'The gateway token for that server; better from FACILITY_GATEWAY_TOKEN' }),
        policyPollS: Pos(60, 'Ask the server for a newer policy this often, besides listening for changes'),
      },
      { default: {}, additionalProperties: false },
    ),
    influx: Type.Object(
      {
        url: Type.Union([Type.String({ pattern: '^https?://' }), Type.Null()], { default: null, description: 'External InfluxDB (1.x, or 2.x/3.x via v1 API); null runs a local influxd' }),
        db: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'openfacility', description: 'Database (2.x/3.x: the DBRP-mapped name)' }),
        token: Type.Union([Type.String(), Type.Null()], { default: null, description: 'Token (2.x/3.x); better from FACILITY_INFLUX_TOKEN' }),
        username: Type.Union([Type.String(), Type.Null()], { default: null }),
        password: Type.Union([Type.String(), Type.Null()], { default: null, description: 'Better from FACILITY_INFLUX_PASSWORD' }),
        localPort: Port(8086, 'Port of the local influxd (127.0.0.1 only)'),
        batchSize: Pos(5000, 'Points per write'),
        lingerMs: Type.Integer({ minimum: 0, default: 100, description: 'Wait this long for a batch to fill' }),
        minBackoffMs: Pos(250, 'First retry delay while InfluxDB is down'),
        maxBackoffMs: Pos(15_000, 'Longest retry delay'),
        alarmAfterMs: Pos(60_000, 'Raise the sink_down alarm after failing this long'),
        retentionDays: Type.Union([Type.Null(), Type.Integer({ minimum: 0, maximum: 36_500 })], {
          default: null,
          description:
            'How long InfluxDB keeps raw signals, in days, set on the database at start (docs/influxdb.md "Retention"); 0: forever; null: leave InfluxDB as it is (a new database keeps forever). Keep it longer than any period an auditor may ask to reproduce',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    journal: Type.Object(
      {
        maxPending: Pos(5_000_000, 'Unsent records kept while InfluxDB is away; beyond it telemetry is shed'),
        maxRejects: Pos(100_000, 'Rejected payloads kept for inspection'),
        checkpointEveryMs: Type.Integer({
          minimum: 1000,
          maximum: 7 * 24 * 3600_000,
          default: 3600_000,
          description: 'Sign a checkpoint of the journal (its Merkle tree head) this often when anything was appended (docs/audit.md); 1 s to 7 days',
        }),
        archiveAfterDays: Type.Union([Type.Null(), Type.Integer({ minimum: 1, maximum: 36_500 })], {
          default: null,
          description:
            '`facility audit archive` without --before moves journal rows received more than this many days ago to an archive file (docs/audit.md "Retention"); it must exceed time.maxPastMs; null: rows stay in the journal',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    time: Type.Object(
      {
        maxPastMs: Pos(30 * 24 * 3600_000, 'Oldest device time accepted (a reconnecting device’s backlog)'),
        maxFutureMs: Pos(5 * 60_000, 'Device clocks ahead by more than this are replaced by receive time'),
      },
      { default: {}, additionalProperties: false },
    ),
    sim: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Run simulated devices (firmware-sim) with the system' }),
        speed: Type.Number({ exclusiveMinimum: 0, maximum: 100_000, default: 1, description: 'Simulated time per real time' }),
        seed: Type.Integer({ default: 1 }),
        demoRoster: Type.Boolean({ default: true, description: 'With the simulator: enter its population as members when the server database has no members and no plans (cli/demo-roster.ts)' }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type FacilityConfig = Static<typeof ConfigSchema>;

export class ConfigError extends Error {}

/** Applies defaults and validates; throws a ConfigError listing every problem. */
export function buildConfig(input: unknown): FacilityConfig {
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(input ?? {}));
  const errors = [...Value.Errors(ConfigSchema, withDefaults)];
  const lines = errors.map((e) => `  ${e.path || '/'}: ${FRIENDLY[e.path] ?? e.message}`);
  if (errors.length === 0) lines.push(...crossChecks(withDefaults as FacilityConfig));
  if (lines.length > 0) {
    throw new ConfigError(`invalid configuration:\n${[...new Set(lines)].join('\n')}`);
  }
  return deepFreeze(withDefaults as FacilityConfig);
}

/** Clearer words than the schema's for fields whose errors are otherwise "Expected union value". */
const FRIENDLY: Readonly<Record<string, string>> = {
  '/broker/url': 'must be mqtt://host[:port] or mqtts://host[:port], or null',
  '/broker/clientId': 'must be 1–100 letters, digits, ".", "_" or "-", or null',
};

/** Rules between fields, reported like schema errors. */
function crossChecks(c: FacilityConfig): string[] {
  const out: string[] = [];
  const b = c.broker;
  if (b.mode === 'external' && b.url === null) out.push('  /broker/url: required when broker.mode is external (e.g. mqtt://broker:1883)');
  if (b.mode === 'embedded' && b.url !== null) out.push('  /broker/url: set, but broker.mode is embedded: set broker.mode: external to use that broker');
  if (b.mode === 'external' && b.password !== null && b.passwordFile !== null) out.push('  /broker/password: give either password (or FACILITY_BROKER_PASSWORD) or passwordFile, not both');
  if (b.mode === 'external' && (b.password !== null || b.passwordFile !== null) && b.username === null) out.push('  /broker/username: required with a password');
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
