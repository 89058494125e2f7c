/**
 * The gateway's composition root: broker + ingress → journal (whose writer
 * thread also runs the InfluxDB sink).
 * Parts are built here, started in dependency order and stopped in reverse:
 * the broker stops taking messages first, then the sink finishes its write,
 * then the journal closes. Nothing acknowledged is lost: acks only ever follow
 * a durable commit.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { Site } from '../core/site/model.js';
import { MqttBroker, type BrokerLimits } from './broker/broker.js';
import { ENCODERS, type DeviceCommand } from './encoders/index.js';
import { SignalIngress } from './ingress/signal-ingress.js';
import { Journal, type JournalStats } from './journal/journal.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import type { SinkStats } from './sink/influx-sink.js';

export interface GatewayConfig {
  readonly mqtt: BrokerLimits & { readonly host: string; readonly port: number };
  readonly journal: { readonly path: string; readonly maxPending: number; readonly maxRejects: number };
  readonly sink: { readonly batchSize: number; readonly lingerMs: number; readonly minBackoffMs: number; readonly maxBackoffMs: number; readonly alarmAfterMs: number };
  /** Where the sink writes (InfluxDB v1 API: 1.x, or 2.x/3.x compatibility). */
  readonly influx: { readonly url: string; readonly db: string; readonly token: string | null; readonly username: string | null; readonly password: string | null };
  readonly logLevel: string;
  readonly time: { readonly maxPastMs: number; readonly maxFutureMs: number };
}

export interface GatewayDeps {
  readonly site: Site;
  readonly verifyCredentials: (deviceId: string, password: Buffer | undefined) => boolean;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry?: Registry;
}

export interface GatewayHealth {
  readonly status: 'ok' | 'degraded';
  readonly site: string;
  readonly broker: { readonly listening: boolean; readonly port: number; readonly clients: number };
  readonly journal: JournalStats;
  readonly sink: SinkStats;
  readonly problems: readonly string[];
}

export class Gateway {
  readonly metrics: GatewayMetrics;
  readonly journal: Journal;
  readonly broker: MqttBroker;
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
    const ingress = new SignalIngress({
      site: site.id,
      journal: this.journal,
      metrics: this.metrics,
      clock,
      logger: logger.child({ part: 'ingress' }),
      ...config.time,
    });
    this.broker = new MqttBroker({
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

  async start(): Promise<{ mqttPort: number }> {
    if (this.started) return { mqttPort: this.broker.port };
    await this.journal.start();
    const mqttPort = await this.broker.start();
    this.started = true;
    return { mqttPort };
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.broker.stop();
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
    const messages = encoder?.encode(device, command, { site, requestId: ++this.requestId, replyTopicBase: `fac/v1/${site.id}/gateway` });
    if (!messages) throw new Error(`device "${deviceId}" (${device.kind}, ${device.format}) cannot take a ${command.type} command`);
    for (const m of messages) await this.broker.publish(m.topic, m.payload, { qos: m.qos });
  }

  health(): GatewayHealth {
    const journal = this.journal.stats();
    const sink = this.journal.sinkStats();
    const problems: string[] = [];
    if (journal.failing) problems.push(`journal: ${journal.failing}`);
    if (sink.failingSince !== null) problems.push(`influxdb: ${sink.lastError ?? 'failing'} since ${new Date(sink.failingSince).toISOString()}`);
    const m = this.metrics;
    for (const [cls, n] of Object.entries(journal.pendingByClass)) m.journalPending.labels(cls).set(n);
    m.sinkLag.set(sink.lagRecords);
    m.sinkLagSeconds.set(sink.lagSeconds);
    return {
      status: problems.length === 0 ? 'ok' : 'degraded',
      site: this.deps.site.id,
      broker: { listening: this.started, port: this.broker.port, clients: this.broker.connectedClients },
      journal,
      sink,
      problems,
    };
  }
}
