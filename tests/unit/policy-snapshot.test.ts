/** The access-policy snapshot builder: rows in, the snapshot gateways keep out (no database, no clock). */
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { buildPolicySnapshot, PolicySnapshotSchema, type PolicyRows } from '../../server/policy/snapshot.js';
import type { BadgeRow, CertificationRow, EquipmentStatusRow, MemberRow, PlanRow, TeamRow } from '../../server/db/schema.js';
import { PolicyEvents } from '../../server/policy/events.js';
import { matchesVersion, sseEvent } from '../../server/routes/policy.js';

const T = 1_764_000_000_000;

const member = (id: string, over: Partial<MemberRow> = {}): MemberRow => ({
  id,
  member_no: `M-${id}`,
  name: `Name of ${id}`,
  name_zh: '张三',
  email: `${id}@example.org`,
  phone: '+86 138 0000 0000',
  team_id: null,
  status: 'active',
  joined_on: '2026-01-05',
  left_on: null,
  plan_id: 'pln_a',
  plan_valid_from: '2026-01-01',
  plan_valid_to: '2026-12-31',
  price_group: null,
  bill_to: 'team',
  created_at: T,
  updated_at: T,
  ...over,
});
const badge = (credential: string, status: BadgeRow['status'], memberId = 'm1', format: BadgeRow['format'] = 'em4100', override = 0): BadgeRow => ({
  id: `bdg_${credential}_${status}`,
  member_id: memberId,
  format,
  credential,
  status,
  issued_on: '2026-01-05',
  note: 'left at the desk',
  override,
  created_at: T,
  updated_at: T,
});
const cert = (id: string, over: Partial<CertificationRow> = {}): CertificationRow => ({
  id,
  member_id: 'm1',
  class: 'laser-cutter',
  issued_on: '2026-02-01',
  expires_on: '2027-02-01',
  trainer_id: 'trn_1',
  revoked_at: null,
  note: 'trained by Li Wei',
  created_at: T,
  updated_at: T,
  ...over,
});
const plan = (id: string, over: Partial<PlanRow> = {}): PlanRow => ({
  id,
  name: `Plan ${id}`,
  name_zh: '计划',
  spaces: JSON.stringify(['cowork', 'fablab']),
  hours: JSON.stringify([{ days: [1, 2, 3, 4, 5], from: '08:00', to: '22:00' }]),
  quotas: JSON.stringify({ 'laser-cutter': 10 }),
  active: 1,
  created_at: T,
  updated_at: T,
  ...over,
});
const team = (id: string, status: TeamRow['status']): TeamRow => ({
  id,
  name: `Team ${id}`,
  name_zh: null,
  founded_on: null,
  registered_on: '2026-01-01',
  status,
  exit_on: null,
  exit_reason: null,
  graduated_on: null,
  created_at: T,
  updated_at: T,
});

const machine = (site: string, id: string, outOfService: boolean, over: Partial<EquipmentStatusRow> = {}): EquipmentStatusRow => ({
  site_id: site,
  equipment_id: id,
  out_of_service: outOfService ? 1 : 0,
  since: T - 3_600_000,
  reason: outOfService ? 'laser tube cracked' : null,
  changed_by: 'user:wang.wu',
  ...over,
});

const rows = (over: Partial<PolicyRows> = {}): PolicyRows => ({
  version: 42,
  generatedAt: T,
  members: [member('m2', { team_id: 't1', status: 'suspended' }), member('m1')],
  badges: [badge('0004A1B2C3', 'active'), badge('0004A1B2C4', 'returned'), badge('0004A1B2C5', 'blocked'), badge('0004A1B2C6', 'lost', 'm2')],
  plans: [plan('pln_b', { active: 0 }), plan('pln_a')],
  certifications: [
    cert('crt_2', { revoked_at: T - 1000 }),
    cert('crt_1'),
    cert('crt_3', { class: 'fablab-safety', expires_on: '2025-01-01' }),
    cert('crt_4', { class: 'cnc', expires_on: null }),
  ],
  teams: [team('t2', 'exited'), team('t1', 'incubating')],
  equipment: [machine('site-b', 'laser-1', true), machine('site-a', 'printer-2', true, { since: T - 60_000, reason: 'nozzle clogged' }), machine('site-a', 'cnc-1', false), machine('site-a', 'laser-1', true)],
  ...over,
});

describe('buildPolicySnapshot', () => {
  it('carries the version and time it is given, and matches the schema gateways check it with', () => {
    const s = buildPolicySnapshot(rows());
    expect(s.version).toBe(42);
    expect(s.generatedAt).toBe(T);
    expect(Value.Check(PolicySnapshotSchema, s)).toBe(true);
    expect(buildPolicySnapshot(rows({ version: 0, members: [], badges: [], plans: [], certifications: [], teams: [], equipment: [] }))).toEqual({
      version: 0,
      generatedAt: T,
      members: [],
      badges: [],
      plans: [],
      certifications: [],
      outOfService: [],
      teams: [],
    });
  });

  it('leaves returned badges out and keeps lost and blocked ones with their status', () => {
    expect(buildPolicySnapshot(rows()).badges).toEqual([
      { format: 'em4100', credential: '0004A1B2C3', memberId: 'm1', status: 'active', override: false },
      { format: 'em4100', credential: '0004A1B2C5', memberId: 'm1', status: 'blocked', override: false },
      { format: 'em4100', credential: '0004A1B2C6', memberId: 'm2', status: 'lost', override: false },
    ]);
  });

  it('marks override badges; a returned one is left out like any returned badge', () => {
    const s = buildPolicySnapshot(rows({ badges: [badge('0004A1B2C7', 'active', 'm2', 'em4100', 1), badge('0004A1B2C8', 'returned', 'm2', 'em4100', 1), badge('0004A1B2C3', 'active')] }));
    expect(s.badges).toEqual([
      { format: 'em4100', credential: '0004A1B2C3', memberId: 'm1', status: 'active', override: false },
      { format: 'em4100', credential: '0004A1B2C7', memberId: 'm2', status: 'active', override: true },
    ]);
    expect(Value.Check(PolicySnapshotSchema, s)).toBe(true);
  });

  it('lists the machines out of service by site and equipment id, since when and why; machines back in service are left out', () => {
    expect(buildPolicySnapshot(rows()).outOfService).toEqual([
      { siteId: 'site-a', equipmentId: 'laser-1', since: T - 3_600_000, reason: 'laser tube cracked' },
      { siteId: 'site-a', equipmentId: 'printer-2', since: T - 60_000, reason: 'nozzle clogged' },
      { siteId: 'site-b', equipmentId: 'laser-1', since: T - 3_600_000, reason: 'laser tube cracked' },
    ]);
  });

  it('keeps revoked certifications flagged and expired ones with their expiry (no day-dependent flag)', () => {
    expect(buildPolicySnapshot(rows()).certifications).toEqual([
      { memberId: 'm1', class: 'laser-cutter', issuedOn: '2026-02-01', expiresOn: '2027-02-01', revoked: false },
      { memberId: 'm1', class: 'laser-cutter', issuedOn: '2026-02-01', expiresOn: '2027-02-01', revoked: true },
      { memberId: 'm1', class: 'fablab-safety', issuedOn: '2026-02-01', expiresOn: '2025-01-01', revoked: false },
      { memberId: 'm1', class: 'cnc', issuedOn: '2026-02-01', expiresOn: null, revoked: false },
    ]);
  });

  it('keeps members, plans and teams with their status, sorted by id', () => {
    const s = buildPolicySnapshot(rows());
    expect(s.members).toEqual([
      { id: 'm1', memberNo: 'M-m1', status: 'active', teamId: null, planId: 'pln_a', planValidFrom: '2026-01-01', planValidTo: '2026-12-31' },
      { id: 'm2', memberNo: 'M-m2', status: 'suspended', teamId: 't1', planId: 'pln_a', planValidFrom: '2026-01-01', planValidTo: '2026-12-31' },
    ]);
    expect(s.plans).toEqual([
      { id: 'pln_a', spaces: ['cowork', 'fablab'], hours: [{ days: [1, 2, 3, 4, 5], from: '08:00', to: '22:00' }], quotas: { 'laser-cutter': 10 }, active: true },
      { id: 'pln_b', spaces: ['cowork', 'fablab'], hours: [{ days: [1, 2, 3, 4, 5], from: '08:00', to: '22:00' }], quotas: { 'laser-cutter': 10 }, active: false },
    ]);
    expect(s.teams).toEqual([
      { id: 't1', status: 'incubating' },
      { id: 't2', status: 'exited' },
    ]);
  });

  it('carries no personal data: names, e-mails, phones, notes never reach it', () => {
    const text = JSON.stringify(buildPolicySnapshot(rows()));
    for (const personal of ['Name of', '张三', '@example.org', '+86', 'left at the desk', 'Li Wei', 'Plan pln', '计划', 'Team t', 'trn_1', 'wang.wu']) {
      expect(text).not.toContain(personal);
    }
    const keys = new Set<string>();
    JSON.parse(text, (k, v: unknown) => (keys.add(k), v));
    for (const k of ['name', 'nameZh', 'email', 'phone', 'note', 'trainerId', 'joinedOn', 'changedBy', 'reportedBy']) expect(keys.has(k)).toBe(false);
  });

  it('is the same for the same rows in any order', () => {
    const a = rows();
    const b = rows({
      members: [...a.members].reverse(),
      badges: [...a.badges].reverse(),
      plans: [...a.plans].reverse(),
      certifications: [...a.certifications].reverse(),
      teams: [...a.teams].reverse(),
      equipment: [...a.equipment].reverse(),
    });
    expect(JSON.stringify(buildPolicySnapshot(b))).toBe(JSON.stringify(buildPolicySnapshot(a)));
  });

  it('lists machines’ bookings by site, machine and start, with the holder’s id only; leaves the section out when nothing is booked', () => {
    expect(buildPolicySnapshot(rows()).bookings).toBeUndefined();
    expect(buildPolicySnapshot(rows({ bookings: [] })).bookings).toBeUndefined();
    const b = (id: string, resource: string, from: number, member: string | null) => ({ id, site_id: 'site-a', resource_id: resource, member_id: member, from_ms: from, to_ms: from + 3_600_000 });
    const s = buildPolicySnapshot(rows({ bookings: [b('k3', 'laser-1', 900_000_000, 'm2'), b('k1', 'cnc-1', 100, null), b('k2', 'laser-1', 10_000, 'm1')] }));
    expect(s.bookings).toEqual([
      { siteId: 'site-a', equipmentId: 'cnc-1', memberId: null, from: 100, to: 3_600_100 },
      { siteId: 'site-a', equipmentId: 'laser-1', memberId: 'm1', from: 10_000, to: 3_610_000 },
      { siteId: 'site-a', equipmentId: 'laser-1', memberId: 'm2', from: 900_000_000, to: 903_600_000 },
    ]);
    expect(Value.Check(PolicySnapshotSchema, s)).toBe(true);
  });

  it('says which plan column is broken', () => {
    expect(() => buildPolicySnapshot(rows({ plans: [plan('pln_x', { hours: '[{' })] }))).toThrow('plans.hours of pln_x');
  });
});

describe('policy events and ETags', () => {
  it.each([
    [undefined, 7, false],
    ['"7"', 7, true],
    ['W/"7"', 7, true],
    ['"6", "7"', 7, true],
    ['*', 7, true],
    ['"6"', 7, false],
    ['7', 7, false],
  ])('If-None-Match %s against version %i → %s', (header, version, want) => {
    expect(matchesVersion(header, version)).toBe(want);
  });

  it('formats a version event as one SSE block', () => {
    expect(sseEvent('version', 12)).toBe('event: version\nid: 12\ndata: 12\n\n');
  });

  it('announces newer versions only, and a failing listener stops no other', () => {
    const errors: unknown[] = [];
    const events = new PolicyEvents((e) => errors.push(e));
    const got: number[] = [];
    events.subscribe(() => {
      throw new Error('broken listener');
    });
    const off = events.subscribe((v) => got.push(v));
    events.publish(3);
    events.publish(2);
    events.publish(3);
    events.publish(5);
    off();
    events.publish(6);
    expect(got).toEqual([3, 5]);
    expect(errors).toHaveLength(3);
    expect(events.listenerCount).toBe(1);
  });
});
