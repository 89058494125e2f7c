/**
 * Energy from raw meter counters. Plugs report a cumulative counter (Tasmota
 * `ENERGY.Total` in kWh, Shelly `aenergy.total` in Wh) that the gateway stores
 * as it arrives (PowerSignal.energyKwh). Some firmware loses that counter on a
 * power cut or reboot and starts again from 0 (Tasmota on some builds, older
 * Shelly firmware), so the energy between two readings is not simply their
 * difference. Pure: the sessioniser feeds it consecutive readings of one meter.
 */

/**
 * Energy consumed between two consecutive readings `prev` and `next` of one
 * meter's cumulative counter, in the counter's unit (kWh).
 *
 * A counter that went down started a new meter cycle (it was reset to 0 and
 * has counted `next` since), so the energy is `next`, never a negative value.
 * What the meter used between the last reading before the reset and the reset
 * itself is lost; no reading can tell us, and guessing would bill someone.
 *
 * Throws a RangeError for a value that is not a finite number ≥ 0: a decoder
 * never produces one, so it is a caller bug to fix, not data to skip.
 */
export function energyDeltaKwh(prev: number, next: number): number {
  if (!Number.isFinite(prev) || prev < 0) throw new RangeError(`energyDeltaKwh: previous counter ${prev} is not a finite number ≥ 0`);
  if (!Number.isFinite(next) || next < 0) throw new RangeError(`energyDeltaKwh: next counter ${next} is not a finite number ≥ 0`);
  return next < prev ? next : next - prev;
}
