/**
 * A simulated Shelly Plus Plug S (a Gen2 device with one metered switch),
 * speaking what the Shelly Gen2 firmware publishes over MQTT with "RPC status
 * notifications" (rpc_ntf) and "Generic status update" (status_ntf) on
 * (Shelly API docs, Gen2: "MQTT", "Notifications", "Switch", "RPC Protocol"):
 *
 * - connects with its client id and MQTT user (the device's mqtt identity in
 *   the site file) and password, with the will `<prefix>/online` = `false`,
 *   retained; on every connect publishes `<prefix>/online` = `true`, retained,
 *   subscribes to `<prefix>/rpc`, `<prefix>/command` and
 *   `<prefix>/command/switch:0`, and publishes the switch's full status;
 * - power() → a NotifyStatus on `<prefix>/events/rpc` with `params.ts` (Unix
 *   seconds) and `switch:0` {output, apower, voltage, current, aenergy}, and,
 *   at most once per `statusIntervalMs` of device time, the full
 *   `<prefix>/status/switch:0` as status_ntf publishes it; `aenergy.total`
 *   and `by_minute` are in Wh and mWh as the firmware reports them;
 * - health() → `<prefix>/status/wifi` with `rssi` in dBm;
 * - an RPC `Switch.Set` on `<prefix>/rpc` switches the relay, is answered on
 *   `<src>/rpc` with `{"was_on":…}`, and is followed by a NotifyStatus of the
 *   new output and the full status (0 W when off: the meter is behind the
 *   relay); other methods are answered with an error; `<prefix>/command`
 *   `status_update` republishes the status.
 *
 * Shelly publishes at QoS 1, so every reading resolves on its PUBACK.
 * `resetTotalOnReboot` (default off) reproduces older firmware, whose
 * `aenergy.total` started again from 0 after a reboot.
 */
import type { MqttClient } from 'mqtt';
import { UPLINK_CHANNELS, type UplinkChannel } from '../../core/protocol/topics.js';
import type { CredentialFormat } from '../../core/signals.js';
import type { DeviceInfo } from '../../core/site/model.js';
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

export interface ShellyPlugOptions {
  /** A `format: shelly-gen2` device: its mqtt identity (clientId, username, topic prefix). */
  readonly device: DeviceInfo;
  readonly password: string;
  readonly brokerUrl: string;
  /** Boot counter or boot time; a different value in start() is a reboot. */
  readonly boot: number;
  /** Device clock (epoch ms) for readings given without a time. Default Date.now. */
  readonly clock?: () => number;
  readonly logger?: SimLogger;
  readonly connect?: MqttConnect;
  /** How long start() waits for the CONNACK, SUBACK and online acknowledgement (default 30 s). */
  readonly connectTimeoutMs?: number;
  /** Automatic reconnect period after a lost connection (default 1000 ms). */
  readonly reconnectPeriodMs?: number;
  /** `aenergy.total` when the simulation starts, kWh (default 0). */
  readonly energyKwh?: number;
  /** `aenergy.total` back to 0 on a reboot, as older firmware did (default false). */
  readonly resetTotalOnReboot?: boolean;
  /** Full status/switch:0 at most this often, device time (default 60 s); 0 = with every reading. */
  readonly statusIntervalMs?: number;
  /** Relay state at power-up; default on. */
  readonly relayOn?: boolean;
}

type State = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stopping';

interface Pending {
  readonly channel: UplinkChannel | null;
  settled: boolean;
  readonly resolve: () => void;
  readonly reject: (err: SimDeviceError) => void;
}

interface SwitchReading {
  readonly watts: number;
  readonly volts: number;
  readonly amps: number;
}

/** Shelly prints floats with fixed decimals (`"freq":50.0`), which JSON.stringify would not. */
const f = (x: number, digits: number): string => x.toFixed(digits);

export class ShellyPlug implements SimDevice {
  readonly id: string;
  private readonly prefix: string;
  /** The device's own id (`src` of its frames): its client id, e.g. shellyplusplugs-a8032ab1c2d4. */
  private readonly shellyId: string;
  private readonly log: SimLogger;
  private readonly clock: () => number;
  private readonly connectFn: MqttConnect;
  private client: MqttClient | undefined;
  private state: State = 'idle';
  private bootValue: number;
  private relay: boolean;
  private counterKwh: number;
  private baselineKwh = 0;
  private last: SwitchReading = { watts: 0, volts: 230, amps: 0 };
  private lastPower: { readonly ts: number; readonly watts: number } | undefined;
  private lastStatusAt: number | undefined;
  private readonly byMinuteMwh: number[] = [0, 0, 0];
  private minuteTs: number | undefined;
  private readonly pending = new Set<Pending>();
  private readonly counters: Record<UplinkChannel, ChannelCounters>;
  private commands = 0;
  private connects = 0;
  private errorsSinceConnect = 0;
  private stopping: Promise<void> | undefined;
  private ready: Promise<void> | undefined;
  private abortStart: ((err: SimDeviceError) => void) | undefined;

  constructor(private readonly opts: ShellyPlugOptions) {
    const mqtt = opts.device.mqtt;
    if (!mqtt) throw new Error(`ShellyPlug: device ${opts.device.id} has no MQTT identity`);
    this.id = opts.device.id;
    this.prefix = mqtt.topic;
    this.shellyId = mqtt.clientId;
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? Date.now;
    this.connectFn = opts.connect ?? connectNoDelay;
    this.bootValue = opts.boot;
    this.relay = opts.relayOn ?? true;
    this.counterKwh = opts.energyKwh ?? 0;
    this.counters = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, { published: 0, acked: 0, errors: 0 }])) as Record<UplinkChannel, ChannelCounters>;
  }

  get boot(): number {
    return this.bootValue;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  get running(): boolean {
    return this.state === 'connecting' || this.state === 'connected' || this.state === 'reconnecting';
  }

  get inFlight(): number {
    return this.pending.size;
  }

  get relayOn(): boolean {
    return this.relay;
  }

  /** `aenergy.total` as the device would report it now, Wh. */
  get totalWh(): number {
    return (this.counterKwh - this.baselineKwh) * 1000;
  }

  stats(): DeviceCounters {
    const channels = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, { ...this.counters[c] }])) as Record<UplinkChannel, ChannelCounters>;
    return { channels, commands: this.commands, connects: this.connects, inFlight: this.pending.size };
  }

  async start(opts: { readonly boot?: number } = {}): Promise<void> {
    if (this.running) return;
    if (this.stopping) await this.stopping;
    if (opts.boot !== undefined && opts.boot !== this.bootValue) {
      this.bootValue = opts.boot;
      this.lastPower = undefined;
      this.lastStatusAt = undefined;
      if (this.opts.resetTotalOnReboot ?? false) this.baselineKwh = this.counterKwh;
    }
    const timeoutMs = this.opts.connectTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const client = this.connectFn(this.opts.brokerUrl, {
      clientId: this.shellyId,
      username: this.opts.device.mqtt!.username,
      password: this.opts.password,
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      reconnectPeriod: this.opts.reconnectPeriodMs ?? 1000,
      connectTimeout: timeoutMs,
      will: { topic: `${this.prefix}/online`, payload: Buffer.from('false'), qos: 1, retain: true },
      resubscribe: false,
    });
    this.client = client;
    this.state = 'connecting';
    this.ready = undefined;
    client.on('connect', () => this.onConnect(client));
    client.on('message', (topic, payload) => this.onMessage(client, topic, payload));
    client.on('close', () => {
      if (this.client === client && this.state === 'connected') this.state = 'reconnecting';
    });
    client.on('error', (err) => {
      this.errorsSinceConnect++;
      this.log[this.errorsSinceConnect === 1 ? 'warn' : 'debug']({ device: this.id, err: err.message }, 'mqtt error');
    });
    await this.awaitConnack(client, timeoutMs);
    const ready = this.ready as Promise<void> | undefined;
    if (ready) {
      await withTimeout(ready, Math.max(0, deadline - Date.now())).catch((err: unknown) => {
        if (err instanceof SimDeviceError) throw err;
        const timeout = new SimDeviceError('connect_timeout', this.id, `subscriptions or online status not acknowledged within ${timeoutMs} ms`);
        if (this.client === client) this.abandon(client, timeout);
        throw timeout;
      });
    }
  }

  private awaitConnack(client: MqttClient, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
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
        if (typeof err.code === 'number') fail(new SimDeviceError('refused', this.id, `connection refused: ${err.message}`));
      };
      const timer = setTimeout(() => fail(new SimDeviceError('connect_timeout', this.id, `no CONNACK from ${this.opts.brokerUrl} within ${timeoutMs} ms`)), timeoutMs);
      client.on('connect', onConnect);
      client.on('error', onError);
      this.abortStart = (err) => {
        cleanup();
        reject(err);
      };
    });
  }

  private onConnect(client: MqttClient): void {
    if (this.client !== client) return;
    this.connects++;
    this.errorsSinceConnect = 0;
    this.state = 'connected';
    (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    const rpc = `${this.prefix}/rpc`;
    const subscribed = new Promise<void>((resolve, reject) => {
      client.subscribe([rpc, `${this.prefix}/command`, `${this.prefix}/command/switch:0`], { qos: 1 }, (err, granted) => {
        if (err) return reject(new SimDeviceError('publish_failed', this.id, `subscribe failed: ${err.message}`));
        if (granted?.some((g) => g.qos === 128)) return reject(new SimDeviceError('refused', this.id, `a subscription under ${this.prefix}/ was refused`));
        resolve();
      });
    });
    const online = this.publishRaw(`${this.prefix}/online`, 'true', true, 'status');
    this.ready = Promise.all([subscribed, online]).then(() => undefined);
    this.ready.catch((err: unknown) => {
      const lost = err instanceof SimDeviceError && (err.code === 'lost' || err.code === 'not_running');
      this.log[lost ? 'debug' : 'warn']({ device: this.id, err: (err as Error).message }, 'plug not ready after connect');
    });
    // status_ntf: the status of every component is published on connect.
    this.publishQuietly(`${this.prefix}/status/switch:0`, this.fullStatus('init'));
  }

  private onMessage(client: MqttClient, topic: string, payload: Buffer): void {
    if (this.client !== client) return;
    this.commands++;
    if (topic === `${this.prefix}/rpc`) this.onRpc(payload);
    else if (topic === `${this.prefix}/command` && payload.toString('utf8').trim() === 'status_update') this.publishQuietly(`${this.prefix}/status/switch:0`, this.fullStatus(null));
    else if (topic === `${this.prefix}/command/switch:0`) {
      // The MQTT control interface: on / off / toggle.
      const arg = payload.toString('utf8').trim();
      if (arg === 'on' || arg === 'off' || arg === 'toggle') this.switchTo(arg === 'toggle' ? !this.relay : arg === 'on', 'MQTT');
    }
  }

  private onRpc(payload: Buffer): void {
    let frame: { id?: unknown; src?: unknown; method?: unknown; params?: { id?: unknown; on?: unknown } };
    try {
      frame = JSON.parse(payload.toString('utf8')) as typeof frame;
    } catch {
      this.log.debug({ device: this.id }, 'RPC frame is not JSON: ignored');
      return;
    }
    // Without src the device cannot know where to reply (Shelly drops such frames).
    if (typeof frame.src !== 'string' || frame.src === '') return;
    const replyTo = `${frame.src}/rpc`;
    const answer = (body: object): void => this.publishQuietly(replyTo, JSON.stringify({ id: frame.id ?? null, src: this.shellyId, dst: frame.src, ...body }));
    if (frame.method !== 'Switch.Set') {
      answer({ error: { code: 404, message: `No handler for ${String(frame.method)}` } });
      return;
    }
    if (frame.params?.id !== 0 || typeof frame.params.on !== 'boolean') {
      answer({ error: { code: -103, message: 'Invalid argument: id 0 and a boolean on are required' } });
      return;
    }
    const wasOn = this.relay;
    answer({ result: { was_on: wasOn } });
    this.switchTo(frame.params.on, 'MQTT');
  }

  /** The relay changes: NotifyStatus with the new output, then the full status (0 W when off). */
  private switchTo(on: boolean, source: string): void {
    this.relay = on;
    if (!on) this.last = { watts: 0, volts: this.last.volts, amps: 0 };
    const ts = this.now() / 1000;
    this.publishQuietly(`${this.prefix}/events/rpc`, `{"src":"${this.shellyId}","dst":"${this.prefix}/events","method":"NotifyStatus","params":{"ts":${f(ts, 2)},"switch:0":{"id":0,"output":${on},"source":"${source}"}}}`);
    this.publishQuietly(`${this.prefix}/status/switch:0`, this.fullStatus(source));
  }

  badge(_format: CredentialFormat, _card: string): Promise<void> {
    return Promise.reject(new SimDeviceError('publish_failed', this.id, 'a Shelly plug reads no badges'));
  }

  occupancy(): Promise<void> {
    return Promise.reject(new SimDeviceError('publish_failed', this.id, 'a Shelly plug senses no occupancy'));
  }

  /** The device clock, or the wall clock while a fleet's simulated clock has not started. */
  private now(): number {
    const t = this.clock();
    return Number.isFinite(t) ? Math.round(t) : Date.now();
  }

  private aenergy(): string {
    return `{"total":${f(this.totalWh, 3)},"by_minute":[${this.byMinuteMwh.map((x) => f(x, 3)).join(',')}],"minute_ts":${this.minuteTs ?? Math.floor(this.now() / 60_000) * 60}}`;
  }

  private fullStatus(source: string | null): string {
    const r = this.last;
    return (
      `{"id":0,"source":${source === null ? '"init"' : JSON.stringify(source)},"output":${this.relay},"apower":${f(r.watts, 1)},"voltage":${f(r.volts, 1)},` +
      `"freq":50.0,"current":${f(r.amps, 3)},"aenergy":${this.aenergy()},"temperature":{"tC":41.2,"tF":106.2}}`
    );
  }

  /**
   * A reading: NotifyStatus on events/rpc and, once per statusIntervalMs, the
   * full status. `energyKwh` given: the meter's own counter follows it (never
   * backwards); left out: the plug integrates its power. Resolves when every
   * message it sent is acknowledged.
   */
  power(reading: PowerReading, ts?: number): Promise<void> {
    if (!this.running) return Promise.reject(this.notRunning());
    const now = ts !== undefined && Number.isFinite(ts) ? Math.round(ts) : this.now();
    if (reading.on !== undefined) this.relay = reading.on;
    const watts = this.relay ? Math.max(0, reading.powerW) : 0;
    const before = this.counterKwh;
    if (reading.energyKwh !== undefined) this.counterKwh = Math.max(this.counterKwh, reading.energyKwh);
    else if (this.lastPower && now > this.lastPower.ts) this.counterKwh += (this.lastPower.watts * (now - this.lastPower.ts)) / 3_600_000 / 1000;
    this.lastPower = { ts: now, watts };
    const minute = Math.floor(now / 60_000) * 60;
    if (this.minuteTs !== minute) {
      this.byMinuteMwh.unshift(0);
      this.byMinuteMwh.length = 3;
      this.minuteTs = minute;
    }
    this.byMinuteMwh[0] = (this.byMinuteMwh[0] ?? 0) + (this.counterKwh - before) * 1e6;
    const volts = reading.voltageV ?? 230;
    const amps = this.relay ? (reading.currentA ?? watts / volts / 0.95) : 0;
    this.last = { watts, volts, amps };
    const notify =
      `{"src":"${this.shellyId}","dst":"${this.prefix}/events","method":"NotifyStatus","params":{"ts":${f(now / 1000, 2)},` +
      `"switch:0":{"id":0,"output":${this.relay},"apower":${f(watts, 1)},"voltage":${f(volts, 1)},"current":${f(amps, 3)},"aenergy":${this.aenergy()}}}}`;
    const sent = [this.publishRaw(`${this.prefix}/events/rpc`, notify, false, 'power')];
    const every = this.opts.statusIntervalMs ?? 60_000;
    if (this.lastStatusAt === undefined || now - this.lastStatusAt >= every) {
      this.lastStatusAt = now;
      sent.push(this.publishRaw(`${this.prefix}/status/switch:0`, this.fullStatus(null), false, 'power'));
    }
    return Promise.all(sent).then(() => undefined);
  }

  /** `<prefix>/status/wifi`; `linkQuality` (0–255) becomes an RSSI in dBm (inverse of the decoder's mapping). */
  health(reading: HealthReading): Promise<void> {
    if (!this.running) return Promise.reject(this.notRunning());
    const percent = Math.min(255, Math.max(0, reading.linkQuality ?? 200)) / 2.55;
    const rssi = Math.round(percent / 2 - 100);
    return this.publishRaw(`${this.prefix}/status/wifi`, JSON.stringify({ sta_ip: '192.168.10.61', status: 'got ip', ssid: 'makerspace-iot', rssi }), false, 'health');
  }

  private notRunning(): SimDeviceError {
    return new SimDeviceError('not_running', this.id, `not running (${this.state}); start() it first`);
  }

  private publishRaw(topic: string, payload: string, retain: boolean, channel: UplinkChannel | null): Promise<void> {
    const client = this.client;
    if (!client || !this.running) return Promise.reject(this.notRunning());
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = { channel, settled: false, resolve, reject };
      this.pending.add(entry);
      if (channel) this.counters[channel].published++;
      client.publish(topic, payload, { qos: 1, retain }, (err) => {
        if (entry.settled) return;
        entry.settled = true;
        this.pending.delete(entry);
        if (err) {
          if (channel) this.counters[channel].errors++;
          reject(new SimDeviceError('publish_failed', this.id, `${topic} publish failed: ${err.message}`));
        } else {
          if (channel) this.counters[channel].acked++;
          resolve();
        }
      });
    });
  }

  private publishQuietly(topic: string, payload: string): void {
    this.publishRaw(topic, payload, false, null).catch((err: unknown) => this.log.debug({ device: this.id, topic, err: (err as Error).message }, 'publish not acknowledged'));
  }

  private failPending(err: SimDeviceError): void {
    for (const p of this.pending) {
      if (p.settled) continue;
      p.settled = true;
      if (p.channel) this.counters[p.channel].errors++;
      p.reject(err);
    }
    this.pending.clear();
  }

  private abandon(client: MqttClient, err: SimDeviceError): void {
    this.client = undefined;
    this.state = 'idle';
    client.end(true);
    this.failPending(err);
    this.abortStart?.(new SimDeviceError('not_running', this.id, 'dropped while connecting'));
  }

  /** Power cut or lost Wi-Fi: no DISCONNECT, so the broker publishes the will (online = false). */
  drop(): void {
    const client = this.client;
    if (!client || this.state === 'stopping') return;
    this.abandon(client, new SimDeviceError('lost', this.id, 'connection dropped before PUBACK'));
  }

  /** Graceful: online = false (retained), then DISCONNECT. Idempotent. */
  stop(timeoutMs = 2000): Promise<void> {
    if (this.stopping) return this.stopping;
    const client = this.client;
    if (!client) return Promise.resolve();
    const wasConnected = this.state === 'connected';
    this.abortStart?.(new SimDeviceError('not_running', this.id, 'stopped while connecting'));
    const run = async (): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      if (!wasConnected) {
        this.state = 'stopping';
        client.end(true);
      } else {
        const bye = this.publishRaw(`${this.prefix}/online`, 'false', true, 'status');
        this.state = 'stopping';
        const said = await withTimeout(bye, timeoutMs).then(
          () => true,
          () => false,
        );
        if (!said) client.end(true);
        else {
          const ended = new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
          const clean = await withTimeout(ended, Math.max(0, deadline - Date.now())).then(
            () => true,
            () => false,
          );
          if (!clean) client.stream?.destroy();
        }
      }
      this.failPending(new SimDeviceError('lost', this.id, 'plug stopped before PUBACK'));
      this.client = undefined;
      this.state = 'idle';
    };
    this.stopping = run().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }
}

/** SIM_DEVICES entry: a Shelly plug from the fleet's options. */
export function createShellyPlug(o: SimDeviceOptions): ShellyPlug {
  return new ShellyPlug({
    device: o.device,
    password: o.secret ?? '',
    brokerUrl: o.brokerUrl,
    boot: o.boot,
    clock: o.clock,
    logger: o.logger,
    ...(o.connect && { connect: o.connect }),
    ...(o.connectTimeoutMs !== undefined && { connectTimeoutMs: o.connectTimeoutMs }),
    ...(o.energyKwh !== undefined && { energyKwh: o.energyKwh }),
  });
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
