/** Dispatch table: one decoder per wire format named in the site file. */
import type { DeviceFormat } from '../../core/site/model.js';
import { canonicalDecoder } from './canonical.js';
import type { Decoder } from './types.js';

export const DECODERS: Readonly<Record<DeviceFormat, Decoder>> = Object.freeze({
  canonical: canonicalDecoder,
});

export type { DecodeContext, DecodeResult, Decoder, RejectReason } from './types.js';
