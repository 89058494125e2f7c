/**
 * A fleet of simulated canonical devices playing a scenario against a broker.
 *
 * Clock: simulated time = start + (wall time since playback began) × speed.
 * Each scenario event is published when the simulated clock reaches it, with
 * the event's own time as the device `ts`.
 *
 * Back-pressure (a device never has more than `maxInFlight` QoS 1 messages
 * awaiting PUBACK, and nothing is queued without bound):
 *  - `shed` (default for a finite speed): power and health samples that find
 *    their device saturated, or that are more than `maxLagMs` of wall time
 *    late, are skipped — the next sample supersedes them and energy is a
 *    cumulative counter, so nothing is lost but resolution. Badge and occupancy
 *    events wait in a per-device backlog of `maxBacklog`; when it is full the
 *    oldest waiting event is skipped. Every skip is counted in stats().
 *  - `pace` (forced when speed is Infinity): nothing is skipped; playback
 *    stalls until the device has room, so the broker's acknowledgements set
 *    the pace ("as fast as possible").
 */
import type { UplinkChannel } from '../core/protocol/topics.js';
import { UPLINK_CHANNELS } from '../core/protocol/topics.js';
import type { Site } from '../core/site/model.js';
import { type ChannelCounters, type MqttConnect, SimDeviceError, type SimLogger, silentLogger } from './devices/canonical.js';
import { SIM_DEVICES, type SimDevice } from './devices/index.js';
import { Rng } from './scenario/rng.js';
import { type SimEvent, workday, type WorkdayOptions } from './scenario/workday.js';

const DAY = 86_400_000;

export type OverloadPolicy = 'shed' | 'pace';

export interface FleetOptions {
  readonly site: Site;
  /** Device id → secret (the device-secrets file's `devices`). Devices that need one and lack it are left out, with a warning. */
  readonly secrets: Readonly<Record<string, string>>;
  /** Shared login id → password (the secrets file's `logins`). */
  readonly logins?: Readonly<Record<string, string>>;
  /** Directory relative serial paths in the site file are relative to (default: the working directory). */
  readonly siteDir?: string;
  readonly brokerUrl: string;
  /** Scenario seed (default 1). */
  readonly seed?: number;
  /** Simulated time per wall time (default 1). Infinity: as fast as acknowledgements allow (`pace`). */
  readonly speed?: number;
  /**
   * First simulated instant, epoch ms. Default: now, except that with speed > 1
   * and a finite `days` the run is placed in the past (now − days) so that
   * device clocks never run ahead of the wall clock (a gateway replaces
   * future device times with its receive time).
   */
  readonly start?: number;
  /** Simulated days to play (default Infinity). */
  readonly days?: number;
  /** Scenario tuning: member count, intensity, offline rate, sample periods. */
  readonly scenario?: Omit<WorkdayOptions, 'site' | 'start' | 'days' | 'seed'>;
  /** Replaces the workday scenario (time-ordered); e.g. a badge storm for a load test. */
  readonly events?: Iterable<SimEvent>;
  readonly logger?: SimLogger;
  /** Wall clock for the simulated clock and boot numbers (default Date.now). Timers stay real. */
  readonly wallClock?: () => number;
  readonly connect?: MqttConnect;
  /** Devices connecting at once (default 20), each after a seeded random delay up to connectJitterMs (default 250). */
  readonly connectConcurrency?: number;
  readonly connectJitterMs?: number;
  readonly connectTimeoutMs?: number;
  /** QoS 1 messages awaiting PUBACK per device (default 8). */
  readonly maxInFlight?: number;
  /** Badge/occupancy events waiting per device (default 64). */
  readonly maxBacklog?: number;
  /** Telemetry later than this (wall ms) is skipped under `shed` (default 2000). */
  readonly maxLagMs?: number;
  readonly overload?: OverloadPolicy;
  /** Events dispatched per event-loop turn before yielding to I/O (default 2000). */
  readonly maxEventsPerTurn?: number;
}

export interface FleetStats {
  /** Devices simulated (canonical, with a secret). */
  readonly devices: number;
  readonly connected: number;
  /** Devices that could not connect (refused or timed out). */
  readonly failed: number;
  /** Current simulated time, epoch ms (NaN before playback). */
  readonly simTime: number;
  /** How far playback trails the simulated clock, simulated ms. */
  readonly lagMs: number;
  /** The scenario has no more events. */
  readonly finished: boolean;
  /** Scenario events taken from the stream. */
  readonly events: number;
  /** Summed over devices; `status` counts online/offline announcements. */
  readonly channels: Readonly<Record<UplinkChannel, Readonly<ChannelCounters>>>;
  readonly skipped: {
    /** Telemetry more than maxLagMs late. */
    readonly lag: number;
    /** Telemetry finding its device saturated; backlog overflow. */
    readonly backpressure: number;
    /** Events for a device that was offline (episode, restart in progress, failed to connect). */
    readonly offline: number;
    /** Events for devices not simulated (no secret, other format). */
    readonly noDevice: number;
  };
  /** Command messages received by all devices. */
  readonly commands: number;
  readonly overload: OverloadPolicy;
}

type SlotStatus = 'pending' | 'up' | 'offline' | 'restarting' | 'failed';

interface Slot {
  readonly device: SimDevice;
  status: SlotStatus;
  rebootOnReturn: boolean;
  readonly backlog: SimEvent[];
}

type PublishableEvent = Extract<SimEvent, { kind: 'badge' | 'occupancy' | 'power' | 'health' }>;

export class Fleet {
  private readonly log: SimLogger;
  private readonly wall: () => number;
  private readonly speed: number;
  private readonly policy: OverloadPolicy;
  private readonly maxInFlight: number;
  private readonly maxBacklog: number;
  private readonly maxLagMs: number;
  private readonly maxPerTurn: number;
  private readonly slots = new Map<string, Slot>();
  private simStart = NaN;
  private wallStart = NaN;
  private paceClock = NaN;
  private events: Iterator<SimEvent> | undefined;
  private head: SimEvent | undefined;
  private taken = 0;
  private finished = false;
  private started = false;
  private stopped = false;
  private parked = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private stopping: Promise<void> | undefined;
  private readonly skipped = { lag: 0, backpressure: 0, offline: 0, noDevice: 0 };
  private resolveDone!: () => void;
  /** Resolves when the scenario has been played out, or the fleet is stopped. */
  readonly done: Promise<void>;

  constructor(private readonly o: FleetOptions) {
    this.log = o.logger ?? silentLogger;
    this.wall = o.wallClock ?? Date.now;
    this.speed = o.speed ?? 1;
    if (!(this.speed > 0)) throw new RangeError(`Fleet: speed must be > 0 (got ${this.speed})`);
    this.policy = this.speed === Infinity ? 'pace' : (o.overload ?? 'shed');
    this.maxInFlight = Math.max(1, o.maxInFlight ?? 8);
    this.maxBacklog = Math.max(1, o.maxBacklog ?? 64);
    this.maxLagMs = o.maxLagMs ?? 2000;
    this.maxPerTurn = Math.max(1, o.maxEventsPerTurn ?? 2000);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /** Connects every device (bounded concurrency, jittered), then starts playing the scenario. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { site, secrets } = this.o;
    const bootAt = Math.floor(this.wall() / 1000);
    const skipped: string[] = [];
    const shared = new Map<string, unknown>();
    const secretOf = (id: string): string | undefined => {
      const cred = site.devices.get(id)?.credentials;
      if (!cred) return undefined;
      return 'login' in cred ? this.o.logins?.[cred.login] : secrets[id];
    };
    for (const info of site.devices.values()) {
      const factory = SIM_DEVICES[info.format];
      const secret = secretOf(info.id);
      // Bridged sensors publish through their bridge; serial readers need no login.
      if (!factory || (info.mqtt !== null && secret === undefined) || info.kind === 'zigbee-bridge') {
        if (info.kind !== 'zigbee-bridge') skipped.push(info.id);
        continue;
      }
      const device = factory({
        site,
        device: info,
        secret,
        brokerUrl: this.o.brokerUrl,
        boot: bootAt,
        clock: () => this.simNow(),
        logger: this.log,
        ...(this.o.connect && { connect: this.o.connect }),
        ...(this.o.connectTimeoutMs !== undefined && { connectTimeoutMs: this.o.connectTimeoutMs }),
        siteDir: this.o.siteDir ?? process.cwd(),
        shared,
        secretOf,
      });
      this.slots.set(info.id, { device, status: 'pending', rebootOnReturn: false, backlog: [] });
    }
    if (skipped.length > 0) {
      this.log.warn({ devices: skipped.slice(0, 20), count: skipped.length }, 'devices not simulated: no simulator for their format, or no secret in the secrets file');
    }
    if (this.slots.size === 0) throw new Error(`Fleet: no device of site ${site.id} can be simulated (no secrets, or no simulator for their formats)`);

    await this.connectAll();
    if (this.stopped) return;
    const up = [...this.slots.values()].filter((s) => s.status === 'up').length;
    if (up === 0) throw new Error(`Fleet: none of ${this.slots.size} devices could connect to ${this.o.brokerUrl}`);
    this.log.info({ devices: this.slots.size, connected: up, speed: this.speed, policy: this.policy }, 'fleet connected; playing scenario');

    const days = this.o.days ?? Infinity;
    const now = this.wall();
    this.simStart = this.o.start ?? (this.speed > 1 && Number.isFinite(days) ? now - Math.round(days * DAY) : now);
    this.wallStart = now;
    if (this.speed > 1 && !Number.isFinite(days) && this.policy === 'shed') {
      this.log.warn({ speed: this.speed }, 'endless run faster than real time: device clocks will run ahead of the wall clock');
    }
    const events =
      this.o.events ?? workday({ ...this.o.scenario, site, start: this.simStart, days, seed: this.o.seed ?? 1 });
    this.events = events[Symbol.iterator]();
    this.advance();
    this.pump();
  }

  /** Stops playback and disconnects every device gracefully. Idempotent. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.stopping = (async () => {
      await pool([...this.slots.values()], 50, (s) => s.device.stop());
      this.resolveDone();
    })();
    return this.stopping;
  }

  stats(): FleetStats {
    const channels = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, { published: 0, acked: 0, errors: 0 }])) as Record<UplinkChannel, ChannelCounters>;
    let connected = 0;
    let failed = 0;
    let commands = 0;
    for (const s of this.slots.values()) {
      const d = s.device.stats();
      for (const c of UPLINK_CHANNELS) {
        channels[c].published += d.channels[c].published;
        channels[c].acked += d.channels[c].acked;
        channels[c].errors += d.channels[c].errors;
      }
      commands += d.commands;
      if (s.device.connected) connected++;
      if (s.status === 'failed') failed++;
    }
    const simTime = this.simNow();
    const lagMs = this.head && Number.isFinite(simTime) ? Math.max(0, simTime - this.head.ts) : 0;
    return {
      devices: this.slots.size,
      connected,
      failed,
      simTime,
      lagMs,
      finished: this.finished,
      events: this.taken,
      channels,
      skipped: { ...this.skipped },
      commands,
      overload: this.policy,
    };
  }

  private async connectAll(): Promise<void> {
    const jitter = Rng.derive(this.o.seed ?? 1, 'fleet', 'connect-jitter');
    const maxJitter = this.o.connectJitterMs ?? 250;
    const slots = [...this.slots.values()].map((slot) => ({ slot, delay: jitter.range(0, maxJitter) }));
    await pool(slots, this.o.connectConcurrency ?? 20, async ({ slot, delay }) => {
      if (delay > 0) await sleep(delay);
      if (this.stopped) return;
      try {
        await slot.device.start();
        slot.status = 'up';
      } catch (err) {
        slot.status = 'failed';
        const code = err instanceof SimDeviceError ? err.code : 'unknown';
        this.log.error({ device: slot.device.id, code, err: (err as Error).message }, 'device could not connect');
      }
    });
  }

  private simNow(): number {
    if (this.policy === 'pace') return this.paceClock;
    if (!Number.isFinite(this.wallStart)) return NaN;
    return this.simStart + (this.wall() - this.wallStart) * this.speed;
  }

  private advance(): void {
    const r = this.events!.next();
    if (r.done) {
      this.head = undefined;
      return;
    }
    this.head = r.value;
    this.taken++;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) this.immediate = setImmediate(() => this.pump());
    else this.timer = setTimeout(() => this.pump(), delayMs);
  }

  /** Publishes every event the simulated clock has reached, then sleeps until the next one is due. */
  private pump(): void {
    this.timer = undefined;
    this.immediate = undefined;
    if (this.stopped) return;
    const simNow = this.simNow();
    let n = 0;
    while (this.head) {
      const ev = this.head;
      if (this.policy === 'shed' && ev.ts > simNow) break;
      if (n >= this.maxPerTurn) return this.schedule(0);
      if (this.policy === 'pace' && !this.hasRoom(ev)) {
        this.parked = true;
        return;
      }
      if (this.policy === 'pace') this.paceClock = ev.ts;
      this.dispatch(ev, simNow);
      this.advance();
      n++;
    }
    if (!this.head) {
      this.finished = true;
      this.log.info({ events: this.taken }, 'scenario played out');
      this.resolveDone();
      return;
    }
    // Wake when the next event is due; at least once a second so a stepped wall clock is noticed.
    this.schedule(Math.min(1000, Math.max(1, Math.ceil((this.head.ts - simNow) / this.speed))));
  }

  private hasRoom(ev: SimEvent): boolean {
    const slot = this.slots.get(ev.device);
    if (!slot || ev.kind === 'offline' || ev.kind === 'online') return true;
    if (slot.status === 'restarting') return false;
    return slot.status !== 'up' || (slot.backlog.length === 0 && slot.device.inFlight < this.maxInFlight);
  }

  private unpark(): void {
    if (this.parked && !this.stopped) {
      this.parked = false;
      this.schedule(0);
    }
  }

  private dispatch(ev: SimEvent, simNow: number): void {
    const slot = this.slots.get(ev.device);
    if (!slot) {
      this.skipped.noDevice++;
      return;
    }
    switch (ev.kind) {
      case 'offline':
        if (slot.status !== 'up') return;
        slot.status = 'offline';
        slot.rebootOnReturn = ev.reboot;
        this.skipped.offline += slot.backlog.length;
        slot.backlog.length = 0;
        slot.device.drop();
        this.log.debug({ device: ev.device, reboot: ev.reboot }, 'device offline');
        return;
      case 'online':
        if (slot.status === 'offline') this.restart(slot);
        return;
      case 'badge':
      case 'occupancy':
      case 'power':
      case 'health':
        break;
    }
    if (slot.status === 'offline' || slot.status === 'failed' || slot.status === 'pending') {
      this.skipped.offline++;
      return;
    }
    const telemetry = ev.kind === 'power' || ev.kind === 'health';
    if (this.policy === 'shed' && telemetry && (simNow - ev.ts) / this.speed > this.maxLagMs) {
      this.skipped.lag++;
      return;
    }
    if (slot.status === 'up' && slot.backlog.length === 0 && slot.device.inFlight < this.maxInFlight) {
      this.publish(slot, ev);
      return;
    }
    if (telemetry && this.policy === 'shed') {
      this.skipped.backpressure++;
      return;
    }
    if (slot.backlog.length >= this.maxBacklog) {
      slot.backlog.shift();
      this.skipped.backpressure++;
    }
    slot.backlog.push(ev);
  }

  private restart(slot: Slot): void {
    slot.status = 'restarting';
    const boot = slot.rebootOnReturn ? Math.max(slot.device.boot + 1, Math.floor(this.wall() / 1000)) : undefined;
    this.log.debug({ device: slot.device.id, boot }, 'device back online');
    slot.device.start(boot !== undefined ? { boot } : {}).then(
      () => {
        if (slot.status !== 'restarting') return;
        slot.status = 'up';
        this.drain(slot);
      },
      (err: unknown) => {
        slot.status = 'failed';
        this.skipped.offline += slot.backlog.length;
        slot.backlog.length = 0;
        this.log.error({ device: slot.device.id, err: (err as Error).message }, 'device could not reconnect');
        this.unpark();
      },
    );
  }

  private publish(slot: Slot, ev: SimEvent): void {
    const d = slot.device;
    let sent: Promise<void>;
    const e = ev as PublishableEvent;
    switch (e.kind) {
      case 'badge':
        sent = d.badge(e.format, e.card, e.ts);
        break;
      case 'occupancy':
        sent = d.occupancy(e.occupied, e.ts);
        break;
      case 'power':
        sent = d.power({ powerW: e.powerW, energyKwh: e.energyKwh, voltageV: e.voltageV, currentA: e.currentA, on: e.on }, e.ts);
        break;
      case 'health':
        sent = d.health({ ...(e.batteryPct !== undefined && { batteryPct: e.batteryPct }), ...(e.linkQuality !== undefined && { linkQuality: e.linkQuality }) }, e.ts);
        break;
    }
    sent.then(
      () => this.drain(slot),
      (err: unknown) => {
        // `lost` is the expected fate of in-flight messages when a device drops off; the rest is worth a warning.
        const code = err instanceof SimDeviceError ? err.code : 'unknown';
        if (code === 'lost' || code === 'not_running') this.log.debug({ device: d.id, code }, 'publish not acknowledged');
        else this.log.warn({ device: d.id, code, err: (err as Error).message }, 'publish failed');
        this.drain(slot);
      },
    );
  }

  private drain(slot: Slot): void {
    while (slot.status === 'up' && slot.backlog.length > 0 && slot.device.inFlight < this.maxInFlight) {
      this.publish(slot, slot.backlog.shift()!);
    }
    this.unpark();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `work` over `items` with at most `concurrency` at a time. */
async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker));
}
