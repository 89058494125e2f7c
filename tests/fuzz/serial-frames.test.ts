/**
 * Fuzz (issue 11 "Hostile input", catalogue B10): the serial readers' frame
 * parsers (gateway/decoders/rdm6300.ts, wiegand26.ts) against an independent
 * reference reading of the same bytes.
 *
 * The unit tests (tests/unit/rdm6300.test.ts, wiegand26.test.ts) check that a
 * read always validates. Here the property is exact: for streams of valid,
 * corrupted, truncated and merged frames, noise, stray STX/ETX and overlong
 * lines, cut into random chunks, the parser yields exactly the reads a
 * reference scan of the whole stream finds, in order; every other complete
 * frame or line is one rejection with a reason; nothing throws; and a
 * megabyte of random bytes in random chunks leaves it reading the next card.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRdm6300Parser, RDM6300_FRAME_BYTES } from '../../gateway/decoders/rdm6300.js';
import type { SerialParser, SerialRead } from '../../gateway/decoders/types.js';
import { createWiegand26Parser, WIEGAND26_MAX_LINE } from '../../gateway/decoders/wiegand26.js';
import { check } from './support.js';

const STX = 0x02;
const ETX = 0x03;
// A negative debounce turns it off (now never goes backwards here), so reads compare one to one.
const NO_DEBOUNCE = { debounceMs: -1 };

/** Cuts a stream at the given points (any order, duplicates fine). */
function chunked(stream: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of [...points, stream.length]) {
    out.push(stream.subarray(at, c));
    at = c;
  }
  return out;
}

function feed(p: SerialParser, stream: Uint8Array, cuts: readonly number[]): SerialRead[] {
  return chunked(stream, cuts).flatMap((c, i) => p.push(c, 1000 + i));
}

const ids = (reads: readonly SerialRead[]): string[] => reads.flatMap((r) => (r.ok ? [r.credential.id] : []));

// ---------------------------------------------------------------------------------------------
// RDM6300: STX, 10 hex data + 2 hex checksum (XOR of the 5 data bytes), ETX

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

function rdmFrame(data: readonly number[], opts: { lower?: boolean; badSum?: boolean } = {}): Buffer {
  let sum = data.reduce((x, b) => x ^ b, 0);
  if (opts.badSum === true) sum ^= 0x5a;
  let body = data.map(hex2).join('') + hex2(sum);
  body = opts.lower === true ? body.toLowerCase() : body.toUpperCase();
  return Buffer.concat([Buffer.from([STX]), Buffer.from(body, 'latin1'), Buffer.from([ETX])]);
}

/** The reference: every STX + 12 hex characters + ETX whose checksum holds, in stream order. */
function rdmReference(stream: Uint8Array): { reads: string[]; frames: number } {
  const text = Buffer.from(stream).toString('latin1');
  const reads: string[] = [];
  for (const m of text.matchAll(/\x02([0-9A-Fa-f]{10})([0-9A-Fa-f]{2})\x03/g)) {
    const data = Buffer.from(m[1]!, 'hex');
    if (data.reduce((x, b) => x ^ b, 0) === parseInt(m[2]!, 16)) reads.push(m[1]!.toUpperCase());
  }
  // Frames the parser must account for: every ETX that closes an STX (complete frames, good or bad).
  const frames = [...text.matchAll(/\x02[^\x02\x03]{0,12}\x03/g)].length;
  return { reads, frames };
}

const cardData = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 5, maxLength: 5 });

const rdmSegment: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: cardData.map((d) => rdmFrame(d)) },
  { weight: 1, arbitrary: cardData.map((d) => rdmFrame(d, { lower: true })) },
  { weight: 1, arbitrary: cardData.map((d) => rdmFrame(d, { badSum: true })) },
  // one byte of a valid frame replaced (bit errors on the line)
  {
    weight: 2,
    arbitrary: fc.tuple(cardData, fc.nat(RDM6300_FRAME_BYTES - 1), fc.integer({ min: 0, max: 255 })).map(([d, i, v]) => {
      const f = rdmFrame(d);
      f[i] = v;
      return f;
    }),
  },
  // truncated (a reader unplugged mid-frame), then whatever follows
  { weight: 1, arbitrary: fc.tuple(cardData, fc.nat(RDM6300_FRAME_BYTES - 1)).map(([d, n]) => rdmFrame(d).subarray(0, n)) },
  // a frame with extra characters before its ETX
  { weight: 1, arbitrary: fc.tuple(cardData, fc.uint8Array({ minLength: 1, maxLength: 20 })).map(([d, extra]) => { const f = rdmFrame(d); return Buffer.concat([f.subarray(0, 13), Buffer.from(extra), f.subarray(13)]); }) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from([STX]), Buffer.from([ETX]), Buffer.from([STX, ETX]), Buffer.from('0123456789ABCDEF', 'latin1')) },
);

describe('RDM6300 frames', () => {
  it('yields exactly the frames a reference scan validates, in order, in any chunking; one outcome per closed frame', () => {
    let reads = 0;
    let rejects = 0;
    check(
      fc.property(fc.array(rdmSegment, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 12 }), (segments, cuts) => {
        const stream = Buffer.concat(segments);
        const out = feed(createRdm6300Parser(NO_DEBOUNCE), stream, cuts);
        const ref = rdmReference(stream);
        reads += ref.reads.length;
        rejects += out.length - ref.reads.length;
        expect(ids(out)).toEqual(ref.reads);
        for (const r of out) if (!r.ok) expect(['checksum', 'framing']).toContain(r.reason);
        // Each closed frame is a read or a rejection (noise and restarts may add rejections, never remove them).
        expect(out.length).toBeGreaterThanOrEqual(ref.frames);
      }),
      0x5e41_0001,
      6000,
    );
    expect(reads).toBeGreaterThan(5000);
    expect(rejects).toBeGreaterThan(5000);
  });

  it('debounces per card but never invents a read: reads ⊆ reference, order kept', () => {
    check(
      fc.property(fc.array(rdmSegment, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 0, max: 5000 }), (segments, cuts, debounceMs) => {
        const stream = Buffer.concat(segments);
        const got = ids(feed(createRdm6300Parser({ debounceMs }), stream, cuts));
        const ref = rdmReference(stream).reads;
        // got is a subsequence of ref
        let j = 0;
        for (const id of got) {
          while (j < ref.length && ref[j] !== id) j++;
          expect(j).toBeLessThan(ref.length);
          j++;
        }
      }),
      0x5e41_0002,
      3000,
    );
  });

  it('a megabyte of random bytes in random chunks: no exception, bounded rejections, and the next card reads', () => {
    const bytes = Buffer.from(fc.sample(fc.uint8Array({ minLength: 65_536, maxLength: 65_536 }), { numRuns: 16, seed: 0x5e41_0003 }).flatMap((a) => [...a]));
    expect(bytes.length).toBe(1_048_576);
    const p = createRdm6300Parser(NO_DEBOUNCE);
    let outcomes = 0;
    const cuts = fc.sample(fc.integer({ min: 1, max: 4096 }), { numRuns: 2000, seed: 0x5e41_0004 });
    let at = 0;
    for (let i = 0; at < bytes.length; i++) {
      const n = cuts[i % cuts.length]!;
      const out = p.push(bytes.subarray(at, at + n), i);
      for (const r of out) if (r.ok) expect(rdmReference(bytes).reads).toContain(r.credential.id);
      outcomes += out.length;
      at += n;
    }
    // At most one outcome per STX or ETX in the input (noise runs are reported once each).
    const markers = bytes.reduce((n, b) => n + (b === STX || b === ETX ? 1 : 0), 0);
    expect(outcomes).toBeLessThanOrEqual(markers + 1);
    const reads = p.push(rdmFrame([0x07, 0x00, 0x67, 0x31, 0x58]), 1e9);
    expect(ids(reads)).toEqual(['0700673158']);
  });
});

// ---------------------------------------------------------------------------------------------
// Wiegand-26 lines: [W26:] 26 × 0/1, CR and/or LF

function w26Bits(facility: number, card: number): string {
  const data = facility.toString(2).padStart(8, '0') + card.toString(2).padStart(16, '0');
  const ones = (s: string): number => [...s].filter((c) => c === '1').length;
  const even = ones(data.slice(0, 12)) % 2 === 0 ? '0' : '1';
  const odd = ones(data.slice(12)) % 2 === 0 ? '1' : '0';
  return even + data + odd;
}

/** The reference: split on CR/LF; each terminated line of the right form with both parities right is a read. */
function w26Reference(stream: Uint8Array): { reads: string[]; outcomes: number } {
  const text = Buffer.from(stream).toString('latin1');
  const parts = text.split(/[\r\n]/);
  const tail = parts.pop()!; // not terminated: not complete
  const reads: string[] = [];
  let outcomes = 0;
  for (const line of parts) {
    if (line.length === 0) continue;
    outcomes++;
    if (line.length > WIEGAND26_MAX_LINE) continue;
    const m = /^(?:W26:)?([01]{26})$/.exec(line);
    if (!m) continue;
    const b = m[1]!;
    const ones = (s: string): number => [...s].filter((c) => c === '1').length;
    if (ones(b.slice(0, 13)) % 2 !== 0 || ones(b.slice(13)) % 2 !== 1) continue;
    reads.push(`${parseInt(b.slice(1, 9), 2)}:${parseInt(b.slice(9, 25), 2)}`);
  }
  if (tail.length > WIEGAND26_MAX_LINE) outcomes++; // reported as oversize before its end arrives
  return { reads, outcomes };
}

const card = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 65535 }));
const eol = fc.constantFrom('\n', '\r', '\r\n', '\n\n');

const w26Segment: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.boolean(), card, eol).map(([prefix, [f, c], e]) => Buffer.from(`${prefix ? 'W26:' : ''}${w26Bits(f, c)}${e}`, 'latin1')) },
  // one bit flipped: a parity error
  {
    weight: 2,
    arbitrary: fc.tuple(card, fc.nat(25), eol).map(([[f, c], i, e]) => {
      const b = [...w26Bits(f, c)];
      b[i] = b[i] === '0' ? '1' : '0';
      return Buffer.from(`${b.join('')}${e}`, 'latin1');
    }),
  },
  // a character replaced, dropped or added
  { weight: 2, arbitrary: fc.tuple(card, fc.nat(29), fc.integer({ min: 0, max: 255 }), eol).map(([[f, c], i, v, e]) => { const b = Buffer.from(`W26:${w26Bits(f, c)}`, 'latin1'); b[i % b.length] = v; return Buffer.concat([b, Buffer.from(e)]); }) },
  { weight: 1, arbitrary: fc.tuple(card, fc.nat(25)).map(([[f, c], n]) => Buffer.from(w26Bits(f, c).slice(0, n), 'latin1')) },
  { weight: 1, arbitrary: fc.tuple(card, eol).map(([[f, c], e]) => Buffer.from(` ${w26Bits(f, c)}${e}`, 'latin1')) },
  // overlong lines, terminated or not
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 31, max: 400 }), fc.boolean()).map(([n, end]) => Buffer.from(`${'1'.repeat(n)}${end ? '\n' : ''}`, 'latin1')) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: eol.map((e) => Buffer.from(e, 'latin1')) },
);

describe('Wiegand-26 lines', () => {
  it('yields exactly the lines a reference split validates, in order, in any chunking; one outcome per complete line', () => {
    let reads = 0;
    let rejects = 0;
    check(
      fc.property(fc.array(w26Segment, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 12 }), (segments, cuts) => {
        const stream = Buffer.concat(segments);
        const out = feed(createWiegand26Parser(NO_DEBOUNCE), stream, cuts);
        const ref = w26Reference(stream);
        reads += ref.reads.length;
        rejects += out.length - ref.reads.length;
        expect(ids(out)).toEqual(ref.reads);
        expect(out.length).toBe(ref.outcomes);
        for (const r of out) if (!r.ok) expect(['parity', 'framing', 'oversize']).toContain(r.reason);
      }),
      0x3926_0001,
      6000,
    );
    expect(reads).toBeGreaterThan(5000);
    expect(rejects).toBeGreaterThan(5000);
  });

  it('a megabyte of random bytes in random chunks: no exception, one outcome per line at most, and the next card reads', () => {
    const bytes = Buffer.from(fc.sample(fc.uint8Array({ minLength: 65_536, maxLength: 65_536 }), { numRuns: 16, seed: 0x3926_0002 }).flatMap((a) => [...a]));
    const p = createWiegand26Parser(NO_DEBOUNCE);
    const cuts = fc.sample(fc.integer({ min: 1, max: 4096 }), { numRuns: 2000, seed: 0x3926_0003 });
    const out: SerialRead[] = [];
    let at = 0;
    for (let i = 0; at < bytes.length; i++) {
      const n = cuts[i % cuts.length]!;
      out.push(...p.push(bytes.subarray(at, at + n), i));
      at += n;
    }
    const ref = w26Reference(bytes);
    expect(ids(out)).toEqual(ref.reads);
    expect(out.length).toBe(ref.outcomes);
    expect(ids(p.push(Buffer.from(`\n${w26Bits(90, 324)}\n`, 'latin1'), 1e9))).toEqual(['90:324']);
  });
});
