/**
 * A floor plan laid out from the site file alone, for the live floor plan
 * page (server/routes/floorplan.ts). Site files carry no room geometry, so
 * the plan is schematic: each space is a room, sized to hold its desks and
 * machines in a grid, and the rooms are packed left to right in rows of a
 * fixed width, in the order the site file lists them. Doors sit on the bottom
 * wall of the space they lead into.
 *
 * Deterministic: the same site gives the same plan, whatever the order of
 * Map iteration elsewhere (only the site file's own order is used). Desks
 * with a `position` are ordered by it (rows of y, then x), so the grid reads
 * roughly like the floor; desks without one follow, in file order.
 *
 * Units are abstract (an SVG viewBox): nothing here is in metres.
 */
import type { SiteFile } from './model.js';

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface PlacedSpace extends Rect {
  readonly id: string;
  /** Where the room's title and counts go: the band along its top. */
  readonly header: Rect;
}
export interface PlacedItem extends Rect {
  readonly id: string;
  readonly space: string;
}

export interface FloorLayout {
  readonly width: number;
  readonly height: number;
  readonly spaces: readonly PlacedSpace[];
  readonly desks: readonly PlacedItem[];
  readonly machines: readonly PlacedItem[];
  readonly doors: readonly PlacedItem[];
}

/** What the layout reads: the site file's spaces, desks, doors and equipment (ids, spaces, desk positions). */
export type LayoutInput = Pick<SiteFile, 'spaces' | 'desks' | 'doors' | 'equipment'>;

export const LAYOUT = Object.freeze({
  /** Rows of rooms are at most this wide (a room wider than it gets a row of its own). */
  rowWidth: 1200,
  /** Space between rooms, and around the plan. */
  gap: 24,
  /** Inside a room, between its walls and its grid. */
  pad: 12,
  header: 44,
  /** One grid cell holds one desk or machine. */
  cellW: 64,
  cellH: 52,
  desk: { w: 48, h: 32 },
  machine: { w: 54, h: 40 },
  door: { w: 28, h: 8, gap: 12 },
  minRoomW: 220,
  /** A room's grid is at most this many cells wide. */
  maxCols: 12,
});

export function layoutFloor(site: LayoutInput): FloorLayout {
  const L = LAYOUT;
  const desksBySpace = groupBy(orderDesks(site.desks ?? []), (d) => d.space);
  const machinesBySpace = groupBy(site.equipment ?? [], (e) => e.space);
  const doorsBySpace = groupBy(site.doors ?? [], (d) => d.space);

  // Each room's size from what it holds, before it is placed.
  const rooms = site.spaces.map((s) => {
    const desks = desksBySpace.get(s.id) ?? [];
    const machines = machinesBySpace.get(s.id) ?? [];
    const doors = doorsBySpace.get(s.id) ?? [];
    const n = desks.length + machines.length;
    // A grid a little wider than tall; machines start on a row of their own, below the desks.
    const cols = Math.max(1, Math.min(L.maxCols, Math.ceil(Math.sqrt(Math.max(n, 1) * 1.6))));
    const deskRows = Math.ceil(desks.length / cols);
    const machineRows = Math.ceil(machines.length / cols);
    const rows = Math.max(1, deskRows + machineRows);
    const doorsW = doors.length * (L.door.w + L.door.gap) + L.door.gap;
    const w = Math.max(L.minRoomW, cols * L.cellW + 2 * L.pad, doorsW + 2 * L.pad);
    const h = L.header + rows * L.cellH + 2 * L.pad;
    return { space: s.id, desks, machines, doors, cols, deskRows, w, h };
  });

  // Shelf packing: left to right, a new row when the next room would not fit.
  const spaces: PlacedSpace[] = [];
  const desks: PlacedItem[] = [];
  const machines: PlacedItem[] = [];
  const doors: PlacedItem[] = [];
  let x = L.gap;
  let y = L.gap;
  let rowH = 0;
  let width = 0;
  for (const r of rooms) {
    if (x > L.gap && x + r.w > L.rowWidth) {
      x = L.gap;
      y += rowH + L.gap;
      rowH = 0;
    }
    spaces.push({ id: r.space, x, y, w: r.w, h: r.h, header: { x, y, w: r.w, h: L.header } });
    const gridX = x + L.pad;
    const gridY = y + L.header + L.pad;
    const cell = (i: number, rowOffset: number, size: { w: number; h: number }): Rect => ({
      x: gridX + (i % r.cols) * L.cellW + (L.cellW - size.w) / 2,
      y: gridY + (rowOffset + Math.floor(i / r.cols)) * L.cellH + (L.cellH - size.h) / 2,
      w: size.w,
      h: size.h,
    });
    r.desks.forEach((d, i) => desks.push({ id: d.id, space: r.space, ...cell(i, 0, L.desk) }));
    r.machines.forEach((m, i) => machines.push({ id: m.id, space: r.space, ...cell(i, r.deskRows, L.machine) }));
    // Doors straddle the bottom wall, spread evenly along it.
    const step = r.w / (r.doors.length + 1);
    r.doors.forEach((d, i) => doors.push({ id: d.id, space: r.space, x: x + step * (i + 1) - L.door.w / 2, y: y + r.h - L.door.h / 2, w: L.door.w, h: L.door.h }));
    x += r.w + L.gap;
    rowH = Math.max(rowH, r.h);
    width = Math.max(width, x);
  }
  // Doors reach half their height below the lowest wall.
  return { width, height: y + rowH + L.gap, spaces, desks, machines, doors };
}

/** Desks with a position first, by row (y) then x; the rest after them in file order. */
function orderDesks<D extends { readonly id: string; readonly position?: { readonly x: number; readonly y: number } | undefined }>(desks: readonly D[]): D[] {
  const indexed = desks.map((d, i) => ({ d, i }));
  indexed.sort((a, b) => {
    const pa = a.d.position;
    const pb = b.d.position;
    if (pa && pb) return pa.y - pb.y || pa.x - pb.x || a.i - b.i;
    if (pa) return -1;
    if (pb) return 1;
    return a.i - b.i;
  });
  return indexed.map((x) => x.d);
}

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
}
