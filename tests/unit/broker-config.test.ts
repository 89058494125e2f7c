/** broker.* in the configuration: external broker mode's fields and the rules between them (cli/config.ts). */
import { describe, expect, it } from 'vitest';
import { buildConfig, ConfigError } from '../../cli/config.js';

const errorOf = (input: unknown): string => {
  try {
    buildConfig(input);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return '';
};

describe('broker configuration', () => {
  it('defaults to the embedded broker', () => {
    expect(buildConfig({}).broker).toMatchObject({ mode: 'embedded', url: null, shareGroup: 'openfacility', connections: 4, leaveOnStop: false });
  });

  it('takes an external broker with its user and group', () => {
    const b = buildConfig({ broker: { mode: 'external', url: 'mqtt://broker:1883', username: 'openfacility-gateway', passwordFile: '/etc/pw', shareGroup: 'lab', clientId: 'gw-1' } }).broker;
    expect(b).toMatchObject({ mode: 'external', url: 'mqtt://broker:1883', shareGroup: 'lab', clientId: 'gw-1' });
  });

  it.each([
    [{ mode: 'external' }, '/broker/url: required when broker.mode is external'],
    [{ url: 'mqtt://broker:1883' }, '/broker/url: set, but broker.mode is embedded'],
    [{ mode: 'external', url: 'http://broker' }, '/broker/url: must be mqtt://host[:port] or mqtts://host[:port], or null'],
    [{ mode: 'external', url: 'mqtt://b', password: 'x' }, '/broker/username: required with a password'],
    [{ mode: 'external', url: 'mqtt://b', username: 'u', password: 'x', passwordFile: '/p' }, '/broker/password: give either password'],
    [{ mode: 'external', url: 'mqtt://b', shareGroup: 'a/b' }, '/broker/shareGroup'],
    [{ mode: 'external', url: 'mqtt://b', clientId: 'has space' }, '/broker/clientId: must be 1–100 letters'],
    [{ mode: 'external', url: 'mqtt://b', connections: 0 }, '/broker/connections'],
    [{ mode: 'cluster' }, '/broker/mode'],
  ])('refuses %j, saying where and what', (broker, expected) => {
    expect(errorOf({ broker })).toContain(expected);
  });
});
