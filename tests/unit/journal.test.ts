import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { meterKey, meterKeyPrefix, type HealthSignal, type MeterRecord, type OccupancySignal, type SignalClass } from '../../core/signals.js';
import { Journal, SINK_CURSOR, type AppendOutcome, type JournalError } from '../../gateway/journal/journal.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(maxPending = 1_000_000, path?: string) {
  const dir = path ?? mkdtempSync(join(tmpdir(), 'journal-'));
  if (!path) dirs.push(dir);
  const j = new Journal({ path: join(dir, 'journal.db'), site: 'demo', maxPending, maxRejects: 100, clock: { now: () => 1_000 }, logger: pino({ level: 'silent' }), sink: null });
  await j.start();
  return { j, dir };
}

/** Reads the journal file directly, as an auditor's tool would. */
function rowsOf(dir: string): { seq: number; cls: SignalClass; body: string }[] {
  const db = new Database(join(dir, 'journal.db'), { readonly: true });
  const classes: SignalClass[] = ['access', 'billing', 'telemetry', 'system'];
  const rows = (db.prepare('SELECT seq, class, body FROM journal ORDER BY seq').all() as { seq: number; class: number; body: string }[]).map((r) => ({
    seq: r.seq,
    cls: classes[r.class]!,
    body: r.body,
  }));
  db.close();
  return rows;
}

const occ = (seq: number): OccupancySignal => ({
  kind: 'occupancy', key: `d1:1:${seq}`, site: 'demo', device: 'd1', deviceKind: 'occupancy-sensor', space: 's', target: null, seq, ts: 1_000 + seq, tsSource: 'device', occupied: seq % 2 === 0,
});
const health = (seq: number): HealthSignal => ({
  kind: 'health', key: `d1:9:${seq}`, site: 'demo', device: 'd1', deviceKind: 'occupancy-sensor', space: 's', target: null, seq, ts: 1_000 + seq, tsSource: 'device', online: null, batteryPct: 50, linkQuality: null,
});

function append(j: Journal, rec: OccupancySignal | HealthSignal, cls: SignalClass): Promise<AppendOutcome> {
  return new Promise((resolve, reject) => j.append(rec, cls, (err, o) => (err ? reject(err) : resolve(o!))));
}

describe('journal', () => {
  it('commits a burst in few transactions and numbers records in order', async () => {
    const { j, dir } = await open();
    const outcomes = await Promise.all(Array.from({ length: 500 }, (_, i) => append(j, occ(i), 'billing')));
    expect(outcomes.map((o) => (o.stored ? o.seq : -1))).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(j.stats().commits).toBeLessThanOrEqual(2);
    expect(rowsOf(dir)).toHaveLength(500);
    await j.stop();
  });

  it('splits a queue larger than the shared batch buffer into several commits, in order', async () => {
    const { j, dir } = await open();
    // 150,000 records of ~230 bytes: about twice what the 16 MB buffer holds at once.
    const n = 150_000;
    const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => append(j, occ(i), 'billing')));
    expect(outcomes.every((o, i) => o.stored && o.seq === i + 1)).toBe(true);
    expect(j.stats().commits).toBeGreaterThanOrEqual(2);
    const rows = rowsOf(dir);
    expect(rows).toHaveLength(n);
    expect((JSON.parse(rows[n - 1]!.body) as OccupancySignal).seq).toBe(n - 1);
    await j.stop();
  });

  it('stores a redelivered message once and still acknowledges it', async () => {
    const { j } = await open();
    await append(j, occ(1), 'billing');
    const again = await Promise.all([append(j, occ(1), 'billing'), append(j, occ(1), 'billing')]);
    expect(again).toEqual([{ stored: false, duplicate: true }, { stored: false, duplicate: true }]);
    expect(j.stats()).toMatchObject({ lastSeq: 1, appended: 1, duplicates: 2, pending: 1 });
    await j.stop();
  });

  it('keeps records, cursor and de-duplication across a reopen', async () => {
    const { j, dir } = await open();
    for (let i = 0; i < 10; i++) await append(j, occ(i), 'billing');
    j.advanceCursor(SINK_CURSOR, 4, ['billing', 'billing', 'billing', 'billing']);
    await j.stop();
    const { j: j2 } = await open(1_000_000, dir);
    expect(j2.getCursor(SINK_CURSOR)).toBe(4);
    expect(j2.stats()).toMatchObject({ lastSeq: 10, pending: 6 });
    expect(await append(j2, occ(3), 'billing')).toEqual({ stored: false, duplicate: true });
    expect(await append(j2, occ(10), 'billing')).toEqual({ stored: true, seq: 11 });
    await j2.stop();
  });

  it('sheds the oldest unsent telemetry at capacity, journals the drop, and never sheds billing', async () => {
    const { j, dir } = await open(100);
    for (let i = 0; i < 60; i++) await append(j, health(i), 'telemetry');
    for (let i = 0; i < 40; i++) await append(j, occ(i), 'billing');
    // Full: the next record forces shedding of the oldest telemetry.
    await append(j, occ(100), 'billing');
    const s = j.stats();
    expect(s.shed).toBeGreaterThan(0);
    expect(s.pendingByClass.billing).toBe(41);
    const rows = rowsOf(dir);
    const system = rows.filter((r) => r.cls === 'system');
    expect(system).toHaveLength(1);
    expect(JSON.parse(system[0]!.body)).toMatchObject({ kind: 'system', event: 'telemetry_shed', count: s.shed, fromSeq: 1 });
    // the shed ones are the oldest telemetry
    const remainingHealth = rows.filter((r) => r.cls === 'telemetry').map((r) => (JSON.parse(r.body) as HealthSignal).seq);
    expect(remainingHealth[0]).toBe(s.shed);
    await j.stop();
  });

  it('refuses (does not acknowledge) access/billing records when nothing can be shed', async () => {
    const { j } = await open(10);
    for (let i = 0; i < 10; i++) await append(j, occ(i), 'billing');
    await expect(append(j, occ(11), 'billing')).rejects.toMatchObject({ code: 'storage_full' } satisfies Partial<JournalError>);
    expect(j.stats()).toMatchObject({ refused: 1, pending: 10 });
    // once the sink delivers, there is room again
    j.advanceCursor(SINK_CURSOR, 5, Array<SignalClass>(5).fill('billing'));
    expect(await append(j, occ(11), 'billing')).toMatchObject({ stored: true });
    await j.stop();
  });

  it('finds the newest record under a key prefix, and rebuilds access state from records since a time', async () => {
    const { j } = await open();
    const meter = (equipment: string, ts: number, runningMs: number): MeterRecord => ({ kind: 'meter', key: meterKey(equipment, ts), site: 'demo', space: 'lab', equipment, runningMs, ts });
    const put = (r: MeterRecord) => new Promise<void>((resolve, reject) => j.append(r, 'billing', (err) => (err ? reject(err) : resolve())));
    // Out of order, and a neighbour whose id extends this one's.
    for (const r of [meter('laser-1', 999_000, 20), meter('laser-1', 1_000_000, 30), meter('laser-1', 998_000, 10), meter('laser-10', 2_000_000, 99)]) await put(r);
    expect(j.lastWithPrefix(meterKeyPrefix('laser-1'))).toMatchObject({ runningMs: 30 });
    expect(j.lastWithPrefix(meterKeyPrefix('laser-10'))).toMatchObject({ runningMs: 99 });
    expect(j.lastWithPrefix(meterKeyPrefix('cnc-1'))).toBeNull();
    expect(j.has(meterKey('laser-1', 999_000))).toBe(true);
    expect(j.readSince('billing', 999_000).map((r) => r.key)).toEqual([meterKey('laser-1', 999_000), meterKey('laser-1', 1_000_000), meterKey('laser-10', 2_000_000)]);
    await j.stop();
  });

  it('keeps rejects with their reason, bounded', async () => {
    const { j } = await open();
    for (let i = 0; i < 150; i++) j.reject({ at: i, device: 'd1', topic: 't', reason: 'schema', detail: `#${i}`, payload: Buffer.from('x') });
    await append(j, occ(1), 'billing');
    await j.idle();
    const list = j.listRejects(1000);
    expect(list.length).toBeLessThanOrEqual(110);
    expect(list[0]).toMatchObject({ reason: 'schema', detail: '#149' });
    await j.stop();
  });
});
