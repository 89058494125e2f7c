/**
 * The canonical MQTT topic scheme, declared once for the gateway, firmware-sim
 * and tests. Version 1:
 *
 *   fac/v1/<site>/d/<device>/<channel>        device → gateway  (channel: badge, occupancy, power, health, status)
 *   fac/v1/<site>/d/<device>/cmd/<command>    gateway → device  (only the gateway publishes here)
 *   fac/v1/<site>/gateway/status              gateway availability, retained, also its last will
 *   fac/v1/<site>/state/site                  live state (gateway → dashboards), retained: the site's totals
 *   fac/v1/<site>/state/<part>/<id>           …one space, desk, machine or device (part: spaces, desks, machines, devices)
 *
 * See docs/protocol.md.
 */
export const PROTOCOL_PREFIX = 'fac/v1';

export const UPLINK_CHANNELS = ['badge', 'occupancy', 'power', 'health', 'status'] as const;
export type UplinkChannel = (typeof UPLINK_CHANNELS)[number];
const UPLINK_SET: ReadonlySet<string> = new Set(UPLINK_CHANNELS);

export const deviceBase = (site: string, device: string): string => `${PROTOCOL_PREFIX}/${site}/d/${device}`;
export const uplinkTopic = (site: string, device: string, channel: UplinkChannel): string =>
  `${deviceBase(site, device)}/${channel}`;
export const commandTopic = (site: string, device: string, command: string): string =>
  `${deviceBase(site, device)}/cmd/${command}`;
export const commandFilter = (site: string, device: string): string => `${deviceBase(site, device)}/cmd/#`;
export const gatewayStatusTopic = (site: string): string => `${PROTOCOL_PREFIX}/${site}/gateway/status`;
/** Live state (core/usage/live.ts), retained, published only by the gateway; devices may not subscribe to it. */
export type StatePart = 'spaces' | 'desks' | 'machines' | 'devices';
export const stateFilter = (site: string): string => `${PROTOCOL_PREFIX}/${site}/state/#`;
export function stateTopic(site: string, part: 'site'): string;
export function stateTopic(site: string, part: StatePart, id: string): string;
export function stateTopic(site: string, part: StatePart | 'site', id?: string): string {
  return part === 'site' ? `${PROTOCOL_PREFIX}/${site}/state/site` : `${PROTOCOL_PREFIX}/${site}/state/${part}/${id ?? ''}`;
}
/** Where devices that answer requests (Shelly RPC `src`) send their replies: `<base>/rpc`. */
export const gatewayReplyBase = (site: string): string => `${PROTOCOL_PREFIX}/${site}/gateway`;

export type ParsedTopic =
  | { readonly type: 'uplink'; readonly site: string; readonly device: string; readonly channel: UplinkChannel }
  | { readonly type: 'command'; readonly site: string; readonly device: string; readonly command: string }
  | { readonly type: 'other' };

const OTHER: ParsedTopic = Object.freeze({ type: 'other' });

/** Parses a concrete (wildcard-free) topic. Anything not in the scheme is `other`. */
export function parseTopic(topic: string): ParsedTopic {
  const parts = topic.split('/');
  if (parts.length < 6 || parts[0] !== 'fac' || parts[1] !== 'v1' || parts[3] !== 'd') return OTHER;
  const site = parts[2]!;
  const device = parts[4]!;
  if (site === '' || device === '') return OTHER;
  if (parts.length === 6 && UPLINK_SET.has(parts[5]!)) {
    return { type: 'uplink', site, device, channel: parts[5] as UplinkChannel };
  }
  if (parts.length === 7 && parts[5] === 'cmd' && parts[6] !== '') {
    return { type: 'command', site, device, command: parts[6]! };
  }
  return OTHER;
}
