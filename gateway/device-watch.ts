/**
 * What the gateway concludes from what devices do *not* say.
 *
 * - Occupancy timeout. Some PIR sensors never report "free": Aqara/Xiaomi
 *   sensors send only occupancy:true (then sleep about a minute), and
 *   Zigbee2MQTT clears them only if its own `occupancy_timeout` is on. For an
 *   occupancy sensor with `occupancyTimeoutMs` (site file, or its model's
 *   default in core/site/models.ts), every occupied:true arms a timer, and
 *   every further true re-arms it; when it runs out the watch emits
 *   occupied:false at (last true + timeout), tsSource 'gateway', key
 *   `<device>:timeout:<key of the last true>`. A real false disarms it.
 * - Silence. For a device with `silentAfterMs`, every signal from it (health
 *   included) re-arms a silence timer; when it runs out the watch emits a
 *   health signal online:false at (last seen + silentAfterMs), key
 *   `<device>:silent:<last seen ts>`: its state is now unknown, not free.
 *   Whatever the device sends next speaks for itself. A Zigbee2MQTT bridge
 *   relays its sensors' messages, so each of those counts as hearing from the
 *   bridge too (its own bridge/state is sent only when it connects).
 * - A device whose last signal was online:false (its own availability, its
 *   bridge's, or the watch's silence) is left alone: no timeout, no second
 *   silence, until it is heard from again. An offline sensor's pending
 *   occupancy timeout is dropped too: an unknown state is not turned into "free".
 *
 * Keys are derived only from the signals that caused them, so replaying the
 * same signals yields the same keys and the journal stores each conclusion once.
 *
 * Time: deadlines are signal time + duration, and timers are set for
 * (deadline − clock.now()), so a signal that arrives late (a reconnecting
 * device's backlog) fires at once if its deadline has passed. Signals are
 * assumed to arrive roughly in time order: a true older than the newest one
 * seen does not re-arm, a false older than the last true does not disarm, and
 * late data never retracts a conclusion already emitted.
 *
 * Restarts: the watch keeps its state in memory only and starts empty. After a
 * gateway restart nothing is armed until devices are heard from again, so a
 * sensor left at occupied:true just before the restart stays "occupied" (and a
 * device that stays silent is not marked offline) until it sends its next
 * signal, which arms the timers afresh. To close that gap, feed observe() the
 * journal's recent signals (for each device, at least its last one) before
 * live traffic: deadlines that passed while the gateway was down fire at once,
 * with the same keys as before the restart, so the journal drops any
 * conclusion it already holds.
 *
 * Pure logic over injected time: a clock for "now" and timers (setTimeout /
 * clearTimeout) so tests use fake timers.
 */
import { isSignal, type HealthSignal, type JournalRecord, type OccupancySignal, type Signal } from '../core/signals.js';
import type { DeviceInfo, Site } from '../core/site/model.js';

export interface WatchTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface WatchLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DeviceWatchOptions {
  readonly site: Site;
  readonly clock: { now(): number };
  /** Default: the global setTimeout/clearTimeout (timers unref'd: they never keep the process alive). */
  readonly timers?: WatchTimers;
  /** Receives the signals the watch concludes (the gateway journals them like any device signal). */
  readonly emit: (signals: Signal[]) => void;
  readonly logger: WatchLogger;
}

/** Longest delay a Node timer takes (2^31 − 1 ms); longer waits are re-armed in steps. */
const MAX_TIMER_MS = 2_147_483_647;

const defaultTimers: WatchTimers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

interface Armed {
  /** ms since the epoch at which it expires; only ever moves later. */
  deadline: number;
  handle: unknown;
}

/** Everything the watch knows of one device. */
interface DeviceState {
  /** The newest occupied:true not yet cleared, and its timer. */
  lastTrue: OccupancySignal | null;
  occupancyTimer: Armed | null;
  /** Newest signal time seen from the device (NaN before the first). */
  lastSeen: number;
  silenceTimer: Armed | null;
  /** Its last signal was online:false: leave it alone until it is heard from. */
  offline: boolean;
  readonly onTimeout: () => void;
  readonly onSilent: () => void;
}

/** Keys of signals the watch made itself (`<device>:timeout:…`, `<device>:silent:…`): never evidence of the device being alive. */
export function isWatchKey(device: string, key: string): boolean {
  const at = device.length + 1;
  // Without building strings: this runs for every committed signal.
  return key.charCodeAt(device.length) === 0x3a && key.startsWith(device) && (key.startsWith('timeout:', at) || key.startsWith('silent:', at));
}

export class DeviceWatch {
  private readonly timers: WatchTimers;
  private readonly states = new Map<string, DeviceState>();
  private running = false;

  constructor(private readonly opts: DeviceWatchOptions) {
    this.timers = opts.timers ?? defaultTimers;
  }

  /** Devices with something armed (for tests and /healthz). */
  get armed(): { readonly occupancy: number; readonly silence: number } {
    let occupancy = 0;
    let silence = 0;
    for (const s of this.states.values()) {
      if (s.occupancyTimer) occupancy++;
      if (s.silenceTimer) silence++;
    }
    return { occupancy, silence };
  }

  start(): void {
    this.running = true;
  }

  /** Clears every timer and forgets every device. Idempotent. */
  stop(): void {
    if (!this.running && this.states.size === 0) return;
    this.running = false;
    for (const s of this.states.values()) {
      this.disarm(s, 'occupancyTimer');
      this.disarm(s, 'silenceTimer');
    }
    this.states.clear();
  }

  /**
   * Every committed record, in commit order. System events, signals of devices
   * not in the site file and the watch's own conclusions are skipped. Ignored
   * before start() and after stop().
   */
  observe(records: readonly JournalRecord[]): void {
    if (!this.running) return;
    for (const r of records) {
      if (!isSignal(r) || isWatchKey(r.device, r.key)) continue;
      this.observeOne(r);
    }
  }

  private observeOne(signal: Signal): void {
    const info = this.opts.site.devices.get(signal.device);
    if (!info) return;
    this.apply(signal, info);
    // A bridge relays its sensors' messages: each one is a message from the bridge too.
    const bridge = info.bridge ? this.opts.site.devices.get(info.bridge.device) : undefined;
    if (bridge && bridge.silentAfterMs !== null) this.heard(this.stateOf(bridge.id), bridge.silentAfterMs, this.opts.clock.now());
  }

  private stateOf(device: string): DeviceState {
    let s = this.states.get(device);
    if (!s) {
      s = {
        lastTrue: null,
        occupancyTimer: null,
        lastSeen: NaN,
        silenceTimer: null,
        offline: false,
        onTimeout: () => this.timedOut(device),
        onSilent: () => this.silent(device),
      };
      this.states.set(device, s);
    }
    return s;
  }

  private apply(signal: Signal, info: DeviceInfo): void {
    const timeoutMs = info.occupancyTimeoutMs;
    const silentMs = info.silentAfterMs;
    if (timeoutMs === null && silentMs === null) return;
    const s = this.stateOf(signal.device);

    if (signal.kind === 'health' && signal.online === false) {
      // Offline: the state is unknown. Nothing to time out, nothing more to say about silence.
      s.offline = true;
      s.lastTrue = null;
      s.lastSeen = Number.isNaN(s.lastSeen) ? this.opts.clock.now() : Math.max(s.lastSeen, this.opts.clock.now());
      this.disarm(s, 'occupancyTimer');
      this.disarm(s, 'silenceTimer');
      return;
    }

    if (signal.kind === 'occupancy' && timeoutMs !== null) {
      if (signal.occupied) {
        if (s.lastTrue === null || signal.ts >= s.lastTrue.ts) {
          s.lastTrue = signal;
          // In device time: a backlog whose last "occupied" is older than the timeout was free since
          // then, so it is concluded at once (with the time it became free).
          this.arm(s, 'occupancyTimer', signal.ts + timeoutMs, s.onTimeout);
        }
      } else if (s.lastTrue === null || signal.ts >= s.lastTrue.ts) {
        s.lastTrue = null;
        this.disarm(s, 'occupancyTimer');
      }
    }

    if (silentMs !== null) this.heard(s, silentMs, this.opts.clock.now());
    else s.offline = false;
  }

  /**
   * The device was heard from at `ts` — the gateway clock on arrival, not the device's time: a backlog
   * replayed after an outage carries old device times but proves the device is alive now.
   */
  private heard(s: DeviceState, silentMs: number, ts: number): void {
    // Monotonic: a late signal from the past does not bring the deadline forward.
    if (!s.offline && s.silenceTimer && ts < s.lastSeen) return;
    s.offline = false;
    s.lastSeen = Number.isNaN(s.lastSeen) ? ts : Math.max(s.lastSeen, ts);
    this.arm(s, 'silenceTimer', s.lastSeen + silentMs, s.onSilent);
  }

  private timedOut(device: string): void {
    const s = this.states.get(device);
    const info = this.opts.site.devices.get(device);
    const last = s?.lastTrue;
    if (!this.running || !s || !last || !info || info.occupancyTimeoutMs === null) return;
    s.occupancyTimer = null;
    s.lastTrue = null;
    const signal: OccupancySignal = {
      kind: 'occupancy',
      key: `${device}:timeout:${last.key}`,
      site: last.site,
      device,
      deviceKind: last.deviceKind,
      space: last.space,
      target: last.target,
      seq: 0,
      ts: last.ts + info.occupancyTimeoutMs,
      tsSource: 'gateway',
      occupied: false,
    };
    this.opts.logger.debug({ device, after: info.occupancyTimeoutMs }, 'occupancy timed out: occupied → free');
    this.send(signal);
  }

  private silent(device: string): void {
    const s = this.states.get(device);
    const info = this.opts.site.devices.get(device);
    if (!this.running || !s || !info || info.silentAfterMs === null || s.offline) return;
    s.silenceTimer = null;
    s.offline = true;
    // An unknown state is not "free": drop any pending occupancy timeout.
    s.lastTrue = null;
    this.disarm(s, 'occupancyTimer');
    const signal: HealthSignal = {
      kind: 'health',
      key: `${device}:silent:${s.lastSeen}`,
      site: this.opts.site.id,
      device,
      deviceKind: info.kind,
      space: info.space,
      target: info.target,
      seq: 0,
      ts: s.lastSeen + info.silentAfterMs,
      tsSource: 'gateway',
      online: false,
      batteryPct: null,
      linkQuality: null,
    };
    this.opts.logger.debug({ device, after: info.silentAfterMs }, 'device silent: online → offline (state unknown)');
    this.send(signal);
  }

  private send(signal: Signal): void {
    try {
      this.opts.emit([signal]);
    } catch (err) {
      // The listener's failure is its own; the watch's state has moved on either way.
      this.opts.logger.error({ err, device: signal.device, key: signal.key }, 'device watch: emitting a concluded signal failed');
    }
  }

  /**
   * Sets a timer for `deadline`. Deadlines only move later (a newer true, a newer signal), so when a
   * timer is already set it is kept and only its deadline moves: it wakes at the old time and sleeps
   * again until the new one. One timer per device and rule, not one per signal, however busy the device.
   */
  private arm(s: DeviceState, which: 'occupancyTimer' | 'silenceTimer', deadline: number, fire: () => void): void {
    const current = s[which];
    if (current) {
      if (deadline >= current.deadline) {
        current.deadline = deadline;
        return;
      }
      this.disarm(s, which);
    }
    const armed: Armed = { deadline, handle: undefined };
    s[which] = armed;
    this.schedule(s, which, armed, fire);
  }

  private schedule(s: DeviceState, which: 'occupancyTimer' | 'silenceTimer', armed: Armed, fire: () => void): void {
    const wait = Math.max(0, armed.deadline - this.opts.clock.now());
    armed.handle = this.timers.setTimeout(
      () => {
        if (s[which] !== armed) return;
        // Moved later meanwhile (or capped at MAX_TIMER_MS, or woken early): sleep until the deadline.
        if (this.opts.clock.now() < armed.deadline) this.schedule(s, which, armed, fire);
        else fire();
      },
      Math.min(wait, MAX_TIMER_MS),
    );
  }

  private disarm(s: DeviceState, which: 'occupancyTimer' | 'silenceTimer'): void {
    const armed = s[which];
    if (armed) this.timers.clearTimeout(armed.handle);
    s[which] = null;
  }
}
