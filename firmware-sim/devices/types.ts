/**
 * What the fleet needs of a simulated device, whatever wire format it speaks:
 * one implementation per device family (this directory), each speaking that
 * family's real format, so every test and demo exercises the real decoders.
 */
import type { CredentialFormat } from '../../core/signals.js';
import type { DeviceInfo, Site } from '../../core/site/model.js';
import type { DeviceCounters, HealthReading, MqttConnect, PowerReading, SimLogger } from './canonical.js';

export interface SimDevice {
  readonly id: string;
  /** Boot counter (formats without one ignore it). */
  readonly boot: number;
  readonly connected: boolean;
  /** Messages sent and not yet acknowledged (0 for transports without acknowledgements). */
  readonly inFlight: number;
  /** Connects (or opens its port); resolves when the device is up and has announced itself. */
  start(opts?: { boot?: number }): Promise<void>;
  /** Goes away gracefully (announcing it where the format does). Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
  /** Drops off abruptly: socket destroyed (the will fires) or port closed. */
  drop(): void;
  /** Each resolves when the reading is delivered (PUBACK, or written to the port). */
  badge(format: CredentialFormat, card: string, ts?: number): Promise<void>;
  occupancy(occupied: boolean, ts?: number): Promise<void>;
  power(reading: PowerReading, ts?: number): Promise<void>;
  health(reading: HealthReading, ts?: number): Promise<void>;
  stats(): DeviceCounters;
}

export interface SimDeviceOptions {
  readonly site: Site;
  readonly device: DeviceInfo;
  /** The device's MQTT password: its own secret or its shared login's; undefined for serial and bridged devices. */
  readonly secret: string | undefined;
  readonly brokerUrl: string;
  readonly boot: number;
  readonly clock: () => number;
  readonly logger: SimLogger;
  readonly connect?: MqttConnect;
  readonly connectTimeoutMs?: number;
  readonly energyKwh?: number;
  /** Directory that relative serial paths in the site file are relative to (the site file's). */
  readonly siteDir: string;
  /**
   * Scratch space shared by the devices of one fleet, e.g. the one MQTT connection of a
   * Zigbee2MQTT bridge that all its sensors publish through. Keyed by the implementation.
   */
  readonly shared: Map<string, unknown>;
  /** Secret of another device by id (a bridged sensor's bridge). */
  readonly secretOf: (deviceId: string) => string | undefined;
}

export type SimDeviceFactory = (opts: SimDeviceOptions) => SimDevice;
