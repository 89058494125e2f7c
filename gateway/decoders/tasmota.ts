/**
 * Decoder for Tasmota-flashed plugs with power monitoring (docs/devices.md,
 * "Tasmota plugs"). Tasmota's default FullTopic `%prefix%/%topic%/` is the only
 * layout supported: the plug publishes `tele/<topic>/<TYPE>` and
 * `stat/<topic>/<TYPE>` and listens on `cmnd/<topic>/<Command>`
 * (https://tasmota.github.io/docs/MQTT/, "FullTopic").
 *
 * Read:
 * - `tele/<topic>/SENSOR`: `ENERGY.Power`, `Total` (the raw kWh counter),
 *   `Voltage`, `Current` → a power signal. Tasmota prints some of these as
 *   integers (`"Power":56`) and others with fixed decimals (`"Total":0.000`);
 *   both are JSON numbers, so every value reaches the signal as a JS number.
 * - `tele/<topic>/STATE`: `Wifi.RSSI` (a 0–100 % quality) → a health signal;
 *   `POWER`/`POWER1` "OFF" → a 0 W power signal (see relayReport below).
 * - `tele/<topic>/LWT`: `Online`/`Offline`, retained, also the plug's will → health online.
 * - `stat/<topic>/POWER` (or `POWER1`): the relay after a command or a button press.
 * Allowed and acknowledged but not recorded: INFO1–3, `stat/<topic>/RESULT`,
 * `STATUS*` replies and whatever else Tasmota publishes under its own topic.
 *
 * Time: a plug's `Time` is its local time in its own `Timezone` setting, with
 * no offset, and 1970-01-01 until NTP has answered after a boot. It cannot be
 * turned into UTC reliably, so signals carry the gateway's receive time.
 * Nothing is lost by that: Tasmota publishes with QoS 0 and keeps no queue
 * while offline, so a message is always received within network latency of
 * its reading. `Time` only makes the idempotence key (see telemetryKey).
 */
import type { AclReason } from '../../core/protocol/acl.js';
import type { HealthSignal, PowerSignal, Signal } from '../../core/signals.js';
import type { DeviceInfo } from '../../core/site/model.js';
import { contentKey, type ConnectionPolicy, type DecodeContext, type DecodeResult, type MqttDecoder, type PublishDecision, type RejectReason } from './types.js';

/** Tasmota's own MQTT buffer is about 1.2 kB; anything much bigger is not a plug's telemetry. */
export const MAX_TASMOTA_PAYLOAD_BYTES = 4096;
/** Tasmota's default GroupTopic (https://tasmota.github.io/docs/MQTT/, "GroupTopic"). */
export const TASMOTA_DEFAULT_GROUP_TOPIC = 'tasmotas';

/** The message types the decoder reads (route channels). */
export const TASMOTA_CHANNELS = ['tele/SENSOR', 'tele/STATE', 'tele/LWT', 'stat/POWER'] as const;
export type TasmotaChannel = (typeof TASMOTA_CHANNELS)[number];

/** The topics of a plug with `%topic%` = `topic` under the default FullTopic `%prefix%/%topic%/`. */
export function tasmotaTopics(topic: string): { readonly tele: string; readonly stat: string; readonly cmnd: string; readonly lwt: string } {
  return { tele: `tele/${topic}/`, stat: `stat/${topic}/`, cmnd: `cmnd/${topic}/`, lwt: `tele/${topic}/LWT` };
}

/**
 * Tasmota's `Wifi.RSSI` is already a 0–100 % quality (its firmware maps
 * −100…−50 dBm linearly onto 0…100 %); link quality is 0–255 across formats
 * (Zigbee LQI), so the percentage is scaled onto that range.
 */
export function rssiPercentToLinkQuality(percent: number): number {
  return Math.round((Math.min(100, Math.max(0, percent)) * 255) / 100);
}

// Maps, not object literals: the last topic level is the device's choice, and `tele/<topic>/constructor`
// must not find Object.prototype's properties (it did, and publish() returned undefined to the broker).
const TELE_ROUTES: ReadonlyMap<string, TasmotaChannel> = new Map([
  ['SENSOR', 'tele/SENSOR'],
  ['STATE', 'tele/STATE'],
  ['LWT', 'tele/LWT'],
]);
const STAT_ROUTES: ReadonlyMap<string, TasmotaChannel> = new Map([
  ['POWER', 'stat/POWER'],
  ['POWER1', 'stat/POWER'],
]);

const refused = (reason: AclReason): PublishDecision => Object.freeze({ ok: false, reason });
const ignored = (why: string): PublishDecision => Object.freeze({ ok: true, route: null, ignored: why });
const NOT_OWN = refused('not_own_topic');
const RETAIN = refused('retain_not_allowed');
const COMMAND = refused('command_topic');
const SYS = refused('sys_topic');
const IGNORED_INFO = ignored('tasmota_info');
const IGNORED_RESULT = ignored('tasmota_result');
const IGNORED_STATUS = ignored('tasmota_status');
const IGNORED_OTHER = ignored('tasmota_other');
const IGNORED_DISCOVERY = ignored('tasmota_discovery');
/**
 * Tasmota's own discovery messages (retained, on every connect, unless SetOption19 is set): a plug
 * refused here would be disconnected and reconnect forever. They are acknowledged and dropped (the
 * broker never retains what it does not record). Only this exact shape: tasmota/discovery/<MAC>/….
 */
const DISCOVERY = /^tasmota\/discovery\/[0-9A-F]{12}\/(config|sensors)$/;

/** One topic level, as Tasmota's default FullTopic puts the message type in the last level. */
const oneLevel = (rest: string): boolean => rest.length > 0 && !rest.includes('/');

function otherTopic(topic: string): PublishDecision {
  if (topic.startsWith('$')) return SYS;
  // Only the gateway publishes commands, to this plug or to any other.
  if (topic.startsWith('cmnd/')) return COMMAND;
  return NOT_OWN;
}

export const tasmotaDecoder: MqttDecoder = {
  transport: 'mqtt',

  connection(device: DeviceInfo): ConnectionPolicy {
    const mqtt = device.mqtt ?? { clientId: device.id, topic: device.id };
    const t = tasmotaTopics(mqtt.topic);
    const routes = new Map<TasmotaChannel, PublishDecision>(
      TASMOTA_CHANNELS.map((channel) => [channel, Object.freeze({ ok: true, route: Object.freeze({ device, channel }) })]),
    );
    const route = (channel: TasmotaChannel): PublishDecision => routes.get(channel)!;
    // What Tasmota subscribes to on connect: its own command topic, the group
    // topic and its fallback topic `<MqttClient>_fb` (docs: MQTT, "GroupTopic",
    // "FallBack Topic"). Granting the latter two is harmless because only the
    // gateway publishes commands and forward() delivers only the plug's own.
    const filters = new Set([`${t.cmnd}#`, `cmnd/${TASMOTA_DEFAULT_GROUP_TOPIC}/#`, `cmnd/${mqtt.clientId}_fb/#`]);
    return {
      willAllowed: (topic) => topic === t.lwt,
      publish(topic, retain) {
        if (topic.startsWith(t.tele)) {
          const rest = topic.slice(t.tele.length);
          if (!oneLevel(rest)) return NOT_OWN;
          // Tasmota retains only its LWT unless a *Retain option is on; those would
          // leave stale readings in the broker, so they are refused (docs/devices.md).
          if (retain && rest !== 'LWT') return RETAIN;
          const channel = TELE_ROUTES.get(rest);
          if (channel) return route(channel);
          return /^INFO\d$/.test(rest) ? IGNORED_INFO : IGNORED_OTHER;
        }
        if (topic.startsWith(t.stat)) {
          const rest = topic.slice(t.stat.length);
          if (!oneLevel(rest)) return NOT_OWN;
          if (retain) return RETAIN;
          const channel = STAT_ROUTES.get(rest);
          if (channel) return route(channel);
          if (rest === 'RESULT') return IGNORED_RESULT;
          return rest.startsWith('STATUS') ? IGNORED_STATUS : IGNORED_OTHER;
        }
        if (DISCOVERY.test(topic)) return IGNORED_DISCOVERY;
        return otherTopic(topic);
      },
      subscribe: (filter) => filters.has(filter),
      // Its own commands only, one level below its command topic: a plug whose topic
      // is a prefix of another's ("a" and "a/b") never hears the other's commands.
      forward: (topic) => topic.startsWith(t.cmnd) && oneLevel(topic.slice(t.cmnd.length)),
    };
  },

  // Its telemetry and status, one level below its own prefixes (what publish() reads or ignores). Discovery
  // messages are left out: an external broker drops them (MQTT 3.1.1 has no refusal), nothing is lost.
  uplinkFilters(device) {
    const t = tasmotaTopics(device.mqtt?.topic ?? device.id);
    return [`${t.tele}+`, `${t.stat}+`];
  },
  // Only its own command topic: the group and fallback topics it also subscribes to carry nothing from us.
  commandFilters: (device) => [`${tasmotaTopics(device.mqtt?.topic ?? device.id).cmnd}+`],

  decode(channel: string, payload: Buffer, ctx: DecodeContext): DecodeResult {
    if (payload.length > MAX_TASMOTA_PAYLOAD_BYTES) {
      return reject('payload_too_large', `${payload.length} bytes; Tasmota telemetry is at most ${MAX_TASMOTA_PAYLOAD_BYTES}`);
    }
    try {
      switch (channel as TasmotaChannel) {
        case 'tele/SENSOR':
          return { ok: true, signals: sensor(payload, ctx) };
        case 'tele/STATE':
          return { ok: true, signals: state(payload, ctx) };
        case 'tele/LWT':
          return { ok: true, signals: [lwt(payload, ctx)] };
        case 'stat/POWER':
          return { ok: true, signals: relayReport(payload, ctx) };
        default:
          return reject('schema', `unknown Tasmota channel ${channel}`);
      }
    } catch (e) {
      if (e instanceof Rejection) return reject(e.reason, e.message);
      throw e;
    }
  },
};

class Rejection extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
  }
}

function reject(reason: RejectReason, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseObject(payload: Buffer): Json {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch (e) {
    throw new Rejection('malformed_json', (e as Error).message);
  }
  if (!isObject(body)) throw new Rejection('schema', `expected a JSON object, got ${describe(body)}`);
  return body;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v)}` : typeof v;
}

interface Range {
  readonly min: number;
  readonly max: number;
}
const WATTS: Range = { min: 0, max: 1_000_000 };
const KWH: Range = { min: 0, max: 1e12 };
const VOLTS: Range = { min: 0, max: 100_000 };
const AMPS: Range = { min: 0, max: 100_000 };

/**
 * A numeric ENERGY field, or null when absent. Multi-channel devices (e.g. a
 * Sonoff Dual R3) report per-channel fields as arrays (`"Power":[52,5]`): the
 * first channel is read, so meter a machine on channel 1. A field the device
 * reports once for all channels (`"Voltage":235`) is read as it is.
 */
function energyField(energy: Json, name: string, range: Range, required: boolean): number | null {
  let v = energy[name];
  if (v === undefined || v === null) {
    if (required) throw new Rejection('schema', `ENERGY.${name} is missing`);
    return null;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) throw new Rejection('schema', `ENERGY.${name} is an empty array`);
    v = v[0];
  }
  if (typeof v !== 'number') throw new Rejection('schema', `ENERGY.${name} must be a number, got ${describe(v)}`);
  if (!Number.isFinite(v) || v < range.min || v > range.max) throw new Rejection('bad_value', `ENERGY.${name} ${v} is outside ${range.min}…${range.max}`);
  return v;
}

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/;
/** Local time is at most 14 h from UTC (UTC+14, Kiribati). */
const MAX_ZONE_OFFSET_MS = 14 * 3_600_000;

/**
 * Idempotence key of a telemetry message. With a set clock, the plug's `Time`
 * (second resolution, never repeated for one topic) and a digest of the bytes
 * identify the message, so a redelivery maps to the same key however late it
 * comes. Before NTP has answered, `Time` restarts at 1970-01-01T00:00:00 on
 * every boot and could repeat, so the receive time (per minute) is used then.
 */
function telemetryKey(body: Json, payload: Buffer, ctx: DecodeContext): string {
  const time = body.Time;
  if (typeof time === 'string') {
    const m = TIME_RE.exec(time);
    if (m) {
      const asUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
      if (asUtc >= ctx.receivedAt - ctx.maxPastMs - MAX_ZONE_OFFSET_MS && asUtc <= ctx.receivedAt + ctx.maxFutureMs + MAX_ZONE_OFFSET_MS) {
        return contentKey(ctx.device.id, ctx.topic, payload, time);
      }
    }
  }
  return contentKey(ctx.device.id, ctx.topic, payload, ctx.receivedAt);
}

function common(ctx: DecodeContext, key: string) {
  const d = ctx.device;
  return {
    key,
    site: ctx.site,
    device: d.id,
    deviceKind: d.kind,
    space: d.space,
    target: d.target,
    seq: 0,
    ts: ctx.receivedAt,
    tsSource: 'gateway' as const,
  };
}

function powerSignal(ctx: DecodeContext, key: string, v: Pick<PowerSignal, 'powerW' | 'energyKwh' | 'voltageV' | 'currentA' | 'on'>): PowerSignal {
  return { kind: 'power', ...common(ctx, key), ...v };
}

function healthSignal(ctx: DecodeContext, key: string, v: Pick<HealthSignal, 'online' | 'batteryPct' | 'linkQuality'>): HealthSignal {
  return { kind: 'health', ...common(ctx, key), ...v };
}

function sensor(payload: Buffer, ctx: DecodeContext): Signal[] {
  const body = parseObject(payload);
  const energy = body.ENERGY;
  // A SENSOR without ENERGY carries other sensors (temperature, …): not a power meter's business.
  if (energy === undefined) return [];
  if (!isObject(energy)) throw new Rejection('schema', `ENERGY must be an object, got ${describe(energy)}`);
  return [
    powerSignal(ctx, telemetryKey(body, payload, ctx), {
      powerW: energyField(energy, 'Power', WATTS, true)!,
      // The raw counter, resets included (core/energy.ts turns readings into energy).
      energyKwh: energyField(energy, 'Total', KWH, false),
      voltageV: energyField(energy, 'Voltage', VOLTS, false),
      currentA: energyField(energy, 'Current', AMPS, false),
      // SENSOR does not say where the relay is; STATE and stat/POWER do.
      on: null,
    }),
  ];
}

/** "ON"/"OFF" (Tasmota's default StateText), case-insensitive; anything else is refused. */
function relayText(v: unknown, where: string): boolean {
  if (typeof v !== 'string') throw new Rejection('schema', `${where} must be "ON" or "OFF", got ${describe(v)}`);
  const s = v.trim().toUpperCase();
  if (s === 'ON') return true;
  if (s === 'OFF') return false;
  throw new Rejection('bad_value', `${where} ${JSON.stringify(v.slice(0, 20))} is not ON or OFF (keep Tasmota's default StateText)`);
}

/** The metered relay's state in a JSON report: POWER on single-relay plugs, POWER1 on multi-relay ones. */
function relayField(body: Json): boolean | null {
  if (body.POWER !== undefined) return relayText(body.POWER, 'POWER');
  if (body.POWER1 !== undefined) return relayText(body.POWER1, 'POWER1');
  return null;
}

/**
 * A relay report without a power reading. The plug's meter measures the load
 * behind its relay, and Tasmota stops metering while the relay is off
 * (SetOption21 0, the default), so "OFF" means 0 W: it becomes a power signal
 * with on = false. "ON" says nothing about the power drawn (a machine may sit
 * idle or start up), so no signal is made and the next SENSOR reports it.
 */
function relayOff(ctx: DecodeContext, key: string): PowerSignal {
  return powerSignal(ctx, key, { powerW: 0, energyKwh: null, voltageV: null, currentA: null, on: false });
}

function state(payload: Buffer, ctx: DecodeContext): Signal[] {
  const body = parseObject(payload);
  const key = telemetryKey(body, payload, ctx);
  let linkQuality: number | null = null;
  const wifi = body.Wifi;
  if (wifi !== undefined && wifi !== null) {
    if (!isObject(wifi)) throw new Rejection('schema', `Wifi must be an object, got ${describe(wifi)}`);
    const rssi = wifi.RSSI;
    if (rssi !== undefined && rssi !== null) {
      if (typeof rssi !== 'number') throw new Rejection('schema', `Wifi.RSSI must be a number, got ${describe(rssi)}`);
      if (!Number.isFinite(rssi) || rssi < 0 || rssi > 100) throw new Rejection('bad_value', `Wifi.RSSI ${rssi} is not a 0–100 % quality`);
      linkQuality = rssiPercentToLinkQuality(rssi);
    }
  }
  const relay = relayField(body);
  const signals: Signal[] = [];
  // Wired (Ethernet) devices have no Wifi section: nothing to report on the link then.
  if (linkQuality !== null) signals.push(healthSignal(ctx, `${key}:health`, { online: null, batteryPct: null, linkQuality }));
  if (relay === false) signals.push(relayOff(ctx, `${key}:power`));
  return signals;
}

function lwt(payload: Buffer, ctx: DecodeContext): HealthSignal {
  const text = payload.toString('utf8').trim().toLowerCase();
  if (text !== 'online' && text !== 'offline') {
    throw new Rejection('bad_value', `LWT must be Online or Offline, got ${JSON.stringify(payload.toString('utf8').slice(0, 20))}`);
  }
  // Availability carries no time of its own: each message is its own event (as canonical `status`).
  return healthSignal(ctx, `${ctx.device.id}:lwt:${ctx.messageId}`, { online: text === 'online', batteryPct: null, linkQuality: null });
}

/**
 * `stat/<topic>/POWER` is "ON" or "OFF" as plain text; with SetOption4 on, the
 * command's JSON reply (`{"POWER":"OFF"}`) comes on the same topic. Either way
 * the same rule as STATE applies (relayOff). `stat/<topic>/RESULT` repeats the
 * relay for a POWER command and answers every other command, so it is not read.
 */
function relayReport(payload: Buffer, ctx: DecodeContext): Signal[] {
  const text = payload.toString('utf8').trim();
  const relay = text.startsWith('{') ? relayField(parseObject(payload)) : relayText(text, 'POWER');
  if (relay !== false) return [];
  // Each report is its own event (no time in it); a redelivery of QoS 0 never happens.
  return [relayOff(ctx, `${ctx.device.id}:relay:${ctx.messageId}`)];
}
