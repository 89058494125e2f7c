/**
 * The floor plan's automatic layout (core/site/layout.ts): every space, desk,
 * machine and door placed exactly once, items inside their own room below its
 * header, nothing overlapping, rooms within the plan, and the same plan for
 * the same site file every time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exampleSiteFile } from '../../core/site/example.js';
import { LAYOUT, layoutFloor, type FloorLayout, type LayoutInput, type Rect } from '../../core/site/layout.js';

const overlaps = (a: Rect, b: Rect): boolean => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const inside = (inner: Rect, outer: Rect): boolean => inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.w <= outer.x + outer.w && inner.y + inner.h <= outer.y + outer.h;

/** Every property the plan must have; the problems found, empty when none. */
function problems(site: LayoutInput, plan: FloorLayout): string[] {
  const out: string[] = [];
  const ids = (xs: readonly { id: string }[]) => xs.map((x) => x.id);
  if (JSON.stringify(ids(plan.spaces)) !== JSON.stringify(ids(site.spaces))) out.push('spaces not placed once each, in file order');
  const want = (xs: readonly { id: string }[] | undefined) => ids(xs ?? []).sort();
  if (JSON.stringify(ids(plan.desks).sort()) !== JSON.stringify(want(site.desks))) out.push('desks not placed once each');
  if (JSON.stringify(ids(plan.machines).sort()) !== JSON.stringify(want(site.equipment))) out.push('machines not placed once each');
  if (JSON.stringify(ids(plan.doors).sort()) !== JSON.stringify(want(site.doors))) out.push('doors not placed once each');
  const room = new Map(plan.spaces.map((s) => [s.id, s]));
  const items = [...plan.desks.map((d) => ({ ...d, what: 'desk' })), ...plan.machines.map((m) => ({ ...m, what: 'machine' }))];
  for (const it of items) {
    const r = room.get(it.space)!;
    const body = { x: r.x, y: r.y + r.header.h, w: r.w, h: r.h - r.header.h };
    if (!inside(it, body)) out.push(`${it.what} ${it.id} is not inside the body of room ${it.space}`);
  }
  for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) if (overlaps(items[i]!, items[j]!)) out.push(`${items[i]!.id} overlaps ${items[j]!.id}`);
  // A room with its doors (which straddle its bottom wall) touches no other room or door.
  const extent = (id: string): Rect[] => [room.get(id)!, ...plan.doors.filter((d) => d.space === id)];
  for (let i = 0; i < plan.spaces.length; i++) {
    for (let j = i + 1; j < plan.spaces.length; j++) {
      const a = plan.spaces[i]!.id;
      const b = plan.spaces[j]!.id;
      if (extent(a).some((x) => extent(b).some((y) => overlaps(x, y)))) out.push(`room ${a} overlaps room ${b}`);
    }
  }
  const all: Rect[] = [...plan.spaces, ...plan.doors];
  for (const r of all) if (r.x < 0 || r.y < 0 || r.x + r.w > plan.width || r.y + r.h > plan.height) out.push('something lies outside the plan');
  for (const d of plan.doors) {
    const r = room.get(d.space)!;
    if (!(d.y < r.y + r.h && d.y + d.h > r.y + r.h && d.x >= r.x && d.x + d.w <= r.x + r.w)) out.push(`door ${d.id} is not on the bottom wall of ${d.space}`);
  }
  for (let i = 0; i < plan.doors.length; i++) for (let j = i + 1; j < plan.doors.length; j++) if (overlaps(plan.doors[i]!, plan.doors[j]!)) out.push(`door ${plan.doors[i]!.id} overlaps ${plan.doors[j]!.id}`);
  return out;
}

const example = exampleSiteFile({ credentialsFor: () => ({ secret: 'env:X' }) });

describe('layoutFloor', () => {
  it('places every element of the example site, inside its room, with no overlaps', () => {
    const plan = layoutFloor(example);
    expect(problems(example, plan)).toEqual([]);
    expect(plan.spaces).toHaveLength(example.spaces.length);
    expect(plan.width).toBeLessThanOrEqual(LAYOUT.rowWidth + LAYOUT.gap);
  });

  it('is deterministic: the same site file gives the same plan', () => {
    expect(layoutFloor(structuredClone(example))).toEqual(layoutFloor(example));
  });

  it('orders desks with a position by row, then x, before desks without one', () => {
    const site: LayoutInput = {
      spaces: [{ id: 'a', name: 'A', kind: 'open-space' }],
      desks: [
        { id: 'free', space: 'a' },
        { id: 'back-right', space: 'a', position: { x: 5, y: 3 } },
        { id: 'front', space: 'a', position: { x: 9, y: 1 } },
        { id: 'back-left', space: 'a', position: { x: 1, y: 3 } },
      ],
    };
    const plan = layoutFloor(site);
    const order = [...plan.desks].sort((p, q) => p.y - q.y || p.x - q.x).map((d) => d.id);
    expect(order).toEqual(['front', 'back-left', 'back-right', 'free']);
  });

  it('gives an empty space a room of its own, and wraps rooms into rows', () => {
    const site: LayoutInput = { spaces: Array.from({ length: 9 }, (_, i) => ({ id: `s${i}`, name: `S${i}`, kind: 'room' as const })) };
    const plan = layoutFloor(site);
    expect(problems(site, plan)).toEqual([]);
    expect(new Set(plan.spaces.map((s) => s.y)).size).toBeGreaterThan(1);
    expect(plan.spaces.every((s) => s.w >= LAYOUT.minRoomW)).toBe(true);
  });

  it('holds for any site: every element placed once, inside its room, nothing overlapping', () => {
    const siteArb = fc
      .record({
        spaces: fc.integer({ min: 1, max: 12 }),
        desks: fc.array(fc.tuple(fc.nat(), fc.option(fc.record({ x: fc.integer({ min: -50, max: 50 }), y: fc.integer({ min: -50, max: 50 }) }), { nil: undefined })), { maxLength: 120 }),
        machines: fc.array(fc.nat(), { maxLength: 40 }),
        doors: fc.array(fc.nat(), { maxLength: 30 }),
      })
      .map(({ spaces, desks, machines, doors }): LayoutInput => ({
        spaces: Array.from({ length: spaces }, (_, i) => ({ id: `s${i}`, name: `S${i}`, kind: 'lab' as const })),
        desks: desks.map(([s, position], i) => ({ id: `d${i}`, space: `s${s % spaces}`, ...(position && { position }) })),
        equipment: machines.map((s, i) => ({ id: `m${i}`, space: `s${s % spaces}`, name: `M${i}`, class: 'cnc' })),
        doors: doors.map((s, i) => ({ id: `door${i}`, space: `s${s % spaces}` })),
      }));
    fc.assert(
      fc.property(siteArb, (site) => {
        const plan = layoutFloor(site);
        expect(problems(site, plan)).toEqual([]);
        expect(layoutFloor(site)).toEqual(plan);
      }),
      { numRuns: 150, seed: 20261125 },
    );
  });
});
