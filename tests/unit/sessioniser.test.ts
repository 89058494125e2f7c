/**
 * core/usage/sessioniser.ts: hand-computed fixtures for each session kind, and
 * the properties that make one sessioniser serve live view, billing and audit:
 * a run split at any record and resumed from a snapshot gives the same
 * sessions as one run; any arrival order within the allowed lateness gives
 * the same sessions as the sorted stream.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DecisionRecord, HealthSignal, JournalRecord, OccupancySignal, PowerSignal, SessionRecord } from '../../core/signals.js';
import { exampleSiteFile } from '../../core/site/example.js';
import { validateSite } from '../../core/site/validate.js';
import { Sessioniser, sessioniserConfig, type Output, type SessioniserConfig, type UsageSession } from '../../core/usage/sessioniser.js';

const MIN = 60_000;
const H = 3600_000;
// Wednesday 2026-11-25 00:00 Asia/Shanghai.
const DAY = Date.parse('2026-11-24T16:00:00Z');
const at = (hhmm: string) => DAY + Number(hhmm.slice(0, 2)) * H + Number(hhmm.slice(3, 5)) * MIN;

const cfg: SessioniserConfig = {
  allowedLatenessMs: 60_000,
  deskMergeGapMs: 5 * MIN,
  deskMinDurationMs: 2 * MIN,
  hysteresis: 0.2,
  meterSilenceMs: 15 * MIN,
  timezone: 'Asia/Shanghai',
  deskSensors: { 'occ-d1': { desk: 'd1', space: 'cowork' }, 'occ-d2': { desk: 'd2', space: 'cowork' } },
  desks: { d1: 'cowork', d2: 'cowork' },
  machineMeters: { 'pm-laser': 'laser', 'pm-printer': 'printer' },
  machines: { laser: { space: 'fablab', thresholdW: 300, idleMs: 10 * MIN }, printer: { space: 'fablab', thresholdW: 40, idleMs: 10 * MIN } },
  spaces: {
    cowork: { timeoutMs: 8 * H, hours: null },
    fablab: { timeoutMs: 4 * H, hours: [{ days: [1, 2, 3, 4, 5, 6, 7], from: '09:00', to: '21:00' }] },
  },
};

const common = (device: string, ts: number, deviceKind: OccupancySignal['deviceKind']) => ({ key: `${device}:${ts}`, site: 's', device, deviceKind, space: null, target: null, seq: 0, ts, tsSource: 'device' as const });
const occ = (device: string, ts: number, occupied: boolean): OccupancySignal => ({ ...common(device, ts, 'occupancy-sensor'), kind: 'occupancy', occupied });
const pow = (device: string, ts: number, powerW: number, energyKwh: number | null = null): PowerSignal => ({ ...common(device, ts, 'power-meter'), kind: 'power', powerW, energyKwh, voltageV: null, currentA: null, on: null });
const health = (device: string, ts: number, online: boolean): HealthSignal => ({ ...common(device, ts, 'occupancy-sensor'), key: `${device}:h:${ts}`, kind: 'health', online, batteryPct: null, linkQuality: null });
const door = (member: string, space: string, ts: number, reason: 'granted' | 'exit' | 'anti_passback' = 'granted'): DecisionRecord => ({
  kind: 'decision',
  key: `dc-${space}:${member}:${ts}:decision`,
  site: 's',
  device: `dc-${space}`,
  space,
  target: { type: 'door', id: space },
  swipe: `dc-${space}:${member}:${ts}`,
  credential: { format: 'uid', id: 'AA' },
  memberId: member,
  grant: reason !== 'anti_passback',
  reason,
  override: false,
  policyVersion: 1,
  ts,
  sessionId: null,
  maxRunMs: null,
});
const access = (equipment: string, member: string, sessionId: string, event: 'start' | 'end', ts: number): SessionRecord => ({
  kind: 'session',
  key: `session:${sessionId}:${event}`,
  site: 's',
  space: 'fablab',
  equipment,
  sessionId,
  memberId: member,
  event,
  reason: event === 'start' ? 'granted' : 'badge_out',
  ts,
  durationMs: null,
});

/** One run over the records, then the end of the stream at `end`. */
function run(records: readonly JournalRecord[], end: number, config: SessioniserConfig = cfg): { closed: Output[]; open: UsageSession[] } {
  const s = new Sessioniser(config);
  const closed: Output[] = [];
  for (const r of records) closed.push(...s.push(r));
  const f = s.flush(end);
  return { closed: [...closed, ...f.closed], open: f.open };
}

const sessions = (o: Output[]) => o.filter((x): x is UsageSession => x.kind !== 'gap');
const brief = (o: Output[]) => o.map((x) => (x.kind === 'gap' ? { gap: x.device, from: x.from, to: x.to } : { kind: x.kind, resource: x.resource, member: x.memberId, start: x.start, end: x.end, reason: x.endReason, inferred: x.endInferred }));

describe('desk sessions', () => {
  it('merges a flicker shorter than the merge gap, ends at the vacancy that lasts, drops sessions under the minimum', () => {
    const { closed, open } = run(
      [
        occ('occ-d1', at('09:00'), true),
        occ('occ-d1', at('10:00'), false),
        occ('occ-d1', at('10:03'), true), // back within 5 min: the same session
        occ('occ-d1', at('12:00'), false), // lunch: more than 5 min
        occ('occ-d1', at('13:00'), true),
        occ('occ-d1', at('13:01'), false), // 1 min: under the minimum, dropped
        occ('occ-d2', at('14:00'), true),
      ],
      at('18:00'),
    );
    expect(brief(closed)).toEqual([{ kind: 'desk', resource: 'd1', member: null, start: at('09:00'), end: at('12:00'), reason: 'vacated', inferred: false }]);
    expect(sessions(closed)[0]!.evidence).toEqual({ first: `occ-d1:${at('09:00')}`, last: `occ-d1:${at('12:00')}`, count: 4 });
    expect(brief(open)).toEqual([{ kind: 'desk', resource: 'd2', member: null, start: at('14:00'), end: at('18:00'), reason: 'open', inferred: false }]);
  });

  it('a sensor offline ends the session where knowledge ends and leaves an unknown gap, not a free desk', () => {
    const { closed } = run([occ('occ-d1', at('09:00'), true), health('occ-d1', at('11:00'), false), occ('occ-d1', at('11:40'), true), occ('occ-d1', at('12:30'), false)], at('18:00'));
    expect(brief(closed)).toEqual([
      { kind: 'desk', resource: 'd1', member: null, start: at('09:00'), end: at('11:00'), reason: 'offline', inferred: true },
      { gap: 'occ-d1', from: at('11:00'), to: at('11:40') },
      { kind: 'desk', resource: 'd1', member: null, start: at('11:40'), end: at('12:30'), reason: 'vacated', inferred: false },
    ]);
  });

  it('a device still offline at the end of the stream is unknown up to the end', () => {
    const s = new Sessioniser(cfg);
    s.push(occ('occ-d2', at('09:00'), true));
    s.push(health('occ-d2', at('10:00'), false));
    const f = s.flush(at('18:00'));
    expect(f.openGaps).toEqual([{ kind: 'gap', device: 'occ-d2', resource: 'd2', from: at('10:00'), to: at('18:00') }]);
  });
});

describe('presence sessions', () => {
  it('entry to exit; a second entry while inside is the same visit; refusals change nothing', () => {
    const { closed } = run([door('m1', 'cowork', at('09:00')), door('m1', 'cowork', at('09:30')), door('m1', 'cowork', at('10:00'), 'anti_passback'), door('m1', 'cowork', at('17:00'), 'exit')], at('23:00'));
    expect(brief(closed)).toEqual([{ kind: 'presence', resource: 'cowork', member: 'm1', start: at('09:00'), end: at('17:00'), reason: 'exit', inferred: false }]);
  });

  it('carries the team the entry decision recorded; none recorded reads as null', () => {
    const { closed } = run([{ ...door('m1', 'cowork', at('09:00')), teamId: 't-robotics' }, door('m2', 'cowork', at('10:00')), door('m2', 'cowork', at('11:00'), 'exit'), door('m1', 'cowork', at('17:00'), 'exit')], at('23:00'));
    expect(sessions(closed).map((s) => [s.memberId, s.teamId])).toEqual([
      ['m2', null],
      ['m1', 't-robotics'],
    ]);
  });

  it('without an exit: the space timeout, or its closing time if sooner, marked inferred', () => {
    const { closed } = run([door('m1', 'cowork', at('09:00')), door('m2', 'fablab', at('10:00')), door('m3', 'fablab', at('19:00'))], at('23:59'));
    expect(brief(closed)).toEqual([
      { kind: 'presence', resource: 'fablab', member: 'm2', start: at('10:00'), end: at('14:00'), reason: 'timeout', inferred: true },
      { kind: 'presence', resource: 'cowork', member: 'm1', start: at('09:00'), end: at('17:00'), reason: 'timeout', inferred: true },
      { kind: 'presence', resource: 'fablab', member: 'm3', start: at('19:00'), end: at('21:00'), reason: 'closing', inferred: true },
    ]);
  });

  it('closing time follows the closed dates: hours past midnight stop where a closed date begins, and an always-open space closes for it', () => {
    const late = [
      { days: [1, 2, 3, 4, 5, 6, 7], from: '08:00', to: '24:00' },
      { days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '02:00' },
    ];
    const open = { ...cfg, spaces: { cowork: { timeoutMs: 8 * H, hours: null }, fablab: { timeoutMs: 4 * H, hours: late } } };
    // Thursday 2026-11-26 closed (as plain data: the config stays JSON).
    const holiday: SessioniserConfig = JSON.parse(JSON.stringify({ ...open, closedDates: ['2026-11-26'] })) as SessioniserConfig;
    const records = [door('m2', 'cowork', at('20:00')), door('m1', 'fablab', at('23:00'))];
    expect(brief(run(records, at('23:59') + 12 * H, open).closed)).toEqual([
      { kind: 'presence', resource: 'fablab', member: 'm1', start: at('23:00'), end: at('23:00') + 3 * H, reason: 'closing', inferred: true },
      { kind: 'presence', resource: 'cowork', member: 'm2', start: at('20:00'), end: at('20:00') + 8 * H, reason: 'timeout', inferred: true },
    ]);
    expect(brief(run(records, at('23:59') + 12 * H, holiday).closed)).toEqual([
      { kind: 'presence', resource: 'cowork', member: 'm2', start: at('20:00'), end: DAY + 24 * H, reason: 'closing', inferred: true },
      { kind: 'presence', resource: 'fablab', member: 'm1', start: at('23:00'), end: DAY + 24 * H, reason: 'closing', inferred: true },
    ]);
  });

  it('on a make-up working day, closing time is the end of its hours', () => {
    // Saturday 2026-11-28, a make-up day 09:00–17:00 for a space open weekdays only.
    const sat = (hhmm: string) => at(hhmm) + 3 * 24 * H;
    const weekdays: SessioniserConfig = { ...cfg, spaces: { ...cfg.spaces, fablab: { timeoutMs: 12 * H, hours: [{ days: [1, 2, 3, 4, 5], from: '09:00', to: '21:00' }] } } };
    const makeUp: SessioniserConfig = { ...weekdays, extraOpenDates: [{ date: '2026-11-28', from: '09:00', to: '17:00' }] };
    expect(brief(run([door('m1', 'fablab', sat('10:00'))], sat('23:59'), makeUp).closed)).toEqual([
      { kind: 'presence', resource: 'fablab', member: 'm1', start: sat('10:00'), end: sat('17:00'), reason: 'closing', inferred: true },
    ]);
    // Without it the space is closed that Saturday: an entry then (an override) ends by the timeout alone.
    expect(brief(run([door('m1', 'fablab', sat('10:00'))], sat('23:59'), weekdays).closed)).toEqual([
      { kind: 'presence', resource: 'fablab', member: 'm1', start: sat('10:00'), end: sat('22:00'), reason: 'timeout', inferred: true },
    ]);
  });
});

describe('machine sessions', () => {
  it('runs above the threshold with hysteresis, counts short idle stretches inside, ends when idle too long; energy from the counter across a reset; attributed by the badge session', () => {
    const t = (m: number) => at('10:00') + m * MIN;
    const { closed } = run(
      [
        { ...access('laser', 'm7', 'S1', 'start', t(-1)), teamId: 't-wearables' },
        pow('pm-laser', t(0), 800, 10.0),
        pow('pm-laser', t(10), 260, 10.1), // 260 W: below 300 but above 240 (hysteresis): still running
        pow('pm-laser', t(20), 50, 10.2), // idle from here
        pow('pm-laser', t(25), 800, 10.25), // back within 10 min: same session, 5 min idle
        pow('pm-laser', t(40), 800, 0.1), // the plug rebooted: counter reset, 0.1 kWh since
        pow('pm-laser', t(45), 30, 0.2), // idle…
        pow('pm-laser', t(50), 30, 0.2),
        pow('pm-laser', t(60), 30, 0.2), // …for more than 10 min: the session ended at t(45)
        access('laser', 'm7', 'S1', 'end', t(61)),
      ],
      at('18:00'),
    );
    const [s] = sessions(closed);
    expect(sessions(closed)).toHaveLength(1);
    expect(s).toMatchObject({ kind: 'machine', resource: 'laser', space: 'fablab', memberId: 'm7', teamId: 't-wearables', accessSessionId: 'S1', start: t(0), end: t(45), endReason: 'idle', endInferred: false });
    expect(s!.runningMs).toBe(40 * MIN); // t0–t20 and t25–t45
    expect(s!.idleMs).toBe(5 * MIN); // t20–t25; the idle tail after t45 is not the session's
    // Counter: 10.0→10.1→10.2→10.25, reset →0.1, →0.2 (the readings inside the session, t0..t45 and the idle tail readings after)
    expect(s!.energyWh).toBe(Math.round((0.1 + 0.1 + 0.05 + 0.1 + 0.1) * 1e6) / 1000);
  });

  it('a machine still in an idle stretch at the end is cut where it last worked, without the idle tail', () => {
    const t = (m: number) => at('10:00') + m * MIN;
    const { open } = run([pow('pm-laser', t(0), 800), pow('pm-laser', t(10), 800), pow('pm-laser', t(15), 20), pow('pm-laser', t(20), 20)], t(21));
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ start: t(0), end: t(15), endReason: 'open', runningMs: 15 * MIN, idleMs: 0 });
  });

  it('without a counter, energy is power over time; a meter gone quiet ends the session at its last reading, inferred', () => {
    const t = (m: number) => at('10:00') + m * MIN;
    const { closed } = run([0, 10, 20, 30, 40, 50, 60].map((m) => pow('pm-printer', t(m), 100)), at('18:00'));
    const [s] = sessions(closed);
    expect(s).toMatchObject({ kind: 'machine', resource: 'printer', memberId: null, start: t(0), end: t(60), endReason: 'silent', endInferred: true, runningMs: 60 * MIN });
    expect(s!.energyWh).toBe(100);
  });
});

describe('one run or many, any order within the lateness', () => {
  /** A busy, random morning: desks flicker, people come and go, machines run. */
  const stream = fc
    .array(
      fc.oneof(
        fc.record({ k: fc.constant('occ'), d: fc.constantFrom('occ-d1', 'occ-d2'), t: fc.integer({ min: 0, max: 600 }), v: fc.boolean() }),
        fc.record({ k: fc.constant('pow'), d: fc.constantFrom('pm-laser', 'pm-printer'), t: fc.integer({ min: 0, max: 600 }), v: fc.integer({ min: 0, max: 1000 }) }),
        fc.record({ k: fc.constant('door'), d: fc.constantFrom('m1', 'm2', 'm3'), t: fc.integer({ min: 0, max: 600 }), v: fc.boolean() }),
        fc.record({ k: fc.constant('off'), d: fc.constantFrom('occ-d1', 'pm-laser'), t: fc.integer({ min: 0, max: 600 }), v: fc.boolean() }),
      ),
      { maxLength: 120 },
    )
    .map((items) => {
      const recs = items.map((i): JournalRecord => {
        const ts = at('08:00') + i.t * 30_000;
        if (i.k === 'occ') return occ(i.d, ts, i.v);
        if (i.k === 'pow') return pow(i.d, ts, i.v);
        if (i.k === 'door') return door(i.d, i.v ? 'fablab' : 'cowork', ts, ts % 3 === 0 ? 'exit' : 'granted');
        return health(i.d, ts, i.v);
      });
      // One record per key (a device sends one message per instant).
      const seen = new Set<string>();
      return recs.filter((r) => (seen.has(r.key) ? false : (seen.add(r.key), true))).sort((a, b) => a.ts - b.ts || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    });

  it('splitting the stream at any record and resuming from a snapshot gives the same sessions', () => {
    fc.assert(
      fc.property(stream, fc.nat(), (recs, cut) => {
        const end = at('14:00');
        const whole = run(recs, end);
        const k = recs.length === 0 ? 0 : cut % (recs.length + 1);
        const first = new Sessioniser(cfg);
        const out: Output[] = [];
        for (const r of recs.slice(0, k)) out.push(...first.push(r));
        // The snapshot goes through JSON, as it would to disk.
        const second = Sessioniser.restore(cfg, JSON.parse(JSON.stringify(first.snapshot())) as ReturnType<Sessioniser['snapshot']>);
        for (const r of recs.slice(k)) out.push(...second.push(r));
        const f = second.flush(end);
        expect([...out, ...f.closed]).toEqual(whole.closed);
        expect(f.open).toEqual(whole.open);
      }),
      { numRuns: 300 },
    );
  });

  it('any arrival order within the allowed lateness gives the same sessions as the sorted stream', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.integer({ min: 0, max: 60_000 })), (recs, delays) => {
        const end = at('14:00');
        const sorted = run(recs, end);
        // Each record arrives up to the allowed lateness after its time.
        const arrivals = recs.map((r, i) => ({ r, arrive: r.ts + (delays[i % Math.max(1, delays.length)] ?? 0) })).sort((a, b) => a.arrive - b.arrive);
        const s = new Sessioniser(cfg);
        const out: Output[] = [];
        for (const a of arrivals) out.push(...s.push(a.r));
        const f = s.flush(end);
        expect(s.late).toBe(0);
        expect([...out, ...f.closed]).toEqual(sorted.closed);
        expect(f.open).toEqual(sorted.open);
      }),
      { numRuns: 300 },
    );
  });

  it('a record later than the allowed lateness is counted as late and not used', () => {
    const s = new Sessioniser(cfg);
    s.push(occ('occ-d1', at('09:00'), true));
    s.push(occ('occ-d1', at('09:10'), false));
    expect(s.push(occ('occ-d2', at('09:00'), true))).toEqual([]);
    expect(s.late).toBe(1);
  });
});

describe('configuration from a site', () => {
  it('maps the example site: desk sensors to desks, meters to machines, spaces with their timeouts and hours', () => {
    const r = validateSite(exampleSiteFile({ credentialsFor: () => ({ secret: 'env:X' }) }));
    if (!r.ok) throw new Error('example site invalid');
    const c = sessioniserConfig(r.site);
    expect(Object.keys(c.deskSensors)).toHaveLength(44);
    expect(c.machineMeters['pm-laser-1']).toBe('laser-1');
    expect(c.machines['laser-1']).toMatchObject({ space: 'fablab', thresholdW: 300, idleMs: 600_000 });
    expect(c.spaces.fablab!.timeoutMs).toBe(8 * H);
    expect(c.timezone).toBe('Asia/Shanghai');
  });

  it('carries the site\'s closed dates and make-up days as plain data', () => {
    const file = exampleSiteFile({ credentialsFor: () => ({ secret: 'env:X' }) });
    const r = validateSite({ ...file, site: { ...file.site, closedDates: [{ date: '2026-10-01', name: '国庆节' }, '2026-10-02'], extraOpenDates: [{ date: '2026-10-11', from: '08:00', to: '22:00', name: '国庆调休' }] } });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const c = sessioniserConfig(r.site);
    expect(c.closedDates).toEqual(['2026-10-01', '2026-10-02']);
    expect(c.extraOpenDates).toEqual([{ date: '2026-10-11', from: '08:00', to: '22:00', name: '国庆调休' }]);
    expect(JSON.parse(JSON.stringify(c))).toEqual(c);
  });
});
