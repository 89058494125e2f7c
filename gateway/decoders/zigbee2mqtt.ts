/**
 * Zigbee2MQTT bridges and the occupancy sensors paired with them.
 *
 * A bridge is one MQTT client (its own client id, user name and password) that
 * publishes everything under its base topic (`mqtt.base_topic` in its
 * configuration.yaml, default `zigbee2mqtt`). Per zigbee2mqtt.io, "MQTT Topics
 * and Messages" and "Device-Availability":
 *
 *   <base>/<friendly_name>               device state, always a JSON object
 *   <base>/<friendly_name>/availability  retained; `online`/`offline` (1.x legacy
 *                                        payload) or {"state":"online"} (1.x with
 *                                        legacy_availability_payload: false, and 2.x)
 *   <base>/<friendly_name>/set|get|…     commands to the bridge; attribute topics
 *                                        when advanced.output is `attribute`
 *   <base>/bridge/state                  retained, also the bridge's last will;
 *                                        `online`/`offline` (1.x) or {"state":…} (2.x)
 *   <base>/bridge/…                      info, devices, groups, event, logging,
 *                                        request/response: nothing we record
 *
 * Friendly names may contain `/` (`floor1/desk_3`), so a topic is matched
 * against the longest friendly name of the site file it starts with; whatever
 * follows is a sub-topic. A Zigbee network also carries lights, plugs and
 * switches the site file does not list: their messages are acknowledged and
 * counted as ignored, never recorded, and never a reason to disconnect the
 * bridge. Anything outside the base topic is refused (and the bridge
 * disconnected), as for every other device.
 *
 * What a state message yields (docs/devices.md, "Zigbee2MQTT occupancy sensors"):
 *  - `occupancy` (JSON boolean) → an occupancy signal;
 *  - `battery` (0–100 %), `linkquality` (0–255 LQI) → a health signal;
 *    `battery_low: true` without `battery` → batteryPct BATTERY_LOW_PCT;
 *  - everything else (`voltage`, `illuminance`, `illuminance_lux`,
 *    `temperature`, `device_temperature`, `power_outage_count`, `tamper`,
 *    `device`, `elapsed`, …) is tolerated and ignored;
 *  - `last_seen` (advanced.last_seen: ISO_8601, ISO_8601_local or epoch) is the
 *    signal time when plausible, and the time part of the idempotence key.
 * Zigbee2MQTT messages carry no sequence number, so state messages get content
 * keys (contentKey in ./types.ts): the same message redelivered gets the same
 * key, exactly when it carries last_seen, within a short receive-time window
 * otherwise. Availability messages are each their own event (see below).
 */
import type { AclReason } from '../../core/protocol/acl.js';
import type { HealthSignal, OccupancySignal, Signal } from '../../core/signals.js';
import type { DeviceInfo, Site } from '../../core/site/model.js';
import { contentKey, deviceTimeUsable, type ConnectionPolicy, type DecodeContext, type DecodeResult, type MqttDecoder, type PublishDecision } from './types.js';

/** Message types of a bridge connection (the `channel` of a Route). */
export const Z2M_CHANNELS = ['state', 'availability', 'bridge_state'] as const;
export type Z2mChannel = (typeof Z2M_CHANNELS)[number];

/** Why an allowed message is not recorded (label of facility_signals_ignored_total). */
export const Z2M_IGNORED = {
  /** A device of the Zigbee network that the site file does not list (a light, a plug, a switch…). */
  unmappedDevice: 'unmapped_device',
  /** The bridge's own topics other than bridge/state: info, devices, groups, event, logging, response… */
  bridgeTopic: 'bridge_topic',
  /** A listed sensor's sub-topic other than availability: set, get, attribute output. */
  subTopic: 'sub_topic',
} as const;

/**
 * State messages are small (a sensor's attributes, plus `device` when
 * mqtt.include_device_information is on); anything larger is not a sensor state.
 */
export const MAX_Z2M_STATE_BYTES = 16 * 1024;
/** Availability payloads are `online`, `offline` or {"state":"online"}. */
export const MAX_Z2M_AVAILABILITY_BYTES = 256;
/**
 * `battery_low: true` from a sensor that reports no percentage is recorded as
 * this many percent: under any sensible low-battery alert threshold, above 0 so
 * it does not read as "dead". `battery_low: false` records nothing.
 */
export const BATTERY_LOW_PCT = 10;
/**
 * Without `last_seen` the key's time is the receive time rounded down to this
 * window. Short on purpose: Zigbee2MQTT publishes at QoS 0 unless a device's
 * `qos` option says otherwise, so redeliveries are rare and come within
 * seconds of a reconnect, while a real repeat of an identical message
 * (true, false, true within a minute) must not be merged with the first.
 */
export const NO_LAST_SEEN_KEY_WINDOW_MS = 10_000;

// advanced.last_seen: ISO_8601 is Date#toISOString(); ISO_8601_local has an offset and no milliseconds.
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;

/** `last_seen` in ms since the epoch, or undefined when absent or of another form (e.g. "relative"). */
export function parseLastSeen(value: unknown): number | undefined {
  // Zigbee2MQTT's epoch form is Date.now(): whole ms. A fraction is not one of its forms, and would
  // reach the signal's ts and from there InfluxDB line protocol, which takes integer timestamps only.
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  if (typeof value === 'string' && ISO_RE.test(value)) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

const deny = (reason: AclReason): PublishDecision => Object.freeze({ ok: false, reason });
const SYS = deny('sys_topic');
const NOT_OWN = deny('not_own_topic');
const ignore = (why: string): PublishDecision => Object.freeze({ ok: true, route: null, ignored: why });
const UNMAPPED = ignore(Z2M_IGNORED.unmappedDevice);
const BRIDGE_TOPIC = ignore(Z2M_IGNORED.bridgeTopic);
const SUB_TOPIC = ignore(Z2M_IGNORED.subTopic);

const DENY_ALL: ConnectionPolicy = Object.freeze({
  willAllowed: () => false,
  publish: (topic: string) => (topic.startsWith('$') ? SYS : NOT_OWN),
  subscribe: () => false,
  forward: () => false,
});

interface SensorRoutes {
  readonly state: PublishDecision;
  readonly availability: PublishDecision;
}

const route = (device: DeviceInfo, channel: Z2mChannel): PublishDecision => Object.freeze({ ok: true, route: Object.freeze({ device, channel }) });

/**
 * The policy of one bridge connection, compiled when it connects: a map from
 * friendly name to precomputed decisions, so the common message (a listed
 * sensor's state) costs one prefix check and one map lookup.
 */
export function bridgePolicy(bridge: DeviceInfo, site: Site): ConnectionPolicy {
  if (bridge.kind !== 'zigbee-bridge' || bridge.mqtt === null) return DENY_ALL;
  const base = bridge.mqtt.topic;
  const prefix = `${base}/`;
  const byName = new Map<string, SensorRoutes>();
  for (const [name, id] of site.bridged.get(bridge.id) ?? []) {
    const sensor = site.devices.get(id);
    if (sensor) byName.set(name, { state: route(sensor, 'state'), availability: route(sensor, 'availability') });
  }
  const bridgeState = route(bridge, 'bridge_state');
  const will = `${prefix}bridge/state`;
  const inside = (topic: string): boolean => topic === base || topic.startsWith(prefix);

  return {
    // Zigbee2MQTT's will is its bridge/state (offline), retained.
    willAllowed: (topic) => topic === will,
    publish(topic) {
      // Retain is allowed anywhere under the base topic: Zigbee2MQTT retains bridge/state,
      // bridge/info, bridge/devices, availability, and device states when a device's `retain` option is set.
      if (!topic.startsWith(prefix)) {
        if (topic === base) return UNMAPPED;
        return topic.startsWith('$') ? SYS : NOT_OWN;
      }
      const rest = topic.slice(prefix.length);
      // Zigbee2MQTT's own topics come first: a friendly name cannot take them over.
      if (rest.startsWith('bridge/')) return rest === 'bridge/state' ? bridgeState : BRIDGE_TOPIC;
      const exact = byName.get(rest);
      if (exact) return exact.state;
      // Longest listed friendly name that the topic starts with; the rest is a sub-topic.
      let end = rest.length;
      for (;;) {
        const slash = rest.lastIndexOf('/', end - 1);
        if (slash <= 0) return UNMAPPED;
        const sensor = byName.get(rest.slice(0, slash));
        if (sensor) return rest.slice(slash + 1) === 'availability' ? sensor.availability : SUB_TOPIC;
        end = slash;
      }
    },
    // Zigbee2MQTT subscribes to <base>/# (to hear set/get and bridge/request); anything
    // outside (homeassistant/status, $SYS, fac/v1/…) is refused.
    subscribe: (filter) => inside(filter),
    forward: (topic) => inside(topic),
  };
}

export const zigbee2mqttDecoder: MqttDecoder = {
  transport: 'mqtt',

  connection: bridgePolicy,

  // A bridge publishes everything under its base topic (its sensors' states among them); a sensor has no connection.
  uplinkFilters: (device) => (device.kind === 'zigbee-bridge' && device.mqtt !== null ? [`${device.mqtt.topic}/#`] : []),
  // The gateway sends Zigbee2MQTT nothing (no encoder).
  commandFilters: () => [],

  decode(channel, payload, ctx) {
    switch (channel as Z2mChannel) {
      case 'state':
        return decodeState(payload, ctx);
      case 'availability':
      case 'bridge_state':
        return decodeAvailability(payload, ctx);
      default:
        return { ok: false, reason: 'schema', detail: `unknown channel ${channel}` };
    }
  },
};

const NONE: DecodeResult = Object.freeze({ ok: true, signals: Object.freeze([]) });

type Json = Readonly<Record<string, unknown>>;

/** An own property of parsed JSON; null counts as absent (Zigbee2MQTT's "not known yet"). */
function field(body: Json, name: string): unknown {
  if (!Object.hasOwn(body, name)) return undefined;
  const v = body[name];
  return v === null ? undefined : v;
}

/**
 * A value for a rejection's detail. Arrays and objects are named, not printed: JSON.stringify
 * overflows the stack (slowly) on a few thousand levels of nesting, which fit in a state message.
 */
function show(v: unknown): string {
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
  return `${typeof v === 'string' ? 'the string ' : ''}${JSON.stringify(v)?.slice(0, 60) ?? typeof v}`;
}

function decodeState(payload: Buffer, ctx: DecodeContext): DecodeResult {
  // An empty retained message clears the topic (a device removed or renamed): nothing happened.
  if (payload.length === 0) return NONE;
  if (payload.length > MAX_Z2M_STATE_BYTES) {
    return { ok: false, reason: 'payload_too_large', detail: `${payload.length} bytes; a Zigbee2MQTT state message is at most ${MAX_Z2M_STATE_BYTES} here` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: 'malformed_json', detail: `${(e as Error).message} (is advanced.output set to json or attribute_and_json?)` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'schema', detail: `a Zigbee2MQTT state message is a JSON object, got ${show(parsed)}` };
  }
  const body = parsed as Json;

  const occupancy = field(body, 'occupancy');
  if (occupancy !== undefined && typeof occupancy !== 'boolean') {
    return { ok: false, reason: 'schema', detail: `occupancy must be true or false, got ${show(occupancy)}` };
  }
  const battery = field(body, 'battery');
  if (battery !== undefined) {
    if (typeof battery !== 'number') return { ok: false, reason: 'schema', detail: `battery must be a number (percent), got ${show(battery)}` };
    if (!(battery >= 0 && battery <= 100)) return { ok: false, reason: 'bad_value', detail: `battery ${battery} is not a percentage (0–100)` };
  }
  const batteryLow = field(body, 'battery_low');
  if (batteryLow !== undefined && typeof batteryLow !== 'boolean') {
    return { ok: false, reason: 'schema', detail: `battery_low must be true or false, got ${show(batteryLow)}` };
  }
  const lqi = field(body, 'linkquality');
  if (lqi !== undefined) {
    if (typeof lqi !== 'number') return { ok: false, reason: 'schema', detail: `linkquality must be a number, got ${show(lqi)}` };
    if (!(Number.isInteger(lqi) && lqi >= 0 && lqi <= 255)) return { ok: false, reason: 'bad_value', detail: `linkquality ${lqi} is not a Zigbee LQI (an integer 0–255)` };
  }

  const d = ctx.device;
  const measures = d.measures;
  const wantOccupancy = occupancy !== undefined && measures.includes('occupancy');
  const batteryPct = battery !== undefined ? battery : batteryLow === true ? BATTERY_LOW_PCT : null;
  const linkQuality = lqi !== undefined ? lqi : null;
  const wantHealth = (batteryPct !== null || linkQuality !== null) && measures.includes('health');
  if (!wantOccupancy && !wantHealth) return NONE;

  const lastSeen = parseLastSeen(field(body, 'last_seen'));
  const deviceTime = deviceTimeUsable(lastSeen, ctx);
  const ts = deviceTime ? lastSeen : ctx.receivedAt;
  const tsSource = deviceTime ? 'device' : 'gateway';
  const key =
    lastSeen !== undefined
      ? contentKey(d.id, ctx.topic, payload, String(lastSeen))
      : contentKey(d.id, ctx.topic, payload, ctx.receivedAt, NO_LAST_SEEN_KEY_WINDOW_MS);
  const common = { site: ctx.site, device: d.id, deviceKind: d.kind, space: d.space, target: d.target, seq: 0, ts, tsSource } as const;

  const signals: Signal[] = [];
  if (wantOccupancy) {
    const s: OccupancySignal = { kind: 'occupancy', key: `${key}:occupancy`, ...common, occupied: occupancy };
    signals.push(s);
  }
  if (wantHealth) {
    const s: HealthSignal = { kind: 'health', key: `${key}:health`, ...common, online: null, batteryPct, linkQuality };
    signals.push(s);
  }
  return { ok: true, signals };
}

/** `<name>/availability` and `bridge/state`: 1.x `online`/`offline`, or {"state":"online"|"offline"}. */
function decodeAvailability(payload: Buffer, ctx: DecodeContext): DecodeResult {
  if (payload.length === 0) return NONE;
  if (payload.length > MAX_Z2M_AVAILABILITY_BYTES) {
    return { ok: false, reason: 'payload_too_large', detail: `${payload.length} bytes; an availability payload is at most ${MAX_Z2M_AVAILABILITY_BYTES}` };
  }
  const text = payload.toString('utf8').trim();
  let state: unknown = text;
  if (text !== 'online' && text !== 'offline') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    state = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? field(parsed as Json, 'state') : parsed;
  }
  if (state !== 'online' && state !== 'offline') {
    return { ok: false, reason: 'schema', detail: `availability must be online/offline (1.x) or {"state":"online"|"offline"} (2.x), got ${JSON.stringify(text.slice(0, 60))}` };
  }
  const d = ctx.device;
  const s: HealthSignal = {
    kind: 'health',
    // Like the canonical status channel, each availability message is its own event: the payload has
    // no time and toggles between two values, and a flapping link (offline, online, offline within
    // seconds: a bridge in a crash loop) must not lose its last word to a content key. A redelivery
    // (only with the device's `qos: 1`) stores the same state twice, which changes nothing.
    key: `${d.id}:avail:${ctx.messageId}`,
    site: ctx.site,
    device: d.id,
    deviceKind: d.kind,
    space: d.space,
    target: d.target,
    seq: 0,
    ts: ctx.receivedAt,
    tsSource: 'gateway',
    online: state === 'online',
    batteryPct: null,
    linkQuality: null,
  };
  return { ok: true, signals: [s] };
}
