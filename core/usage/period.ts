/**
 * A period's sessions from its records, as billing and reports compute them:
 * records from before the period (the look-back, so sessions already running
 * at its start are known from their beginning) through its end, pushed in
 * time order through the sessioniser, then flushed at the period's end. The
 * server streams InfluxDB's records through it (server/usage/readback.ts); an
 * auditor's reproduction runs it over the records of an evidence bundle
 * (core/audit/reproduce.ts). Pure.
 */
import type { JournalRecord } from '../signals.js';
import { Sessioniser, type SessioniserConfig, type UnknownGap, type UsageSession } from './sessioniser.js';

export const DEFAULT_LOOKBACK_MS = 24 * 3600_000;

/** Where to start reading for a period: the look-back, at least the longest presence timeout. */
export function readStart(cfg: SessioniserConfig, from: number, lookbackMs = DEFAULT_LOOKBACK_MS): number {
  const longestTimeout = Math.max(0, ...Object.values(cfg.spaces).map((s) => s.timeoutMs));
  return from - Math.max(lookbackMs, longestTimeout);
}

export interface PeriodSessions {
  /** Sessions that overlap [from, to), closed by `to`. */
  readonly sessions: UsageSession[];
  /** Sessions still open at `to`, cut there (reason `open`). */
  readonly open: UsageSession[];
  /** Unknown stretches (devices offline) that overlap the period. */
  readonly gaps: UnknownGap[];
}

export class PeriodCollector {
  private readonly sessioniser: Sessioniser;
  private readonly sessions: UsageSession[] = [];
  private readonly gaps: UnknownGap[] = [];

  constructor(
    cfg: SessioniserConfig,
    private readonly from: number,
    private readonly to: number,
  ) {
    this.sessioniser = new Sessioniser(cfg);
  }

  private keep(outs: ReturnType<Sessioniser['push']>): void {
    for (const x of outs) {
      if (x.kind === 'gap') {
        if (x.to > this.from && x.from < this.to) this.gaps.push(x);
      } else if (x.end > this.from && x.start < this.to) this.sessions.push(x);
    }
  }

  /** Records in time order (within the sessioniser's allowed lateness). */
  push(records: readonly JournalRecord[]): void {
    for (const r of records) this.keep(this.sessioniser.push(r));
  }

  finish(): PeriodSessions {
    const end = this.sessioniser.flush(this.to);
    this.keep(end.closed);
    this.keep(end.openGaps);
    return { sessions: this.sessions, open: end.open, gaps: this.gaps };
  }
}
