/**
 * A device's MQTT 3.1.1 connection spoken with mqtt-packet over a raw socket
 * (TCP_NODELAY from the first byte), as bench/ingest/publisher.ts does: no
 * client-library bookkeeping, so the load generators cost little CPU and the
 * time of every packet is taken where it leaves or arrives.
 *
 * Times are process.hrtime.bigint() (CLOCK_MONOTONIC, the same clock in every
 * process of the machine). An arriving chunk is stamped once, before parsing,
 * and every packet in it carries that stamp.
 */
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

export interface RawDeviceOptions {
  readonly host: string;
  readonly port: number;
  readonly id: string;
  readonly secret: string;
  /** A QoS 0/1 PUBLISH arrived (QoS 1 is acknowledged after this returns). */
  readonly onPublish?: (topic: string, payload: Buffer, at: bigint) => void;
  /** A PUBACK for one of our messages arrived. */
  readonly onPuback?: (messageId: number, at: bigint) => void;
  readonly onClose?: () => void;
}

export class RawDevice {
  private socket: Socket | null = null;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private nextId = 1;
  private connack: ((code: number) => void) | null = null;
  private suback: ((granted: number[]) => void) | null = null;
  private chunkAt = 0n;
  closed = false;

  constructor(private readonly opts: RawDeviceOptions) {
    this.parser.on('packet', (p: mqttPacket.Packet) => this.onPacket(p));
    this.parser.on('error', (err: Error) => this.socket?.destroy(err));
  }

  get id(): string {
    return this.opts.id;
  }

  /** Connects and logs in; resolves on CONNACK 0. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.opts.host, port: this.opts.port, noDelay: true }, () => {
        socket.write(
          mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: this.opts.id, keepalive: 600, username: this.opts.id, password: Buffer.from(this.opts.secret) } as never),
        );
      });
      this.socket = socket;
      socket.on('data', (d: Buffer) => {
        this.chunkAt = process.hrtime.bigint();
        this.parser.parse(d);
      });
      socket.on('error', (err) => {
        if (this.connack) reject(err);
      });
      socket.on('close', () => {
        this.closed = true;
        this.opts.onClose?.();
      });
      this.connack = (code) => (code === 0 ? resolve() : reject(new Error(`CONNACK ${code} for ${this.opts.id}`)));
    });
  }

  /** Subscribes at QoS 1; resolves with the granted codes (128 = refused). */
  subscribe(filter: string): Promise<number[]> {
    return new Promise((resolve) => {
      this.suback = resolve;
      this.write(mqttPacket.generate({ cmd: 'subscribe', messageId: this.allocId(), subscriptions: [{ topic: filter, qos: 1 }] } as never));
    });
  }

  /** Publishes at QoS 1 now; returns the message id and when the bytes were handed to the socket. */
  publish(topic: string, payload: string, retain = false): { messageId: number; at: bigint } {
    const messageId = this.allocId();
    const packet = mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId, retain, dup: false } as never);
    const at = process.hrtime.bigint();
    this.write(packet);
    return { messageId, at };
  }

  /** Stops reading the socket for good: the kernel's buffers fill and the broker's writes to us block. */
  stopReading(): void {
    this.socket?.pause();
  }

  close(): void {
    if (!this.socket || this.closed) return;
    this.socket.end(mqttPacket.generate({ cmd: 'disconnect' } as never));
  }

  destroy(): void {
    this.socket?.destroy();
  }

  private write(b: Buffer): void {
    if (this.socket && !this.closed) this.socket.write(b);
  }

  private allocId(): number {
    const id = this.nextId;
    this.nextId = this.nextId === 65535 ? 1 : this.nextId + 1;
    return id;
  }

  private onPacket(p: mqttPacket.Packet): void {
    if (p.cmd === 'publish') {
      const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
      this.opts.onPublish?.(p.topic, payload, this.chunkAt);
      if (p.qos === 1 && p.messageId !== undefined) this.write(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId } as never));
    } else if (p.cmd === 'puback') {
      if (p.messageId !== undefined) this.opts.onPuback?.(p.messageId, this.chunkAt);
    } else if (p.cmd === 'connack') {
      const cb = this.connack;
      this.connack = null;
      cb?.(p.returnCode ?? 0);
    } else if (p.cmd === 'suback') {
      const cb = this.suback;
      this.suback = null;
      cb?.((p.granted as (number | { qos: number })[]).map((g) => (typeof g === 'number' ? g : g.qos)));
    }
    // Anything else (pingresp, …) needs no answer here.
  }
}

/** host and port of an mqtt:// URL. */
export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 1883) };
}
