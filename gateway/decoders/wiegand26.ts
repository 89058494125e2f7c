/**
 * Wiegand-26 (HID H10301) card numbers delivered through a Wiegand-to-serial converter.
 *
 * Wiegand itself is two wires (DATA0/DATA1) of pulses, not a serial line; a converter
 * (a microcontroller or a commercial Wiegand-to-RS232/USB box) turns each card into one text
 * line. The line format we accept (docs/devices.md, "Wiegand-26 line format"):
 *
 *   line       = [ "W26:" ] 26 * ( "0" / "1" ) terminator
 *   terminator = CR / LF / CR LF
 *
 *  - the bits are in wire order: bit 1 (the first sent) first;
 *  - the prefix is optional and exactly the four ASCII characters `W26:` (upper-case W, no spaces);
 *  - nothing else on the line: no spaces, no tabs, no other prefix or suffix;
 *  - empty lines (e.g. the LF of a CR LF) are ignored.
 *
 * Bit layout (H10301): bit 1 = even parity over bits 2–13; bits 2–9 = facility code (8 bits,
 * most significant first); bits 10–25 = card number (16 bits, most significant first);
 * bit 26 = odd parity over bits 14–25. Reference: facility 90, card 324 is
 * `00101101000000001010001000`, id `90:324`.
 *
 * Rejections: a line of the wrong length or with other characters is `framing`; a parity bit
 * that does not match is `parity`; a line longer than the longest valid one (30 characters) is
 * `oversize` once, and its remainder is skipped up to the next terminator. Memory is constant.
 */
import type { DeviceInfo } from '../../core/site/model.js';
import type { SerialDecoder, SerialParser, SerialRead } from './types.js';

const CR = 0x0d;
const LF = 0x0a;
const ZERO = 0x30;
const ONE = 0x31;
export const WIEGAND26_PREFIX = 'W26:';
const BITS = 26;
/** The longest valid line, prefix included, terminator excluded. */
export const WIEGAND26_MAX_LINE = WIEGAND26_PREFIX.length + BITS;
export const DEFAULT_DEBOUNCE_MS = 1000;
/** Bytes of the offending input attached to a rejection, at most. */
const MAX_REJECT_BYTES = 64;

export interface Wiegand26ParserOptions {
  /** The same card seen again within this many ms of its last sighting is not a new read (default 1000). */
  readonly debounceMs?: number;
}

function reject(reason: 'parity' | 'framing' | 'oversize', detail: string, bytes: Uint8Array): SerialRead {
  const r = { ok: false as const, reason, detail, bytes: bytes.slice(0, MAX_REJECT_BYTES) };
  return r;
}

const printable = (b: Uint8Array): string => JSON.stringify(Buffer.from(b).toString('latin1'));

export class Wiegand26Parser implements SerialParser {
  private readonly debounceMs: number;
  private readonly line = new Uint8Array(WIEGAND26_MAX_LINE);
  private len = 0;
  /** The current line overflowed (already reported): skip to the next terminator. */
  private skipping = false;
  private last: { id: string; at: number } | null = null;

  constructor(opts: Wiegand26ParserOptions = {}) {
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  }

  push(chunk: Uint8Array, now: number): SerialRead[] {
    const out: SerialRead[] = [];
    for (const b of chunk) {
      if (b === CR || b === LF) {
        if (this.skipping) this.skipping = false;
        else if (this.len > 0) {
          const r = this.complete(now);
          if (r) out.push(r);
        }
        this.len = 0;
      } else if (this.skipping) {
        continue;
      } else if (this.len === WIEGAND26_MAX_LINE) {
        const head = this.line.slice();
        out.push(reject('oversize', `line longer than ${WIEGAND26_MAX_LINE} characters: ${printable(head)}…`, head));
        this.skipping = true;
        this.len = 0;
      } else {
        this.line[this.len++] = b;
      }
    }
    return out;
  }

  private complete(now: number): SerialRead | null {
    let bytes = this.line.subarray(0, this.len);
    const raw = bytes.slice();
    if (bytes.length >= WIEGAND26_PREFIX.length && Buffer.from(bytes.subarray(0, WIEGAND26_PREFIX.length)).toString('latin1') === WIEGAND26_PREFIX) {
      bytes = bytes.subarray(WIEGAND26_PREFIX.length);
    }
    if (bytes.length !== BITS) return reject('framing', `${bytes.length} characters where 26 bits were expected: ${printable(raw)}`, raw);
    let even = 0;
    let odd = 0;
    let facility = 0;
    let card = 0;
    for (let i = 0; i < BITS; i++) {
      const c = bytes[i]!;
      if (c !== ZERO && c !== ONE) return reject('framing', `character ${printable(bytes.subarray(i, i + 1))} at bit ${i + 1}: ${printable(raw)}`, raw);
      const bit = c - ZERO;
      // [H10301] bit 1 + bits 2–13 even; bits 14–25 + bit 26 odd (i is bit number − 1).
      if (i <= 12) even += bit;
      if (i >= 13) odd += bit;
      if (i >= 1 && i <= 8) facility = (facility << 1) | bit;
      if (i >= 9 && i <= 24) card = (card << 1) | bit;
    }
    const evenOk = even % 2 === 0;
    const oddOk = odd % 2 === 1;
    if (!evenOk || !oddOk) {
      const which = [!evenOk && 'leading even parity (bit 1)', !oddOk && 'trailing odd parity (bit 26)'].filter(Boolean).join(' and ');
      return reject('parity', `${which} wrong: ${printable(raw)}`, raw);
    }
    const id = `${facility}:${card}`;
    return this.debounce(id, now) ? { ok: true, credential: { format: 'wiegand26', id } } : null;
  }

  /** True when this sighting is a new read. The window runs from the card's last sighting. */
  private debounce(id: string, now: number): boolean {
    const last = this.last;
    this.last = { id, at: now };
    // A clock step backwards counts as "within the window" rather than a new presentation.
    return !(last !== null && last.id === id && now - last.at <= this.debounceMs);
  }
}

export function createWiegand26Parser(opts?: Wiegand26ParserOptions): Wiegand26Parser {
  return new Wiegand26Parser(opts);
}

export const wiegand26Decoder: SerialDecoder = {
  transport: 'serial',
  createParser(_device: DeviceInfo): SerialParser {
    return new Wiegand26Parser();
  },
};
