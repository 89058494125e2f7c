/**
 * Pricing: usage sessions and a rate card in, statements per member and per
 * team out (docs/accounting.md has every rule with a worked example).
 *
 * In short:
 * - A session is billed to its member (a fixed desk's session to the desk's
 *   holder, when a holder map is given); sessions without one are listed as
 *   unbilled with the reason, never dropped silently.
 * - Its resource class: desk:<desk kind>, space:<space kind> (open-space,
 *   lab), room, machine:<equipment class>. Machines are billed on the
 *   session's duration (start to end, idle stretches included), not its
 *   running time: the machine is held for the member the whole time, and a
 *   duration can be cut at midnight, the period's end and a quota's end,
 *   whereas `runningMs` is a total with no place in time.
 * - Each session is cut into pieces at local midnight, at the period's
 *   bounds and at free-time grants' bounds; the rate version is chosen by the
 *   piece's local date; increments, rounding and minimums apply per piece.
 * - Pieces are priced in time order through the month: the plan's quota (in
 *   minutes of the rounded quantity) first, then the price, the starting fee
 *   (once per session, on its first piece), then the daily and monthly caps
 *   per member and class.
 * - Money is integer minor units throughout; a part minor unit is rounded
 *   to the nearest, halves up, once per line.
 *
 * Pure and deterministic: the same input, in any order, gives identical output.
 */
import type { Site } from '../site/model.js';
import type { UsageSession } from '../usage/sessioniser.js';
import { DAY_MS, MINUTE_MS, instantOfWall, localBuckets, wallTime, zoneAround, type Zone } from '../usage/calendar.js';
import { effectivePrice, noShowFee, versionOn, type Rate, type RateCard, type RateUnit, type Rounding } from './rates.js';

/** What the pricing needs to know of a site's resources, as plain data. */
export interface PricingResources {
  readonly desks: Readonly<Record<string, { readonly kind: 'hot' | 'fixed' }>>;
  readonly spaces: Readonly<Record<string, { readonly kind: 'open-space' | 'lab' | 'room' }>>;
  readonly machines: Readonly<Record<string, { readonly class: string }>>;
}

export function pricingResources(site: Site): PricingResources {
  const desks: Record<string, { kind: 'hot' | 'fixed' }> = {};
  for (const [id, d] of site.desks) desks[id] = { kind: d.kind ?? 'hot' };
  const spaces: Record<string, { kind: 'open-space' | 'lab' | 'room' }> = {};
  for (const [id, s] of site.spaces) spaces[id] = { kind: s.kind };
  const machines: Record<string, { class: string }> = {};
  for (const [id, e] of site.equipment) machines[id] = { class: e.class };
  return { desks, spaces, machines };
}

/** The resource class a session is billed under, or null when its resource is not in `resources`. */
export function resourceClassOf(s: UsageSession, resources: PricingResources): string | null {
  switch (s.kind) {
    case 'desk': {
      const d = resources.desks[s.resource];
      return d ? `desk:${d.kind}` : null;
    }
    case 'presence': {
      const sp = resources.spaces[s.resource];
      if (!sp) return null;
      return sp.kind === 'room' ? 'room' : `space:${sp.kind}`;
    }
    case 'machine': {
      const m = resources.machines[s.resource];
      return m ? `machine:${m.class}` : null;
    }
  }
}

/** A member as billing sees them now. */
export interface MemberBilling {
  readonly planId: string | null;
  /** The plan applies from and to these local dates, inclusive (YYYY-MM-DD; absent or null: open-ended). */
  readonly planValidFrom?: string | null;
  readonly planValidTo?: string | null;
  readonly group: string | null;
  /** The current team: used only for fixed-desk sessions, which carry no access decision and so no team. */
  readonly teamId: string | null;
  /** 'team': sessions go on the statement of the team the session recorded (its teamId); 'self': the member's own. */
  readonly billTo: 'self' | 'team';
}

export interface PlanQuotas {
  /** Free hours per local month, by resource class (e.g. 'machine:laser-cutter': 10). Hour-unit rates only. */
  readonly quotas: Readonly<Record<string, number>>;
}

/** Free time for work that benefits the space: matching usage is free and counted as subsidy. */
export interface FreeTimeGrant {
  readonly memberId: string;
  readonly resourceClass: string;
  readonly from: number;
  readonly to: number;
  readonly reason: string;
}

/**
 * A member's booking that was not used (docs/bookings.md, "Check-in from
 * reality": `no_show`, or `released` by auto-release). The resource class is
 * resolved when the month is priced (equipment → machine:<class>, hot desk →
 * desk:hot, room → room), so a closed month re-prices without the site file.
 */
export interface NoShowBooking {
  readonly bookingId: string;
  readonly memberId: string;
  readonly resourceClass: string;
  /** The booked period, epoch ms; the booking belongs to the local month and date of `from`. */
  readonly from: number;
  readonly to: number;
}

export interface PricingInput {
  readonly sessions: readonly UsageSession[];
  readonly resources: PricingResources;
  readonly members: Readonly<Record<string, MemberBilling>>;
  readonly plans: Readonly<Record<string, PlanQuotas>>;
  readonly rateCard: RateCard;
  /** The site's IANA time zone: local days, months and rate dates. */
  readonly timezone: string;
  /** The period [from, to), epoch ms; usually a local month (`monthPeriod`). */
  readonly from: number;
  readonly to: number;
  readonly grants?: readonly FreeTimeGrant[];
  /** Fixed desk → the member who holds it; its sessions are billed to them. */
  readonly deskHolders?: Readonly<Record<string, string>>;
  /** No-show bookings: a line each where the rate card sets a no-show fee for its class (docs/accounting.md, "No-show fees"). */
  readonly noShows?: readonly NoShowBooking[];
}

export type Party = { readonly kind: 'member' | 'team'; readonly id: string };

export interface LineSession {
  readonly id: string;
  readonly first: string;
  readonly last: string;
  readonly count: number;
}

/** 'booking': a no-show fee, one booking per line. */
export type QuantityUnit = 'minute' | 'day' | 'wh' | 'booking';

export interface StatementLine {
  readonly memberId: string;
  /** The team the session recorded (null when none). */
  readonly teamId: string | null;
  readonly resourceClass: string;
  readonly unit: RateUnit;
  /** Local date of the piece, YYYY-MM-DD. */
  readonly date: string;
  /** The instants this line bills, [from, to). */
  readonly from: number;
  readonly to: number;
  /** The sessions it bills, with the records they rest on. */
  readonly sessions: readonly LineSession[];
  readonly quantityUnit: QuantityUnit;
  /** Billable quantity after increments, rounding and minimum: free + granted + charged. */
  readonly quantity: number;
  /** Covered by the plan's monthly quota. */
  readonly freeQuantity: number;
  /** Covered by a free-time grant. */
  readonly grantedQuantity: number;
  readonly chargedQuantity: number;
  /** Per hour, day or kWh, after any override. */
  readonly unitPriceMinor: number;
  readonly startingFeeMinor: number;
  /** Usage plus starting fee, before caps. */
  readonly grossMinor: number;
  readonly amountMinor: number;
  /** The quantity at the reference market price. */
  readonly referenceMinor: number;
  /** reference − amount, never negative. */
  readonly subsidyMinor: number;
  readonly capApplied: 'daily' | 'monthly' | null;
  /** The rate version (its effectiveFrom date). */
  readonly rateVersion: string;
  readonly override: string | null;
  readonly grant: string | null;
  /** A no-show fee's line only: the booking it charges (such a line bills no sessions). */
  readonly booking?: string;
}

export interface StatementTotals {
  readonly lines: number;
  readonly grossMinor: number;
  readonly amountMinor: number;
  readonly referenceMinor: number;
  readonly subsidyMinor: number;
}

export interface Statement {
  readonly party: Party;
  readonly currency: string;
  readonly from: number;
  readonly to: number;
  readonly lines: readonly StatementLine[];
  readonly totals: StatementTotals;
}

export type UnbilledReason = 'no-member' | 'unknown-member' | 'unknown-resource';
export interface Unbilled {
  /** The session, or `booking:<id>` for a no-show booking. */
  readonly sessionId: string;
  readonly reason: UnbilledReason;
}

export type UnpricedReason = 'no-rate' | 'no-energy';
export interface Unpriced {
  readonly sessionId: string;
  readonly memberId: string;
  readonly resourceClass: string;
  readonly date: string;
  readonly reason: UnpricedReason;
}

export interface PricingResult {
  readonly currency: string;
  readonly from: number;
  readonly to: number;
  /** Members' statements first, then teams', each by id. */
  readonly statements: readonly Statement[];
  /** Sessions in the period nobody is billed for, and why. */
  readonly unbilled: readonly Unbilled[];
  /** Billable usage with no price (no rate for its class on that date, or a kWh rate without energy). */
  readonly unpriced: readonly Unpriced[];
}

// ---------------------------------------------------------------------------
// Integer arithmetic

/** n / d for integers n ≥ 0, d > 0, rounded as asked; exact (no float division of a non-multiple). */
export function divRound(n: number, d: number, mode: Rounding): number {
  const r = n % d;
  const q = (n - r) / d;
  if (r === 0) return q;
  switch (mode) {
    case 'up':
      return q + 1;
    case 'down':
      return q;
    case 'nearest':
      return 2 * r >= d ? q + 1 : q;
  }
}

/** Money: nearest minor unit, halves up. */
const money = (n: number, d: number): number => divRound(n, d, 'nearest');

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// ---------------------------------------------------------------------------
// Periods

/** A local month 'YYYY-MM' in a time zone as [from, to). */
export function monthPeriod(timezone: string, month: string): { from: number; to: number } {
  if (!/^[0-9]{4}-(0[1-9]|1[0-2])$/.test(month)) throw new RangeError(`month "${month}" is not YYYY-MM`);
  const y = Number(month.slice(0, 4));
  const m = Number(month.slice(5, 7)) - 1;
  const wallFrom = Date.UTC(y, m, 1);
  const wallTo = Date.UTC(y, m + 1, 1);
  const z = zoneAround(timezone, wallFrom - 2 * DAY_MS, wallTo + 2 * DAY_MS);
  return { from: instantOfWall(z, wallFrom), to: instantOfWall(z, wallTo) };
}

/** The local months 'YYYY-MM' that the instants [from, to) touch (an instant alone when to ≤ from). */
export function monthsOf(timezone: string, from: number, to: number): string[] {
  const end = Math.max(to, from + 1);
  const z = zoneAround(timezone, from - 2 * DAY_MS, end + 2 * DAY_MS);
  return localBuckets(from, end, 'month', z).map((b) => b.key);
}

function monthStartOf(z: Zone, t: number): number {
  const d = new Date(wallTime(z, t));
  return instantOfWall(z, Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
}

// ---------------------------------------------------------------------------
// Pieces

interface Piece {
  readonly session: UsageSession;
  readonly memberId: string;
  readonly teamId: string | null;
  readonly party: Party;
  readonly cls: string;
  readonly from: number;
  readonly to: number;
  readonly date: string;
  readonly month: string;
  readonly first: boolean;
  readonly grant: string | null;
  /** Inside [from, to) of the period (else only counted towards quota and caps). */
  readonly emit: boolean;
}

interface Event {
  readonly at: number;
  readonly key: string;
  readonly pieces: readonly Piece[];
  readonly rate: Rate;
  readonly version: string;
}

/** The member's plan on a local date: null outside the plan's validity. */
export function planOn(member: MemberBilling, date: string): string | null {
  if (member.planId === null) return null;
  if (member.planValidFrom != null && date < member.planValidFrom) return null;
  if (member.planValidTo != null && date > member.planValidTo) return null;
  return member.planId;
}

const lineSession = (s: UsageSession): LineSession => ({ id: s.id, first: s.evidence.first, last: s.evidence.last, count: s.evidence.count });

/** Prices the sessions of a period: statements per member and team, and what could not be billed or priced. */
export function priceStatements(input: PricingInput): PricingResult {
  const { from, to, rateCard } = input;
  if (!(to > from)) throw new RangeError('the period is empty: to must be after from');
  const z = zoneAround(input.timezone, from - 33 * DAY_MS, to + DAY_MS);
  // Quota and caps run per local month: start at the month holding `from`, so a period starting
  // mid-month sees the quota and caps already used before it.
  const windowFrom = monthStartOf(z, from);

  const sessions = [...input.sessions].sort((a, b) => a.start - b.start || cmp(a.id, b.id));
  for (let i = 1; i < sessions.length; i++) {
    if (sessions[i]!.id === sessions[i - 1]!.id) throw new RangeError(`session "${sessions[i]!.id}" is given twice`);
  }
  const grants = [...(input.grants ?? [])].sort((a, b) => a.from - b.from || a.to - b.to || cmp(a.reason, b.reason));
  const unbilled: Unbilled[] = [];
  const unpriced: Unpriced[] = [];
  const pieces: Piece[] = [];

  for (const s of sessions) {
    const a = Math.max(s.start, windowFrom);
    const b = Math.min(s.end, to);
    if (!(b > a)) continue;
    const inPeriod = s.end > from && s.start < to;
    const cls = resourceClassOf(s, input.resources);
    if (cls === null) {
      if (inPeriod) unbilled.push({ sessionId: s.id, reason: 'unknown-resource' });
      continue;
    }
    const memberId = s.memberId ?? (cls === 'desk:fixed' ? (input.deskHolders?.[s.resource] ?? null) : null);
    if (memberId === null) {
      if (inPeriod) unbilled.push({ sessionId: s.id, reason: 'no-member' });
      continue;
    }
    const member = input.members[memberId];
    if (!member) {
      if (inPeriod) unbilled.push({ sessionId: s.id, reason: 'unknown-member' });
      continue;
    }
    // The team the session recorded; desk sessions record none, so a desk takes the current team.
    const teamId = s.kind === 'desk' ? (s.teamId ?? member.teamId) : s.teamId;
    const party: Party = member.billTo === 'team' && teamId !== null ? { kind: 'team', id: teamId } : { kind: 'member', id: memberId };
    const mine = grants.filter((g) => g.memberId === memberId && g.resourceClass === cls && g.to > a && g.from < b);
    const cuts = new Set<number>([from]);
    for (const g of mine) cuts.add(g.from).add(g.to);
    for (const bucket of localBuckets(a, b, 'day', z)) {
      const points = [bucket.from, ...[...cuts].filter((c) => c > bucket.from && c < bucket.to).sort((x, y) => x - y), bucket.to];
      for (let i = 0; i + 1 < points.length; i++) {
        const pf = points[i]!;
        const pt = points[i + 1]!;
        const grant = mine.find((g) => g.from <= pf && g.to >= pt) ?? null;
        pieces.push({ session: s, memberId, teamId, party, cls, from: pf, to: pt, date: bucket.key, month: bucket.key.slice(0, 7), first: pf === s.start, grant: grant ? grant.reason : null, emit: pf >= from });
      }
    }
  }

  // Events: one per piece (hour, kwh), one per member, party, class and local date (day).
  const events: Event[] = [];
  const dayGroups = new Map<string, { pieces: Piece[]; rate: Rate; version: string }>();
  for (const p of pieces) {
    const version = versionOn(rateCard, p.date);
    const rate = version?.rates.find((r) => r.resourceClass === p.cls);
    if (!version || !rate) {
      if (p.emit) unpriced.push({ sessionId: p.session.id, memberId: p.memberId, resourceClass: p.cls, date: p.date, reason: 'no-rate' });
      continue;
    }
    if (rate.unit === 'kwh' && p.session.energyWh === null) {
      if (p.emit) unpriced.push({ sessionId: p.session.id, memberId: p.memberId, resourceClass: p.cls, date: p.date, reason: 'no-energy' });
      continue;
    }
    if (rate.unit === 'day') {
      const key = `${p.memberId}|${p.party.kind}:${p.party.id}|${p.teamId ?? ''}|${p.cls}|${p.date}|${p.emit ? 1 : 0}`;
      const g = dayGroups.get(key);
      if (g) g.pieces.push(p);
      else dayGroups.set(key, { pieces: [p], rate, version: version.effectiveFrom });
    } else {
      events.push({ at: p.from, key: `${p.session.id}|${p.cls}`, pieces: [p], rate, version: version.effectiveFrom });
    }
  }
  for (const [key, g] of dayGroups) events.push({ at: g.pieces[0]!.from, key, pieces: g.pieces, rate: g.rate, version: g.version });
  events.sort((x, y) => x.at - y.at || cmp(x.key, y.key));

  const quotaUsed = new Map<string, number>();
  const dayTotals = new Map<string, number>();
  const monthTotals = new Map<string, number>();
  const lines: { party: Party; line: StatementLine }[] = [];

  for (const e of events) {
    const p0 = e.pieces[0]!;
    const member = input.members[p0.memberId]!;
    // Plan prices and quotas only while the plan is valid (the piece's local date).
    const planId = planOn(member, p0.date);
    const price = effectivePrice(e.rate, { planId, group: member.group });
    let quantity: number;
    let free = 0;
    let granted = 0;
    let charged: number;
    let usageMinor: number;
    let referenceMinor: number;
    let fee = 0;
    let quantityUnit: QuantityUnit;
    const span = e.pieces.reduce((n, p) => n + (p.to - p.from), 0);
    switch (e.rate.unit) {
      case 'hour': {
        quantityUnit = 'minute';
        const inc = e.rate.incrementMinutes;
        quantity = divRound(span, inc * MINUTE_MS, e.rate.rounding) * inc;
        if (span > 0 && quantity < e.rate.minimumMinutes) quantity = e.rate.minimumMinutes;
        if (p0.grant !== null) granted = quantity;
        else {
          const hours = planId !== null ? input.plans[planId]?.quotas[p0.cls] : undefined;
          const quota = hours !== undefined && hours > 0 ? Math.round(hours * 60) : 0;
          const qKey = `${p0.memberId}|${p0.cls}|${p0.month}`;
          const used = quotaUsed.get(qKey) ?? 0;
          free = Math.min(Math.max(quota - used, 0), quantity);
          quotaUsed.set(qKey, used + free);
        }
        charged = quantity - free - granted;
        usageMinor = money(charged * price.priceMinor, 60);
        referenceMinor = money(quantity * e.rate.referencePriceMinor, 60);
        break;
      }
      case 'kwh': {
        quantityUnit = 'wh';
        const s = p0.session;
        const mWh = Math.round((s.energyWh ?? 0) * 1000);
        const dur = s.end - s.start;
        // Energy shared out over the session's pieces in proportion to time, exactly (BigInt: mWh × ms exceeds 2^53).
        const upTo = (t: number): number => (dur > 0 ? Number((BigInt(mWh) * BigInt(t - s.start)) / BigInt(dur)) : mWh);
        const pieceMWh = upTo(p0.to) - upTo(p0.from);
        quantity = divRound(pieceMWh, 1000, e.rate.rounding);
        if (p0.grant !== null) granted = quantity;
        charged = quantity - granted;
        usageMinor = money(charged * price.priceMinor, 1000);
        referenceMinor = money(quantity * e.rate.referencePriceMinor, 1000);
        break;
      }
      case 'day': {
        quantityUnit = 'day';
        quantity = span > 0 && span >= e.rate.minimumMinutes * MINUTE_MS ? 1 : 0;
        // The day is free only when all its use is granted.
        if (e.pieces.every((p) => p.grant !== null)) granted = quantity;
        charged = quantity - granted;
        usageMinor = charged * price.priceMinor;
        referenceMinor = quantity * e.rate.referencePriceMinor;
        break;
      }
    }
    // Once per session, on its first piece; waived when that piece is wholly free (quota or grant).
    if (e.rate.unit !== 'day' && p0.first && charged > 0) fee = price.startingFeeMinor;
    const gross = usageMinor + fee;
    const dKey = `${p0.memberId}|${p0.cls}|${p0.date}`;
    const mKey = `${p0.memberId}|${p0.cls}|${p0.month}`;
    const dayLeft = price.dailyCapMinor === null ? Infinity : Math.max(price.dailyCapMinor - (dayTotals.get(dKey) ?? 0), 0);
    const monthLeft = price.monthlyCapMinor === null ? Infinity : Math.max(price.monthlyCapMinor - (monthTotals.get(mKey) ?? 0), 0);
    let amount = gross;
    let capApplied: 'daily' | 'monthly' | null = null;
    if (gross > Math.min(dayLeft, monthLeft)) {
      // The tighter cap is the one that bites; on a tie, the daily one.
      capApplied = dayLeft <= monthLeft ? 'daily' : 'monthly';
      amount = Math.min(dayLeft, monthLeft);
    }
    dayTotals.set(dKey, (dayTotals.get(dKey) ?? 0) + amount);
    monthTotals.set(mKey, (monthTotals.get(mKey) ?? 0) + amount);
    if (!p0.emit) continue;
    const ids = [...new Map(e.pieces.map((p) => [p.session.id, p.session])).values()].sort((a, b) => cmp(a.id, b.id));
    lines.push({
      party: p0.party,
      line: {
        memberId: p0.memberId,
        teamId: p0.teamId,
        resourceClass: p0.cls,
        unit: e.rate.unit,
        date: p0.date,
        from: Math.min(...e.pieces.map((p) => p.from)),
        to: Math.max(...e.pieces.map((p) => p.to)),
        sessions: ids.map(lineSession),
        quantityUnit,
        quantity,
        freeQuantity: free,
        grantedQuantity: granted,
        chargedQuantity: charged,
        unitPriceMinor: price.priceMinor,
        startingFeeMinor: fee,
        grossMinor: gross,
        amountMinor: amount,
        referenceMinor,
        subsidyMinor: Math.max(referenceMinor - amount, 0),
        capApplied,
        rateVersion: e.version,
        override: price.override,
        grant: e.rate.unit === 'day' ? (granted > 0 ? p0.grant : null) : p0.grant,
      },
    });
  }

  for (const n of noShowLines(input, z, unbilled)) lines.push(n);

  const byParty = new Map<string, { party: Party; lines: StatementLine[] }>();
  for (const { party, line } of lines) {
    const k = `${party.kind === 'member' ? 0 : 1}|${party.id}`;
    let st = byParty.get(k);
    if (!st) byParty.set(k, (st = { party, lines: [] }));
    st.lines.push(line);
  }
  const statements: Statement[] = [...byParty.entries()]
    .sort(([a], [b]) => cmp(a, b))
    .map(([, st]) => {
      const sorted = st.lines.sort((a, b) => a.from - b.from || cmp(a.resourceClass, b.resourceClass) || cmp(a.memberId, b.memberId) || cmp(a.sessions[0]?.id ?? '', b.sessions[0]?.id ?? '') || cmp(a.booking ?? '', b.booking ?? ''));
      const sum = (f: (l: StatementLine) => number): number => sorted.reduce((n, l) => n + f(l), 0);
      return {
        party: st.party,
        currency: rateCard.currency,
        from,
        to,
        lines: sorted,
        totals: { lines: sorted.length, grossMinor: sum((l) => l.grossMinor), amountMinor: sum((l) => l.amountMinor), referenceMinor: sum((l) => l.referenceMinor), subsidyMinor: sum((l) => l.subsidyMinor) },
      };
    });
  unbilled.sort((a, b) => cmp(a.sessionId, b.sessionId));
  unpriced.sort((a, b) => cmp(a.date, b.date) || cmp(a.sessionId, b.sessionId));
  return { currency: rateCard.currency, from, to, statements, unbilled, unpriced };
}

/**
 * A line per no-show booking starting in the period whose class has a
 * no-show fee on its local date (after the member's override). The fee is a
 * charge, not a subsidised service: quantity 1 booking, reference = amount,
 * subsidy 0; no quota, grant, starting fee or cap applies, and it does not
 * count towards the caps. Billed like a desk session: to the member, or to
 * their team (the roster's) with `billTo: 'team'`.
 */
function noShowLines(input: PricingInput, z: Zone, unbilled: Unbilled[]): { party: Party; line: StatementLine }[] {
  const out: { party: Party; line: StatementLine }[] = [];
  for (const n of input.noShows ?? []) {
    if (!(n.from >= input.from && n.from < input.to)) continue;
    const member = input.members[n.memberId];
    if (!member) {
      unbilled.push({ sessionId: `booking:${n.bookingId}`, reason: 'unknown-member' });
      continue;
    }
    const date = localBuckets(n.from, n.from + 1, 'day', z)[0]!.key;
    const version = versionOn(input.rateCard, date);
    const rate = version?.rates.find((r) => r.resourceClass === n.resourceClass);
    if (!version || !rate) continue;
    const fee = noShowFee(rate, { planId: planOn(member, date), group: member.group });
    if (fee.feeMinor === 0) continue;
    const party: Party = member.billTo === 'team' && member.teamId !== null ? { kind: 'team', id: member.teamId } : { kind: 'member', id: n.memberId };
    out.push({
      party,
      line: {
        memberId: n.memberId,
        teamId: member.teamId,
        resourceClass: n.resourceClass,
        unit: rate.unit,
        date,
        from: n.from,
        to: n.to,
        sessions: [],
        quantityUnit: 'booking',
        quantity: 1,
        freeQuantity: 0,
        grantedQuantity: 0,
        chargedQuantity: 1,
        unitPriceMinor: fee.feeMinor,
        startingFeeMinor: 0,
        grossMinor: fee.feeMinor,
        amountMinor: fee.feeMinor,
        referenceMinor: fee.feeMinor,
        subsidyMinor: 0,
        capApplied: null,
        rateVersion: version.effectiveFrom,
        override: fee.override,
        grant: null,
        booking: n.bookingId,
      },
    });
  }
  return out;
}
