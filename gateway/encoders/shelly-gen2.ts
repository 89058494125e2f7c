/**
 * Commands to Shelly Gen2 / Plus switches: a JSON-RPC `Switch.Set` request on
 * `<prefix>/rpc` (Shelly API docs: "RPC Protocol", "Switch.Set"). `src` is
 * where the device publishes its reply (`<src>/rpc`), which the decoder's
 * policy lets it publish; `id` matches the reply to the request.
 */
import { commandQos, type CommandEncoder } from './types.js';

export const shellyGen2Encoder: CommandEncoder = {
  encode(device, command, ctx) {
    switch (command.type) {
      case 'power': {
        if (device.kind !== 'power-meter' || !device.mqtt) return null;
        const request = { id: ctx.requestId, src: ctx.replyTopicBase, method: 'Switch.Set', params: { id: 0, on: command.on } };
        return [{ topic: `${device.mqtt.topic}/rpc`, payload: JSON.stringify(request), qos: commandQos(command) }];
      }
      // Plugs only switch: the rest is for canonical readers and controllers.
      case 'unlock':
      case 'feedback':
      case 'session':
      case 'config':
        return null;
    }
  },
};
