/**
 * Commands out: one encoder per wire format that takes commands. The gateway
 * is the only publisher of commands (the ACL refuses them from clients).
 */
import type { DeviceInfo, Site } from '../../core/site/model.js';

export type DeviceCommand =
  /** Switch a plug or interlock relay. */
  | { readonly type: 'power'; readonly on: boolean }
  /** Unlock a door for a while (canonical door controllers). */
  | { readonly type: 'unlock'; readonly durationMs: number }
  /** What a reader shows after a swipe: LED, beeps and a short text (canonical readers and controllers). */
  | { readonly type: 'feedback'; readonly grant: boolean; readonly reason: string; readonly led: string; readonly beeps: number; readonly text: { readonly en: string; readonly zh: string } }
  /** The machine session protocol (canonical machine readers): granted with an id and the longest run, denied with a reason, a warning before it ends, ended. */
  | {
      readonly type: 'session';
      readonly state: 'granted' | 'denied' | 'warning' | 'ended';
      readonly sessionId: string | null;
      readonly memberId: string | null;
      readonly maxRunMs: number | null;
      readonly reason: string;
      /** What the reader shows, in both languages. */
      readonly text: { readonly en: string; readonly zh: string };
    }
  /** A controller's configuration, retained: it reads it again only when `version` changes. */
  | { readonly type: 'config'; readonly version: string; readonly config: Readonly<Record<string, unknown>> };

/**
 * Delivery QoS of a command. What only makes sense now — open a door, power a
 * machine on, tell the member at the reader — goes QoS 0: a broker keeps
 * nothing of it for a device that is away (MQTT 3.1.1 queues only QoS 1 and 2
 * for offline persistent sessions), so no door opens and no machine starts
 * minutes later when its device reconnects. Switching a machine off is safe
 * whenever it arrives and goes QoS 1, as does the retained configuration.
 */
export function commandQos(command: DeviceCommand): 0 | 1 {
  switch (command.type) {
    case 'power':
      return command.on ? 0 : 1;
    case 'config':
      return 1;
    case 'unlock':
    case 'feedback':
    case 'session':
      return 0;
  }
}

export interface EncodedCommand {
  readonly topic: string;
  readonly payload: string;
  readonly qos: 0 | 1;
  readonly retain?: boolean;
}

export interface EncodeContext {
  readonly site: Site;
  /** Increases per command, for formats whose requests carry an id (Shelly RPC). */
  readonly requestId: number;
  /** Where a device's reply to a request goes, for formats that reply (Shelly RPC `src`). */
  readonly replyTopicBase: string;
}

export interface CommandEncoder {
  /** The messages that carry `command` to `device`, or null when the format cannot do it. */
  encode(device: DeviceInfo, command: DeviceCommand, ctx: EncodeContext): readonly EncodedCommand[] | null;
}
