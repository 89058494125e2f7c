/**
 * Commands out: one encoder per wire format that takes commands. The gateway
 * is the only publisher of commands (the ACL refuses them from clients).
 */
import type { DeviceInfo, Site } from '../../core/site/model.js';

export type DeviceCommand =
  /** Switch a plug or interlock relay. */
  | { readonly type: 'power'; readonly on: boolean }
  /** Unlock a door for a while (canonical door controllers). */
  | { readonly type: 'unlock'; readonly durationMs: number };

export interface EncodedCommand {
  readonly topic: string;
  readonly payload: string;
  readonly qos: 0 | 1;
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
