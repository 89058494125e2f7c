/**
 * A process of door controllers: each one connects as its device, subscribes
 * to its command topics, and swipes member badges at random times (a Poisson
 * process per controller, so two swipes at one door now and then come close
 * together, as they do at a real door), publishing canonical badge messages at
 * QoS 1. It times every swipe from the moment its PUBLISH is handed to the
 * socket to the moment the door's `cmd/unlock` arrives (and its `cmd/feedback`
 * and its PUBACK): one process clock, so no skew.
 *
 * Commands to one controller arrive in the order of its swipes (one
 * connection, decided in order, one route), so the k-th unlock answers the
 * k-th swipe.
 *
 * Input (argv[2], JSON): SwiperArgs. Stdout: {"ready":true}, then, after "go"
 * on stdin and the run, one JSON line: SwiperResult.
 */
import { commandFilter, uplinkTopic } from '../../core/protocol/topics.js';
import { RawDevice, hostPort } from './raw-device.js';
import { cardOf, rng, type DeviceCred } from './scenario.js';

export interface SwiperArgs {
  readonly url: string;
  readonly site: string;
  readonly controllers: DeviceCred[];
  /** Swipes per second, over all controllers of this process. */
  readonly ratePerSec: number;
  readonly members: number;
  /** Swipes sent before this (ms after go) are warm-up: counted, not measured. */
  readonly warmupMs: number;
  /** Total sending time, warm-up included. */
  readonly durationMs: number;
  readonly boot: number;
  readonly seed: number;
}

export interface SwiperResult {
  readonly sent: number;
  readonly measured: number;
  readonly unlocks: number;
  readonly feedback: number;
  readonly granted: number;
  readonly refused: Record<string, number>;
  readonly pubacks: number;
  /** Swipes still without an unlock when the run ended (after a grace period). */
  readonly missingUnlocks: number;
  readonly extraUnlocks: number;
  /** Measured swipes: µs from PUBLISH to cmd/unlock, cmd/feedback and PUBACK. */
  readonly unlockUs: number[];
  readonly feedbackUs: number[];
  readonly pubackUs: number[];
  /**
   * Measured swipes sent while the same controller's previous publish was still unacknowledged: the
   * broker reads a connection's next packet only once the previous one is handled (its journal
   * commit included), so these wait for that commit before they are decided.
   */
  readonly behindOwnUs: number[];
  /** Per second of the run (by send time): swipes and the slowest unlock, µs. */
  readonly perSecond: { sent: number; maxUs: number }[];
  /** Swipe keys (device:boot:seq) with their send times (ns, CLOCK_MONOTONIC), for the gateway's trace. */
  readonly sentAtNs: Record<string, string>;
  readonly unlockAtNs: Record<string, string>;
  /** This process's CPU over the measured part (warm-up end to last send), ms, and that part's length. */
  readonly cpuMs: number;
  readonly cpuWindowMs: number;
}

interface Swipe {
  readonly key: string;
  readonly at: bigint;
  readonly second: number;
  readonly measured: boolean;
  readonly behindOwn: boolean;
}

const args = JSON.parse(process.argv[2]!) as SwiperArgs;
const { host, port } = hostPort(args.url);
const random = rng(args.seed);
const perSecond: { sent: number; maxUs: number }[] = [];
const out = {
  sent: 0,
  measured: 0,
  unlocks: 0,
  feedback: 0,
  granted: 0,
  refused: {} as Record<string, number>,
  pubacks: 0,
  extraUnlocks: 0,
  unlockUs: [] as number[],
  feedbackUs: [] as number[],
  pubackUs: [] as number[],
  behindOwnUs: [] as number[],
  sentAtNs: {} as Record<string, string>,
  unlockAtNs: {} as Record<string, string>,
};
const us = (from: bigint, to: bigint) => Number(to - from) / 1000;
let started = 0n;

class Controller {
  readonly device: RawDevice;
  readonly unlockQueue: Swipe[] = [];
  readonly feedbackQueue: Swipe[] = [];
  readonly inFlight = new Map<number, Swipe>();
  readonly badgeTopic: string;
  readonly unlockTopic: string;
  readonly feedbackTopic: string;
  seq = 0;
  timer: NodeJS.Timeout | null = null;

  constructor(readonly cred: DeviceCred) {
    this.badgeTopic = uplinkTopic(args.site, cred.id, 'badge');
    this.unlockTopic = `fac/v1/${args.site}/d/${cred.id}/cmd/unlock`;
    this.feedbackTopic = `fac/v1/${args.site}/d/${cred.id}/cmd/feedback`;
    this.device = new RawDevice({
      host,
      port,
      id: cred.id,
      secret: cred.secret,
      onPublish: (topic, payload, at) => this.onCommand(topic, payload, at),
      onPuback: (id, at) => {
        const s = this.inFlight.get(id);
        if (!s) return;
        this.inFlight.delete(id);
        out.pubacks++;
        if (s.measured) out.pubackUs.push(us(s.at, at));
      },
    });
  }

  async start(): Promise<void> {
    await this.device.start();
    const granted = await this.device.subscribe(commandFilter(args.site, this.cred.id));
    if (granted[0] !== 1) throw new Error(`${this.cred.id}: subscription refused (${granted.join(',')})`);
    this.device.publish(uplinkTopic(args.site, this.cred.id, 'status'), '{"online":true}', true);
  }

  swipe(): void {
    const member = Math.floor(random() * args.members);
    const seq = this.seq++;
    const payload = `{"boot":${args.boot},"seq":${seq},"ts":${Date.now()},"format":"uid","card":"${cardOf(member)}"}`;
    const behindOwn = this.inFlight.size > 0;
    const { messageId, at } = this.device.publish(this.badgeTopic, payload);
    const sinceStart = Number(at - started) / 1e6;
    const second = Math.floor(sinceStart / 1000);
    const s: Swipe = { key: `${this.cred.id}:${args.boot}:${seq}`, at, second, measured: sinceStart >= args.warmupMs, behindOwn };
    (perSecond[second] ??= { sent: 0, maxUs: 0 }).sent++;
    out.sent++;
    if (s.measured) {
      out.measured++;
      out.sentAtNs[s.key] = at.toString();
    }
    this.unlockQueue.push(s);
    this.feedbackQueue.push(s);
    this.inFlight.set(messageId, s);
  }

  /** The next swipe after an exponential pause (mean: controllers / rate). */
  schedule(meanMs: number, until: number): void {
    const wait = -Math.log(1 - random()) * meanMs;
    this.timer = setTimeout(() => {
      if (Date.now() >= until) return;
      this.swipe();
      this.schedule(meanMs, until);
    }, wait);
  }

  private onCommand(topic: string, payload: Buffer, at: bigint): void {
    if (topic === this.unlockTopic) {
      const s = this.unlockQueue.shift();
      if (!s) {
        out.extraUnlocks++;
        return;
      }
      out.unlocks++;
      const lat = us(s.at, at);
      if (s.measured) {
        out.unlockUs.push(lat);
        if (s.behindOwn) out.behindOwnUs.push(lat);
        out.unlockAtNs[s.key] = at.toString();
      }
      const b = perSecond[s.second];
      if (b && lat > b.maxUs) b.maxUs = lat;
    } else if (topic === this.feedbackTopic) {
      const s = this.feedbackQueue.shift();
      out.feedback++;
      const f = JSON.parse(payload.toString()) as { grant: boolean; reason: string };
      if (f.grant) out.granted++;
      else out.refused[f.reason] = (out.refused[f.reason] ?? 0) + 1;
      // A refusal sends no unlock: that swipe's place in the unlock queue goes too.
      if (!f.grant && s) {
        const i = this.unlockQueue.indexOf(s);
        if (i >= 0) this.unlockQueue.splice(i, 1);
      }
      if (s?.measured) out.feedbackUs.push(us(s.at, at));
    }
  }
}

const controllers = args.controllers.map((c) => new Controller(c));
// Connect a few at a time: the gateway limits new connections per second.
for (let i = 0; i < controllers.length; i += 50) await Promise.all(controllers.slice(i, i + 50).map((c) => c.start()));
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

started = process.hrtime.bigint();
const until = Date.now() + args.durationMs;
const meanMs = (controllers.length / args.ratePerSec) * 1000;
for (const c of controllers) c.schedule(meanMs, until);
let cpu0 = process.cpuUsage();
let cpuFrom = Date.now();
setTimeout(() => {
  cpu0 = process.cpuUsage();
  cpuFrom = Date.now();
}, args.warmupMs);
await new Promise((r) => setTimeout(r, args.durationMs + 50));
const cpu = process.cpuUsage(cpu0);
const cpuWindowMs = Date.now() - cpuFrom;
for (const c of controllers) if (c.timer) clearTimeout(c.timer);
// Grace: what is in flight may still be answered.
const deadline = Date.now() + 20_000;
while (controllers.some((c) => c.unlockQueue.length > 0 || c.inFlight.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const result: SwiperResult = { ...out, cpuMs: (cpu.user + cpu.system) / 1000, cpuWindowMs, missingUnlocks: controllers.reduce((a, c) => a + c.unlockQueue.length, 0), perSecond: Array.from(perSecond, (b) => b ?? { sent: 0, maxUs: 0 }) };
for (const c of controllers) c.device.close();
process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
