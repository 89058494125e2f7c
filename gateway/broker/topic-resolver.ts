/**
 * Topic → device, for a gateway that consumes an external broker's messages:
 * there is no connection to say who sent a message, only its topic. Each MQTT
 * device's decoder lists the filters its uplinks use (MqttDecoder.uplinkFilters)
 * and compiles its ConnectionPolicy once; a received topic goes to the devices
 * whose filters match it, and exactly one of their policies must allow it.
 *
 * Exact topics (every canonical device) are one map lookup; wildcard filters
 * (Tasmota, Shelly, a Zigbee2MQTT bridge) are few and tried in turn.
 */
import { minimalFilters, topicMatches } from '../../core/protocol/mqtt-filter.js';
import type { DeviceInfo, Site } from '../../core/site/model.js';
import { mqttDecoder, type ConnectionPolicy, type PublishDecision } from '../decoders/index.js';
import type { AclReason } from '../../core/protocol/acl.js';

/** Why a received message has no single device. */
export type UnresolvedReason =
  /** No device of the site publishes on this topic (the broker let through something we did not subscribe to). */
  | 'no_device'
  /** A device's filter matches, but its policy refuses the topic (e.g. a retained message where none may be). */
  | 'refused'
  /** Two or more devices may publish it (e.g. the reply topic all Shelly plugs share). */
  | 'ambiguous';

export type Resolution =
  | { readonly ok: true; readonly device: DeviceInfo; readonly decision: Extract<PublishDecision, { ok: true }> }
  | { readonly ok: false; readonly reason: UnresolvedReason; readonly detail: string; readonly acl?: AclReason };

interface Candidate {
  readonly device: DeviceInfo;
  readonly policy: ConnectionPolicy;
}

export class TopicResolver {
  private readonly exact = new Map<string, Candidate[]>();
  private readonly wildcard: { readonly filter: string; readonly candidate: Candidate }[] = [];
  /** Every uplink filter of the site, without duplicates or filters covered by others. */
  readonly filters: readonly string[];

  constructor(site: Site) {
    const all: string[] = [];
    for (const device of site.devices.values()) {
      // Devices with their own MQTT connection; a bridged sensor is reached through its bridge's filters.
      if (device.mqtt === null || device.serial !== null) continue;
      const decoder = mqttDecoder(device.format);
      const candidate: Candidate = { device, policy: decoder.connection(device, site) };
      for (const filter of decoder.uplinkFilters(device, site)) {
        all.push(filter);
        if (/[+#]/.test(filter)) {
          this.wildcard.push({ filter, candidate });
        } else {
          const list = this.exact.get(filter);
          if (list) list.push(candidate);
          else this.exact.set(filter, [candidate]);
        }
      }
    }
    this.filters = Object.freeze(minimalFilters(all));
  }

  /**
   * The device a message on `topic` came from, and the route its policy gives
   * (route null: allowed, nothing to record). `retain` is the flag as the broker
   * delivered it.
   */
  resolve(topic: string, retain: boolean): Resolution {
    let found: Resolution | null = null;
    // By device: two filters of one device matching the same topic are still one device.
    const allowedBy = new Set<string>();
    let firstRefusal: AclReason | undefined;
    let matched = 0;
    const consider = (c: Candidate) => {
      matched++;
      if (allowedBy.has(c.device.id)) return;
      const d = c.policy.publish(topic, retain);
      if (!d.ok) {
        firstRefusal ??= d.reason;
        return;
      }
      allowedBy.add(c.device.id);
      found = { ok: true, device: c.device, decision: d };
    };
    for (const c of this.exact.get(topic) ?? []) consider(c);
    for (const w of this.wildcard) if (topicMatches(w.filter, topic)) consider(w.candidate);
    if (allowedBy.size === 1 && found) return found;
    if (allowedBy.size > 1) return { ok: false, reason: 'ambiguous', detail: `${allowedBy.size} devices may publish on ${topic}: ${[...allowedBy].join(', ')}` };
    if (matched === 0) return { ok: false, reason: 'no_device', detail: `no device of the site publishes on ${topic}` };
    return { ok: false, reason: 'refused', detail: `refused by the device's topic rules (${firstRefusal ?? 'unknown'})`, ...(firstRefusal !== undefined && { acl: firstRefusal }) };
  }
}
