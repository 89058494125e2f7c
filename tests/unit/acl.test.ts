import { describe, expect, it } from 'vitest';
import {
  allowedChannels,
  authorizeDeviceForward,
  authorizeDevicePublish,
  authorizeDeviceSubscribe,
  isSafeClientId,
} from '../../core/protocol/acl.js';
import type { DeviceInfo } from '../../core/site/model.js';
import { deviceInfo } from '../harness/device-info.js';

const desk: DeviceInfo = deviceInfo({
  id: 'desk-01',
  kind: 'occupancy-sensor',
  format: 'canonical',
  space: 'cowork',
  target: { type: 'desk', id: 'D01' },
  measures: ['occupancy', 'health'],
  credentials: { secret: 'env:X' },
});
const allowed = allowedChannels(desk);
const pub = (topic: string, retain = false) => authorizeDevicePublish('demo', desk, allowed, topic, retain);

describe('publish ACL (B4)', () => {
  it.each([
    ['fac/v1/demo/d/desk-01/occupancy', false, 'ok'],
    ['fac/v1/demo/d/desk-01/health', false, 'ok'],
    ['fac/v1/demo/d/desk-01/status', true, 'ok'],
    ['fac/v1/demo/d/desk-01/status', false, 'ok'],
    ['fac/v1/demo/d/desk-01/occupancy', true, 'retain_not_allowed'],
    ['fac/v1/demo/d/desk-01/power', false, 'channel_not_allowed'],
    ['fac/v1/demo/d/desk-01/badge', false, 'channel_not_allowed'],
    ['fac/v1/demo/d/desk-02/occupancy', false, 'other_device'],
    ['fac/v1/demo/d/desk-02/status', true, 'other_device'],
    ['fac/v1/other/d/desk-01/occupancy', false, 'other_site'],
    ['fac/v1/demo/d/desk-01/cmd/unlock', false, 'command_topic'],
    ['fac/v1/demo/d/desk-02/cmd/unlock', false, 'other_device'],
    ['fac/v1/demo/gateway/status', true, 'not_in_scheme'],
    ['$SYS/broker/new/clients', false, 'sys_topic'],
    ['fac/v1/demo/d/desk-01/occupancy/extra', false, 'not_in_scheme'],
    ['fac/v1/demo/d/desk-01', false, 'not_in_scheme'],
    ['anything', false, 'not_in_scheme'],
    [`fac/v1/demo/d/desk-01/${'x'.repeat(300)}`, false, 'not_in_scheme'],
  ] as const)('%s retain=%s → %s', (topic, retain, expected) => {
    const d = pub(topic, retain);
    expect(d.ok ? 'ok' : d.reason).toBe(expected);
  });
});

describe('subscribe and forward ACL (B4)', () => {
  it.each([
    ['fac/v1/demo/d/desk-01/cmd/#', true],
    ['fac/v1/demo/d/desk-01/cmd/unlock', true],
    ['fac/v1/demo/d/desk-01/cmd/+', false],
    ['fac/v1/demo/d/desk-01/#', false],
    ['fac/v1/demo/d/desk-02/cmd/#', false],
    ['fac/v1/demo/d/+/cmd/#', false],
    ['+/+/cmd/#', false],
    ['#', false],
    ['$SYS/#', false],
    ['fac/v1/demo/d/desk-01/occupancy', false],
    ['fac/v1/demo/d/desk-01/cmd/a/b', false],
  ] as const)('subscribe %s → %s', (filter, ok) => {
    expect(authorizeDeviceSubscribe('demo', 'desk-01', filter)).toBe(ok);
  });

  it('forwards only the device’s own commands', () => {
    expect(authorizeDeviceForward('demo', 'desk-01', 'fac/v1/demo/d/desk-01/cmd/x')).toBe(true);
    expect(authorizeDeviceForward('demo', 'desk-01', 'fac/v1/demo/d/desk-02/cmd/x')).toBe(false);
    expect(authorizeDeviceForward('demo', 'desk-01', 'fac/v1/demo/d/desk-01/occupancy')).toBe(false);
  });
});

describe('client ids', () => {
  it.each([
    ['desk-01', true],
    ['', false],
    ['a+b', false],
    ['a#b', false],
    ['a/b', false],
    ['a\u0000b', false],
    ['a b', false],
    ['x'.repeat(129), false],
  ])('%j → %s', (id, ok) => expect(isSafeClientId(id)).toBe(ok));
});

describe('token bucket', () => {
  it('peeks without spending, takes, and refills with time', async () => {
    const { TokenBucket } = await import('../../core/rate.js');
    const b = new TokenBucket(1, 2, 0); // 1 token per second, burst 2
    expect(b.has(0)).toBe(true);
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([true, true, false]);
    for (let i = 0; i < 100; i++) expect(b.has(0)).toBe(false);
    expect(b.has(999)).toBe(false);
    expect(b.has(1000)).toBe(true);
    expect(b.take(1000)).toBe(true);
    expect(b.take(1000)).toBe(false);
    expect(b.take(10_000)).toBe(true); // refilled, capped at the burst
    expect(b.take(10_000)).toBe(true);
    expect(b.take(10_000)).toBe(false);
  });
});
