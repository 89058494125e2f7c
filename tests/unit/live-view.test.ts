/**
 * gateway/live/live-view.ts over a fake clock, with the publish, journal
 * replay and InfluxDB client it is handed: what it publishes retained and
 * when, what listeners get, the per-minute series, and the state rebuilt
 * after a restart. gateway/live/series-writer.ts: what happens to the derived
 * points when InfluxDB fails.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HealthSignal, JournalRecord, OccupancySignal, PowerSignal } from '../../core/signals.js';
import { exampleSiteFile } from '../../core/site/example.js';
import { validateSite } from '../../core/site/validate.js';
import type { LiveChange } from '../../core/usage/live.js';
import type { WriteResult } from '../../gateway/influx/client.js';
import type { CommittedRecord } from '../../gateway/journal/journal.js';
import { LiveView } from '../../gateway/live/live-view.js';
import { SeriesWriter } from '../../gateway/live/series-writer.js';

const valid = validateSite(exampleSiteFile({ credentialsFor: () => ({ secret: 'env:X' }) }));
if (!valid.ok) throw new Error('the example site is not valid');
const site = valid.site;
const TOPICS = 1 + site.spaces.size + site.desks.size + site.equipment.size + site.devices.size;
const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const T0 = Date.parse('2026-11-25T02:00:30Z');
const topic = (rest: string) => `fac/v1/demo-makerspace/state/${rest}`;

let n = 0;
const common = (device: string, ts: number) => {
  const d = site.devices.get(device)!;
  return { key: `${device}:1:${++n}`, site: site.id, device, deviceKind: d.kind, space: d.space, target: d.target, seq: n, ts, tsSource: 'device' as const };
};
const occ = (device: string, ts: number, occupied: boolean, key?: string): OccupancySignal => ({ ...common(device, ts), ...(key !== undefined && { key, tsSource: 'gateway' as const }), kind: 'occupancy', occupied });
const pow = (device: string, ts: number, powerW: number): PowerSignal => ({ ...common(device, ts), kind: 'power', powerW, energyKwh: null, voltageV: null, currentA: null, on: null });
const health = (device: string, ts: number, online: boolean | null): HealthSignal => ({ ...common(device, ts), kind: 'health', online, batteryPct: null, linkQuality: null });

const silent = { debug: () => undefined, info: () => undefined, warn: vi.fn(), error: vi.fn() };

/** A journal: records with the time they were committed. */
class FakeJournal {
  readonly rows: { record: JournalRecord; at: number }[] = [];
  replays: number[] = [];
  add(record: JournalRecord, at: number): CommittedRecord {
    this.rows.push({ record, at });
    return { seq: this.rows.length, cls: 'billing', record };
  }
  replay = (since: number, fn: (r: JournalRecord, at: number) => void, limit: number): number => {
    this.replays.push(since);
    const rows = this.rows.filter((r) => r.at >= since).slice(-limit);
    for (const r of rows) fn(r.record, r.at);
    return rows.length;
  };
}

function setup(opts: { probeLimit?: number; failPublish?: () => boolean } = {}) {
  const clock = { t: T0, now: () => clock.t };
  const journal = new FakeJournal();
  const published: { topic: string; payload: string }[] = [];
  const bodies: string[] = [];
  const series = new SeriesWriter({ client: { write: async (body) => (bodies.push(body), { ok: true }) }, logger: silent });
  const make = () =>
    new LiveView({
      site,
      clock,
      logger: silent,
      publish: async (t, payload) => {
        if (opts.failPublish?.()) throw new Error('broker is not running');
        published.push({ topic: t, payload });
      },
      replay: journal.replay,
      series,
      ...(opts.probeLimit !== undefined && { probeLimit: opts.probeLimit }),
    });
  return { clock, journal, published, bodies, make };
}

/** Commits records now (clock time) and hands them to the view, as the journal's listener does. */
function commit(view: LiveView, j: FakeJournal, at: number, ...records: JournalRecord[]): void {
  view.observe(records.map((r) => j.add(r, at)));
}

const flushPromises = () => new Promise<void>((r) => setImmediate(r));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('live view', () => {
  it('rebuilds the state from the last day of the journal at start, and publishes all of it retained', async () => {
    const { clock, journal, published, make } = setup();
    journal.add(occ('occ-st-02', T0 - 30 * H, true), T0 - 30 * H); // before the window: not replayed
    journal.add(occ('occ-st-01', T0 - 2 * H, true), T0 - 2 * H);
    journal.add(pow('pm-reflow-1', T0 - 10 * S, 900), T0 - 10 * S);
    const view = make();
    view.start();
    await flushPromises();
    expect(journal.replays).toEqual([clock.t - 24 * H - 60 * S]);
    const s = view.snapshot();
    expect(s.desks['st-01']).toEqual({ space: 'startup', state: 'occupied', since: T0 - 2 * H });
    expect(s.desks['st-02']).toEqual({ space: 'startup', state: 'unknown', since: null });
    expect(s.machines['reflow-1']).toMatchObject({ state: 'running', since: T0 - 10 * S });
    expect(published).toHaveLength(TOPICS);
    expect(published.find((p) => p.topic === topic('desks/st-01'))!.payload).toBe(`{"space":"startup","state":"occupied","since":${T0 - 2 * H}}`);
    expect(view.stats()).toMatchObject({ observed: 2, retained: TOPICS });
    view.stop();
  });

  it('publishes only what changed, and nothing when nothing did', async () => {
    const { clock, journal, published, make } = setup();
    const view = make();
    view.start();
    await flushPromises();
    published.length = 0;
    clock.t += S;
    view.tick();
    await flushPromises();
    expect(published).toEqual([]);

    commit(view, journal, clock.t, occ('occ-st-01', clock.t - 200, true));
    clock.t += S;
    view.tick();
    await flushPromises();
    expect(published.map((p) => p.topic).sort()).toEqual([topic('desks/st-01'), topic('devices/occ-st-01'), topic('site'), topic('spaces/startup')]);
    expect(JSON.parse(published.find((p) => p.topic === topic('spaces/startup'))!.payload)).toMatchObject({ desksOccupied: 1, desksUnknown: 7 });
    view.stop();
  });

  it('publishes a message again at the next tick when the broker refused it', async () => {
    let fail = true;
    const { clock, journal, published, make } = setup({ failPublish: () => fail });
    const view = make();
    view.start();
    await flushPromises();
    expect(published).toEqual([]);
    expect(silent.warn).toHaveBeenCalled();
    fail = false;
    clock.t += S;
    view.tick();
    await flushPromises();
    expect(published).toHaveLength(TOPICS);
    void journal;
    view.stop();
  });

  it('tells listeners what changed; one that throws disturbs neither the others nor the view', async () => {
    const { clock, journal, make } = setup();
    const view = make();
    view.start();
    const got: LiveChange[] = [];
    view.subscribe(() => {
      throw new Error('a broken listener');
    });
    const unsubscribe = view.subscribe((c) => got.push(c));
    commit(view, journal, clock.t, pow('pm-reflow-1', clock.t, 900));
    clock.t += S;
    view.tick();
    expect(got).toHaveLength(1);
    expect(got[0]!.machines).toEqual({ 'reflow-1': { space: 'elab', state: 'running', since: T0, memberId: null, sessionId: null } });
    expect(silent.error).toHaveBeenCalledWith(expect.anything(), 'a live-state listener failed');
    unsubscribe();
    commit(view, journal, clock.t, pow('pm-reflow-1', clock.t, 2));
    clock.t += S;
    view.tick();
    expect(got).toHaveLength(1);
    expect(view.snapshot().machines['reflow-1']!.state).toBe('idle');
    view.stop();
  });

  it('does not take the device watch’s occupancy timeout as the sensor speaking', () => {
    const { clock, journal, make } = setup();
    const view = make();
    view.start();
    // A concluded "free" for a sensor never heard from itself (e.g. replayed after its own records were pruned).
    commit(view, journal, clock.t, occ('occ-st-03', clock.t - 5 * S, false, 'occ-st-03:timeout:occ-st-03:1:1'));
    clock.t += S;
    view.tick();
    expect(view.snapshot().devices['occ-st-03']).toEqual({ status: 'unknown', since: null });
    expect(view.snapshot().desks['st-03']!.state).toBe('unknown');
    view.stop();
  });

  it('writes one point per space at each minute it passes, at that minute', async () => {
    const { clock, journal, bodies, make } = setup();
    const view = make();
    view.start();
    commit(view, journal, clock.t, occ('occ-st-01', clock.t, true));
    clock.t = Date.parse('2026-11-25T02:00:59.900Z');
    view.tick();
    await flushPromises();
    expect(bodies).toEqual([]);
    clock.t = Date.parse('2026-11-25T02:01:00.400Z');
    view.tick();
    clock.t += 500;
    view.tick();
    await flushPromises();
    expect(bodies).toHaveLength(1);
    const lines = bodies[0]!.split('\n');
    expect(lines).toHaveLength(site.spaces.size);
    expect(lines).toContain(`space_occupancy,site=demo-makerspace,space=startup capacity=16,desks=8,desks_occupied=1,desks_unknown=7,machines=0,machines_in_use=0,machines_running=0,people=0 ${Date.parse('2026-11-25T02:01:00Z')}000000`);
    view.stop();
  });

  it('gives the same state after a restart as the run that saw the records live', () => {
    const { clock, journal, make } = setup();
    const live = make();
    live.start();
    const steps: [number, JournalRecord][] = [
      [0, occ('occ-st-01', T0, true)],
      [2 * S, pow('pm-reflow-1', T0 + S, 900)],
      [MIN, occ('occ-st-02', T0 + MIN - 500, true)],
      [3 * MIN, health('occ-st-02', T0 + 3 * MIN, false)],
      [4 * MIN, occ('occ-st-01', T0 + 4 * MIN, false)],
      [4 * MIN + 5 * S, pow('pm-reflow-1', T0 + 4 * MIN, 3)],
    ];
    for (const [dt, r] of steps) {
      clock.t = T0 + dt;
      commit(live, journal, clock.t, r);
      live.tick();
    }
    clock.t = T0 + 5 * MIN;
    live.tick();
    live.stop();
    const restarted = make();
    restarted.start();
    expect(restarted.snapshot()).toEqual(live.snapshot());
    expect(restarted.snapshot().desks).toMatchObject({ 'st-01': { state: 'vacant' }, 'st-02': { state: 'unknown' } });
    expect(restarted.snapshot().machines['reflow-1']).toMatchObject({ state: 'idle' });
    restarted.stop();
  });

  it('under a flood of waiting records, shows the state as of the watermark instead of reprocessing them', () => {
    const { clock, journal, make } = setup({ probeLimit: 0 });
    const view = make();
    view.start();
    commit(view, journal, clock.t, occ('occ-st-01', clock.t, true));
    clock.t += S;
    view.tick();
    expect(view.snapshot().desks['st-01']!.state).toBe('vacant');
    clock.t += 60 * S;
    view.tick();
    expect(view.snapshot().desks['st-01']).toEqual({ space: 'startup', state: 'occupied', since: T0 });
    view.stop();
  });
});

describe('series writer', () => {
  const point = (space: string, minute: number) => ({ measurement: 'space_occupancy', tags: { site: 's', space }, fields: { people: 1 }, timeNs: `${minute}000000` });
  const fails = (r: WriteResult) => r;

  it.each<[string, WriteResult, { pending: number; dropped: number }]>([
    ['keeps points InfluxDB could not take now, and sends them with the next', fails({ ok: false, action: 'retry', code: 'server_error', status: 500, message: 'boom' }), { pending: 1, dropped: 0 }],
    ['keeps them on a configuration problem (logged as an error)', fails({ ok: false, action: 'fatal', code: 'database_not_found', status: 404, message: 'no db' }), { pending: 1, dropped: 0 }],
    ['drops what InfluxDB refuses for good (logged)', fails({ ok: false, action: 'drop', code: 'field_type_conflict', status: 400, partial: false, message: 'conflict' }), { pending: 0, dropped: 1 }],
  ])('%s', async (_what, failure, after) => {
    const bodies: string[] = [];
    const results = [failure, { ok: true } as WriteResult];
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const w = new SeriesWriter({ client: { write: async (body) => (bodies.push(body), results.shift()!) }, logger });
    w.add([point('a', 60_000)]);
    await w.flush();
    expect(w.stats()).toMatchObject({ ...after, written: 0 });
    expect(logger.warn.mock.calls.length + logger.error.mock.calls.length).toBe(1);
    w.add([point('a', 120_000)]);
    await w.flush();
    expect(bodies[1]).toBe(after.pending === 1 ? 'space_occupancy,site=s,space=a people=1 60000000000\nspace_occupancy,site=s,space=a people=1 120000000000' : 'space_occupancy,site=s,space=a people=1 120000000000');
    expect(w.stats()).toMatchObject({ pending: 0, lastError: null, written: 1 + after.pending });
  });

  it('keeps at most maxPoints while InfluxDB is away, dropping the oldest; a throwing client counts as a network failure', async () => {
    const bodies: string[] = [];
    const w = new SeriesWriter({
      client: {
        write: async (body) => {
          bodies.push(body);
          throw new Error('socket hang up');
        },
      },
      logger: { info: vi.fn(), warn: vi.fn(), error: vi.fn() },
      maxPoints: 2,
    });
    for (let m = 1; m <= 4; m++) {
      w.add([point('a', m * 60_000)]);
      await w.flush();
    }
    expect(w.stats()).toMatchObject({ pending: 2, dropped: 2, lastError: 'network: socket hang up' });
    expect(bodies.at(-1)).toBe('space_occupancy,site=s,space=a people=1 180000000000\nspace_occupancy,site=s,space=a people=1 240000000000');
  });
});
