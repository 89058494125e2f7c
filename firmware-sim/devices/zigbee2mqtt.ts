/**
 * Simulated Zigbee2MQTT: one bridge connection shared by the occupancy sensors
 * paired with it, publishing what Zigbee2MQTT publishes for them
 * (zigbee2mqtt.io: "MQTT Topics and Messages", "Device-Availability", and the
 * device pages of the Aqara RTCGQ11LM and SONOFF SNZB-03).
 *
 * The bridge (Z2mBridge) is the MQTT client: the bridge device's client id,
 * user name and secret; a last will of `<base>/bridge/state` = offline,
 * retained; `<base>/bridge/state` = online, retained, on every connect; a
 * subscription to `<base>/#` (Zigbee2MQTT listens there for set/get and
 * bridge requests, and hears its own messages back). Availability payloads
 * are JSON ({"state":"online"}, Zigbee2MQTT 2.x and 1.x with
 * legacy_availability_payload: false) or, as an option, 1.x strings.
 *
 * Each sensor (Z2mSensor, a SimDevice) publishes `<base>/<friendly_name>`
 * JSON through it, as its model does, with Zigbee2MQTT configured as
 * docs/devices.md recommends (cache_state: false, last_seen: ISO_8601, its own
 * occupancy_timeout off):
 *  - Aqara/Xiaomi PIR sensors (models whose defaults carry an occupancy
 *    timeout) only ever report occupancy:true, with illuminance; their hourly
 *    heartbeat carries battery, voltage, device_temperature and
 *    power_outage_count. occupancy(false) publishes nothing: the gateway's
 *    DeviceWatch clears them.
 *  - SONOFF SNZB-03 (and other models) report true and false, with
 *    battery_low; their battery report carries battery and voltage.
 *  - Zigbee2MQTT adds linkquality to every message of a device.
 * Lifecycle: the first sensor's start() connects the bridge; each sensor's
 * start() publishes its availability online (retained); drop() makes the
 * sensor go silent and publishes its availability offline, the bridge staying
 * connected; stop() detaches the sensor and the last one out stops the bridge
 * gracefully (bridge/state offline, then DISCONNECT).
 *
 * QoS: Zigbee2MQTT publishes at QoS 0 unless a device's `qos` option says
 * otherwise; the simulator uses QoS 1 by default (as with `qos: 1`) so that
 * every reading resolves on its PUBACK, like every other simulated device.
 */
import type { IConnackPacket, MqttClient } from 'mqtt';
import type { CredentialFormat } from '../../core/signals.js';
import type { DeviceInfo } from '../../core/site/model.js';
import { MODEL_DEFAULTS } from '../../core/site/models.js';
import { UPLINK_CHANNELS, type UplinkChannel } from '../../core/protocol/topics.js';
import {
  connectNoDelay,
  type ChannelCounters,
  type DeviceCounters,
  type HealthReading,
  type MqttConnect,
  type PowerReading,
  SimDeviceError,
  type SimLogger,
  silentLogger,
} from './canonical.js';
import type { SimDevice, SimDeviceOptions } from './types.js';

/** `json`: {"state":"online"} (2.x; 1.x with legacy_availability_payload: false). `legacy`: online/offline (1.x default). */
export type Z2mAvailabilityStyle = 'json' | 'legacy';
/** Zigbee2MQTT's advanced.last_seen (ISO_8601_local left out: the gateway reads it like ISO_8601). */
export type Z2mLastSeen = 'ISO_8601' | 'epoch' | 'disable';

export interface Z2mBridgeOptions {
  /** The zigbee-bridge device (its mqtt identity and base topic). */
  readonly bridge: DeviceInfo;
  /** The bridge's MQTT password; undefined makes start() fail with `refused`. */
  readonly secret: string | undefined;
  readonly brokerUrl: string;
  readonly logger?: SimLogger;
  readonly connect?: MqttConnect;
  /** How long start() waits for the CONNACK and the online state's PUBACK (default 30 s). */
  readonly connectTimeoutMs?: number;
  /** Automatic reconnect period after a lost connection (default 1000 ms). */
  readonly reconnectPeriodMs?: number;
  /** Default `json`. */
  readonly availability?: Z2mAvailabilityStyle;
  /** Default `ISO_8601`. */
  readonly lastSeen?: Z2mLastSeen;
  /** Default 1 (see the module comment). */
  readonly qos?: 0 | 1;
}

type BridgeState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stopping';

interface Pending {
  settled: boolean;
  readonly resolve: () => void;
  readonly reject: (err: SimDeviceError) => void;
}

/** The one MQTT connection of a simulated Zigbee2MQTT instance. */
export class Z2mBridge {
  readonly id: string;
  /** mqtt.base_topic. */
  readonly base: string;
  private readonly log: SimLogger;
  private readonly connectFn: MqttConnect;
  private readonly style: Z2mAvailabilityStyle;
  private readonly lastSeenStyle: Z2mLastSeen;
  private readonly qos: 0 | 1;
  private client: MqttClient | undefined;
  private state: BridgeState = 'idle';
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly pending = new Set<Pending>();
  private readonly attached = new Set<string>();
  private readonly commandListeners = new Map<string, () => void>();
  private connectsValue = 0;
  private errorsSinceConnect = 0;
  /** Messages heard on the subscription (its own included, as Zigbee2MQTT hears them). */
  received = 0;

  constructor(private readonly opts: Z2mBridgeOptions) {
    const mqtt = opts.bridge.mqtt;
    if (opts.bridge.kind !== 'zigbee-bridge' || !mqtt) throw new Error(`Z2mBridge: ${opts.bridge.id} is not a zigbee-bridge with an MQTT identity`);
    this.id = opts.bridge.id;
    this.base = mqtt.topic;
    this.log = opts.logger ?? silentLogger;
    this.connectFn = opts.connect ?? connectNoDelay;
    this.style = opts.availability ?? 'json';
    this.lastSeenStyle = opts.lastSeen ?? 'ISO_8601';
    this.qos = opts.qos ?? 1;
  }

  /** The bridge of `bridge` in a fleet's shared map, created (inert) on first use. */
  static shared(shared: Map<string, unknown>, opts: Z2mBridgeOptions): Z2mBridge {
    const key = `zigbee2mqtt:${opts.bridge.id}`;
    let b = shared.get(key);
    if (!(b instanceof Z2mBridge)) {
      b = new Z2mBridge(opts);
      shared.set(key, b);
    }
    return b as Z2mBridge;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Started and not dropped or stopped (MQTT.js queues publishes while it reconnects). */
  get running(): boolean {
    return this.state === 'connecting' || this.state === 'connected' || this.state === 'reconnecting';
  }

  get connects(): number {
    return this.connectsValue;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  get stateTopic(): string {
    return `${this.base}/bridge/state`;
  }

  /** An availability payload in the bridge's style. */
  availabilityPayload(online: boolean): string {
    const state = online ? 'online' : 'offline';
    return this.style === 'legacy' ? state : JSON.stringify({ state });
  }

  /** `last_seen` for a message at `ts`, or undefined when disabled. */
  lastSeen(ts: number): string | number | undefined {
    switch (this.lastSeenStyle) {
      case 'ISO_8601':
        return new Date(ts).toISOString();
      case 'epoch':
        return ts;
      case 'disable':
        return undefined;
    }
  }

  /** A sensor that uses the connection: the bridge stops when the last one detaches. */
  attach(sensor: string, onCommand?: () => void, friendlyName?: string): void {
    this.attached.add(sensor);
    if (onCommand && friendlyName !== undefined) this.commandListeners.set(`${this.base}/${friendlyName}/set`, onCommand);
  }

  /** Detaches a sensor; resolves when the bridge has stopped, if it was the last one. */
  async detach(sensor: string, timeoutMs?: number): Promise<void> {
    if (!this.attached.delete(sensor)) return;
    if (this.attached.size === 0) await this.stop(timeoutMs);
  }

  /**
   * Connects (once; concurrent callers share the attempt) and resolves when the
   * retained online state is acknowledged. Idempotent while running.
   */
  start(): Promise<void> {
    if (this.running && !this.starting) return Promise.resolve();
    this.starting ??= this.connectOnce().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async connectOnce(): Promise<void> {
    if (this.stopping) await this.stopping;
    const secret = this.opts.secret;
    if (secret === undefined) throw new SimDeviceError('refused', this.id, 'no secret for the bridge in the secrets file');
    const mqtt = this.opts.bridge.mqtt!;
    const timeoutMs = this.opts.connectTimeoutMs ?? 30_000;
    const client = this.connectFn(this.opts.brokerUrl, {
      clientId: mqtt.clientId,
      username: mqtt.username,
      password: secret,
      protocolVersion: 4,
      clean: false,
      keepalive: 60,
      reconnectPeriod: this.opts.reconnectPeriodMs ?? 1000,
      connectTimeout: timeoutMs,
      // [MQTT-3.1.2-8] the broker publishes it when the connection ends without DISCONNECT.
      will: { topic: this.stateTopic, payload: Buffer.from(this.availabilityPayload(false)), qos: 1, retain: true },
      resubscribe: false,
    });
    this.client = client;
    this.state = 'connecting';
    let online: Promise<void> | undefined;

    client.on('connect', (connack: IConnackPacket) => {
      if (this.client !== client) return;
      this.connectsValue++;
      this.errorsSinceConnect = 0;
      this.state = 'connected';
      // Zigbee2MQTT says it is online on every (re)connect: its will may have fired meanwhile.
      online = this.publish(this.stateTopic, this.availabilityPayload(true), true);
      online.catch((err: unknown) => this.log.debug({ device: this.id, err: (err as Error).message }, 'bridge online state not acknowledged'));
      if (!connack.sessionPresent) {
        client.subscribe(`${this.base}/#`, { qos: 0 }, (err) => {
          if (err && this.client === client) this.log.warn({ device: this.id, err: err.message }, 'bridge subscription failed');
        });
      }
    });
    client.on('message', (topic) => {
      this.received++;
      this.commandListeners.get(topic)?.();
    });
    client.on('close', () => {
      if (this.client === client && this.state === 'connected') this.state = 'reconnecting';
    });
    client.on('error', (err) => {
      this.errorsSinceConnect++;
      this.log[this.errorsSinceConnect === 1 ? 'warn' : 'debug']({ device: this.id, err: err.message }, 'bridge mqtt error');
    });

    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new SimDeviceError('connect_timeout', this.id, `no CONNACK from ${this.opts.brokerUrl} within ${timeoutMs} ms`)), timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        client.off('connect', onConnect);
        client.off('error', onError);
        client.off('end', onEnd);
      };
      const fail = (err: SimDeviceError): void => {
        cleanup();
        if (this.client === client) this.abandon(client, err);
        reject(err);
      };
      const onConnect = (): void => {
        cleanup();
        resolve();
      };
      const onError = (err: Error & { code?: unknown }): void => {
        // A CONNACK refusal carries a numeric return code; socket errors are retried by MQTT.js.
        if (typeof err.code === 'number') fail(new SimDeviceError('refused', this.id, `connection refused: ${err.message}`));
      };
      const onEnd = (): void => fail(new SimDeviceError('not_running', this.id, 'dropped or stopped while connecting'));
      client.on('connect', onConnect);
      client.on('error', onError);
      client.on('end', onEnd);
    });
    if (online) await withTimeout(online, timeoutMs, this.id);
  }

  /**
   * Publishes one message on the bridge's connection; resolves on its PUBACK (QoS 1) or once written
   * (QoS 0). Use QoS 0 for a message the broker will refuse: MQTT.js would resend a QoS 1 one after
   * every reconnect.
   */
  publish(topic: string, payload: string, retain = false, qos: 0 | 1 = this.qos): Promise<void> {
    const client = this.client;
    if (!client || !this.running) return Promise.reject(new SimDeviceError('not_running', this.id, `bridge not running (${this.state}); start a sensor first`));
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = { settled: false, resolve, reject };
      this.pending.add(entry);
      client.publish(topic, payload, { qos, retain }, (err) => {
        if (entry.settled) return;
        entry.settled = true;
        this.pending.delete(entry);
        if (err) reject(new SimDeviceError('publish_failed', this.id, `${topic}: ${err.message}`));
        else resolve();
      });
    });
  }

  /** A state message for a device of the Zigbee network (listed in the site file or not), as Zigbee2MQTT sends it. */
  publishState(friendlyName: string, state: Readonly<Record<string, unknown>>, ts?: number): Promise<void> {
    const lastSeen = ts === undefined ? undefined : this.lastSeen(ts);
    return this.publish(`${this.base}/${friendlyName}`, JSON.stringify(lastSeen === undefined ? state : { ...state, last_seen: lastSeen }));
  }

  private failPending(err: SimDeviceError): void {
    for (const p of this.pending) {
      if (p.settled) continue;
      p.settled = true;
      p.reject(err);
    }
    this.pending.clear();
  }

  private abandon(client: MqttClient, err: SimDeviceError): void {
    this.client = undefined;
    this.state = 'idle';
    // end(true): no DISCONNECT, so the broker publishes the will.
    client.end(true);
    this.failPending(err);
  }

  /** The bridge process dies: socket closed without DISCONNECT, the will (bridge/state offline) fires. */
  drop(): void {
    const client = this.client;
    if (!client || this.state === 'stopping') return;
    this.log.debug({ device: this.id }, 'dropping bridge connection');
    this.abandon(client, new SimDeviceError('lost', this.id, 'bridge connection dropped before PUBACK'));
  }

  /** Zigbee2MQTT stopping: bridge/state offline (retained), then DISCONNECT. Idempotent. */
  stop(timeoutMs = 2000): Promise<void> {
    if (this.stopping) return this.stopping;
    const client = this.client;
    if (!client) return Promise.resolve();
    const wasConnected = this.state === 'connected';
    const run = async (): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      const remaining = (): number => Math.max(0, deadline - Date.now());
      let clean = false;
      if (wasConnected) {
        const bye = this.publish(this.stateTopic, this.availabilityPayload(false), true);
        this.state = 'stopping';
        const said = await withTimeout(bye, remaining(), this.id).then(
          () => true,
          () => false,
        );
        if (said) {
          const ended = new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
          clean = await withTimeout(ended, remaining(), this.id).then(
            () => true,
            () => false,
          );
        }
      }
      this.state = 'stopping';
      if (!clean) {
        client.end(true);
        client.stream?.destroy();
      }
      this.failPending(new SimDeviceError('lost', this.id, 'bridge stopped before PUBACK'));
      this.client = undefined;
      this.state = 'idle';
    };
    this.stopping = run().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }
}

/** How a sensor model reports (zigbee2mqtt.io device pages, "Exposes"). */
type SensorStyle = 'lumi' | 'ias';

/**
 * Aqara/Xiaomi ("lumi") PIR sensors report only occupancy:true; the models
 * core/site/models.ts gives an occupancy timeout are exactly the ones that
 * never report free. Everything else (SNZB-03 and other IAS zone sensors)
 * reports true and false.
 */
export function sensorStyle(model: string | null): SensorStyle {
  const m = model?.toLowerCase();
  if (m === undefined || !Object.hasOwn(MODEL_DEFAULTS, m)) return 'ias';
  return MODEL_DEFAULTS[m]?.occupancyTimeoutS !== undefined ? 'lumi' : 'ias';
}

/** A small deterministic number in [lo, hi] from a string (stable per sensor, no randomness). */
function spread(s: string, lo: number, hi: number): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return lo + ((h >>> 0) % (hi - lo + 1));
}

export interface Z2mSensorOptions {
  readonly device: DeviceInfo;
  readonly bridge: Z2mBridge;
  /** Boot counter (Zigbee2MQTT messages carry none; reported as is). */
  readonly boot: number;
  /** Clock (epoch ms) for readings given without a time. Default Date.now. */
  readonly clock?: () => number;
  readonly logger?: SimLogger;
}

/** One occupancy sensor paired with a simulated Zigbee2MQTT bridge. */
export class Z2mSensor implements SimDevice {
  readonly id: string;
  readonly boot: number;
  readonly friendlyName: string;
  readonly style: SensorStyle;
  readonly bridge: Z2mBridge;
  private readonly clock: () => number;
  private readonly log: SimLogger;
  private runningValue = false;
  private inFlightValue = 0;
  private commands = 0;
  private batteryPct = 100;
  private linkQuality: number;
  private powerOutages: number;
  private readonly counters: Record<UplinkChannel, ChannelCounters>;

  constructor(opts: Z2mSensorOptions) {
    const b = opts.device.bridge;
    if (!b) throw new Error(`Z2mSensor: ${opts.device.id} is not paired with a bridge (bridge: in the site file)`);
    this.id = opts.device.id;
    this.boot = opts.boot;
    this.friendlyName = b.friendlyName;
    this.style = sensorStyle(opts.device.model);
    this.bridge = opts.bridge;
    this.clock = opts.clock ?? Date.now;
    this.log = opts.logger ?? silentLogger;
    this.linkQuality = spread(this.id, 60, 200);
    this.powerOutages = spread(`${this.id}:outages`, 0, 12);
    this.counters = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, { published: 0, acked: 0, errors: 0 }])) as Record<UplinkChannel, ChannelCounters>;
  }

  get stateTopic(): string {
    return `${this.bridge.base}/${this.friendlyName}`;
  }

  get availabilityTopic(): string {
    return `${this.stateTopic}/availability`;
  }

  get connected(): boolean {
    return this.runningValue && this.bridge.connected;
  }

  get inFlight(): number {
    return this.inFlightValue;
  }

  stats(): DeviceCounters {
    const channels = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, { ...this.counters[c] }])) as Record<UplinkChannel, ChannelCounters>;
    return { channels, commands: this.commands, connects: this.bridge.connects, inFlight: this.inFlightValue };
  }

  /** Starts the bridge if it is not running, then announces the sensor (availability online, retained). */
  async start(): Promise<void> {
    this.bridge.attach(this.id, () => this.commands++, this.friendlyName);
    await this.bridge.start();
    if (this.runningValue) return;
    this.runningValue = true;
    await this.send('status', this.availabilityTopic, this.bridge.availabilityPayload(true), true);
  }

  /**
   * The sensor falls off the Zigbee network (battery out, out of range):
   * silent from now on, and Zigbee2MQTT's availability check marks it offline.
   * The bridge stays connected.
   */
  drop(): void {
    if (!this.runningValue) return;
    this.runningValue = false;
    if (!this.bridge.running) return;
    this.send('status', this.availabilityTopic, this.bridge.availabilityPayload(false), true).catch((err: unknown) =>
      this.log.debug({ device: this.id, err: (err as Error).message }, 'offline availability not acknowledged'),
    );
  }

  /** Detaches from the bridge (the last sensor out stops it). A sensor itself announces nothing. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.runningValue = false;
    await this.bridge.detach(this.id, timeoutMs);
  }

  occupancy(occupied: boolean, ts?: number): Promise<void> {
    if (!this.runningValue) return Promise.reject(this.notRunning());
    // Aqara/Xiaomi sensors never say "free" (the gateway's DeviceWatch times them out).
    if (!occupied && this.style === 'lumi') return Promise.resolve();
    const t = Math.round(ts ?? this.clock());
    const state: Record<string, unknown> =
      this.style === 'lumi'
        ? { illuminance: this.lux(t), illuminance_lux: this.lux(t), linkquality: this.linkQuality, occupancy: true }
        : { battery_low: this.batteryPct < 20, linkquality: this.linkQuality, occupancy: occupied };
    return this.sendState('occupancy', state, t);
  }

  /** The sensor's periodic report: battery and link quality (plus what its model adds). */
  health(reading: HealthReading, ts?: number): Promise<void> {
    if (!this.runningValue) return Promise.reject(this.notRunning());
    if (reading.batteryPct !== undefined) this.batteryPct = Math.max(0, Math.min(100, Math.round(reading.batteryPct)));
    if (reading.linkQuality !== undefined) this.linkQuality = Math.max(0, Math.min(255, Math.round(reading.linkQuality)));
    const t = Math.round(ts ?? this.clock());
    const state: Record<string, unknown> =
      this.style === 'lumi'
        ? {
            battery: this.batteryPct,
            device_temperature: spread(`${this.id}:${Math.floor(t / 3_600_000)}`, 22, 30),
            linkquality: this.linkQuality,
            power_outage_count: this.powerOutages,
            // Zigbee2MQTT derives a lumi sensor's percentage from its CR2450 voltage (2850–3000 mV).
            voltage: Math.round(2850 + this.batteryPct * 1.5),
          }
        : { battery: this.batteryPct, battery_low: this.batteryPct < 20, linkquality: this.linkQuality, voltage: Math.round(2500 + this.batteryPct * 5) };
    return this.sendState('health', state, t);
  }

  badge(_format: CredentialFormat, _card: string): Promise<void> {
    return Promise.reject(new SimDeviceError('publish_failed', this.id, 'a Zigbee2MQTT occupancy sensor reads no badges'));
  }

  power(_reading: PowerReading): Promise<void> {
    return Promise.reject(new SimDeviceError('publish_failed', this.id, 'a Zigbee2MQTT occupancy sensor meters no power'));
  }

  /** Office lighting, a little different per sensor and per minute. */
  private lux(ts: number): number {
    return spread(`${this.id}:${Math.floor(ts / 60_000)}`, 180, 520);
  }

  private sendState(channel: UplinkChannel, state: Record<string, unknown>, ts: number): Promise<void> {
    const lastSeen = this.bridge.lastSeen(ts);
    const body = lastSeen === undefined ? state : { ...state, last_seen: lastSeen };
    return this.send(channel, this.stateTopic, JSON.stringify(body), false);
  }

  private send(channel: UplinkChannel, topic: string, payload: string, retain: boolean): Promise<void> {
    const c = this.counters[channel];
    c.published++;
    this.inFlightValue++;
    return this.bridge.publish(topic, payload, retain).then(
      () => {
        this.inFlightValue--;
        c.acked++;
      },
      (err: unknown) => {
        this.inFlightValue--;
        c.errors++;
        throw err instanceof SimDeviceError ? err : new SimDeviceError('publish_failed', this.id, (err as Error).message);
      },
    );
  }

  private notRunning(): SimDeviceError {
    return new SimDeviceError('not_running', this.id, 'not running (dropped, stopped or not started); start() it first');
  }
}

/** The fleet's factory: sensors of one bridge share its connection through `shared`. */
export function createZigbee2mqttSensor(o: SimDeviceOptions): SimDevice {
  const bridgeId = o.device.bridge?.device;
  const bridgeInfo = bridgeId === undefined ? undefined : o.site.devices.get(bridgeId);
  if (!bridgeInfo) throw new Error(`${o.device.id}: a Zigbee2MQTT sensor needs its bridge device (bridge: in the site file)`);
  const bridge = Z2mBridge.shared(o.shared, {
    bridge: bridgeInfo,
    secret: o.secretOf(bridgeInfo.id),
    brokerUrl: o.brokerUrl,
    logger: o.logger,
    ...(o.connect && { connect: o.connect }),
    ...(o.connectTimeoutMs !== undefined && { connectTimeoutMs: o.connectTimeoutMs }),
  });
  return new Z2mSensor({ device: o.device, bridge, boot: o.boot, clock: o.clock, logger: o.logger });
}

function withTimeout<T>(p: Promise<T>, ms: number, device: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new SimDeviceError('connect_timeout', device, `not acknowledged within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
