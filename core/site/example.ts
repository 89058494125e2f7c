/**
 * The example site: a Chinese maker space of the kind found in a city
 * innovation park (众创空间) — a co-working floor of hot desks, a start-up team
 * area with fixed desks, a meeting and roadshow room, and three labs with shared
 * machines behind badge-controlled doors. `facility init` writes it, the
 * simulator drives it, and the tests use it as a realistic fixture.
 *
 * Pure: the caller supplies each device's credentials (a hash of a secret it
 * generated), so this file needs no randomness.
 */
import { Document, isMap, isSeq, type Node } from 'yaml';
import type { DeskDef, DeviceDef, DoorDef, EquipmentDef, LoginDef, SiteFile, SpaceDef } from './model.js';

export const EXAMPLE_SITE_ID = 'demo-makerspace';

export interface ExampleSiteOptions {
  readonly siteId?: string;
  /**
   * Credentials of a device, or of a shared login (id `login:<login id>`), e.g.
   * `{ hash: hashSecret(generateDeviceSecret()) }`; called once for each that needs its own, in file order.
   */
  readonly credentialsFor: (id: string) => { hash: string } | { secret: string };
  /** Hot desks on the co-working floor (default 36); more make a larger space for load tests. */
  readonly hotDesks?: number;
  /** Machines (default 10); beyond the ten of the example, more of the same kinds are added to the labs. */
  readonly machines?: number;
}

/** The shared login of the example's Tasmota plugs (Tasmota keeps one MQTT login per plug, but fleets are often flashed with one). */
export const EXAMPLE_TASMOTA_LOGIN = 'tasmota-fleet';
export const EXAMPLE_Z2M_BRIDGE = 'z2m-cowork';

const pad = (n: number): string => String(n).padStart(2, '0');

const SPACES: readonly SpaceDef[] = [
  { id: 'cowork', name: 'Co-working Floor', nameZh: '联合办公区', kind: 'open-space', capacity: 80 },
  { id: 'startup', name: 'Start-up Team Area', nameZh: '创业团队区', kind: 'open-space', capacity: 16 },
  { id: 'roadshow', name: 'Meeting & Roadshow Room', nameZh: '会议路演厅', kind: 'room', capacity: 40 },
  { id: 'fablab', name: 'Digital Fabrication Lab', nameZh: '数字制造实验室', kind: 'lab', capacity: 12, requiresCertification: 'fablab-safety' },
  // Soldering and reflow need only the general induction every member gets, so no certification here.
  { id: 'elab', name: 'Electronics Lab', nameZh: '电子实验室', kind: 'lab', capacity: 10 },
  { id: 'workshop', name: 'Wood & Metal Workshop', nameZh: '木工金工车间', kind: 'lab', capacity: 8, requiresCertification: 'workshop-safety' },
];

/** Hot desks in a grid six wide on the co-working floor (36 by default), 8 fixed desks for start-up teams (metres). */
const desksFor = (hot: number): DeskDef[] => [
  ...Array.from({ length: hot }, (_, i): DeskDef => ({
    id: `cw-${pad(i + 1)}`,
    space: 'cowork',
    kind: 'hot',
    position: { x: 2 + (i % 6) * 2.5, y: 2 + Math.floor(i / 6) * 2 },
  })),
  ...Array.from({ length: 8 }, (_, i): DeskDef => ({
    id: `st-${pad(i + 1)}`,
    space: 'startup',
    kind: 'fixed',
    position: { x: 2 + (i % 4) * 2.5, y: 2 + Math.floor(i / 4) * 2.5 },
  })),
];

const DOORS: readonly DoorDef[] = [
  // Anti-passback at the entrance stops a badge being handed back out through the glass to a friend.
  { id: 'main', space: 'cowork', name: 'Main entrance 正门', antiPassback: true },
  { id: 'fablab', space: 'fablab', name: 'Fab lab door 数字制造实验室门' },
  { id: 'elab', space: 'elab', name: 'Electronics lab door 电子实验室门' },
  { id: 'workshop', space: 'workshop', name: 'Workshop door 车间门' },
];

/**
 * Running thresholds sit between the machine's idle draw (controller, fans,
 * chiller standby) and its working draw, from typical nameplate figures.
 */
const BASE_EQUIPMENT: readonly EquipmentDef[] = [
  { id: 'laser-1', space: 'fablab', name: 'Laser cutter 1 (CO2 100 W)', nameZh: '激光切割机 1号', class: 'laser-cutter', runningThresholdW: 300 },
  { id: 'laser-2', space: 'fablab', name: 'Laser cutter 2 (CO2 60 W)', nameZh: '激光切割机 2号', class: 'laser-cutter', runningThresholdW: 200 },
  { id: 'fdm-1', space: 'fablab', name: 'FDM 3D printer 1', nameZh: 'FDM 3D打印机 1号', class: '3d-printer', runningThresholdW: 40 },
  { id: 'fdm-2', space: 'fablab', name: 'FDM 3D printer 2', nameZh: 'FDM 3D打印机 2号', class: '3d-printer', runningThresholdW: 40 },
  { id: 'fdm-3', space: 'fablab', name: 'FDM 3D printer 3', nameZh: 'FDM 3D打印机 3号', class: '3d-printer', runningThresholdW: 40 },
  { id: 'resin-1', space: 'fablab', name: 'Resin (SLA) printer', nameZh: '光固化打印机', class: 'resin-printer', runningThresholdW: 15 },
  { id: 'reflow-1', space: 'elab', name: 'Reflow oven', nameZh: '回流焊炉', class: 'reflow-oven', runningThresholdW: 200 },
  { id: 'solder-1', space: 'elab', name: 'Soldering station bench', nameZh: '焊台工位', class: 'soldering-station', runningThresholdW: 25 },
  { id: 'cnc-1', space: 'workshop', name: 'CNC router', nameZh: '数控雕刻机', class: 'cnc', runningThresholdW: 400 },
  { id: 'lathe-1', space: 'workshop', name: 'Metal lathe', nameZh: '金属车床', class: 'lathe', runningThresholdW: 150 },
];

/**
 * `count` machines: the example's ten, then more of the same kinds (laser-3, fdm-4, …) in the same
 * labs, for load tests of a larger space.
 */
function equipmentFor(count: number): EquipmentDef[] {
  const out = BASE_EQUIPMENT.slice(0, count).map((e) => ({ ...e }));
  const next = new Map<string, number>();
  for (let i = BASE_EQUIPMENT.length; i < count; i++) {
    const t = BASE_EQUIPMENT[i % BASE_EQUIPMENT.length]!;
    const base = t.id.replace(/-\d+$/, '');
    const n = (next.get(base) ?? BASE_EQUIPMENT.filter((e) => e.id.startsWith(`${base}-`)).length) + 1;
    next.set(base, n);
    out.push({ ...t, id: `${base}-${n}`, name: `${t.name.replace(/\s*\d+\b.*$|\s*\(.*$/, '')} ${n}`, nameZh: `${(t.nameZh ?? t.name).replace(/\s*\d+号$/, '')} ${n}号` });
  }
  return out;
}

/** Machines that need a badge at the machine itself, not only at the lab door. */
const BADGE_AT_MACHINE: readonly string[] = ['laser-1', 'laser-2'];

/**
 * Which plugs meter which machines, as spaces really buy them: Tasmota-flashed plugs on the big
 * machines (one shared login), Shelly Plus Plug S on the printers, OpenFacility's own meters elsewhere.
 */
const PLUG_FORMAT_BY_KIND: Readonly<Record<string, DeviceDef['format']>> = {
  laser: 'tasmota',
  cnc: 'tasmota',
  lathe: 'tasmota',
  fdm: 'shelly-gen2',
  resin: 'shelly-gen2',
};
const plugFormat = (machineId: string): DeviceDef['format'] => PLUG_FORMAT_BY_KIND[machineId.replace(/-\d+$/, '')] ?? 'canonical';

type DeviceShape = Omit<DeviceDef, 'credentials'> & { readonly own?: false | 'login' };

function deviceShapes(desks: readonly DeskDef[], equipment: readonly EquipmentDef[]): DeviceShape[] {
  return [
    ...DOORS.map((d): DeviceShape => ({ id: `dc-${d.id}`, kind: 'door-controller', door: d.id })),
    // The way out of the main entrance: anti-passback needs people to badge out as well as in.
    { id: 'exit-main', kind: 'badge-reader', door: 'main', direction: 'out' },
    // 125 kHz readers on serial lines at two lab doors (the door controllers still drive the locks).
    { id: 'rd-fablab', kind: 'badge-reader', format: 'rdm6300', door: 'fablab', serial: { path: 'serial/rd-fablab', baudRate: 9600 }, own: false },
    { id: 'rd-workshop', kind: 'badge-reader', format: 'wiegand26', door: 'workshop', serial: { path: 'serial/rd-workshop', baudRate: 9600 }, own: false },
    ...BADGE_AT_MACHINE.map((m): DeviceShape => ({ id: `br-${m}`, kind: 'badge-reader', equipment: m })),
    ...equipment.map((m): DeviceShape => {
      const format = plugFormat(m.id);
      const id = `pm-${m.id}`;
      if (format === 'tasmota') return { id, kind: 'power-meter', format, equipment: m.id, mqtt: { clientId: `DVES_${m.id.replace(/-/g, '').toUpperCase()}`, topic: `plug_${m.id.replace(/-/g, '_')}` }, own: 'login' };
      if (format === 'shelly-gen2') return { id, kind: 'power-meter', format, equipment: m.id, mqtt: { clientId: `shellyplusplugs-${m.id}`, topic: `shellyplusplugs-${m.id}` } };
      return { id, kind: 'power-meter', equipment: m.id };
    }),
    // Hot desks: Aqara PIR sensors on one Zigbee2MQTT bridge. Fixed desks: OpenFacility's own sensors.
    { id: EXAMPLE_Z2M_BRIDGE, kind: 'zigbee-bridge', format: 'zigbee2mqtt', space: 'cowork', mqtt: { topic: 'zigbee2mqtt' } },
    ...desks.map((d): DeviceShape =>
      d.kind === 'hot'
        ? { id: `occ-${d.id}`, kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: d.id, bridge: EXAMPLE_Z2M_BRIDGE, mqtt: { friendlyName: `desk_${d.id}` }, model: 'aqara-rtcgq11lm', own: false }
        : { id: `occ-${d.id}`, kind: 'occupancy-sensor', desk: d.id },
    ),
    { id: 'occ-roadshow', kind: 'occupancy-sensor', format: 'zigbee2mqtt', space: 'roadshow', bridge: EXAMPLE_Z2M_BRIDGE, mqtt: { friendlyName: 'roadshow_room' }, model: 'sonoff-snzb-03', own: false },
  ];
}

/** The example's device ids, in file order (for provisioning lists and tests). */
export function exampleDeviceIds(): string[] {
  return deviceShapes(desksFor(36), equipmentFor(BASE_EQUIPMENT.length)).map((d) => d.id);
}

/** The example maker space as a site file object (validate it with validateSite). */
export function exampleSiteFile(opts: ExampleSiteOptions): SiteFile {
  const clone = <T>(items: readonly T[]): T[] => structuredClone(items as T[]);
  const hot = opts.hotDesks ?? 36;
  const desks = desksFor(hot);
  const equipment = equipmentFor(opts.machines ?? BASE_EQUIPMENT.length);
  const spaces = clone(SPACES).map((sp) => (sp.id === 'cowork' ? { ...sp, capacity: Math.max(sp.capacity ?? 0, Math.ceil(hot * 2.2)) } : sp));
  return {
    version: 1,
    site: { id: opts.siteId ?? EXAMPLE_SITE_ID, name: 'Demo Maker Space', nameZh: '示范创客空间', timezone: 'Asia/Shanghai' },
    spaces,
    desks,
    doors: clone(DOORS),
    equipment,
    devices: deviceShapes(desks, equipment).map(({ own, ...d }): DeviceDef =>
      own === false ? d : own === 'login' ? { ...d, credentials: { login: EXAMPLE_TASMOTA_LOGIN } } : { ...d, credentials: opts.credentialsFor(d.id) },
    ),
    logins: [{ id: EXAMPLE_TASMOTA_LOGIN, username: 'tasmota', credentials: opts.credentialsFor(`login:${EXAMPLE_TASMOTA_LOGIN}`) } satisfies LoginDef],
  };
}

/** The header `facility init` writes: what the file is and where its format is described. */
export const SITE_FILE_HEADER = [
  ' OpenFacility site file: the spaces, desks, doors, machines and devices of one site.',
  ' OpenFacility 场地文件：描述一个场地的空间、工位、门、设备和传感器。',
  '',
  ' Format and every field: docs/site-file.md    格式与字段说明：docs/site-file.md',
  ' Check it after editing:  facility site check <file>    修改后请检查。',
  ' Device secrets are NOT in this file, only their hashes; the secrets file is private.',
  ' 本文件只包含设备密钥的哈希；密钥文件请妥善保管，不要公开。',
].join('\n');

const SECTION_COMMENTS: Readonly<Record<string, string>> = {
  site: ' The site as a whole. 场地',
  spaces: ' Spaces: open-space (co-working), lab (machines, badge access), room (meetings). 空间',
  desks: ' Desks: hot (anyone may book) or fixed (assigned to a team). 工位',
  doors: ' Doors: each leads into one space. 门禁',
  equipment: ' Machines: each stands in a lab. 设备',
  devices: ' Devices: each attaches to exactly one desk, door, machine or space; format says how it talks (docs/devices.md). 终端设备',
  logins: ' Shared MQTT logins, for devices that cannot each have their own. 共享登录',
};

/**
 * Readable YAML: `header` as the opening comment (each line becomes a `#`
 * line), a bilingual comment above each section, positions as `{ x, y }` and
 * no line folding (hashes stay on one line).
 */
export function siteToYaml(file: SiteFile, header: string): string {
  const doc = new Document(file);
  doc.commentBefore = header;
  const root = doc.contents;
  if (isMap(root)) {
    for (const pair of root.items) {
      const key = pair.key as Node & { value?: unknown };
      const comment = SECTION_COMMENTS[String(key.value)];
      if (comment !== undefined) {
        key.commentBefore = comment;
        key.spaceBefore = true;
      }
      // A desk's position reads better on one line.
      if (isSeq(pair.value)) {
        for (const item of pair.value.items) {
          if (!isMap(item)) continue;
          const position = item.get('position', true);
          if (isMap(position)) position.flow = true;
        }
      }
    }
  }
  return doc.toString({ lineWidth: 0 });
}
