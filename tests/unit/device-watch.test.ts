/**
 * DeviceWatch: occupancy timeouts for sensors that never report free, and
 * silence → offline (unknown), under fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HealthSignal, JournalRecord, OccupancySignal, Signal } from '../../core/signals.js';
import type { SiteFile } from '../../core/site/model.js';
import { DeviceWatch, isWatchKey, type WatchTimers } from '../../gateway/device-watch.js';
import { siteFromFile } from '../harness/site-fixture.js';

const CRED = { secret: 'env:FIXTURE_SECRET' } as const;
const file: SiteFile = {
  version: 1,
  site: { id: 'demo', name: 'Demo', timezone: 'Asia/Shanghai' },
  spaces: [
    { id: 'cowork', name: 'Co-working', kind: 'open-space' },
    { id: 'lab', name: 'Lab', kind: 'lab' },
  ],
  desks: [
    { id: 'cw-01', space: 'cowork' },
    { id: 'cw-02', space: 'cowork' },
    { id: 'cw-03', space: 'cowork' },
  ],
  doors: [{ id: 'lab', space: 'lab' }],
  equipment: [{ id: 'laser-1', space: 'lab', name: 'Laser', class: 'laser-cutter' }],
  devices: [
    { id: 'z2m-1', kind: 'zigbee-bridge', format: 'zigbee2mqtt', space: 'cowork', credentials: CRED },
    // Model defaults: occupancy timeout 90 s, silent after 2 h.
    { id: 'occ-aqara', kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: 'cw-01', bridge: 'z2m-1', model: 'aqara-rtcgq11lm' },
    // Reports free itself: no occupancy timeout; silent after 2 h.
    { id: 'occ-sonoff', kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: 'cw-02', bridge: 'z2m-1', model: 'sonoff-snzb-03' },
    { id: 'occ-canon', kind: 'occupancy-sensor', desk: 'cw-03', credentials: CRED, occupancyTimeoutS: 300, silentAfterS: 600 },
    { id: 'pm-laser', kind: 'power-meter', equipment: 'laser-1', credentials: CRED, silentAfterS: 900 },
    { id: 'rd-lab', kind: 'badge-reader', format: 'rdm6300', door: 'lab', serial: { path: '/dev/ttyUSB0' } },
  ],
};
const site = siteFromFile(file);

const T0 = Date.UTC(2026, 10, 25, 1, 0, 0);
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const AQARA_TIMEOUT = 90 * SEC;
const Z2M_SILENT = 2 * HOUR;

let n = 0;
function common(device: string, ts: number, key?: string) {
  const d = site.devices.get(device)!;
  return { key: key ?? `${device}:c:${ts}:k${++n}`, site: 'demo', device, deviceKind: d.kind, space: d.space, target: d.target, seq: 0, ts, tsSource: 'device' as const };
}
const occupied = (device: string, value: boolean, ts: number, key?: string): OccupancySignal => ({ kind: 'occupancy', ...common(device, ts, key), occupied: value });
const health = (device: string, ts: number, h: { online?: boolean; batteryPct?: number } = {}): HealthSignal => ({
  kind: 'health',
  ...common(device, ts),
  online: h.online ?? null,
  batteryPct: h.batteryPct ?? null,
  linkQuality: null,
});

let emitted: Signal[];
let logs: { level: string; msg: string | undefined }[];
let watch: DeviceWatch;
const logger = {
  debug: (_o: object, msg?: string) => logs.push({ level: 'debug', msg }),
  warn: (_o: object, msg?: string) => logs.push({ level: 'warn', msg }),
  error: (_o: object, msg?: string) => logs.push({ level: 'error', msg }),
};
/** The global (faked) timers, handed in explicitly as the gateway would. */
const timers: WatchTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
const clock = { now: () => Date.now() };

/** What the watch concluded about one device (a bridged sensor's messages also keep its bridge's watch alive). */
const about = (device: string): Signal[] => emitted.filter((s) => s.device === device);

function makeWatch(emit: (s: Signal[]) => void = (s) => emitted.push(...s)): DeviceWatch {
  return new DeviceWatch({ site, clock, timers, emit, logger });
}

/** Moves the fake clock to `t` (absolute), firing due timers on the way. */
function at(t: number): void {
  vi.advanceTimersByTime(t - Date.now());
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  emitted = [];
  logs = [];
  watch = makeWatch();
  watch.start();
});

afterEach(() => {
  watch.stop();
  vi.useRealTimers();
});

describe('occupancy timeout', () => {
  it('turns an occupied:true into free at last true + timeout, made by the gateway, with a key derived from the true', () => {
    const t = occupied('occ-aqara', true, T0, 'occ-aqara:c:1:abc:occupancy');
    watch.observe([t]);
    at(T0 + AQARA_TIMEOUT - 1);
    expect(emitted).toEqual([]);
    at(T0 + AQARA_TIMEOUT);
    expect(emitted).toEqual([
      {
        kind: 'occupancy',
        key: 'occ-aqara:timeout:occ-aqara:c:1:abc:occupancy',
        site: 'demo',
        device: 'occ-aqara',
        deviceKind: 'occupancy-sensor',
        space: 'cowork',
        target: { type: 'desk', id: 'cw-01' },
        seq: 0,
        ts: T0 + AQARA_TIMEOUT,
        tsSource: 'gateway',
        occupied: false,
      },
    ]);
    at(T0 + HOUR);
    expect(emitted.filter((s) => s.kind === 'occupancy')).toHaveLength(1);
  });

  it('a real false cancels the timeout', () => {
    watch.observe([occupied('occ-aqara', true, T0)]);
    at(T0 + 30 * SEC);
    watch.observe([occupied('occ-aqara', false, T0 + 30 * SEC)]);
    at(T0 + 30 * MIN);
    expect(emitted).toEqual([]);
    expect(watch.armed.occupancy).toBe(0);
  });

  it('true, true, true extends it: the last true counts', () => {
    const keys: string[] = [];
    for (const dt of [0, 60 * SEC, 120 * SEC]) {
      at(T0 + dt);
      const s = occupied('occ-aqara', true, T0 + dt);
      keys.push(s.key);
      watch.observe([s]);
    }
    at(T0 + 120 * SEC + AQARA_TIMEOUT - 1);
    expect(emitted).toEqual([]);
    at(T0 + 120 * SEC + AQARA_TIMEOUT);
    expect(emitted).toMatchObject([{ kind: 'occupancy', occupied: false, ts: T0 + 120 * SEC + AQARA_TIMEOUT, key: `occ-aqara:timeout:${keys[2]!}` }]);
  });

  it('a true arriving late whose deadline has passed fires at once', () => {
    at(T0 + 10 * MIN);
    watch.observe([occupied('occ-aqara', true, T0)]);
    vi.advanceTimersByTime(0);
    expect(emitted).toMatchObject([{ occupied: false, ts: T0 + AQARA_TIMEOUT }]);
  });

  it('an older true does not move the deadline back, an older false does not cancel', () => {
    at(T0 + 20 * SEC);
    watch.observe([occupied('occ-aqara', true, T0 + 20 * SEC)]);
    watch.observe([occupied('occ-aqara', true, T0), occupied('occ-aqara', false, T0 + 10 * SEC)]);
    at(T0 + 20 * SEC + AQARA_TIMEOUT);
    expect(emitted).toMatchObject([{ occupied: false, ts: T0 + 20 * SEC + AQARA_TIMEOUT }]);
  });

  it('uses the site file’s own occupancyTimeoutS (canonical sensor, 300 s)', () => {
    watch.observe([occupied('occ-canon', true, T0)]);
    at(T0 + 300 * SEC - 1);
    expect(emitted).toEqual([]);
    at(T0 + 300 * SEC);
    expect(emitted).toMatchObject([{ device: 'occ-canon', occupied: false }]);
  });

  it('leaves sensors that report free themselves alone (SNZB-03: no timeout)', () => {
    watch.observe([occupied('occ-sonoff', true, T0)]);
    at(T0 + HOUR);
    expect(emitted).toEqual([]);
  });

  it('ignores its own signals fed back through the journal, even when they arrive after a newer true', () => {
    watch.observe([occupied('occ-aqara', true, T0)]);
    at(T0 + AQARA_TIMEOUT);
    const [timeout] = emitted as [OccupancySignal];
    at(T0 + 100 * SEC);
    watch.observe([occupied('occ-aqara', true, T0 + 100 * SEC)]);
    watch.observe([timeout]); // committed late: must not cancel the newer true's timeout
    at(T0 + 100 * SEC + AQARA_TIMEOUT);
    expect(emitted.map((s) => s.ts)).toEqual([T0 + AQARA_TIMEOUT, T0 + 100 * SEC + AQARA_TIMEOUT]);
  });
});

describe('silence', () => {
  it('every signal re-arms it; when it runs out the device goes offline at last seen + silentAfter', () => {
    watch.observe([health('occ-sonoff', T0, { batteryPct: 90 })]);
    at(T0 + HOUR);
    watch.observe([occupied('occ-sonoff', true, T0 + HOUR)]);
    at(T0 + HOUR + Z2M_SILENT - 1);
    expect(emitted).toEqual([]);
    at(T0 + HOUR + Z2M_SILENT);
    expect(about('occ-sonoff')).toEqual([
      {
        kind: 'health',
        key: `occ-sonoff:silent:${T0 + HOUR}`,
        site: 'demo',
        device: 'occ-sonoff',
        deviceKind: 'occupancy-sensor',
        space: 'cowork',
        target: { type: 'desk', id: 'cw-02' },
        seq: 0,
        ts: T0 + HOUR + Z2M_SILENT,
        tsSource: 'gateway',
        online: false,
        batteryPct: null,
        linkQuality: null,
      },
    ]);
  });

  it('silence after offline does not re-emit', () => {
    watch.observe([health('occ-sonoff', T0, { online: false })]);
    at(T0 + 10 * HOUR);
    expect(about('occ-sonoff')).toEqual([]);
    // (Its bridge relayed that message, so the bridge was heard from: its own silence came and went.)
    expect(about('z2m-1')).toHaveLength(1);
    expect(watch.armed).toEqual({ occupancy: 0, silence: 0 });
  });

  it('says it once: no second offline while the device stays silent', () => {
    watch.observe([health('pm-laser', T0, { batteryPct: 100 })]);
    at(T0 + 10 * HOUR);
    expect(emitted).toHaveLength(1);
    // Its own conclusion fed back changes nothing.
    watch.observe(emitted);
    at(T0 + 20 * HOUR);
    expect(emitted).toHaveLength(1);
  });

  it('the next signal after silence speaks for itself and re-arms the watch', () => {
    watch.observe([health('pm-laser', T0)]);
    at(T0 + 15 * MIN);
    expect(emitted).toMatchObject([{ key: `pm-laser:silent:${T0}` }]);
    at(T0 + HOUR);
    watch.observe([health('pm-laser', T0 + HOUR)]);
    expect(emitted).toHaveLength(1);
    at(T0 + HOUR + 15 * MIN);
    expect(emitted.map((s) => s.key)).toEqual([`pm-laser:silent:${T0}`, `pm-laser:silent:${T0 + HOUR}`]);
  });

  it('an offline device’s pending occupancy timeout is dropped: unknown is not free', () => {
    watch.observe([occupied('occ-aqara', true, T0)]);
    at(T0 + 10 * SEC);
    watch.observe([health('occ-aqara', T0 + 10 * SEC, { online: false })]);
    at(T0 + 5 * HOUR);
    expect(about('occ-aqara')).toEqual([]);
  });

  it('does not count the watch’s own timeout as hearing from the device', () => {
    watch.observe([occupied('occ-aqara', true, T0)]);
    at(T0 + AQARA_TIMEOUT);
    watch.observe(emitted);
    at(T0 + Z2M_SILENT);
    expect(about('occ-aqara').map((s) => [s.kind, s.ts])).toEqual([
      ['occupancy', T0 + AQARA_TIMEOUT],
      ['health', T0 + Z2M_SILENT],
    ]);
  });

  it('hears a Zigbee2MQTT bridge through its sensors’ messages', () => {
    watch.observe([health('z2m-1', T0, { online: true })]);
    at(T0 + HOUR);
    watch.observe([health('occ-sonoff', T0 + HOUR, { batteryPct: 80 })]);
    at(T0 + Z2M_SILENT);
    expect(emitted.filter((s) => s.device === 'z2m-1')).toEqual([]);
    at(T0 + HOUR + Z2M_SILENT);
    expect(emitted.filter((s) => s.device === 'z2m-1')).toMatchObject([{ key: `z2m-1:silent:${T0 + HOUR}`, online: false, deviceKind: 'zigbee-bridge' }]);
  });
});

describe('scope and lifecycle', () => {
  it('skips devices without timeouts, devices not in the site file and system records', () => {
    const sys: JournalRecord = { kind: 'system', key: 'sys:1', site: 'demo', ts: T0, event: 'telemetry_shed', count: 1, fromSeq: 1, toSeq: 1 };
    const stranger: OccupancySignal = { ...occupied('occ-aqara', true, T0), device: 'not-in-site', key: 'not-in-site:1' };
    const read: Signal = { kind: 'badge', ...common('rd-lab', T0), credential: { format: 'em4100', id: '0700673158' } };
    watch.observe([sys, stranger, read]);
    at(T0 + 30 * HOUR);
    expect(emitted).toEqual([]);
    expect(watch.armed).toEqual({ occupancy: 0, silence: 0 });
  });

  it('is inert until start(), and stop() clears everything (idempotent)', () => {
    const w = makeWatch();
    w.observe([occupied('occ-aqara', true, T0)]);
    expect(w.armed).toEqual({ occupancy: 0, silence: 0 });
    w.start();
    w.observe([occupied('occ-aqara', true, T0)]);
    expect(w.armed).toEqual({ occupancy: 1, silence: 2 }); // the sensor, and its bridge
    w.stop();
    w.stop();
    expect(w.armed).toEqual({ occupancy: 0, silence: 0 });
    w.observe([occupied('occ-aqara', true, T0)]);
    at(T0 + 10 * HOUR);
    expect(emitted).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('restart: a new watch starts empty; a true seen before the restart never times out unless the journal is replayed', () => {
    const t = occupied('occ-aqara', true, T0, 'occ-aqara:c:1:abc:occupancy');
    watch.observe([t]);
    watch.stop(); // the gateway stops before the timeout
    at(T0 + 10 * MIN);
    const after = makeWatch();
    after.start();
    at(T0 + 20 * MIN);
    expect(emitted).toEqual([]);
    // Replaying the journal's recent signals: the past deadline fires at once, with the key it would have had.
    after.observe([t]);
    vi.advanceTimersByTime(0);
    expect(emitted).toMatchObject([{ key: 'occ-aqara:timeout:occ-aqara:c:1:abc:occupancy', ts: T0 + AQARA_TIMEOUT }]);
    after.stop();
  });

  it('a replay gives the same occupancy-timeout keys as the first run', () => {
    const signals = [health('occ-sonoff', T0, { batteryPct: 70 }), occupied('occ-aqara', true, T0 + 5 * SEC)];
    watch.observe(signals);
    at(T0 + 3 * HOUR);
    const timeouts = (list: Signal[]) => list.map((s) => s.key).filter((k) => k.includes(':timeout:')).sort();
    const first = timeouts(emitted);
    expect(first).toHaveLength(1);
    emitted = [];
    const replay = makeWatch();
    replay.start();
    replay.observe(signals);
    vi.advanceTimersByTime(0);
    expect(timeouts(emitted)).toEqual(first);
    replay.stop();
  });

  it('judges silence by arrival: a backlog with old device times proves the device alive now', () => {
    at(T0 + 5 * HOUR);
    // A reconnecting device replays readings from five hours ago.
    watch.observe([health('occ-sonoff', T0, { batteryPct: 70 })]);
    vi.advanceTimersByTime(HOUR);
    const silent = () => emitted.filter((s) => s.device === 'occ-sonoff' && s.key.includes(':silent:'));
    expect(silent()).toEqual([]);
    vi.advanceTimersByTime(2 * HOUR);
    expect(silent()).toHaveLength(1);
  });

  it('keeps going when the listener throws, and logs it', () => {
    const w = makeWatch(() => {
      throw new Error('journal closed');
    });
    w.start();
    w.observe([occupied('occ-aqara', true, T0)]);
    at(T0 + AQARA_TIMEOUT);
    expect(logs.filter((l) => l.level === 'error')).toHaveLength(1);
    w.observe([occupied('occ-aqara', true, T0 + 2 * MIN)]);
    expect(w.armed.occupancy).toBe(1);
    w.stop();
  });

  it('works with its default timers', () => {
    const w = new DeviceWatch({ site, clock, emit: (s) => emitted.push(...s), logger });
    w.start();
    w.observe([occupied('occ-aqara', true, T0)]);
    at(T0 + AQARA_TIMEOUT);
    expect(emitted).toMatchObject([{ occupied: false }]);
    w.stop();
  });

  it('keeps one timer per device and rule however busy the device is', () => {
    for (let i = 0; i < 1000; i++) {
      at(T0 + i * SEC);
      watch.observe([health('pm-laser', T0 + i * SEC), occupied('occ-canon', i % 2 === 1, T0 + i * SEC)]);
    }
    expect(vi.getTimerCount()).toBe(3); // pm-laser silence, occ-canon silence and occupancy (its last report is a true)
    at(T0 + 999 * SEC + 15 * MIN);
    expect(about('pm-laser')).toMatchObject([{ key: `pm-laser:silent:${T0 + 999 * SEC}` }]);
  });

  it('recognises its own keys', () => {
    expect(isWatchKey('occ-1', 'occ-1:timeout:occ-1:c:1:x:occupancy')).toBe(true);
    expect(isWatchKey('occ-1', 'occ-1:silent:123')).toBe(true);
    expect(isWatchKey('occ-1', 'occ-1:3:17')).toBe(false);
    expect(isWatchKey('occ-1', 'occ-10:silent:123')).toBe(false);
    expect(isWatchKey('occ-1', 'occ-2:timeout:occ-1:c:1')).toBe(false);
    expect(isWatchKey('occ-1', 'occ-1:c:1:timeout:x')).toBe(false);
    expect(isWatchKey('occ-1', 'occ-1')).toBe(false);
  });
});
