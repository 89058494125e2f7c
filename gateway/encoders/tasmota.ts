/**
 * Commands to Tasmota-flashed plugs: `cmnd/<topic>/POWER` with `ON` or `OFF`
 * (https://tasmota.github.io/docs/Commands/#power; topic layout as in
 * ../decoders/tasmota.ts). The plug answers on `stat/<topic>/RESULT` and
 * `stat/<topic>/POWER`. Only the relay can be switched; there is no unlock.
 */
import { tasmotaTopics } from '../decoders/tasmota.js';
import { commandQos, type CommandEncoder } from './types.js';

export const tasmotaEncoder: CommandEncoder = {
  encode(device, command) {
    switch (command.type) {
      case 'power':
        if (device.kind !== 'power-meter' || !device.mqtt) return null;
        // `POWER` is relay 1 (the metered one on a plug); the command name is case-insensitive.
        return [{ topic: `${tasmotaTopics(device.mqtt.topic).cmnd}POWER`, payload: command.on ? 'ON' : 'OFF', qos: commandQos(command) }];
      // Plugs only switch: the rest is for canonical readers and controllers.
      case 'unlock':
      case 'feedback':
      case 'session':
      case 'config':
        return null;
    }
  },
};
