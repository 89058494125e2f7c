/**
 * The gateway's composition root: journal → {broker+ingress, InfluxDB sink}.
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
import { SignalIngress } from './ingress/signal-ingress.js';
import { Journal, type JournalStats } from './journal/journal.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { InfluxSink, type InfluxWriter, type SinkStats } from './sink/influx-sink.js';

export interface GatewayConfig {
  readonly mqtt: BrokerLimits & { readonly host: string; readonly port: number };
  readonly journal: { readonly path: string; readonly maxPending: number; readonly maxRejects: number };
  readonly sink: { readonly batchSize: number; readonly lingerMs: number; readonly minBackoffMs: number; readonly maxBackoffMs: number; readonly alarmAfterMs: number };
  readonly time: { readonly maxPastMs: number; readonly maxFutureMs: number };
}

export interface GatewayDeps {
  readonly site: Site;
  readonly verifyCredentials: (deviceId: string, password: Buffer | undefined) => boolean;
  readonly influx: InfluxWriter;
  readonly onInfluxFatal?: (message: string) => Promise<void>;
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
  readonly sink: InfluxSink;
  readonly broker: MqttBroker;
  private started = false;

  constructor(
    private readonly config: GatewayConfig,
    private readonly deps: GatewayDeps,
  ) {
    const { site, clock, logger } = deps;
    this.metrics = createGatewayMetrics(deps.registry);
    this.journal = new Journal({ ...config.journal, site: site.id, clock, logger: logger.child({ part: 'journal' }) });
    const ingress = new SignalIngress({
      site: site.id,
      journal: this.journal,
      metrics: this.metrics,
      clock,
      logger: logger.child({ part: 'ingress' }),
      ...config.time,
    });
    this.sink = new InfluxSink({
      ...config.sink,
      journal: this.journal,
      writer: deps.influx,
      metrics: this.metrics,
      clock,
      logger: logger.child({ part: 'sink' }),
      onFatal: deps.onInfluxFatal,
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
    this.sink.start();
    const mqttPort = await this.broker.start();
    this.started = true;
    return { mqttPort };
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.broker.stop();
    await this.sink.drained(2000);
    await this.sink.stop();
    await this.journal.stop();
  }

  health(): GatewayHealth {
    const journal = this.journal.stats();
    const sink = this.sink.stats();
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
