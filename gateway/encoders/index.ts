/** Dispatch table: one command encoder per wire format that takes commands. */
import type { DeviceFormat } from '../../core/site/model.js';
import { canonicalEncoder } from './canonical.js';
import { shellyGen2Encoder } from './shelly-gen2.js';
import { tasmotaEncoder } from './tasmota.js';
import type { CommandEncoder } from './types.js';

export const ENCODERS: Readonly<Partial<Record<DeviceFormat, CommandEncoder>>> = Object.freeze({
  canonical: canonicalEncoder,
  tasmota: tasmotaEncoder,
  'shelly-gen2': shellyGen2Encoder,
});

export type { CommandEncoder, DeviceCommand, EncodeContext, EncodedCommand } from './types.js';
