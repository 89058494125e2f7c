/**
 * RDM6300-style 125 kHz EM4100 readers on a UART (9600 bps, 8N1, TTL levels).
 *
 * Frame, per the RDM630/RDM6300 module datasheet (see docs/devices.md, "Serial badge readers"):
 *
 *   0x02 | 10 ASCII hex characters: card data (5 bytes) | 2 ASCII hex characters: checksum | 0x03
 *
 * The checksum is the XOR of the five data bytes. Example: `02 "070067315809" 03` carries
 * data 07 00 67 31 58 (XOR = 0x09). Modules that repeat the frame while a card stays in the
 * field (every ~50 ms on the common variant) are debounced here.
 *
 * The id we keep is all 10 hex characters, upper-case (`0700673158`): the version/customer byte
 * and the 32-bit number (0x00673158 = 6762840, often printed on the fob in decimal). Keeping the
 * whole code, as the reader reports it, means one physical card is one id through this reader
 * type; the printed number alone can collide between cards of different customer bytes.
 *
 * Streaming rules:
 *  - bytes before an STX are noise: one `framing` read per noise run (reported when the next STX
 *    arrives), never buffered;
 *  - an STX inside a frame restarts the frame (`framing` for the abandoned part);
 *  - a frame holds at most 12 characters between STX and ETX: a 13th character that is not ETX
 *    is `framing`, and everything up to the next STX belongs to that same error;
 *  - non-hex characters are `framing`; a wrong checksum is `checksum`;
 *  - hex is accepted in either case.
 * Memory is constant: 12 bytes of frame plus a few counters, whatever arrives.
 */
import type { DeviceInfo } from '../../core/site/model.js';
import type { SerialDecoder, SerialParser, SerialRead } from './types.js';

const STX = 0x02;
const ETX = 0x03;
/** Characters between STX and ETX: 10 of data, 2 of checksum. */
const BODY_CHARS = 12;
/** Longest frame on the wire, STX and ETX included. */
export const RDM6300_FRAME_BYTES = BODY_CHARS + 2;
export const DEFAULT_DEBOUNCE_MS = 1000;
/** Bytes of the offending input attached to a rejection, at most. */
const MAX_REJECT_BYTES = 64;

export interface Rdm6300ParserOptions {
  /**
   * The same card seen again within this many ms of its *last* sighting is the same
   * presentation, not a new read (default 1000). A different card is always a new read.
   */
  readonly debounceMs?: number;
}

/**
 * A rejection, with the bytes that caused it attached as `bytes` (not part of SerialRead;
 * gateway/serial/readers.ts passes them to onReject when present).
 */
function reject(reason: 'checksum' | 'framing', detail: string, bytes: Uint8Array): SerialRead {
  const r = { ok: false as const, reason, detail, bytes: bytes.slice(0, MAX_REJECT_BYTES) };
  return r;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

export class Rdm6300Parser implements SerialParser {
  private readonly debounceMs: number;
  private readonly body = new Uint8Array(BODY_CHARS);
  private len = 0;
  private inFrame = false;
  /** Bytes seen outside a frame since the last one ended. */
  private noise = 0;
  /** The noise run belongs to an error already reported (overflow): do not report it again. */
  private noiseReported = false;
  /** First bytes of the current noise run, for the rejection's `bytes`. */
  private readonly noiseHead = new Uint8Array(MAX_REJECT_BYTES);
  private last: { id: string; at: number } | null = null;

  constructor(opts: Rdm6300ParserOptions = {}) {
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  }

  push(chunk: Uint8Array, now: number): SerialRead[] {
    const out: SerialRead[] = [];
    for (const b of chunk) {
      if (!this.inFrame) {
        if (b === STX) {
          this.endNoise(out);
          this.inFrame = true;
          this.len = 0;
        } else {
          if (this.noise < MAX_REJECT_BYTES) this.noiseHead[this.noise] = b;
          this.noise++;
        }
        continue;
      }
      if (b === STX) {
        out.push(reject('framing', `STX after ${this.len} of ${BODY_CHARS} characters; frame restarted`, this.frameBytes(false)));
        this.len = 0;
      } else if (b === ETX) {
        this.inFrame = false;
        const r = this.complete(now);
        if (r) out.push(r);
      } else if (this.len === BODY_CHARS) {
        // [datasheet] ETX follows the 12th character: anything else means we lost sync.
        out.push(reject('framing', `no ETX after ${BODY_CHARS} characters (got 0x${b.toString(16).padStart(2, '0')})`, this.frameBytes(false)));
        this.inFrame = false;
        this.noiseReported = true;
        this.noise = 1;
        this.noiseHead[0] = b;
      } else {
        this.body[this.len++] = b;
      }
    }
    return out;
  }

  private frameBytes(withEtx: boolean): Uint8Array {
    const f = new Uint8Array(this.len + (withEtx ? 2 : 1));
    f[0] = STX;
    f.set(this.body.subarray(0, this.len), 1);
    if (withEtx) f[f.length - 1] = ETX;
    return f;
  }

  private endNoise(out: SerialRead[]): void {
    if (this.noise > 0 && !this.noiseReported) {
      out.push(reject('framing', `${this.noise} byte(s) of noise outside a frame`, this.noiseHead.subarray(0, Math.min(this.noise, MAX_REJECT_BYTES))));
    }
    this.noise = 0;
    this.noiseReported = false;
  }

  private complete(now: number): SerialRead | null {
    const bytes = this.frameBytes(true);
    if (this.len !== BODY_CHARS) return reject('framing', `ETX after ${this.len} characters, expected ${BODY_CHARS}`, bytes);
    const v = new Array<number>(6);
    for (let i = 0; i < 6; i++) {
      const hi = hexValue(this.body[2 * i]!);
      const lo = hexValue(this.body[2 * i + 1]!);
      if (hi < 0 || lo < 0) return reject('framing', `non-hex character in frame ${hex(bytes)}`, bytes);
      v[i] = (hi << 4) | lo;
    }
    const x = v[0]! ^ v[1]! ^ v[2]! ^ v[3]! ^ v[4]!;
    if (x !== v[5]) {
      return reject('checksum', `checksum 0x${v[5]!.toString(16).padStart(2, '0')} but data XOR is 0x${x.toString(16).padStart(2, '0')}`, bytes);
    }
    let id = '';
    for (let i = 0; i < 5; i++) id += v[i]!.toString(16).toUpperCase().padStart(2, '0');
    return this.debounce(id, now) ? { ok: true, credential: { format: 'em4100', id } } : null;
  }

  /** True when this sighting is a new read. The window runs from the card's last sighting. */
  private debounce(id: string, now: number): boolean {
    const last = this.last;
    this.last = { id, at: now };
    // A clock step backwards counts as "within the window" rather than a new presentation.
    return !(last !== null && last.id === id && now - last.at <= this.debounceMs);
  }
}

export function createRdm6300Parser(opts?: Rdm6300ParserOptions): Rdm6300Parser {
  return new Rdm6300Parser(opts);
}

export const rdm6300Decoder: SerialDecoder = {
  transport: 'serial',
  createParser(_device: DeviceInfo): SerialParser {
    return new Rdm6300Parser();
  },
};
