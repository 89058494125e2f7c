/** Dispatch table: one command encoder per wire format that takes commands. */
import type { DeviceFormat } from '../../core/site/model.js';
import { canonicalEncoder } from './canonical.js';
import type { CommandEncoder } from './types.js';

export const ENCODERS: Readonly<Partial<Record<DeviceFormat, CommandEncoder>>> = Object.freeze({
  canonical: canonicalEncoder,
});

export type { CommandEncoder, DeviceCommand, EncodeContext, EncodedCommand } from './types.js';
