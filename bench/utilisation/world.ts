/**
 * The utilisation benchmark's month: a large maker space (the example site
 * grown to 500 hot desks and 40 machines), its simulated members entered as a
 * roster (cli/demo-roster.ts, in an in-memory server database), and a month
 * of the simulator's events (firmware-sim/scenario/workday.ts) turned into the
 * records a gateway journals: signals as the decoders make them, and access
 * decisions and machine sessions made by the gateway's own AccessRunner on a
 * simulated clock. Usage is computed from these records and nothing else.
 *
 * Battery and link reports (health without `online`) are counted but not
 * kept: no usage depends on them (docs/utilisation.md), and the server does
 * not read them back either.
 */
import { pino } from 'pino';
import { seedDemoRoster } from '../../cli/demo-roster.js';
import { indexPolicy } from '../../core/access/policy-index.js';
import type { CredentialFormat, JournalRecord, Signal } from '../../core/signals.js';
import { exampleSiteFile } from '../../core/site/example.js';
import type { DeviceInfo, Site } from '../../core/site/model.js';
import { validateSite } from '../../core/site/validate.js';
import { em4100IdForCard, wiegand26IdForCard } from '../../firmware-sim/devices/serial-reader.js';
import { workday, type SimEvent } from '../../firmware-sim/scenario/workday.js';
import { AccessRunner } from '../../gateway/access/runner.js';
import { migrate, openSqlite } from '../../server/db/database.js';
import { readPolicySnapshot } from '../../server/policy/snapshot.js';

export interface WorldOptions {
  readonly desks: number;
  readonly machines: number;
  readonly members: number;
  readonly days: number;
  readonly seed: number;
  /** First instant (epoch ms): a local midnight of the site. */
  readonly start: number;
  readonly onProgress?: (done: number) => void;
}

export interface World {
  readonly site: Site;
  readonly records: JournalRecord[];
  /** Events the simulator made, by kind, and health reports left out (no bearing on usage). */
  readonly events: Record<string, number>;
  readonly healthDropped: number;
}

export function benchSite(desks: number, machines: number): Site {
  const r = validateSite(exampleSiteFile({ siteId: 'utilbench', hotDesks: desks, machines, credentialsFor: () => ({ secret: 'env:UNUSED' }) }));
  if (!r.ok) throw new Error(`bench site invalid: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.site;
}

/** The card as a reader of this device's format reports it. */
function credentialOf(device: DeviceInfo, card: string): { format: CredentialFormat; id: string } {
  if (device.format === 'rdm6300') return { format: 'em4100', id: em4100IdForCard('uid', card) };
  if (device.format === 'wiegand26') return { format: 'wiegand26', id: wiegand26IdForCard('uid', card) };
  return { format: 'uid', id: card };
}

export async function buildWorld(o: WorldOptions): Promise<World> {
  const site = benchSite(o.desks, o.machines);
  const logger = pino({ level: 'silent' });
  const db = openSqlite(':memory:');
  await migrate(db);
  await seedDemoRoster(db, site, { seed: o.seed, members: o.members, now: o.start, logger });
  const policy = indexPolicy(await readPolicySnapshot(db, o.start));
  await db.destroy();

  const records: JournalRecord[] = [];
  let now = o.start;
  const journaled = new Set<string>();
  const runner = new AccessRunner({
    site,
    policy: { current: () => policy, ageMs: () => 0 },
    command: () => Promise.resolve(),
    record: (rs) => void records.push(...rs),
    journaled: (key) => journaled.has(key),
    history: () => [],
    clock: { now: () => now },
    logger,
  });

  const events: Record<string, number> = {};
  let healthDropped = 0;
  let seq = 0;
  let lastTick = o.start;
  const end = o.start + o.days * 86_400_000;
  for (const e of workday({ site, seed: o.seed, start: o.start, days: o.days, members: o.members }) as Iterable<SimEvent>) {
    events[e.kind] = (events[e.kind] ?? 0) + 1;
    now = e.ts;
    // The runner's periodic checks (idle machines, closing time, presence timeouts), once a simulated second.
    if (now - lastTick >= 1000) {
      runner.tick();
      lastTick = now;
    }
    const device = site.devices.get(e.device);
    if (!device) continue;
    const base = { key: `${e.device}:1:${++seq}`, site: site.id, device: e.device, deviceKind: device.kind, space: device.space, target: device.target, seq, ts: e.ts, tsSource: 'device' as const };
    let signal: Signal;
    switch (e.kind) {
      case 'occupancy':
        signal = { ...base, kind: 'occupancy', occupied: e.occupied };
        break;
      case 'power':
        signal = { ...base, kind: 'power', powerW: e.powerW, energyKwh: e.energyKwh, voltageV: e.voltageV, currentA: e.currentA, on: e.on };
        break;
      case 'badge':
        signal = { ...base, kind: 'badge', credential: credentialOf(device, e.card) };
        break;
      case 'offline':
      case 'online':
        signal = { ...base, kind: 'health', online: e.kind === 'online', batteryPct: null, linkQuality: null };
        break;
      case 'health':
        healthDropped++;
        continue;
    }
    // As the gateway does: decide on the swipe as it is decoded, journal both, then let the runner
    // see what was journaled (power readings keep machine sessions alive).
    const made = runner.onRecords([signal], e.ts);
    // The runner asks the journal only about swipes (a replay must not open a door twice).
    if (signal.kind === 'badge') journaled.add(signal.key);
    records.push(signal, ...made);
    runner.observe([signal, ...made]);
    if (seq % 100_000 === 0) o.onProgress?.((e.ts - o.start) / (end - o.start));
  }
  now = end;
  runner.tick();
  // Within one instant the runner's records follow the signal that caused them; the journal's order is time order.
  records.sort((a, b) => a.ts - b.ts);
  return { site, records, events, healthDropped };
}
