/**
 * Test fixtures: a `Site` built from a `SiteFile` literal through the real
 * validator (core/site/validate.ts), so fixtures can never drift from what a
 * site file produces.
 */
import type { Site, SiteFile } from '../../core/site/model.js';
import { formatSiteIssue, validateSite } from '../../core/site/validate.js';


export function siteFromFile(file: SiteFile): Site {
  const r = validateSite(file);
  if (!r.ok) throw new Error(`fixture site is invalid:\n${r.errors.map(formatSiteIssue).join('\n')}`);
  return r.site;
}

const CRED = { secret: 'env:FIXTURE_DEVICE_SECRET' } as const;

export interface ExampleSiteOptions {
  readonly id?: string;
  readonly timezone?: string;
  /** Desks in the co-working space; the first third are fixed (default 40). */
  readonly desks?: number;
}

/**
 * A small maker space: a co-working floor with desks, a lab with a laser
 * cutter, two FDM printers and a CNC router, two meeting rooms; a sensor on
 * every desk and room, readers on both doors and every machine, a meter on
 * every machine and one on the floor's supply.
 */
export function exampleSiteFile(opts: ExampleSiteOptions = {}): SiteFile {
  const deskCount = opts.desks ?? 40;
  const fixed = Math.round(deskCount / 3);
  const deskIds = Array.from({ length: deskCount }, (_, i) => `d${String(i + 1).padStart(2, '0')}`);
  const machines = [
    { id: 'laser-1', name: 'Laser cutter', class: 'laser-cutter', runningThresholdW: 200 },
    { id: 'printer-1', name: 'FDM printer 1', class: '3d-printer', runningThresholdW: 40 },
    { id: 'printer-2', name: 'FDM printer 2', class: '3d-printer', runningThresholdW: 40 },
    { id: 'cnc-1', name: 'CNC router', class: 'cnc', runningThresholdW: 150 },
  ];
  return {
    version: 1,
    site: { id: opts.id ?? 'demo', name: 'Demo Makerspace', nameZh: '示范众创空间', timezone: opts.timezone ?? 'Asia/Shanghai' },
    spaces: [
      { id: 'cowork', name: 'Co-working floor', kind: 'open-space', capacity: 60 },
      { id: 'lab', name: 'Fabrication lab', kind: 'lab', capacity: 12, requiresCertification: 'lab-basic' },
      { id: 'room-a', name: 'Meeting room A', kind: 'room', capacity: 8 },
      { id: 'room-b', name: 'Meeting room B', kind: 'room', capacity: 4 },
    ],
    desks: deskIds.map((id, i) => ({ id, space: 'cowork', kind: i < fixed ? ('fixed' as const) : ('hot' as const) })),
    doors: [
      { id: 'main', space: 'cowork', name: 'Main entrance' },
      { id: 'lab-door', space: 'lab', name: 'Lab door', antiPassback: false },
    ],
    equipment: machines.map((m) => ({ ...m, space: 'lab' })),
    devices: [
      ...deskIds.map((d) => ({ id: `occ-${d}`, kind: 'occupancy-sensor' as const, desk: d, credentials: CRED })),
      { id: 'occ-room-a', kind: 'occupancy-sensor', space: 'room-a', credentials: CRED },
      { id: 'occ-room-b', kind: 'occupancy-sensor', space: 'room-b', credentials: CRED },
      { id: 'occ-lab', kind: 'occupancy-sensor', space: 'lab', credentials: CRED },
      { id: 'reader-main', kind: 'badge-reader', door: 'main', credentials: CRED },
      { id: 'reader-lab', kind: 'door-controller', door: 'lab-door', credentials: CRED },
      ...machines.map((m) => ({ id: `reader-${m.id}`, kind: 'badge-reader' as const, equipment: m.id, credentials: CRED })),
      ...machines.map((m) => ({ id: `meter-${m.id}`, kind: 'power-meter' as const, equipment: m.id, credentials: CRED })),
      { id: 'meter-floor', kind: 'power-meter', space: 'cowork', credentials: CRED },
    ],
  };
}

export function exampleSite(opts: ExampleSiteOptions = {}): Site {
  return siteFromFile(exampleSiteFile(opts));
}

/** Deterministic per-device secrets, shaped like the device-secrets file's `devices` map. */
export function fixtureSecrets(site: Site): Record<string, string> {
  const out: Record<string, string> = {};
  for (const id of site.devices.keys()) out[id] = `secret-${id}-0123456789abcdef`;
  return out;
}
