/**
 * Access control at the edge: every swipe is decided here (core/access/decide.ts)
 * from the local policy snapshot, the door or machine is commanded at once, and
 * the decision is journaled beside the swipe.
 *
 * - A decision never waits on the journal: it is made when the swipe is
 *   decoded, before the group commit (which may be carrying thousands of
 *   telemetry signals). The swipe and its decision are then journaled together,
 *   and the reader's PUBACK waits for that commit as for any signal.
 * - A swipe already journaled (a QoS 1 redelivery, a replay of a captured
 *   packet, a device resending after a gateway restart) opens nothing twice:
 *   its key is looked up first (Journal.has).
 * - Presence (who is in which space) and machine sessions live here, and are
 *   rebuilt from the journal's access records after a restart, so
 *   anti-passback and running sessions survive a crash.
 * - A session always ends: badge out, idle at low power, its longest run,
 *   closing time, a takeover by another certified member. Power is never cut
 *   while the machine draws working power: a limit reached mid-job warns the
 *   member and ends the session as soon as the machine goes idle.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { decide, requiredCertification, type AccessState, type Decision } from '../../core/access/decide.js';
import type { PolicyIndex } from '../../core/access/policy-index.js';
import { SwipeFreshness } from '../../core/access/freshness.js';
import { HourMeters } from '../../core/meter.js';
import { REASONS, SESSION_ENDS, SESSION_WARNINGS, type SessionEnd, type SessionWarning } from '../../core/access/reasons.js';
import { spaceOpenState } from '../../core/usage/calendar.js';
import type { Clock } from '../../core/clock.js';
import { isSignal, meterKey, meterKeyPrefix, type BadgeSignal, type DecisionRecord, type JournalRecord, type MeterRecord, type PowerSignal, type SessionRecord } from '../../core/signals.js';
import type { DeviceInfo, Site } from '../../core/site/model.js';
import type { DeviceCommand } from '../encoders/index.js';

export interface PolicyView {
  /** The indexed snapshot the gateway holds, or null before the first one. */
  current(): PolicyIndex | null;
  /** Since the server last confirmed it, ms; null without one. */
  ageMs(now: number): number | null;
}

export interface AccessRunnerOptions {
  readonly site: Site;
  readonly policy: PolicyView;
  /** Sends a command to a device in its own format (Gateway.command). */
  readonly command: (deviceId: string, command: DeviceCommand) => Promise<void>;
  /** Journals records the runner makes on its own (session ends on timers). */
  readonly record: (records: readonly JournalRecord[]) => void;
  /** Whether a key is already journaled (or on its way). */
  readonly journaled: (key: string) => boolean;
  /** Access records since a time, oldest first, to rebuild state after a restart. */
  readonly history: (sinceTs: number) => readonly JournalRecord[];
  /** The journaled record with the greatest key under a prefix (hour-meter checkpoints). */
  readonly lastRecord?: (keyPrefix: string) => JournalRecord | null;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long a door stays unlocked (default 5 s). */
  readonly unlockMs?: number;
  /** A swipe that sat on the way longer than this is recorded but not acted on (default 10 s; core/access/freshness.ts). */
  readonly maxSwipeLatenessMs?: number;
  /** How often changed hour meters are checkpointed to the journal (default 5 min). */
  readonly meterCheckpointMs?: number;
}

interface Session {
  readonly id: string;
  readonly equipment: string;
  readonly memberId: string;
  readonly teamId: string | null;
  readonly startedAt: number;
  readonly maxRunUntil: number | null;
  /** Gateway time of the last power reading above the running threshold (or the start). */
  lastActive: number;
  running: boolean;
  warned: boolean;
}

export interface AccessSnapshot {
  readonly presence: Record<string, string[]>;
  readonly sessions: { equipment: string; memberId: string; sessionId: string; startedAt: number; running: boolean }[];
  readonly counts: { decisions: number; granted: number; refused: number; duplicates: number; late: number };
  /** Each machine's hour meter: running hours over its life. */
  readonly hourMeters: Record<string, number>;
}

const DEFAULT_PRESENCE_MS = 8 * 3600_000;
const DEFAULT_IDLE_OFF_MS = 600_000;
const DEFAULT_CLOSING_WARNING_MS = 600_000;
/** Remember recent swipe keys so a burst of redeliveries is caught before the journal has them. */
const RECENT_KEYS = 4096;

export class AccessRunner {
  /** space → member → entered at (gateway time). */
  private readonly presence = new Map<string, Map<string, number>>();
  private readonly sessions = new Map<string, Session>();
  private readonly lastUse = new Map<string, number>();
  private readonly recentKeys = new Set<string>();
  /** While rebuilding: the longest run granted with each session, from its decision. */
  private readonly restoredMaxRun = new Map<string, number>();
  private readonly metersByEquipment = new Map<string, DeviceInfo[]>();
  private readonly controllersByDoor = new Map<string, DeviceInfo[]>();
  private timer: NodeJS.Timeout | null = null;
  private readonly counts = { decisions: 0, granted: 0, refused: 0, duplicates: 0, late: 0 };
  private readonly freshness: SwipeFreshness;
  private readonly meters = new HourMeters();
  private lastCheckpoint = 0;
  /** Devices that read badges: their clocks are followed to tell a live swipe from a delivered backlog. */
  private readonly readers = new Set<string>();

  constructor(private readonly opts: AccessRunnerOptions) {
    this.freshness = new SwipeFreshness({ ...(opts.maxSwipeLatenessMs !== undefined && { maxLatenessMs: opts.maxSwipeLatenessMs }) });
    for (const d of opts.site.devices.values()) {
      if (d.kind === 'badge-reader' || d.kind === 'door-controller') this.readers.add(d.id);
      if (d.kind === 'power-meter' && d.target?.type === 'equipment') push(this.metersByEquipment, d.target.id, d);
      if (d.kind === 'door-controller' && d.target?.type === 'door') push(this.controllersByDoor, d.target.id, d);
    }
  }

  /** Rebuilds presence and sessions from the journal, then runs the timers. */
  start(): void {
    if (this.timer) return;
    const now = this.opts.clock.now();
    // Back far enough for presence, sessions and certification lapse (the last use of each certification).
    const lapseDays = this.opts.site.file.site.certificationLapseDays ?? 0;
    const horizon = now - Math.max(DEFAULT_PRESENCE_MS, 24 * 3600_000, lapseDays * 86_400_000);
    let restored = 0;
    for (const r of this.opts.history(horizon)) {
      if (r.kind === 'decision') this.applyDecisionRecord(r);
      else if (r.kind === 'session') this.applySessionRecord(r);
      restored++;
    }
    for (const e of this.opts.site.equipment.keys()) {
      const saved = this.opts.lastRecord?.(meterKeyPrefix(e));
      if (saved?.kind === 'meter') this.meters.restore(e, saved.runningMs);
    }
    this.lastCheckpoint = now;
    // A session alive at the restart continues; its idle clock starts again now.
    for (const s of this.sessions.values()) s.lastActive = Math.max(s.lastActive, now);
    this.opts.logger.info({ restored, sessions: this.sessions.size, inside: [...this.presence.values()].reduce((a, m) => a + m.size, 0) }, 'access state rebuilt from the journal');
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.checkpointMeters(this.opts.clock.now());
  }

  /**
   * Records about to be journaled, as they arrive: follows the readers'
   * clocks, and decides every swipe among them (onSwipe). Returns what to
   * journal with them.
   */
  onRecords(records: readonly JournalRecord[], receivedAt: number): JournalRecord[] {
    let out: JournalRecord[] | null = null;
    for (const r of records) {
      if (!isSignal(r) || !this.readers.has(r.device)) continue;
      const live = r.tsSource !== 'device' || this.freshness.observe(r.device, receivedAt, r.ts).live;
      if (r.kind === 'badge') (out ??= []).push(...this.onSwipe(r, live));
    }
    return out ?? [];
  }

  /**
   * A badge signal, decoded and about to be journaled: decides and commands at
   * once, and returns the decision (and any session records) to journal with
   * it; nothing for a swipe already seen. A swipe that is not `live` (it sat
   * in a reader's queue) is recorded as refused, swipe_late, and opens nothing.
   */
  onSwipe(swipe: BadgeSignal, live = true): JournalRecord[] {
    if (this.recentKeys.has(swipe.key) || this.opts.journaled(swipe.key)) {
      this.counts.duplicates++;
      return [];
    }
    this.remember(swipe.key);
    const device = this.opts.site.devices.get(swipe.device);
    const target = swipe.target;
    if (!device || !target || (target.type !== 'door' && target.type !== 'equipment')) return [];
    const now = this.opts.clock.now();
    const policy = this.opts.policy.current();
    const decided = decide({
      site: this.opts.site,
      policy,
      policyAgeMs: this.opts.policy.ageMs(now),
      now,
      request: { target, credential: swipe.credential, direction: device.direction },
      state: this.state(),
    });
    const d: Decision = live ? decided : { ...decided, grant: false, reason: 'swipe_late', action: 'none', presence: null, maxRunMs: null, takeover: false, override: false };
    if (!live) this.counts.late++;
    this.counts.decisions++;
    if (d.grant) this.counts.granted++;
    else this.counts.refused++;
    const out: JournalRecord[] = [];
    let sessionId: string | null = null;
    if (target.type === 'equipment') {
      const ended = this.sessions.get(target.id);
      if (d.action === 'power_off' && ended) {
        out.push(this.endSession(ended, 'badge_out', now, false));
        sessionId = ended.id;
      }
      if (d.action === 'power_on' && d.memberId) {
        if (ended) out.push(this.endSession(ended, 'takeover', now, false));
        const started = this.startSession(target.id, d, now);
        sessionId = started.sessionId;
        out.push(started);
      }
    }
    if (d.presence && d.space && d.memberId) this.applyPresence(d.space, d.memberId, d.presence, now);
    if (d.grant && d.certification && d.memberId) this.lastUse.set(`${d.memberId}\u0000${d.certification}`, now);
    // Nobody is at a reader whose swipe arrives late: nothing to open or tell.
    if (live) this.actuate(device, { type: target.type, id: target.id }, d, sessionId);
    const record: DecisionRecord = {
      kind: 'decision',
      key: `${swipe.key}:decision`,
      site: this.opts.site.id,
      device: swipe.device,
      space: d.space,
      target,
      swipe: swipe.key,
      credential: swipe.credential,
      memberId: d.memberId,
      // The team as the policy had it at the decision: statements and reports attribute by it.
      teamId: d.memberId !== null ? (policy?.member(d.memberId)?.teamId ?? null) : null,
      grant: d.grant,
      reason: d.reason,
      override: d.override,
      policyVersion: d.policyVersion,
      ts: now,
      sessionId,
      maxRunMs: d.maxRunMs,
    };
    // Every decision is journaled and written to InfluxDB; the log names refusals (what an operator looks
    // into) and leaves grants to debug, which keeps a busy door's log readable and its hot path short.
    const line = { device: swipe.device, target: `${target.type}:${target.id}`, member: d.memberId, grant: d.grant, reason: d.reason };
    if (d.grant) this.opts.logger.debug(line, 'access decision');
    else this.opts.logger.info(line, 'access decision');
    return [record, ...out];
  }

  /** Power readings (journaled) run the hour meters and keep sessions alive (running) or let them go idle. */
  observe(records: readonly JournalRecord[]): void {
    const now = this.opts.clock.now();
    for (const r of records) {
      if (r.kind !== 'power' || r.target?.type !== 'equipment') continue;
      const equipment = this.opts.site.equipment.get(r.target.id);
      if (equipment) this.meters.observe(equipment.id, r.ts, r.powerW, equipment.runningThresholdW ?? 0);
      const s = this.sessions.get(r.target.id);
      if (!s) continue;
      this.onPower(s, r, now);
    }
  }

  /** Who is where, and what runs for whom (for /healthz, the live view and tests). */
  snapshot(): AccessSnapshot {
    return {
      presence: Object.fromEntries([...this.presence].map(([space, m]) => [space, [...m.keys()].sort()])),
      sessions: [...this.sessions.values()].map((s) => ({ equipment: s.equipment, memberId: s.memberId, sessionId: s.id, startedAt: s.startedAt, running: s.running })),
      counts: { ...this.counts },
      hourMeters: Object.fromEntries(Object.entries(this.meters.all()).map(([e, ms]) => [e, Math.round(ms / 36_000) / 100])),
    };
  }

  /** Journals the hour meters that changed since the last checkpoint. */
  private checkpointMeters(now: number): void {
    this.lastCheckpoint = now;
    const records: MeterRecord[] = this.meters.checkpoint().map(({ equipment, runningMs }) => ({
      kind: 'meter',
      key: meterKey(equipment, now),
      site: this.opts.site.id,
      space: this.opts.site.equipment.get(equipment)?.space ?? null,
      equipment,
      runningMs,
      ts: now,
    }));
    if (records.length > 0) this.opts.record(records);
  }

  /** The periodic checks: presence timeouts and closing, session idle, longest run, closing, out of service. */
  tick(): void {
    const now = this.opts.clock.now();
    const site = this.opts.site;
    for (const [spaceId, members] of this.presence) {
      const space = site.spaces.get(spaceId);
      const timeout = space?.presenceTimeoutS !== undefined ? space.presenceTimeoutS * 1000 : DEFAULT_PRESENCE_MS;
      // Closed by the space's calendar (weekly hours, the site's closed dates and make-up days), as access decisions read it.
      const closed = !spaceOpenState(site, spaceId, now).open;
      for (const [member, since] of members) if (closed || now - since > timeout) members.delete(member);
    }
    const records: JournalRecord[] = [];
    const policy = this.opts.policy.current();
    for (const s of [...this.sessions.values()]) {
      const equipment = site.equipment.get(s.equipment);
      const idleOff = equipment?.idleOffS !== undefined ? equipment.idleOffS * 1000 : DEFAULT_IDLE_OFF_MS;
      if (now - s.lastActive >= idleOff) {
        records.push(this.endSession(s, 'idle', now, true));
        continue;
      }
      // Until the open stretch ends (past midnight it stops where a closed date begins); null: not closing soon.
      const closesAt = spaceOpenState(site, equipment?.space ?? null, now).closesAt;
      const untilClose = closesAt !== null ? closesAt - now : null;
      const warning = site.file.site.closingWarningS !== undefined ? site.file.site.closingWarningS * 1000 : DEFAULT_CLOSING_WARNING_MS;
      // Closing first: a longest run cut short by closing time ends for closing.
      const limits: [boolean, SessionWarning & SessionEnd][] = [
        [untilClose !== null && untilClose === 0, 'closing'],
        [policy?.outOfService(site.id, s.equipment) !== undefined, 'out_of_service'],
        [s.maxRunUntil !== null && now >= s.maxRunUntil, 'max_run'],
        // A booking made after the swipe (so not in its longest run) still ends the session when it begins.
        [bookedByOther(policy?.bookingAt(site.id, s.equipment, now), s.memberId), 'max_run'],
      ];
      const due = limits.find(([hit]) => hit);
      if (due) {
        // Never cut power mid-job: warn, and end it once the machine is idle.
        if (!s.running) records.push(this.endSession(s, due[1], now, true));
        else if (!s.warned) this.warn(s, due[1]);
      } else if (untilClose !== null && untilClose <= warning && !s.warned) {
        this.warn(s, 'closing');
      }
    }
    if (records.length > 0) this.opts.record(records);
    if (now - this.lastCheckpoint >= (this.opts.meterCheckpointMs ?? 300_000)) this.checkpointMeters(now);
  }

  private state(): AccessState {
    return {
      occupancy: (space) => this.presence.get(space)?.size ?? 0,
      isInside: (member, space) => this.presence.get(space)?.has(member) ?? false,
      session: (equipment) => {
        const s = this.sessions.get(equipment);
        return s ? { memberId: s.memberId, sessionId: s.id } : null;
      },
      // Bookings come with the policy snapshot (issue #13, docs/bookings.md).
      booking: (equipment, now) => {
        const b = this.opts.policy.current()?.bookingAt(this.opts.site.id, equipment, now);
        return b ? { memberId: b.memberId, until: b.to } : null;
      },
      nextBookingStart: (equipment, now, member) => this.opts.policy.current()?.nextBookingStart(this.opts.site.id, equipment, now, member) ?? null,
      lastUsed: (member, cert) => this.lastUse.get(`${member}\u0000${cert}`) ?? null,
    };
  }

  private actuate(reader: DeviceInfo, target: { type: 'door' | 'equipment'; id: string }, d: Decision, sessionId: string | null): void {
    const r = REASONS[d.reason];
    const send = (deviceId: string, c: DeviceCommand) =>
      this.opts.command(deviceId, c).catch((err: unknown) => this.opts.logger.warn({ device: deviceId, command: c.type, err: (err as Error).message }, 'command not sent'));
    if (target.type === 'door' && d.action === 'unlock') {
      for (const c of this.controllersByDoor.get(target.id) ?? []) void send(c.id, { type: 'unlock', durationMs: this.opts.unlockMs ?? 5000 });
    }
    if (target.type === 'equipment' && (d.action === 'power_on' || d.action === 'power_off')) {
      for (const m of this.metersByEquipment.get(target.id) ?? []) void send(m.id, { type: 'power', on: d.action === 'power_on' });
    }
    if (reader.format === 'canonical') {
      void send(reader.id, { type: 'feedback', grant: d.grant, reason: d.reason, led: r.led, beeps: r.beeps, text: { en: r.en, zh: r.zh } });
      if (target.type === 'equipment' && reader.kind === 'badge-reader') {
        const state = d.action === 'power_on' ? 'granted' : d.action === 'power_off' ? 'ended' : 'denied';
        void send(reader.id, { type: 'session', state, sessionId, memberId: d.memberId, maxRunMs: d.maxRunMs, reason: d.reason, text: { en: r.en, zh: r.zh } });
      }
    }
  }

  private startSession(equipment: string, d: Decision, now: number): SessionRecord {
    const s: Session = {
      id: `${equipment}.${now.toString(36)}.${randomUUID().slice(0, 6)}`,
      equipment,
      memberId: d.memberId!,
      teamId: this.opts.policy.current()?.member(d.memberId!)?.teamId ?? null,
      startedAt: now,
      maxRunUntil: d.maxRunMs !== null ? now + d.maxRunMs : null,
      lastActive: now,
      running: false,
      warned: false,
    };
    this.sessions.set(equipment, s);
    return { kind: 'session', key: `session:${s.id}:start`, site: this.opts.site.id, space: d.space, equipment, sessionId: s.id, memberId: s.memberId, teamId: s.teamId, event: 'start', reason: d.reason, ts: now, durationMs: null };
  }

  /** Ends a session; `switchOff` for ends the gateway decides on its own (a swipe's decision switches by itself). */
  private endSession(s: Session, reason: SessionEnd | 'badge_out' | 'takeover', now: number, switchOff: boolean): SessionRecord {
    this.sessions.delete(s.equipment);
    if (switchOff) {
      for (const m of this.metersByEquipment.get(s.equipment) ?? []) {
        this.opts.command(m.id, { type: 'power', on: false }).catch((err: unknown) => this.opts.logger.warn({ device: m.id, err: (err as Error).message }, 'power-off not sent'));
      }
      for (const reader of this.readersOf(s.equipment)) {
        const text = reason === 'badge_out' || reason === 'takeover' ? REASONS.session_ended : SESSION_ENDS[reason];
        void this.opts
          .command(reader.id, { type: 'session', state: 'ended', sessionId: s.id, memberId: s.memberId, maxRunMs: null, reason, text: { en: text.en, zh: text.zh } })
          .catch(() => undefined);
      }
    }
    this.opts.logger.info({ equipment: s.equipment, member: s.memberId, reason, minutes: Math.round((now - s.startedAt) / 60_000) }, 'machine session ended');
    const space = this.opts.site.equipment.get(s.equipment)?.space ?? null;
    return { kind: 'session', key: `session:${s.id}:end`, site: this.opts.site.id, space, equipment: s.equipment, sessionId: s.id, memberId: s.memberId, teamId: s.teamId, event: 'end', reason, ts: now, durationMs: now - s.startedAt };
  }

  private warn(s: Session, reason: SessionWarning): void {
    s.warned = true;
    for (const reader of this.readersOf(s.equipment)) {
      const text = SESSION_WARNINGS[reason];
      void this.opts
        .command(reader.id, { type: 'session', state: 'warning', sessionId: s.id, memberId: s.memberId, maxRunMs: null, reason, text: { en: text.en, zh: text.zh } })
        .catch(() => undefined);
    }
    this.opts.logger.info({ equipment: s.equipment, member: s.memberId, reason }, 'machine session warned: it ends when the machine is idle');
  }

  private readersOf(equipment: string): DeviceInfo[] {
    return [...this.opts.site.devices.values()].filter((d) => d.format === 'canonical' && d.kind === 'badge-reader' && d.target?.type === 'equipment' && d.target.id === equipment);
  }

  private onPower(s: Session, r: PowerSignal, now: number): void {
    const threshold = this.opts.site.equipment.get(s.equipment)?.runningThresholdW ?? 0;
    s.running = r.powerW > threshold;
    if (s.running) s.lastActive = now;
  }

  private applyPresence(space: string, member: string, change: 'enter' | 'leave', at: number): void {
    let m = this.presence.get(space);
    if (!m) this.presence.set(space, (m = new Map<string, number>()));
    if (change === 'enter') m.set(member, at);
    else m.delete(member);
  }

  private applyDecisionRecord(r: DecisionRecord): void {
    this.remember(r.swipe);
    if (r.sessionId !== null && r.maxRunMs !== null) this.restoredMaxRun.set(r.sessionId, r.ts + r.maxRunMs);
    if (!r.grant || !r.memberId) return;
    const certification = requiredCertification(this.opts.site, r.target);
    if (certification) this.lastUse.set(`${r.memberId}\u0000${certification}`, r.ts);
    const device = this.opts.site.devices.get(r.device);
    if (r.target.type === 'door' && r.space) this.applyPresence(r.space, r.memberId, r.reason === 'exit' || device?.direction === 'out' ? 'leave' : 'enter', r.ts);
  }

  private applySessionRecord(r: SessionRecord): void {
    if (r.event === 'end') {
      if (this.sessions.get(r.equipment)?.id === r.sessionId) this.sessions.delete(r.equipment);
      return;
    }
    const maxRunUntil = this.restoredMaxRun.get(r.sessionId) ?? null;
    this.restoredMaxRun.delete(r.sessionId);
    this.sessions.set(r.equipment, { id: r.sessionId, equipment: r.equipment, memberId: r.memberId, teamId: r.teamId ?? null, startedAt: r.ts, maxRunUntil, lastActive: r.ts, running: false, warned: false });
  }

  private remember(key: string): void {
    this.recentKeys.add(key);
    if (this.recentKeys.size > RECENT_KEYS) {
      const oldest = this.recentKeys.values().next().value;
      if (oldest !== undefined) this.recentKeys.delete(oldest);
    }
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** Whether a booking holding a machine is someone else's than the member running it (a block or a visitor's: everyone's). */
function bookedByOther(b: { readonly memberId: string | null } | undefined, memberId: string): boolean {
  return b !== undefined && b.memberId !== memberId;
}
