/** Dispatch table: one decoder per wire format named in the site file. */
import type { DeviceFormat } from '../../core/site/model.js';
import { canonicalDecoder } from './canonical.js';
import { rdm6300Decoder } from './rdm6300.js';
import { shellyGen2Decoder } from './shelly-gen2.js';
import { tasmotaDecoder } from './tasmota.js';
import type { Decoder, MqttDecoder, SerialDecoder } from './types.js';
import { zigbee2mqttDecoder } from './zigbee2mqtt.js';
import { wiegand26Decoder } from './wiegand26.js';

export const DECODERS: Readonly<Partial<Record<DeviceFormat, Decoder>>> = Object.freeze({
  canonical: canonicalDecoder,
  tasmota: tasmotaDecoder,
  'shelly-gen2': shellyGen2Decoder,
  zigbee2mqtt: zigbee2mqttDecoder,
  rdm6300: rdm6300Decoder,
  wiegand26: wiegand26Decoder,
});

/** The MQTT decoder of a format; throws for serial formats (a site-file validation bug if reached). */
export function mqttDecoder(format: DeviceFormat): MqttDecoder {
  const d = DECODERS[format];
  if (!d || d.transport !== 'mqtt') throw new Error(`no MQTT decoder for format ${format}`);
  return d;
}

export function serialDecoder(format: DeviceFormat): SerialDecoder {
  const d = DECODERS[format];
  if (!d || d.transport !== 'serial') throw new Error(`no serial decoder for format ${format}`);
  return d;
}

export type { ConnectionPolicy, DecodeContext, DecodeResult, Decoder, MqttDecoder, PublishDecision, RejectReason, Route, SerialDecoder } from './types.js';
