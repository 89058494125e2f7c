/**
 * The gateway's live view: the one sessioniser (core/usage/sessioniser.ts)
 * run on what the journal commits, turned into live state (core/usage/live.ts)
 * once a second, and handed on:
 *
 * - retained MQTT messages under fac/v1/<site>/state/…, each published only
 *   when its payload changed (docs/protocol.md, "Live state topics");
 * - listeners (the server's GET /api/v1/live/stream), with what changed;
 * - once a minute, a `space_occupancy` point per space to InfluxDB
 *   (core/usage/live-points.ts, ./series-writer.ts).
 *
 * It only listens: nothing in the access path waits for it. Records reach it
 * after their commit (Journal.onCommitted, which isolates listeners), and the
 * derivation runs on its own timer.
 *
 * Restarts: the state is rebuilt from the journal, not from a snapshot of its
 * own. start() replays every record committed in the last day (or the longest
 * presence timeout, if longer) through a fresh sessioniser, in commit order,
 * moving its clock on as the live run did; the journal is the truth, so a
 * changed site file or a crash at any moment cannot leave a stale view.
 *
 * Cost: every second the sessioniser's records still waiting for its
 * watermark (up to a minute of them) are processed once more on a copy
 * (Sessioniser.openSessions). Above `probeLimit` waiting records (a flood of
 * telemetry) that copy is skipped and the view shows the state as of the
 * watermark, a minute behind, rather than hold the event loop.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { isSignal, type JournalRecord } from '../../core/signals.js';
import type { Site } from '../../core/site/model.js';
import { DeviceLiveness, deriveLive, diffLive, liveMessages, liveModel, type LiveChange, type LiveModel, type LiveState } from '../../core/usage/live.js';
import { MINUTE_MS, occupancyPoints } from '../../core/usage/live-points.js';
import { Sessioniser, sessioniserConfig, type SessioniserConfig, type SessioniserOptions } from '../../core/usage/sessioniser.js';
import { isWatchKey } from '../device-watch.js';
import type { CommittedRecord } from '../journal/journal.js';
import type { SeriesWriter } from './series-writer.js';

export interface LiveViewOptions {
  readonly site: Site;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** Publishes one retained state message as the gateway (MqttBroker.publish, retained, QoS 1). */
  readonly publish: (topic: string, payload: string) => Promise<void>;
  /** Calls fn with every record committed since a time, in commit order, at most `limit` (Journal.replaySince). */
  readonly replay: (sinceAt: number, fn: (record: JournalRecord, at: number) => void, limit: number) => number;
  /** Where the per-minute series goes; none: not written. */
  readonly series?: SeriesWriter;
  readonly sessioniser?: SessioniserOptions;
  /** How often the state is derived and published (default 1 s). */
  readonly tickMs?: number;
  /** Waiting records above which the view stops reprocessing them every tick (default 10,000: about 10 ms). */
  readonly probeLimit?: number;
  /** Records replayed at most after a restart (default 5,000,000, the newest). */
  readonly replayLimit?: number;
}

export type LiveListener = (change: LiveChange, state: LiveState) => void;

const DAY_MS = 86_400_000;

export class LiveView {
  private readonly model: LiveModel;
  private readonly cfg: SessioniserConfig;
  private sessioniser: Sessioniser;
  private devices = new DeviceLiveness();
  private state: LiveState | null = null;
  /** What each retained topic was last published with. */
  private readonly published = new Map<string, string>();
  private readonly listeners = new Set<LiveListener>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private minute = 0;
  private observed = 0;
  /** A publish failed: publish what differs at the next tick even if nothing changed. */
  private republish = false;
  /** How long ticks hold the event loop, ms: the last one and the longest. */
  private lastTickMs = 0;
  private maxTickMs = 0;

  constructor(private readonly opts: LiveViewOptions) {
    this.model = liveModel(opts.site);
    this.cfg = sessioniserConfig(opts.site, opts.sessioniser);
    this.sessioniser = new Sessioniser(this.cfg);
  }

  /** Rebuilds the state from the journal, publishes it, and derives it again every tick. */
  start(): void {
    if (this.running) return;
    const now = this.opts.clock.now();
    const longestPresence = Math.max(0, ...Object.values(this.cfg.spaces).map((s) => s.timeoutMs));
    const since = now - Math.max(DAY_MS, longestPresence) - this.cfg.allowedLatenessMs;
    this.sessioniser = new Sessioniser(this.cfg);
    this.devices = new DeviceLiveness();
    let second = -Infinity;
    const t0 = performance.now();
    const replayed = this.opts.replay(
      since,
      (r, at) => {
        // The live run moved the sessioniser's clock once a second: so does the replay.
        if (at >= second + 1000) {
          second = at;
          this.sessioniser.advance(at);
        }
        this.take(r);
      },
      this.opts.replayLimit ?? 5_000_000,
    );
    this.running = true;
    this.minute = Math.floor(now / MINUTE_MS);
    this.tick();
    this.opts.logger.info({ replayed, since, ms: Math.round(performance.now() - t0), late: this.sessioniser.late }, 'live state rebuilt from the journal');
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 1000);
    this.timer.unref();
  }

  /** Idempotent. Retained messages stay with the broker until it stops. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.running = false;
  }

  /** Committed records (Journal.onCommitted); ignored before start(). */
  observe(batch: readonly CommittedRecord[]): void {
    if (!this.running) return;
    for (const c of batch) this.take(c.record);
  }

  /** The current state (derived at the last tick). */
  snapshot(): LiveState {
    if (!this.state) throw new Error('the live view has not started');
    return this.state;
  }

  /** Called with every change after it is derived; returns the unsubscribe function. */
  subscribe(listener: LiveListener): () => void {
    // A wrapper per subscription: the same function subscribed twice is two subscriptions.
    const wrapped: LiveListener = (c, s) => listener(c, s);
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  /** For /healthz-style reporting and tests. */
  stats(): { observed: number; late: number; buffered: number; retained: number; lastTickMs: number; maxTickMs: number } {
    return { observed: this.observed, late: this.sessioniser.late, buffered: this.sessioniser.buffered, retained: this.published.size, lastTickMs: this.lastTickMs, maxTickMs: this.maxTickMs };
  }

  /** Derives the state at the clock's now, and hands on what changed. Runs every tick; public for tests. */
  tick(): void {
    if (!this.running) return;
    const t0 = performance.now();
    const now = this.opts.clock.now();
    // Sessions that closed are billing's business (it reads them back from InfluxDB); here only what is open counts.
    this.sessioniser.advance(now);
    const pending = this.sessioniser.buffered <= (this.opts.probeLimit ?? 10_000);
    const open = this.sessioniser.openSessions(now, pending);
    const state = deriveLive(this.model, open, (id) => this.devices.get(id));
    const change = diffLive(this.state, state);
    this.state = state;
    if (change || this.republish) {
      this.republish = false;
      this.publishChanged(state);
    }
    if (change) {
      for (const l of this.listeners) {
        try {
          l(change, state);
        } catch (err) {
          this.opts.logger.error({ err }, 'a live-state listener failed');
        }
      }
    }
    const minute = Math.floor(now / MINUTE_MS);
    if (minute > this.minute) {
      this.minute = minute;
      this.opts.series?.add(occupancyPoints(state, minute * MINUTE_MS));
    }
    this.lastTickMs = Math.round((performance.now() - t0) * 100) / 100;
    if (this.lastTickMs > this.maxTickMs) this.maxTickMs = this.lastTickMs;
  }

  private take(r: JournalRecord): void {
    this.observed++;
    // What the device watch concluded about occupancy (a timeout) is not the device speaking; its
    // online:false for a silent device is, for liveness, like the device's own will.
    if (isSignal(r) && this.opts.site.devices.has(r.device) && (r.kind === 'health' || !isWatchKey(r.device, r.key))) this.devices.observe(r);
    this.sessioniser.push(r);
  }

  private publishChanged(state: LiveState): void {
    for (const [topic, payload] of liveMessages(state)) {
      if (this.published.get(topic) === payload) continue;
      this.published.set(topic, payload);
      this.opts.publish(topic, payload).catch((err: unknown) => {
        // Publish it again at the next tick.
        if (this.published.get(topic) === payload) this.published.delete(topic);
        this.republish = true;
        this.opts.logger.warn({ err: (err as Error).message, topic }, 'could not publish live state');
      });
    }
  }
}
