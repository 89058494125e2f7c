import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRdm6300Parser, rdm6300Decoder } from '../../gateway/decoders/rdm6300.js';
import { DECODERS, serialDecoder } from '../../gateway/decoders/index.js';
import type { SerialRead } from '../../gateway/decoders/types.js';
import { deviceInfo } from '../harness/device-info.js';

const STX = '\x02';
const ETX = '\x03';
/** The reference frame: data 07 00 67 31 58, checksum 0x09. */
const REF = `${STX}070067315809${ETX}`;
const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

/** Written out independently of the parser: STX, 10 hex, XOR of the 5 bytes as 2 hex, ETX. */
function frame(id: string, opts: { lower?: boolean; badChecksum?: boolean } = {}): string {
  let x = 0;
  for (let i = 0; i < 10; i += 2) x ^= parseInt(id.slice(i, i + 2), 16);
  if (opts.badChecksum) x ^= 0x01;
  const body = id + x.toString(16).padStart(2, '0').toUpperCase();
  return STX + (opts.lower ? body.toLowerCase() : body) + ETX;
}

const card = (id: string): SerialRead => ({ ok: true, credential: { format: 'em4100', id } });
const okIds = (reads: SerialRead[]): string[] => reads.flatMap((r) => (r.ok ? [r.credential.id] : []));
const reasons = (reads: SerialRead[]): string[] => reads.flatMap((r) => (r.ok ? [] : [r.reason]));

describe('RDM6300 parser', () => {
  it('reads the reference frame as the full 10-hex-character EM4100 code', () => {
    expect(frame('0700673158')).toBe(REF);
    expect(createRdm6300Parser().push(bytes(REF), 0)).toEqual([card('0700673158')]);
    // The printed card number is the low 4 bytes; we keep all five (docs/devices.md).
    expect(0x00673158).toBe(6762840);
  });

  it('is registered in the decoder table as a serial decoder', () => {
    expect(DECODERS.rdm6300).toBe(rdm6300Decoder);
    const p = serialDecoder('rdm6300').createParser(deviceInfo({ id: 'r1', kind: 'badge-reader', format: 'rdm6300' }));
    expect(p.push(bytes(REF), 0)).toEqual([card('0700673158')]);
  });

  it('reads a frame split at every byte boundary, and byte by byte', () => {
    const b = bytes(REF);
    for (let cut = 1; cut < b.length; cut++) {
      const p = createRdm6300Parser();
      const reads = [...p.push(b.subarray(0, cut), 0), ...p.push(b.subarray(cut), 1)];
      expect(reads, `cut at ${cut}`).toEqual([card('0700673158')]);
    }
    for (let cut1 = 1; cut1 < b.length - 1; cut1++) {
      for (let cut2 = cut1 + 1; cut2 < b.length; cut2++) {
        const p = createRdm6300Parser();
        const reads = [...p.push(b.subarray(0, cut1), 0), ...p.push(b.subarray(cut1, cut2), 0), ...p.push(b.subarray(cut2), 0)];
        expect(reads, `cuts at ${cut1},${cut2}`).toEqual([card('0700673158')]);
      }
    }
    const p = createRdm6300Parser();
    expect(Array.from(b).flatMap((x) => p.push(Uint8Array.of(x), 0))).toEqual([card('0700673158')]);
  });

  it('accepts lower-case hex and reports the id upper-case', () => {
    expect(createRdm6300Parser().push(bytes(frame('1A2B3C4D5E', { lower: true })), 0)).toEqual([card('1A2B3C4D5E')]);
  });

  it('rejects a bad checksum', () => {
    const reads = createRdm6300Parser().push(bytes(`${STX}07006731580A${ETX}`), 0);
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatchObject({ ok: false, reason: 'checksum', detail: expect.stringContaining('0x09') as unknown });
    expect((reads[0] as { bytes?: Uint8Array }).bytes).toEqual(bytes(`${STX}07006731580A${ETX}`));
  });

  it.each([
    ['noise before a frame', `\xff\x00garbage${REF}`, ['framing'], ['0700673158']],
    ['noise after a frame (reported with the next STX)', `${REF}\x55\xaa${frame('1122334455')}`, ['framing'], ['0700673158', '1122334455']],
    ['a new STX inside a frame restarts it', `${STX}0700${REF}`, ['framing'], ['0700673158']],
    ['ETX too early', `${STX}0700${ETX}${REF}`, ['framing'], ['0700673158']],
    ['non-hex character', `${STX}07006731580G${ETX}${REF}`, ['framing'], ['0700673158']],
    ['no ETX after 12 characters, then garbage', `${STX}070067315809XXXXXXXXXXXXXXXXXXXX${REF}`, ['framing'], ['0700673158']],
    ['two STX in a row', `${STX}${REF}`, ['framing'], ['0700673158']],
    ['an ETX alone is noise', `${ETX}${REF}`, ['framing'], ['0700673158']],
  ])('%s', (_name, input, rejects, ids) => {
    const reads = createRdm6300Parser().push(bytes(input), 0);
    expect(reasons(reads)).toEqual(rejects);
    expect(okIds(reads)).toEqual(ids);
  });

  it('keeps memory bounded: a megabyte without an ETX is one framing error, and the next frame reads', () => {
    const p = createRdm6300Parser();
    const junk = new Uint8Array(1 << 20).fill(0x41);
    junk[0] = 0x02;
    const reads = p.push(junk, 0);
    expect(reasons(reads)).toEqual(['framing']);
    // The rejection carries at most 64 bytes of what it refers to.
    expect((reads[0] as { bytes?: Uint8Array }).bytes?.length).toBeLessThanOrEqual(64);
    expect(p.push(bytes(REF), 1)).toEqual([card('0700673158')]);
  });

  describe('debounce (window from the last sighting, default 1000 ms)', () => {
    it('a card held for 10 s (frame every 50 ms) is one read', () => {
      const p = createRdm6300Parser();
      const reads: SerialRead[] = [];
      for (let t = 0; t <= 10_000; t += 50) reads.push(...p.push(bytes(REF), t));
      expect(reads).toEqual([card('0700673158')]);
    });

    it('a card taken away for more than debounceMs and shown again is two reads', () => {
      const p = createRdm6300Parser();
      const reads = [...p.push(bytes(REF), 0), ...p.push(bytes(REF), 500), ...p.push(bytes(REF), 1501)];
      expect(okIds(reads)).toEqual(['0700673158', '0700673158']);
    });

    it('exactly debounceMs after the last sighting is still the same presentation', () => {
      const p = createRdm6300Parser({ debounceMs: 1000 });
      expect(okIds([...p.push(bytes(REF), 0), ...p.push(bytes(REF), 1000), ...p.push(bytes(REF), 2001)])).toEqual(['0700673158', '0700673158']);
    });

    it('two cards alternating: every change is a read', () => {
      const p = createRdm6300Parser();
      const a = bytes(REF);
      const b = bytes(frame('1122334455'));
      const reads = [a, b, a, b, a].flatMap((f, i) => p.push(f, i * 100));
      expect(okIds(reads)).toEqual(['0700673158', '1122334455', '0700673158', '1122334455', '0700673158']);
    });

    it('debounceMs is configurable; 0 makes every repeat after the same millisecond a read', () => {
      const p = createRdm6300Parser({ debounceMs: 0 });
      expect(okIds([...p.push(bytes(REF), 0), ...p.push(bytes(REF), 0), ...p.push(bytes(REF), 1)])).toEqual(['0700673158', '0700673158']);
    });

    it('a bad frame in between does not end the presentation', () => {
      const p = createRdm6300Parser();
      const reads = [...p.push(bytes(REF), 0), ...p.push(bytes(`${STX}07006731580A${ETX}`), 50), ...p.push(bytes(REF), 100)];
      expect(okIds(reads)).toEqual(['0700673158']);
      expect(reasons(reads)).toEqual(['checksum']);
    });
  });

  describe('properties', () => {
    const validIds = (stream: Uint8Array): Set<string> => {
      const ids = new Set<string>();
      const s = Buffer.from(stream).toString('latin1');
      for (const m of s.matchAll(/\x02([0-9A-Fa-f]{10})([0-9A-Fa-f]{2})\x03/g)) {
        const data = Buffer.from(m[1]!, 'hex');
        if (data.reduce((x, b) => x ^ b, 0) === parseInt(m[2]!, 16)) ids.add(m[1]!.toUpperCase());
      }
      return ids;
    };
    const chunked = (stream: Uint8Array, cuts: number[]): Uint8Array[] => {
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
      const out: Uint8Array[] = [];
      let at = 0;
      for (const c of [...points, stream.length]) {
        out.push(stream.subarray(at, c));
        at = c;
      }
      return out;
    };
    const ids = fc.constantFrom('0700673158', '1122334455', 'DEADBEEF01', 'a0b1c2d3e4');
    const segment = fc.oneof(
      ids.map((id) => bytes(frame(id.toUpperCase()))),
      ids.map((id) => bytes(frame(id.toUpperCase(), { lower: true }))),
      ids.map((id) => bytes(frame(id.toUpperCase(), { badChecksum: true }))),
      fc.tuple(ids, fc.nat(13), fc.integer({ min: 0, max: 255 })).map(([id, i, v]) => {
        const f = bytes(frame(id.toUpperCase()));
        f[i] = v;
        return f;
      }),
      fc.uint8Array({ maxLength: 40 }),
      fc.constantFrom(bytes(STX), bytes(ETX)),
    );

    it('random byte streams in random chunks never throw and only yield reads of frames that validate', () => {
      fc.assert(
        fc.property(fc.array(segment, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 0, max: 2000 }), (segments, cuts, debounceMs) => {
          const stream = Buffer.concat(segments);
          const p = createRdm6300Parser({ debounceMs });
          const reads = chunked(stream, cuts).flatMap((c, i) => p.push(c, i * 10));
          const valid = validIds(stream);
          for (const r of reads) {
            if (r.ok) {
              expect(r.credential.format).toBe('em4100');
              expect(valid.has(r.credential.id)).toBe(true);
            } else {
              expect(['checksum', 'framing']).toContain(r.reason);
            }
          }
        }),
        { numRuns: 3000 },
      );
    });

    it('pure random bytes never throw', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 2000 }), (stream) => {
          const p = createRdm6300Parser();
          const reads = p.push(stream, 0);
          const valid = validIds(stream);
          for (const r of reads) if (r.ok) expect(valid.has(r.credential.id)).toBe(true);
        }),
        { numRuns: 2000 },
      );
    });
  });
});
