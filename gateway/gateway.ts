/**
 * The gateway's composition root: broker + ingress → journal (whose writer
 * thread also runs the InfluxDB sink).
 * Parts are built here, started in dependency order and stopped in reverse:
 * the broker stops taking messages first, then the sink finishes its write,
 * then the journal closes. Nothing acknowledged is lost: acks only ever follow
 * a durable commit.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { gatewayReplyBase } from '../core/protocol/topics.js';
import { controllerHeartbeatS } from '../core/protocol/commands.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import { isSignal, type BadgeSignal, type HealthSignal, type JournalRecord, type Signal } from '../core/signals.js';
import type { DeviceInfo, Site } from '../core/site/model.js';
import { connect as mqttConnect } from 'mqtt';
import { MqttBroker, type BrokerLimits } from './broker/broker.js';
import { ExternalBroker, type ExternalBrokerSettings } from './broker/external-broker.js';
import type { BrokerHealth, GatewayBroker } from './broker/types.js';
import { ENCODERS, type DeviceCommand } from './encoders/index.js';
import { policyMaxAgeMs } from '../core/access/decide.js';
import { AccessRunner, type AccessSnapshot, type PolicyView } from './access/runner.js';
import { DeviceWatch } from './device-watch.js';
import { InfluxV1Client } from './influx/client.js';
import { LiveView } from './live/live-view.js';
import { SeriesWriter } from './live/series-writer.js';
import { SignalIngress } from './ingress/signal-ingress.js';
import { SerialReaders, type SerialReaderStatus } from './serial/readers.js';
import { Journal, type CheckpointSummary, type JournalStats } from './journal/journal.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import type { SinkStats } from './sink/influx-sink.js';

export interface GatewayConfig {
  readonly mqtt: BrokerLimits & { readonly host: string; readonly port: number };
  /** An external broker to consume with shared subscriptions instead of running the embedded one (docs/deployment.md); absent or null: embedded. */
  readonly externalBroker?: ExternalBrokerSettings | null;
  readonly journal: {
    readonly path: string;
    readonly maxPending: number;
    readonly maxRejects: number;
    /** Signed checkpoints of the journal (docs/audit.md); absent: none. */
    readonly audit?: { readonly keyPath: string; readonly checkpointEveryMs: number };
  };
  readonly sink: { readonly batchSize: number; readonly lingerMs: number; readonly minBackoffMs: number; readonly maxBackoffMs: number; readonly alarmAfterMs: number };
  /** Where the sink writes (InfluxDB v1 API: 1.x, or 2.x/3.x compatibility). */
  readonly influx: { readonly url: string; readonly db: string; readonly token: string | null; readonly username: string | null; readonly password: string | null };
  readonly logLevel: string;
  readonly time: { readonly maxPastMs: number; readonly maxFutureMs: number };
}

export interface GatewayDeps {
  readonly site: Site;
  readonly verifyCredentials: (deviceId: string, password: Buffer | undefined) => boolean;
  /** The site file's directory: relative serial paths are relative to it. */
  readonly siteDir: string;
  /** The access policy the gateway decides from (local server, or a PolicyClient); none: every swipe is refused. */
  readonly policy?: PolicyView;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry?: Registry;
}

export interface GatewayHealth {
  readonly status: 'ok' | 'degraded';
  readonly site: string;
  readonly broker: BrokerHealth;
  readonly journal: JournalStats;
  readonly sink: SinkStats;
  readonly serial: readonly SerialReaderStatus[];
  readonly access: {
    readonly policyVersion: number | null;
    /** How old the policy snapshot is (since the server last confirmed it), s; null without one. */
    readonly policyAgeS: number | null;
    readonly decisions: number;
    readonly granted: number;
    readonly refused: number;
    readonly duplicates: number;
    /** Swipes that arrived too late to act on (a reader's backlog). */
    readonly late: number;
    readonly sessions: number;
    readonly present: number;
    /** Each machine's hour meter (running hours over its life). */
    readonly hourMeters: Readonly<Record<string, number>>;
  };
  /**
   * How long starting took: `gatewayMs` from Gateway.start to accepting connections (journal opened, access
   * state and live view rebuilt, broker listening); `processMs` from the process's start to then (module
   * loading included).
   */
  readonly startup: { readonly gatewayMs: number; readonly processMs: number };
  readonly live: {
    /** Records the live view has taken since the start (its replay included). */
    readonly records: number;
    /** Records that came later than the allowed lateness: not in the live view (billing still counts them). */
    readonly late: number;
    /** Records waiting for the sessioniser's watermark. */
    readonly waiting: number;
    readonly retainedTopics: number;
    /** How long deriving the state held the event loop, ms: the last time, and the longest since the start. */
    readonly tickMs: number;
    readonly maxTickMs: number;
  };
  /** The tamper-evident journal: the newest signed checkpoint (null before the first, or without a key). */
  readonly audit: { readonly lastCheckpoint: CheckpointSummary | null };
  readonly problems: readonly string[];
}

export class Gateway {
  readonly metrics: GatewayMetrics;
  readonly journal: Journal;
  /** The embedded broker, or the client of an external one. */
  readonly broker: GatewayBroker;
  readonly watch: DeviceWatch;
  readonly serial: SerialReaders;
  readonly access: AccessRunner;
  /** Live state: sessions open now, devices online; retained on MQTT, streamed by the server. */
  readonly live: LiveView;
  private readonly ingress: SignalIngress;
  private started = false;
  private requestId = 0;

  constructor(
    private readonly config: GatewayConfig,
    private readonly deps: GatewayDeps,
  ) {
    const { site, clock, logger } = deps;
    this.metrics = createGatewayMetrics(deps.registry);
    this.journal = new Journal({
      ...config.journal,
      site: site.id,
      clock,
      logger: logger.child({ part: 'journal' }),
      sink: { ...config.sink, ...config.influx },
      logLevel: config.logLevel,
    });
    this.journal.onSinkReport((r) => {
      if (r.written > 0) this.metrics.written.inc(r.written);
      for (const [action, n] of Object.entries(r.failed)) if (n > 0) this.metrics.sinkFailures.labels(action).inc(n);
    });
    const ingress = (this.ingress = new SignalIngress({
      site: site.id,
      journal: this.journal,
      metrics: this.metrics,
      clock,
      logger: logger.child({ part: 'ingress' }),
      ...config.time,
    }));
    // Signals the gateway concludes itself (occupancy timeouts, silent devices) are journaled like any other.
    this.watch = new DeviceWatch({ site, clock, emit: (signals) => this.record(signals), logger: logger.child({ part: 'watch' }) });
    const policy: PolicyView = deps.policy ?? { current: () => null, ageMs: () => null };
    this.access = new AccessRunner({
      site,
      policy,
      command: (id, c) => this.command(id, c),
      record: (records) => this.record(records),
      journaled: (key) => this.journal.has(key),
      history: (since) => this.journal.readSince('access', since),
      lastRecord: (prefix) => this.journal.lastWithPrefix(prefix),
      clock,
      logger: logger.child({ part: 'access' }),
    });
    ingress.handleSwipes((records, receivedAt) => this.access.onRecords(records, receivedAt));
    this.journal.onCommitted((batch) => {
      const signals: Signal[] = [];
      for (const c of batch) if (isSignal(c.record)) signals.push(c.record);
      if (signals.length > 0) {
        this.watch.observe(signals);
        this.access.observe(signals);
      }
    });
    const influx = config.influx;
    this.live = new LiveView({
      site,
      clock,
      logger: logger.child({ part: 'live' }),
      publish: (topic, payload) => this.broker.publish(topic, payload, { qos: 1, retain: true }),
      replay: (since, fn, limit) => this.journal.replaySince(since, fn, limit),
      series: new SeriesWriter({
        client: new InfluxV1Client({ url: influx.url, db: influx.db, token: influx.token ?? undefined, username: influx.username ?? undefined, password: influx.password ?? undefined }),
        logger: logger.child({ part: 'live-series' }),
      }),
    });
    // Its own listener: the journal isolates listeners, so the live view can never disturb access.
    this.journal.onCommitted((batch) => this.live.observe(batch));
    const serialSeq = new Map<string, number>();
    this.serial = new SerialReaders({
      devices: [...site.devices.values()].filter((d) => d.serial !== null),
      resolvePath: (p) => resolve(deps.siteDir, p),
      clock,
      logger: logger.child({ part: 'serial' }),
      events: {
        onRead: (device, credential, at) => {
          // Serial reads are never redelivered: a run-unique key; seq orders a reader's reads (and keeps their points apart).
          const seq = (serialSeq.get(device.id) ?? 0) + 1;
          serialSeq.set(device.id, seq);
          const s: BadgeSignal = { kind: 'badge', key: `${device.id}:s:${ingress.nextMessageId()}`, ...origin(site, device), seq, ts: at, tsSource: 'gateway', credential };
          this.record([s]);
        },
        onReject: (device, reason, detail, bytes) => ingress.rejectUnrouted(device.id, `serial:${device.serial?.path ?? ''}`, reason, detail, Buffer.from(bytes)),
        onState: (device, state) => {
          const s: HealthSignal = {
            kind: 'health',
            key: `${device.id}:port:${ingress.nextMessageId()}`,
            ...origin(site, device),
            seq: 0,
            ts: clock.now(),
            tsSource: 'gateway',
            online: state === 'open',
            batteryPct: null,
            linkQuality: null,
          };
          this.record([s]);
        },
      },
    });
    this.broker = config.externalBroker
      ? new ExternalBroker({
          settings: config.externalBroker,
          site,
          ingress,
          metrics: this.metrics,
          clock,
          logger: logger.child({ part: 'broker' }),
          connect: (url, opts) => mqttConnect(url, opts),
        })
      : new MqttBroker({
          host: config.mqtt.host,
          port: config.mqtt.port,
          site,
          verifyCredentials: deps.verifyCredentials,
          ingress,
          limits: config.mqtt,
          metrics: this.metrics,
          clock,
          logger: logger.child({ part: 'broker' }),
        });
    this.metrics.register.setDefaultLabels({ site: site.id });
  }

  private startup: GatewayHealth['startup'] = { gatewayMs: 0, processMs: 0 };

  async start(): Promise<{ mqttPort: number }> {
    if (this.started) return { mqttPort: this.broker.health().port };
    const t0 = performance.now();
    await this.journal.start();
    this.watch.start();
    this.access.start();
    const mqttPort = await this.broker.start();
    // After the broker, which it publishes to at once. What was committed before is in its replay; after, in observe().
    this.live.start();
    await this.serial.start();
    await this.publishControllerConfigs();
    this.started = true;
    this.startup = { gatewayMs: Math.round(performance.now() - t0), processMs: Math.round(performance.now()) };
    return { mqttPort };
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.serial.stop();
    this.access.stop();
    this.live.stop();
    await this.broker.stop();
    this.watch.stop();
    // The journal lets the sink write what is journaled (up to 2 s) before it closes.
    await this.journal.stop(2000);
  }

  /**
   * Sends a command to a device in its own wire format (gateway/encoders/),
   * as the only publisher of commands. Rejects when the device is unknown or
   * its format cannot carry the command.
   */
  async command(deviceId: string, command: DeviceCommand): Promise<void> {
    const { site } = this.deps;
    const device = site.devices.get(deviceId);
    if (!device) throw new Error(`no device "${deviceId}" in site "${site.id}"`);
    const encoder = ENCODERS[device.format];
    const messages = encoder?.encode(device, command, { site, requestId: ++this.requestId, replyTopicBase: gatewayReplyBase(site.id) });
    if (!messages) throw new Error(`device "${deviceId}" (${device.kind}, ${device.format}) cannot take a ${command.type} command`);
    for (const m of messages) await this.broker.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain ?? false });
  }

  /**
   * Canonical readers and door controllers get their configuration retained on
   * their config topic: they read it on connecting and again only when its
   * version (a digest of its content) changes. `heartbeatS` tells them how
   * often to send a health message while connected; the device watch marks
   * one offline after its silentAfterMs (by default three missed beats).
   */
  private async publishControllerConfigs(): Promise<void> {
    const site = this.deps.site;
    for (const d of site.devices.values()) {
      if (d.format !== 'canonical' || (d.kind !== 'door-controller' && d.kind !== 'badge-reader')) continue;
      const heartbeatS = controllerHeartbeatS(d.silentAfterMs);
      const config = { site: site.id, device: d.id, target: d.target, direction: d.direction, unlockMs: 5000, timezone: site.timezone, heartbeatS };
      const version = createHash('sha256').update(JSON.stringify(config)).digest('base64url').slice(0, 12);
      await this.command(d.id, { type: 'config', version, config });
    }
  }

  /** Journals records the gateway itself concludes, reads or decides (no sender waits for them). */
  private record(signals: readonly JournalRecord[]): void {
    this.ingress.record(signals, (err) => {
      if (err) this.deps.logger.error({ err: err.message, keys: signals.map((s) => s.key) }, 'could not journal a gateway signal');
    });
  }

  health(): GatewayHealth {
    const journal = this.journal.stats();
    // The writer thread reports the sink every second; the backlog itself is counted here on every commit.
    const sink = { ...this.journal.sinkStats(), lagRecords: journal.pending };
    const problems: string[] = [];
    if (journal.failing) problems.push(`journal: ${journal.failing}`);
    const serial = this.serial.status();
    for (const r of serial) if (r.state !== 'open') problems.push(`serial reader ${r.device} (${r.path}): ${r.state}${r.lastError ? ` — ${r.lastError}` : ''}`);
    if (sink.failingSince !== null) problems.push(`influxdb: ${sink.lastError ?? 'failing'} since ${new Date(sink.failingSince).toISOString()}`);
    const broker = this.broker.health();
    const ext = broker.external;
    if (ext && this.started && !broker.listening) problems.push(`mqtt: ${ext.connected} of ${ext.connections} connections to ${ext.url} up${ext.lastError ? ` — ${ext.lastError}` : ''}`);
    if (ext && ext.refusedSubscriptions.length > 0) problems.push(`mqtt: the broker refused ${ext.refusedSubscriptions.length} subscriptions (e.g. ${ext.refusedSubscriptions[0]}): check its ACL for the gateway user`);
    const access = this.accessHealth();
    if (this.deps.policy && access.policyVersion === null) problems.push('access: no access policy yet, so every swipe is refused; check that the server is reachable and the gateway token is valid');
    else if (access.policyAgeS !== null && access.policyAgeS * 1000 > policyMaxAgeMs(this.deps.site)) {
      problems.push(`access: the access policy is ${access.policyAgeS} s old (limit ${policyMaxAgeMs(this.deps.site) / 1000} s): only override badges open until the gateway reaches the server again`);
    }
    const m = this.metrics;
    for (const [cls, n] of Object.entries(journal.pendingByClass)) m.journalPending.labels(cls).set(n);
    m.sinkLag.set(sink.lagRecords);
    m.sinkLagSeconds.set(sink.lagSeconds);
    return {
      status: problems.length === 0 ? 'ok' : 'degraded',
      site: this.deps.site.id,
      broker,
      journal,
      sink,
      serial,
      access,
      startup: this.startup,
      live: this.liveHealth(),
      audit: { lastCheckpoint: this.journal.lastCheckpoint() },
      problems,
    };
  }

  private liveHealth(): GatewayHealth['live'] {
    const l = this.live.stats();
    return { records: l.observed, late: l.late, waiting: l.buffered, retainedTopics: l.retained, tickMs: l.lastTickMs, maxTickMs: l.maxTickMs };
  }

  private accessHealth(): GatewayHealth['access'] {
    const now = this.deps.clock.now();
    const policy = this.deps.policy;
    const a: AccessSnapshot = this.access.snapshot();
    const age = policy?.ageMs(now) ?? null;
    return {
      policyVersion: policy?.current()?.version ?? null,
      policyAgeS: age === null ? null : Math.round(age / 1000),
      ...a.counts,
      sessions: a.sessions.length,
      present: Object.values(a.presence).reduce((n, m) => n + m.length, 0),
      hourMeters: a.hourMeters,
    };
  }
}

function origin(site: Site, device: DeviceInfo) {
  return { site: site.id, device: device.id, deviceKind: device.kind, space: device.space, target: device.target };
}
