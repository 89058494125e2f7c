/**
 * Catalogue B1 (MQTT packet fuzz), scaled to test time: generated and mutated
 * MQTT packets against the gateway's broker (gateway/broker/broker.ts, the
 * real aedes set-up with our hooks and packet guard), in process on loopback,
 * behind the example site. The ingress is a stand-in that decodes and
 * acknowledges at once (the journal is not under test here).
 *
 * Each fuzz connection sends, authenticated as a device or not, a few frames:
 * packets built with mqtt-packet (CONNECT, PUBLISH, SUBSCRIBE, … MQTT 3.1.1
 * and 5 with properties), about 3 in 10 mutated (bit flips, truncation,
 * inserted bytes, reserved flag bits), plus the catalogue's seeds: zero-length
 * topic, malformed DISCONNECT, invalid UTF-8 topic, a wildcard in a PUBLISH
 * topic, bad Remaining Length encodings, a second CONNECT, reserved flags,
 * MQTT 5 property abuse, a client-sent CONNACK.
 * Properties: nothing escapes as an exception; a byte stream mqtt-packet's own
 * parser rejects gets the connection closed; a healthy device publishing QoS 1
 * throughout keeps its PUBACK p99 under a second (a bound, generous for a loaded machine); the heap stays under 512 MB.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import fc from 'fast-check';
import * as mqttPacket from 'mqtt-packet';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uplinkTopic } from '../../core/protocol/topics.js';
import { exampleSiteFile } from '../../core/site/example.js';
import type { Site } from '../../core/site/model.js';
import { validateSite } from '../../core/site/validate.js';
import { MqttBroker } from '../../gateway/broker/broker.js';
import { mqttDecoder } from '../../gateway/decoders/index.js';
import type { SignalIngress } from '../../gateway/ingress/signal-ingress.js';
import { createGatewayMetrics } from '../../gateway/metrics.js';
import { params } from './support.js';

const site: Site = (() => {
  const r = validateSite(exampleSiteFile({ credentialsFor: () => ({ secret: 'env:FUZZ_SECRET' }) }));
  if (!r.ok) throw new Error('example site invalid');
  return r.site;
})();
const password = (id: string): string => `pw-${id}`;
const CANARY = 'occ-st-01';
const FUZZER = 'occ-st-02';

let broker: MqttBroker;
let port = 0;
const escaped: unknown[] = [];
const onEscape = (e: unknown): void => void escaped.push(e);
let decoded = 0;
let rejectedByAcl = 0;
let fuzzDecoded = 0;

beforeAll(async () => {
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  // Decodes (so decoders see what the broker lets through) and acknowledges at once.
  const ingress = {
    accept(device, channel, topic, payload, cb) {
      if (device.id === FUZZER) fuzzDecoded++;
      mqttDecoder(device.format).decode(channel, payload, { site: site.id, device, topic, receivedAt: Date.now(), messageId: `fuzz.${++decoded}`, maxPastMs: 86_400_000, maxFutureMs: 300_000 });
      cb(null);
    },
    rejectUnrouted() {
      rejectedByAcl++;
    },
  } as Pick<SignalIngress, 'accept' | 'rejectUnrouted'> as SignalIngress;
  broker = new MqttBroker({
    host: '127.0.0.1',
    port: 0,
    site,
    verifyCredentials: (id, pw) => pw !== undefined && pw.toString() === password(id),
    ingress,
    limits: {
      maxPacketSize: 65_536,
      // Long, so what closes a fuzz connection is the broker's judgement of its bytes, not the clock.
      connectTimeoutMs: 30_000,
      drainTimeoutMs: 5000,
      keepaliveLimitS: 600,
      connectRatePerSec: 100_000,
      devicePublishRatePerSec: 100_000,
      devicePublishBurst: 100_000,
      authFailuresPerMinute: 1_000_000,
    },
    metrics: createGatewayMetrics(),
    clock: { now: () => Date.now() },
    logger: pino({ level: 'silent' }),
  });
  port = await broker.start();
});

afterAll(async () => {
  await broker?.stop();
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});

// ---------------------------------------------------------------------------------------------
// Frames

const gen = (p: object, protocolVersion: 4 | 5 = 4): Buffer => mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion });

const connectFrame = (v: 4 | 5 = 4): Buffer =>
  gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clean: true, clientId: FUZZER, keepalive: 60, username: FUZZER, password: Buffer.from(password(FUZZER)) }, v);

const ownTopic = uplinkTopic(site.id, FUZZER, 'occupancy');
const topic = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(ownTopic, uplinkTopic(site.id, FUZZER, 'health'), uplinkTopic(site.id, FUZZER, 'status')) },
  { weight: 2, arbitrary: fc.constantFrom(uplinkTopic(site.id, CANARY, 'occupancy'), `${ownTopic}/x`, '#', '+/+/cmd/#', '$SYS/broker', 'a/+/b', `fac/v1/${site.id}/d/${FUZZER}/cmd/unlock`, 'x'.repeat(300)) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
);
const props5 = fc.option(
  fc.record(
    {
      payloadFormatIndicator: fc.boolean(),
      messageExpiryInterval: fc.nat(),
      topicAlias: fc.integer({ min: 0, max: 65535 }),
      responseTopic: fc.string({ maxLength: 20 }),
      correlationData: fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)),
      userProperties: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
      subscriptionIdentifier: fc.integer({ min: 1, max: 268_435_455 }),
      contentType: fc.string({ maxLength: 20 }),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

const publish: fc.Arbitrary<{ p: object; v: 4 | 5 }> = fc.record({ topic, payload: fc.uint8Array({ maxLength: 200 }), qos: fc.constantFrom(0, 1, 1, 2), retain: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }), dup: fc.boolean(), messageId: fc.integer({ min: 1, max: 65535 }), v: fc.constantFrom<4 | 5>(4, 5), properties: props5 }).map(({ v, properties, payload, ...p }) => ({
    p: { cmd: 'publish', ...p, payload: Buffer.from(payload), ...(v === 5 && properties !== undefined && { properties }) },
    v,
  }));

/** A packet mqtt-packet can write (as a client could send it); publishes twice as often, as they reach the ACL and the decoders. */
const packet: fc.Arbitrary<{ p: object; v: 4 | 5 }> = fc.oneof(
  publish,
  publish,
  fc.record({ filters: fc.array(fc.record({ topic, qos: fc.constantFrom(0, 1, 2) }), { minLength: 1, maxLength: 4 }), messageId: fc.integer({ min: 1, max: 65535 }) }).map(({ filters, messageId }) => ({ p: { cmd: 'subscribe', messageId, subscriptions: filters }, v: 4 as const })),
  fc.record({ filters: fc.array(topic, { minLength: 1, maxLength: 3 }), messageId: fc.integer({ min: 1, max: 65535 }) }).map(({ filters, messageId }) => ({ p: { cmd: 'unsubscribe', messageId, unsubscriptions: filters }, v: 4 as const })),
  fc.constantFrom('pingreq', 'disconnect').map((cmd) => ({ p: { cmd }, v: 4 as const })),
  fc.record({ cmd: fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp'), messageId: fc.integer({ min: 1, max: 65535 }) }).map((p) => ({ p, v: 4 as const })),
  // Packets only a server sends, and a second CONNECT.
  fc.constantFrom({ p: { cmd: 'connack', returnCode: 0, sessionPresent: false }, v: 4 as const }, { p: { cmd: 'suback', messageId: 1, granted: [0] }, v: 4 as const }, { p: { cmd: 'pingresp' }, v: 4 as const }),
  fc.constant({ p: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: FUZZER, username: FUZZER, password: Buffer.from(password(FUZZER)) }, v: 4 as const }),
);

/** The catalogue's seed frames, raw. */
const SEEDS: readonly Buffer[] = [
  Buffer.from([0x30, 0x02, 0x00, 0x00]), // PUBLISH with a zero-length topic (CVE-2021-34432)
  Buffer.from([0xe0, 0x01, 0xff]), // DISCONNECT with a body
  Buffer.from([0xe2, 0x00]), // DISCONNECT with reserved flags
  Buffer.from([0x30, 0x05, 0x00, 0x02, 0xc3, 0x28, 0x41]), // invalid UTF-8 in a topic (CVE-2017-7653)
  Buffer.from([0x30, 0x05, 0x00, 0x03, 0x61, 0x2f, 0x23]), // PUBLISH to "a/#"
  Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), // Remaining Length of five bytes
  Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80]), // Remaining Length never ending
  Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), // 256 MB declared
  Buffer.from([0x20, 0x02, 0x00, 0x00]), // CONNACK from a client (CVE-2021-28166)
  Buffer.from([0x82, 0x03, 0x00, 0x01, 0x00]), // SUBSCRIBE without any filter
  Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]), // SUBSCRIBE with reserved flags (must be 0x82)
  Buffer.from([0x00, 0x00]), // packet type 0 (reserved)
  Buffer.from([0xf0, 0x00]), // packet type 15 (AUTH) in MQTT 3.1.1
  Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]), // PUBLISH with QoS 3
];

function mutate(frame: Buffer): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.record({ i: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }).map(({ i, bit }) => {
      const b = Buffer.from(frame);
      if (b.length > 0) b[i % b.length]! ^= 1 << bit;
      return b;
    }),
    fc.nat().map((n) => frame.subarray(0, n % (frame.length + 1))),
    fc.record({ i: fc.nat(), ins: fc.uint8Array({ minLength: 1, maxLength: 6 }) }).map(({ i, ins }) => {
      const at = i % (frame.length + 1);
      return Buffer.concat([frame.subarray(0, at), Buffer.from(ins), frame.subarray(at)]);
    }),
    fc.integer({ min: 1, max: 15 }).map((flags) => {
      const b = Buffer.from(frame);
      if (b.length > 0) b[0] = (b[0]! & 0xf0) | flags;
      return b;
    }),
  );
}

const frame: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: packet.map(({ p, v }) => gen(p, v)) },
  { weight: 3, arbitrary: packet.chain(({ p, v }) => mutate(gen(p, v))) },
  { weight: 1, arbitrary: fc.constantFrom(...SEEDS) },
);

/** Whether mqtt-packet's parser (the one aedes uses) refuses the stream as MQTT 3.1.1 or 5. */
function malformed(stream: Buffer, v: 4 | 5): boolean {
  const parser = mqttPacket.parser({ protocolVersion: v });
  let bad = false;
  parser.on('error', () => void (bad = true));
  try {
    parser.parse(stream);
  } catch {
    bad = true;
  }
  return bad;
}

interface Outcome {
  readonly closed: boolean;
  readonly ms: number;
}

function session(frames: readonly Buffer[], waitMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock: Socket = tcpConnect(port, '127.0.0.1');
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ closed, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    sock.on('close', () => finish(true));
    sock.on('error', () => undefined);
    sock.on('connect', () => {
      for (const f of frames) sock.write(f);
    });
  });
}

describe('MQTT packet fuzz against the broker (B1, scaled)', () => {
  it('closes every connection whose bytes do not parse, throws nothing, keeps a healthy device fast', async () => {
    const canary: MqttClient = await connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: CANARY, username: CANARY, password: password(CANARY), reconnectPeriod: 0 });
    const latencies: number[] = [];
    let seq = 0;
    let canaryOn = true;
    const canaryLoop = (async () => {
      while (canaryOn) {
        const t = performance.now();
        await canary.publishAsync(uplinkTopic(site.id, CANARY, 'occupancy'), JSON.stringify({ boot: 1, seq: ++seq, occupied: seq % 2 === 0 }), { qos: 1 });
        latencies.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const cases = fc.sample(
      fc.record({ authenticated: fc.boolean(), v: fc.constantFrom<4 | 5>(4, 5), frames: fc.array(frame, { minLength: 1, maxLength: 4 }) }),
      params(0xb1_0001, 3000),
    );
    const failures: string[] = [];
    let frames = 0;
    let closedMalformed = 0;
    for (let i = 0; i < cases.length; i += 40) {
      const batch = cases.slice(i, i + 40);
      const outcomes = await Promise.all(
        batch.map((c) => {
          const all = [...(c.authenticated ? [connectFrame(c.v)] : []), ...c.frames];
          frames += all.length;
          const bad = malformed(Buffer.concat(all), c.v);
          // A stream the parser refuses must be closed: give it a second. Others are left after a moment.
          return session(all, bad ? 1000 : 30).then((o) => ({ c, bad, o, all }));
        }),
      );
      for (const { c, bad, o, all } of outcomes) {
        if (bad && !o.closed) failures.push(`not closed (v${c.v}, ${c.authenticated ? 'authenticated' : 'anonymous'}): ${Buffer.concat(all).toString('hex').slice(0, 200)}`);
        if (bad && o.closed) closedMalformed++;
      }
    }
    canaryOn = false;
    await canaryLoop;
    await canary.endAsync();

    expect(escaped.map(String)).toEqual([]);
    expect(failures.slice(0, 10)).toEqual([]);
    expect(closedMalformed).toBeGreaterThan(300);
    expect(frames).toBeGreaterThan(7000);
    // Frames reached the ACL and the decoders, not only the parser.
    expect(rejectedByAcl).toBeGreaterThan(5);
    expect(fuzzDecoded).toBeGreaterThan(5);
    const sorted = [...latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? Infinity;
    expect(latencies.length).toBeGreaterThan(50);
    expect(p99, `canary PUBACK p99 ${p99.toFixed(1)} ms over ${latencies.length} publishes`).toBeLessThan(1000);
    expect(process.memoryUsage().heapUsed).toBeLessThan(512 * 2 ** 20);
    expect(broker.health().port).toBe(port);
  });
});
