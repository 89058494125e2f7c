/**
 * A small space with a known October and November 2026, for the evaluation
 * API and report tests (the figures each test expects are worked out in the
 * test from what is written here):
 *
 *   site      eval-site (Asia/Shanghai): desks d1 (fixed) and d2 (hot) in the
 *             co-working space, a laser cutter in the fab lab
 *   usage     2026-10-20: member A (team Alpha recorded) in the lab with a
 *             50-minute laser job; 2026-11-10: A again, and desk d1 occupied
 *             09:00–12:00; 2026-11-12: member B (no team recorded) with a job
 *   members   the harness's A (team Alpha) and B (team Beta), and C (no team)
 *   teams     the harness's Alpha (admitted 2025-03-01, enterprise 2025-01-10)
 *             and Beta (2025-06-01); Gamma admitted 2026-11-03 with its
 *             enterprise registered 2026-11-20; Delta admitted 2024-05-01,
 *             graduated 2026-11-15; Epsilon admitted 2025-09-01, exited
 *             2026-11-05 for a hostile reason; Zeta admitted 2026-10-10,
 *             exited 2026-10-30 ("moved to another city")
 *   money     Alpha raised 5,000.00 on 2026-11-18 (social); Beta an
 *             undisclosed amount on 2026-11-20
 *   services  a training 2026-11-11 (90 min; A and C, 3 outsiders; free,
 *             worth 400.00); mentoring of Gamma 2026-11-13 (60 min); an event
 *             at another site in November (not ours); an event for every
 *             site 2026-10-15 (120 min; B and 10 outsiders)
 */
import { toPoint } from '../../core/points.js';
import type { JournalRecord, PowerSignal } from '../../core/signals.js';
import { sessioniserConfig } from '../../core/usage/sessioniser.js';
import { toLine } from '../../gateway/sink/line-protocol.js';
import type { TestInflux } from './influxd.js';
import type { TestServer } from './server.js';
import { siteFromFile } from './site-fixture.js';

export const MIN = 60_000;
export const H = 3600_000;
export const SITE = 'eval-site';
export const HOSTILE_REASON = `<script>window.__pwned = 1</script>"out" & 'gone' <img src=x onerror="window.__pwned = 2">`;

export const evalSite = siteFromFile({
  version: 1,
  site: { id: SITE, name: 'Evaluation test space', nameZh: '评价测试空间', timezone: 'Asia/Shanghai' },
  spaces: [
    { id: 'cowork', name: 'Co-working', kind: 'open-space' },
    { id: 'fablab', name: 'Fab lab', kind: 'lab' },
  ],
  desks: [
    { id: 'd1', space: 'cowork', kind: 'fixed' },
    { id: 'd2', space: 'cowork' },
  ],
  doors: [{ id: 'fablab', space: 'fablab' }],
  equipment: [{ id: 'laser-1', space: 'fablab', name: 'Laser', class: 'laser-cutter', runningThresholdW: 300 }],
  devices: [
    { id: 'occ-d1', kind: 'occupancy-sensor', desk: 'd1', credentials: { secret: 'env:X' } },
    { id: 'occ-d2', kind: 'occupancy-sensor', desk: 'd2', credentials: { secret: 'env:X' } },
    { id: 'pm-laser-1', kind: 'power-meter', equipment: 'laser-1', credentials: { secret: 'env:X' } },
    { id: 'dc-fablab', kind: 'door-controller', door: 'fablab', credentials: { secret: 'env:X' } },
  ],
});

/** Local midnight of a November or October 2026 date in Shanghai (UTC+8). */
export const localMidnight = (month: 10 | 11, day: number): number => Date.UTC(2026, month - 1, day) - 8 * H;

/** A member in the lab 10:00–16:00 with a laser job 10:10–11:00 (50 min running, then idle). */
function visit(start: number, member: string, teamId: string | null, seqBase: number): JournalRecord[] {
  let seq = seqBase;
  const r: JournalRecord[] = [];
  const decision = (t: number, reason: 'granted' | 'exit'): JournalRecord => ({
    kind: 'decision',
    key: `dc-fablab:1:${++seq}:decision`,
    site: SITE,
    device: 'dc-fablab',
    space: 'fablab',
    target: { type: 'door', id: 'fablab' },
    swipe: `dc-fablab:1:${seq}`,
    credential: { format: 'uid', id: '0A0B0C0D' },
    memberId: member,
    teamId,
    grant: true,
    reason,
    override: false,
    policyVersion: 3,
    ts: start + t,
    sessionId: null,
    maxRunMs: null,
  });
  const pow = (t: number, w: number, kwh: number): PowerSignal => ({
    key: `pm-laser-1:1:${++seq}`,
    site: SITE,
    device: 'pm-laser-1',
    deviceKind: 'power-meter',
    space: 'fablab',
    target: { type: 'equipment', id: 'laser-1' },
    seq,
    ts: start + t,
    tsSource: 'device',
    kind: 'power',
    powerW: w,
    energyKwh: kwh,
    voltageV: null,
    currentA: null,
    on: null,
  });
  const id = `S${seqBase}`;
  r.push(decision(10 * H, 'granted'));
  r.push({ kind: 'session', key: `session:${id}:start`, site: SITE, space: 'fablab', equipment: 'laser-1', sessionId: id, memberId: member, teamId, event: 'start', reason: 'granted', ts: start + 10 * H + 5 * MIN, durationMs: null });
  for (let m = 0; m <= 60; m += 5) r.push(pow(10 * H + 10 * MIN + m * MIN, m < 50 ? 900 : 20, 1 + m * 0.01));
  r.push({ kind: 'session', key: `session:${id}:end`, site: SITE, space: 'fablab', equipment: 'laser-1', sessionId: id, memberId: member, teamId, event: 'end', reason: 'badge_out', ts: start + 11 * H + 20 * MIN, durationMs: 75 * MIN });
  r.push(decision(16 * H, 'exit'));
  return r;
}

function deskMorning(start: number, seqBase: number): JournalRecord[] {
  const occ = (t: number, occupied: boolean, seq: number): JournalRecord => ({
    key: `occ-d1:1:${seq}`,
    site: SITE,
    device: 'occ-d1',
    deviceKind: 'occupancy-sensor',
    space: 'cowork',
    target: { type: 'desk', id: 'd1' },
    seq,
    ts: start + t,
    tsSource: 'device',
    kind: 'occupancy',
    occupied,
  });
  return [occ(9 * H, true, seqBase + 1), occ(12 * H, false, seqBase + 2)];
}

export const usageConfig = sessioniserConfig(evalSite);

/** Writes the usage records (as the gateway's sink would) and seeds the roster, teams, investments and services. */
export async function seedEvaluation(server: TestServer, influx: TestInflux): Promise<{ memberC: string }> {
  const { members, teams } = server.seed;
  const records = [
    ...visit(localMidnight(10, 20), members.a, teams.a, 1000),
    ...visit(localMidnight(11, 10), members.a, teams.a, 2000),
    ...deskMorning(localMidnight(11, 10), 3000),
    ...visit(localMidnight(11, 12), members.b, null, 4000),
  ];
  const res = await influx.client.write(records.map((r) => toLine(toPoint(r))).join('\n'), 'ns');
  if (!res.ok) throw new Error('could not write the evaluation records');
  const now = server.clock.now();
  const stamp = { created_at: now, updated_at: now };
  const memberC = 'mem_c';
  await server.db
    .insertInto('members')
    .values({ id: memberC, member_no: 'M-0003', name: 'Wang Wu', name_zh: '王五', email: null, phone: null, team_id: null, status: 'active', joined_on: '2026-11-01', left_on: null, plan_id: null, plan_valid_from: null, plan_valid_to: null, ...stamp })
    .execute();
  const team = (id: string, name: string, registered: string, status: 'incubating' | 'graduated' | 'exited', more: { founded_on?: string; exit_on?: string; exit_reason?: string; graduated_on?: string } = {}) => ({
    id,
    name,
    name_zh: null,
    founded_on: more.founded_on ?? null,
    registered_on: registered,
    status,
    exit_on: more.exit_on ?? null,
    exit_reason: more.exit_reason ?? null,
    graduated_on: more.graduated_on ?? null,
    ...stamp,
  });
  await server.db
    .insertInto('teams')
    .values([
      team('team_gamma', 'Gamma Labs', '2026-11-03', 'incubating', { founded_on: '2026-11-20' }),
      team('team_delta', 'Delta Drones', '2024-05-01', 'graduated', { graduated_on: '2026-11-15' }),
      team('team_eps', 'Epsilon', '2025-09-01', 'exited', { exit_on: '2026-11-05', exit_reason: HOSTILE_REASON }),
      team('team_zeta', 'Zeta', '2026-10-10', 'exited', { exit_on: '2026-10-30', exit_reason: 'moved to another city' }),
    ])
    .execute();
  const inv = { currency: 'CNY', investor: null, round: null, note: null, created_at: now, created_by: 'test' };
  await server.db
    .insertInto('team_investments')
    .values([
      { ...inv, id: 'inv_1', team_id: teams.a, on_date: '2026-11-18', amount_minor: 500_000, source: 'social' },
      { ...inv, id: 'inv_2', team_id: teams.b, on_date: '2026-11-20', amount_minor: null, source: null },
    ])
    .execute();
  const svc = (id: string, kind: 'training' | 'mentoring' | 'event', startedAt: number, minutes: number, more: { site?: string | null; team?: string; external?: number; reference?: number } = {}) => ({
    id,
    kind,
    title: `${kind} ${id}`,
    title_zh: null,
    site_id: more.site === undefined ? SITE : more.site,
    started_at: startedAt,
    minutes,
    provider: null,
    trainer_id: null,
    team_id: more.team ?? null,
    external_participants: more.external ?? 0,
    fee_minor: 0,
    reference_minor: more.reference ?? 0,
    note: null,
    ...stamp,
  });
  await server.db
    .insertInto('services')
    .values([
      svc('svc_training', 'training', localMidnight(11, 11) + 10 * H, 90, { external: 3, reference: 40_000 }),
      svc('svc_mentoring', 'mentoring', localMidnight(11, 13) + 14 * H, 60, { team: 'team_gamma' }),
      svc('svc_elsewhere', 'event', localMidnight(11, 14) + 14 * H, 60, { site: 'other-site', external: 50 }),
      svc('svc_event', 'event', localMidnight(10, 15) + 14 * H, 120, { site: null, external: 10 }),
    ])
    .execute();
  await server.db
    .insertInto('service_participants')
    .values([
      { service_id: 'svc_training', member_id: members.a },
      { service_id: 'svc_training', member_id: memberC },
      { service_id: 'svc_event', member_id: members.b },
    ])
    .execute();
  return { memberC };
}

/** Laser cutting at 30.00 an hour, worth 120.00 at market prices, in 6-minute units. */
export const RATE_CARD = {
  currency: 'CNY',
  versions: [{ effectiveFrom: '2026-01-01', rates: [{ resourceClass: 'machine:laser-cutter', unit: 'hour', priceMinor: 3000, referencePriceMinor: 12_000, incrementMinutes: 6, rounding: 'up' }] }],
};
