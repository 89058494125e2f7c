/**
 * A real influxd for integration tests: fresh temp dir, free loopback port, a database with a unique name.
 * Outages and restarts keep the same data dir and port, so clients built from `url` keep working.
 *
 *   const influx = await startTestInfluxd();
 *   afterAll(() => influx.stop());
 *
 * Set OF_TEST_LOG=debug to see influxd's own output.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { InfluxV1Client, quoteIdentifier } from '../../gateway/influx/client.js';
import { InfluxdProcess } from '../../gateway/influx/influxd.js';

export interface TestInflux {
  url: string;
  port: number;
  /** A database created for this instance (unique name). */
  db: string;
  /** A client bound to `url` and `db`. */
  client: InfluxV1Client;
  /** The temp dir holding config, meta, data and WAL (removed by `stop()`). */
  dir: string;
  /** The process itself, for fault tests (`kill('SIGKILL')`, `kill('SIGSTOP')`, `pid`, `running`). */
  influxd: InfluxdProcess;
  /** Stops influxd and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Stop (SIGTERM) and start again on the same dir and port. */
  restart(): Promise<void>;
  /** Stops influxd but keeps its data: writes now fail with action 'retry'. */
  stopForOutage(): Promise<void>;
  /** Starts influxd again after `stopForOutage()` or a kill, on the same dir and port. */
  startAgain(): Promise<void>;
  /**
   * Number of points in `measurement` (in `db`), optionally filtered by an InfluxQL `where` condition
   * (without the WHERE keyword). Counts per field with `count(*)` and returns the largest: exact when
   * some field is present on every point, which holds for our mappings.
   */
  count(measurement: string, where?: string): Promise<number>;
}

export interface StartTestInfluxOptions {
  /** Database name; default `test_<random>`. */
  db?: string;
  /** Client timeout; default 5 000 ms (tests should fail fast). */
  timeoutMs?: number;
}

export async function startTestInfluxd(opts: StartTestInfluxOptions = {}): Promise<TestInflux> {
  const dir = await mkdtemp(join(tmpdir(), 'of-influxd-'));
  const logger = pino({ level: process.env.OF_TEST_LOG ?? 'silent' });
  const influxd = new InfluxdProcess({ dataDir: dir, logger });
  let started: { url: string; port: number };
  try {
    started = await influxd.start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const db = opts.db ?? `test_${randomBytes(6).toString('hex')}`;
  const client = new InfluxV1Client({ url: started.url, db, timeoutMs: opts.timeoutMs ?? 5_000 });
  try {
    await client.createDatabase();
  } catch (err) {
    await influxd.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  let stopped: Promise<void> | undefined;
  const startAgain = async (): Promise<void> => {
    const again = await influxd.start();
    if (again.port !== started.port) {
      throw new Error(`influxd came back on port ${again.port}, expected ${started.port}`);
    }
  };

  return {
    url: started.url,
    port: started.port,
    db,
    client,
    dir,
    influxd,
    stop() {
      stopped ??= (async () => {
        await influxd.stop();
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
    async restart() {
      await influxd.stop();
      await startAgain();
    },
    stopForOutage() {
      return influxd.stop();
    },
    startAgain,
    async count(measurement, where) {
      const q = `SELECT count(*) FROM ${quoteIdentifier(measurement)}${where ? ` WHERE ${where}` : ''}`;
      const [result] = await client.query(q);
      let max = 0;
      for (const series of result?.series ?? []) {
        for (const row of series.values) {
          for (const [i, column] of series.columns.entries()) {
            const v = row[i];
            if (column.startsWith('count_') && typeof v === 'number' && v > max) max = v;
          }
        }
      }
      return max;
    },
  };
}
