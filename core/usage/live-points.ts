/**
 * Derived series for dashboards: once a minute the gateway samples the live
 * state (core/usage/live.ts) and writes one `space_occupancy` point per space
 * (docs/protocol.md, "InfluxDB schema").
 *
 * - Tags: site, space. Fields: counts, every one a float like every numeric
 *   field we write (InfluxDB fixes a field's type at its first write), and
 *   the space's safety capacity from the site file (`capacity`) when it has
 *   one: a space without one has no capacity field, never a 0, so "people vs
 *   capacity" is not drawn against a limit nobody set.
 * - The time is the minute the sample was taken at (ms × 10⁶, sub-ms 0), so a
 *   point written again after a failed attempt overwrites itself.
 * - A minute in which the gateway was not running has no point: the series
 *   has a gap there, which dashboards show as no data, not as an empty space.
 */
import { pointTimeNs, type PointSpec } from '../points.js';
import type { LiveState } from './live.js';

export const OCCUPANCY_MEASUREMENT = 'space_occupancy';
export const MINUTE_MS = 60_000;

/** One point per space for the sample taken at `minute` (a multiple of a minute, ms). */
export function occupancyPoints(state: LiveState, minute: number): PointSpec[] {
  const out: PointSpec[] = [];
  for (const [space, s] of Object.entries(state.spaces)) {
    out.push({
      measurement: OCCUPANCY_MEASUREMENT,
      // Key order, as the line-protocol encoder expects.
      tags: { site: state.site, space },
      fields: {
        ...(s.capacity !== null && { capacity: s.capacity }),
        desks: s.desks,
        desks_occupied: s.desksOccupied,
        desks_unknown: s.desksUnknown,
        machines: s.machines,
        machines_in_use: s.machinesInUse,
        machines_running: s.machinesRunning,
        people: s.people,
      },
      timeNs: pointTimeNs(minute, 0),
    });
  }
  return out;
}
