/**
 * Who may publish and subscribe where: one policy table, used by the embedded
 * broker's hooks (and, later, to generate an external broker's ACL file).
 *
 * A device may publish only its own uplink channels, subscribe only to its own
 * command topic, and retain only its availability (`status`). Nobody but the
 * gateway (which publishes in-process, not as a client) publishes commands.
 */
import { KINDS_BY_DEVICE } from '../signals.js';
import type { DeviceInfo, ObserverInfo } from '../site/model.js';
import { PROTOCOL_PREFIX, commandFilter, deviceBase, gatewayStatusTopic, parseTopic, stateFilter, type UplinkChannel } from './topics.js';

export type AclDecision = { readonly ok: true; readonly channel: UplinkChannel } | { readonly ok: false; readonly reason: AclReason };
export type AclReason =
  | 'not_in_scheme'
  | 'other_site'
  | 'other_device'
  | 'command_topic'
  | 'channel_not_allowed'
  | 'retain_not_allowed'
  | 'sys_topic'
  | 'not_own_topic'
  | 'observer_read_only';

export const ACL_REASON_TEXT: Readonly<Record<AclReason, string>> = {
  not_in_scheme: 'topic is not in the fac/v1/<site>/d/<device>/<channel> scheme',
  other_site: 'topic names another site',
  other_device: 'a device may publish only under its own id',
  command_topic: 'only the gateway publishes commands',
  channel_not_allowed: 'this device kind does not send that channel (see its kind and measures in the site file)',
  retain_not_allowed: 'only the status channel may be retained',
  sys_topic: '$SYS topics are the broker’s own',
  not_own_topic: 'a device may publish only under its own topics (its topic prefix, or its bridge’s base topic)',
  observer_read_only: 'an observer (read-only dashboard login) may not publish',
};

/** Channels a device may publish: its measured signal kinds, plus its availability. */
export function allowedChannels(device: DeviceInfo): ReadonlySet<UplinkChannel> {
  const kinds = device.measures.length > 0 ? device.measures : KINDS_BY_DEVICE[device.kind];
  return new Set<UplinkChannel>([...(kinds as UplinkChannel[]), 'status']);
}

export function authorizeDevicePublish(
  site: string,
  device: DeviceInfo,
  allowed: ReadonlySet<UplinkChannel>,
  topic: string,
  retain: boolean,
): AclDecision {
  if (topic.startsWith('$')) return { ok: false, reason: 'sys_topic' };
  const t = parseTopic(topic);
  if (t.type === 'other') return { ok: false, reason: 'not_in_scheme' };
  if (t.site !== site) return { ok: false, reason: 'other_site' };
  if (t.device !== device.id) return { ok: false, reason: 'other_device' };
  if (t.type === 'command') return { ok: false, reason: 'command_topic' };
  if (!allowed.has(t.channel)) return { ok: false, reason: 'channel_not_allowed' };
  if (retain && t.channel !== 'status') return { ok: false, reason: 'retain_not_allowed' };
  return { ok: true, channel: t.channel };
}

/**
 * A device may subscribe to its command subtree and nothing else: exactly its
 * `cmd/#` filter or one concrete command topic beneath it. Wildcards anywhere
 * else (`#`, `+/…`, another device's id) are refused.
 */
export function authorizeDeviceSubscribe(site: string, deviceId: string, filter: string): boolean {
  if (filter === commandFilter(site, deviceId)) return true;
  const prefix = `${deviceBase(site, deviceId)}/cmd/`;
  if (!filter.startsWith(prefix)) return false;
  const rest = filter.slice(prefix.length);
  return rest.length > 0 && !rest.includes('/') && !rest.includes('+') && !rest.includes('#');
}

/** Delivery check (defence in depth, e.g. for retained messages): only the device's own commands. */
export function authorizeDeviceForward(site: string, deviceId: string, topic: string): boolean {
  return topic.startsWith(`${deviceBase(site, deviceId)}/cmd/`);
}

/**
 * An observer's client id: its id, or `<id>-<anything>` so several dashboards may share one login.
 * (The site file makes sure no device's client id has that form.)
 */
export function isObserverClientId(observerId: string, clientId: string): boolean {
  return clientId === observerId || (clientId.startsWith(`${observerId}-`) && clientId.length > observerId.length + 1);
}

const stateBase = (site: string): string => `${PROTOCOL_PREFIX}/${site}/state/`;

/**
 * What an observer may subscribe to: `fac/v1/<site>/state/#` or any filter beneath it
 * (`…/state/machines/+`, `…/state/desks/D01`), and the gateway's status topic, each only if
 * its topics allow. Wildcards after the `state/` level cannot reach outside it; `#`, `fac/v1/#`,
 * `+/…`, device topics and `$share/…` do not start with it and are refused.
 */
export function authorizeObserverSubscribe(site: string, observer: ObserverInfo, filter: string): boolean {
  if (observer.topics.includes('gateway-status') && filter === gatewayStatusTopic(site)) return true;
  if (!observer.topics.includes('state')) return false;
  if (filter === stateFilter(site)) return true;
  const base = stateBase(site);
  return filter.startsWith(base) && filter.length > base.length;
}

/** Delivery check (defence in depth): only live state and the gateway's status, never commands or device uplinks. */
export function authorizeObserverForward(site: string, observer: ObserverInfo, topic: string): boolean {
  if (topic === gatewayStatusTopic(site)) return observer.topics.includes('gateway-status');
  return observer.topics.includes('state') && topic.startsWith(stateBase(site));
}

/** Client ids and user names: bounded, and without characters that mean something in topics. */
export function isSafeClientId(id: string): boolean {
  if (id.length === 0 || Buffer.byteLength(id) > 128) return false;
  return !/[+#/\u0000\s]/.test(id);
}

/**
 * A device's publish policy, compiled once per connection: the common case (its
 * own topic, an allowed channel) is a prefix check and a set lookup with no
 * allocation; anything else falls back to authorizeDevicePublish for the reason.
 */
export interface DevicePublishPolicy {
  authorize(topic: string, retain: boolean): AclDecision;
}

export function compileDevicePolicy(site: string, device: DeviceInfo): DevicePublishPolicy {
  const allowed = allowedChannels(device);
  const prefix = `${deviceBase(site, device.id)}/`;
  const okFor = new Map<string, AclDecision>([...allowed].map((c) => [c, Object.freeze({ ok: true, channel: c })]));
  return {
    authorize(topic, retain) {
      if (topic.startsWith(prefix)) {
        const ok = okFor.get(topic.slice(prefix.length));
        if (ok && (!retain || topic.endsWith('/status'))) return ok;
      }
      return authorizeDevicePublish(site, device, allowed, topic, retain);
    },
  };
}
