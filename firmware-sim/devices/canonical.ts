/**
 * A simulated device speaking the canonical protocol (core/protocol): one MQTT
 * connection (client id = user name = device id, password = device secret),
 * QoS 1 JSON uplinks with `boot`/`seq`, a retained `status` that doubles as
 * the last will, and a subscription to its command topics.
 *
 * Lifecycle: inert constructor; `start()` connects; `stop()` says goodbye
 * (retained `{"online":false}`, then DISCONNECT) and is idempotent; `drop()`
 * kills the socket without DISCONNECT, as a power cut or a lost link would,
 * so the broker publishes the will. `start()` again afterwards reconnects,
 * with a new boot if given one.
 *
 * Commands (docs/protocol.md, "Commands"): each message on the device's
 * `cmd/<command>` topics is read with core/protocol/commands.ts and acted on
 * as the device's kind would: a door controller unlocks, a meter switches its
 * relay, a reader keeps the last feedback and session message. A command the
 * device cannot use (malformed, not for its kind, for another device) is
 * logged, counted and ignored; nothing a broker sends can throw. The retained
 * `config` is applied only when its version differs from the one the device
 * holds, as firmware keeps it in flash: the same config delivered again (on a
 * reconnect that lost the session, or a gateway restart) changes nothing.
 * Once a config with `heartbeatS` is applied the device sends a health
 * message (link quality) that often while it is connected.
 */
import { createConnection } from 'node:net';
import { connect as mqttConnect, type IClientOptions, type IConnackPacket, MqttClient } from 'mqtt';
import type { BadgePayload, HealthPayload, OccupancyPayload, PowerPayload, StatusPayload } from '../../core/protocol/canonical.js';
import {
  parseCommand,
  type CommandName,
  type ConfigCommand,
  type FeedbackCommand,
  type ParsedCommand,
  type SessionCommand,
} from '../../core/protocol/commands.js';
import { commandFilter, parseTopic, type UplinkChannel, uplinkTopic, UPLINK_CHANNELS } from '../../core/protocol/topics.js';
import type { CredentialFormat } from '../../core/signals.js';
import type { DeviceInfo, DeviceKind } from '../../core/site/model.js';

/** The logging surface the simulator uses; a pino logger fits it. */
export interface SimLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: SimLogger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} });

/** Opens an MQTT client; injectable so tests can hand in a fake or a pre-wired client. */
export type MqttConnect = (brokerUrl: string, options: IClientOptions) => MqttClient;

/**
 * MQTT.js over TCP with TCP_NODELAY from the first byte. MQTT.js and Node leave
 * Nagle's algorithm on, which holds small QoS 1 packets back up to ~40 ms
 * behind an unacknowledged segment; MQTT.js accepts a stream builder, so the
 * socket is opened here with `noDelay`. Other transports (mqtts:, ws:) go
 * through MQTT.js's own builders; the device sets no-delay on connect.
 */
export const connectNoDelay: MqttConnect = (brokerUrl, options) => {
  const url = new URL(brokerUrl);
  if (url.protocol !== 'mqtt:' && url.protocol !== 'tcp:') return mqttConnect(brokerUrl, options);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = url.port === '' ? 1883 : Number(url.port);
  return new MqttClient(() => createConnection({ host, port, noDelay: true }), { ...options, protocol: 'mqtt', host, port });
};

/** What the caller should do about a failed publish or start. */
export type SimDeviceErrorCode =
  /** The device is not started, was dropped or stopped: start it again first. */
  | 'not_running'
  /** The connection went away (drop/stop) before the PUBACK: the message may or may not have arrived. */
  | 'lost'
  /** The broker refused the connection (CONNACK return code): check the device secret. */
  | 'refused'
  /** No CONNACK within the start timeout: the broker is unreachable; retry later. */
  | 'connect_timeout'
  /** MQTT.js reported an error for this publish. */
  | 'publish_failed';

export class SimDeviceError extends Error {
  constructor(
    readonly code: SimDeviceErrorCode,
    readonly device: string,
    message: string,
  ) {
    super(`${device}: ${message}`);
    this.name = 'SimDeviceError';
  }
}

export interface ChannelCounters {
  /** Handed to MQTT.js. */
  published: number;
  /** PUBACK received. */
  acked: number;
  /** Failed or lost before the PUBACK. */
  errors: number;
}

export interface DeviceCounters {
  readonly channels: Readonly<Record<UplinkChannel, Readonly<ChannelCounters>>>;
  /** Messages received on the device's command topics. */
  readonly commands: number;
  /** Successful CONNACKs, including automatic reconnects. */
  readonly connects: number;
  readonly inFlight: number;
}

export interface PowerReading {
  readonly powerW: number;
  /** Cumulative counter; when left out the device integrates its own from successive readings. */
  readonly energyKwh?: number;
  readonly voltageV?: number;
  readonly currentA?: number;
  readonly on?: boolean;
}

export interface HealthReading {
  readonly batteryPct?: number;
  readonly linkQuality?: number;
}

/** Repeating timers for heartbeats; injectable so tests can fire them by hand. */
export interface SimTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** Global timers, unref'd: a simulated device's heartbeat never keeps the process alive. */
export const defaultSimTimers: SimTimers = Object.freeze({
  setInterval(fn: () => void, ms: number): unknown {
    const t = setInterval(fn, ms);
    t.unref();
    return t;
  },
  clearInterval(handle: unknown): void {
    clearInterval(handle as ReturnType<typeof setInterval>);
  },
});

/**
 * A command the device understood and acted on, as its listeners see it.
 * `applied` is false only for a config whose version the device already held.
 */
export type ReceivedCommand = ParsedCommand & {
  readonly topic: string;
  readonly retain: boolean;
  readonly applied: boolean;
  /** Device clock when it arrived. */
  readonly at: number;
};

export type CommandListener = (command: ReceivedCommand) => void;

/** Which commands each kind of canonical device acts on (the gateway's canonical encoder sends no others). */
const COMMANDS_BY_KIND: Readonly<Record<DeviceKind, ReadonlySet<CommandName>>> = Object.freeze({
  'door-controller': new Set<CommandName>(['unlock', 'feedback', 'config']),
  'badge-reader': new Set<CommandName>(['feedback', 'session', 'config']),
  'power-meter': new Set<CommandName>(['power']),
  'occupancy-sensor': new Set<CommandName>(),
  'zigbee-bridge': new Set<CommandName>(),
});

/** Link quality the device reports in its heartbeats unless told otherwise. */
const DEFAULT_LINK_QUALITY = 200;

export interface CanonicalDeviceOptions {
  /** Site id: the <site> level of every topic. */
  readonly site: string;
  readonly device: DeviceInfo;
  readonly secret: string;
  /** mqtt://host:port (tcp: too; mqtts:, ws: through MQTT.js's defaults). */
  readonly brokerUrl: string;
  /** Boot counter or boot time in seconds; must change whenever `seq` restarts. */
  readonly boot: number;
  /** Device clock (epoch ms) for readings given without a time. Default Date.now. */
  readonly clock?: () => number;
  readonly logger?: SimLogger;
  readonly connect?: MqttConnect;
  /** Automatic reconnect period after a lost connection (default 1000 ms). */
  readonly reconnectPeriodMs?: number;
  /** How long start() waits for the first CONNACK (default 30 s). */
  readonly connectTimeoutMs?: number;
  /** Starting value of the device's energy counter (default 0). */
  readonly energyKwh?: number;
  /**
   * Send the heartbeats an applied config asks for (default true). False for
   * tests that count a device's messages exactly; see also setHeartbeats().
   */
  readonly heartbeats?: boolean;
  /** Link quality (0–255) the heartbeats report (default 200). */
  readonly linkQuality?: number;
  /** Timers for heartbeats (default: global, unref'd). */
  readonly timers?: SimTimers;
}

type State = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stopping';

const ONLINE: StatusPayload = { online: true };
const OFFLINE: StatusPayload = { online: false };

const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

interface Pending {
  readonly channel: UplinkChannel;
  settled: boolean;
  readonly resolve: () => void;
  readonly reject: (err: SimDeviceError) => void;
}

export class CanonicalDevice {
  readonly id: string;
  private readonly site: string;
  private readonly log: SimLogger;
  private readonly clock: () => number;
  private readonly connectFn: MqttConnect;
  private client: MqttClient | undefined;
  private state: State = 'idle';
  private bootValue: number;
  private seqValue = 0;
  private energyKwhValue: number;
  private lastPower: { readonly ts: number; readonly watts: number } | undefined;
  private readonly pending = new Set<Pending>();
  private readonly counters: Record<UplinkChannel, ChannelCounters>;
  private commands = 0;
  private connects = 0;
  private errorsSinceConnect = 0;
  private stopping: Promise<void> | undefined;
  /** PUBACK of the online status sent on the latest connect. */
  private onlineAck: Promise<void> | undefined;
  /** Rejects a start() still waiting for its CONNACK (drop or stop meanwhile). */
  private abortStart: ((err: SimDeviceError) => void) | undefined;
  /** Commands this kind of device acts on. */
  private readonly takes: ReadonlySet<CommandName>;
  private readonly listeners = new Set<CommandListener>();
  private readonly timers: SimTimers;
  // What commands left behind, as the firmware would hold it.
  private configHeld: ConfigCommand | undefined;
  private configApplied = 0;
  private commandErrorsValue = 0;
  private unlockedUntilValue: number | null = null;
  private feedbackValue: FeedbackCommand | undefined;
  private sessionValue: SessionCommand | undefined;
  private relayValue: boolean | undefined;
  private heartbeatsOn: boolean;
  /** The running heartbeat timer and its period (s). */
  private heartbeat: { readonly handle: unknown; readonly everyS: number } | undefined;

  constructor(private readonly opts: CanonicalDeviceOptions) {
    this.id = opts.device.id;
    this.site = opts.site;
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? Date.now;
    this.connectFn = opts.connect ?? connectNoDelay;
    this.bootValue = opts.boot;
    this.energyKwhValue = opts.energyKwh ?? 0;
    this.takes = COMMANDS_BY_KIND[opts.device.kind];
    this.timers = opts.timers ?? defaultSimTimers;
    this.heartbeatsOn = opts.heartbeats ?? true;
    this.counters = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, { published: 0, acked: 0, errors: 0 }])) as Record<
      UplinkChannel,
      ChannelCounters
    >;
  }

  get boot(): number {
    return this.bootValue;
  }

  /** Sequence number the next uplink will carry. */
  get nextSeq(): number {
    return this.seqValue;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Started and not dropped or stopped: publishes are accepted (MQTT.js queues them while reconnecting). */
  get running(): boolean {
    return this.state === 'connecting' || this.state === 'connected' || this.state === 'reconnecting';
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** The configuration the device holds (the last one applied), with its version. */
  get config(): ConfigCommand | undefined {
    return this.configHeld;
  }

  get configVersion(): string | undefined {
    return this.configHeld?.version;
  }

  /** Configs applied: each a new version. The same version received again is not counted. */
  get configApplications(): number {
    return this.configApplied;
  }

  /** Command messages ignored: malformed, not for this kind of device, or for another device. */
  get commandErrors(): number {
    return this.commandErrorsValue;
  }

  /** Door controllers: device time (epoch ms) until which the last unlock holds the door open; null before one. */
  get unlockedUntil(): number | null {
    return this.unlockedUntilValue;
  }

  /** Door controllers: whether the door is unlocked at `now` (device clock by default). */
  unlocked(now: number = this.clock()): boolean {
    return this.unlockedUntilValue !== null && now < this.unlockedUntilValue;
  }

  /** Readers and door controllers: what the reader shows since the last swipe. */
  get lastFeedback(): FeedbackCommand | undefined {
    return this.feedbackValue;
  }

  /** Machine readers: the last session message. */
  get lastSession(): SessionCommand | undefined {
    return this.sessionValue;
  }

  /** Power meters: the relay as the last power command left it; undefined before one. */
  get relayOn(): boolean | undefined {
    return this.relayValue;
  }

  /** Period of the heartbeat being sent now, s; null when none is (no config asks, not connected, or turned off). */
  get heartbeatS(): number | null {
    return this.heartbeat?.everyS ?? null;
  }

  /**
   * Turns heartbeats off or on while the device stays connected: off, it is a
   * controller whose firmware has hung with its MQTT stack still answering
   * pings, which the gateway must notice from the missing beats.
   */
  setHeartbeats(on: boolean): void {
    this.heartbeatsOn = on;
    this.syncHeartbeat();
  }

  /** Calls `listener` for every command the device acts on; returns the unsubscribe. Listener errors are logged, never thrown. */
  onCommand(listener: CommandListener): () => void {
    const entry: CommandListener = (c) => listener(c);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  stats(): DeviceCounters {
    const channels = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, { ...this.counters[c] }])) as Record<UplinkChannel, ChannelCounters>;
    return { channels, commands: this.commands, connects: this.connects, inFlight: this.pending.size };
  }

  /**
   * Connects, publishes the retained online status and subscribes to the
   * command topics; resolves once the broker has acknowledged the online
   * status, so it is retained when start() returns. `boot` starts a new boot
   * (seq back to 0), as after a power cycle. Idempotent while running.
   */
  async start(opts: { readonly boot?: number } = {}): Promise<void> {
    if (this.running) return;
    if (this.stopping) await this.stopping;
    if (opts.boot !== undefined && opts.boot !== this.bootValue) {
      this.bootValue = opts.boot;
      this.seqValue = 0;
    }
    const statusTopic = uplinkTopic(this.site, this.id, 'status');
    const client = this.connectFn(this.opts.brokerUrl, {
      clientId: this.id,
      username: this.id,
      password: this.opts.secret,
      protocolVersion: 4,
      // Persistent session: QoS 1 messages un-acked when the link drops are resent on reconnect.
      clean: false,
      keepalive: 30,
      reconnectPeriod: this.opts.reconnectPeriodMs ?? 1000,
      connectTimeout: this.opts.connectTimeoutMs ?? 30_000,
      // [MQTT-3.1.2-8] published by the broker when the connection ends without DISCONNECT.
      will: { topic: statusTopic, payload: Buffer.from(JSON.stringify(OFFLINE)), qos: 1, retain: true },
      resubscribe: false,
    });
    this.client = client;
    this.setState('connecting');
    this.onlineAck = undefined;

    client.on('connect', (connack: IConnackPacket) => this.onConnect(client, connack));
    client.on('message', (topic, payload, packet) => {
      if (this.client !== client) return;
      this.commands++;
      this.onMessage(topic, payload, packet.retain);
    });
    client.on('close', () => {
      if (this.client === client && this.state === 'connected') this.setState('reconnecting');
    });
    client.on('error', (err) => {
      // While the broker is away MQTT.js retries every second: warn once per outage, not per attempt.
      this.errorsSinceConnect++;
      this.log[this.errorsSinceConnect === 1 ? 'warn' : 'debug']({ device: this.id, err: err.message }, 'mqtt error');
    });

    const timeoutMs = this.opts.connectTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    await new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        client.off('connect', onConnect);
        client.off('error', onError);
        this.abortStart = undefined;
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
        // A CONNACK refusal stops MQTT.js reconnecting (reconnectOnConnackError is off); socket errors retry.
        if (typeof err.code === 'number') fail(new SimDeviceError('refused', this.id, `connection refused: ${err.message}`));
      };
      const timer = setTimeout(
        () => fail(new SimDeviceError('connect_timeout', this.id, `no CONNACK from ${this.opts.brokerUrl} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      client.on('connect', onConnect);
      client.on('error', onError);
      this.abortStart = (err) => {
        cleanup();
        reject(err);
      };
    });
    const online = this.onlineAck;
    if (online) {
      await withTimeout(online, Math.max(0, deadline - Date.now())).catch((err: unknown) => {
        if (err instanceof SimDeviceError) throw err;
        const timeout = new SimDeviceError('connect_timeout', this.id, `online status not acknowledged within ${timeoutMs} ms`);
        if (this.client === client) this.abandon(client, timeout);
        throw timeout;
      });
    }
  }

  private onConnect(client: MqttClient, connack: IConnackPacket): void {
    if (this.client !== client) return;
    this.connects++;
    this.errorsSinceConnect = 0;
    this.setState('connected');
    const stream = client.stream as { setNoDelay?: (on: boolean) => void } | undefined;
    stream?.setNoDelay?.(true);
    // The will may have fired while the link was down: say we are back on every (re)connect.
    const ack = this.publishRaw('status', ONLINE, true);
    this.onlineAck = ack;
    ack.catch((err: unknown) => {
      // Lost to a drop or stop right after connecting: expected, the next connect says it again.
      const lost = err instanceof SimDeviceError && (err.code === 'lost' || err.code === 'not_running');
      this.log[lost ? 'debug' : 'warn']({ device: this.id, err: (err as Error).message }, 'online status not acknowledged');
    });
    // MQTT.js resubscribes only for clean sessions; after a broker that lost our session, do it here.
    if (!connack.sessionPresent) {
      client.subscribe(commandFilter(this.site, this.id), { qos: 1 }, (err) => {
        if (err && this.client === client) this.log.warn({ device: this.id, err: err.message }, 'command subscription failed');
      });
    }
  }

  /** Sets the state, and starts or stops the heartbeat to match: it runs only while connected. */
  private setState(state: State): void {
    this.state = state;
    this.syncHeartbeat();
  }

  private syncHeartbeat(): void {
    const everyS = this.state === 'connected' && this.heartbeatsOn ? this.configHeld?.heartbeatS : undefined;
    if (this.heartbeat?.everyS === everyS) return;
    if (this.heartbeat) this.timers.clearInterval(this.heartbeat.handle);
    this.heartbeat = undefined;
    if (everyS === undefined) return;
    const handle = this.timers.setInterval(() => this.beat(), everyS * 1000);
    this.heartbeat = { handle, everyS };
  }

  private beat(): void {
    if (this.state !== 'connected') return;
    this.health({ linkQuality: this.opts.linkQuality ?? DEFAULT_LINK_QUALITY }).catch((err: unknown) => {
      // A beat lost to a drop is just a missed beat: the next connect starts them again.
      this.log.debug({ device: this.id, err: (err as Error).message }, 'heartbeat not acknowledged');
    });
  }

  /** One message on the command topics: parsed, acted on, announced. Never throws. */
  private onMessage(topic: string, payload: Buffer, retain: boolean): void {
    try {
      const t = parseTopic(topic);
      if (t.type !== 'command' || t.site !== this.site || t.device !== this.id) return this.ignore(topic, 'not_own_command', 'not one of this device’s command topics');
      const parsed = parseCommand(t.command, payload);
      if (!parsed.ok) return this.ignore(topic, parsed.reason, parsed.detail);
      const c = parsed.command;
      if (!this.takes.has(c.name)) return this.ignore(topic, 'not_for_kind', `a ${this.opts.device.kind} does not take ${c.name}`);
      if (c.name === 'config' && (c.payload.site !== this.site || c.payload.device !== this.id)) {
        return this.ignore(topic, 'other_device', `config is for ${c.payload.site}/${c.payload.device}`);
      }
      const at = this.clock();
      const applied = this.act(c, at);
      this.log.debug({ device: this.id, command: c.name, applied }, 'command received');
      this.emit({ ...c, topic, retain, applied, at });
    } catch (err) {
      // A simulated device must survive anything a broker delivers; a throw here would be a bug in the sim.
      this.ignore(topic, 'internal', (err as Error).message);
    }
  }

  /** What the firmware does with a command; false for a config it already held. */
  private act(c: ParsedCommand, at: number): boolean {
    switch (c.name) {
      case 'unlock':
        this.unlockedUntilValue = at + c.payload.durationMs;
        return true;
      case 'power':
        this.relayValue = c.payload.on;
        return true;
      case 'feedback':
        this.feedbackValue = c.payload;
        return true;
      case 'session':
        this.sessionValue = c.payload;
        return true;
      case 'config':
        if (c.payload.version === this.configHeld?.version) return false;
        this.configHeld = c.payload;
        this.configApplied++;
        this.log.info({ device: this.id, version: c.payload.version, heartbeatS: c.payload.heartbeatS ?? null }, 'configuration applied');
        this.syncHeartbeat();
        return true;
    }
  }

  private ignore(topic: string, reason: string, detail: string): void {
    this.commandErrorsValue++;
    this.log.warn({ device: this.id, topic, reason, detail }, 'command ignored');
  }

  private emit(command: ReceivedCommand): void {
    for (const listener of this.listeners) {
      try {
        listener(command);
      } catch (err) {
        this.log.error({ device: this.id, command: command.name, err: (err as Error).message }, 'command listener failed');
      }
    }
  }

  badge(format: CredentialFormat, card: string, ts?: number): Promise<void> {
    const header = this.header(ts);
    if (header instanceof SimDeviceError) return Promise.reject(header);
    const payload: BadgePayload = { ...header, format, card };
    return this.publishRaw('badge', payload, false);
  }

  occupancy(occupied: boolean, ts?: number): Promise<void> {
    const header = this.header(ts);
    if (header instanceof SimDeviceError) return Promise.reject(header);
    const payload: OccupancyPayload = { ...header, occupied };
    return this.publishRaw('occupancy', payload, false);
  }

  /** `energyKwh` given: the counter follows it (never backwards); left out: the device integrates power over time. */
  power(reading: PowerReading, ts?: number): Promise<void> {
    const header = this.header(ts);
    if (header instanceof SimDeviceError) return Promise.reject(header);
    if (reading.energyKwh !== undefined) {
      this.energyKwhValue = Math.max(this.energyKwhValue, reading.energyKwh);
    } else if (this.lastPower && header.ts > this.lastPower.ts) {
      this.energyKwhValue += (this.lastPower.watts * (header.ts - this.lastPower.ts)) / 3_600_000 / 1000;
    }
    this.lastPower = { ts: header.ts, watts: Math.max(0, reading.powerW) };
    const payload: PowerPayload = {
      ...header,
      power_w: round(Math.max(0, reading.powerW), 1),
      energy_kwh: round(this.energyKwhValue, 3),
      ...(reading.voltageV !== undefined && { voltage_v: round(reading.voltageV, 1) }),
      ...(reading.currentA !== undefined && { current_a: round(reading.currentA, 3) }),
      ...(reading.on !== undefined && { on: reading.on }),
    };
    return this.publishRaw('power', payload, false);
  }

  health(reading: HealthReading, ts?: number): Promise<void> {
    const header = this.header(ts);
    if (header instanceof SimDeviceError) return Promise.reject(header);
    const payload: HealthPayload = {
      ...header,
      ...(reading.batteryPct !== undefined && { battery_pct: reading.batteryPct }),
      ...(reading.linkQuality !== undefined && { link_quality: reading.linkQuality }),
    };
    return this.publishRaw('health', payload, false);
  }

  /** Takes the next seq of this boot; `ts` is always sent (a health report needs ≥ 3 properties). */
  private header(ts: number | undefined): { boot: number; seq: number; ts: number } | SimDeviceError {
    if (!this.running) return this.notRunning();
    return { boot: this.bootValue, seq: this.seqValue++, ts: Math.round(ts ?? this.clock()) };
  }

  private notRunning(): SimDeviceError {
    return new SimDeviceError('not_running', this.id, `not running (${this.state}); start() it first`);
  }

  private publishRaw(channel: UplinkChannel, payload: object, retain: boolean): Promise<void> {
    const client = this.client;
    if (!client || !this.running) return Promise.reject(this.notRunning());
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = { channel, settled: false, resolve, reject };
      this.pending.add(entry);
      this.counters[channel].published++;
      client.publish(uplinkTopic(this.site, this.id, channel), JSON.stringify(payload), { qos: 1, retain }, (err) => {
        if (entry.settled) return;
        entry.settled = true;
        this.pending.delete(entry);
        if (err) {
          this.counters[channel].errors++;
          reject(new SimDeviceError('publish_failed', this.id, `${channel} publish failed: ${err.message}`));
        } else {
          this.counters[channel].acked++;
          resolve();
        }
      });
    });
  }

  /** Rejects every publish still waiting for its PUBACK. */
  private failPending(err: SimDeviceError): void {
    for (const p of this.pending) {
      if (p.settled) continue;
      p.settled = true;
      this.counters[p.channel].errors++;
      p.reject(err);
    }
    this.pending.clear();
  }

  private abandon(client: MqttClient, err: SimDeviceError): void {
    this.client = undefined;
    this.setState('idle');
    client.end(true);
    this.failPending(err);
    this.abortStart?.(new SimDeviceError('not_running', this.id, 'dropped while connecting'));
  }

  /**
   * Abrupt loss: the socket is destroyed without DISCONNECT, so the broker
   * publishes the will (`{"online":false}`, retained). Un-acked publishes are
   * rejected with `lost`. No automatic reconnect; call start() to come back.
   */
  drop(): void {
    const client = this.client;
    if (!client || this.state === 'stopping') return;
    this.log.debug({ device: this.id }, 'dropping connection');
    // end(true) destroys the stream without a DISCONNECT packet and cancels reconnects.
    this.abandon(client, new SimDeviceError('lost', this.id, 'connection dropped before PUBACK'));
  }

  /**
   * Graceful goodbye: retained `{"online":false}` (a DISCONNECT discards the
   * will, [MQTT-3.1.2-10]), then DISCONNECT once in-flight messages are acked,
   * forced after `timeoutMs`. Idempotent.
   */
  stop(timeoutMs = 2000): Promise<void> {
    if (this.stopping) return this.stopping;
    const client = this.client;
    if (!client) return Promise.resolve();
    const wasConnected = this.state === 'connected';
    this.abortStart?.(new SimDeviceError('not_running', this.id, 'stopped while connecting'));
    const run = async (): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      const remaining = (): number => Math.max(0, deadline - Date.now());
      if (!wasConnected) {
        // Nothing to say goodbye over: stop connecting or reconnecting.
        this.setState('stopping');
        client.end(true);
      } else {
        const bye = this.publishRaw('status', OFFLINE, true);
        this.setState('stopping');
        const said = await withTimeout(bye, remaining()).then(
          () => true,
          (err: unknown) => {
            this.log.warn({ device: this.id, err: (err as Error).message }, 'offline status not acknowledged; leaving it to the will');
            return false;
          },
        );
        if (!said) {
          // No DISCONNECT, so the broker publishes the will instead.
          client.end(true);
        } else {
          const ended = new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
          const clean = await withTimeout(ended, remaining()).then(
            () => true,
            () => false,
          );
          if (!clean) {
            this.log.warn({ device: this.id, inFlight: this.pending.size }, 'graceful disconnect timed out; closing the socket');
            // end(true) is a no-op once end() has begun; close the socket directly.
            client.stream?.destroy();
          }
        }
      }
      this.failPending(new SimDeviceError('lost', this.id, 'device stopped before PUBACK'));
      this.client = undefined;
      this.setState('idle');
    };
    this.stopping = run().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
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
