/**
 * Access honours bookings (issue #13), through the real path: bookings made
 * with the HTTP API → the policy snapshot the server serves → the gateway's
 * PolicyClient (fetched over HTTP, checked against the schema) → the access
 * runner's decision state → decide(). A machine booked by A is refused to B
 * (reason booked); A's longest run stops where B's booking begins; a block
 * refuses everyone; a booking beginning ends a session running into it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexPolicy, type PolicyIndex } from '../../core/access/policy-index.js';
import type { BadgeSignal, DecisionRecord, JournalRecord, PowerSignal, SessionRecord } from '../../core/signals.js';
import { AccessRunner } from '../../gateway/access/runner.js';
import { PolicyClient } from '../../gateway/policy/policy-client.js';
import { exampleSiteFile, siteFromFile } from '../harness/site-fixture.js';
import { makeTestServer, T0, type TestServer } from '../harness/server.js';

const site = siteFromFile(exampleSiteFile());
const MIN = 60_000;
const H = 60 * MIN;

let s: TestServer;
let client: PolicyClient;
let dir: string;
let runner: AccessRunner;
let journal: JournalRecord[];
let seq = 0;

beforeEach(async () => {
  s = await makeTestServer({ site });
  const stamp = { created_at: T0, updated_at: T0 };
  await s.db.updateTable('plans').set({ spaces: '["*"]' }).execute();
  await s.db.updateTable('members').set({ plan_id: s.seed.plan, plan_valid_from: '2026-01-01', plan_valid_to: '2026-12-31' }).execute();
  const cert = (id: string, member: string, cls: string) => ({ id, member_id: member, class: cls, issued_on: '2026-01-10', expires_on: null, trainer_id: null, revoked_at: null, note: null, ...stamp });
  await s.db.insertInto('certifications').values([cert('c1', s.seed.members.a, 'laser-cutter'), cert('c2', s.seed.members.b, 'laser-cutter'), cert('c3', s.seed.members.a, 'cnc')]).execute();
  const url = await s.app.listen({ port: 0, host: '127.0.0.1' });
  dir = mkdtempSync(join(tmpdir(), 'of-bkg-'));
  client = new PolicyClient({ serverUrl: url, token: await s.tokenFor('gateway'), path: join(dir, 'policy.json'), clock: s.clock, logger: pino({ level: 'silent' }), pollMs: 3_600_000 });
  journal = [];
  let index: PolicyIndex | null = null;
  let version = -1;
  runner = new AccessRunner({
    site,
    policy: {
      current: () => {
        const c = client.current();
        if (!c) return null;
        if (c.version !== version) [index, version] = [indexPolicy(c.snapshot), c.version];
        return index;
      },
      ageMs: (now) => client.ageMs(now),
    },
    command: () => Promise.resolve(),
    record: (records) => journal.push(...records),
    journaled: (key) => journal.some((r) => r.key === key),
    history: () => [],
    clock: s.clock,
    logger: pino({ level: 'silent' }),
  });
  runner.start();
});

afterEach(async () => {
  runner.stop();
  await client.stop();
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function swipe(machine: string, card: { format: 'em4100' | 'uid'; id: string }): DecisionRecord {
  const d = site.devices.get(`reader-${machine}`)!;
  const signal: BadgeSignal = { kind: 'badge', key: `reader-${machine}:1:${++seq}`, site: site.id, device: d.id, deviceKind: d.kind, space: d.space, target: d.target, seq, ts: s.clock.now(), tsSource: 'device', credential: card };
  const out = runner.onRecords([signal], s.clock.now());
  journal.push(signal, ...out);
  return out.find((r): r is DecisionRecord => r.kind === 'decision')!;
}

function power(machine: string, watts: number): void {
  const d = site.devices.get(`meter-${machine}`)!;
  const signal: PowerSignal = { kind: 'power', key: `meter-${machine}:1:${++seq}`, site: site.id, device: d.id, deviceKind: d.kind, space: d.space, target: d.target, seq, ts: s.clock.now(), tsSource: 'device', powerW: watts, energyKwh: null, voltageV: null, currentA: null, on: null };
  journal.push(signal);
  runner.observe([signal]);
}

const A = { format: 'em4100', id: '0A1B2C3D4E' } as const;
const B = { format: 'uid', id: '04A1B2C3' } as const;
const book = async (who: 'memberA' | 'memberB', resourceId: string, from: number, to: number) => {
  const res = await s.request(who, 'POST', '/api/v1/bookings', { resourceType: 'equipment', resourceId, from, to });
  expect(res.statusCode).toBe(201);
};

describe('access honours bookings', () => {
  it('refuses a machine to B during A’s booking, and stops A’s longest run at B’s booking', async () => {
    await book('memberA', 'laser-1', T0 + H, T0 + 3 * H);
    await book('memberB', 'laser-1', T0 + 3 * H, T0 + 4 * H);
    await book('memberA', 'laser-1', T0 + 4 * H, T0 + 5 * H);
    await client.refresh();
    expect(client.current()?.snapshot.bookings).toHaveLength(3);

    // Before any booking: B may use it, until A's booking begins.
    const early = swipe('laser-1', B);
    expect(early).toMatchObject({ grant: true, reason: 'granted', maxRunMs: H });
    swipe('laser-1', B); // B badges out

    s.clock.set(T0 + H + 5 * MIN);
    expect(swipe('laser-1', B)).toMatchObject({ grant: false, reason: 'booked', memberId: s.seed.members.b });
    // A's own later booking (16:00–17:00 UTC) does not cut; B's at T0 + 3 h does.
    expect(swipe('laser-1', A)).toMatchObject({ grant: true, reason: 'granted', memberId: s.seed.members.a, maxRunMs: 2 * H - 5 * MIN });
  });

  it('refuses everyone during a manager’s block, and ends a session running into a booking made after it started', async () => {
    const block = await s.request('manager', 'POST', '/api/v1/bookings/blocks', { resourceType: 'equipment', resourceId: 'cnc-1', from: T0 + H, to: T0 + 2 * H, title: 'Spindle maintenance' });
    expect(block.statusCode).toBe(201);
    await client.refresh();
    s.clock.set(T0 + H);
    expect(swipe('cnc-1', A)).toMatchObject({ grant: false, reason: 'booked' });

    // A runs the laser with nothing booked; then B books the slot starting in 30 minutes.
    const started = swipe('laser-1', A);
    expect(started).toMatchObject({ grant: true, maxRunMs: null });
    await book('memberB', 'laser-1', T0 + H + 30 * MIN, T0 + 2 * H);
    await client.refresh();
    // It cuts (300 W) until 25 minutes in, then idles (0 W).
    for (let m = 0; m <= 25; m += 5) {
      s.clock.set(T0 + H + m * MIN);
      power('laser-1', 300);
      runner.tick();
    }
    s.clock.set(T0 + H + 29 * MIN);
    power('laser-1', 0);
    runner.tick();
    expect(journal.filter((r): r is SessionRecord => r.kind === 'session' && r.event === 'end')).toEqual([]);
    s.clock.set(T0 + H + 30 * MIN);
    runner.tick();
    // The machine is idle: the session ends as B's booking begins (a job still running would be warned, never cut).
    expect(journal.filter((r): r is SessionRecord => r.kind === 'session' && r.event === 'end')).toEqual([expect.objectContaining({ memberId: s.seed.members.a, reason: 'max_run' })]);
    expect(swipe('laser-1', B)).toMatchObject({ grant: true, memberId: s.seed.members.b });
  });
});
