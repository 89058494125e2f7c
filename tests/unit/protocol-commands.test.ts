/**
 * The command side of the canonical protocol (core/protocol/commands.ts) and
 * its documentation: parsing as a device does it, the heartbeat a controller is
 * given, the offline default that follows from it, and docs/protocol.md's
 * reason table, which must match core/access/reasons.ts exactly.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REASONS, SESSION_ENDS, SESSION_WARNINGS } from '../../core/access/reasons.js';
import { COMMANDS, CONTROLLER_HEARTBEAT_S, CONTROLLER_MISSED_BEATS, CONTROLLER_SILENT_AFTER_MS, controllerHeartbeatS, parseCommand } from '../../core/protocol/commands.js';
import { validateSite } from '../../core/site/validate.js';

const DOC = resolve(import.meta.dirname, '../../docs/protocol.md');

describe('docs/protocol.md reader feedback table', () => {
  /** The rows between the reasons markers, as the reasons table's shape. */
  function docRows(): { code: string; grant: boolean; led: string; beeps: number; en: string; zh: string }[] {
    const text = readFileSync(DOC, 'utf8');
    const begin = text.indexOf('<!-- reasons:begin -->');
    const end = text.indexOf('<!-- reasons:end -->');
    expect(begin, 'docs/protocol.md lost its <!-- reasons:begin --> marker').toBeGreaterThan(-1);
    expect(end, 'docs/protocol.md lost its <!-- reasons:end --> marker').toBeGreaterThan(begin);
    const lines = text.slice(begin, end).split('\n').filter((l) => l.startsWith('|'));
    expect(lines[0]).toBe('| Code | Grant | LED | Beeps | English | 中文 |');
    return lines.slice(2).map((line) => {
      const cells = line.slice(1, -1).split('|').map((c) => c.trim());
      expect(cells, `malformed row: ${line}`).toHaveLength(6);
      const [code, grant, led, beeps, en, zh] = cells as [string, string, string, string, string, string];
      return { code: code.replace(/^`|`$/g, ''), grant: grant === 'yes', led, beeps: Number(beeps), en, zh };
    });
  }

  it('lists every reason code of core/access/reasons.ts, in order, with its grant, LED, beeps and both texts', () => {
    const expected = Object.entries(REASONS).map(([code, r]) => ({ code, grant: r.grant, led: r.led, beeps: r.beeps, en: r.en, zh: r.zh }));
    const rows = docRows();
    // On a mismatch, the message carries the table to paste into the doc.
    const table = expected.map((r) => `| \`${r.code}\` | ${r.grant ? 'yes' : 'no'} | ${r.led} | ${r.beeps} | ${r.en} | ${r.zh} |`).join('\n');
    expect(rows, `docs/protocol.md "Reader feedback" is out of date; its rows should be:\n${table}\n`).toEqual(expected);
  });

  it('lists every session warning and end text of core/access/reasons.ts, in order, with both texts', () => {
    const text = readFileSync(DOC, 'utf8');
    const head = '| `state` | `reason` | English | 中文 |';
    const at = text.indexOf(head);
    expect(at, 'docs/protocol.md lost its session text table').toBeGreaterThan(-1);
    const lines = text.slice(at).split('\n');
    const rows: string[] = [];
    for (const line of lines.slice(2)) {
      if (!line.startsWith('|')) break;
      rows.push(line);
    }
    const expected = [
      ...Object.entries(SESSION_WARNINGS).map(([reason, t]) => `| \`warning\` | \`${reason}\` | ${t.en} | ${t.zh} |`),
      ...Object.entries(SESSION_ENDS).map(([reason, t]) => `| \`ended\` | \`${reason}\` | ${t.en} | ${t.zh} |`),
    ];
    expect(rows, `docs/protocol.md "Machine sessions" text table is out of date; its rows should be:\n${expected.join('\n')}\n`).toEqual(expected);
  });

  it('names in the Commands table exactly the commands core/protocol declares', () => {
    const text = readFileSync(DOC, 'utf8');
    const section = text.slice(text.indexOf('## Commands'), text.indexOf('### Reader feedback'));
    const named = [...section.matchAll(/^\| `([a-z]+)` \|/gm)].map((m) => m[1]);
    expect(named).toEqual([...COMMANDS]);
  });
});

describe('parseCommand', () => {
  const feedback = { grant: false, reason: 'no_plan', led: 'red', beeps: 3, text: { en: 'No membership plan', zh: '未办理会员套餐' } };
  const config = { version: 'abc', site: 's', device: 'd', target: { type: 'door', id: 'main' }, direction: 'in', unlockMs: 5000, timezone: 'Asia/Shanghai', heartbeatS: 60 };

  it.each([
    ['unlock', { durationMs: 5000 }],
    ['power', { on: true }],
    ['feedback', feedback],
    ['session', { state: 'granted', sessionId: 'laser-1.x.y', memberId: 'm-1', maxRunMs: 3_600_000, reason: 'granted' }],
    ['session', { state: 'ended', sessionId: 'laser-1.x.y', memberId: 'm-1', maxRunMs: null, reason: 'idle' }],
    ['session', { state: 'denied', sessionId: null, memberId: null, maxRunMs: null, reason: 'unknown_badge' }],
    ['session', { state: 'ended', sessionId: 'laser-1.x.y', memberId: 'm-1', maxRunMs: null, reason: 'idle', text: { en: 'Idle too long: machine off', zh: '空闲过久，设备已断电' } }],
    ['config', config],
    // Written by a gateway from before heartbeats: still a config.
    ['config', { ...config, heartbeatS: undefined }],
    ['config', { ...config, target: null, direction: 'out' }],
    // Fields a device does not know are ignored, not refused.
    ['unlock', { durationMs: 5000, reason: 'granted' }],
  ])('takes %s %j', (name, payload) => {
    const r = parseCommand(name, JSON.stringify(payload));
    expect(r).toEqual({ ok: true, command: { name, payload: JSON.parse(JSON.stringify(payload)) as unknown } });
  });

  it.each([
    ['relay', '{"on":true}', 'unknown_command'],
    ['', '{}', 'unknown_command'],
    ['unlock', '', 'malformed_json'],
    ['unlock', '{durationMs:5}', 'malformed_json'],
    ['unlock', 'null', 'schema'],
    ['unlock', '[]', 'schema'],
    ['unlock', '{}', 'schema'],
    ['unlock', '{"durationMs":1.5}', 'schema'],
    ['unlock', '{"durationMs":-1}', 'schema'],
    ['unlock', '{"durationMs":3600001}', 'schema'],
    ['power', '{"on":1}', 'schema'],
    ['feedback', JSON.stringify({ ...feedback, text: { en: 'x' } }), 'schema'],
    ['feedback', JSON.stringify({ ...feedback, beeps: 11 }), 'schema'],
    ['session', '{"state":"paused","sessionId":null,"memberId":null,"maxRunMs":null,"reason":"x"}', 'schema'],
    ['session', '{"state":"granted","sessionId":null,"memberId":null,"reason":"x"}', 'schema'],
    ['session', '{"state":"denied","sessionId":null,"memberId":null,"maxRunMs":null,"reason":"x","text":"no"}', 'schema'],
    ['config', JSON.stringify({ ...config, version: '' }), 'schema'],
    ['config', JSON.stringify({ ...config, heartbeatS: 0 }), 'schema'],
    ['config', JSON.stringify({ ...config, direction: 'up' }), 'schema'],
    ['unlock', `{"durationMs":1,"pad":"${'x'.repeat(1024)}"}`, 'payload_too_large'],
  ])('refuses %s %s (%s), without throwing', (name, payload, reason) => {
    const r = parseCommand(name, Buffer.from(payload));
    expect(r).toMatchObject({ ok: false, reason });
    if (!r.ok) expect(r.detail.length).toBeGreaterThan(0);
  });
});

describe('controller heartbeat', () => {
  it('is a minute, and three missed beats make the default offline time', () => {
    expect(CONTROLLER_HEARTBEAT_S).toBe(60);
    expect(CONTROLLER_MISSED_BEATS).toBe(3);
    expect(CONTROLLER_SILENT_AFTER_MS).toBe(180_000);
  });

  // silentAfterMs → heartbeatS: three beats always fit into the silence window, whole seconds, at least 1.
  it.each([
    [null, 60],
    [180_000, 60],
    [3_600_000, 60],
    [179_999, 59],
    [90_000, 30],
    [30_000, 10],
    [3_000, 1],
    [2_000, 1],
    [500, 1],
  ])('silentAfterMs %s → heartbeat %i s', (silentAfterMs, heartbeatS) => {
    expect(controllerHeartbeatS(silentAfterMs)).toBe(heartbeatS);
  });

  const site = (devices: Record<string, unknown>[]) => {
    const r = validateSite({
      version: 1,
      site: { id: 'demo', name: 'Demo', timezone: 'Asia/Shanghai' },
      spaces: [{ id: 'lab', name: 'Lab', kind: 'lab' }],
      doors: [{ id: 'lab-door', space: 'lab' }],
      equipment: [{ id: 'laser', space: 'lab', name: 'Laser', class: 'laser-cutter' }],
      devices,
    });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.site;
  };
  const CRED = { secret: 'env:X' };

  it.each([
    ['a canonical door controller', { kind: 'door-controller', door: 'lab-door', credentials: CRED }, CONTROLLER_SILENT_AFTER_MS],
    ['a canonical badge reader at a machine', { kind: 'badge-reader', equipment: 'laser', credentials: CRED }, CONTROLLER_SILENT_AFTER_MS],
    ['a door controller with its own silentAfterS', { kind: 'door-controller', door: 'lab-door', credentials: CRED, silentAfterS: 600 }, 600_000],
    ['a canonical occupancy sensor (no heartbeat: the format’s hour)', { kind: 'occupancy-sensor', space: 'lab', credentials: CRED }, 3_600_000],
    ['a canonical power meter', { kind: 'power-meter', equipment: 'laser', credentials: CRED }, 3_600_000],
    ['a serial badge reader (no default)', { kind: 'badge-reader', format: 'rdm6300', door: 'lab-door', serial: { path: '/dev/ttyUSB0' } }, null],
  ])('site default: %s', (_what, def, silentAfterMs) => {
    expect(site([{ id: 'dev-1', ...def }]).devices.get('dev-1')!.silentAfterMs).toBe(silentAfterMs);
  });
});
