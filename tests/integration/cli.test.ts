/** The `facility` command as a user runs it: init, site check with file:line errors, and a clean Ctrl-C. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestInfluxd } from '../harness/influxd.js';
import { makeTestSite, REPO, startGatewayProcess } from '../harness/gateway.js';
import { connectDevice, devicesOfKind, occupancyPayload, occupancyTopic } from '../harness/devices.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function facility(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'cli/facility.ts'), ...args], { cwd: REPO });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('facility init and site check', () => {
  it('writes the example site and secrets, and refuses to overwrite them without --force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'of-cli-'));
    dirs.push(dir);
    const first = await facility(['init', '--data-dir', dir]);
    expect(first.code).toBe(0);
    expect(existsSync(join(dir, 'site.yaml'))).toBe(true);
    expect(statSync(join(dir, 'device-secrets.json')).mode & 0o777).toBe(0o600);
    const again = await facility(['init', '--data-dir', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/--force/);
    const check = await facility(['site', 'check', join(dir, 'site.yaml')]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/OK .* 44 desks, 10 machines, 65 devices/);
  });

  it('writes a larger example for load tests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'of-cli-'));
    dirs.push(dir);
    expect((await facility(['init', '--data-dir', dir, '--desks', '200', '--machines', '25'])).code).toBe(0);
    const check = await facility(['site', 'check', join(dir, 'site.yaml')]);
    expect(check.stdout).toMatch(/208 desks, 25 machines/);
  });

  it('reports site file errors with file, line and reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'of-cli-'));
    dirs.push(dir);
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'site: { id: demo, name: Demo, timezone: Asia/Shanghai }',
        'spaces:',
        '  - { id: cowork, name: Floor, kind: open-space }',
        'desks:',
        '  - { id: D01, space: cowork }',
        'devices:',
        '  - id: occ-D01',
        '    kind: occupancy-sensor',
        '    desk: D99',
        '    credentials: { secret: "env:OCC_SECRET" }',
        '',
      ].join('\n'),
    );
    const r = await facility(['site', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`bad\\.yaml:10:\\d+: devices\\[0\\]\\.desk: .*D99`));
  });

  it('explains a bad configuration instead of starting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'of-cli-'));
    dirs.push(dir);
    const cfg = join(dir, 'facility.yaml');
    writeFileSync(cfg, 'mqtt:\n  port: "eighteen"\n  bogus: 1\n');
    const r = await facility(['start', '--config', cfg, '--data-dir', dir, '--no-sim']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\/mqtt\/port/);
    expect(r.stderr).toMatch(/\/mqtt\/bogus/);
  });

  it('explains what `facility gateway` needs (the server URL and a gateway token) before starting anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'of-cli-'));
    dirs.push(dir);
    const r = await facility(['gateway', '--data-dir', dir, '--no-sim']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--server-url/);
    expect(r.stderr).toMatch(/FACILITY_GATEWAY_TOKEN/);
    expect(existsSync(join(dir, 'site.yaml'))).toBe(false);
  });
});

it('shuts down cleanly on Ctrl-C, with everything acknowledged written to InfluxDB', async () => {
  const [influx, site] = await Promise.all([startTestInfluxd(), makeTestSite()]);
  const gw = await startGatewayProcess({ site, influxUrl: influx.url, db: influx.db, config: { mqtt: { devicePublishRatePerSec: 100_000, devicePublishBurst: 100_000 } } });
  try {
    const d = devicesOfKind(site.site, 'occupancy-sensor')[0]!;
    const c = await connectDevice(gw.mqttUrl, d.id, site.secrets[d.id]);
    const N = 3000;
    await Promise.all(Array.from({ length: N }, (_, seq) => c.publishAsync(occupancyTopic(site.site.id, d.id), occupancyPayload(1, seq, Date.now() - 60_000 + seq), { qos: 1 })));
    c.end(true);
    const t = Date.now();
    const exit = await gw.kill('SIGINT');
    expect(exit.code).toBe(0);
    expect(Date.now() - t).toBeLessThan(10_000);
    expect(await influx.count('occupancy', `device='${d.id}'`)).toBe(N);
    expect(readFileSync(join(gw.dataDir, 'journal.db')).length).toBeGreaterThan(0);
  } finally {
    await gw.cleanup();
    await influx.stop();
    await site.cleanup();
  }
});
