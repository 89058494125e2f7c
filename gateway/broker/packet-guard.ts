/**
 * A maximum MQTT packet size for aedes, which has none (platform-notes.md): an
 * unauthenticated client could otherwise declare a 256 MB packet and make the
 * broker buffer it. We watch the byte stream as aedes reads it, follow packet
 * boundaries through the fixed header's Remaining Length [MQTT-2.2.3], and
 * destroy the socket as soon as a declared length is over the limit, before the
 * body arrives.
 *
 * aedes reads its connection only with `conn.read(null)` on 'readable', so the
 * guard wraps that one method of the socket instance instead of inserting a
 * stream (which would cost a copy and a hop per chunk).
 */
import type { Socket } from 'node:net';

export class PacketLengthTracker {
  /** 0 = expecting a fixed-header byte, 1 = reading Remaining Length, 2 = skipping the body. */
  private state = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(private readonly maxPacketSize: number) {}

  /** Feeds bytes; returns an error text once the stream breaks the limit or the encoding. */
  feed(buf: Uint8Array): string | null {
    let i = 0;
    const n = buf.length;
    while (i < n) {
      if (this.state === 2) {
        const step = Math.min(this.remaining, n - i);
        this.remaining -= step;
        i += step;
        if (this.remaining === 0) this.state = 0;
        continue;
      }
      if (this.state === 0) {
        this.state = 1;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        i++;
        continue;
      }
      const byte = buf[i++]!;
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (this.length + 1 + this.lengthBytes > this.maxPacketSize) {
        return `declared packet size ${this.length + 1 + this.lengthBytes} > limit ${this.maxPacketSize}`;
      }
      if ((byte & 0x80) !== 0) {
        // [MQTT-2.2.3] Remaining Length takes at most four bytes.
        if (this.lengthBytes === 4) return 'malformed Remaining Length (more than 4 bytes)';
        continue;
      }
      if (this.length === 0) {
        this.state = 0;
      } else {
        this.state = 2;
        this.remaining = this.length;
      }
    }
    return null;
  }
}

/** Makes `socket.read` enforce the limit; `onViolation` is told before the socket is destroyed. */
export function guardPacketSize(socket: Socket, maxPacketSize: number, onViolation: (reason: string) => void): void {
  const tracker = new PacketLengthTracker(maxPacketSize);
  const read = socket.read.bind(socket);
  socket.read = function guardedRead(size?: number) {
    const chunk = read(size) as Buffer | string | null;
    if (chunk === null || typeof chunk === 'string') return chunk;
    const problem = tracker.feed(chunk);
    if (problem !== null) {
      onViolation(problem);
      socket.destroy();
      return null;
    }
    return chunk;
  } as Socket['read'];
}
