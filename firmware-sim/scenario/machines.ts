/**
 * Power profiles of shop machines, as a power meter on their supply sees them.
 * A job is an endless sequence of phases (level + relative noise); the meter
 * stream walks it while sampling. Figures are typical for small maker-space
 * machines: a 60–100 W CO2 laser (600–1500 W at the wall with chiller and
 * exhaust), a hobby FDM printer (200–300 W heating the bed, then the bed
 * thermostat cycling), a desktop/benchtop CNC router (1–3 kW spindle peaks),
 * a resin printer (UV panel and heater, tens of watts), a bench lathe, a small
 * reflow oven (heaters at full power through preheat and reflow), a soldering
 * station.
 */
import type { Rng } from './rng.js';

export const PROFILE_NAMES = ['laser', 'fdm-printer', 'resin-printer', 'cnc', 'lathe', 'reflow-oven', 'soldering', 'generic', 'building'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface Phase {
  readonly durationMs: number;
  readonly levelW: number;
  /** Relative standard deviation of samples within the phase. */
  readonly noise: number;
}

export interface MachineProfile {
  readonly name: ProfileName;
  /** Power when switched on but not running a job, W. */
  readonly idleW: readonly [number, number];
  /** Relay stays on all the time (building loads) instead of around jobs. */
  readonly alwaysOn: boolean;
  /** How long after a job the machine stays powered, minutes. */
  readonly cooldownMin: readonly [number, number];
  /** Relative weight when a member picks a machine. */
  readonly popularity: number;
  jobMinutes(rng: Rng): number;
  /** How long the member stays at the machine once the job starts, minutes. */
  attendMinutes(jobMinutes: number, rng: Rng): number;
  phases(rng: Rng): Generator<Phase, never, undefined>;
}

const S = 1000;

function* laserPhases(rng: Rng): Generator<Phase, never, undefined> {
  const tube = rng.range(600, 1500);
  // Loading material, focusing, framing: fans and chiller on, tube off.
  yield { durationMs: rng.range(60, 180) * S, levelW: rng.range(90, 180), noise: 0.05 };
  for (;;) {
    yield { durationMs: rng.range(20, 180) * S, levelW: tube * rng.range(0.85, 1.05), noise: 0.04 };
    yield { durationMs: rng.range(5, 40) * S, levelW: rng.range(80, 200), noise: 0.05 };
  }
}

function* printerPhases(rng: Rng): Generator<Phase, never, undefined> {
  // Bed and hot end heating at full power.
  yield { durationMs: rng.range(180, 420) * S, levelW: rng.range(200, 320), noise: 0.03 };
  const bedOn = rng.range(100, 125);
  const bedOff = rng.range(55, 75);
  for (;;) {
    yield { durationMs: rng.range(20, 60) * S, levelW: bedOn, noise: 0.05 };
    yield { durationMs: rng.range(15, 45) * S, levelW: bedOff, noise: 0.05 };
  }
}

function* cncPhases(rng: Rng): Generator<Phase, never, undefined> {
  const base = rng.range(250, 500);
  // Spindle spin-up and homing.
  yield { durationMs: rng.range(30, 90) * S, levelW: base * 1.2, noise: 0.06 };
  for (;;) {
    yield { durationMs: rng.range(30, 180) * S, levelW: base, noise: 0.08 };
    yield { durationMs: rng.range(10, 90) * S, levelW: rng.range(1000, 3000), noise: 0.1 };
  }
}

function* resinPhases(rng: Rng): Generator<Phase, never, undefined> {
  // Vat heater first, then layer after layer: UV exposure, peel and lift.
  yield { durationMs: rng.range(120, 300) * S, levelW: rng.range(60, 90), noise: 0.04 };
  const uv = rng.range(35, 60);
  for (;;) {
    yield { durationMs: rng.range(20, 40) * S, levelW: uv, noise: 0.05 };
    yield { durationMs: rng.range(10, 30) * S, levelW: uv * 0.5, noise: 0.05 };
  }
}

function* lathePhases(rng: Rng): Generator<Phase, never, undefined> {
  const motor = rng.range(300, 1500);
  for (;;) {
    yield { durationMs: rng.range(20, 240) * S, levelW: motor * rng.range(0.7, 1.1), noise: 0.08 };
    // Measuring, changing tools: spindle stopped.
    yield { durationMs: rng.range(20, 180) * S, levelW: rng.range(20, 40), noise: 0.05 };
  }
}

function* reflowPhases(rng: Rng): Generator<Phase, never, undefined> {
  const heaters = rng.range(1200, 2000);
  for (;;) {
    // One board: ramp and soak near full power, reflow peak, then cooling with the fan only.
    yield { durationMs: rng.range(90, 150) * S, levelW: heaters * 0.95, noise: 0.02 };
    yield { durationMs: rng.range(60, 120) * S, levelW: heaters * 0.5, noise: 0.1 };
    yield { durationMs: rng.range(40, 80) * S, levelW: heaters, noise: 0.02 };
    yield { durationMs: rng.range(120, 300) * S, levelW: rng.range(25, 50), noise: 0.05 };
  }
}

function* solderingPhases(rng: Rng): Generator<Phase, never, undefined> {
  // Heat-up, then the tip's thermostat topping up as joints draw heat.
  yield { durationMs: rng.range(20, 60) * S, levelW: rng.range(70, 90), noise: 0.03 };
  for (;;) yield { durationMs: rng.range(10, 60) * S, levelW: rng.range(12, 60), noise: 0.15 };
}

function* genericPhases(rng: Rng): Generator<Phase, never, undefined> {
  for (;;) yield { durationMs: rng.range(60, 600) * S, levelW: rng.range(200, 800), noise: 0.1 };
}

function* buildingPhases(rng: Rng): Generator<Phase, never, undefined> {
  // Lighting, HVAC fan coils and IT of a floor during opening hours.
  for (;;) yield { durationMs: rng.range(5, 30) * 60 * S, levelW: rng.range(400, 1800), noise: 0.03 };
}

const PROFILES: Readonly<Record<ProfileName, MachineProfile>> = Object.freeze({
  laser: {
    name: 'laser',
    idleW: [30, 60],
    alwaysOn: false,
    cooldownMin: [10, 60],
    popularity: 3,
    jobMinutes: (rng) => rng.logRange(5, 45),
    attendMinutes: (job) => job,
    phases: laserPhases,
  },
  'fdm-printer': {
    name: 'fdm-printer',
    idleW: [4, 9],
    alwaysOn: false,
    cooldownMin: [5, 30],
    popularity: 4,
    jobMinutes: (rng) => rng.logRange(40, 600),
    attendMinutes: (job, rng) => Math.min(job, rng.range(5, 15)),
    phases: printerPhases,
  },
  'resin-printer': {
    name: 'resin-printer',
    idleW: [8, 15],
    alwaysOn: false,
    cooldownMin: [10, 60],
    popularity: 1.5,
    jobMinutes: (rng) => rng.logRange(45, 420),
    attendMinutes: (job, rng) => Math.min(job, rng.range(5, 15)),
    phases: resinPhases,
  },
  lathe: {
    name: 'lathe',
    idleW: [15, 35],
    alwaysOn: false,
    cooldownMin: [2, 15],
    popularity: 1,
    jobMinutes: (rng) => rng.range(15, 90),
    attendMinutes: (job) => job,
    phases: lathePhases,
  },
  'reflow-oven': {
    name: 'reflow-oven',
    idleW: [8, 20],
    alwaysOn: false,
    cooldownMin: [5, 20],
    popularity: 1,
    jobMinutes: (rng) => rng.range(10, 60),
    attendMinutes: (job) => job,
    phases: reflowPhases,
  },
  soldering: {
    name: 'soldering',
    idleW: [3, 8],
    alwaysOn: false,
    cooldownMin: [5, 45],
    popularity: 2,
    jobMinutes: (rng) => rng.range(20, 150),
    attendMinutes: (job) => job,
    phases: solderingPhases,
  },
  cnc: {
    name: 'cnc',
    idleW: [40, 90],
    alwaysOn: false,
    cooldownMin: [5, 30],
    popularity: 1.5,
    jobMinutes: (rng) => rng.range(20, 120),
    attendMinutes: (job) => job,
    phases: cncPhases,
  },
  generic: {
    name: 'generic',
    idleW: [10, 30],
    alwaysOn: false,
    cooldownMin: [5, 30],
    popularity: 1,
    jobMinutes: (rng) => rng.logRange(10, 90),
    attendMinutes: (job) => job,
    phases: genericPhases,
  },
  building: {
    name: 'building',
    idleW: [80, 150],
    alwaysOn: true,
    cooldownMin: [0, 0],
    popularity: 0,
    jobMinutes: () => 0,
    attendMinutes: () => 0,
    phases: buildingPhases,
  },
});

/** Machine class (site file) → profile. Unknown classes get a generic load. */
export function profileForClass(machineClass: string): MachineProfile {
  const c = machineClass.toLowerCase();
  if (c.includes('laser')) return PROFILES.laser;
  if (c.includes('resin') || c.includes('sla')) return PROFILES['resin-printer'];
  if (c.includes('print') || c.includes('fdm')) return PROFILES['fdm-printer'];
  if (c.includes('cnc') || c.includes('mill') || c.includes('router')) return PROFILES.cnc;
  if (c.includes('lathe')) return PROFILES.lathe;
  if (c.includes('reflow') || c.includes('oven')) return PROFILES['reflow-oven'];
  if (c.includes('solder')) return PROFILES.soldering;
  return PROFILES.generic;
}

export function profile(name: ProfileName): MachineProfile {
  return PROFILES[name];
}

/** Nominal mains voltage for a site, from its time zone (good enough for realistic meter readings). */
export function nominalVoltage(timeZone: string): number {
  if (timeZone.startsWith('America/')) return 120;
  if (timeZone === 'Asia/Tokyo') return 100;
  if (['Asia/Shanghai', 'Asia/Chongqing', 'Asia/Harbin', 'Asia/Urumqi', 'PRC'].includes(timeZone)) return 220;
  return 230;
}
