/**
 * Observers: read-only MQTT logins for dashboards. Their ACL (subscribe to the live state and the
 * gateway's status, forward nothing else, client ids), their site-file validation (with file:line
 * errors) and their credentials (the devices' verifier).
 */
import { describe, expect, it } from 'vitest';
import { authorizeObserverForward, authorizeObserverSubscribe, isObserverClientId } from '../../core/protocol/acl.js';
import type { ObserverInfo } from '../../core/site/model.js';
import { parseSiteText } from '../../core/site/parse.js';
import { formatSiteIssue, validateSite, type SiteIssueCode } from '../../core/site/validate.js';
import { DeviceCredentialVerifier, hashSecret } from '../../gateway/auth/secrets.js';

const HASH = `sha256$${'A'.repeat(22)}$${'B'.repeat(43)}`;
const dashboard: ObserverInfo = { id: 'dashboard', credentials: { hash: HASH }, topics: ['state', 'gateway-status'] };
const stateOnly: ObserverInfo = { ...dashboard, topics: ['state'] };
const statusOnly: ObserverInfo = { ...dashboard, topics: ['gateway-status'] };

describe('observer subscribe ACL', () => {
  it.each([
    ['fac/v1/demo/state/#', true],
    ['fac/v1/demo/state/site', true],
    ['fac/v1/demo/state/machines/+', true],
    ['fac/v1/demo/state/machines/#', true],
    ['fac/v1/demo/state/desks/D01', true],
    ['fac/v1/demo/state/+/+', true],
    ['fac/v1/demo/gateway/status', true],
    ['fac/v1/demo/state/', false],
    ['fac/v1/demo/state', false],
    ['fac/v1/demo/#', false],
    ['fac/v1/#', false],
    ['#', false],
    ['+/+/+/state/#', false],
    ['fac/v1/+/state/#', false],
    ['fac/v1/other/state/#', false],
    ['fac/v1/demo/d/desk-01/cmd/#', false],
    ['fac/v1/demo/d/desk-01/occupancy', false],
    ['fac/v1/demo/d/+/status', false],
    ['fac/v1/demo/gateway/#', false],
    ['fac/v1/demo/gateway/reply/x', false],
    ['$SYS/#', false],
    ['$share/g/fac/v1/demo/state/#', false],
  ] as const)('%s → %s', (filter, expected) => {
    expect(authorizeObserverSubscribe('demo', dashboard, filter)).toBe(expected);
  });

  it('follows the observer’s topics', () => {
    expect(authorizeObserverSubscribe('demo', stateOnly, 'fac/v1/demo/state/#')).toBe(true);
    expect(authorizeObserverSubscribe('demo', stateOnly, 'fac/v1/demo/gateway/status')).toBe(false);
    expect(authorizeObserverSubscribe('demo', statusOnly, 'fac/v1/demo/gateway/status')).toBe(true);
    expect(authorizeObserverSubscribe('demo', statusOnly, 'fac/v1/demo/state/#')).toBe(false);
  });
});

describe('observer forward ACL (what reaches it, whatever it subscribed to)', () => {
  it.each([
    ['fac/v1/demo/state/site', true],
    ['fac/v1/demo/state/machines/laser', true],
    ['fac/v1/demo/gateway/status', true],
    ['fac/v1/demo/d/dc-1/cmd/unlock', false],
    ['fac/v1/demo/d/dc-1/cmd/config', false],
    ['fac/v1/demo/d/occ-1/occupancy', false],
    ['fac/v1/demo/d/occ-1/status', false],
    ['fac/v1/other/state/site', false],
    ['tele/plug/SENSOR', false],
    ['zigbee2mqtt/desk', false],
  ] as const)('%s → %s', (topic, expected) => {
    expect(authorizeObserverForward('demo', dashboard, topic)).toBe(expected);
  });

  it('follows the observer’s topics', () => {
    expect(authorizeObserverForward('demo', stateOnly, 'fac/v1/demo/gateway/status')).toBe(false);
    expect(authorizeObserverForward('demo', statusOnly, 'fac/v1/demo/state/site')).toBe(false);
  });
});

describe('observer client ids', () => {
  it.each([
    ['dashboard', true],
    ['dashboard-1', true],
    ['dashboard-node-red', true],
    ['dashboard-', false],
    ['dashboard1', false],
    ['dashboards', false],
    ['Dashboard', false],
    ['x-dashboard', false],
  ] as const)('%s → %s', (clientId, expected) => {
    expect(isObserverClientId('dashboard', clientId)).toBe(expected);
  });
});

/** A small valid site with one observer; each case below breaks one thing. */
function base(): Record<string, unknown> & { devices: Record<string, unknown>[]; observers: Record<string, unknown>[] } {
  return {
    version: 1,
    site: { id: 'demo', name: 'Demo', timezone: 'Asia/Shanghai' },
    spaces: [{ id: 'floor', name: 'Floor', kind: 'open-space' }],
    desks: [{ id: 'D1', space: 'floor' }],
    equipment: [],
    devices: [
      { id: 'occ-1', kind: 'occupancy-sensor', desk: 'D1', credentials: { hash: HASH } },
      { id: 'occ-room', kind: 'occupancy-sensor', space: 'floor', credentials: { login: 'fleet' }, mqtt: { clientId: 'room-sensor' } },
    ],
    logins: [{ id: 'fleet', username: 'fleet-user', credentials: { hash: HASH } }],
    observers: [{ id: 'dashboard', credentials: { hash: HASH } }],
  };
}

type Mutate = (s: ReturnType<typeof base>) => void;
const obs = (s: ReturnType<typeof base>, i = 0): Record<string, unknown> => s.observers[i]!;

describe('validateSite: observers', () => {
  it('accepts observers and fills in their topics', () => {
    const s = base();
    s.observers.push({ id: 'node-red', credentials: { secret: 'env:NODE_RED_MQTT' }, topics: ['state'] });
    const r = validateSite(s);
    if (!r.ok) throw new Error(r.errors.map(formatSiteIssue).join('\n'));
    expect(r.site.observers.get('dashboard')).toEqual({ id: 'dashboard', credentials: { hash: HASH }, topics: ['state', 'gateway-status'] });
    expect(r.site.observers.get('node-red')?.topics).toEqual(['state']);
    expect(r.site.devices.has('dashboard')).toBe(false);
    expect(Object.isFrozen(r.site.observers.get('dashboard'))).toBe(true);
  });

  it('a site without observers has none', () => {
    const s: Record<string, unknown> = base();
    delete s.observers;
    const r = validateSite(s);
    expect(r.ok && r.site.observers.size).toBe(0);
  });

  const cases: [string, Mutate, string, SiteIssueCode, RegExp][] = [
    ['unknown field', (s) => (obs(s).username = 'dash'), 'observers[0].username', 'unknown-field', /unknown field "username"; allowed here: id, credentials, topics/],
    ['misspelt field', (s) => (obs(s).topcs = ['state']), 'observers[0].topcs', 'unknown-field', /did you mean "topics"\?/],
    ['missing credentials', (s) => delete obs(s).credentials, 'observers[0]', 'required', /required field "credentials" is missing/],
    ['bad id', (s) => (obs(s).id = 'my dashboard'), 'observers[0].id', 'invalid-value', /is not a valid id/],
    ['duplicate id', (s) => s.observers.push({ id: 'dashboard', credentials: { hash: HASH } }), 'observers[1].id', 'duplicate-id', /observer id "dashboard" is already used by observers\[0\]/],
    ['id of a device', (s) => (obs(s).id = 'occ-1'), 'observers[0].id', 'duplicate-identity', /observer id "occ-1" is also the id of device "occ-1" \(devices\[0\]\); an observer must not be mistaken for a device/],
    ['id of a device in another case', (s) => (obs(s).id = 'OCC-1'), 'observers[0].id', 'duplicate-identity', /observer id "OCC-1" is also the id of device "occ-1"/],
    ['a device’s MQTT user name', (s) => (obs(s).id = 'fleet-user'), 'observers[0].id', 'duplicate-identity', /observer id "fleet-user" is the MQTT user name of device "occ-room" \(devices\[1\]\)/],
    ['prefix of a device’s client id', (s) => (obs(s).id = 'room'), 'observers[0].id', 'duplicate-identity', /would let it connect with the client id "room-sensor" of device "occ-room" \(devices\[1\]\) and knock that device off/],
    ['reserved id', (s) => (obs(s).id = 'gateway'), 'observers[0].id', 'reserved-id', /reserved for the gateway itself/],
    ['shared login', (s) => (obs(s).credentials = { login: 'fleet' }), 'observers[0].credentials', 'required', /needs hash: or secret:/],
    ['hash and secret', (s) => (obs(s).credentials = { hash: HASH, secret: 'env:X' }), 'observers[0].credentials', 'invalid-value', /give only one of hash: or secret:/],
    ['not a hash', (s) => (obs(s).credentials = { hash: 'plaintext' }), 'observers[0].credentials.hash', 'invalid-value', /must be a hash starting with sha256\$ or scrypt\$/],
    ['malformed hash', (s) => (obs(s).credentials = { hash: 'sha256$short$x' }), 'observers[0].credentials.hash', 'credentials', /is not a valid hash/],
    ['bad env name', (s) => (obs(s).credentials = { secret: 'env:MY-VAR' }), 'observers[0].credentials.secret', 'credentials', /e\.g\. env:OBSERVER_0_SECRET/],
    ['relative secret file', (s) => (obs(s).credentials = { secret: 'file:secret.txt' }), 'observers[0].credentials.secret', 'credentials', /not an absolute path/],
    ['unknown topic', (s) => (obs(s).topics = ['commands']), 'observers[0].topics[0]', 'invalid-value', /must be one of state, gateway-status/],
    ['empty topics', (s) => (obs(s).topics = []), 'observers[0].topics', 'invalid-value', /needs at least 1 entry/],
    ['topic twice', (s) => (obs(s).topics = ['state', 'state']), 'observers[0].topics[1]', 'invalid-value', /"state" is listed twice/],
  ];

  it.each(cases)('%s', (_name, mutate, path, code, message) => {
    const s = base();
    mutate(s);
    const r = validateSite(s);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const found = r.errors.find((e) => formatSiteIssue(e).startsWith(`${path}: `) && e.code === code);
    expect(found, r.errors.map(formatSiteIssue).join('\n')).toBeDefined();
    expect(found!.message).toMatch(message);
  });

  it('reports observer mistakes at their line in the YAML file', () => {
    const text = [
      'version: 1',
      'site: { id: demo, name: Demo, timezone: Asia/Shanghai }',
      'spaces:',
      '  - { id: floor, name: Floor, kind: open-space }',
      'desks:',
      '  - { id: D1, space: floor }',
      'devices:',
      `  - { id: occ-1, kind: occupancy-sensor, desk: D1, credentials: { hash: "${HASH}" } }`,
      'observers:',
      '  - id: occ-1',
      `    credentials: { hash: "${HASH}" }`,
      '  - id: dashboard',
      '    credentials: { secret: env:DASHBOARD_MQTT }',
      '    role: admin',
    ].join('\n');
    const r = parseSiteText(text, 'site.yaml');
    if (r.ok) throw new Error('expected errors');
    expect(r.errors.map((e) => [e.line, e.path])).toEqual([
      [10, 'observers[0].id'],
      [14, 'observers[1].role'],
    ]);
    expect(r.errors[0]!.message).toMatch(/is also the id of device "occ-1"/);
  });
});

describe('DeviceCredentialVerifier: observers', () => {
  function siteWith(observers: unknown[]) {
    const s = base();
    s.observers = observers as Record<string, unknown>[];
    const r = validateSite(s);
    if (!r.ok) throw new Error(r.errors.map(formatSiteIssue).join('\n'));
    return r.site;
  }

  it('checks an observer’s hash or secret reference like a device’s', () => {
    const site = siteWith([
      { id: 'dashboard', credentials: { hash: hashSecret('dash-pw') } },
      { id: 'node-red', credentials: { secret: 'env:NODE_RED_MQTT' } },
    ]);
    const v = new DeviceCredentialVerifier(site, { env: { NODE_RED_MQTT: 'nr-pw' }, readFile: () => '' });
    const pw = (s: string) => Buffer.from(s, 'utf8');
    expect(v.verify('dashboard', pw('dash-pw'))).toBe(true);
    expect(v.verify('dashboard', pw('dash-pW'))).toBe(false);
    expect(v.verify('dashboard', undefined)).toBe(false);
    expect(v.verify('node-red', pw('nr-pw'))).toBe(true);
    expect(v.verify('node-red', pw('dash-pw'))).toBe(false);
  });

  it('refuses to start when an observer’s secret cannot be resolved, naming it', () => {
    const site = siteWith([{ id: 'dashboard', credentials: { secret: 'env:MISSING_DASH' } }]);
    expect(() => new DeviceCredentialVerifier(site, { env: {}, readFile: () => '' })).toThrow(/observer "dashboard": secret env:MISSING_DASH: environment variable MISSING_DASH is not set/);
  });
});
