import { describe, expect, it } from 'vitest';
import { exampleSiteFile as coreExampleSiteFile } from '../../core/site/example.js';
import { type SimEvent, workday, workdayMembers, type WorkdayOptions } from '../../firmware-sim/scenario/workday.js';
import { LocalDay, localDateTime } from '../../firmware-sim/scenario/zoned-time.js';
import { exampleSite, siteFromFile } from '../harness/site-fixture.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const site = exampleSite();
// Monday 2026-11-23 00:00 in Asia/Shanghai (UTC+8).
const MONDAY = Date.UTC(2026, 10, 22, 16, 0);

const run = (o: Partial<WorkdayOptions> = {}): SimEvent[] => [...workday({ site, start: MONDAY, days: 2, seed: 42, ...o })];

describe('workday scenario', () => {
  const events = run();

  it('is deterministic: the same seed gives the same events', () => {
    expect(run()).toEqual(events);
  });

  it('depends on the seed', () => {
    const other = run({ seed: 43 });
    expect(other).not.toEqual(events);
    expect(other.length).toBeGreaterThan(0);
  });

  it('is time-ordered, in [start, start + days), with integer times', () => {
    for (let i = 1; i < events.length; i++) expect(events[i]!.ts).toBeGreaterThanOrEqual(events[i - 1]!.ts);
    expect(events[0]!.ts).toBeGreaterThanOrEqual(MONDAY);
    expect(events[events.length - 1]!.ts).toBeLessThan(MONDAY + 2 * DAY);
    expect(events.every((e) => Number.isInteger(e.ts))).toBe(true);
  });

  it('names only devices of the site', () => {
    expect(events.every((e) => site.devices.has(e.device))).toBe(true);
  });

  it('alternates occupied/free per sensor, starting with a report at start', () => {
    const last = new Map<string, boolean>();
    for (const e of events) {
      if (e.kind !== 'occupancy') continue;
      const prev = last.get(e.device);
      if (prev === undefined) expect(e.ts).toBe(MONDAY);
      else expect(e.occupied).toBe(!prev);
      last.set(e.device, e.occupied);
    }
    const sensors = [...site.devices.values()].filter((d) => d.kind === 'occupancy-sensor').map((d) => d.id);
    expect([...last.keys()].sort()).toEqual(sensors.sort());
  });

  it('has office hours: more desks occupied at 11:00 than at 03:00 on a weekday', () => {
    const occupiedAt = (t: number): number => {
      const state = new Map<string, boolean>();
      for (const e of events) {
        if (e.ts > t) break;
        if (e.kind === 'occupancy' && site.devices.get(e.device)?.target?.type === 'desk') state.set(e.device, e.occupied);
      }
      return [...state.values()].filter(Boolean).length;
    };
    const monday = new LocalDay(site.timezone, 0, { year: 2026, month: 11, day: 23 });
    expect(occupiedAt(monday.at(3 * 60))).toBe(0);
    expect(occupiedAt(monday.at(11 * 60))).toBeGreaterThanOrEqual(5);
  });

  it('uses fixed desks more than hot desks', () => {
    // Share of the two days each kind of desk is occupied.
    const since = new Map<string, number>();
    const busy = { fixed: 0, hot: 0 };
    const kindOf = (device: string): 'fixed' | 'hot' => (site.desks.get(site.devices.get(device)?.target?.id ?? '')?.kind === 'fixed' ? 'fixed' : 'hot');
    for (const e of events) {
      if (e.kind !== 'occupancy' || site.devices.get(e.device)?.target?.type !== 'desk') continue;
      if (e.occupied) since.set(e.device, e.ts);
      else if (since.has(e.device)) {
        busy[kindOf(e.device)] += e.ts - since.get(e.device)!;
        since.delete(e.device);
      }
    }
    const desks = (kind: 'fixed' | 'hot'): number => [...site.desks.values()].filter((d) => d.kind === kind).length;
    const fixed = busy.fixed / desks('fixed') / (2 * DAY);
    const hot = busy.hot / desks('hot') / (2 * DAY);
    expect(fixed).toBeGreaterThan(hot);
    expect(hot).toBeGreaterThan(0.02);
  });

  it('is quieter at the weekend', () => {
    const saturday = MONDAY + 5 * DAY;
    const weekend = run({ start: saturday });
    const count = (list: SimEvent[], kind: SimEvent['kind']): number => list.filter((e) => e.kind === kind).length;
    expect(count(weekend, 'badge')).toBeLessThan(count(events, 'badge') / 2);
    expect(count(weekend, 'occupancy')).toBeLessThan(count(events, 'occupancy') / 2);
  });

  it('reports non-negative power and a non-decreasing energy counter per meter', () => {
    const energy = new Map<string, number>();
    let running = 0;
    for (const e of events) {
      if (e.kind !== 'power') continue;
      expect(e.powerW).toBeGreaterThanOrEqual(0);
      expect(e.currentA).toBeGreaterThanOrEqual(0);
      expect(e.voltageV).toBeGreaterThan(150);
      expect(e.energyKwh).toBeGreaterThanOrEqual(energy.get(e.device) ?? 0);
      energy.set(e.device, e.energyKwh);
      if (e.powerW > 500) running++;
    }
    expect(energy.size).toBe(5);
    expect(running).toBeGreaterThan(0);
  });

  it('samples every 10 s while a machine runs and every 60 s otherwise', () => {
    const gaps = new Map<number, number>();
    const prev = new Map<string, number>();
    // Without offline episodes, which leave gaps.
    for (const e of run({ offlineRate: 0 })) {
      if (e.kind !== 'power') continue;
      const p = prev.get(e.device);
      if (p !== undefined) gaps.set(e.ts - p, (gaps.get(e.ts - p) ?? 0) + 1);
      prev.set(e.device, e.ts);
    }
    expect(gaps.get(60_000)).toBeGreaterThan(1000);
    expect(gaps.get(10_000)).toBeGreaterThan(100);
    expect(Math.max(...gaps.keys())).toBeLessThanOrEqual(60_000);
  });

  it('draws badge cards from the member population (8 hex digits) plus a few unknown visitors', () => {
    const cards = new Set(workdayMembers({ site, seed: 42 }).map((m) => m.card));
    expect(cards.size).toBe(120);
    const badges = events.filter((e) => e.kind === 'badge');
    expect(badges.length).toBeGreaterThan(20);
    for (const b of badges) {
      expect(b.format).toBe('uid');
      expect(b.card).toMatch(/^[0-9A-F]{8}$/);
    }
    const known = badges.filter((b) => cards.has(b.card)).length;
    expect(known / badges.length).toBeGreaterThan(0.8);
    // Members come in through the entrance between 07:00 and noon.
    const firstIn = badges.find((b) => b.device === 'reader-main')!;
    expect(localDateTime(site.timezone, firstIn.ts).hour).toBeGreaterThanOrEqual(7);
  });

  it('badges at a machine shortly before its meter shows the job', () => {
    const badge = events.find((e) => e.kind === 'badge' && e.device === 'reader-laser-1');
    if (!badge) return; // no laser job in this window for this seed
    const after = events.filter((e) => e.kind === 'power' && e.device === 'meter-laser-1' && e.ts > badge.ts && e.ts < badge.ts + 5 * 60_000);
    expect(after.some((e) => e.kind === 'power' && e.on)).toBe(true);
  });

  it('reports health every ~15 min: battery for sensors, link quality for all', () => {
    const health = events.filter((e) => e.kind === 'health');
    const perDevice = health.filter((e) => e.device === 'occ-d01');
    expect(perDevice.length).toBeGreaterThanOrEqual(2 * 96 - 10);
    expect(perDevice.length).toBeLessThanOrEqual(2 * 96 + 10);
    for (const h of health) {
      expect(h.linkQuality).toBeGreaterThanOrEqual(0);
      expect(h.linkQuality).toBeLessThanOrEqual(255);
      const kind = site.devices.get(h.device)!.kind;
      if (kind === 'occupancy-sensor') expect(h.batteryPct).toBeGreaterThanOrEqual(0);
      else expect(h.batteryPct).toBeUndefined();
    }
    const battery = perDevice.map((h) => h.batteryPct!);
    expect(battery[battery.length - 1]!).toBeLessThanOrEqual(battery[0]!);
  });

  it('takes devices offline and back, with no reports in between', () => {
    const flaky = run({ offlineRate: 2 });
    const offline = new Set<string>();
    let episodes = 0;
    for (const e of flaky) {
      if (e.kind === 'offline') {
        expect(offline.has(e.device)).toBe(false);
        offline.add(e.device);
        episodes++;
      } else if (e.kind === 'online') {
        expect(offline.delete(e.device)).toBe(true);
      } else {
        expect(offline.has(e.device)).toBe(false);
      }
    }
    expect(episodes).toBeGreaterThan(20);
  });

  it('starts mid-day with the state at start and jobs already running', () => {
    const noon = MONDAY + 12 * HOUR;
    const midday = [...workday({ site, start: noon, days: 0.25, seed: 42 })];
    expect(midday[0]!.ts).toBeGreaterThanOrEqual(noon);
    const announced = midday.filter((e) => e.kind === 'occupancy' && e.ts === noon);
    expect(announced.length).toBe([...site.devices.values()].filter((d) => d.kind === 'occupancy-sensor').length);
    expect(announced.some((e) => e.kind === 'occupancy' && e.occupied)).toBe(true);
  });

  it('scales with the member population and intensity', () => {
    const small = run({ members: 30, days: 1 }).length;
    const large = run({ members: 240, days: 1, intensity: 2 }).length;
    const badges = (o: Partial<WorkdayOptions>): number => run({ days: 1, ...o }).filter((e) => e.kind === 'badge').length;
    expect(large).toBeGreaterThan(small);
    expect(badges({ members: 240 })).toBeGreaterThan(badges({ members: 30 }));
  });

  it('streams lazily: an endless scenario yields its first events at once', () => {
    const it = workday({ site, start: MONDAY, days: Infinity, seed: 1 });
    const first = Array.from({ length: 1000 }, () => it.next().value as SimEvent);
    expect(first.every((e) => e !== undefined)).toBe(true);
  });

  it('handles a daylight-saving day in the site time zone', () => {
    const berlin = exampleSite({ timezone: 'Europe/Berlin' });
    // 2026-10-25: clocks go back at 03:00 CEST.
    const start = Date.UTC(2026, 9, 24, 22, 0);
    const list = [...workday({ site: berlin, start, days: 2, seed: 5 })];
    for (let i = 1; i < list.length; i++) expect(list[i]!.ts).toBeGreaterThanOrEqual(list[i - 1]!.ts);
    expect(new LocalDay('Europe/Berlin', 0, { year: 2026, month: 10, day: 25 }).end - new LocalDay('Europe/Berlin', 0, { year: 2026, month: 10, day: 25 }).start).toBe(25 * HOUR);
  });

  it('drives the core example site (65 devices) at roughly 25k events a day', () => {
    const core = siteFromFile(coreExampleSiteFile({ credentialsFor: () => ({ secret: 'env:FIXTURE_SECRET' }) }));
    const list = [...workday({ site: core, start: MONDAY, days: 1, seed: 1 })];
    expect(list.length).toBeGreaterThan(15_000);
    expect(list.length).toBeLessThan(40_000);
    const devices = new Set(list.map((e) => e.device));
    // Every device but the Zigbee2MQTT bridge, which reports nothing of its own.
    expect([...core.devices.keys()].filter((id) => !devices.has(id))).toEqual(['z2m-cowork']);
  });
});
