/**
 * A process of telemetry devices (occupancy sensors, power meters): each on
 * its own connection, publishing canonical QoS 1 messages at a fixed total
 * rate, round-robin over the devices, at most `window` unacknowledged per
 * device (a real device's in-flight limit). Times every publish to its PUBACK,
 * which the gateway sends only after the journal commit is fsynced.
 *
 * Input (argv[2], JSON): TelemetryArgs. Stdout: {"ready":true}, then, after
 * "go" on stdin and the run, one JSON line: TelemetryResult.
 */
import { uplinkTopic } from '../../core/protocol/topics.js';
import { RawDevice, hostPort } from './raw-device.js';
import type { DeviceCred } from './scenario.js';

export interface TelemetryArgs {
  readonly url: string;
  readonly site: string;
  readonly devices: (DeviceCred & { channel: 'occupancy' | 'power' })[];
  readonly ratePerSec: number;
  readonly window: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly boot: number;
}

export interface TelemetryResult {
  readonly sent: number;
  readonly acked: number;
  /** Sends skipped because the device had `window` messages unacknowledged. */
  readonly skipped: number;
  /** Achieved rate over the measured part, acknowledged signals per second. */
  readonly measuredPerSec: number;
  /** PUBACK latency of messages sent after the warm-up, µs (every 10th). */
  readonly ackUs: number[];
  /** This process's CPU over the measured part (warm-up end to last send), ms, and that part's length. */
  readonly cpuMs: number;
  readonly cpuWindowMs: number;
}

const args = JSON.parse(process.argv[2]!) as TelemetryArgs;
const { host, port } = hostPort(args.url);
let started = 0n;
let measuredAcks = 0;
const ackUs: number[] = [];

class Sensor {
  readonly device: RawDevice;
  readonly topic: string;
  readonly inFlight = new Map<number, bigint>();
  seq = 0;
  acked = 0;
  energy = 0;

  constructor(readonly cred: DeviceCred & { channel: 'occupancy' | 'power' }) {
    this.topic = uplinkTopic(args.site, cred.id, cred.channel);
    this.device = new RawDevice({
      host,
      port,
      id: cred.id,
      secret: cred.secret,
      onPuback: (id, at) => {
        const t = this.inFlight.get(id);
        if (t === undefined) return;
        this.inFlight.delete(id);
        this.acked++;
        if (Number(t - started) / 1e6 >= args.warmupMs) {
          if (measuredAcks++ % 10 === 0) ackUs.push(Number(at - t) / 1000);
        }
      },
    });
  }

  send(): boolean {
    if (this.inFlight.size >= args.window) return false;
    const seq = this.seq++;
    let payload: string;
    if (this.cred.channel === 'occupancy') {
      payload = `{"boot":${args.boot},"seq":${seq},"ts":${Date.now()},"occupied":${seq % 2 === 0}}`;
    } else {
      const w = 800 + (seq % 50) * 10;
      this.energy += w / 3_600_000;
      payload = `{"boot":${args.boot},"seq":${seq},"ts":${Date.now()},"power_w":${w},"energy_kwh":${this.energy.toFixed(6)},"on":true}`;
    }
    const { messageId, at } = this.device.publish(this.topic, payload);
    this.inFlight.set(messageId, at);
    return true;
  }
}

const sensors = args.devices.map((d) => new Sensor(d));
for (let i = 0; i < sensors.length; i += 50) await Promise.all(sensors.slice(i, i + 50).map((s) => s.device.start()));
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

started = process.hrtime.bigint();
let sent = 0;
let skipped = 0;
if (args.ratePerSec > 0 && sensors.length > 0) {
  // Every 2 ms, this tick's share, round-robin over the devices.
  let owed = 0;
  let rr = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    owed += ((now - last) / 1000) * args.ratePerSec;
    last = now;
    while (owed >= 1) {
      const s = sensors[rr++ % sensors.length]!;
      owed -= 1;
      if (s.send()) sent++;
      else skipped++;
    }
  }, 2);
  setTimeout(() => clearInterval(tick), args.durationMs);
}
let cpu0 = process.cpuUsage();
let cpuFrom = Date.now();
setTimeout(() => {
  cpu0 = process.cpuUsage();
  cpuFrom = Date.now();
}, args.warmupMs);
await new Promise((r) => setTimeout(r, args.durationMs + 50));
const cpu = process.cpuUsage(cpu0);
const cpuWindowMs = Date.now() - cpuFrom;
const measuredS = (args.durationMs - args.warmupMs) / 1000;
const deadline = Date.now() + 20_000;
while (sensors.some((s) => s.inFlight.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const result: TelemetryResult = {
  sent,
  acked: sensors.reduce((a, s) => a + s.acked, 0),
  skipped,
  measuredPerSec: Math.round(measuredAcks / measuredS),
  ackUs,
  cpuMs: (cpu.user + cpu.system) / 1000,
  cpuWindowMs,
};
for (const s of sensors) s.device.close();
process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
