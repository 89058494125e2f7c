/**
 * What each device of a site does in a simulated day, derived from the site
 * model alone: which desk or space a sensor watches, which readers are
 * entrances, lab doors or machine readers, which meters sit on a machine.
 */
import type { DeviceInfo, Site } from '../../core/site/model.js';
import { KINDS_BY_DEVICE, type SignalKind } from '../../core/signals.js';

export interface Roles {
  /** Occupancy sensors per desk. */
  readonly deskSensors: ReadonlyMap<string, readonly string[]>;
  /** Occupancy sensors per space (room, lab or open-space sensors). */
  readonly spaceSensors: ReadonlyMap<string, readonly string[]>;
  /** Readers members swipe when entering the site (and leaving it, where there is no exit reader). */
  readonly entranceReaders: readonly string[];
  /** Readers at the site's doors that let people out (direction out). */
  readonly exitReaders: readonly string[];
  /** Readers on doors into labs, per lab space. */
  readonly labDoorReaders: ReadonlyMap<string, readonly string[]>;
  /** Readers (interlocks) per machine. */
  readonly machineReaders: ReadonlyMap<string, readonly string[]>;
  /** Power meters per machine. */
  readonly machineMeters: ReadonlyMap<string, readonly string[]>;
  /** Power meters on no machine: a floor's or a room's supply. */
  readonly buildingMeters: readonly string[];
  /** Machines members can run: those with a reader or a meter. */
  readonly machines: readonly string[];
}

/** Signal kinds a device sends: its `measures` if given, else the default for its kind. */
export function sends(device: DeviceInfo, kind: SignalKind): boolean {
  const kinds = device.measures.length > 0 ? device.measures : KINDS_BY_DEVICE[device.kind];
  return kinds.includes(kind);
}

function add(map: Map<string, string[]>, key: string, device: string): void {
  const list = map.get(key);
  if (list) list.push(device);
  else map.set(key, [device]);
}

export function rolesOf(site: Site): Roles {
  const deskSensors = new Map<string, string[]>();
  const spaceSensors = new Map<string, string[]>();
  const entranceReaders: string[] = [];
  const exitReaders: string[] = [];
  const labDoorReaders = new Map<string, string[]>();
  const machineReaders = new Map<string, string[]>();
  const machineMeters = new Map<string, string[]>();
  const buildingMeters: string[] = [];

  for (const d of site.devices.values()) {
    switch (d.kind) {
      case 'occupancy-sensor':
        if (d.target?.type === 'desk') add(deskSensors, d.target.id, d.id);
        else if (d.target?.type === 'space') add(spaceSensors, d.target.id, d.id);
        else if (d.space !== null) add(spaceSensors, d.space, d.id);
        break;
      case 'badge-reader':
      case 'door-controller': {
        if (d.target?.type === 'equipment') {
          add(machineReaders, d.target.id, d.id);
        } else if (d.target?.type === 'door') {
          const door = site.doors.get(d.target.id);
          const space = door ? site.spaces.get(door.space) : undefined;
          if (space?.kind === 'lab') add(labDoorReaders, space.id, d.id);
          else if (d.direction === 'out') exitReaders.push(d.id);
          else entranceReaders.push(d.id);
        } else {
          entranceReaders.push(d.id);
        }
        break;
      }
      case 'zigbee-bridge':
        // A bridge has no role of its own: its sensors do.
        break;
      case 'power-meter':
        if (d.target?.type === 'equipment') add(machineMeters, d.target.id, d.id);
        else buildingMeters.push(d.id);
        break;
    }
  }
  const machines = [...site.equipment.keys()].filter((id) => machineReaders.has(id) || machineMeters.has(id));
  return { deskSensors, spaceSensors, entranceReaders, exitReaders, labDoorReaders, machineReaders, machineMeters, buildingMeters, machines };
}
