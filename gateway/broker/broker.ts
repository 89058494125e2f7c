/**
 * The embedded MQTT broker: aedes behind our own listener, with every unsafe
 * default set explicitly and every hook answered from the site file.
 *
 * - Connection level: a global connection-rate limit, a per-address back-off
 *   after failed logins, TCP_NODELAY, and a maximum packet size enforced before
 *   aedes buffers anything (./packet-guard.ts).
 * - CONNECT: a safe client id naming a device of the site (its configured client
 *   id), the user name of that device (or of its shared login), valid
 *   credentials; a will may only be the device's own availability topic.
 * - PUBLISH: the access rules of the device's wire format (gateway/decoders/,
 *   one per format), a per-device rate limit, and then the ingress, which holds
 *   the PUBACK until the journal commit is durable.
 * - SUBSCRIBE/forward: a device hears only its own command topics.
 * - Observers (site file `observers:`, read-only dashboard logins): user name =
 *   observer id, client id = the id or `<id>-…`, credentials checked like a
 *   device's; they publish nothing and hear only the live state and the
 *   gateway's status (core/protocol/acl.ts).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { ACL_REASON_TEXT, authorizeObserverForward, authorizeObserverSubscribe, isObserverClientId, isSafeClientId } from '../../core/protocol/acl.js';
import { gatewayStatusTopic } from '../../core/protocol/topics.js';
import { TokenBucket } from '../../core/rate.js';
import type { DeviceInfo, ObserverInfo, Site } from '../../core/site/model.js';
import { mqttDecoder, type ConnectionPolicy } from '../decoders/index.js';
import type { SignalIngress } from '../ingress/signal-ingress.js';
import type { GatewayMetrics } from '../metrics.js';
import { guardPacketSize } from './packet-guard.js';
import type { BrokerHealth, GatewayBroker } from './types.js';

export interface BrokerLimits {
  /** Largest MQTT packet accepted, bytes (fixed header included). */
  readonly maxPacketSize: number;
  /** A connection must send CONNECT within this time. */
  readonly connectTimeoutMs: number;
  /** A subscriber whose socket does not drain within this time is dropped. */
  readonly drainTimeoutMs: number;
  /** Largest keepalive a client may ask for, s. */
  readonly keepaliveLimitS: number;
  /** New TCP connections accepted per second (burst = 2 s worth). */
  readonly connectRatePerSec: number;
  /** Messages per second a device may publish, and its burst. */
  readonly devicePublishRatePerSec: number;
  readonly devicePublishBurst: number;
  /** Failed logins an address may make per minute before its connections are dropped. */
  readonly authFailuresPerMinute: number;
}

export interface BrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly site: Site;
  /** Checks the password of a device or an observer, by id (the site file keeps the two kinds of id apart). */
  readonly verifyCredentials: (id: string, password: Buffer | undefined) => boolean;
  readonly ingress: SignalIngress;
  readonly limits: BrokerLimits;
  readonly metrics: GatewayMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
}

interface DeviceSession {
  readonly type: 'device';
  readonly device: DeviceInfo;
  readonly policy: ConnectionPolicy;
  readonly bucket: TokenBucket;
}

interface ObserverSession {
  readonly type: 'observer';
  readonly observer: ObserverInfo;
}

type Session = DeviceSession | ObserverSession;

/** The part of aedes-persistence that reads retained messages. */
interface RetainedStore {
  createRetainedStream(pattern: string): AsyncIterable<{ topic: string; payload: Buffer | string; qos: number }>;
}

class BrokerRefusal extends Error {
  constructor(
    message: string,
    readonly returnCode: 2 | 4 | 5,
  ) {
    super(message);
  }
}

export class MqttBroker implements GatewayBroker {
  private aedes: Aedes | null = null;
  private server: Server | null = null;
  private readonly sessions = new WeakMap<Client, Session>();
  private readonly sockets = new Set<Socket>();
  private connectBucket!: TokenBucket;
  private readonly authFailures = new Map<string, TokenBucket>();
  private boundPort = 0;

  constructor(private readonly opts: BrokerOptions) {}

  get port(): number {
    return this.boundPort;
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  async start(): Promise<number> {
    if (this.server) return this.boundPort;
    const { limits, clock } = this.opts;
    this.connectBucket = new TokenBucket(limits.connectRatePerSec, limits.connectRatePerSec * 2, clock.now());
    const aedes = new Aedes({
      id: `gateway-${this.opts.site.id}`,
      connectTimeout: limits.connectTimeoutMs,
      drainTimeout: limits.drainTimeoutMs,
      keepaliveLimit: limits.keepaliveLimitS,
      // Device ids are at most 64 characters (site file); MQTT 3.1 clients are limited to 23 by the spec.
      maxClientsIdLength: 23,
      heartbeatInterval: 60_000,
      preConnect: (client, packet, cb) => this.preConnect(client, packet, cb),
      authenticate: (client, username, password, cb) => this.authenticate(client, username, password, cb),
      authorizePublish: (client, packet, cb) => this.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => this.authorizeSubscribe(client, sub, cb),
      authorizeForward: (client, packet) => this.authorizeForward(client, packet),
    });
    await aedes.listen();
    aedes.on('clientReady', () => this.opts.metrics.connections.set(aedes.connectedClients));
    aedes.on('clientDisconnect', () => this.opts.metrics.connections.set(aedes.connectedClients));
    aedes.on('clientError', (client, err) => this.opts.logger.debug({ client: client.id, err: err.message }, 'mqtt client error'));
    aedes.on('connectionError', (_client, err) => this.opts.logger.debug({ err: err.message }, 'mqtt connection error'));
    this.aedes = aedes;

    const server = createServer((socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.opts.logger.error({ err }, 'mqtt listener error'));
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.opts.port;
    this.publishGatewayStatus(true);
    this.opts.logger.info({ host: this.opts.host, port: this.boundPort }, 'mqtt broker listening');
    return this.boundPort;
  }

  /** Publishes as the gateway (the only publisher of commands and of gateway state). */
  publish(topic: string, payload: string | Buffer, opts: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.reject(new Error('broker is not running'));
    return new Promise((resolve, reject) => {
      aedes.publish(
        {
          cmd: 'publish',
          topic,
          payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
          qos: opts.qos ?? 1,
          retain: opts.retain ?? false,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /**
   * The retained messages whose topics match an MQTT filter: what a client
   * subscribing to it would be sent first (the gateway's own view of its
   * broker, e.g. for tests of the retained live state).
   */
  async retained(filter: string): Promise<{ topic: string; payload: string; qos: number }[]> {
    const out: { topic: string; payload: string; qos: number }[] = [];
    // aedes keeps its store (the default, in memory: retained messages are published again on every start) as
    // `persistence`, which its type declarations leave out.
    const store = (this.aedes as unknown as { persistence?: RetainedStore } | null)?.persistence;
    if (!store) return out;
    for await (const p of store.createRetainedStream(filter)) {
      out.push({ topic: p.topic, payload: p.payload.toString(), qos: p.qos });
    }
    return out;
  }

  health(): BrokerHealth {
    return { mode: 'embedded', listening: this.server !== null, port: this.boundPort, clients: this.connectedClients };
  }

  async stop(timeoutMs = 5000): Promise<void> {
    const server = this.server;
    const aedes = this.aedes;
    if (!server || !aedes) return;
    this.server = null;
    this.publishGatewayStatus(false);
    server.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const s of this.sockets) s.destroy();
        resolve();
      }, timeoutMs);
      aedes.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    for (const s of this.sockets) s.destroy();
    this.aedes = null;
  }

  private publishGatewayStatus(online: boolean): void {
    this.aedes?.publish(
      {
        cmd: 'publish',
        topic: gatewayStatusTopic(this.opts.site.id),
        payload: Buffer.from(JSON.stringify({ online, ts: this.opts.clock.now() })),
        qos: 1,
        retain: true,
        dup: false,
      },
      () => undefined,
    );
  }

  private onConnection(socket: Socket): void {
    const { limits, metrics, clock, logger } = this.opts;
    const now = clock.now();
    const address = socket.remoteAddress ?? 'unknown';
    const failures = this.authFailures.get(address);
    if (failures && !failures.has(now)) {
      metrics.connRefused.labels('auth_backoff').inc();
      socket.destroy();
      return;
    }
    if (!this.connectBucket.take(now)) {
      metrics.connRefused.labels('connect_rate').inc();
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    guardPacketSize(socket, limits.maxPacketSize, (reason) => {
      metrics.connRefused.labels('packet_too_large').inc();
      logger.warn({ address, reason }, 'mqtt packet over the size limit: connection closed');
    });
    this.aedes!.handle(socket);
  }

  /** The device a client id belongs to (client id = device id for canonical devices; configurable for others). */
  private deviceFor(clientId: string): DeviceInfo | undefined {
    const id = this.opts.site.byClientId.get(clientId);
    return id === undefined ? undefined : this.opts.site.devices.get(id);
  }

  private preConnect(client: Client, packet: ConnectPacket, cb: (err: Error | null, ok: boolean) => void): void {
    const { metrics, site } = this.opts;
    if (!isSafeClientId(packet.clientId)) {
      metrics.connRefused.labels('bad_client_id').inc();
      cb(new Error('client id must be a device id: no +, #, /, NUL or spaces'), false);
      return;
    }
    if (packet.will) {
      // A will may only announce the device's own availability; an unknown client may have none.
      const device = this.deviceFor(packet.clientId);
      if (!device || !mqttDecoder(device.format).connection(device, site).willAllowed(packet.will.topic)) {
        metrics.connRefused.labels('bad_will').inc();
        cb(new Error(`a will may only be the device's own availability topic`), false);
        return;
      }
    }
    void client;
    cb(null, true);
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined, cb: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    const { site, metrics, limits, clock } = this.opts;
    const refuse = (reason: string, message: string, code: 2 | 4 | 5) => {
      metrics.connRefused.labels(reason).inc();
      const address = client.conn && 'remoteAddress' in client.conn ? String(client.conn.remoteAddress) : 'unknown';
      let bucket = this.authFailures.get(address);
      if (!bucket) {
        if (this.authFailures.size > 10_000) this.authFailures.clear();
        bucket = new TokenBucket(limits.authFailuresPerMinute / 60, limits.authFailuresPerMinute, clock.now());
        this.authFailures.set(address, bucket);
      }
      bucket.take(clock.now());
      this.opts.logger.info({ client: client.id, username, reason }, 'mqtt connection refused');
      cb(new BrokerRefusal(message, code), null);
    };
    if (username === undefined || username === '') return refuse('anonymous', 'anonymous clients are not allowed', 4);
    const observer = site.observers.get(username);
    if (observer) {
      // The site file keeps observer ids apart from device ids, user names and client ids; the
      // client-id check is repeated here so that an observer can never take over a device's session.
      if (!isObserverClientId(observer.id, client.id) || site.byClientId.has(client.id)) {
        return refuse('id_mismatch', 'an observer’s client id must be its id or start with "<id>-"', 2);
      }
      if (!this.opts.verifyCredentials(observer.id, password)) return refuse('bad_credentials', 'bad user name or password', 4);
      this.sessions.set(client, { type: 'observer', observer });
      this.opts.logger.info({ client: client.id, observer: observer.id }, 'observer connected');
      cb(null, true);
      return;
    }
    const device = this.deviceFor(client.id);
    // Identity binding: the client id names the device, and the user name must be that device's
    // (its own, or its shared login's), so no client can take over another device's session.
    if (!device || !device.mqtt) {
      return site.devices.has(username) ? refuse('id_mismatch', 'client id must be the device’s configured client id', 2) : refuse('unknown_device', 'unknown device', 4);
    }
    if (username !== device.mqtt.username) return refuse('id_mismatch', 'user name does not belong to this client id', 2);
    if (!this.opts.verifyCredentials(device.id, password)) return refuse('bad_credentials', 'bad user name or password', 4);
    this.sessions.set(client, {
      type: 'device',
      device,
      policy: mqttDecoder(device.format).connection(device, site),
      bucket: new TokenBucket(limits.devicePublishRatePerSec, limits.devicePublishBurst, clock.now()),
    });
    cb(null, true);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    const { metrics, ingress, clock, logger } = this.opts;
    const session = client ? this.sessions.get(client) : undefined;
    if (!client || !session) {
      metrics.aclDenied.labels('publish', 'no_session').inc();
      cb(new Error('not authenticated'));
      return;
    }
    if (session.type === 'observer') {
      // Read-only: refused and disconnected, as a device publishing outside its ACL is. Not journaled:
      // the rejects table records what devices send.
      metrics.aclDenied.labels('publish', 'observer_read_only').inc();
      logger.warn({ observer: session.observer.id, client: client.id, topic: packet.topic }, 'publish by an observer refused: client disconnected');
      cb(new Error(`publish refused: ${ACL_REASON_TEXT.observer_read_only}`));
      return;
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const decision = session.policy.publish(packet.topic, packet.retain);
    if (!decision.ok) {
      metrics.aclDenied.labels('publish', decision.reason).inc();
      ingress.rejectUnrouted(session.device.id, packet.topic, `acl_${decision.reason}`, ACL_REASON_TEXT[decision.reason], payload);
      logger.warn({ device: session.device.id, topic: packet.topic, reason: decision.reason }, 'publish refused by ACL: client disconnected');
      cb(new Error(`publish refused: ${ACL_REASON_TEXT[decision.reason]}`));
      return;
    }
    if (!session.bucket.take(clock.now())) {
      metrics.rateLimited.inc();
      logger.warn({ device: session.device.id }, 'device over its publish rate: disconnected (it will retry its unacknowledged messages)');
      cb(new Error('publish rate limit exceeded'));
      return;
    }
    if (decision.route === null) {
      metrics.ignored.labels(decision.ignored ?? 'not_recorded').inc();
      // What is not recorded is not retained either: nobody here consumes it, and a device must not
      // be able to fill the broker's memory with retained messages we ignore.
      packet.retain = false;
      cb(null);
      return;
    }
    ingress.accept(decision.route.device, decision.route.channel, packet.topic, payload, (err) => cb(err));
  }

  private authorizeSubscribe(client: Client, sub: Subscription, cb: (err: Error | null, sub?: Subscription | null) => void): void {
    const session = this.sessions.get(client);
    if (session?.type === 'observer') {
      if (authorizeObserverSubscribe(this.opts.site.id, session.observer, sub.topic)) {
        cb(null, sub);
        return;
      }
      this.opts.metrics.aclDenied.labels('subscribe', 'outside_observer_topics').inc();
      cb(null, null);
      return;
    }
    if (session?.policy.subscribe(sub.topic)) {
      cb(null, sub);
      return;
    }
    this.opts.metrics.aclDenied.labels('subscribe', 'outside_own_commands').inc();
    cb(null, null);
  }

  private authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const session = this.sessions.get(client);
    if (session?.type === 'observer') return authorizeObserverForward(this.opts.site.id, session.observer, packet.topic) ? packet : null;
    return session?.policy.forward(packet.topic) ? packet : null;
  }
}
