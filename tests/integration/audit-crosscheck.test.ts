/**
 * InfluxDB against the journal (gateway/influx/crosscheck.ts): after the sink
 * wrote a journal's records, every hour matches; a point changed, deleted or
 * forged directly in InfluxDB is found in its hour and named by record key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toPoint } from '../../core/points.js';
import type { OccupancySignal, PowerSignal } from '../../core/signals.js';
import { crossCheck } from '../../gateway/influx/crosscheck.js';
import { Journal } from '../../gateway/journal/journal.js';
import { toLine } from '../../gateway/sink/line-protocol.js';
import { startTestInfluxd, type TestInflux } from '../harness/influxd.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 10, 24, 8);
let influx: TestInflux;
let dir: string;
let records: (OccupancySignal | PowerSignal)[];

const occ = (i: number): OccupancySignal => ({ kind: 'occupancy', key: `occ-1:1:${i}`, site: 'demo', device: 'occ-1', deviceKind: 'occupancy-sensor', space: 'cowork', target: { type: 'desk', id: 'd1' }, seq: i, ts: T0 + i * 60_000, tsSource: 'device', occupied: i % 2 === 0 });
const pow = (i: number): PowerSignal => ({ kind: 'power', key: `pm-1:1:${i}`, site: 'demo', device: 'pm-1', deviceKind: 'power-meter', space: 'lab', target: { type: 'equipment', id: 'laser-1' }, seq: i, ts: T0 + i * 60_000 + 30_000, tsSource: 'device', powerW: (i * 37) % 900, energyKwh: i / 100, voltageV: null, currentA: null, on: null });

beforeAll(async () => {
  influx = await startTestInfluxd();
  dir = mkdtempSync(join(tmpdir(), 'of-crosscheck-'));
  const j = new Journal({
    path: join(dir, 'journal.db'),
    site: 'demo',
    maxPending: 100_000,
    maxRejects: 100,
    clock: { now: () => T0 + 4 * H },
    logger: pino({ level: 'silent' }),
    logLevel: 'silent',
    sink: { url: influx.url, db: influx.db, token: null, username: null, password: null, batchSize: 500, lingerMs: 0, minBackoffMs: 20, maxBackoffMs: 50, alarmAfterMs: 1000 },
  });
  await j.start();
  // Three hours: a desk sensor and a power meter every minute.
  records = Array.from({ length: 180 }, (_, i) => [occ(i), pow(i)]).flat();
  await Promise.all(records.map((r) => new Promise<void>((res, rej) => j.append(r, 'billing', (err) => (err ? rej(err) : res())))));
  expect(await j.sinkDrained(20_000)).toBe(true);
  await j.stop();
}, 60_000);

afterAll(async () => {
  await influx?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const check = () => crossCheck({ journalPath: join(dir, 'journal.db'), influx: influx.client, site: 'demo', from: T0, to: T0 + 3 * H });

it('matches hour by hour when InfluxDB holds what the journal has', async () => {
  const r = await check();
  expect(r.ok).toBe(true);
  expect(r.hours.map((h) => [h.hour, h.journal.count, h.influx.count, h.same])).toEqual([
    [T0, 120, 120, true],
    [T0 + H, 120, 120, true],
    [T0 + 2 * H, 120, 120, true],
  ]);
  expect(r.unsent).toBe(0);
});

it('finds a point changed, deleted or forged in InfluxDB, in its hour, by record key', async () => {
  // Changed: the power at minute 70 (second hour) rewritten in place.
  expect(await influx.client.write(toLine(toPoint({ ...pow(70), powerW: 5 })), 'ns')).toEqual({ ok: true });
  // Deleted: the desk reading at minute 150 (third hour).
  const t150 = toPoint(occ(150)).timeNs;
  await influx.client.query(`DELETE FROM "occupancy" WHERE time = ${t150}`);
  // Forged: a reading the journal never had, in the first hour.
  expect(await influx.client.write(toLine(toPoint({ ...occ(10), key: 'occ-1:1:forged', seq: 9_999, ts: T0 + 10 * 60_000 + 5 })), 'ns')).toEqual({ ok: true });
  const r = await check();
  expect(r.ok).toBe(false);
  const [h1, h2, h3] = r.hours;
  expect(h1).toMatchObject({ same: false, journal: { count: 120 }, influx: { count: 121 }, missingOrChanged: [], extra: ['occ-1:1:forged'] });
  expect(h2).toMatchObject({ same: false, journal: { count: 120 }, influx: { count: 120 }, missingOrChanged: ['pm-1:1:70'], extra: ['pm-1:1:70'] });
  expect(h3).toMatchObject({ same: false, journal: { count: 120 }, influx: { count: 119 }, missingOrChanged: ['occ-1:1:150'], extra: [] });
});
