/** The access decision, rule by rule (core/access/decide.ts). */
import { describe, expect, it } from 'vitest';
import { decide, type AccessRequest, type AccessState, type Decision } from '../../core/access/decide.js';
import { indexPolicy } from '../../core/access/policy-index.js';
import { isOpen, localTime, msUntilClose } from '../../core/access/time.js';
import type { PolicySnapshot } from '../../core/policy/snapshot.js';
import type { SiteFile } from '../../core/site/model.js';
import { siteFromFile } from '../harness/site-fixture.js';

const CRED = { secret: 'env:X' } as const;
const file: SiteFile = {
  version: 1,
  site: { id: 'demo', name: 'Demo', timezone: 'Asia/Shanghai', openingHours: [{ days: [1, 2, 3, 4, 5, 6, 7], from: '08:00', to: '22:00' }], certificationLapseDays: 180 },
  spaces: [
    { id: 'cowork', name: 'Floor', kind: 'open-space' },
    { id: 'fablab', name: 'Fab lab', kind: 'lab', capacity: 2, requiresCertification: 'fablab-safety' },
    { id: 'elab', name: 'E lab', kind: 'lab', openingHours: [{ days: [1, 2, 3, 4, 5], from: '09:00', to: '18:00' }] },
  ],
  doors: [
    { id: 'main', space: 'cowork' },
    { id: 'fablab', space: 'fablab', antiPassback: true },
    { id: 'elab', space: 'elab' },
  ],
  equipment: [
    { id: 'laser-1', space: 'fablab', name: 'Laser', class: 'laser-cutter', maxSessionS: 3 * 3600 },
    { id: 'cnc-1', space: 'fablab', name: 'CNC', class: 'cnc' },
  ],
  devices: [
    { id: 'dc-main', kind: 'door-controller', door: 'main', credentials: CRED },
    { id: 'dc-fablab', kind: 'door-controller', door: 'fablab', credentials: CRED },
  ],
};
const site = siteFromFile(file);

// Wednesday 2026-11-25, 10:00 in Shanghai (UTC+8).
const WED_10 = Date.UTC(2026, 10, 25, 2, 0);
const H = 3600_000;

const snapshot: PolicySnapshot = {
  version: 42,
  generatedAt: WED_10 - H,
  members: [
    { id: 'm-ok', memberNo: 'M1', status: 'active', teamId: null, planId: 'full', planValidFrom: '2026-01-01', planValidTo: '2026-12-31' },
    { id: 'm-susp', memberNo: 'M2', status: 'suspended', teamId: null, planId: 'full', planValidFrom: null, planValidTo: null },
    { id: 'm-left', memberNo: 'M3', status: 'left', teamId: null, planId: 'full', planValidFrom: null, planValidTo: null },
    { id: 'm-noplan', memberNo: 'M4', status: 'active', teamId: null, planId: null, planValidFrom: null, planValidTo: null },
    { id: 'm-future', memberNo: 'M5', status: 'active', teamId: null, planId: 'full', planValidFrom: '2027-01-01', planValidTo: null },
    { id: 'm-expired', memberNo: 'M6', status: 'active', teamId: null, planId: 'full', planValidFrom: null, planValidTo: '2026-11-24' },
    { id: 'm-desk', memberNo: 'M7', status: 'active', teamId: null, planId: 'desk-only', planValidFrom: null, planValidTo: null },
    { id: 'm-evening', memberNo: 'M8', status: 'active', teamId: null, planId: 'evenings', planValidFrom: null, planValidTo: null },
    { id: 'm-oldplan', memberNo: 'M9', status: 'active', teamId: null, planId: 'retired', planValidFrom: null, planValidTo: null },
    { id: 'm-nocert', memberNo: 'M10', status: 'active', teamId: null, planId: 'full', planValidFrom: null, planValidTo: null },
    { id: 'm-certexp', memberNo: 'M11', status: 'active', teamId: null, planId: 'full', planValidFrom: null, planValidTo: null },
    { id: 'm-revoked', memberNo: 'M12', status: 'active', teamId: null, planId: 'full', planValidFrom: null, planValidTo: null },
    { id: 'm-lapsed', memberNo: 'M13', status: 'active', teamId: null, planId: 'full', planValidFrom: null, planValidTo: null },
    { id: 'm-boss', memberNo: 'M14', status: 'active', teamId: null, planId: null, planValidFrom: null, planValidTo: null },
    { id: 'm-other', memberNo: 'M15', status: 'active', teamId: null, planId: 'full', planValidFrom: null, planValidTo: null },
  ],
  badges: [
    ...['ok', 'susp', 'left', 'noplan', 'future', 'expired', 'desk', 'evening', 'oldplan', 'nocert', 'certexp', 'revoked', 'lapsed', 'other'].map((m) => ({
      format: 'uid' as const,
      credential: m.toUpperCase(),
      memberId: `m-${m}`,
      status: 'active' as const,
      override: false,
    })),
    { format: 'uid', credential: 'LOST', memberId: 'm-ok', status: 'lost', override: false },
    { format: 'uid', credential: 'BLOCKED', memberId: 'm-ok', status: 'blocked', override: false },
    { format: 'em4100', credential: '0700673158', memberId: 'm-ok', status: 'active', override: false },
    { format: 'uid', credential: 'BOSS', memberId: 'm-boss', status: 'active', override: true },
  ],
  plans: [
    { id: 'full', spaces: ['*'], hours: [], quotas: {}, active: true },
    { id: 'desk-only', spaces: ['cowork'], hours: [], quotas: {}, active: true },
    { id: 'evenings', spaces: ['*'], hours: [{ days: [1, 2, 3, 4, 5], from: '18:00', to: '22:00' }], quotas: {}, active: true },
    { id: 'retired', spaces: ['*'], hours: [], quotas: {}, active: false },
  ],
  certifications: [
    ...['ok', 'lapsed', 'other'].flatMap((m) => [
      { memberId: `m-${m}`, class: 'fablab-safety', issuedOn: '2024-01-01', expiresOn: null, revoked: false },
      { memberId: `m-${m}`, class: 'laser-cutter', issuedOn: '2024-01-01', expiresOn: '2027-01-01', revoked: false },
    ]),
    { memberId: 'm-certexp', class: 'fablab-safety', issuedOn: '2024-01-01', expiresOn: '2026-11-01', revoked: false },
    { memberId: 'm-revoked', class: 'fablab-safety', issuedOn: '2024-01-01', expiresOn: null, revoked: true },
  ],
  outOfService: [{ siteId: 'demo', equipmentId: 'cnc-1', since: WED_10 - H, reason: 'spindle noise' }],
  teams: [],
};
const policy = indexPolicy(snapshot);

interface World {
  inside?: Record<string, string[]>;
  occupancy?: Record<string, number>;
  session?: Record<string, { memberId: string; sessionId: string }>;
  booking?: Record<string, { memberId: string | null; until: number }>;
  nextBooking?: Record<string, number>;
  lastUsed?: Record<string, number>;
}
function state(w: World = {}): AccessState {
  return {
    occupancy: (s) => w.occupancy?.[s] ?? 0,
    isInside: (m, s) => w.inside?.[s]?.includes(m) ?? false,
    session: (e) => w.session?.[e] ?? null,
    booking: (e) => w.booking?.[e] ?? null,
    nextBookingStart: (e) => w.nextBooking?.[e] ?? null,
    lastUsed: (m, c) => w.lastUsed?.[`${m}:${c}`] ?? (m === 'm-lapsed' ? null : WED_10 - 10 * 86_400_000),
  };
}

const door = (id: string, card: string, direction: 'in' | 'out' = 'in'): AccessRequest => ({ target: { type: 'door', id }, credential: { format: 'uid', id: card }, direction });
const machine = (id: string, card: string): AccessRequest => ({ target: { type: 'equipment', id }, credential: { format: 'uid', id: card }, direction: 'in' });
const run = (request: AccessRequest, w: World = {}, now = WED_10, age: number | null = H): Decision => decide({ site, policy, policyAgeMs: age, now, request, state: state(w) });

describe('access decisions: one rule each', () => {
  it.each([
    ['an active member at the main door', door('main', 'OK'), 'granted', true],
    ['the same card through an EM4100 reader (another credential of the member)', { ...door('main', ''), credential: { format: 'em4100' as const, id: '0700673158' } }, 'granted', true],
    ['an unknown card', door('main', 'NOPE'), 'unknown_badge', false],
    ['a lost card', door('main', 'LOST'), 'badge_lost', false],
    ['a blocked card', door('main', 'BLOCKED'), 'badge_blocked', false],
    ['a suspended member', door('main', 'SUSP'), 'member_suspended', false],
    ['a member who left', door('main', 'LEFT'), 'member_left', false],
    ['a member without a plan', door('main', 'NOPLAN'), 'no_plan', false],
    ['a plan that starts next year', door('main', 'FUTURE'), 'plan_not_started', false],
    ['a plan that ended yesterday', door('main', 'EXPIRED'), 'plan_expired', false],
    ['a plan no longer offered', door('main', 'OLDPLAN'), 'plan_inactive', false],
    ['a lab not in the plan', door('fablab', 'DESK'), 'space_not_in_plan', false],
    ['outside the plan’s hours (evenings plan at 10:00)', door('main', 'EVENING'), 'outside_plan_hours', false],
    ['a lab without the required certification', door('fablab', 'NOCERT'), 'certification_missing', false],
    ['a lab certification that expired', door('fablab', 'CERTEXP'), 'certification_expired', false],
    ['a lab certification that was revoked', door('fablab', 'REVOKED'), 'certification_revoked', false],
    ['a certification unused for longer than the lapse period', door('fablab', 'LAPSED'), 'certification_lapsed', false],
    ['a certified member at the lab door', door('fablab', 'OK'), 'granted', true],
    ['a machine out of service', machine('cnc-1', 'OK'), 'out_of_service', false],
    ['an override badge at the machine out of service', machine('cnc-1', 'BOSS'), 'override', true],
    ['an override badge without a plan at a lab door', door('fablab', 'BOSS'), 'override', true],
  ] as const)('%s → %s', (_name, request, reason, grant) => {
    const d = run(request);
    expect([d.reason, d.grant]).toEqual([reason, grant]);
    expect(d.policyVersion).toBe(42);
  });

  it('refuses outside the site’s opening hours, and a space’s own hours narrow them', () => {
    const wed23 = Date.UTC(2026, 10, 25, 15, 0); // 23:00 Shanghai
    expect(run(door('main', 'OK'), {}, wed23).reason).toBe('outside_opening_hours');
    const sat10 = Date.UTC(2026, 10, 28, 2, 0);
    expect(run(door('main', 'OK'), {}, sat10).reason).toBe('granted');
    expect(run(door('elab', 'OK'), {}, sat10).reason).toBe('outside_opening_hours');
  });

  it('keeps a lab at its safety capacity, but lets someone already inside through again', () => {
    expect(run(door('fablab', 'OK'), { occupancy: { fablab: 2 } }).reason).toBe('space_full');
    expect(run(door('fablab', 'OTHER'), { occupancy: { fablab: 1 } })).toMatchObject({ reason: 'granted', presence: 'enter' });
  });

  it('enforces anti-passback where the door has it', () => {
    expect(run(door('fablab', 'OK'), { inside: { fablab: ['m-ok'] } }).reason).toBe('anti_passback');
    expect(run(door('main', 'OK'), { inside: { cowork: ['m-ok'] } })).toMatchObject({ reason: 'granted', presence: null });
  });

  it('always lets an active member out, even one never badged in', () => {
    expect(run(door('fablab', 'OK', 'out'))).toMatchObject({ grant: true, reason: 'exit', presence: 'leave', action: 'unlock' });
    expect(run(door('fablab', 'NOCERT', 'out'))).toMatchObject({ grant: true, reason: 'exit' });
    // …but an unknown or blocked card opens nothing, either way.
    expect(run(door('fablab', 'BLOCKED', 'out')).grant).toBe(false);
  });

  it('turns strict when the policy is too old: only override badges open', () => {
    expect(run(door('main', 'OK'), {}, WED_10, 25 * H).reason).toBe('policy_stale');
    expect(run(door('main', 'OK'), {}, WED_10, null).reason).toBe('policy_stale');
    expect(run(door('main', 'BOSS'), {}, WED_10, 25 * H).reason).toBe('override');
    expect(decide({ site, policy: null, policyAgeMs: null, now: WED_10, request: door('main', 'OK'), state: state() }).reason).toBe('policy_missing');
  });

  it('refuses a card whose holder is not in the policy (a badge row left behind)', () => {
    const orphan = indexPolicy({ ...snapshot, badges: [...snapshot.badges, { format: 'uid', credential: 'GHOST', memberId: 'm-gone', status: 'active', override: false }] });
    const d = decide({ site, policy: orphan, policyAgeMs: H, now: WED_10, request: door('main', 'GHOST'), state: state() });
    expect(d).toMatchObject({ grant: false, reason: 'unknown_member', memberId: 'm-gone', action: 'none' });
  });
});

describe('machines', () => {
  it('grants power with the longest run: until closing, capped by the machine’s limit and the next booking', () => {
    expect(run(machine('laser-1', 'OK'))).toMatchObject({ grant: true, action: 'power_on', maxRunMs: 3 * H, certification: 'laser-cutter' });
    const wed20 = Date.UTC(2026, 10, 25, 12, 0); // 20:00: closes at 22:00
    expect(run(machine('laser-1', 'OK'), {}, wed20).maxRunMs).toBe(2 * H);
    expect(run(machine('laser-1', 'OK'), { nextBooking: { 'laser-1': WED_10 + 30 * 60_000 } }).maxRunMs).toBe(30 * 60_000);
  });

  it('refuses a machine booked by someone else now, not by the member themself', () => {
    const booked = { booking: { 'laser-1': { memberId: 'm-other', until: WED_10 + H } } };
    expect(run(machine('laser-1', 'OK'), booked).reason).toBe('booked');
    expect(run(machine('laser-1', 'OTHER'), booked).reason).toBe('granted');
  });

  it('refuses everyone during a block held by no member (training, maintenance, a visitor)', () => {
    const blocked = { booking: { 'laser-1': { memberId: null, until: WED_10 + H } } };
    expect(run(machine('laser-1', 'OK'), blocked).reason).toBe('booked');
    expect(run(machine('laser-1', 'OTHER'), blocked).reason).toBe('booked');
  });

  it('hands a running machine over to another certified member, and ends it for the member who runs it', () => {
    const running = { session: { 'laser-1': { memberId: 'm-other', sessionId: 's1' } } };
    expect(run(machine('laser-1', 'OK'), running)).toMatchObject({ grant: true, takeover: true, action: 'power_on' });
    expect(run(machine('laser-1', 'OTHER'), running)).toMatchObject({ grant: true, reason: 'session_ended', action: 'power_off' });
    // A member without the certification cannot take it over.
    expect(run(machine('laser-1', 'NOCERT'), running).reason).toBe('certification_missing');
  });

  it('starts nothing at closing time', () => {
    const wed2159 = Date.UTC(2026, 10, 25, 14, 0) - 60_000 + 59_999; // 21:59:59.999
    expect(run(machine('laser-1', 'OK'), {}, wed2159).maxRunMs).toBe(1);
    expect(run(machine('laser-1', 'OK'), {}, Date.UTC(2026, 10, 25, 14, 0)).reason).toBe('outside_opening_hours');
  });
});

describe('the opening calendar: public holidays and make-up working days', () => {
  // Hours that run past midnight: Monday–Friday 08:00–24:00, and the night after until 02:00.
  const late = [
    { days: [1, 2, 3, 4, 5], from: '08:00', to: '24:00' },
    { days: [2, 3, 4, 5, 6], from: '00:00', to: '02:00' },
  ];
  const plainSite = siteFromFile({ ...file, site: { ...file.site, openingHours: late } });
  // Thursday 2026-11-26 closed; Saturday 2026-11-28 a make-up working day (调休), 09:00–17:00.
  const holidaySite = siteFromFile({
    ...file,
    site: { ...file.site, openingHours: late, closedDates: [{ date: '2026-11-26', name: 'Closure' }], extraOpenDates: [{ date: '2026-11-28', from: '09:00', to: '17:00', name: '调休' }] },
  });
  const at = (s: typeof site, request: AccessRequest, now: number): Decision => decide({ site: s, policy, policyAgeMs: H, now, request, state: state() });
  const sh = (local: string): number => Date.parse(`${local}:00+08:00`);

  it('refuses members on a closed date with outside_opening_hours; an override badge still opens', () => {
    const thu10 = sh('2026-11-26T10:00');
    expect(at(plainSite, door('main', 'OK'), thu10).reason).toBe('granted');
    expect(at(holidaySite, door('main', 'OK'), thu10)).toMatchObject({ grant: false, reason: 'outside_opening_hours' });
    expect(at(holidaySite, machine('laser-1', 'OK'), thu10)).toMatchObject({ grant: false, reason: 'outside_opening_hours' });
    expect(at(holidaySite, door('main', 'BOSS'), thu10)).toMatchObject({ grant: true, reason: 'override', action: 'unlock' });
    // The day before is an ordinary day.
    expect(at(holidaySite, door('main', 'OK'), sh('2026-11-25T10:00')).reason).toBe('granted');
  });

  it('opens on a make-up Saturday for its hours, in every space, and refuses outside them', () => {
    expect(at(plainSite, door('main', 'OK'), sh('2026-11-28T10:00')).reason).toBe('outside_opening_hours');
    expect(at(holidaySite, door('main', 'OK'), sh('2026-11-28T10:00')).reason).toBe('granted');
    // The e-lab's own hours (weekdays 09:00–18:00) give way to the make-up day's too.
    expect(at(holidaySite, door('elab', 'OK'), sh('2026-11-28T10:00')).reason).toBe('granted');
    expect(at(holidaySite, door('main', 'OK'), sh('2026-11-28T08:59')).reason).toBe('outside_opening_hours');
    expect(at(holidaySite, door('main', 'OK'), sh('2026-11-28T17:00')).reason).toBe('outside_opening_hours');
    expect(at(holidaySite, machine('laser-1', 'OK'), sh('2026-11-28T15:00'))).toMatchObject({ grant: true, maxRunMs: 2 * H });
    // Its hours replace the weekly ones, the night from Friday until 02:00 included.
    expect(at(plainSite, door('main', 'OK'), sh('2026-11-28T01:00')).reason).toBe('granted');
    expect(at(holidaySite, door('main', 'OK'), sh('2026-11-28T01:00')).reason).toBe('outside_opening_hours');
  });

  it('stops the longest run at midnight on the evening before a closed date, though the hours run on to 02:00', () => {
    const wed2330 = sh('2026-11-25T23:30');
    expect(at(plainSite, machine('laser-1', 'OK'), wed2330)).toMatchObject({ grant: true, maxRunMs: 2.5 * H });
    expect(at(holidaySite, machine('laser-1', 'OK'), wed2330)).toMatchObject({ grant: true, maxRunMs: 30 * 60_000 });
    expect(at(holidaySite, machine('laser-1', 'OK'), sh('2026-11-26T00:00') - 1)).toMatchObject({ grant: true, maxRunMs: 1 });
    expect(at(holidaySite, machine('laser-1', 'OK'), sh('2026-11-26T00:00')).reason).toBe('outside_opening_hours');
    // An override at the machine on the closed date: powered, with no time left before closing (as outside hours).
    expect(at(holidaySite, machine('laser-1', 'BOSS'), sh('2026-11-26T10:00'))).toMatchObject({ grant: true, reason: 'override', maxRunMs: 0 });
  });
});

describe('time in the site’s zone', () => {
  it('knows the local weekday, minute and date', () => {
    expect(localTime(WED_10, 'Asia/Shanghai')).toEqual({ isoWeekday: 3, minute: 600, msIntoMinute: 0, date: '2026-11-25' });
    expect(localTime(Date.UTC(2026, 10, 25, 16, 30), 'Asia/Shanghai')).toMatchObject({ isoWeekday: 4, minute: 30, date: '2026-11-26' });
  });

  it('follows opening periods that join across midnight', () => {
    const late = [
      { days: [3], from: '20:00', to: '24:00' },
      { days: [4], from: '00:00', to: '02:00' },
    ];
    const wed23 = localTime(Date.UTC(2026, 10, 25, 15, 0), 'Asia/Shanghai');
    expect(isOpen(late, wed23)).toBe(true);
    expect(msUntilClose(late, wed23)).toBe(3 * H);
    expect(msUntilClose(late, localTime(WED_10, 'Asia/Shanghai'))).toBe(0);
  });
});
