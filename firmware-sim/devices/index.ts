/** One simulated device family per wire format. */
import type { DeviceFormat } from '../../core/site/model.js';
import { CanonicalDevice } from './canonical.js';
import { rdm6300SimFactory, wiegand26SimFactory } from './serial-reader.js';
import { createShellyPlug } from './shelly-gen2.js';
import { createTasmotaPlug } from './tasmota.js';
import type { SimDeviceFactory } from './types.js';
import { createZigbee2mqttSensor } from './zigbee2mqtt.js';

export const SIM_DEVICES: Readonly<Partial<Record<DeviceFormat, SimDeviceFactory>>> = Object.freeze({
  tasmota: createTasmotaPlug,
  'shelly-gen2': createShellyPlug,
  zigbee2mqtt: createZigbee2mqttSensor,
  canonical: (o) =>
    new CanonicalDevice({
      site: o.site.id,
      device: o.device,
      secret: o.secret ?? '',
      brokerUrl: o.brokerUrl,
      boot: o.boot,
      clock: o.clock,
      logger: o.logger,
      ...(o.connect && { connect: o.connect }),
      ...(o.connectTimeoutMs !== undefined && { connectTimeoutMs: o.connectTimeoutMs }),
      ...(o.energyKwh !== undefined && { energyKwh: o.energyKwh }),
    }),
  rdm6300: rdm6300SimFactory,
  wiegand26: wiegand26SimFactory,
});

export type { SimDevice, SimDeviceFactory, SimDeviceOptions } from './types.js';
