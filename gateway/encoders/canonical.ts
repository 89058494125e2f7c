/** Commands to OpenFacility's canonical devices: fac/v1/<site>/d/<device>/cmd/<command> (docs/protocol.md). */
import { commandTopic } from '../../core/protocol/topics.js';
import { commandQos, type CommandEncoder } from './types.js';

export const canonicalEncoder: CommandEncoder = {
  encode(device, command, ctx) {
    const qos = commandQos(command);
    switch (command.type) {
      case 'power':
        if (device.kind !== 'power-meter') return null;
        return [{ topic: commandTopic(ctx.site.id, device.id, 'power'), payload: JSON.stringify({ on: command.on }), qos }];
      case 'unlock':
        if (device.kind !== 'door-controller') return null;
        return [{ topic: commandTopic(ctx.site.id, device.id, 'unlock'), payload: JSON.stringify({ durationMs: command.durationMs }), qos }];
      case 'feedback':
        if (device.kind !== 'badge-reader' && device.kind !== 'door-controller') return null;
        return [
          {
            topic: commandTopic(ctx.site.id, device.id, 'feedback'),
            payload: JSON.stringify({ grant: command.grant, reason: command.reason, led: command.led, beeps: command.beeps, text: command.text }),
            qos,
          },
        ];
      case 'session':
        if (device.kind !== 'badge-reader') return null;
        return [
          {
            topic: commandTopic(ctx.site.id, device.id, 'session'),
            payload: JSON.stringify({ state: command.state, sessionId: command.sessionId, memberId: command.memberId, maxRunMs: command.maxRunMs, reason: command.reason, text: command.text }),
            qos,
          },
        ];
      case 'config':
        if (device.kind !== 'badge-reader' && device.kind !== 'door-controller') return null;
        return [{ topic: commandTopic(ctx.site.id, device.id, 'config'), payload: JSON.stringify({ version: command.version, ...command.config }), qos, retain: true }];
    }
  },
};
