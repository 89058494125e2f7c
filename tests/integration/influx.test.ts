import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InfluxQueryError,
  InfluxV1Client,
  classifyWriteFailure,
  isReadOnlyQuery,
  parseRetryAfter,
} from '../../gateway/influx/client.js';
import type { WriteResult } from '../../gateway/influx/client.js';
import { InfluxdProcess, ensureInfluxd, findInfluxd } from '../../gateway/influx/influxd.js';
import { freePort } from '../../gateway/net/free-port.js';
import { startTestInfluxd } from '../harness/influxd.js';
import type { TestInflux } from '../harness/influxd.js';

function expectOk(r: WriteResult): void {
  expect(r).toEqual({ ok: true });
}

describe('influxd + InfluxV1Client against a real InfluxDB 1.x', () => {
  let influx: TestInflux;

  beforeAll(async () => {
    influx = await startTestInfluxd();
  });
  afterAll(async () => {
    await influx?.stop();
  });

  it('starts on a free loopback port, answers ping and has the test database', async () => {
    expect(influx.url).toBe(`http://127.0.0.1:${influx.port}`);
    expect(influx.influxd.running).toBe(true);
    expect(influx.influxd.pid).toBeGreaterThan(0);
    expect(await influx.client.ping()).toBe(true);
    const [dbs] = await influx.client.query('SHOW DATABASES', { db: '' });
    expect(dbs?.series[0]?.values).toContainEqual([influx.db]);
    // Everything lives under the temp dir.
    const conf = await readFile(join(influx.dir, 'influxd.conf'), 'utf8');
    expect(conf).toContain(`dir = ${JSON.stringify(join(influx.dir, 'meta'))}`);
    expect(conf).toContain(`wal-dir = ${JSON.stringify(join(influx.dir, 'wal'))}`);
    expect(conf).toContain(`bind-address = "127.0.0.1:${influx.port}"`);
  });

  it('writes line protocol with ns precision and reads it back exactly', async () => {
    const body = [
      'power,device=lathe-1,zone=wood watts=1500.5,on=true,state="run" 1700000000123456789',
      'power,device=lathe-1,zone=wood watts=0,on=false,state="idle" 1700000001000000001',
      'count,device=door-2 n=7i 1700000000000000000',
    ].join('\n');
    expectOk(await influx.client.write(body, 'ns'));

    // Without epoch InfluxDB returns RFC 3339 with full nanoseconds (epoch=ns numbers exceed 2^53).
    const [res] = await influx.client.query('SELECT * FROM power GROUP BY device');
    expect(res?.series).toEqual([
      {
        name: 'power',
        tags: { device: 'lathe-1' },
        columns: ['time', 'on', 'state', 'watts', 'zone'],
        values: [
          ['2023-11-14T22:13:20.123456789Z', true, 'run', 1500.5, 'wood'],
          ['2023-11-14T22:13:21.000000001Z', false, 'idle', 0, 'wood'],
        ],
      },
    ]);
    const [ms] = await influx.client.query('SELECT n FROM count', { epoch: 'ms' });
    expect(ms?.series[0]?.values).toEqual([[1700000000000, 7]]);
    expect(await influx.count('power')).toBe(2);
    expect(await influx.count('power', `"state" = 'run'`)).toBe(1);
  });

  it('stores the same point written twice once (idempotent replay)', async () => {
    const line = 'replay,device=m1 seq=1i,event_id="e-1" 1700000100000000000';
    expectOk(await influx.client.write(line, 'ns'));
    expectOk(await influx.client.write(line, 'ns'));
    expectOk(await influx.client.write(`${line}\n${line}`, 'ns'));
    expect(await influx.count('replay')).toBe(1);
  });

  it('reports a field type conflict as drop, with the valid points of the batch written', async () => {
    expectOk(await influx.client.write('typed,device=t v=1i 1700000200000000000', 'ns'));
    const r = await influx.client.write(
      ['typed,device=t v=2i 1700000201000000000', 'typed,device=t v=2.5 1700000202000000000'].join('\n'),
      'ns',
    );
    expect(r).toMatchObject({ ok: false, action: 'drop', code: 'field_type_conflict', status: 400, partial: true, dropped: 1 });
    if (!r.ok) expect(r.message).toContain('field type conflict');
    expect(await influx.count('typed')).toBe(2);
  });

  it('reports unparsable line protocol as drop', async () => {
    const r = await influx.client.write('bad v=1 not-a-time', 'ns');
    expect(r).toMatchObject({ ok: false, action: 'drop', code: 'parse_error', status: 400 });
  });

  it('reports a missing database or retention policy as fatal', async () => {
    const noDb = new InfluxV1Client({ url: influx.url, db: 'no_such_db' });
    const r = await noDb.write('m v=1', 'ns');
    expect(r).toMatchObject({ ok: false, action: 'fatal', code: 'database_not_found', status: 404 });
    if (!r.ok) expect(r.message).toContain('database not found');

    const noRp = new InfluxV1Client({ url: influx.url, db: influx.db, retentionPolicy: 'nope' });
    expect(await noRp.write('m v=1', 'ns')).toMatchObject({
      ok: false,
      action: 'fatal',
      code: 'retention_policy_not_found',
      status: 500,
    });
  });

  it('sets how long raw signals are kept: the default retention policy, shard duration to match, forever with 0', async () => {
    const before = await influx.client.retentionPolicies();
    expect(before).toEqual([expect.objectContaining({ name: 'autogen', duration: '0s', default: true })]);
    expect(await influx.client.setRetention(400)).toEqual({ policy: 'autogen', before: '0s', after: '9600h0m0s' });
    expect(await influx.client.setRetention(30)).toMatchObject({ after: '720h0m0s' });
    expect((await influx.client.retentionPolicies())[0]).toMatchObject({ shardGroupDuration: '24h0m0s', default: true });
    // A point older than the policy is refused by InfluxDB itself (the sink drops it: beyond_retention).
    const old = (Date.now() - 40 * 86_400_000) * 1e6;
    expect(await influx.client.write(`retained v=1i ${old}`, 'ns')).toMatchObject({ ok: false, code: 'beyond_retention' });
    expect(await influx.client.setRetention(0)).toMatchObject({ after: '0s' });
    expect(await influx.client.write(`retained v=1i ${old}`, 'ns')).toMatchObject({ ok: true });
    // A named policy that does not exist yet is created (not made the default).
    const named = new InfluxV1Client({ url: influx.url, db: influx.db, retentionPolicy: 'raw' });
    expect(await named.setRetention(1)).toEqual({ policy: 'raw', before: null, after: '24h0m0s' });
    expect((await influx.client.retentionPolicies()).map((p) => [p.name, p.default])).toEqual([['autogen', true], ['raw', false]]);
  });

  it('throws query errors with InfluxDB’s message', async () => {
    await expect(influx.client.query('SELEC * FROM x')).rejects.toThrow(/error parsing query/);
    const err: unknown = await influx.client.query('SELECT * FROM x', { db: 'no_such_db' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfluxQueryError);
    expect((err as InfluxQueryError).message).toContain('database not found: no_such_db');
    expect((err as InfluxQueryError).statementId).toBe(0);
  });

  it('returns retry (never throws) while influxd is down, and keeps the data across restarts', async () => {
    expectOk(await influx.client.write('outage,device=o v=1i 1700000300000000000', 'ns'));
    await influx.stopForOutage();
    expect(influx.influxd.running).toBe(false);
    expect(await influx.client.ping()).toBe(false);

    const r = await influx.client.write('outage,device=o v=2i 1700000301000000000', 'ns');
    expect(r).toMatchObject({ ok: false, action: 'retry', code: 'network' });
    if (!r.ok) expect(r.message).toContain('ECONNREFUSED');
    await expect(influx.client.query('SELECT * FROM outage')).rejects.toThrow(InfluxQueryError);

    await influx.startAgain();
    expectOk(await influx.client.write('outage,device=o v=2i 1700000301000000000', 'ns'));
    expect(await influx.count('outage')).toBe(2);

    await influx.restart();
    expect(await influx.client.ping()).toBe(true);
    expect(await influx.count('outage')).toBe(2);
    expect(await influx.count('power')).toBe(2);
  });

  it('keeps acknowledged writes across a SIGKILL (WAL replay)', async () => {
    expectOk(await influx.client.write('crash,device=c v=1i 1700000400000000000', 'ns'));
    const exited = influx.influxd.exited;
    expect(influx.influxd.kill('SIGKILL')).toBe(true);
    expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(influx.influxd.running).toBe(false);
    expect(await influx.client.write('crash,device=c v=2i 1700000401000000000', 'ns')).toMatchObject({
      action: 'retry',
    });
    await influx.startAgain();
    expect(await influx.count('crash')).toBe(1);
  });

  it('times out against a hung influxd with action retry', async () => {
    const impatient = new InfluxV1Client({ url: influx.url, db: influx.db, timeoutMs: 300 });
    influx.influxd.kill('SIGSTOP');
    try {
      const r = await impatient.write('hung v=1i', 'ns');
      expect(r).toMatchObject({ ok: false, action: 'retry', code: 'timeout' });
      expect(await impatient.ping()).toBe(false);
    } finally {
      influx.influxd.kill('SIGCONT');
    }
    expect(await influx.client.ping()).toBe(true);
  });

  it('runs two influxd instances at once on different ports', async () => {
    const other = await startTestInfluxd();
    try {
      expect(other.port).not.toBe(influx.port);
      expect(other.dir).not.toBe(influx.dir);
      expectOk(await other.client.write('twin v=1i 1\ntwin v=2i 2', 'ns'));
      expectOk(await influx.client.write('twin v=1i 1', 'ns'));
      expect(await other.count('twin')).toBe(2);
      expect(await influx.count('twin')).toBe(1);
    } finally {
      await other.stop();
    }
    await expect(readFile(join(other.dir, 'influxd.conf'))).rejects.toThrow(/ENOENT/);
    expect(await influx.client.ping()).toBe(true);
  });
});

describe('InfluxdProcess start failures', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'of-influxd-fail-'));
    dirs.push(d);
    return d;
  };

  it('rejects with influxd’s last output when the HTTP port is taken', async () => {
    const port = await freePort();
    // Our readiness probe connects to the blocker; destroy those sockets or close() waits for them.
    const sockets = new Set<Socket>();
    const blocker: Server = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    const proc = new InfluxdProcess({ dataDir: await tempDir(), port, startTimeoutMs: 10_000 });
    try {
      await expect(proc.start()).rejects.toThrow(/address already in use/);
      expect(proc.running).toBe(false);
    } finally {
      await proc.stop();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('rejects clearly when the binary cannot be run', async () => {
    const proc = new InfluxdProcess({ dataDir: await tempDir(), binary: '/nonexistent/influxd' });
    await expect(proc.start()).rejects.toThrow(/could not run \/nonexistent\/influxd: .*ENOENT/);
    expect(proc.running).toBe(false);
    await proc.stop(); // idempotent, nothing to stop
  });

  it('finds the installed influxd without installing anything', async () => {
    const found = findInfluxd();
    expect(found).toMatch(/influxd$/);
    expect(await ensureInfluxd({ install: false, logger: pino({ level: 'silent' }) })).toBe(found);
  });
});

describe('write outcome classification', () => {
  it.each([
    [429, '', '7', { action: 'retry', code: 'throttled', retryAfterMs: 7000 }],
    [503, 'busy', null, { action: 'retry', code: 'throttled' }],
    [500, 'timeout', null, { action: 'retry', code: 'server_error' }],
    [502, 'bad gateway', '2', { action: 'retry', code: 'server_error', retryAfterMs: 2000 }],
    [408, '', null, { action: 'retry', code: 'timeout' }],
    [413, 'Request Entity Too Large', null, { action: 'split', code: 'too_large' }],
    [400, 'partial write: points beyond retention policy dropped=3', null, { action: 'drop', code: 'beyond_retention', partial: true, dropped: 3 }],
    [422, 'failed to parse line protocol', null, { action: 'drop', code: 'rejected', partial: false }],
    [401, 'authorization failed', null, { action: 'fatal', code: 'unauthorized' }],
    [403, 'forbidden', null, { action: 'fatal', code: 'forbidden' }],
    [404, 'bucket "x" not found', null, { action: 'fatal', code: 'database_not_found' }],
    [405, 'method not allowed', null, { action: 'fatal', code: 'unexpected_status' }],
  ] as const)('%i %s → %o', (status, message, retryAfter, expected) => {
    expect(classifyWriteFailure(status, message, retryAfter)).toEqual({ ok: false, status, message, ...expected });
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-11-25T10:00:00Z');
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter('Wed, 25 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it.each([
    ['SELECT * FROM m', true],
    ['show databases; SELECT 1', true],
    [`SELECT * FROM m WHERE "x" = 'a;DROP DATABASE d'`, true],
    ['SELECT * INTO m2 FROM m', false],
    [`SELECT * FROM m WHERE "note" = 'into the wild'`, true],
    ['CREATE DATABASE x', false],
    ['SELECT 1; DROP MEASUREMENT m', false],
  ])('%s is read-only: %s', (q, expected) => {
    expect(isReadOnlyQuery(q)).toBe(expected);
  });
});
