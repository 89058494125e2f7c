/**
 * firmware-sim: simulated devices of a site, speaking the real wire formats
 * over MQTT. Entry point for the CLI (`facility sim`, and `facility start`
 * with the simulator on); imports nothing from gateway/ or server/.
 */
import type { Site } from '../core/site/model.js';
import type { MqttConnect, SimLogger } from './devices/canonical.js';
import { Fleet, type FleetStats, type OverloadPolicy } from './fleet.js';
import type { SimEvent } from './scenario/workday.js';

export { CanonicalDevice, SimDeviceError, connectNoDelay, silentLogger } from './devices/canonical.js';
export type { CanonicalDeviceOptions, DeviceCounters, MqttConnect, SimDeviceErrorCode, SimLogger } from './devices/canonical.js';
export { Fleet } from './fleet.js';
export type { FleetOptions, FleetStats, OverloadPolicy } from './fleet.js';
export { workday, workdayMembers } from './scenario/workday.js';
export type { Member, SimEvent, SimEventKind, WorkdayOptions } from './scenario/workday.js';

export interface RunSimOptions {
  readonly site: Site;
  /** Device id → secret, as in the device-secrets file's `devices` map. */
  readonly secrets: Readonly<Record<string, string>>;
  /** Shared login id → password, as in the device-secrets file's `logins` map. */
  readonly logins?: Readonly<Record<string, string>>;
  /** Directory relative serial paths in the site file are relative to. */
  readonly siteDir?: string;
  /** e.g. mqtt://127.0.0.1:1883 */
  readonly brokerUrl: string;
  /** Simulated time per wall time (default 1; Infinity = as fast as the broker acknowledges). */
  readonly speed?: number;
  /** Scenario seed (default 1). */
  readonly seed?: number;
  /** First simulated instant, epoch ms (default: see FleetOptions.start). */
  readonly start?: number;
  /** Simulated days (default Infinity). */
  readonly days?: number;
  /** Member population (default 120). */
  readonly members?: number;
  /** Multiplies machine jobs, meetings and visitors (default 1). */
  readonly intensity?: number;
  /** Offline episodes per device per day (default 0.03). */
  readonly offlineRate?: number;
  readonly overload?: OverloadPolicy;
  readonly events?: Iterable<SimEvent>;
  readonly logger?: SimLogger;
  readonly connect?: MqttConnect;
}

export interface SimHandle {
  /** Resolves when the scenario is played out (finite days) or the simulator is stopped. */
  readonly done: Promise<void>;
  stats(): FleetStats;
  /** Disconnects every device gracefully (retained offline status). Idempotent. */
  stop(): Promise<void>;
}

/** Connects the site's devices and starts playing; rejects if no device can connect. */
export async function runSim(opts: RunSimOptions): Promise<SimHandle> {
  const fleet = new Fleet({
    site: opts.site,
    secrets: opts.secrets,
    ...(opts.logins !== undefined && { logins: opts.logins }),
    ...(opts.siteDir !== undefined && { siteDir: opts.siteDir }),
    brokerUrl: opts.brokerUrl,
    ...(opts.speed !== undefined && { speed: opts.speed }),
    ...(opts.seed !== undefined && { seed: opts.seed }),
    ...(opts.start !== undefined && { start: opts.start }),
    ...(opts.days !== undefined && { days: opts.days }),
    ...(opts.overload !== undefined && { overload: opts.overload }),
    ...(opts.events !== undefined && { events: opts.events }),
    ...(opts.logger !== undefined && { logger: opts.logger }),
    ...(opts.connect !== undefined && { connect: opts.connect }),
    scenario: {
      ...(opts.members !== undefined && { members: opts.members }),
      ...(opts.intensity !== undefined && { intensity: opts.intensity }),
      ...(opts.offlineRate !== undefined && { offlineRate: opts.offlineRate }),
    },
  });
  try {
    await fleet.start();
  } catch (err) {
    await fleet.stop();
    throw err;
  }
  return { done: fleet.done, stats: () => fleet.stats(), stop: () => fleet.stop() };
}
