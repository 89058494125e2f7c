/**
 * The journal holds at least a million signals while InfluxDB is away, sheds
 * none of them (they are billing signals, under capacity), and the sink
 * delivers them all, in order, once InfluxDB is back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import type { OccupancySignal } from '../../core/signals.js';
import { Journal } from '../../gateway/journal/journal.js';
import { createGatewayMetrics } from '../../gateway/metrics.js';
import { InfluxSink, type SinkWriteResult } from '../../gateway/sink/influx-sink.js';

it('holds 1,000,000 unsent signals through an outage and delivers them all after it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'of-cap-'));
  const logger = pino({ level: 'silent' });
  const clock = { now: () => Date.now() };
  const journal = new Journal({ path: join(dir, 'journal.db'), site: 'demo', maxPending: 5_000_000, maxRejects: 100, clock, logger });
  await journal.start();
  let influxUp = false;
  let delivered = 0;
  let lastTs = 0;
  let ordered = true;
  const sink = new InfluxSink({
    journal,
    metrics: createGatewayMetrics(),
    clock,
    logger,
    batchSize: 5000,
    lingerMs: 0,
    minBackoffMs: 20,
    maxBackoffMs: 50,
    alarmAfterMs: 1000,
    writer: {
      write(body): Promise<SinkWriteResult> {
        if (!influxUp) return Promise.resolve({ ok: false, action: 'retry', message: 'connect ECONNREFUSED' });
        for (const line of body.split('\n')) {
          const ts = Number(line.slice(line.lastIndexOf(' ') + 1, -6));
          if (ts < lastTs) ordered = false;
          lastTs = ts;
          delivered++;
        }
        return Promise.resolve({ ok: true });
      },
    },
  });
  sink.start();
  try {
    const N = 1_000_000;
    const T0 = Date.UTC(2026, 0, 1);
    const CHUNK = 20_000;
    for (let start = 0; start < N; start += CHUNK) {
      await Promise.all(
        Array.from({ length: CHUNK }, (_, k) => {
          const seq = start + k;
          const s: OccupancySignal = {
            kind: 'occupancy', key: `occ-${seq % 50}:1:${seq}`, site: 'demo', device: `occ-${seq % 50}`, deviceKind: 'occupancy-sensor',
            space: 'cowork', target: { type: 'desk', id: `D${seq % 50}` }, seq, ts: T0 + seq, tsSource: 'device', occupied: seq % 3 === 0,
          };
          return new Promise<void>((resolve, reject) => journal.append(s, 'billing', (err) => (err ? reject(err) : resolve())));
        }),
      );
    }
    const held = journal.stats();
    expect(held.pending).toBe(N);
    expect(held.shed).toBe(0);
    expect(delivered).toBe(0);

    influxUp = true;
    expect(await sink.drained(120_000)).toBe(true);
    expect(delivered).toBe(N);
    expect(ordered).toBe(true);
    expect(journal.stats().pending).toBe(0);
  } finally {
    await sink.stop();
    await journal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 240_000);
