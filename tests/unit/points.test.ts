import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromPoint, PointReadError, pointTimeNs, toPoint } from '../../core/points.js';
import type { JournalRecord } from '../../core/signals.js';
import { toLine } from '../../gateway/sink/line-protocol.js';

const base = {
  site: 'demo',
  device: 'plug 1',
  deviceKind: 'power-meter' as const,
  space: 'fab,lab',
  target: { type: 'equipment' as const, id: 'laser=1' },
  seq: 1_234_567,
  ts: 1_795_600_000_123,
  tsSource: 'device' as const,
};

const accessRecords: JournalRecord[] = [
  {
    kind: 'decision', key: 'd', site: 'demo', device: 'br-1', space: 'fablab', target: { type: 'equipment', id: 'laser-1' }, swipe: 'br-1:1:2',
    credential: { format: 'uid', id: '04A1B2C3' }, memberId: 'mem_a', grant: true, reason: 'granted', override: false, policyVersion: 12, ts: base.ts, sessionId: 's1', maxRunMs: 5_400_000,
  },
  { kind: 'session', key: 'e', site: 'demo', space: 'fablab', equipment: 'laser-1', sessionId: 's1', memberId: 'mem_a', event: 'end', reason: 'idle', ts: base.ts, durationMs: 90_500 },
  { kind: 'meter', key: 'meter:laser-1:1795600000123', site: 'demo', space: 'fablab', equipment: 'laser-1', runningMs: 45_000_000, ts: base.ts },
];

describe('record → point', () => {
  it('puts the device sequence into the sub-millisecond nanoseconds', () => {
    expect(pointTimeNs(1_795_600_000_123, 1_234_567)).toBe('1795600000123234567');
    expect(pointTimeNs(1_795_600_000_123, 7)).toBe('1795600000123000007');
  });

  it('writes every number as a float (no integer suffix), tags escaped', () => {
    const r: JournalRecord = { ...base, kind: 'power', key: 'k', powerW: 20, energyKwh: 3, voltageV: null, currentA: null, on: true };
    expect(toLine(toPoint(r))).toBe(
      'equipment_power,device=plug\\ 1,device_kind=power-meter,site=demo,space=fab\\,lab,target=laser\\=1,target_type=equipment energy_kwh=3,on=1,power_w=20,record_key="k",seq=1234567,ts_source="device" 1795600000123234567',
    );
  });

  it('keeps no personal data and no high-cardinality values in tags', () => {
    const r: JournalRecord = { ...base, kind: 'badge', key: 'k', credential: { format: 'uid', id: '04A1B2C3' } };
    const p = toPoint(r);
    expect(Object.keys(p.tags).sort()).toEqual(['device', 'device_kind', 'site', 'space', 'target', 'target_type']);
    expect(p.fields.card).toBe('04A1B2C3');
  });

  it('builds tags and fields in key order, as the encoder relies on', () => {
    const records: JournalRecord[] = [
      { ...base, kind: 'power', key: 'k', powerW: 1, energyKwh: 2, voltageV: 3, currentA: 4, on: false },
      { ...base, kind: 'health', key: 'h', online: false, batteryPct: 1, linkQuality: 2 },
      { ...base, kind: 'badge', key: 'b', credential: { format: 'em4100', id: '0700673158' } },
      { kind: 'system', key: 's', site: 'demo', ts: base.ts, event: 'telemetry_shed', count: 1, fromSeq: 1, toSeq: 1 },
      ...accessRecords,
    ];
    for (const r of records) {
      const p = toPoint(r);
      expect(Object.keys(p.tags)).toEqual(Object.keys(p.tags).sort());
      expect(Object.keys(p.fields)).toEqual(Object.keys(p.fields).sort());
    }
  });

  it('maps each kind to its measurement and the same record always to the same line', () => {
    const records: JournalRecord[] = [
      { ...base, kind: 'occupancy', key: 'a', occupied: false },
      { ...base, kind: 'health', key: 'b', online: true, batteryPct: 55.5, linkQuality: null },
      { kind: 'system', key: 's', site: 'demo', ts: base.ts, event: 'telemetry_shed', count: 10, fromSeq: 5, toSeq: 14 },
    ];
    expect(records.map((r) => toPoint(r).measurement)).toEqual(['occupancy', 'device_health', 'gateway_event']);
    expect(accessRecords.map((r) => toLine(toPoint(r)).replace(/ \d+$/, ''))).toEqual([
      'access_decision,device=br-1,grant=true,reason=granted,site=demo,space=fablab,target=laser-1,target_type=equipment card="04A1B2C3",format="uid",granted=1,max_run_s=5400,member="mem_a",override=0,policy_version=12,record_key="d",session="s1",swipe="br-1:1:2"',
      'equipment_session,equipment=laser-1,event=end,reason=idle,site=demo,space=fablab duration_s=90.5,member="mem_a",record_key="e",session="s1"',
      'equipment_hours,equipment=laser-1,site=demo,space=fablab record_key="meter:laser-1:1795600000123",running_h=12.5,running_ms=45000000,running_s=45000',
    ]);
    for (const r of records) expect(toLine(toPoint(JSON.parse(JSON.stringify(r)) as JournalRecord))).toBe(toLine(toPoint(r)));
  });
});

describe('points of signals without a sequence number', () => {
  it('spread over the sub-millisecond range by key, the same key always the same time', () => {
    const mk = (key: string): JournalRecord => ({ ...base, seq: 0, kind: 'occupancy', key, occupied: true });
    const a = toPoint(mk('occ-1:c:1700000000000:abc')).timeNs;
    const b = toPoint(mk('occ-1:c:1700000000000:abd')).timeNs;
    expect(a.slice(0, 13)).toBe(String(base.ts));
    expect(a).not.toBe(b);
    expect(toPoint(mk('occ-1:c:1700000000000:abc')).timeNs).toBe(a);
  });
});

describe('point → record (read back from InfluxDB)', () => {
  /** A row as an InfluxQL SELECT * answers it: tags and fields as columns, time in ms. */
  const readBack = (r: JournalRecord) => {
    const p = toPoint(r);
    return fromPoint(p.measurement, { ...p.tags, ...p.fields }, Number(BigInt(p.timeNs) / 1_000_000n));
  };
  const every: JournalRecord[] = [
    { ...base, kind: 'power', key: 'plug 1:7:1234567', powerW: 812.5, energyKwh: 10.25, voltageV: 229.9, currentA: 3.6, on: true },
    { ...base, kind: 'power', key: 'p2', powerW: 0, energyKwh: null, voltageV: null, currentA: null, on: null },
    { ...base, kind: 'health', key: 'h', online: false, batteryPct: 87, linkQuality: null },
    { ...base, kind: 'badge', key: 'b', credential: { format: 'wiegand26', id: '12:34567' } },
    { ...base, kind: 'occupancy', key: 'o', occupied: true, deviceKind: 'occupancy-sensor', target: { type: 'desk', id: 'cw-01' } },
    { ...base, kind: 'occupancy', key: 'o2', occupied: false, space: null, target: null, tsSource: 'gateway' },
    { kind: 'system', key: 's', site: 'demo', ts: base.ts, event: 'telemetry_shed', count: 10, fromSeq: 5, toSeq: 14 },
    ...accessRecords,
    { ...(accessRecords[0] as Extract<JournalRecord, { kind: 'decision' }>), key: 'd2', memberId: null, grant: false, reason: 'unknown_badge', sessionId: null, maxRunMs: null, target: { type: 'door', id: 'main' } },
    { kind: 'session', key: 's2', site: 'demo', space: null, equipment: 'cnc-1', sessionId: 's9', memberId: 'mem_b', event: 'start', reason: 'granted', ts: base.ts, durationMs: null },
    // With the member's team as the decision saw it: a team, or none.
    { kind: 'session', key: 's3', site: 'demo', space: 'fablab', equipment: 'cnc-1', sessionId: 's10', memberId: 'mem_b', teamId: 'team_x', event: 'start', reason: 'granted', ts: base.ts, durationMs: null },
    { ...(accessRecords[0] as Extract<JournalRecord, { kind: 'decision' }>), key: 'd3', teamId: null },
    { ...(accessRecords[0] as Extract<JournalRecord, { kind: 'decision' }>), key: 'd4', teamId: 'team_y' },
  ];

  it('gives back exactly the record that was written, for every kind', () => {
    for (const r of every) expect(readBack(r)).toEqual(r);
  });

  it('round-trips any power and occupancy reading', () => {
    const reading = fc.record({
      powerW: fc.double({ min: 0, max: 1e6, noNaN: true }),
      energyKwh: fc.option(fc.double({ min: 0, max: 1e9, noNaN: true })),
      on: fc.option(fc.boolean()),
      seq: fc.nat(),
      ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
      key: fc.string({ minLength: 1, maxLength: 80 }),
    });
    fc.assert(
      fc.property(reading, (x) => {
        const r: JournalRecord = { ...base, kind: 'power', key: x.key, seq: x.seq, ts: x.ts, powerW: x.powerW, energyKwh: x.energyKwh, voltageV: null, currentA: null, on: x.on };
        expect(readBack(r)).toEqual(r);
      }),
    );
  });

  it('names the column at fault for a row that is not ours, and keys old rows without record_key stably', () => {
    expect(() => fromPoint('cpu', { site: 'demo' }, 1)).toThrow(/measurement "cpu" is not one of ours/);
    expect(() => fromPoint('occupancy', { site: 'demo', device: 'x', device_kind: 'occupancy-sensor', seq: 1, ts_source: 'device' }, 1)).toThrow(PointReadError);
    expect(() => fromPoint('occupancy', { site: 'demo', device: 'x', device_kind: 'toaster', seq: 1, ts_source: 'device', occupied: 1 }, 1)).toThrow(/device_kind: unexpected value "toaster"/);
    const old = fromPoint('occupancy', { site: 'demo', device: 'x', device_kind: 'occupancy-sensor', seq: 3, ts_source: 'device', occupied: 1 }, 1000);
    expect(old.key).toBe('occupancy:x:1000:3');
  });
});
