/** Commands to OpenFacility's canonical devices: fac/v1/<site>/d/<device>/cmd/<command> (docs/protocol.md). */
import { commandTopic } from '../../core/protocol/topics.js';
import type { CommandEncoder } from './types.js';

export const canonicalEncoder: CommandEncoder = {
  encode(device, command, ctx) {
    switch (command.type) {
      case 'power':
        if (device.kind !== 'power-meter') return null;
        return [{ topic: commandTopic(ctx.site.id, device.id, 'power'), payload: JSON.stringify({ on: command.on }), qos: 1 }];
      case 'unlock':
        if (device.kind !== 'door-controller') return null;
        return [{ topic: commandTopic(ctx.site.id, device.id, 'unlock'), payload: JSON.stringify({ durationMs: command.durationMs }), qos: 1 }];
    }
  },
};
