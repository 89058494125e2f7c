/**
 * Booking rules (issue #13): which resources of a site can be booked, and
 * whether one booking request may be accepted. Pure: the site, the settings,
 * the member's policy rows, the bookings already holding the resource and the
 * time are handed in; the answer is accept, or refuse with a stable reason
 * code and a sentence in English and Chinese.
 *
 * A booking asks what using asks (docs/access.md, "The rules"): a member who
 * could not badge the machine at that time cannot book it (plan, plan hours,
 * the space's calendar, certification valid on the day, machine in service).
 * On top come the slot rules: length, step, how far ahead, buffer between
 * bookings, closures, and limits of booked hours per week and per month.
 *
 * Who asks changes what applies:
 *  - member: everything;
 *  - manager booking for a member: the member's eligibility, the calendar and
 *    conflicts; not length, how far ahead or the hour limits (a manager may
 *    arrange a long session or book months ahead);
 *  - manager block (training, event, maintenance; no member or a trainer):
 *    only the period and conflicts — a maintenance window may lie outside
 *    opening hours;
 *  - visitor request: the calendar, length, how far ahead, closures,
 *    out of service; no member checks (a manager confirms it).
 */
import type { PolicyCertification, PolicyMember, PolicyPlan } from '../access/policy-index.js';
import type { Site } from '../site/model.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, localDay, openIntervals, openingCalendar, siteCalendar, zoneAround, type Interval } from '../usage/calendar.js';
import { localTime } from '../access/time.js';

export const RESOURCE_TYPES = ['equipment', 'desk', 'room'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

/** Something a member can book: a machine, a hot desk, or a room (a space of kind room). */
export interface BookableResource {
  readonly type: ResourceType;
  readonly id: string;
  readonly space: string;
  /** The rule class: the machine's class, 'desk' or 'room'. */
  readonly class: string;
  /** The certification using it needs (machines: theirs, else the class; the space's for desks and rooms), null for none. */
  readonly certification: string | null;
  readonly name: string;
  readonly nameZh: string;
}

export interface SlotRule {
  /** Shortest booking, minutes. */
  readonly minMinutes: number;
  /** Longest booking, minutes. */
  readonly maxMinutes: number;
  /** Bookings start and end on multiples of this many minutes past the local hour. */
  readonly stepMinutes: number;
  /** How far ahead a member may book, days. */
  readonly aheadDays: number;
  /** Kept free between two bookings (cleaning, cooling, handover), minutes. */
  readonly bufferMinutes: number;
  /** Most hours one member may hold of this class in one local ISO week (Monday–Sunday); absent: no limit. */
  readonly maxHoursPerWeek?: number;
}

/** A period nobody can book (a closure, maintenance): for every resource, or for those listed as 'type:id'. */
export interface Closure {
  readonly from: number;
  readonly to: number;
  readonly resources?: readonly string[];
  readonly reason: string;
}

export interface BookingSettings {
  readonly defaults: SlotRule;
  /** Per rule class (machine class, 'desk', 'room'): what differs from the defaults. */
  readonly byClass?: Readonly<Record<string, Partial<SlotRule>>>;
  readonly closures?: readonly Closure[];
  /** A booking counts as used when use is seen within this many minutes of its start (core/booking/checkin.ts). */
  readonly graceMinutes: number;
  /** A booking with no use seen within the grace period is released (the slot becomes free again) and counted as a no-show. */
  readonly autoRelease: boolean;
}

export const DEFAULT_BOOKING_SETTINGS: BookingSettings = Object.freeze({
  defaults: Object.freeze({ minMinutes: 30, maxMinutes: 240, stepMinutes: 15, aheadDays: 14, bufferMinutes: 0 }),
  byClass: Object.freeze({}),
  closures: Object.freeze([]),
  graceMinutes: 15,
  autoRelease: true,
});

/**
 * The site file's `bookings` section as settings, over the defaults; null
 * when the file has none. Closure times are RFC 3339 with an offset (the
 * schema checks the format), so parsing them needs no time zone.
 */
export function bookingSettingsOf(site: Site): BookingSettings | null {
  const b = site.file.bookings;
  if (!b) return null;
  const d = DEFAULT_BOOKING_SETTINGS;
  return {
    defaults: { ...d.defaults, ...b.defaults },
    byClass: { ...b.byClass },
    closures: (b.closures ?? []).map((c) => ({ from: Date.parse(c.from), to: Date.parse(c.to), ...(c.resources && { resources: c.resources }), reason: c.reason })),
    graceMinutes: b.graceMinutes ?? d.graceMinutes,
    autoRelease: b.autoRelease ?? d.autoRelease,
  };
}

export function ruleFor(settings: BookingSettings, cls: string): SlotRule {
  return { ...settings.defaults, ...(settings.byClass?.[cls] ?? {}) };
}

/** 'type:id', the key of a resource in closures and lists. */
export const resourceKey = (type: ResourceType, id: string): string => `${type}:${id}`;

/** The site's bookable resources: every machine, every hot desk, every room; sorted by type then id. */
export function bookableResources(site: Site): BookableResource[] {
  const out: BookableResource[] = [];
  for (const e of site.equipment.values()) {
    out.push({ type: 'equipment', id: e.id, space: e.space, class: e.class, certification: e.certification ?? e.class, name: e.name, nameZh: e.nameZh ?? e.name });
  }
  for (const d of site.desks.values()) {
    if ((d.kind ?? 'hot') !== 'hot') continue;
    const space = site.spaces.get(d.space);
    out.push({ type: 'desk', id: d.id, space: d.space, class: 'desk', certification: space?.requiresCertification ?? null, name: `Desk ${d.id}`, nameZh: `工位 ${d.id}` });
  }
  for (const s of site.spaces.values()) {
    if (s.kind !== 'room') continue;
    out.push({ type: 'room', id: s.id, space: s.id, class: 'room', certification: s.requiresCertification ?? null, name: s.name, nameZh: s.nameZh ?? s.name });
  }
  const order = (r: BookableResource) => `${RESOURCE_TYPES.indexOf(r.type)}\u0000${r.id}`;
  return out.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

export function findResource(site: Site, type: ResourceType, id: string): BookableResource | undefined {
  return bookableResources(site).find((r) => r.type === type && r.id === id);
}

export const REFUSALS = {
  unknown_resource: { en: 'There is no such bookable machine, desk or room.', zh: '没有该可预约的设备、工位或房间。' },
  invalid_period: { en: 'The booking must end after it starts, on the booking grid.', zh: '预约结束时间须晚于开始时间，并符合预约时间粒度。' },
  in_the_past: { en: 'A booking cannot start in the past.', zh: '不能预约已经过去的时间。' },
  too_short: { en: 'The booking is shorter than this resource allows.', zh: '预约时长短于该资源的最短时长。' },
  too_long: { en: 'The booking is longer than this resource allows.', zh: '预约时长超过该资源的最长时长。' },
  too_far_ahead: { en: 'This resource cannot be booked that far ahead.', zh: '该资源不能提前这么久预约。' },
  outside_opening_hours: { en: 'The space is not open for the whole booking.', zh: '预约时段不全在开放时间内。' },
  closed: { en: 'The resource is closed for that period (closure or maintenance).', zh: '该时段资源关闭（闭馆或维护）。' },
  out_of_service: { en: 'The machine is out of service.', zh: '该设备暂停使用。' },
  conflict: { en: 'Someone else holds this resource then (including the buffer between bookings).', zh: '该时段（含预约间隔）已被占用。' },
  unknown_member: { en: 'The member is not known.', zh: '会员不存在。' },
  member_inactive: { en: 'The membership is suspended or has ended.', zh: '会员资格已暂停或已终止。' },
  no_plan: { en: 'The member has no plan.', zh: '会员没有套餐。' },
  plan_inactive: { en: 'The member’s plan is not active.', zh: '会员套餐未启用。' },
  plan_not_valid: { en: 'The member’s plan does not cover the date of the booking.', zh: '会员套餐在预约日期无效。' },
  space_not_in_plan: { en: 'The member’s plan does not include this space.', zh: '会员套餐不包含该空间。' },
  outside_plan_hours: { en: 'The booking lies outside the hours of the member’s plan.', zh: '预约时段超出会员套餐时段。' },
  certification_missing: { en: 'The member is not certified for this machine.', zh: '会员未取得该设备的使用资格。' },
  certification_revoked: { en: 'The member’s certification for this machine was revoked.', zh: '会员的该设备使用资格已被撤销。' },
  certification_expired: { en: 'The member’s certification expires before the booking.', zh: '会员的使用资格在预约前已过期。' },
  week_limit: { en: 'This booking would exceed the member’s weekly hours for this kind of resource.', zh: '超出该类资源每周可预约时长。' },
  plan_quota: { en: 'This booking would exceed the monthly hours of the member’s plan for this machine class.', zh: '超出会员套餐该类设备的每月时长。' },
} as const satisfies Record<string, { en: string; zh: string }>;
export type BookingRefusal = keyof typeof REFUSALS;

export type BookingVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: BookingRefusal; readonly en: string; readonly zh: string };

/** A booking already holding a resource (confirmed, or a block). */
export interface HeldSlot {
  readonly id: string;
  readonly from: number;
  readonly to: number;
  readonly memberId: string | null;
}

/** What a member already booked, for the hour limits: any resource of the same class. */
export interface MemberSlot {
  readonly from: number;
  readonly to: number;
}

export type BookingActor = 'member' | 'manager' | 'block' | 'visitor';

export interface BookingCheck {
  readonly site: Site;
  readonly settings: BookingSettings;
  readonly now: number;
  readonly resource: BookableResource | undefined;
  readonly from: number;
  readonly to: number;
  readonly actor: BookingActor;
  /** The member the booking is for (member and manager bookings). */
  readonly member?: PolicyMember | undefined;
  readonly plan?: PolicyPlan | undefined;
  readonly certifications?: readonly PolicyCertification[];
  readonly outOfService: boolean;
  /** Bookings holding this resource (not the one being changed). */
  readonly held: readonly HeldSlot[];
  /** The member's bookings of resources of the same class, for the weekly and monthly limits. */
  readonly memberSlots?: readonly MemberSlot[];
}

const refuse = (reason: BookingRefusal): BookingVerdict => ({ ok: false, reason, ...REFUSALS[reason] });

/** Whether [from, to) and a held slot overlap once the buffer is kept on both sides of the held one. */
export function overlapsWithBuffer(from: number, to: number, held: Interval, bufferMs: number): boolean {
  return from < held.to + bufferMs && held.from < to + bufferMs;
}

/** Whether [from, to) lies inside one open stretch of the calendar's intervals. */
function within(intervals: readonly Interval[], from: number, to: number): boolean {
  return intervals.length === 1 && intervals[0]!.from === from && intervals[0]!.to === to;
}

export function checkBooking(c: BookingCheck): BookingVerdict {
  const r = c.resource;
  if (!r) return refuse('unknown_resource');
  const rule = ruleFor(c.settings, r.class);
  const step = rule.stepMinutes * MINUTE_MS;
  // The grid is local wall time (a step of 15 min: :00, :15, …); whole-minute zone offsets keep it aligned for steps up to 60 min.
  if (!(c.to > c.from) || !Number.isInteger(c.from) || !Number.isInteger(c.to) || (c.actor !== 'block' && (localOffsetMod(c.site, c.from, step) !== 0 || localOffsetMod(c.site, c.to, step) !== 0))) {
    return refuse('invalid_period');
  }
  if (c.to <= c.now) return refuse('in_the_past');
  if (c.actor !== 'block' && c.from < c.now - step) return refuse('in_the_past');
  const length = c.to - c.from;
  const slotRules = c.actor === 'member' || c.actor === 'visitor';
  if (slotRules && length < rule.minMinutes * MINUTE_MS) return refuse('too_short');
  if (slotRules && length > rule.maxMinutes * MINUTE_MS) return refuse('too_long');
  if (slotRules && c.from > c.now + rule.aheadDays * DAY_MS) return refuse('too_far_ahead');

  if (c.actor !== 'block') {
    if (c.outOfService && r.type === 'equipment') return refuse('out_of_service');
    const key = resourceKey(r.type, r.id);
    for (const z of c.settings.closures ?? []) {
      if ((z.resources === undefined || z.resources.includes(key)) && c.from < z.to && z.from < c.to) return refuse('closed');
    }
    if (!within(openIntervals(siteCalendar(c.site, r.space), c.from, c.to), c.from, c.to)) return refuse('outside_opening_hours');
  }

  if (c.actor === 'member' || c.actor === 'manager') {
    const verdict = memberVerdict(c, r);
    if (verdict) return refuse(verdict);
  }

  const buffer = rule.bufferMinutes * MINUTE_MS;
  if (c.held.some((h) => overlapsWithBuffer(c.from, c.to, h, buffer))) return refuse('conflict');

  if (c.actor === 'member') {
    const limit = hourLimits(c, r, rule);
    if (limit) return refuse(limit);
  }
  return { ok: true };
}

function localOffsetMod(site: Site, t: number, step: number): number {
  const lt = localTime(t, site.timezone);
  return (lt.minute * MINUTE_MS + lt.msIntoMinute) % step;
}

function memberVerdict(c: BookingCheck, r: BookableResource): BookingRefusal | null {
  const m = c.member;
  if (!m) return 'unknown_member';
  if (m.status !== 'active') return 'member_inactive';
  if (!m.planId) return 'no_plan';
  const plan = c.plan;
  if (!plan || !plan.active) return 'plan_inactive';
  const firstDay = localTime(c.from, c.site.timezone).date;
  const lastDay = localTime(c.to - 1, c.site.timezone).date;
  if ((m.planValidFrom !== null && firstDay < m.planValidFrom) || (m.planValidTo !== null && lastDay > m.planValidTo)) return 'plan_not_valid';
  if (!plan.spaces.includes('*') && !plan.spaces.includes(r.space)) return 'space_not_in_plan';
  if (plan.hours.length > 0) {
    const cal = openingCalendar({ timezone: c.site.timezone, hours: plan.hours });
    if (!within(openIntervals(cal, c.from, c.to), c.from, c.to)) return 'outside_plan_hours';
  }
  if (r.certification) {
    const certs = (c.certifications ?? []).filter((x) => x.class === r.certification);
    if (certs.length === 0) return 'certification_missing';
    const current = certs.filter((x) => x.issuedOn <= firstDay && !x.revoked);
    if (current.length === 0) return certs.some((x) => x.revoked) ? 'certification_revoked' : 'certification_missing';
    // Lapse from disuse is left to the gateway at the time of use: it cannot be known ahead.
    if (!current.some((x) => x.expiresOn === null || x.expiresOn >= lastDay)) return 'certification_expired';
  }
  return null;
}

/** Booked hours per local ISO week (settings) and per local calendar month (the plan's quota for the class). */
function hourLimits(c: BookingCheck, r: BookableResource, rule: SlotRule): BookingRefusal | null {
  const mine = c.memberSlots ?? [];
  const zone = zoneAround(c.site.timezone, c.from - 40 * DAY_MS, c.to + 40 * DAY_MS);
  const dayOf = (t: number) => localDay(zone, t);
  // ISO week: day numbers count from 1970-01-01, a Thursday; Monday-based weeks start 3 days before.
  const weekOf = (t: number) => Math.floor((dayOf(t) + 3) / 7);
  const monthOf = (t: number) => localTime(t, c.site.timezone).date.slice(0, 7);
  const sum = (pick: (s: MemberSlot) => boolean) => mine.filter(pick).reduce((a, s) => a + (s.to - s.from), 0);
  const length = c.to - c.from;
  if (rule.maxHoursPerWeek !== undefined) {
    const week = weekOf(c.from);
    if (sum((s) => weekOf(s.from) === week) + length > rule.maxHoursPerWeek * HOUR_MS) return 'week_limit';
  }
  const quota = r.type === 'equipment' ? c.plan?.quotas[r.class] : undefined;
  if (quota !== undefined) {
    const month = monthOf(c.from);
    if (sum((s) => monthOf(s.from) === month) + length > quota * HOUR_MS) return 'plan_quota';
  }
  return null;
}
