/**
 * The quick start's demo roster (cli/demo-roster.ts): the simulated population
 * entered into an empty server database, so that the simulator's cards, in
 * every form the example site's readers report them, are granted by the same
 * decision the gateway runs; never entered over a real roster.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_ACTOR, seedDemoRoster } from '../../cli/demo-roster.js';
import { decide, type AccessRequest, type AccessState } from '../../core/access/decide.js';
import { indexPolicy } from '../../core/access/policy-index.js';
import { exampleSiteFile } from '../../core/site/example.js';
import type { Site } from '../../core/site/model.js';
import { validateSite } from '../../core/site/validate.js';
import { em4100IdForCard, wiegand26IdForCard } from '../../firmware-sim/devices/serial-reader.js';
import { population } from '../../firmware-sim/scenario/population.js';
import { migrate, openSqlite, type ServerDb } from '../../server/db/database.js';
import { readPolicySnapshot } from '../../server/policy/snapshot.js';

const logger = pino({ level: 'silent' });
// Wednesday 2026-11-25 10:00 in Shanghai: every space of the example site is open.
const NOW = Date.parse('2026-11-25T02:00:00Z');

function exampleSite(): Site {
  const r = validateSite(exampleSiteFile({ credentialsFor: () => ({ secret: 'env:TEST_SECRET' }) }));
  if (!r.ok) throw new Error('example site invalid');
  return r.site;
}

const nobodyInside: AccessState = {
  occupancy: () => 0,
  isInside: () => false,
  session: () => null,
  booking: () => null,
  nextBookingStart: () => null,
  lastUsed: () => NOW - 86_400_000,
};

let dir: string;
let db: ServerDb;
const site = exampleSite();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'of-demo-roster-'));
  db = openSqlite(join(dir, 'server.db'));
  await migrate(db);
});

afterEach(async () => {
  await db.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe('demo roster', () => {
  it('enters the simulated population once, and the gateway decision grants their cards in every reader format', async () => {
    const r = await seedDemoRoster(db, site, { seed: 1, now: NOW, logger });
    const people = population(site, 1);
    expect(r).toMatchObject({ seeded: true, members: people.length });
    expect(r.version).toBeGreaterThan(0);

    const members = await db.selectFrom('members').selectAll().execute();
    expect(members).toHaveLength(people.length);
    expect(members.every((m) => m.member_no.startsWith('DEMO-') && m.status === 'active')).toBe(true);
    expect(new Set(members.map((m) => m.team_id)).size).toBe(5); // four teams and "no team"
    const changes = await db.selectFrom('changes').select(['actor']).distinct().execute();
    expect(changes).toEqual([{ actor: DEMO_ACTOR }]);

    const policy = indexPolicy(await readPolicySnapshot(db, NOW));
    const run = (request: AccessRequest) => decide({ site, policy, policyAgeMs: 0, now: NOW, request, state: nobodyInside });
    const mainDoor = [...site.doors.values()][0]!;
    const fablab = site.doors.get('fablab')!;
    const workshop = site.doors.get('workshop')!;
    const laser = [...site.equipment.values()].find((e) => e.class === 'laser-cutter')!;
    const user = people.find((p) => p.jobsPerDay > 0)!;
    const nonUser = people.find((p) => p.jobsPerDay === 0)!;

    for (const p of [user, nonUser]) {
      expect(run({ target: { type: 'door', id: mainDoor.id }, credential: { format: 'uid', id: p.card }, direction: 'in' })).toMatchObject({ grant: true, reason: 'granted' });
      // The lab doors' serial readers report the same card as EM4100 and Wiegand-26.
      expect(run({ target: { type: 'door', id: fablab.id }, credential: { format: 'em4100', id: em4100IdForCard('uid', p.card) }, direction: 'in' })).toMatchObject({ grant: true });
      expect(run({ target: { type: 'door', id: workshop.id }, credential: { format: 'wiegand26', id: wiegand26IdForCard('uid', p.card) }, direction: 'in' })).toMatchObject({ grant: true });
    }
    // Machines: certified members only.
    expect(run({ target: { type: 'equipment', id: laser.id }, credential: { format: 'uid', id: user.card }, direction: 'in' })).toMatchObject({ grant: true });
    expect(run({ target: { type: 'equipment', id: laser.id }, credential: { format: 'uid', id: nonUser.card }, direction: 'in' })).toMatchObject({ grant: false, reason: 'certification_missing' });
    // A card nobody holds is still unknown.
    expect(run({ target: { type: 'door', id: mainDoor.id }, credential: { format: 'uid', id: '00000001' }, direction: 'in' })).toMatchObject({ grant: false, reason: 'unknown_badge' });
  });

  it('never enters demo data over a real roster', async () => {
    expect((await seedDemoRoster(db, site, { seed: 1, now: NOW, logger })).seeded).toBe(true);
    expect(await seedDemoRoster(db, site, { seed: 1, now: NOW, logger })).toEqual({ seeded: false, members: 0, version: null });

    await db.deleteFrom('certifications').execute();
    await db.deleteFrom('badges').execute();
    await db.deleteFrom('members').execute();
    // Plans alone are a roster in the making: still nothing entered.
    expect((await seedDemoRoster(db, site, { seed: 1, now: NOW, logger })).seeded).toBe(false);
    expect(await db.selectFrom('members').select('id').execute()).toHaveLength(0);
  });
});
