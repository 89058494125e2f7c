/** Booking rules (core/booking/rules.ts): one row per rule, accept or the reason refused. */
import { describe, expect, it } from 'vitest';
import type { PolicyCertification, PolicyMember, PolicyPlan } from '../../core/access/policy-index.js';
import { bookableResources, bookingSettingsOf, checkBooking, findResource, REFUSALS, type BookingCheck, type BookingSettings } from '../../core/booking/rules.js';
import { siteFromFile } from '../harness/site-fixture.js';

const site = siteFromFile({
  version: 1,
  site: { id: 'demo', name: 'Demo', timezone: 'Asia/Shanghai', openingHours: [{ days: [1, 2, 3, 4, 5, 6], from: '08:00', to: '22:00' }], closedDates: ['2026-12-01'] },
  spaces: [
    { id: 'cowork', name: 'Floor', kind: 'open-space' },
    { id: 'lab', name: 'Lab', kind: 'lab', requiresCertification: 'lab-basic' },
    { id: 'room-a', name: 'Room A', nameZh: '会议室A', kind: 'room', openingHours: [{ days: [1, 2, 3, 4, 5], from: '09:00', to: '18:00' }] },
  ],
  desks: [
    { id: 'd01', space: 'cowork', kind: 'fixed' },
    { id: 'd02', space: 'cowork', kind: 'hot' },
    { id: 'd03', space: 'cowork' },
  ],
  equipment: [
    { id: 'laser-1', space: 'lab', name: 'Laser', nameZh: '激光切割机', class: 'laser-cutter' },
    { id: 'cnc-1', space: 'lab', name: 'CNC', class: 'cnc', certification: 'cnc-advanced' },
  ],
});

// Local times in Asia/Shanghai (UTC+8). 2026-11-25 is a Wednesday.
const at = (date: string, hhmm: string) => Date.parse(`${date}T${hhmm}:00+08:00`);
const NOW = at('2026-11-25', '09:00');

const settings: BookingSettings = {
  defaults: { minMinutes: 30, maxMinutes: 240, stepMinutes: 15, aheadDays: 14, bufferMinutes: 0 },
  byClass: { 'laser-cutter': { bufferMinutes: 15, maxHoursPerWeek: 4 } },
  closures: [{ from: at('2026-11-27', '12:00'), to: at('2026-11-27', '14:00'), resources: ['equipment:laser-1'], reason: 'lens cleaning' }],
  graceMinutes: 15,
  autoRelease: true,
};

const member: PolicyMember = { id: 'm-a', memberNo: 'M-1', status: 'active', teamId: null, planId: 'p1', planValidFrom: '2026-01-01', planValidTo: '2026-12-31' };
const plan: PolicyPlan = { id: 'p1', spaces: ['*'], hours: [], quotas: { 'laser-cutter': 10 }, active: true };
const certs: PolicyCertification[] = [{ memberId: 'm-a', class: 'laser-cutter', issuedOn: '2026-02-01', expiresOn: '2027-02-01', revoked: false }];

const laser = findResource(site, 'equipment', 'laser-1');
const base: BookingCheck = {
  site,
  settings,
  now: NOW,
  resource: laser,
  from: at('2026-11-26', '14:00'),
  to: at('2026-11-26', '16:00'),
  actor: 'member',
  member,
  plan,
  certifications: certs,
  outOfService: false,
  held: [],
  memberSlots: [],
};

type Row = [string, Partial<BookingCheck>, string];
const rows: Row[] = [
  ['a certified member, inside the hours', {}, 'ok'],
  ['an unknown resource', { resource: undefined }, 'unknown_resource'],
  ['an end before the start', { to: at('2026-11-26', '13:00') }, 'invalid_period'],
  ['off the 15-minute grid', { from: at('2026-11-26', '14:05') }, 'invalid_period'],
  ['in the past', { from: at('2026-11-24', '10:00'), to: at('2026-11-24', '11:00') }, 'in_the_past'],
  ['shorter than 30 minutes', { to: at('2026-11-26', '14:15') }, 'too_short'],
  ['longer than 4 hours', { to: at('2026-11-26', '18:15') }, 'too_long'],
  ['more than 14 days ahead', { from: at('2026-12-10', '10:00'), to: at('2026-12-10', '11:00') }, 'too_far_ahead'],
  ['after closing', { from: at('2026-11-26', '21:00'), to: at('2026-11-26', '22:30') }, 'outside_opening_hours'],
  ['on Sunday (closed)', { from: at('2026-11-29', '10:00'), to: at('2026-11-29', '11:00') }, 'outside_opening_hours'],
  ['on a closed date', { from: at('2026-12-01', '10:00'), to: at('2026-12-01', '11:00') }, 'outside_opening_hours'],
  ['in a maintenance window', { from: at('2026-11-27', '13:00'), to: at('2026-11-27', '15:00') }, 'closed'],
  ['on a machine out of service', { outOfService: true }, 'out_of_service'],
  ['overlapping a booking', { held: [{ id: 'b1', from: at('2026-11-26', '15:00'), to: at('2026-11-26', '17:00'), memberId: 'm-b' }] }, 'conflict'],
  ['inside the buffer after a booking', { held: [{ id: 'b1', from: at('2026-11-26', '12:00'), to: at('2026-11-26', '13:50'), memberId: 'm-b' }] }, 'conflict'],
  ['just after the buffer', { held: [{ id: 'b1', from: at('2026-11-26', '12:00'), to: at('2026-11-26', '13:45'), memberId: 'm-b' }] }, 'ok'],
  ['no member', { member: undefined }, 'unknown_member'],
  ['a suspended member', { member: { ...member, status: 'suspended' } }, 'member_inactive'],
  ['no plan', { member: { ...member, planId: null } }, 'no_plan'],
  ['an inactive plan', { plan: { ...plan, active: false } }, 'plan_inactive'],
  ['a plan ending before the date', { member: { ...member, planValidTo: '2026-11-25' } }, 'plan_not_valid'],
  ['a plan without the lab', { plan: { ...plan, spaces: ['cowork'] } }, 'space_not_in_plan'],
  ['outside the plan’s hours', { plan: { ...plan, hours: [{ days: [1, 2, 3, 4, 5], from: '09:00', to: '15:00' }] } }, 'outside_plan_hours'],
  ['no certification', { certifications: [] }, 'certification_missing'],
  ['a revoked certification', { certifications: [{ ...certs[0]!, revoked: true }] }, 'certification_revoked'],
  ['a certification expiring before the day', { certifications: [{ ...certs[0]!, expiresOn: '2026-11-25' }] }, 'certification_expired'],
  ['over 4 laser hours in the week', { memberSlots: [{ from: at('2026-11-23', '10:00'), to: at('2026-11-23', '13:00') }] }, 'week_limit'],
  ['4 hours in the week exactly', { memberSlots: [{ from: at('2026-11-23', '10:00'), to: at('2026-11-23', '12:00') }] }, 'ok'],
  ['last week’s hours do not count', { memberSlots: [{ from: at('2026-11-20', '10:00'), to: at('2026-11-20', '14:00') }] }, 'ok'],
  ['over the plan’s monthly quota', { plan: { ...plan, quotas: { 'laser-cutter': 1 } } }, 'plan_quota'],
  ['a manager may book longer and further ahead', { actor: 'manager', from: at('2026-12-10', '09:00'), to: at('2026-12-10', '15:00') }, 'ok'],
  ['but not for an uncertified member', { actor: 'manager', certifications: [] }, 'certification_missing'],
  ['a block may lie outside opening hours', { actor: 'block', member: undefined, from: at('2026-11-29', '10:00'), to: at('2026-11-29', '18:00') }, 'ok'],
  ['but not on top of a booking', { actor: 'block', member: undefined, held: [{ id: 'b1', from: at('2026-11-26', '15:00'), to: at('2026-11-26', '16:00'), memberId: 'm-b' }] }, 'conflict'],
  ['a visitor: no member checks', { actor: 'visitor', member: undefined, plan: undefined, certifications: [] }, 'ok'],
  ['a visitor: the hours still apply', { actor: 'visitor', member: undefined, from: at('2026-11-29', '10:00'), to: at('2026-11-29', '11:00') }, 'outside_opening_hours'],
  ['a room with its own hours', { resource: findResource(site, 'room', 'room-a'), from: at('2026-11-26', '17:00'), to: at('2026-11-26', '19:00'), certifications: [] }, 'outside_opening_hours'],
  ['a hot desk', { resource: findResource(site, 'desk', 'd02'), certifications: [] }, 'ok'],
  ['a machine with its own certification', { resource: findResource(site, 'equipment', 'cnc-1') }, 'certification_missing'],
];

describe('booking rules', () => {
  it.each(rows)('%s', (_name, change, expected) => {
    const v = checkBooking({ ...base, ...change });
    expect(v.ok ? 'ok' : v.reason).toBe(expected);
  });

  it('gives every refusal in English and Chinese', () => {
    for (const [code, m] of Object.entries(REFUSALS)) {
      expect(m.en.length, code).toBeGreaterThan(10);
      expect(m.zh, code).toMatch(/[\u4e00-\u9fff]/);
    }
    const v = checkBooking({ ...base, outOfService: true });
    expect(v).toEqual({ ok: false, reason: 'out_of_service', en: REFUSALS.out_of_service.en, zh: REFUSALS.out_of_service.zh });
  });

  it('lists machines, hot desks and rooms, not fixed desks', () => {
    expect(bookableResources(site).map((r) => `${r.type}:${r.id}:${r.class}:${r.certification ?? '-'}`)).toEqual([
      'equipment:cnc-1:cnc:cnc-advanced',
      'equipment:laser-1:laser-cutter:laser-cutter',
      'desk:d02:desk:-',
      'desk:d03:desk:-',
      'room:room-a:room:-',
    ]);
  });
});

describe('booking rules from the site file', () => {
  const withBookings = (bookings: unknown) => siteFromFile({ ...site.file, bookings } as typeof site.file);

  it('takes the site file’s bookings section over the defaults, closures at their instants', () => {
    const s = withBookings({
      defaults: { maxMinutes: 120, stepMinutes: 30 },
      byClass: { 'laser-cutter': { bufferMinutes: 15, maxHoursPerWeek: 4 } },
      closures: [{ from: '2026-12-24T00:00:00+08:00', to: '2026-12-26T00:00:00+08:00', reason: 'Winter closure' }],
      autoRelease: false,
    });
    const got = bookingSettingsOf(s)!;
    expect(got).toEqual({
      defaults: { minMinutes: 30, maxMinutes: 120, stepMinutes: 30, aheadDays: 14, bufferMinutes: 0 },
      byClass: { 'laser-cutter': { bufferMinutes: 15, maxHoursPerWeek: 4 } },
      closures: [{ from: Date.parse('2026-12-23T16:00:00Z'), to: Date.parse('2026-12-25T16:00:00Z'), reason: 'Winter closure' }],
      graceMinutes: 15,
      autoRelease: false,
    });
    expect(bookingSettingsOf(site)).toBeNull();
    expect(checkBooking({ ...base, site: s, settings: got, from: at('2026-11-26', '14:15'), to: at('2026-11-26', '15:15') })).toMatchObject({ reason: 'invalid_period' });
  });

  it('refuses a bad section when the site file is read', () => {
    expect(() => withBookings({ defaults: { stepMinutes: 7 } })).toThrow(/bookings/);
    expect(() => withBookings({ closures: [{ from: '2026-12-24 00:00', to: '2026-12-26T00:00:00+08:00', reason: 'x' }] })).toThrow(/bookings/);
    // A closure that ends before (or when) it starts would never apply: refused, naming the field.
    expect(() => withBookings({ closures: [{ from: '2026-12-26T00:00:00+08:00', to: '2026-12-24T00:00:00+08:00', reason: 'backwards' }] })).toThrow(/bookings\.closures\[0\]\.to.*not after it starts/s);
  });
});
