/**
 * The journal holds at least a million signals while InfluxDB is away, sheds
 * none of them (they are billing signals, under capacity), and the sink
 * delivers them all, in order, once InfluxDB is back. InfluxDB is played by a
 * small HTTP server that refuses (503) until it is "up", then counts lines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import type { OccupancySignal } from '../../core/signals.js';
import { Journal } from '../../gateway/journal/journal.js';

it('holds 1,000,000 unsent signals through an outage and delivers them all after it', async () => {
  let up = false;
  let delivered = 0;
  let lastTs = 0;
  let ordered = true;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      if (!up) {
        res.writeHead(503).end('{"error":"down"}');
        return;
      }
      for (const line of body.split('\n')) {
        if (!line) continue;
        const ts = Number(line.slice(line.lastIndexOf(' ') + 1, -6));
        if (ts < lastTs) ordered = false;
        lastTs = ts;
        delivered++;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const dir = mkdtempSync(join(tmpdir(), 'of-cap-'));
  const journal = new Journal({
    path: join(dir, 'journal.db'),
    site: 'demo',
    maxPending: 5_000_000,
    maxRejects: 100,
    clock: { now: () => Date.now() },
    logger: pino({ level: 'silent' }),
    logLevel: 'silent',
    sink: { url, db: 'test', token: null, username: null, password: null, batchSize: 5000, lingerMs: 0, minBackoffMs: 20, maxBackoffMs: 50, alarmAfterMs: 1000 },
  });
  await journal.start();
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

    up = true;
    expect(await journal.sinkDrained(120_000)).toBe(true);
    expect(delivered).toBe(N);
    expect(ordered).toBe(true);
    expect(journal.stats().pending).toBe(0);
  } finally {
    await journal.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 240_000);
