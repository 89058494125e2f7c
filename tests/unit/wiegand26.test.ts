import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWiegand26Parser, wiegand26Decoder } from '../../gateway/decoders/wiegand26.js';
import { DECODERS, serialDecoder } from '../../gateway/decoders/index.js';
import type { SerialRead } from '../../gateway/decoders/types.js';
import { deviceInfo } from '../harness/device-info.js';

/** The reference: facility 90, card 324. */
const REF_BITS = '00101101000000001010001000';
const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

/** Written out independently of the parser (H10301): even parity over bits 2–13, odd over 14–25. */
function bits(facility: number, cardNo: number): string {
  const data = facility.toString(2).padStart(8, '0') + cardNo.toString(2).padStart(16, '0');
  const ones = (s: string): number => [...s].filter((c) => c === '1').length;
  return (ones(data.slice(0, 12)) % 2 ? '1' : '0') + data + (ones(data.slice(12)) % 2 ? '0' : '1');
}
const flip = (s: string, bitNo: number): string => s.slice(0, bitNo - 1) + (s[bitNo - 1] === '1' ? '0' : '1') + s.slice(bitNo);

const card = (id: string): SerialRead => ({ ok: true, credential: { format: 'wiegand26', id } });
const okIds = (reads: SerialRead[]): string[] => reads.flatMap((r) => (r.ok ? [r.credential.id] : []));
const reasons = (reads: SerialRead[]): string[] => reads.flatMap((r) => (r.ok ? [] : [r.reason]));

describe('Wiegand-26 line parser', () => {
  it('reads the reference line as 90:324', () => {
    expect(bits(90, 324)).toBe(REF_BITS);
    expect(createWiegand26Parser().push(bytes(`${REF_BITS}\n`), 0)).toEqual([card('90:324')]);
  });

  it('is registered in the decoder table as a serial decoder', () => {
    expect(DECODERS.wiegand26).toBe(wiegand26Decoder);
    const p = serialDecoder('wiegand26').createParser(deviceInfo({ id: 'w1', kind: 'badge-reader', format: 'wiegand26' }));
    expect(p.push(bytes(`W26:${REF_BITS}\r\n`), 0)).toEqual([card('90:324')]);
  });

  it.each([
    ['LF', `${REF_BITS}\n`],
    ['CR', `${REF_BITS}\r`],
    ['CRLF', `${REF_BITS}\r\n`],
    ['W26: prefix, LF', `W26:${REF_BITS}\n`],
    ['W26: prefix, CRLF', `W26:${REF_BITS}\r\n`],
    ['blank lines around it', `\r\n\n\r${REF_BITS}\r\n\r\n`],
  ])('accepts %s', (_name, line) => {
    expect(createWiegand26Parser().push(bytes(line), 0)).toEqual([card('90:324')]);
  });

  it.each([
    ['facility 0, card 0', 0, 0],
    ['facility 255, card 65535', 255, 65535],
    ['facility 1, card 1', 1, 1],
    ['facility 128, card 32768', 128, 32768],
  ])('decodes %s', (_name, f, c) => {
    expect(createWiegand26Parser().push(bytes(`${bits(f, c)}\n`), 0)).toEqual([card(`${f}:${c}`)]);
  });

  it('reads a line split at every byte boundary, and byte by byte', () => {
    const b = bytes(`W26:${REF_BITS}\r\n`);
    for (let cut = 1; cut < b.length; cut++) {
      const p = createWiegand26Parser();
      expect([...p.push(b.subarray(0, cut), 0), ...p.push(b.subarray(cut), 1)], `cut at ${cut}`).toEqual([card('90:324')]);
    }
    const p = createWiegand26Parser();
    expect(Array.from(b).flatMap((x) => p.push(Uint8Array.of(x), 0))).toEqual([card('90:324')]);
  });

  it('rejects a flipped parity bit, in each parity bit and in each half', () => {
    const p = createWiegand26Parser({ debounceMs: 0 });
    const lead = p.push(bytes(`${flip(REF_BITS, 1)}\n`), 0);
    expect(lead).toMatchObject([{ ok: false, reason: 'parity', detail: expect.stringContaining('bit 1') as unknown }]);
    const trail = p.push(bytes(`${flip(REF_BITS, 26)}\n`), 0);
    expect(trail).toMatchObject([{ ok: false, reason: 'parity', detail: expect.stringContaining('bit 26') as unknown }]);
    // Any single data bit flip breaks exactly one of the two parities.
    for (let bit = 2; bit <= 25; bit++) {
      const r = p.push(bytes(`${flip(REF_BITS, bit)}\n`), 0);
      expect(reasons(r), `bit ${bit}`).toEqual(['parity']);
      expect((r[0] as { detail: string }).detail, `bit ${bit}`).toContain(bit <= 13 ? 'bit 1)' : 'bit 26)');
    }
  });

  it.each([
    ['25 bits', REF_BITS.slice(1)],
    ['27 bits', `${REF_BITS}0`],
    ['30 bits without the prefix', `${REF_BITS}0000`],
    ['a character other than 0/1', `${REF_BITS.slice(0, 10)}2${REF_BITS.slice(11)}`],
    ['a space inside', `${REF_BITS.slice(0, 10)} ${REF_BITS.slice(11)}`],
    ['a trailing space', `${REF_BITS.slice(1)} `],
    ['lower-case prefix', `w26:${REF_BITS}`],
    ['another prefix', `W34:${REF_BITS}`],
    ['prefix with a space', `W26: ${REF_BITS.slice(1)}`],
    ['binary noise', '\x00\xff\x13'],
  ])('rejects %s as framing, then reads the next line', (_name, line) => {
    const reads = createWiegand26Parser().push(bytes(`${line}\n${REF_BITS}\n`), 0);
    expect(reasons(reads)).toEqual(['framing']);
    expect(okIds(reads)).toEqual(['90:324']);
  });

  it('rejects an overlong line once as oversize, skips to its end, and stays bounded', () => {
    const p = createWiegand26Parser();
    const junk = new Uint8Array(1 << 20).fill(0x31);
    const reads = [...p.push(junk, 0), ...p.push(junk, 0)];
    expect(reasons(reads)).toEqual(['oversize']);
    expect((reads[0] as { bytes?: Uint8Array }).bytes?.length).toBeLessThanOrEqual(64);
    expect(p.push(bytes(`\n${REF_BITS}\n`), 1)).toEqual([card('90:324')]);
    // 30 characters (prefix + 26 bits) is the longest line; 31 is oversize.
    expect(reasons(createWiegand26Parser().push(bytes(`W26:${REF_BITS}0\n`), 0))).toEqual(['oversize']);
    // So is a Wiegand-34 line: only 26-bit cards are accepted.
    expect(reasons(createWiegand26Parser().push(bytes(`${'0'.repeat(34)}\n`), 0))).toEqual(['oversize']);
  });

  it('noise before, inside and after lines', () => {
    const p = createWiegand26Parser();
    const reads = p.push(bytes(`\x00\x01junk\r\nW26:${REF_BITS}\r\n0101\x7f0101\nW26:${bits(1, 2)}\r\ntrailing`), 0);
    expect(okIds(reads)).toEqual(['90:324', '1:2']);
    expect(reasons(reads)).toEqual(['framing', 'framing']);
  });

  describe('debounce (window from the last sighting, default 1000 ms)', () => {
    const line = bytes(`${REF_BITS}\r\n`);
    it('a card held for 10 s (a line every 100 ms) is one read', () => {
      const p = createWiegand26Parser();
      const reads: SerialRead[] = [];
      for (let t = 0; t <= 10_000; t += 100) reads.push(...p.push(line, t));
      expect(reads).toEqual([card('90:324')]);
    });

    it('a card away for more than debounceMs and shown again is two reads', () => {
      const p = createWiegand26Parser();
      expect(okIds([...p.push(line, 0), ...p.push(line, 300), ...p.push(line, 1301)])).toEqual(['90:324', '90:324']);
    });

    it('two cards alternating: every change is a read', () => {
      const p = createWiegand26Parser();
      const other = bytes(`${bits(1, 2)}\n`);
      expect(okIds([line, other, line, other].flatMap((l, i) => p.push(l, i * 50)))).toEqual(['90:324', '1:2', '90:324', '1:2']);
    });
  });

  describe('properties', () => {
    const validIds = (stream: Uint8Array): Set<string> => {
      const ids = new Set<string>();
      const s = Buffer.from(stream).toString('latin1');
      for (const m of s.matchAll(/(?<=^|[\r\n])(?:W26:)?([01]{26})(?=[\r\n])/g)) {
        const b = m[1]!;
        const ones = (x: string): number => [...x].filter((c) => c === '1').length;
        if (ones(b.slice(0, 13)) % 2 === 0 && ones(b.slice(13)) % 2 === 1) ids.add(`${parseInt(b.slice(1, 9), 2)}:${parseInt(b.slice(9, 25), 2)}`);
      }
      return ids;
    };
    const pairs = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 65535 }));
    const segment = fc.oneof(
      pairs.map(([f, c]) => bytes(`${bits(f, c)}\n`)),
      pairs.map(([f, c]) => bytes(`W26:${bits(f, c)}\r\n`)),
      fc.tuple(pairs, fc.integer({ min: 1, max: 26 })).map(([[f, c], b]) => bytes(`${flip(bits(f, c), b)}\r`)),
      fc.tuple(pairs, fc.nat(29), fc.integer({ min: 0, max: 255 })).map(([[f, c], i, v]) => {
        const l = bytes(`W26:${bits(f, c)}\n`);
        l[i] = v;
        return l;
      }),
      fc.uint8Array({ maxLength: 60 }),
      fc.constantFrom(bytes('\r'), bytes('\n'), bytes('0'), bytes('1')),
    );

    it('random byte streams in random chunks never throw and only yield reads of lines whose parity validates', () => {
      fc.assert(
        fc.property(fc.array(segment, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 8 }), (segments, cuts) => {
          const stream = Buffer.concat(segments);
          const p = createWiegand26Parser();
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
          const reads: SerialRead[] = [];
          let at = 0;
          for (const c of [...points, stream.length]) {
            reads.push(...p.push(stream.subarray(at, c), at));
            at = c;
          }
          const valid = validIds(stream);
          for (const r of reads) {
            if (r.ok) expect(valid.has(r.credential.id)).toBe(true);
            else expect(['parity', 'framing', 'oversize']).toContain(r.reason);
          }
        }),
        { numRuns: 3000 },
      );
    });

    it('pure random bytes never throw', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 2000 }), (stream) => {
          const reads = createWiegand26Parser().push(stream, 0);
          const valid = validIds(stream);
          for (const r of reads) if (r.ok) expect(valid.has(r.credential.id)).toBe(true);
        }),
        { numRuns: 2000 },
      );
    });
  });
});
