/**
 * The access benchmark's world: a large site whose swipes are all granted by
 * the rules of core/access/decide.ts, its access policy, and the small pieces
 * the benchmark's processes share (argument shapes, card ids, statistics).
 *
 * Why every swipe is granted (so that unlocks sent = swipes made):
 * - spaces have no capacity and doors no anti-passback (a member may enter
 *   again and again), no space needs a certification, and neither the site nor
 *   any space has opening hours;
 * - every member is active on one plan covering every space ('*') at all hours;
 * - every door controller reads in (direction 'in'), so a swipe is an entry.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PolicySnapshot } from '../../core/policy/snapshot.js';
import type { DeviceDef, SiteFile } from '../../core/site/model.js';
import { siteToYaml } from '../../core/site/example.js';
import { generateDeviceSecret, hashSecret, writeSecretsFile } from '../../gateway/auth/secrets.js';

export const SITE_ID = 'accessbench';

export interface WorldOptions {
  /** Door controllers (one per door); each reads badges and takes cmd/unlock. */
  readonly doors: number;
  /** Spaces the doors lead into; each has one power meter. */
  readonly spaces: number;
  /** Desks, each with an occupancy sensor. */
  readonly desks: number;
  /** Members, each with one badge. */
  readonly members: number;
}

export interface DeviceCred {
  readonly id: string;
  readonly secret: string;
}

export interface World {
  readonly sitePath: string;
  readonly policyPath: string;
  readonly secretsPath: string;
  readonly controllers: DeviceCred[];
  /** Telemetry devices and the channel each publishes on. */
  readonly telemetry: (DeviceCred & { channel: 'occupancy' | 'power' })[];
  /** A door controller on a door of its own, for the slow-subscriber runs (never measured). */
  readonly slow: DeviceCred;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Member i's badge: a 4-byte UID in the gateway's canonical form (upper-case hex). */
export function cardOf(i: number): string {
  return ((0x10000000 + i * 7919) >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** Writes the site file, its device secrets and the policy snapshot into `dir`. */
export async function writeWorld(dir: string, o: WorldOptions): Promise<World> {
  const spaces = Array.from({ length: o.spaces }, (_, i) => `hall-${pad(i + 1, 3)}`);
  const doors = Array.from({ length: o.doors }, (_, i) => ({ id: `door-${pad(i + 1, 4)}`, space: spaces[i % spaces.length]!, antiPassback: false }));
  const desks = Array.from({ length: o.desks }, (_, i) => ({ id: `desk-${pad(i + 1, 4)}`, space: spaces[i % spaces.length]!, kind: 'hot' as const }));
  const secrets: Record<string, string> = {};
  const creds = (id: string) => {
    const secret = generateDeviceSecret();
    secrets[id] = secret;
    return { hash: hashSecret(secret) };
  };
  const devices: DeviceDef[] = [
    ...doors.map((d, i) => ({ id: `dc-${pad(i + 1, 4)}`, kind: 'door-controller' as const, door: d.id, direction: 'in' as const, credentials: creds(`dc-${pad(i + 1, 4)}`) })),
    { id: 'dc-slow', kind: 'door-controller', door: 'door-slow', direction: 'in', credentials: creds('dc-slow') },
    ...desks.map((d, i) => ({ id: `occ-${pad(i + 1, 4)}`, kind: 'occupancy-sensor' as const, desk: d.id, credentials: creds(`occ-${pad(i + 1, 4)}`) })),
    ...spaces.map((s, i) => ({ id: `pm-${pad(i + 1, 3)}`, kind: 'power-meter' as const, space: s, credentials: creds(`pm-${pad(i + 1, 3)}`) })),
  ];
  const file: SiteFile = {
    version: 1,
    site: { id: SITE_ID, name: 'Access benchmark site', timezone: 'Asia/Shanghai' },
    spaces: spaces.map((id) => ({ id, name: id, kind: 'open-space' as const })),
    desks,
    doors: [...doors, { id: 'door-slow', space: spaces[0]!, antiPassback: false }],
    devices,
  };
  const sitePath = join(dir, 'site.yaml');
  const secretsPath = join(dir, 'device-secrets.json');
  const policyPath = join(dir, 'policy.json');
  await writeFile(sitePath, siteToYaml(file, 'bench/access: generated site'));
  await writeSecretsFile(secretsPath, { version: 1, site: SITE_ID, devices: secrets });
  await writeFile(policyPath, JSON.stringify(policyFor(o.members, Date.now())));
  const cred = (id: string): DeviceCred => ({ id, secret: secrets[id]! });
  return {
    sitePath,
    policyPath,
    secretsPath,
    controllers: devices.filter((d) => d.kind === 'door-controller' && d.id !== 'dc-slow').map((d) => cred(d.id)),
    telemetry: devices
      .filter((d) => d.kind === 'occupancy-sensor' || d.kind === 'power-meter')
      .map((d) => ({ ...cred(d.id), channel: d.kind === 'power-meter' ? ('power' as const) : ('occupancy' as const) })),
    slow: cred('dc-slow'),
  };
}

/** A policy in which every member is active on a plan that covers every space at all hours. */
export function policyFor(members: number, now: number): PolicySnapshot {
  const ids = Array.from({ length: members }, (_, i) => `m-${pad(i, 6)}`);
  return {
    version: 1,
    generatedAt: now,
    members: ids.map((id) => ({ id, memberNo: id, status: 'active' as const, teamId: null, planId: 'all-access', planValidFrom: null, planValidTo: null })),
    badges: ids.map((id, i) => ({ format: 'uid' as const, credential: cardOf(i), memberId: id, status: 'active' as const, override: false })),
    plans: [{ id: 'all-access', spaces: ['*'], hours: [], quotas: {}, active: true }],
    certifications: [],
    outOfService: [],
    teams: [],
  };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface LatencySummary {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Latencies in µs → a summary in ms (3 decimals). */
export function summarise(us: number[]): LatencySummary {
  const s = Float64Array.from(us).sort();
  const ms = (x: number) => Math.round(x) / 1000;
  return { n: s.length, p50: ms(percentile(s, 50)), p90: ms(percentile(s, 90)), p99: ms(percentile(s, 99)), p999: ms(percentile(s, 99.9)), max: ms(s[s.length - 1] ?? NaN) };
}

/** A small deterministic PRNG (mulberry32): the same seed gives the same swipes. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
