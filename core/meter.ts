/**
 * Machine hour meters, for maintenance: how long each machine has run (drawn
 * more than its running threshold), over its whole life, from its power
 * readings. Like the hour meter on a compressor, it only counts up.
 *
 * Between two readings the machine is taken to have kept the state of the
 * first; a gap longer than `maxGapMs` (a meter offline, a gateway restart) is
 * counted only up to `maxGapMs`, so an outage never adds hours the machine
 * may not have run. Readings older than the newest one seen for the machine
 * (a replay, a late backlog) are ignored, so the meter never counts twice.
 *
 * Pure: readings carry their own time (the meter's, or the gateway's).
 */

export interface HourMeterOptions {
  /** Longest stretch between two readings that is counted (default 10 min). */
  readonly maxGapMs?: number;
}

interface MeterState {
  runningMs: number;
  lastTs: number | null;
  running: boolean;
  /** runningMs at the last checkpoint (so only changed meters are written). */
  savedMs: number;
}

export class HourMeters {
  private readonly meters = new Map<string, MeterState>();
  private readonly maxGapMs: number;

  constructor(opts: HourMeterOptions = {}) {
    this.maxGapMs = opts.maxGapMs ?? 600_000;
  }

  /** A power reading of `equipment` at `ts`: running when powerW is above thresholdW. */
  observe(equipment: string, ts: number, powerW: number, thresholdW: number): void {
    const m = this.state(equipment);
    if (m.lastTs !== null) {
      if (ts <= m.lastTs) return;
      if (m.running) m.runningMs += Math.min(ts - m.lastTs, this.maxGapMs);
    }
    m.lastTs = ts;
    m.running = powerW > thresholdW;
  }

  /** Starts a meter from a saved reading (after a restart); a larger value already held wins. */
  restore(equipment: string, runningMs: number): void {
    const m = this.state(equipment);
    m.runningMs = Math.max(m.runningMs, runningMs);
    m.savedMs = Math.max(m.savedMs, runningMs);
  }

  runningMs(equipment: string): number {
    return this.meters.get(equipment)?.runningMs ?? 0;
  }

  /** Every meter, ms. */
  all(): Record<string, number> {
    return Object.fromEntries([...this.meters].map(([e, m]) => [e, m.runningMs]));
  }

  /** Meters changed since the last checkpoint, marking them saved. */
  checkpoint(): { equipment: string; runningMs: number }[] {
    const out: { equipment: string; runningMs: number }[] = [];
    for (const [equipment, m] of this.meters) {
      if (m.runningMs === m.savedMs) continue;
      m.savedMs = m.runningMs;
      out.push({ equipment, runningMs: m.runningMs });
    }
    return out;
  }

  private state(equipment: string): MeterState {
    let m = this.meters.get(equipment);
    if (!m) this.meters.set(equipment, (m = { runningMs: 0, lastTs: null, running: false, savedMs: 0 }));
    return m;
  }
}
