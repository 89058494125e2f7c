/**
 * The quick start's membership: when `facility start` runs the simulator on a
 * server database that has no members and no plans yet, the simulated
 * population (firmware-sim/scenario/population.ts, same seed and size) is
 * entered as members, so that the simulated swipes meet a real roster and the
 * gateway grants and refuses as it would in a real space.
 *
 * What is entered, all marked as demo data (member numbers DEMO-nnn, the
 * actor `system:demo` in the change log):
 * - one plan, "Demo membership / 演示会员", opening every space at all hours;
 * - four start-up teams; two members in three belong to one;
 * - each member with one card in the three forms the site's readers report it
 *   (uid for MQTT readers, EM4100 for RDM6300 readers, Wiegand-26 for Wiegand
 *   readers: the mapping the simulated serial readers use);
 * - every space certification (e.g. a lab's safety induction) for everyone,
 *   and every machine certification for the members who use the machines.
 * Nothing is entered when the database holds any member or plan: a real
 * roster is never mixed with demo data.
 */
import type { Logger } from 'pino';
import { CREDENTIAL_FORMATS, type CredentialFormat } from '../core/signals.js';
import type { Site } from '../core/site/model.js';
import { em4100IdForCard, wiegand26IdForCard } from '../firmware-sim/devices/serial-reader.js';
import { population } from '../firmware-sim/scenario/population.js';
import { recordChange } from '../server/db/changes.js';
import type { ServerDb } from '../server/db/database.js';
import { newId } from '../server/ids.js';
import { localDate } from '../server/routes/certifications.js';

export const DEMO_ACTOR = 'system:demo';

const TEAMS: readonly { name: string; nameZh: string }[] = [
  { name: 'Demo Robotics', nameZh: '演示机器人团队' },
  { name: 'Demo Biomaterials', nameZh: '演示生物材料团队' },
  { name: 'Demo Smart Farming', nameZh: '演示智慧农业团队' },
  { name: 'Demo Wearables', nameZh: '演示可穿戴设备团队' },
];

/** The credential a reader of this format reports for a population card. */
function credentialFor(format: CredentialFormat, card: string): string {
  switch (format) {
    case 'uid':
      return card;
    case 'em4100':
      return em4100IdForCard('uid', card);
    case 'wiegand26':
      return wiegand26IdForCard('uid', card);
  }
}

export interface DemoRosterResult {
  readonly seeded: boolean;
  readonly members: number;
  readonly version: number | null;
}

/**
 * Enters the simulated population as the server's roster, unless it already
 * has members or plans. `members` and `seed` must be the simulator's.
 */
export async function seedDemoRoster(db: ServerDb, site: Site, opts: { seed: number; members?: number; now: number; logger: Logger }): Promise<DemoRosterResult> {
  const people = population(site, opts.seed, opts.members);
  const spaceCerts = new Set<string>();
  for (const s of site.spaces.values()) if (s.requiresCertification) spaceCerts.add(s.requiresCertification);
  const machineCerts = new Set<string>();
  for (const e of site.equipment.values()) machineCerts.add(e.certification ?? e.class);

  const result = await db.transaction().execute(async (trx): Promise<DemoRosterResult> => {
    const hasMember = await trx.selectFrom('members').select('id').limit(1).executeTakeFirst();
    const hasPlan = await trx.selectFrom('plans').select('id').limit(1).executeTakeFirst();
    if (hasMember || hasPlan) return { seeded: false, members: 0, version: null };
    const now = opts.now;
    const since = localDate(now - 365 * 86_400_000);
    let version = 0;
    const change = async (entity: 'plan' | 'team' | 'member' | 'badge' | 'certification', id: string, after: unknown) => {
      version = await recordChange(trx, { actor: DEMO_ACTOR, entity, entityId: id, action: 'import', before: null, after, at: now });
    };

    const plan = { id: newId('plan'), name: 'Demo membership', name_zh: '演示会员', spaces: JSON.stringify(['*']), hours: '[]', quotas: '{}', active: 1, created_at: now, updated_at: now };
    await trx.insertInto('plans').values(plan).execute();
    await change('plan', plan.id, plan);

    const teams = TEAMS.map((t) => ({ id: newId('team'), name: t.name, name_zh: t.nameZh, founded_on: since, registered_on: since, status: 'incubating' as const, exit_on: null, exit_reason: null, created_at: now, updated_at: now }));
    for (const t of teams) {
      await trx.insertInto('teams').values(t).execute();
      await change('team', t.id, t);
    }

    const taken = new Set<string>();
    for (const [i, p] of people.entries()) {
      const no = String(i + 1).padStart(3, '0');
      const member = {
        id: newId('mem'),
        member_no: `DEMO-${no}`,
        name: `Demo member ${no}`,
        name_zh: `演示成员${no}`,
        email: null,
        phone: null,
        team_id: i % 3 === 2 ? null : teams[i % teams.length]!.id,
        status: 'active' as const,
        joined_on: since,
        left_on: null,
        plan_id: plan.id,
        plan_valid_from: since,
        plan_valid_to: null,
        created_at: now,
        updated_at: now,
      };
      await trx.insertInto('members').values(member).execute();
      await change('member', member.id, member);
      for (const format of CREDENTIAL_FORMATS) {
        const credential = credentialFor(format, p.card);
        // Two random cards can share their low 24 bits (a Wiegand-26 number): the second keeps its other forms.
        if (taken.has(`${format}:${credential}`)) continue;
        taken.add(`${format}:${credential}`);
        const badge = { id: newId('badge'), member_id: member.id, format, credential, status: 'active' as const, issued_on: since, note: 'demo card', created_at: now, updated_at: now };
        await trx.insertInto('badges').values(badge).execute();
        await change('badge', badge.id, badge);
      }
      const classes = p.jobsPerDay > 0 ? new Set([...spaceCerts, ...machineCerts]) : spaceCerts;
      for (const cls of classes) {
        const cert = { id: newId('cert'), member_id: member.id, class: cls, issued_on: since, expires_on: null, trainer_id: null, revoked_at: null, note: 'demo', created_at: now, updated_at: now };
        await trx.insertInto('certifications').values(cert).execute();
        await change('certification', cert.id, cert);
      }
    }
    return { seeded: true, members: people.length, version };
  });
  if (result.seeded) opts.logger.info({ members: result.members, teams: TEAMS.length, version: result.version }, 'demo roster entered for the simulator (members DEMO-001…): an empty database was found');
  return result;
}
