/**
 * External broker mode: the gateway as an MQTT 5 client of an existing broker
 * (Mosquitto, EMQX, HiveMQ…). Devices log in to that broker, which checks their
 * credentials and topic ACL (`facility mosquitto-config` writes both from the
 * site file); the gateway subscribes to every uplink filter of the site as a
 * shared subscription `$share/<group>/<filter>` (MQTT 5.0 §4.8.2), so that N
 * gateway instances in one group split the messages between them.
 *
 * Durable before acknowledged, as in embedded mode: a QoS 1 message is
 * PUBACKed to the broker only after the ingress callback, i.e. after the
 * journal commit (MQTT.js `customHandleAcks`). When the journal refuses a
 * message the connection is dropped without a PUBACK and opened again after a
 * back-off: the broker keeps the message in this client's session and sends it
 * again. A PUBACK with a failure reason code would not do: it ends the QoS 1
 * exchange like a success (MQTT 5.0 §4.3.2), and Mosquitto 2.0 then forgets
 * the message (checked here, docs/deployment.md).
 *
 * Sessions are persistent (clean start 0, a session expiry interval) under
 * stable client ids: what the broker has sent a member that went away —
 * unacknowledged, or queued for it while it is gone — is delivered when that
 * member comes back under the same id (docs/deployment.md, "What the broker
 * does with a member that dies").
 *
 * MQTT.js hands a connection's messages to customHandleAcks one at a time (the
 * next is read only after the PUBACK of the last), so one connection has one
 * message in its journal commit at a time; `connections` opens several
 * members per gateway so that commits are shared (group commit).
 */
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { sharedFilter } from '../../core/protocol/mqtt-filter.js';
import { gatewayStatusTopic } from '../../core/protocol/topics.js';
import type { Site } from '../../core/site/model.js';
import type { SignalIngress } from '../ingress/signal-ingress.js';
import type { GatewayMetrics } from '../metrics.js';
import { TopicResolver, type UnresolvedReason } from './topic-resolver.js';
import type { BrokerHealth, GatewayBroker, PublishOptions } from './types.js';

export interface ExternalBrokerSettings {
  /** mqtt://host:port or mqtts://host:port */
  readonly url: string;
  readonly username: string | null;
  readonly password: string | null;
  /** Base client id; connection n is `<clientId>-<n>`. Stable across restarts, unique per gateway instance. */
  readonly clientId: string;
  readonly shareGroup: string;
  /** Members of the share group this gateway keeps open. */
  readonly connections: number;
  /** How long the broker keeps a session (and the messages queued for it) after its connection is lost, s. */
  readonly sessionExpiryS: number;
  readonly keepaliveS: number;
  readonly connectTimeoutMs: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  /**
   * On an orderly stop, leave the share group for good: unsubscribe, take and
   * journal what the broker still sends, then end the session. For an instance
   * being removed; otherwise (false) the session stays, and the broker queues
   * this member's share for it until it is back (or the session expires).
   */
  readonly leaveOnStop: boolean;
}

export interface ExternalBrokerOptions {
  readonly settings: ExternalBrokerSettings;
  readonly site: Site;
  readonly ingress: SignalIngress;
  readonly metrics: GatewayMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Opens a client (mqtt.connect): handed in by the composition root. */
  readonly connect: (url: string, opts: IClientOptions) => MqttClient;
}

type AckCallback = (error: Error | number, code?: number) => void;

/** Reason codes for PUBACK (MQTT 5.0 §3.4.2.1): success only; failures are never sent (see above). */
const PUBACK_SUCCESS = 0;
/** How many filters go in one SUBSCRIBE packet. */
const SUBSCRIBE_CHUNK = 200;

/** One member of the share group: a connection, its session, its generation. */
class Link {
  client: MqttClient | null = null;
  /** Bumped on every (re)connection: an ingress callback of an older one must not acknowledge on a newer one. */
  generation = 0;
  ready = false;
  backoffMs: number;
  timer: NodeJS.Timeout | null = null;
  /** Messages handed to the ingress and not yet acknowledged, and when the last one came. */
  inFlight = 0;
  lastMessageAt = 0;

  constructor(
    readonly index: number,
    readonly clientId: string,
    minBackoffMs: number,
  ) {
    this.backoffMs = minBackoffMs;
  }
}

export class ExternalBroker implements GatewayBroker {
  private readonly resolver: TopicResolver;
  private readonly links: Link[] = [];
  private running = false;
  private firstReady: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | null = null;
  private received = 0;
  private journalRefusals = 0;
  private readonly unresolved: Record<UnresolvedReason, number> = { no_device: 0, refused: 0, ambiguous: 0 };
  private readonly refused = new Set<string>();
  private lastError: string | null = null;

  constructor(private readonly opts: ExternalBrokerOptions) {
    this.resolver = new TopicResolver(opts.site);
  }

  /** The uplink filters subscribed to (each as `$share/<group>/<filter>`). */
  get filters(): readonly string[] {
    return this.resolver.filters;
  }

  /**
   * Connects every member; resolves once the first is connected and subscribed
   * (the others follow, and reconnect on their own), rejects if the broker
   * refuses the first attempt (bad credentials, not authorised, unreachable).
   */
  async start(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    const { settings } = this.opts;
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.firstReady = { promise, resolve, reject };
    for (let i = 0; i < settings.connections; i++) {
      const link = new Link(i, `${settings.clientId}-${i}`, settings.minBackoffMs);
      this.links.push(link);
      this.open(link);
    }
    try {
      await promise;
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.opts.logger.info({ url: redact(settings.url), clientId: settings.clientId, shareGroup: settings.shareGroup, connections: settings.connections, filters: this.filters.length }, 'connected to the external MQTT broker');
    return 0;
  }

  async stop(timeoutMs = 5000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const first = this.links.find((l) => l.ready && l.client);
    if (first?.client) {
      // Best effort: the will says the same if this does not get through.
      await withTimeout(first.client.publishAsync(gatewayStatusTopic(this.opts.site.id), this.statusPayload(false), { qos: 1, retain: true }), Math.min(timeoutMs, 1000)).catch(() => undefined);
    }
    if (this.opts.settings.leaveOnStop) await this.leave(timeoutMs);
    await Promise.all(
      this.links.map(async (link) => {
        if (link.timer) clearTimeout(link.timer);
        link.timer = null;
        link.generation++;
        link.ready = false;
        const c = link.client;
        link.client = null;
        // Messages not yet acknowledged stay in the session: the broker sends them again when we are back.
        if (c) await withTimeout(c.endAsync(true), timeoutMs).catch(() => undefined);
      }),
    );
    this.links.length = 0;
  }

  /**
   * Leaves the share group: no new messages (UNSUBSCRIBE), then what is still
   * queued or in flight for this member is taken and journaled until the
   * connections have been quiet for a moment, then each session is ended
   * (DISCONNECT with session expiry 0, MQTT 5.0 §3.14.2.2.2) so that the broker
   * stops keeping a share for it.
   */
  private async leave(timeoutMs: number): Promise<void> {
    const { logger } = this.opts;
    const ready = this.links.filter((l) => l.ready && l.client);
    const filters = this.filters.map((f) => sharedFilter(this.opts.settings.shareGroup, f));
    await Promise.all(ready.map((l) => withTimeout(l.client!.unsubscribeAsync(filters), timeoutMs).catch(() => undefined)));
    const deadline = Date.now() + timeoutMs;
    const quietMs = 300;
    while (Date.now() < deadline && ready.some((l) => l.inFlight > 0 || Date.now() - l.lastMessageAt < quietMs)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(
      ready.map(async (l) => {
        const c = l.client;
        if (!c || l.inFlight > 0) return; // still busy: keep the session, its messages come to the next start
        l.generation++;
        l.ready = false;
        l.client = null;
        await withTimeout(c.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } }), timeoutMs).catch(() => undefined);
      }),
    );
    logger.info({ clientId: this.opts.settings.clientId }, 'left the share group: sessions ended');
  }

  async publish(topic: string, payload: string | Buffer, opts: PublishOptions = {}): Promise<void> {
    const link = this.links.find((l) => l.ready && l.client?.connected);
    if (!link?.client) throw new Error('not connected to the external MQTT broker');
    await link.client.publishAsync(topic, payload, { qos: opts.qos ?? 1, retain: opts.retain ?? false });
  }

  retained(): Promise<{ topic: string; payload: string; qos: number }[]> {
    return Promise.reject(new Error('retained messages are held by the external broker: subscribe to it to read them'));
  }

  health(): BrokerHealth {
    const { settings } = this.opts;
    const connected = this.links.filter((l) => l.ready).length;
    return {
      mode: 'external',
      listening: this.running && connected === settings.connections,
      port: 0,
      clients: connected,
      external: {
        url: redact(settings.url),
        clientId: settings.clientId,
        shareGroup: settings.shareGroup,
        connections: settings.connections,
        connected,
        subscriptions: this.filters.length,
        refusedSubscriptions: [...this.refused],
        received: this.received,
        unresolved: { ...this.unresolved },
        journalRefusals: this.journalRefusals,
        lastError: this.lastError,
      },
    };
  }

  private statusPayload(online: boolean): string {
    return JSON.stringify({ online, ts: this.opts.clock.now() });
  }

  private open(link: Link): void {
    const { settings, logger } = this.opts;
    const generation = ++link.generation;
    link.ready = false;
    const client = this.opts.connect(settings.url, {
      protocolVersion: 5,
      clientId: link.clientId,
      ...(settings.username !== null && { username: settings.username }),
      ...(settings.password !== null && { password: settings.password }),
      // A persistent session: the broker keeps what it sent this member and did not get a PUBACK for.
      clean: false,
      properties: { sessionExpiryInterval: settings.sessionExpiryS },
      keepalive: settings.keepaliveS,
      connectTimeout: settings.connectTimeoutMs,
      // Reconnection is ours: every connection gets a new client, so that a late ingress callback can
      // never PUBACK a packet id of the next connection.
      reconnectPeriod: 0,
      ...(link.index === 0 && { will: { topic: gatewayStatusTopic(this.opts.site.id), payload: Buffer.from(JSON.stringify({ online: false })), qos: 1, retain: true } }),
      customHandleAcks: (topic: string, payload: Buffer, packet: IPublishPacket, cb: AckCallback) => this.onMessage(link, generation, topic, payload, packet, cb),
    });
    link.client = client;
    // QoS 0 messages (Tasmota and Zigbee2MQTT publish at QoS 0) do not pass customHandleAcks; QoS 1 ones
    // are emitted here too, after customHandleAcks acknowledged them, and are ignored.
    client.on('message', (topic, payload, packet) => {
      if (packet.qos === 0) this.onMessage(link, generation, topic, payload, packet, null);
    });
    client.on('connect', () => {
      if (generation !== link.generation) return;
      void this.subscribe(link, generation, client);
    });
    client.on('error', (err) => {
      this.lastError = err.message;
      logger.warn({ clientId: link.clientId, err: err.message }, 'external MQTT broker: connection error');
      if (this.firstReady && link.index === 0 && !link.ready) this.firstReady.reject(new Error(`cannot connect to the MQTT broker ${redact(settings.url)} as ${link.clientId}: ${err.message}`));
    });
    client.on('close', () => {
      if (generation !== link.generation) return;
      const wasReady = link.ready;
      link.ready = false;
      link.generation++;
      if (!this.running) return;
      if (wasReady) logger.warn({ clientId: link.clientId }, 'external MQTT broker: connection lost; reconnecting');
      this.retryLater(link, client);
    });
  }

  private retryLater(link: Link, client: MqttClient): void {
    client.end(true);
    if (link.client === client) link.client = null;
    if (!this.running || link.timer) return;
    const delay = link.backoffMs;
    link.backoffMs = Math.min(this.opts.settings.maxBackoffMs, link.backoffMs * 2);
    link.timer = setTimeout(() => {
      link.timer = null;
      if (this.running) this.open(link);
    }, delay);
  }

  private async subscribe(link: Link, generation: number, client: MqttClient): Promise<void> {
    const { settings, logger } = this.opts;
    try {
      const filters = this.filters;
      for (let i = 0; i < filters.length; i += SUBSCRIBE_CHUNK) {
        const chunk = Object.fromEntries(filters.slice(i, i + SUBSCRIBE_CHUNK).map((f) => [sharedFilter(settings.shareGroup, f), { qos: 1 as const }]));
        const granted = await client.subscribeAsync(chunk);
        for (const g of granted) {
          // MQTT.js puts the SUBACK reason code in `qos` (MQTT 5.0 §3.9.3: 0x80 and above refuse).
          if (g.qos >= 0x80) this.refused.add(g.topic);
        }
      }
      if (generation !== link.generation) return;
      if (this.refused.size > 0) {
        this.lastError = `the broker refused ${this.refused.size} subscriptions (its ACL must let the gateway read every uplink, shared subscriptions included)`;
        logger.error({ refused: [...this.refused].slice(0, 20) }, this.lastError);
      }
      link.ready = true;
      link.backoffMs = settings.minBackoffMs;
      if (link.index === 0) await client.publishAsync(gatewayStatusTopic(this.opts.site.id), this.statusPayload(true), { qos: 1, retain: true });
      this.firstReady?.resolve();
    } catch (err) {
      this.lastError = `subscribe failed: ${(err as Error).message}`;
      logger.warn({ clientId: link.clientId, err: (err as Error).message }, 'external MQTT broker: subscribe failed; reconnecting');
      if (generation === link.generation) {
        link.generation++;
        this.retryLater(link, client);
      }
    }
  }

  /** One message from the broker; `cb` (QoS 1) sends its PUBACK, null for QoS 0. */
  private onMessage(link: Link, generation: number, topic: string, payload: Buffer, packet: IPublishPacket, cb: AckCallback | null): void {
    const { ingress, metrics, logger } = this.opts;
    this.received++;
    link.lastMessageAt = Date.now();
    if (cb) link.inFlight++;
    let settled = false;
    const ack = () => {
      if (cb && !settled) {
        settled = true;
        link.inFlight--;
      }
      if (cb && generation === link.generation) cb(PUBACK_SUCCESS);
    };
    const r = this.resolver.resolve(topic, packet.retain);
    if (!r.ok) {
      // The broker let it through but no single device of the site owns it: retrying cannot help.
      this.unresolved[r.reason]++;
      if (r.acl) metrics.aclDenied.labels('publish', r.acl).inc();
      ingress.rejectUnrouted(null, topic, `unresolved_${r.reason}`, r.detail, payload);
      logger.warn({ topic, reason: r.reason, detail: r.detail }, 'message from the external broker has no single device: acknowledged and rejected');
      ack();
      return;
    }
    const route = r.decision.route;
    if (route === null) {
      metrics.ignored.labels(r.decision.ignored ?? 'not_recorded').inc();
      ack();
      return;
    }
    ingress.accept(route.device, route.channel, topic, payload, (err) => {
      // A connection that closed meanwhile: its session has the message, which comes again (journaled once).
      if (generation !== link.generation) {
        if (cb && !settled) {
          settled = true;
          link.inFlight--;
        }
        return;
      }
      if (!err) {
        ack();
        return;
      }
      if (!cb) {
        logger.error({ topic, err: err.message }, 'QoS 0 message refused by the journal: lost (its sender keeps nothing)');
        return;
      }
      // No PUBACK: the connection goes, the session keeps the message, and it comes again after the back-off.
      settled = true;
      link.inFlight--;
      this.journalRefusals++;
      this.lastError = `journal refused a message: ${err.message}`;
      logger.warn({ clientId: link.clientId, topic, err: err.message }, 'journal refused a message: dropping the connection unacknowledged; the broker will send it again');
      link.generation++;
      link.ready = false;
      if (link.client) this.retryLater(link, link.client);
    });
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
