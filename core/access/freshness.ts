/**
 * Is a swipe live, or old news? A reader that lost its link queues swipes and
 * delivers them when it reconnects (MQTT QoS 1 with a persistent session); the
 * member is long gone, and a door must not open for nobody. Device clocks are
 * also wrong, by seconds or by years, so device time cannot be compared with
 * gateway time directly.
 *
 * Per device, the offset (arrival time − device time) of each message it
 * sends is the clock difference plus the delivery delay. The smallest offset
 * among its recent live messages is the best estimate of the clock difference
 * alone (as NTP takes the fastest exchange), so
 *
 *     lateness = offset − min(recent live offsets)
 *
 * is how long the message sat on the way. A message later than `maxLatenessMs`
 * is late: recorded, never acted on, and kept out of the estimate, so a
 * backlog does not teach the estimator that late is normal.
 *
 * A device whose clock is stepped back (an RTC reset, an NTP correction) looks
 * late from then on. Its messages then share one offset, arriving spread over
 * time, while a backlog arrives in a burst with offsets falling message by
 * message. So `stepCount` late messages in a row whose offsets agree within
 * `stepToleranceMs` and whose arrivals span at least `stepSpanMs` are taken as
 * the new clock: the estimate restarts from them. A device's heartbeat (once a
 * minute) is enough to confirm a step within a few minutes.
 *
 * Messages with no device time (serial readers, clocks so far ahead the
 * gateway used its own time) are always live. Pure: time comes in as arguments.
 */

export interface FreshnessOptions {
  /** Later than this and a message is not acted on (default 10 s). */
  readonly maxLatenessMs?: number;
  /** Live offsets kept per device; the estimate follows slow drift as old ones leave (default 16). */
  readonly window?: number;
  /** Consistent late messages that confirm a clock step (default 3). */
  readonly stepCount?: number;
  /** …arriving over at least this long (default 90 s). */
  readonly stepSpanMs?: number;
  /** …with offsets within this of each other (default 2 s). */
  readonly stepToleranceMs?: number;
}

export interface Freshness {
  /** How long the message sat on the way (ms; ≤ 0 for the freshest seen). */
  readonly latenessMs: number;
  readonly live: boolean;
}

interface DeviceClock {
  /** Recent live offsets, oldest first. */
  readonly live: number[];
  /** Late messages in a row that may be a clock step: arrival and offset. */
  step: { arrival: number; offset: number }[];
}

export const DEFAULT_MAX_LATENESS_MS = 10_000;

export class SwipeFreshness {
  private readonly devices = new Map<string, DeviceClock>();
  private readonly maxLatenessMs: number;
  private readonly window: number;
  private readonly stepCount: number;
  private readonly stepSpanMs: number;
  private readonly stepToleranceMs: number;

  constructor(opts: FreshnessOptions = {}) {
    this.maxLatenessMs = opts.maxLatenessMs ?? DEFAULT_MAX_LATENESS_MS;
    this.window = opts.window ?? 16;
    this.stepCount = opts.stepCount ?? 3;
    this.stepSpanMs = opts.stepSpanMs ?? 90_000;
    this.stepToleranceMs = opts.stepToleranceMs ?? 2000;
  }

  /** Takes in one message with device time `deviceTs` that arrived at `arrivalMs` (gateway time). */
  observe(device: string, arrivalMs: number, deviceTs: number): Freshness {
    const offset = arrivalMs - deviceTs;
    let d = this.devices.get(device);
    if (!d) {
      d = { live: [offset], step: [] };
      this.devices.set(device, d);
      return { latenessMs: 0, live: true };
    }
    const latenessMs = offset - Math.min(...d.live);
    if (latenessMs <= this.maxLatenessMs) {
      this.keep(d, offset);
      d.step = [];
      return { latenessMs, live: true };
    }
    // Late: a backlog, or a clock stepped back. Only offsets that agree with this one can be a step.
    d.step = d.step.filter((s) => Math.abs(s.offset - offset) <= this.stepToleranceMs);
    d.step.push({ arrival: arrivalMs, offset });
    if (d.step.length >= this.stepCount && arrivalMs - d.step[0]!.arrival >= this.stepSpanMs) {
      d.live.length = 0;
      for (const s of d.step) this.keep(d, s.offset);
      d.step = [];
      return { latenessMs: 0, live: true };
    }
    return { latenessMs, live: false };
  }

  /** Forgets a device (e.g. removed from the site). */
  forget(device: string): void {
    this.devices.delete(device);
  }

  private keep(d: DeviceClock, offset: number): void {
    d.live.push(offset);
    if (d.live.length > this.window) d.live.shift();
  }
}
