/**
 * Defaults by device model, for what real devices get wrong. A device's own
 * occupancyTimeoutS / silentAfterS in the site file override these.
 *
 * - PIR sensors of some makers never report "free": Xiaomi/Aqara sensors only
 *   send occupancy:true (with a hardware cooldown of about a minute), and
 *   Zigbee2MQTT itself clears them after its occupancy_timeout, 90 s by default
 *   (zigbee2mqtt.io device pages, "occupancy_timeout"). When the bridge is not
 *   set up to do that, the gateway does it.
 * - Battery sensors report at least hourly (a heartbeat with battery and link
 *   quality); silence beyond two of those means the state is unknown.
 */
export interface ModelDefaults {
  readonly occupancyTimeoutS?: number;
  readonly silentAfterS?: number;
}

export const MODEL_DEFAULTS: Readonly<Record<string, ModelDefaults>> = Object.freeze({
  'aqara-rtcgq11lm': { occupancyTimeoutS: 90, silentAfterS: 2 * 3600 },
  'aqara-rtcgq14lm': { occupancyTimeoutS: 90, silentAfterS: 2 * 3600 },
  'xiaomi-rtcgq01lm': { occupancyTimeoutS: 90, silentAfterS: 2 * 3600 },
  'imou-zp1': { occupancyTimeoutS: 90, silentAfterS: 2 * 3600 },
  // Reports "free" itself after its own motion timeout (5–60 s).
  'sonoff-snzb-03': { silentAfterS: 2 * 3600 },
  // A generic PIR with a three-minute cooldown that never reports free.
  'generic-pir-3min': { occupancyTimeoutS: 180, silentAfterS: 2 * 3600 },
});

/** Silence after which a device of a format counts as offline, when its model does not say. */
export const SILENT_AFTER_S_BY_FORMAT: Readonly<Record<string, number>> = Object.freeze({
  canonical: 3600,
  zigbee2mqtt: 2 * 3600,
  // Tasmota sends telemetry every TelePeriod (300 s by default); Shelly status on change and every minute or so.
  tasmota: 900,
  'shelly-gen2': 900,
});
