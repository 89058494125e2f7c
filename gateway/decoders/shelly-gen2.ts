/**
 * Decoder for Shelly Gen2 / Plus devices with a metered switch, e.g. the Shelly
 * Plus Plug S (docs/devices.md, "Shelly Gen2 / Plus plugs"). Everything is under
 * the device's topic prefix (`topic_prefix`, by default its device id):
 *
 * - `<prefix>/online`: `true`/`false`, retained; `false` is also the will.
 * - `<prefix>/status/switch:0`: the switch's full status (with "Generic status
 *   update over MQTT", status_ntf): `output`, `apower` (W), `voltage` (V),
 *   `current` (A), `aenergy.total` (Wh, converted to kWh) → a power signal.
 * - `<prefix>/status/wifi`: `rssi` (dBm) → a health signal.
 * - `<prefix>/events/rpc`: JSON-RPC notifications (with "RPC status
 *   notifications", rpc_ntf). NotifyStatus / NotifyFullStatus carry `params.ts`
 *   (Unix seconds, UTC) and changed parts of components: `switch:0` and `wifi`
 *   are read as above; NotifyEvent (button pushes, …) is acknowledged, not recorded.
 * - the gateway's reply topic `fac/v1/<site>/gateway/rpc`: the device's answer
 *   to a command (Shelly replies on `<src>/rpc`, `src` being the gateway's).
 *
 * (Shelly API docs: Gen2 "MQTT", "Notifications", "Switch" component.)
 */
import type { AclReason } from '../../core/protocol/acl.js';
import { gatewayReplyBase } from '../../core/protocol/topics.js';
import type { HealthSignal, PowerSignal, Signal } from '../../core/signals.js';
import type { DeviceInfo, Site } from '../../core/site/model.js';
import { contentKey, deviceTimeUsable, type ConnectionPolicy, type DecodeContext, type DecodeResult, type MqttDecoder, type PublishDecision, type RejectReason } from './types.js';

/** Shelly's MQTT buffer; a full switch status is well under 1 kB, NotifyFullStatus a few kB. */
export const MAX_SHELLY_PAYLOAD_BYTES = 16_384;

export const SHELLY_CHANNELS = ['online', 'status/switch:0', 'status/wifi', 'events/rpc', 'rpc-reply'] as const;
export type ShellyChannel = (typeof SHELLY_CHANNELS)[number];

/**
 * Where the gateway asks Shelly devices to reply (the RPC `src` is this
 * without `/rpc`): Gateway.command passes `fac/v1/<site>/gateway` as the
 * encoders' replyTopicBase, and the device publishes to `<src>/rpc`.
 */
export function shellyReplyTopic(siteId: string): string {
  return `${gatewayReplyBase(siteId)}/rpc`;
}

/**
 * Shelly reports RSSI in dBm. It is mapped to 0–100 % the way Tasmota and
 * most ESP firmware do (−100 dBm → 0 %, −50 dBm and above → 100 %, linear in
 * between) and then onto the 0–255 link-quality range every format shares.
 */
export function rssiDbmToLinkQuality(dbm: number): number {
  const percent = Math.min(100, Math.max(0, 2 * (dbm + 100)));
  return Math.round((percent * 255) / 100);
}

const refused = (reason: AclReason): PublishDecision => Object.freeze({ ok: false, reason });
const NOT_OWN = refused('not_own_topic');
const RETAIN = refused('retain_not_allowed');
const COMMAND = refused('command_topic');
const SYS = refused('sys_topic');
const IGNORED_STATUS = Object.freeze({ ok: true, route: null, ignored: 'shelly_status' }) as PublishDecision;
const IGNORED_DEBUG = Object.freeze({ ok: true, route: null, ignored: 'shelly_debug' }) as PublishDecision;

/** One topic level: a component key such as `switch:0`, `sys` or `input:0`. */
const oneLevel = (rest: string): boolean => rest.length > 0 && !rest.includes('/');

export const shellyGen2Decoder: MqttDecoder = {
  transport: 'mqtt',

  connection(device: DeviceInfo, site: Site): ConnectionPolicy {
    const prefix = device.mqtt?.topic ?? device.id;
    const base = `${prefix}/`;
    const reply = shellyReplyTopic(site.id);
    const routes = new Map<ShellyChannel, PublishDecision>(
      SHELLY_CHANNELS.map((channel) => [channel, Object.freeze({ ok: true, route: Object.freeze({ device, channel }) })]),
    );
    const route = (channel: ShellyChannel): PublishDecision => routes.get(channel)!;
    const inbound = (rest: string): boolean => rest === 'rpc' || rest === 'command' || (rest.startsWith('command/') && oneLevel(rest.slice(8)));
    return {
      willAllowed: (topic) => topic === `${base}online`,
      publish(topic, retain) {
        if (topic.startsWith(base)) {
          const rest = topic.slice(base.length);
          // Its own request and command topics are where the gateway talks to it.
          if (inbound(rest)) return COMMAND;
          if (retain && rest !== 'online') return RETAIN;
          if (rest === 'online') return route('online');
          if (rest === 'events/rpc') return route('events/rpc');
          if (rest === 'status/switch:0') return route('status/switch:0');
          if (rest === 'status/wifi') return route('status/wifi');
          // Other components (sys, cloud, input:0, …) and the debug log: allowed, not recorded.
          if (rest.startsWith('status/') && oneLevel(rest.slice(7))) return IGNORED_STATUS;
          if (rest === 'debug/log') return IGNORED_DEBUG;
          // Deeper levels would reach into another device's prefix ("a" and "a/b").
          return NOT_OWN;
        }
        if (topic === reply) return retain ? RETAIN : route('rpc-reply');
        if (topic.startsWith('$')) return SYS;
        if (topic.startsWith('cmnd/')) return COMMAND;
        return NOT_OWN;
      },
      // What Shelly subscribes to: `<prefix>/rpc` (RPC over MQTT), `<prefix>/command`
      // and `<prefix>/command/<component>` (the MQTT control interface).
      subscribe: (filter) =>
        filter === `${base}rpc` || filter === `${base}command` || filter === `${base}command/#` || (filter.startsWith(`${base}command/`) && oneLevel(filter.slice(base.length + 8)) && !/[+#]/.test(filter)),
      forward: (topic) => topic.startsWith(base) && inbound(topic.slice(base.length)),
    };
  },

  // Availability, notifications, component status, and the gateway's reply topic, which every Shelly
  // of the site shares (so an external broker's gateway cannot tell whose reply it is: docs/deployment.md).
  uplinkFilters(device, site) {
    const base = `${device.mqtt?.topic ?? device.id}/`;
    return [`${base}online`, `${base}events/rpc`, `${base}status/+`, shellyReplyTopic(site.id)];
  },
  commandFilters(device) {
    const base = `${device.mqtt?.topic ?? device.id}/`;
    return [`${base}rpc`, `${base}command`, `${base}command/+`];
  },

  decode(channel: string, payload: Buffer, ctx: DecodeContext): DecodeResult {
    if (payload.length > MAX_SHELLY_PAYLOAD_BYTES) {
      return reject('payload_too_large', `${payload.length} bytes; Shelly messages are at most ${MAX_SHELLY_PAYLOAD_BYTES}`);
    }
    try {
      switch (channel as ShellyChannel) {
        case 'online':
          return { ok: true, signals: [online(payload, ctx)] };
        case 'status/switch:0':
          return { ok: true, signals: switchStatus(payload, ctx) };
        case 'status/wifi':
          return { ok: true, signals: wifiStatus(payload, ctx) };
        case 'events/rpc':
          return { ok: true, signals: notification(payload, ctx) };
        case 'rpc-reply':
          return { ok: true, signals: rpcReply(payload) };
        default:
          return reject('schema', `unknown Shelly channel ${channel}`);
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

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v)}` : typeof v;
}

/**
 * An id or code from the payload, bounded for the rejection's detail. Arrays
 * and objects are named, not printed: the device chooses their size and
 * nesting, and JSON.stringify overflows the stack on a few thousand levels
 * (which fit in MAX_SHELLY_PAYLOAD_BYTES).
 */
function brief(v: unknown): string {
  if (typeof v === 'object' && v !== null) return describe(v);
  const text = JSON.stringify(v) ?? typeof v;
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
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

interface Range {
  readonly min: number;
  readonly max: number;
}
const WATTS: Range = { min: 0, max: 1_000_000 };
const WH: Range = { min: 0, max: 1e15 };
const VOLTS: Range = { min: 0, max: 100_000 };
const AMPS: Range = { min: 0, max: 100_000 };

/** A number field, or null when absent or null (NotifyStatus sends null for a key that went away). */
function numberField(obj: Json, name: string, path: string, range: Range): number | null {
  const v = obj[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number') throw new Rejection('schema', `${path}.${name} must be a number, got ${describe(v)}`);
  if (!Number.isFinite(v) || v < range.min || v > range.max) throw new Rejection('bad_value', `${path}.${name} ${v} is outside ${range.min}…${range.max}`);
  return v;
}

function booleanField(obj: Json, name: string, path: string): boolean | null {
  const v = obj[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'boolean') throw new Rejection('schema', `${path}.${name} must be true or false, got ${describe(v)}`);
  return v;
}

interface When {
  readonly ts: number;
  readonly tsSource: 'device' | 'gateway';
}

function common(ctx: DecodeContext, key: string, when: When) {
  const d = ctx.device;
  return { key, site: ctx.site, device: d.id, deviceKind: d.kind, space: d.space, target: d.target, seq: 0, ts: when.ts, tsSource: when.tsSource };
}

/**
 * A switch status, whole (`status/switch:0`) or partial (NotifyStatus) →
 * a power signal, or none. `apower` is the reading; without it, `output: false`
 * still means 0 W (the meter is behind the relay), while `output: true` alone
 * says nothing of the power and a partial with only `aenergy` (the per-minute
 * counter update) carries no power reading: neither makes a signal.
 */
function switchSignal(sw: Json, path: string, ctx: DecodeContext, key: string, when: When): PowerSignal | null {
  const output = booleanField(sw, 'output', path);
  let powerW = numberField(sw, 'apower', path, WATTS);
  let energyKwh: number | null = null;
  const aenergy = sw.aenergy;
  if (aenergy !== undefined && aenergy !== null) {
    if (!isObject(aenergy)) throw new Rejection('schema', `${path}.aenergy must be an object, got ${describe(aenergy)}`);
    const wh = numberField(aenergy, 'total', `${path}.aenergy`, WH);
    // Shelly counts Wh; the signal's counter is kWh. Resets (older firmware) stay in the raw counter.
    if (wh !== null) energyKwh = wh / 1000;
  }
  const voltageV = numberField(sw, 'voltage', path, VOLTS);
  let currentA = numberField(sw, 'current', path, AMPS);
  if (powerW === null) {
    if (output !== false) return null;
    powerW = 0;
    currentA ??= 0;
  }
  return { kind: 'power', ...common(ctx, key, when), powerW, energyKwh, voltageV, currentA, on: output };
}

function wifiSignal(wifi: Json, path: string, ctx: DecodeContext, key: string, when: When): HealthSignal | null {
  const rssi = wifi.rssi;
  if (rssi === undefined || rssi === null) return null;
  if (typeof rssi !== 'number') throw new Rejection('schema', `${path}.rssi must be a number, got ${describe(rssi)}`);
  if (!Number.isFinite(rssi) || rssi < -150 || rssi > 0) throw new Rejection('bad_value', `${path}.rssi ${rssi} is not a dBm value`);
  return { kind: 'health', ...common(ctx, key, when), online: null, batteryPct: null, linkQuality: rssiDbmToLinkQuality(rssi) };
}

function receivedNow(ctx: DecodeContext): When {
  return { ts: ctx.receivedAt, tsSource: 'gateway' };
}

function online(payload: Buffer, ctx: DecodeContext): HealthSignal {
  const text = payload.toString('utf8').trim();
  if (text !== 'true' && text !== 'false') throw new Rejection('bad_value', `online must be true or false, got ${JSON.stringify(text.slice(0, 20))}`);
  // Each availability message is its own event (as canonical `status`).
  return { kind: 'health', ...common(ctx, `${ctx.device.id}:online:${ctx.messageId}`, receivedNow(ctx)), online: text === 'true', batteryPct: null, linkQuality: null };
}

/**
 * Status messages carry no time of their own, so the receive time is used.
 * Their key: `aenergy.minute_ts` (the minute the counter was last updated) with
 * the digest identifies a redelivery whenever it comes; without it, the
 * receive minute does (types.ts, contentKey).
 */
function switchStatus(payload: Buffer, ctx: DecodeContext): Signal[] {
  const body = parseObject(payload);
  const aenergy = body.aenergy;
  const minute = isObject(aenergy) && typeof aenergy.minute_ts === 'number' ? `m${aenergy.minute_ts}` : ctx.receivedAt;
  const s = switchSignal(body, 'switch:0', ctx, contentKey(ctx.device.id, ctx.topic, payload, minute), receivedNow(ctx));
  return s ? [s] : [];
}

function wifiStatus(payload: Buffer, ctx: DecodeContext): Signal[] {
  const body = parseObject(payload);
  const s = wifiSignal(body, 'wifi', ctx, contentKey(ctx.device.id, ctx.topic, payload, ctx.receivedAt), receivedNow(ctx));
  return s ? [s] : [];
}

/**
 * NotifyStatus / NotifyFullStatus: `params.ts` (Unix seconds with centiseconds)
 * is the device's time of the change. It is used when plausible
 * (deviceTimeUsable; a Shelly without SNTP has no real time) and, being in the
 * payload, makes the key stable for redeliveries.
 */
function notification(payload: Buffer, ctx: DecodeContext): Signal[] {
  const body = parseObject(payload);
  const method = body.method;
  if (typeof method !== 'string') throw new Rejection('schema', `method must be a string, got ${describe(method)}`);
  if (method === 'NotifyEvent') return [];
  if (method !== 'NotifyStatus' && method !== 'NotifyFullStatus') throw new Rejection('schema', `unknown notification ${JSON.stringify(method.slice(0, 40))}`);
  const params = body.params;
  if (!isObject(params)) throw new Rejection('schema', `params must be an object, got ${describe(params)}`);
  const tsS = params.ts;
  if (tsS !== undefined && tsS !== null && (typeof tsS !== 'number' || !Number.isFinite(tsS))) throw new Rejection('schema', `params.ts must be a number, got ${describe(tsS)}`);
  const deviceMs = typeof tsS === 'number' ? Math.round(tsS * 1000) : undefined;
  const when: When = deviceTimeUsable(deviceMs, ctx) ? { ts: deviceMs, tsSource: 'device' } : receivedNow(ctx);
  const key = contentKey(ctx.device.id, ctx.topic, payload, typeof tsS === 'number' ? `t${tsS}` : ctx.receivedAt);
  const signals: Signal[] = [];
  const sw = params['switch:0'];
  if (sw !== undefined && sw !== null) {
    if (!isObject(sw)) throw new Rejection('schema', `params["switch:0"] must be an object, got ${describe(sw)}`);
    const s = switchSignal(sw, 'params["switch:0"]', ctx, `${key}:power`, when);
    if (s) signals.push(s);
  }
  const wifi = params.wifi;
  if (wifi !== undefined && wifi !== null) {
    if (!isObject(wifi)) throw new Rejection('schema', `params.wifi must be an object, got ${describe(wifi)}`);
    const s = wifiSignal(wifi, 'params.wifi', ctx, `${key}:health`, when);
    if (s) signals.push(s);
  }
  return signals;
}

/**
 * A reply to the gateway's request: `result` (Switch.Set: `{"was_on":…}`)
 * records nothing (the switch's new state comes as a status/notification); an
 * `error` is rejected so the refused command is in the rejects table.
 */
function rpcReply(payload: Buffer): Signal[] {
  const body = parseObject(payload);
  if (body.id === undefined) throw new Rejection('schema', 'an RPC reply needs the id of its request');
  const error = body.error;
  if (error !== undefined && error !== null) {
    const e = isObject(error) ? error : {};
    throw new Rejection('bad_value', `the device refused request ${brief(body.id)}: ${brief(e.code ?? null)} ${typeof e.message === 'string' ? e.message.slice(0, 200) : ''}`.trim());
  }
  if (body.result === undefined) throw new Rejection('schema', 'an RPC reply has a result or an error');
  return [];
}
