/**
 * A load-generating process: several simulated canonical devices, each on its
 * own MQTT connection, publishing occupancy signals at QoS 1 and timing every
 * publish until its PUBACK. MQTT is spoken with mqtt-packet directly (no client
 * library bookkeeping) so the generator costs as little CPU as possible and the
 * machine's cores go to the system under test.
 *
 * Input (argv[2], JSON): { url, site, devices: [{ id, secret }], mode: 'max' | 'rate',
 *   ratePerSec (whole process, for 'rate'), window (in-flight per device), durationMs, boot }
 * Output (stdout, one JSON line): { sent, acked, latenciesUs: number[] (sampled), perDevice: {id: acked} }
 */
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

interface Args {
  url: string;
  site: string;
  devices: { id: string; secret?: string }[];
  mode: 'max' | 'rate';
  ratePerSec: number;
  window: number;
  durationMs: number;
  boot: number;
  tsBase: number;
}

const args = JSON.parse(process.argv[2]!) as Args;
const { hostname, port } = new URL(args.url);

class Device {
  private socket!: Socket;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private nextId = 1;
  private readonly sentAt = new Map<number, bigint>();
  seq = 0;
  acked = 0;
  sent = 0;
  readonly topic: string;
  constructor(
    readonly id: string,
    private readonly secret: string | undefined,
    private readonly onAck: (us: number) => void,
  ) {
    this.topic = `fac/v1/${args.site}/d/${id}/occupancy`;
  }

  get inFlight(): number {
    return this.sentAt.size;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket = connect(Number(port), hostname, () => {
        this.socket.setNoDelay(true);
        this.socket.write(
          mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: this.id, keepalive: 60, username: this.id, password: this.secret === undefined ? undefined : Buffer.from(this.secret) } as never),
        );
      });
      this.socket.on('error', reject);
      this.socket.on('data', (d) => this.parser.parse(d));
      this.parser.on('packet', (p: mqttPacket.Packet) => {
        if (p.cmd === 'connack') {
          if (p.returnCode !== 0) reject(new Error(`CONNACK ${p.returnCode} for ${this.id}`));
          else resolve();
        } else if (p.cmd === 'puback') {
          const t = this.sentAt.get(p.messageId!);
          if (t !== undefined) {
            this.sentAt.delete(p.messageId!);
            this.acked++;
            this.onAck(Number(process.hrtime.bigint() - t) / 1000);
          }
        }
      });
    });
  }

  /** Sends up to n messages, never more than the window in flight. */
  send(n: number): number {
    let k = 0;
    const bufs: Buffer[] = [];
    while (k < n && this.sentAt.size < args.window) {
      let id = this.nextId;
      this.nextId = this.nextId === 65535 ? 1 : this.nextId + 1;
      while (this.sentAt.has(id)) id = this.nextId++;
      const seq = this.seq++;
      const payload = `{"boot":${args.boot},"seq":${seq},"ts":${args.tsBase + seq},"occupied":${seq % 2 === 0}}`;
      bufs.push(mqttPacket.generate({ cmd: 'publish', topic: this.topic, payload, qos: 1, messageId: id, retain: false, dup: false } as never));
      this.sentAt.set(id, process.hrtime.bigint());
      k++;
    }
    if (bufs.length > 0) this.socket.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs));
    this.sent += k;
    return k;
  }

  close(): void {
    this.socket.end(mqttPacket.generate({ cmd: 'disconnect' } as never));
  }
}

const SAMPLE_EVERY = 1;
const latencies: number[] = [];
let ackCount = 0;
const devices = args.devices.map(
  (d) =>
    new Device(d.id, d.secret, (us) => {
      if (ackCount++ % SAMPLE_EVERY === 0) latencies.push(us);
      if (args.mode === 'max') refill(devicesById.get(d.id)!);
    }),
);
const devicesById = new Map(devices.map((d) => [d.id, d]));
let running = true;

function refill(d: Device): void {
  if (running) d.send(args.window);
}

await Promise.all(devices.map((d) => d.start()));
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
// Wait for the parent's go, so all processes start together.
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

const started = Date.now();
if (args.mode === 'max') {
  for (const d of devices) d.send(args.window);
} else {
  // Paced: every 5 ms send this tick's share, round-robin over devices.
  let owed = 0;
  let rr = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    owed += ((now - last) / 1000) * args.ratePerSec;
    last = now;
    let guard = devices.length * 4;
    while (owed >= 1 && guard-- > 0) {
      const d = devices[rr++ % devices.length]!;
      owed -= d.send(1);
    }
  }, 5);
  setTimeout(() => clearInterval(tick), args.durationMs);
}
await new Promise((r) => setTimeout(r, args.durationMs));
running = false;
const elapsedMs = Date.now() - started;
const ackedInWindow = devices.reduce((a, d) => a + d.acked, 0);
// Let in-flight messages be acknowledged (they count: they were sent within the window).
const deadline = Date.now() + 30_000;
while (devices.some((d) => d.inFlight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
for (const d of devices) d.close();
const out = {
  sent: devices.reduce((a, d) => a + d.sent, 0),
  acked: devices.reduce((a, d) => a + d.acked, 0),
  unacked: devices.reduce((a, d) => a + d.inFlight, 0),
  ackedInWindow,
  elapsedMs,
  latenciesUs: latencies,
  perDevice: Object.fromEntries(devices.map((d) => [d.id, d.acked])),
};
process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
