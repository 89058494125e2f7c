/**
 * A simulated Tasmota-flashed plug with power monitoring (a Sonoff POW, Athom
 * or Gosund plug), speaking what Tasmota publishes with its default FullTopic
 * `%prefix%/%topic%/` (https://tasmota.github.io/docs/MQTT/):
 *
 * - connects with its MqttClient / MqttUser / MqttPassword (the device's mqtt
 *   identity in the site file, and its own or its shared login's password),
 *   a clean session and keepalive 30 s, with the will `tele/<topic>/LWT` =
 *   `Offline`, retained;
 * - on every connect: `tele/<topic>/LWT` = `Online`, retained; subscribes to
 *   `cmnd/<topic>/#`, the group topic `cmnd/tasmotas/#` and the fallback topic
 *   `cmnd/<MqttClient>_fb/#`; publishes INFO1, INFO2 and INFO3;
 * - power() → `tele/<topic>/SENSOR` with an ENERGY section printed as Tasmota
 *   prints it (`"Power":56` as an integer, `"Total":0.000` with 3 decimals,
 *   `Time` in local time without offset); health() → `tele/<topic>/STATE`
 *   with `Wifi.RSSI` as a 0–100 % quality;
 * - `cmnd/<topic>/POWER` ON/OFF/TOGGLE (or a query) switches the relay and is
 *   answered with `stat/<topic>/RESULT` `{"POWER":"ON"}` and
 *   `stat/<topic>/POWER` `ON`; with the relay off the plug meters nothing
 *   (SetOption21 0, the default): Power, Voltage and Current read 0.
 * - a reboot (start({ boot }) with a new boot, after drop()) restarts Uptime
 *   and, with `resetTotalOnReboot` (default on, as some builds lose the counter
 *   on a power cut), starts `Total` again from 0 with a new TotalStartTime.
 *
 * QoS: Tasmota publishes at QoS 0 only (its MQTT library has no QoS 1
 * publish); the simulator uses QoS 1 by default so that every reading resolves
 * on its PUBACK, like every other simulated device. `qos: 0` is the firmware's.
 */
import type { MqttClient } from 'mqtt';
import { UPLINK_CHANNELS, type UplinkChannel } from '../../core/protocol/topics.js';
import type { CredentialFormat } from '../../core/signals.js';
import type { DeviceInfo } from '../../core/site/model.js';
import { localDateTime } from '../scenario/zoned-time.js';
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

export interface TasmotaPlugOptions {
  /** A `format: tasmota` device: its mqtt identity (clientId, username, topic). */
  readonly device: DeviceInfo;
  /** MqttPassword: the device's own secret or its shared login's password. */
  readonly password: string;
  readonly brokerUrl: string;
  /** Boot counter or boot time; a different value in start() is a reboot. */
  readonly boot: number;
  /** The plug's Timezone setting, as an IANA zone (its `Time` is local time in it). */
  readonly timeZone: string;
  /** Device clock (epoch ms) for readings given without a time. Default Date.now. */
  readonly clock?: () => number;
  readonly logger?: SimLogger;
  readonly connect?: MqttConnect;
  /** How long start() waits for the CONNACK, SUBACK and LWT acknowledgement (default 30 s). */
  readonly connectTimeoutMs?: number;
  /** Automatic reconnect period after a lost connection (default 1000 ms). */
  readonly reconnectPeriodMs?: number;
  /** `Total` when the simulation starts, kWh (default 0). */
  readonly energyKwh?: number;
  /** `Total` back to 0 on every reboot (default true). */
  readonly resetTotalOnReboot?: boolean;
  /** Relay state at power-up (PowerOnState); default on. */
  readonly relayOn?: boolean;
  /** Default 1 (see the module comment). */
  readonly qos?: 0 | 1;
}

type State = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stopping';

interface Pending {
  readonly channel: UplinkChannel | null;
  settled: boolean;
  readonly resolve: () => void;
  readonly reject: (err: SimDeviceError) => void;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Tasmota's `Time`/`TotalStartTime`: local time, second resolution, no offset. */
export function tasmotaLocalTime(timeZone: string, epochMs: number): string {
  const l = localDateTime(timeZone, epochMs);
  return `${l.year}-${pad(l.month)}-${pad(l.day)}T${pad(l.hour)}:${pad(l.minute)}:${pad(l.second)}`;
}

/** Tasmota's uptime format `<days>T<hh>:<mm>:<ss>`. */
function uptimeText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 86_400)}T${pad(Math.floor((s % 86_400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

/** Link quality 0–255 → Tasmota's RSSI quality 0–100 % and the dBm it was computed from. */
function wifiFromLinkQuality(linkQuality: number): { rssi: number; signal: number } {
  const rssi = Math.round(Math.min(255, Math.max(0, linkQuality)) / 2.55);
  return { rssi, signal: Math.round(rssi / 2 - 100) };
}

export class TasmotaPlug implements SimDevice {
  readonly id: string;
  private readonly topic: string;
  private readonly clientId: string;
  private readonly log: SimLogger;
  private readonly clock: () => number;
  private readonly connectFn: MqttConnect;
  private readonly qos: 0 | 1;
  private client: MqttClient | undefined;
  private state: State = 'idle';
  private bootValue: number;
  private bootCount = 1;
  private bootAt: number | undefined;
  private relay: boolean;
  /** The meter's own cumulative reading, kWh; `Total` is this minus `baselineKwh` (moved on a reset). */
  private counterKwh: number;
  private baselineKwh = 0;
  private totalStartTime: number | undefined;
  private day: string | undefined;
  private dayStartTotal = 0;
  private yesterdayKwh = 0;
  private lastSensor: { readonly ts: number; readonly total: number } | undefined;
  private lastPower: { readonly ts: number; readonly watts: number } | undefined;
  private linkQuality = 200;
  private readonly pending = new Set<Pending>();
  private readonly counters: Record<UplinkChannel, ChannelCounters>;
  private commands = 0;
  private connects = 0;
  private errorsSinceConnect = 0;
  private stopping: Promise<void> | undefined;
  /** Subscriptions granted and LWT Online sent, on the latest connect. */
  private ready: Promise<void> | undefined;
  private abortStart: ((err: SimDeviceError) => void) | undefined;

  constructor(private readonly opts: TasmotaPlugOptions) {
    const mqtt = opts.device.mqtt;
    if (!mqtt) throw new Error(`TasmotaPlug: device ${opts.device.id} has no MQTT identity`);
    this.id = opts.device.id;
    this.topic = mqtt.topic;
    this.clientId = mqtt.clientId;
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? Date.now;
    this.connectFn = opts.connect ?? connectNoDelay;
    this.qos = opts.qos ?? 1;
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

  /** The relay (POWER) state. */
  get relayOn(): boolean {
    return this.relay;
  }

  /** `Total` as the plug would print it now, kWh. */
  get totalKwh(): number {
    return this.counterKwh - this.baselineKwh;
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
      this.reboot();
    }
    const t = `tele/${this.topic}/LWT`;
    const timeoutMs = this.opts.connectTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const client = this.connectFn(this.opts.brokerUrl, {
      clientId: this.clientId,
      username: this.opts.device.mqtt!.username,
      password: this.opts.password,
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      reconnectPeriod: this.opts.reconnectPeriodMs ?? 1000,
      connectTimeout: timeoutMs,
      will: { topic: t, payload: Buffer.from('Offline'), qos: 1, retain: true },
      // The firmware subscribes itself on every connect (onConnect).
      resubscribe: false,
    });
    this.client = client;
    this.state = 'connecting';
    this.ready = undefined;
    client.on('connect', () => this.onConnect(client));
    client.on('message', (topic, payload) => this.onCommand(client, topic, payload));
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
        const timeout = new SimDeviceError('connect_timeout', this.id, `subscriptions or LWT not acknowledged within ${timeoutMs} ms`);
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
        // A CONNACK refusal carries a numeric return code and is final; socket errors are retried.
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

  /** A power cycle: Uptime restarts, and on some builds the energy counter too. */
  private reboot(): void {
    this.bootCount++;
    // Stamped with the next reading's time: a fleet's simulated clock starts only once every device is up.
    this.bootAt = undefined;
    this.lastPower = undefined;
    this.lastSensor = undefined;
    if (this.opts.resetTotalOnReboot ?? true) {
      this.baselineKwh = this.counterKwh;
      this.totalStartTime = undefined;
      this.dayStartTotal = 0;
    }
  }

  /** The device clock, or the wall clock while a fleet's simulated clock has not started. */
  private now(): number {
    const t = this.clock();
    return Number.isFinite(t) ? Math.round(t) : Date.now();
  }

  private onConnect(client: MqttClient): void {
    if (this.client !== client) return;
    this.connects++;
    this.errorsSinceConnect = 0;
    this.state = 'connected';
    (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    const c = `cmnd/${this.topic}/#`;
    const subscribed = new Promise<void>((resolve, reject) => {
      client.subscribe([c, 'cmnd/tasmotas/#', `cmnd/${this.clientId}_fb/#`], { qos: 0 }, (err, granted) => {
        if (err) return reject(new SimDeviceError('publish_failed', this.id, `subscribe failed: ${err.message}`));
        // The gateway refuses anything but the plug's own topics with 0x80; its own must be granted.
        if (granted?.find((g) => g.topic === c)?.qos === 128) return reject(new SimDeviceError('refused', this.id, `subscription to ${c} refused`));
        resolve();
      });
    });
    const online = this.publishRaw(`tele/${this.topic}/LWT`, 'Online', true, 'status');
    this.ready = Promise.all([subscribed, online]).then(() => undefined);
    this.ready.catch((err: unknown) => {
      const lost = err instanceof SimDeviceError && (err.code === 'lost' || err.code === 'not_running');
      this.log[lost ? 'debug' : 'warn']({ device: this.id, err: (err as Error).message }, 'plug not ready after connect');
    });
    for (const [n, body] of this.infoMessages()) this.publishQuietly(`tele/${this.topic}/INFO${n}`, body);
  }

  private infoMessages(): [number, string][] {
    return [
      [1, JSON.stringify({ Info1: { Module: 'Sonoff Pow R2', Version: '14.3.0(release-tasmota)', FallbackTopic: `cmnd/${this.clientId}_fb/`, GroupTopic: 'cmnd/tasmotas/' } })],
      [2, JSON.stringify({ Info2: { WebServerMode: 'Admin', Hostname: `${this.topic}-${this.bootCount % 10_000}`, IPAddress: '192.168.10.50' } })],
      [3, JSON.stringify({ Info3: { RestartReason: this.bootCount === 1 ? 'Power On' : 'Hardware Watchdog', BootCount: this.bootCount } })],
    ];
  }

  private onCommand(client: MqttClient, topic: string, payload: Buffer): void {
    if (this.client !== client) return;
    this.commands++;
    const command = topic.slice(topic.lastIndexOf('/') + 1).toUpperCase();
    const arg = payload.toString('utf8').trim().toUpperCase();
    this.log.debug({ device: this.id, topic, arg }, 'command received');
    if (command !== 'POWER' && command !== 'POWER1') {
      this.publishQuietly(`stat/${this.topic}/RESULT`, '{"Command":"Unknown"}');
      return;
    }
    if (arg === 'ON' || arg === '1' || arg === 'TRUE') this.relay = true;
    else if (arg === 'OFF' || arg === '0' || arg === 'FALSE') this.relay = false;
    else if (arg === 'TOGGLE' || arg === '2') this.relay = !this.relay;
    else if (arg !== '' && arg !== '?') {
      this.publishQuietly(`stat/${this.topic}/RESULT`, '{"Command":"Error"}');
      return;
    }
    const text = this.relay ? 'ON' : 'OFF';
    this.publishQuietly(`stat/${this.topic}/RESULT`, `{"POWER":"${text}"}`);
    this.publishQuietly(`stat/${this.topic}/POWER`, text);
  }

  badge(_format: CredentialFormat, _card: string): Promise<void> {
    return Promise.reject(new SimDeviceError('publish_failed', this.id, 'a Tasmota plug reads no badges'));
  }

  occupancy(): Promise<void> {
    return Promise.reject(new SimDeviceError('publish_failed', this.id, 'a Tasmota plug senses no occupancy'));
  }

  /**
   * `tele/<topic>/SENSOR`. `energyKwh` given: the meter's own counter follows
   * it (never backwards) and `Total` is it minus what was lost in resets; left
   * out: the plug integrates its power. `on` given sets the relay.
   */
  power(reading: PowerReading, ts?: number): Promise<void> {
    if (!this.running) return Promise.reject(this.notRunning());
    const now = ts !== undefined && Number.isFinite(ts) ? Math.round(ts) : this.now();
    this.bootAt ??= now;
    this.totalStartTime ??= now;
    if (reading.on !== undefined) this.relay = reading.on;
    const watts = this.relay ? Math.max(0, reading.powerW) : 0;
    if (reading.energyKwh !== undefined) {
      this.counterKwh = Math.max(this.counterKwh, reading.energyKwh);
    } else if (this.lastPower && now > this.lastPower.ts) {
      this.counterKwh += (this.lastPower.watts * (now - this.lastPower.ts)) / 3_600_000 / 1000;
    }
    this.lastPower = { ts: now, watts };
    const total = this.totalKwh;
    const date = tasmotaLocalTime(this.opts.timeZone, now).slice(0, 10);
    if (this.day !== date) {
      if (this.day !== undefined) this.yesterdayKwh = total - this.dayStartTotal;
      this.day = date;
      this.dayStartTotal = total;
    }
    const periodWh = this.lastSensor ? Math.max(0, Math.round((total - this.lastSensor.total) * 1000)) : 0;
    this.lastSensor = { ts: now, total };
    // With the relay off Tasmota stops metering (SetOption21 0): everything reads 0.
    const volts = this.relay ? (reading.voltageV ?? 230) : 0;
    const amps = this.relay ? (reading.currentA ?? (volts > 0 ? watts / volts / 0.95 : 0)) : 0;
    const apparent = volts * amps;
    const factor = apparent > 0 ? Math.min(1, watts / apparent) : 0;
    const reactive = Math.sqrt(Math.max(0, apparent * apparent - watts * watts));
    // Printed as Tasmota prints it: integers where it prints integers, fixed decimals elsewhere.
    const body =
      `{"Time":"${tasmotaLocalTime(this.opts.timeZone, now)}","ENERGY":{` +
      `"TotalStartTime":"${tasmotaLocalTime(this.opts.timeZone, this.totalStartTime ?? now)}",` +
      `"Total":${total.toFixed(3)},"Yesterday":${Math.max(0, this.yesterdayKwh).toFixed(3)},"Today":${Math.max(0, total - this.dayStartTotal).toFixed(3)},` +
      `"Period":${periodWh},"Power":${Math.round(watts)},"ApparentPower":${Math.round(apparent)},"ReactivePower":${Math.round(reactive)},` +
      `"Factor":${factor.toFixed(2)},"Voltage":${Math.round(volts)},"Current":${amps.toFixed(3)}}}`;
    return this.publishRaw(`tele/${this.topic}/SENSOR`, body, false, 'power');
  }

  /** `tele/<topic>/STATE`: uptime, relay and Wi-Fi; `linkQuality` (0–255) becomes RSSI 0–100 %. */
  health(reading: HealthReading, ts?: number): Promise<void> {
    if (!this.running) return Promise.reject(this.notRunning());
    const now = ts !== undefined && Number.isFinite(ts) ? Math.round(ts) : this.now();
    this.bootAt ??= now;
    if (reading.linkQuality !== undefined) this.linkQuality = reading.linkQuality;
    const { rssi, signal } = wifiFromLinkQuality(this.linkQuality);
    const uptime = (now - (this.bootAt ?? now)) / 1000;
    const body = JSON.stringify({
      Time: tasmotaLocalTime(this.opts.timeZone, now),
      Uptime: uptimeText(uptime),
      UptimeSec: Math.max(0, Math.floor(uptime)),
      Heap: 25,
      SleepMode: 'Dynamic',
      Sleep: 50,
      LoadAvg: 19,
      MqttCount: this.connects,
      POWER: this.relay ? 'ON' : 'OFF',
      Wifi: { AP: 1, SSId: 'makerspace-iot', BSSId: '30:B5:C2:5D:70:72', Channel: 6, Mode: '11n', RSSI: rssi, Signal: signal, LinkCount: this.connects, Downtime: '0T00:00:03' },
    });
    return this.publishRaw(`tele/${this.topic}/STATE`, body, false, 'health');
  }

  private notRunning(): SimDeviceError {
    return new SimDeviceError('not_running', this.id, `not running (${this.state}); start() it first`);
  }

  /** Publishes; counted against `channel` when it is a reading or availability. */
  private publishRaw(topic: string, payload: string, retain: boolean, channel: UplinkChannel | null): Promise<void> {
    const client = this.client;
    if (!client || !this.running) return Promise.reject(this.notRunning());
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = { channel, settled: false, resolve, reject };
      this.pending.add(entry);
      if (channel) this.counters[channel].published++;
      client.publish(topic, payload, { qos: this.qos, retain }, (err) => {
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

  /** Replies and INFO messages: nobody awaits them, a failure is only logged. */
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

  /** Power cut or lost Wi-Fi: no DISCONNECT, so the broker publishes the will (LWT Offline). */
  drop(): void {
    const client = this.client;
    if (!client || this.state === 'stopping') return;
    this.abandon(client, new SimDeviceError('lost', this.id, 'connection dropped before PUBACK'));
  }

  /** A controlled restart: LWT Offline (retained), then DISCONNECT. Idempotent. */
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
        const bye = this.publishRaw(`tele/${this.topic}/LWT`, 'Offline', true, 'status');
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

/** SIM_DEVICES entry: a Tasmota plug from the fleet's options (its Timezone set to the site's). */
export function createTasmotaPlug(o: SimDeviceOptions): TasmotaPlug {
  return new TasmotaPlug({
    device: o.device,
    password: o.secret ?? '',
    brokerUrl: o.brokerUrl,
    boot: o.boot,
    timeZone: o.site.timezone,
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
