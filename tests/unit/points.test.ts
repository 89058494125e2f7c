import { describe, expect, it } from 'vitest';
import { pointTimeNs, toPoint } from '../../core/points.js';
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

describe('record → point', () => {
  it('puts the device sequence into the sub-millisecond nanoseconds', () => {
    expect(pointTimeNs(1_795_600_000_123, 1_234_567)).toBe('1795600000123234567');
    expect(pointTimeNs(1_795_600_000_123, 7)).toBe('1795600000123000007');
  });

  it('writes every number as a float (no integer suffix), tags escaped', () => {
    const r: JournalRecord = { ...base, kind: 'power', key: 'k', powerW: 20, energyKwh: 3, voltageV: null, currentA: null, on: true };
    expect(toLine(toPoint(r))).toBe(
      'equipment_power,device=plug\\ 1,device_kind=power-meter,site=demo,space=fab\\,lab,target=laser\\=1,target_type=equipment energy_kwh=3,on=1,power_w=20,seq=1234567,ts_source="device" 1795600000123234567',
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
