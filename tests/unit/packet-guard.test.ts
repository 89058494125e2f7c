import { describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { PacketLengthTracker } from '../../gateway/broker/packet-guard.js';

const gen = (p: object) => mqttPacket.generate(p as never);

describe('PacketLengthTracker', () => {
  const small = gen({ cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(100), qos: 1, messageId: 1 });
  const big = gen({ cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(70_000), qos: 1, messageId: 2 });

  it('lets a stream of packets under the limit through, whatever the chunking', () => {
    const stream = Buffer.concat([small, small, gen({ cmd: 'pingreq' }), small]);
    for (const chunk of [1, 2, 3, 7, 50, stream.length]) {
      const t = new PacketLengthTracker(1024);
      for (let i = 0; i < stream.length; i += chunk) expect(t.feed(stream.subarray(i, i + chunk))).toBeNull();
    }
  });

  it('stops a packet over the limit as soon as its length is known, before the body', () => {
    const t = new PacketLengthTracker(65536);
    expect(t.feed(small)).toBeNull();
    // header byte and the 3-byte length of the 70 kB packet only
    expect(t.feed(big.subarray(0, 4))).toMatch(/declared packet size .* > limit 65536/);
  });

  it('stops the pre-auth oversized-length attack (0x10 0xFF 0xFF 0xFF 0x7F)', () => {
    const t = new PacketLengthTracker(65536);
    expect(t.feed(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]))).toMatch(/declared packet size/);
  });

  it('refuses a Remaining Length of more than four bytes', () => {
    const t = new PacketLengthTracker(Number.MAX_SAFE_INTEGER);
    expect(t.feed(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]))).toMatch(/more than 4 bytes/);
  });

  it('handles zero-length packets (PINGREQ, DISCONNECT) between others', () => {
    const t = new PacketLengthTracker(200);
    expect(t.feed(Buffer.concat([gen({ cmd: 'pingreq' }), gen({ cmd: 'disconnect' }), small]))).toBeNull();
  });
});
