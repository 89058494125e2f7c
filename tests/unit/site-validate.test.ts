import { describe, expect, it } from 'vitest';
import { EXAMPLE_TASMOTA_LOGIN, EXAMPLE_Z2M_BRIDGE, exampleDeviceIds, exampleSiteFile } from '../../core/site/example.js';
import type { DeviceInfo, Site } from '../../core/site/model.js';
import { formatSiteIssue, parseCredentialHash, validateSite, type SiteIssueCode } from '../../core/site/validate.js';

const HASH = `sha256$${'A'.repeat(22)}$${'B'.repeat(43)}`;

/** A small valid site; each case below breaks one thing. */
function base(): Record<string, unknown> & { devices: Record<string, unknown>[] } {
  return {
    version: 1,
    site: { id: 'demo', name: 'Demo', timezone: 'Asia/Shanghai' },
    spaces: [
      { id: 'floor', name: 'Floor', kind: 'open-space' },
      { id: 'lab', name: 'Lab', kind: 'lab', requiresCertification: 'lab-safety' },
      { id: 'meet', name: 'Meeting', kind: 'room' },
    ],
    desks: [{ id: 'D1', space: 'floor' }],
    doors: [{ id: 'lab-door', space: 'lab' }],
    equipment: [{ id: 'laser', space: 'lab', name: 'Laser', class: 'laser-cutter' }],
    devices: [
      { id: 'occ-1', kind: 'occupancy-sensor', desk: 'D1', credentials: { hash: HASH } },
      { id: 'occ-room', kind: 'occupancy-sensor', space: 'meet', credentials: { hash: HASH } },
      { id: 'pm-1', kind: 'power-meter', equipment: 'laser', measures: ['power'], credentials: { secret: 'env:PM1_SECRET' } },
      { id: 'br-1', kind: 'badge-reader', equipment: 'laser', credentials: { hash: HASH } },
      { id: 'dc-1', kind: 'door-controller', door: 'lab-door', credentials: { secret: 'file:/etc/facility/dc-1' } },
    ],
  };
}

type Mutate = (s: ReturnType<typeof base>) => void;
const dev = (s: ReturnType<typeof base>, i: number): Record<string, unknown> => s.devices[i]!;
const siteFields = (s: ReturnType<typeof base>): Record<string, unknown> => s.site as Record<string, unknown>;

describe('validateSite', () => {
  it('accepts a valid site and resolves devices', () => {
    const r = validateSite(base());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { site } = r;
    expect(site.id).toBe('demo');
    expect(site.timezone).toBe('Asia/Shanghai');
    expect(site.devices.get('occ-1')).toEqual({
      id: 'occ-1',
      kind: 'occupancy-sensor',
      format: 'canonical',
      space: 'floor',
      target: { type: 'desk', id: 'D1' },
      measures: ['occupancy', 'health'],
      credentials: { hash: HASH },
      mqtt: { clientId: 'occ-1', username: 'occ-1', topic: 'occ-1' },
      bridge: null,
      serial: null,
      model: null,
      occupancyTimeoutMs: null,
      silentAfterMs: 3600 * 1000,
      direction: 'in',
    });
    expect(site.devices.get('occ-room')).toMatchObject({ space: 'meet', target: { type: 'space', id: 'meet' } });
    expect(site.devices.get('pm-1')).toMatchObject({ space: 'lab', target: { type: 'equipment', id: 'laser' }, measures: ['power'] });
    expect(site.devices.get('dc-1')).toMatchObject({ space: 'lab', target: { type: 'door', id: 'lab-door' } });
    expect([...site.spaces.keys()]).toEqual(['floor', 'lab', 'meet']);
  });

  it('deep-freezes the site and does not share the input', () => {
    const input = base();
    const r = validateSite(input);
    if (!r.ok) throw new Error('expected ok');
    const { site } = r;
    expect(Object.isFrozen(site)).toBe(true);
    expect(Object.isFrozen(site.file.spaces[0])).toBe(true);
    expect(Object.isFrozen(site.devices.get('occ-1')!.target)).toBe(true);
    expect(() => (site.devices as Map<string, unknown>).set('x', {})).toThrow(TypeError);
    expect(() => (site.devices as Map<string, unknown>).delete('occ-1')).toThrow(TypeError);
    (input.site as { name: string }).name = 'changed';
    expect(site.file.site.name).toBe('Demo');
  });

  it('accepts closed dates (short and named) and make-up working days', () => {
    const s = base();
    siteFields(s).closedDates = ['2025-10-01', { date: '2025-10-02', name: '国庆节' }];
    siteFields(s).extraOpenDates = [{ date: '2025-09-28', from: '09:00', to: '18:00', name: '国庆调休' }, { date: '2025-10-11', from: '09:00', to: '24:00' }];
    const r = validateSite(s);
    expect(r.ok ? [] : r.errors.map(formatSiteIssue)).toEqual([]);
    expect(r.ok && r.site.file.site.closedDates).toEqual(['2025-10-01', { date: '2025-10-02', name: '国庆节' }]);
  });

  it('canonicalises the time zone name', () => {
    const s = base();
    (s.site as { timezone: string }).timezone = 'asia/shanghai';
    const r = validateSite(s);
    expect(r.ok && r.site.timezone).toBe('Asia/Shanghai');
  });

  const cases: [string, Mutate, string, SiteIssueCode, RegExp][] = [
    ['wrong version', (s) => (s.version = 2), 'version', 'invalid-value', /must be 1, not 2/],
    ['enum value', (s) => ((s.spaces as Record<string, unknown>[])[0]!.kind = 'labb'), 'spaces[0].kind', 'invalid-value', /must be one of open-space, lab, room; "labb" is not \(did you mean lab\?\)/],
    ['unknown field', (s) => (dev(s, 0).foo = 1), 'devices[0].foo', 'unknown-field', /unknown field "foo"; allowed here: id, kind, format, desk/],
    ['misspelt field', (s) => ((s.spaces as Record<string, unknown>[])[0]!.nmae = 'x'), 'spaces[0].nmae', 'unknown-field', /did you mean "name"\?/],
    ['missing field', (s) => delete dev(s, 0).kind, 'devices[0]', 'required', /^required field "kind" is missing; add kind: \(What the device is\)$/],
    ['missing credentials', (s) => delete dev(s, 0).credentials, 'devices[0]', 'credentials', /^connects over MQTT \(canonical\); add credentials: \{ hash: … \}, \{ secret: env:… \} or \{ login: <shared login id> \}$/],
    ['bad id', (s) => (dev(s, 0).id = 'occ 1'), 'devices[0].id', 'invalid-value', /"occ 1" is not a valid id: an id has 1 to 64 characters, only letters A-Z a-z, digits 0-9, "-" and "_"/],
    ['number where text is expected', (s) => (dev(s, 0).id = 7), 'devices[0].id', 'invalid-value', /reads as a number; put the value in quotes/],
    ['empty value', (s) => (dev(s, 0).desk = null), 'devices[0].desk', 'invalid-value', /is empty/],
    ['bad machine class', (s) => ((s.equipment as Record<string, unknown>[])[0]!.class = 'Laser Cutter'), 'equipment[0].class', 'invalid-value', /not a valid machine class: use lowercase/],
    ['no credentials kind', (s) => (dev(s, 0).credentials = {}), 'devices[0].credentials', 'required', /^needs hash:, secret: or login: \(see docs\/site-file\.md, "Credentials"\)$/],
    ['both credentials', (s) => (dev(s, 0).credentials = { hash: HASH, secret: 'env:X' }), 'devices[0].credentials', 'invalid-value', /^has hash: and secret:; give only one of hash:, secret: or login:$/],
    ['hash and login', (s) => (dev(s, 0).credentials = { hash: HASH, login: 'plugs' }), 'devices[0].credentials', 'invalid-value', /^has hash: and login:; give only one of hash:, secret: or login:$/],
    ['hash prefix', (s) => (dev(s, 0).credentials = { hash: 'md5$x' }), 'devices[0].credentials.hash', 'invalid-value', /must be a hash starting with sha256\$ or scrypt\$/],
    ['hash shape', (s) => (dev(s, 0).credentials = { hash: 'sha256$abc' }), 'devices[0].credentials.hash', 'credentials', /sha256\$<salt>\$<hash>/],
    ['secret ref form', (s) => (dev(s, 0).credentials = { secret: 'PM1' }), 'devices[0].credentials.secret', 'invalid-value', /env:VARIABLE_NAME or file:/],
    ['relative secret file', (s) => (dev(s, 0).credentials = { secret: 'file:secrets/x' }), 'devices[0].credentials.secret', 'credentials', /not an absolute path/],
    ['bad env name', (s) => (dev(s, 0).credentials = { secret: 'env:A-B' }), 'devices[0].credentials.secret', 'credentials', /not an environment variable name/],
    ['timezone', (s) => ((s.site as Record<string, unknown>).timezone = 'China/Beijing'), 'site.timezone', 'timezone', /not a known IANA time zone; use a name such as Asia\/Shanghai/],
    ['duplicate desk', (s) => (s.desks as unknown[]).push({ id: 'D1', space: 'floor' }), 'desks[1].id', 'duplicate-id', /desk id "D1" is already used by desks\[0\]/],
    ['duplicate device', (s) => (dev(s, 1).id = 'occ-1'), 'devices[1].id', 'duplicate-id', /device id "occ-1" is already used by devices\[0\]/],
    ['duplicate space', (s) => ((s.spaces as Record<string, unknown>[])[2]!.id = 'floor'), 'spaces[2].id', 'duplicate-id', /space id "floor"/],
    ['unknown desk', (s) => (dev(s, 0).desk = 'D99'), 'devices[0].desk', 'unknown-reference', /^there is no desk "D99"; define it under desks: or fix the reference$/],
    ['desk id in the wrong case', (s) => (dev(s, 0).desk = 'd1'), 'devices[0].desk', 'unknown-reference', /^there is no desk "d1" \(did you mean "D1"\?\); define it under desks:/],
    ['unknown space of desk', (s) => ((s.desks as Record<string, unknown>[])[0]!.space = 'nowhere'), 'desks[0].space', 'unknown-reference', /there is no space "nowhere"; define it under spaces:/],
    ['unknown machine', (s) => (dev(s, 2).equipment = 'cnc'), 'devices[2].equipment', 'unknown-reference', /there is no machine "cnc"; define it under equipment:/],
    ['machine outside a lab', (s) => ((s.equipment as Record<string, unknown>[])[0]!.space = 'meet'), 'equipment[0].space', 'wrong-space-kind', /which is a room; machines stand in a space of kind lab/],
    ['power meter on a desk', (s) => (dev(s, 2).desk = 'D1', delete dev(s, 2).equipment), 'devices[2].desk', 'attachment', /a power-meter cannot attach to a desk; attach it with equipment:/],
    ['occupancy sensor on a door', (s) => (dev(s, 0).door = 'lab-door', delete dev(s, 0).desk), 'devices[0].door', 'attachment', /an occupancy-sensor cannot attach to a door; attach it with desk: .* or space:/],
    ['door controller on a machine', (s) => (dev(s, 4).equipment = 'laser', delete dev(s, 4).door), 'devices[4].equipment', 'attachment', /a door-controller cannot attach to a machine/],
    ['two attachments', (s) => (dev(s, 0).space = 'floor'), 'devices[0]', 'attachment', /has desk: and space:; a device attaches to exactly one thing/],
    ['no attachment', (s) => delete dev(s, 3).equipment, 'devices[3]', 'attachment', /is not attached to anything; add door: .* or equipment:/],
    ['second power meter', (s) => s.devices.push({ id: 'pm-2', kind: 'power-meter', equipment: 'laser', credentials: { hash: HASH } }), 'devices[5].equipment', 'attachment', /machine "laser" already has power-meter "pm-1"/],
    ['measures not allowed', (s) => (dev(s, 2).measures = ['power', 'badge']), 'devices[2].measures[1]', 'measures', /a power-meter cannot send "badge"; it may send power, health/],
    ['measures twice', (s) => (dev(s, 2).measures = ['power', 'power']), 'devices[2].measures[1]', 'measures', /listed twice/],
    ['measures empty', (s) => (dev(s, 2).measures = []), 'devices[2].measures', 'measures', /lists no signal kinds/],
    ['reserved id', (s) => (dev(s, 0).id = 'Gateway'), 'devices[0].id', 'reserved-id', /reserved for the gateway itself/],
    ['spaces empty', (s) => (s.spaces = []), 'spaces', 'invalid-value', /needs at least 1 entry/],
    ['closed date form', (s) => (siteFields(s).closedDates = ['2025-13-01']), 'site.closedDates[0]', 'invalid-value', /^"2025-13-01" is not a date: write YYYY-MM-DD, e\.g\. 2025-10-01$/],
    ['closed date neither text nor mapping', (s) => (siteFields(s).closedDates = [20251001]), 'site.closedDates[0]', 'invalid-value', /^must be a date \(YYYY-MM-DD\) or a mapping \{ date: …, name: … \}, not 20251001$/],
    ['closed date misspelt field', (s) => (siteFields(s).closedDates = [{ date: '2025-10-01', nmae: '国庆节' }]), 'site.closedDates[0].nmae', 'unknown-field', /did you mean "name"\?/],
    ['closed date mapping without date', (s) => (siteFields(s).closedDates = [{ name: '国庆节' }]), 'site.closedDates[0]', 'required', /required field "date" is missing/],
    ['closed date not in the calendar', (s) => (siteFields(s).closedDates = [{ date: '2025-02-29' }]), 'site.closedDates[0].date', 'invalid-value', /"2025-02-29" is not a day of the calendar/],
    ['closed date twice', (s) => (siteFields(s).closedDates = ['2025-10-01', { date: '2025-10-01', name: '国庆节' }]), 'site.closedDates[1].date', 'calendar', /2025-10-01 is already listed at site\.closedDates\[0\]/],
    ['extra open date time form', (s) => (siteFields(s).extraOpenDates = [{ date: '2025-09-28', from: '9:00', to: '18:00' }]), 'site.extraOpenDates[0].from', 'invalid-value', /"9:00" is not a time: write HH:MM/],
    ['extra open date closing form', (s) => (siteFields(s).extraOpenDates = [{ date: '2025-09-28', from: '09:00', to: '25:00' }]), 'site.extraOpenDates[0].to', 'invalid-value', /or 24:00 for the end of the day/],
    ['extra open date missing hours', (s) => (siteFields(s).extraOpenDates = [{ date: '2025-09-28' }]), 'site.extraOpenDates[0]', 'required', /required field "from" is missing/],
    ['extra open date closes before it opens', (s) => (siteFields(s).extraOpenDates = [{ date: '2025-09-28', from: '18:00', to: '09:00' }]), 'site.extraOpenDates[0].to', 'invalid-value', /closes at 09:00, not after it opens at 18:00/],
    ['extra open date not in the calendar', (s) => (siteFields(s).extraOpenDates = [{ date: '2025-09-31', from: '09:00', to: '18:00' }]), 'site.extraOpenDates[0].date', 'invalid-value', /not a day of the calendar/],
    ['date both closed and open', (s) => ((siteFields(s).closedDates = ['2025-09-28']), (siteFields(s).extraOpenDates = [{ date: '2025-09-28', from: '09:00', to: '18:00' }])), 'site.extraOpenDates[0].date', 'calendar', /2025-09-28 is also a closed date \(site\.closedDates\[0\]\); a date is either closed or open/],
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

  it('reports one message per mistake', () => {
    const s = base();
    dev(s, 0).desk = 'bad id';
    delete dev(s, 1).id;
    const r = validateSite(s);
    if (r.ok) throw new Error('expected errors');
    expect(r.errors.map(formatSiteIssue).sort()).toEqual([
      expect.stringMatching(/^devices\[0\]\.desk: "bad id" is not a valid id/),
      'devices[1]: required field "id" is missing; add id: (Device id: its MQTT client id and user name, and the <device> level of its topics)',
    ]);
  });

  it('collects every problem at once', () => {
    const s = base();
    s.version = 3;
    dev(s, 0).desk = 'D99';
    dev(s, 1).kind = 'camera';
    (s.site as Record<string, unknown>).timezone = 'Nowhere';
    const r = validateSite(s);
    if (r.ok) throw new Error('expected errors');
    expect(r.errors.map((e) => e.code).sort()).toEqual(['invalid-value', 'invalid-value', 'timezone', 'unknown-reference']);
  });

  it.each([null, undefined, [], 'text', 42])('refuses a file that is not a mapping: %j', (value) => {
    const r = validateSite(value);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.message).toMatch(/must be a mapping with version: 1, site:, spaces:/);
  });

  it('caps the number of reported problems', () => {
    const s = base();
    s.devices = Array.from({ length: 150 }, (_, i) => ({ id: `d${i}`, kind: 'power-meter', equipment: 'nope', credentials: { hash: HASH } }));
    const r = validateSite(s);
    if (r.ok) throw new Error('expected errors');
    expect(r.errors).toHaveLength(101);
    expect(r.errors[100]!.code).toBe('too-many-issues');
    expect(r.errors[100]!.message).toMatch(/and 50 more problems/);
  });

  it('validates the example site', () => {
    const ids = exampleDeviceIds();
    const r = validateSite(exampleSiteFile({ credentialsFor: () => ({ hash: HASH }) }));
    if (!r.ok) throw new Error(r.errors.map(formatSiteIssue).join('\n'));
    const { site } = r;
    expect(site.id).toBe('demo-makerspace');
    expect(site.timezone).toBe('Asia/Shanghai');
    expect(site.spaces.size).toBe(6);
    const spacesOfKind = (k: string) => [...site.spaces.values()].filter((sp) => sp.kind === k).length;
    expect([spacesOfKind('open-space'), spacesOfKind('lab'), spacesOfKind('room')]).toEqual([2, 3, 1]);
    expect([...site.desks.values()].filter((d) => d.kind === 'hot')).toHaveLength(36);
    expect([...site.desks.values()].filter((d) => d.kind === 'fixed')).toHaveLength(8);
    expect(site.equipment.size).toBe(10);
    expect(site.doors.size).toBe(4);
    expect(site.devices.size).toBe(65);
    expect([...site.devices.keys()]).toEqual(ids);
    const devices = [...site.devices.values()];
    const tally = (key: (d: DeviceInfo) => string) => {
      const out: Record<string, number> = {};
      for (const d of devices) out[key(d)] = (out[key(d)] ?? 0) + 1;
      return out;
    };
    expect(tally((d) => d.kind)).toEqual({ 'occupancy-sensor': 45, 'power-meter': 10, 'door-controller': 4, 'badge-reader': 5, 'zigbee-bridge': 1 });
    // canonical: 4 door controllers, the exit reader, 2 machine badge readers, 2 meters (reflow, solder), 8 fixed-desk sensors;
    // zigbee2mqtt: the bridge, 36 hot-desk sensors and the roadshow room's.
    expect(tally((d) => d.format)).toEqual({ canonical: 17, tasmota: 4, 'shelly-gen2': 4, zigbee2mqtt: 38, rdm6300: 1, wiegand26: 1 });
    expect(devices.filter((d) => d.format === 'tasmota').map((d) => d.target?.id)).toEqual(['laser-1', 'laser-2', 'cnc-1', 'lathe-1']);
    expect(devices.filter((d) => d.format === 'shelly-gen2').map((d) => d.target?.id)).toEqual(['fdm-1', 'fdm-2', 'fdm-3', 'resin-1']);
    for (const m of site.equipment.values()) expect(site.spaces.get(m.space)?.kind).toBe('lab');
    for (const sp of site.spaces.values()) expect(sp.nameZh).toBeTruthy();
    expect([...site.doors.values()].filter((d) => d.antiPassback === true)).toHaveLength(1);

    // The Tasmota plugs share one login; the serial readers and bridged sensors have none.
    expect([...site.logins.keys()]).toEqual([EXAMPLE_TASMOTA_LOGIN]);
    expect(devices.filter((d) => d.credentials !== null && 'login' in d.credentials).map((d) => d.id)).toEqual(['pm-laser-1', 'pm-laser-2', 'pm-cnc-1', 'pm-lathe-1']);
    expect(devices.filter((d) => d.credentials === null)).toHaveLength(2 + 37);
    expect(site.devices.get('pm-laser-1')!.mqtt).toEqual({ clientId: 'DVES_LASER1', username: 'tasmota', topic: 'plug_laser_1' });
    expect(site.devices.get('pm-fdm-1')!.mqtt).toEqual({ clientId: 'shellyplusplugs-fdm-1', username: 'pm-fdm-1', topic: 'shellyplusplugs-fdm-1' });
    expect(site.devices.get(EXAMPLE_Z2M_BRIDGE)).toMatchObject({ target: { type: 'space', id: 'cowork' }, mqtt: { clientId: EXAMPLE_Z2M_BRIDGE, topic: 'zigbee2mqtt' } });
    expect(site.devices.get('rd-fablab')).toMatchObject({ format: 'rdm6300', credentials: null, mqtt: null, serial: { path: 'serial/rd-fablab', baudRate: 9600 }, target: { type: 'door', id: 'fablab' } });
    expect(site.devices.get('rd-workshop')).toMatchObject({ format: 'wiegand26', serial: { path: 'serial/rd-workshop', baudRate: 9600 } });
    // Aqara PIR sensors never report "free": their model gives the 90 s timeout; the Sonoff reports it itself.
    expect(site.devices.get('occ-cw-01')).toMatchObject({ credentials: null, mqtt: null, bridge: { device: EXAMPLE_Z2M_BRIDGE, friendlyName: 'desk_cw-01' }, occupancyTimeoutMs: 90_000, silentAfterMs: 7200_000 });
    expect(site.devices.get('occ-roadshow')).toMatchObject({ target: { type: 'space', id: 'roadshow' }, bridge: { device: EXAMPLE_Z2M_BRIDGE, friendlyName: 'roadshow_room' }, occupancyTimeoutMs: null });
    expect(site.devices.get('occ-st-01')).toMatchObject({ format: 'canonical', bridge: null, occupancyTimeoutMs: null, silentAfterMs: 3600_000 });

    // Every device that connects itself has a client id; the bridged ones are found by friendly name.
    expect(site.byClientId.size).toBe(17 + 4 + 4 + 1);
    expect(site.byClientId.get('DVES_CNC1')).toBe('pm-cnc-1');
    expect(site.byClientId.get('dc-main')).toBe('dc-main');
    expect(site.byClientId.has('occ-cw-01')).toBe(false);
    expect([...site.bridged.keys()]).toEqual([EXAMPLE_Z2M_BRIDGE]);
    const names = site.bridged.get(EXAMPLE_Z2M_BRIDGE)!;
    expect(names.size).toBe(37);
    expect(names.get('desk_cw-36')).toBe('occ-cw-36');
    expect(names.get('roadshow_room')).toBe('occ-roadshow');
  });

  it('lets the caller choose the site id and credentials', () => {
    const seen: string[] = [];
    const file = exampleSiteFile({ siteId: 'shenzhen-1', credentialsFor: (id) => (seen.push(id), { secret: `env:S_${id.replace(/[-:]/g, '_')}` }) });
    expect(file.site.id).toBe('shenzhen-1');
    // Once per device with a login of its own, in file order, then once per shared login.
    const shared = new Set(['pm-laser-1', 'pm-laser-2', 'pm-cnc-1', 'pm-lathe-1']);
    const none = (id: string) => id.startsWith('rd-') || (id.startsWith('occ-') && !id.startsWith('occ-st-'));
    expect(seen).toEqual([...exampleDeviceIds().filter((id) => !shared.has(id) && !none(id)), `login:${EXAMPLE_TASMOTA_LOGIN}`]);
    expect(seen).toHaveLength(65 - 4 - 2 - 37 + 1);
    expect(file.devices![0]!.credentials).toEqual({ secret: 'env:S_dc_main' });
    expect(file.devices!.find((d) => d.id === 'pm-cnc-1')!.credentials).toEqual({ login: EXAMPLE_TASMOTA_LOGIN });
    expect(file.devices!.find((d) => d.id === 'rd-fablab')!.credentials).toBeUndefined();
    expect(file.logins).toEqual([{ id: EXAMPLE_TASMOTA_LOGIN, username: 'tasmota', credentials: { secret: 'env:S_login_tasmota_fleet' } }]);
  });
});

/**
 * base() plus one device of each real format: a Tasmota plug on a shared login, a Shelly Plus Plug S,
 * a Zigbee2MQTT bridge (attached to nothing) with an Aqara sensor, and an RDM6300 serial reader.
 */
function fleet(): ReturnType<typeof base> {
  const s = base();
  (s.equipment as unknown[]).push(
    { id: 'cnc', space: 'lab', name: 'CNC', class: 'cnc' },
    { id: 'printer', space: 'lab', name: 'Printer', class: '3d-printer' },
    { id: 'lathe', space: 'lab', name: 'Lathe', class: 'lathe' },
  );
  (s.desks as unknown[]).push({ id: 'D2', space: 'floor' }, { id: 'D3', space: 'floor' });
  s.devices.push(
    { id: 'pm-cnc', kind: 'power-meter', format: 'tasmota', equipment: 'cnc', credentials: { login: 'plugs' }, mqtt: { clientId: 'DVES_CNC', topic: 'plug_cnc' } },
    { id: 'pm-printer', kind: 'power-meter', format: 'shelly-gen2', equipment: 'printer', credentials: { hash: HASH }, mqtt: { clientId: 'shellyplusplugs-printer', topic: 'shellyplusplugs-printer' } },
    { id: 'z2m', kind: 'zigbee-bridge', format: 'zigbee2mqtt', credentials: { hash: HASH } },
    { id: 'occ-2', kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: 'D2', bridge: 'z2m', mqtt: { friendlyName: 'desk_2' }, model: 'aqara-rtcgq11lm' },
    { id: 'rd-1', kind: 'badge-reader', format: 'rdm6300', door: 'lab-door', serial: { path: '/dev/ttyUSB0' } },
  );
  s.logins = [{ id: 'plugs', username: 'tasmota', credentials: { hash: HASH } }];
  return s;
}
// Indices in fleet().devices.
const PM_CNC = 5;
const PM_PRINTER = 6;
const Z2M = 7;
const OCC_2 = 8;
const RD_1 = 9;
const mqttOf = (s: ReturnType<typeof base>, i: number): Record<string, unknown> => dev(s, i).mqtt as Record<string, unknown>;
const login = (s: ReturnType<typeof base>): Record<string, unknown> => (s.logins as Record<string, unknown>[])[0]!;
const push = (s: ReturnType<typeof base>, d: Record<string, unknown>): void => void s.devices.push(d);
const secondBridge = { id: 'z2m-2', kind: 'zigbee-bridge', format: 'zigbee2mqtt', space: 'floor', credentials: { hash: HASH }, mqtt: { topic: 'zigbee2mqtt-floor' } };

function siteOf(s: unknown): Site {
  const r = validateSite(s);
  if (!r.ok) throw new Error(r.errors.map(formatSiteIssue).join('\n'));
  return r.site;
}

describe('validateSite: real devices', () => {
  it('resolves each format with its defaults', () => {
    const site = siteOf(fleet());
    expect(site.devices.get('pm-cnc')).toEqual({
      id: 'pm-cnc',
      kind: 'power-meter',
      format: 'tasmota',
      space: 'lab',
      target: { type: 'equipment', id: 'cnc' },
      measures: ['power', 'health'],
      credentials: { login: 'plugs' },
      // The user name is the shared login's.
      mqtt: { clientId: 'DVES_CNC', username: 'tasmota', topic: 'plug_cnc' },
      bridge: null,
      serial: null,
      model: null,
      occupancyTimeoutMs: null,
      silentAfterMs: 900_000,
      direction: 'in',
    });
    expect(site.devices.get('pm-printer')).toMatchObject({ format: 'shelly-gen2', mqtt: { clientId: 'shellyplusplugs-printer', username: 'pm-printer', topic: 'shellyplusplugs-printer' }, silentAfterMs: 900_000 });
    expect(site.devices.get('z2m')).toEqual({
      id: 'z2m',
      kind: 'zigbee-bridge',
      format: 'zigbee2mqtt',
      space: null,
      target: null,
      measures: ['health'],
      credentials: { hash: HASH },
      mqtt: { clientId: 'z2m', username: 'z2m', topic: 'zigbee2mqtt' },
      bridge: null,
      serial: null,
      model: null,
      occupancyTimeoutMs: null,
      silentAfterMs: 7200_000,
      direction: 'in',
    });
    expect(site.devices.get('occ-2')).toEqual({
      id: 'occ-2',
      kind: 'occupancy-sensor',
      format: 'zigbee2mqtt',
      space: 'floor',
      target: { type: 'desk', id: 'D2' },
      measures: ['occupancy', 'health'],
      credentials: null,
      mqtt: null,
      bridge: { device: 'z2m', friendlyName: 'desk_2' },
      serial: null,
      model: 'aqara-rtcgq11lm',
      occupancyTimeoutMs: 90_000,
      silentAfterMs: 7200_000,
      direction: 'in',
    });
    expect(site.devices.get('rd-1')).toEqual({
      id: 'rd-1',
      kind: 'badge-reader',
      format: 'rdm6300',
      space: 'lab',
      target: { type: 'door', id: 'lab-door' },
      measures: ['badge', 'health'],
      credentials: null,
      mqtt: null,
      bridge: null,
      serial: { path: '/dev/ttyUSB0', baudRate: 9600 },
      model: null,
      occupancyTimeoutMs: null,
      silentAfterMs: null,
      direction: 'in',
    });
    expect([...site.logins.keys()]).toEqual(['plugs']);
    expect(Object.isFrozen(site.devices.get('occ-2')!.bridge)).toBe(true);
  });

  it.each<[string, Mutate, string, { occupancyTimeoutMs: number | null; silentAfterMs: number | null }]>([
    ['model defaults', () => undefined, 'occ-2', { occupancyTimeoutMs: 90_000, silentAfterMs: 7200_000 }],
    ['explicit occupancyTimeoutS over the model', (s) => (dev(s, OCC_2).occupancyTimeoutS = 30), 'occ-2', { occupancyTimeoutMs: 30_000, silentAfterMs: 7200_000 }],
    ['explicit silentAfterS over the model', (s) => (dev(s, OCC_2).silentAfterS = 600), 'occ-2', { occupancyTimeoutMs: 90_000, silentAfterMs: 600_000 }],
    ['model names in any case', (s) => (dev(s, OCC_2).model = 'Aqara-RTCGQ11LM'), 'occ-2', { occupancyTimeoutMs: 90_000, silentAfterMs: 7200_000 }],
    ['a model that reports free itself', (s) => (dev(s, OCC_2).model = 'sonoff-snzb-03'), 'occ-2', { occupancyTimeoutMs: null, silentAfterMs: 7200_000 }],
    ['a three-minute PIR', (s) => (dev(s, OCC_2).model = 'generic-pir-3min'), 'occ-2', { occupancyTimeoutMs: 180_000, silentAfterMs: 7200_000 }],
    ['an unknown model: the format’s default', (s) => (dev(s, OCC_2).model = 'acme-pir'), 'occ-2', { occupancyTimeoutMs: null, silentAfterMs: 7200_000 }],
    ['a model named like an Object property', (s) => (dev(s, OCC_2).model = 'constructor'), 'occ-2', { occupancyTimeoutMs: null, silentAfterMs: 7200_000 }],
    ['no model, canonical', () => undefined, 'occ-1', { occupancyTimeoutMs: null, silentAfterMs: 3600_000 }],
    ['occupancyTimeoutS without a model', (s) => (dev(s, 0).occupancyTimeoutS = 120), 'occ-1', { occupancyTimeoutMs: 120_000, silentAfterMs: 3600_000 }],
    ['a sensor model on a plug sets no occupancy timeout', (s) => (dev(s, PM_CNC).model = 'aqara-rtcgq11lm'), 'pm-cnc', { occupancyTimeoutMs: null, silentAfterMs: 7200_000 }],
  ])('timeouts: %s', (_name, mutate, id, expected) => {
    const s = fleet();
    mutate(s);
    expect(siteOf(s).devices.get(id)).toMatchObject(expected);
  });

  it('maps client ids and friendly names to devices', () => {
    const s = fleet();
    push(s, secondBridge);
    push(s, { id: 'occ-3', kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: 'D3', bridge: 'z2m-2' }); // friendly name defaults to its id
    const site = siteOf(s);
    expect(Object.fromEntries(site.byClientId)).toEqual({
      'occ-1': 'occ-1',
      'occ-room': 'occ-room',
      'pm-1': 'pm-1',
      'br-1': 'br-1',
      'dc-1': 'dc-1',
      DVES_CNC: 'pm-cnc',
      'shellyplusplugs-printer': 'pm-printer',
      z2m: 'z2m',
      'z2m-2': 'z2m-2',
    });
    expect([...site.bridged.keys()]).toEqual(['z2m', 'z2m-2']);
    expect(Object.fromEntries(site.bridged.get('z2m')!)).toEqual({ desk_2: 'occ-2' });
    expect(Object.fromEntries(site.bridged.get('z2m-2')!)).toEqual({ 'occ-3': 'occ-3' });
    expect(() => (site.byClientId as Map<string, string>).set('x', 'y')).toThrow(TypeError);
    expect(() => (site.bridged.get('z2m') as Map<string, string>).set('x', 'y')).toThrow(TypeError);
  });

  it.each<[string, Mutate]>([
    ['a zigbee-bridge attached to nothing', () => undefined],
    ['a zigbee-bridge in a space', (s) => (dev(s, Z2M).space = 'floor')],
    ['one friendly name on two bridges', (s) => (push(s, secondBridge), push(s, { id: 'occ-3', kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: 'D3', bridge: 'z2m-2', mqtt: { friendlyName: 'desk_2' } }))],
    ['one login for several plugs', (s) => push(s, { id: 'pm-lathe', kind: 'power-meter', format: 'tasmota', equipment: 'lathe', credentials: { login: 'plugs' }, mqtt: { topic: 'plug_lathe' } })],
    ['one topic in two formats (their topic trees differ)', (s) => (mqttOf(s, PM_PRINTER).topic = 'plug_cnc')],
    ['a Tasmota plug with its defaults (client id and topic = device id)', (s) => delete dev(s, PM_CNC).mqtt],
    ['a serial reader with a baud rate and a relative path', (s) => (dev(s, RD_1).serial = { path: 'serial/rd-1', baudRate: 115200 })],
    ['a Wiegand reader on a machine', (s) => push(s, { id: 'rd-2', kind: 'badge-reader', format: 'wiegand26', equipment: 'cnc', serial: { path: '/dev/ttyUSB1' } })],
    ['a bridged sensor with no mqtt at all', (s) => delete dev(s, OCC_2).mqtt],
    ['a login whose password is a secret reference', (s) => (login(s).credentials = { secret: 'env:TASMOTA_PASSWORD' })],
    ['a client id with a $', (s) => (mqttOf(s, PM_CNC).clientId = 'DVES_$1')],
  ])('accepts %s', (_name, mutate) => {
    const s = fleet();
    mutate(s);
    siteOf(s);
  });

  const cases: [string, Mutate, string, SiteIssueCode, RegExp][] = [
    // format against kind
    ['format not allowed for the kind', (s) => (dev(s, PM_CNC).format = 'zigbee2mqtt'), `devices[${PM_CNC}].format`, 'format', /^a power-meter cannot speak zigbee2mqtt; set format: to one of canonical, tasmota, shelly-gen2$/],
    ['a door controller on a serial line', (s) => (dev(s, 4).format = 'rdm6300'), 'devices[4].format', 'format', /^a door-controller cannot speak rdm6300; set format: canonical$/],
    ['a badge reader over Zigbee', (s) => (dev(s, 3).format = 'zigbee2mqtt'), 'devices[3].format', 'format', /^a badge-reader cannot speak zigbee2mqtt; set format: to one of canonical, rdm6300, wiegand26$/],
    ['a zigbee-bridge without format (the default does not fit)', (s) => delete dev(s, Z2M).format, `devices[${Z2M}]`, 'format', /^a zigbee-bridge cannot speak canonical, the default format; add format: zigbee2mqtt$/],
    ['unknown format', (s) => (dev(s, PM_CNC).format = 'tuya'), `devices[${PM_CNC}].format`, 'invalid-value', /^must be one of canonical, tasmota, shelly-gen2, zigbee2mqtt, rdm6300, wiegand26; "tuya" is not$/],
    // serial readers
    ['serial reader without serial', (s) => delete dev(s, RD_1).serial, `devices[${RD_1}]`, 'format', /^reads cards over a serial port \(rdm6300\); add serial: \{ path: \/dev\/ttyUSB0, baudRate: 9600 \}/],
    ['serial reader with credentials', (s) => (dev(s, RD_1).credentials = { hash: HASH }), `devices[${RD_1}].credentials`, 'format', /^a serial rdm6300 reader has no credentials .*; remove credentials:$/],
    ['serial reader with mqtt', (s) => (dev(s, RD_1).mqtt = { clientId: 'rd-1' }), `devices[${RD_1}].mqtt`, 'format', /^a serial rdm6300 reader has no mqtt .*; remove mqtt:$/],
    ['serial reader with a bridge', (s) => (dev(s, RD_1).bridge = 'z2m'), `devices[${RD_1}].bridge`, 'format', /^a serial rdm6300 reader has no bridge .*; remove bridge:$/],
    ['serial on an MQTT device', (s) => (dev(s, PM_CNC).serial = { path: '/dev/ttyUSB1' }), `devices[${PM_CNC}].serial`, 'format', /^only rdm6300 and wiegand26 readers use a serial port; remove serial: or set format: to rdm6300 or wiegand26$/],
    ['serial baud rate out of range', (s) => (dev(s, RD_1).serial = { path: '/dev/ttyUSB0', baudRate: 100 }), `devices[${RD_1}].serial.baudRate`, 'invalid-value', /^must be at least 300, not 100$/],
    ['serial without a path', (s) => (dev(s, RD_1).serial = { baudRate: 9600 }), `devices[${RD_1}].serial`, 'required', /^required field "path" is missing; add path: \(Serial port, e\.g\. \/dev\/ttyUSB0/],
    // bridged sensors
    ['bridged sensor without a bridge', (s) => delete dev(s, OCC_2).bridge, `devices[${OCC_2}]`, 'format', /^reports through a Zigbee2MQTT bridge; add bridge: <id of its zigbee-bridge device>$/],
    ['bridge that is not a zigbee-bridge', (s) => (dev(s, OCC_2).bridge = 'pm-cnc'), `devices[${OCC_2}].bridge`, 'format', /^"pm-cnc" is a power-meter, not a zigbee-bridge; set bridge: to the id of the zigbee-bridge device the sensor is paired with$/],
    ['unknown bridge', (s) => (dev(s, OCC_2).bridge = 'z2n'), `devices[${OCC_2}].bridge`, 'unknown-reference', /^there is no device "z2n" \(did you mean "z2m"\?\); add a device of kind zigbee-bridge with that id, or fix the reference$/],
    ['bridged sensor with credentials', (s) => (dev(s, OCC_2).credentials = { hash: HASH }), `devices[${OCC_2}].credentials`, 'format', /^a bridged sensor has no MQTT login of its own \(its bridge has\); remove credentials:$/],
    ['bridged sensor with a client id', (s) => (mqttOf(s, OCC_2).clientId = 'occ-2'), `devices[${OCC_2}].mqtt.clientId`, 'format', /^a bridged sensor does not connect itself, so it has no clientId; remove it \(only mqtt: \{ friendlyName: … \} applies\)$/],
    ['bridged sensor with a topic', (s) => (mqttOf(s, OCC_2).topic = 'zigbee2mqtt'), `devices[${OCC_2}].mqtt.topic`, 'format', /so it has no topic; remove it/],
    ['bridge on an MQTT device', (s) => (dev(s, PM_CNC).bridge = 'z2m'), `devices[${PM_CNC}].bridge`, 'format', /^only Zigbee2MQTT sensors report through a bridge; remove bridge: or set format: zigbee2mqtt$/],
    ['friendlyName on an MQTT device', (s) => (mqttOf(s, PM_CNC).friendlyName = 'plug'), `devices[${PM_CNC}].mqtt.friendlyName`, 'format', /^friendlyName is for sensors paired with a Zigbee2MQTT bridge only; remove it$/],
    ['topic on a canonical device', (s) => (dev(s, 0).mqtt = { topic: 'desk1' }), 'devices[0].mqtt.topic', 'format', /^canonical devices use the fac\/v1\/<site>\/d\/<device> topics; remove topic$/],
    ['zigbee-bridge on a desk', (s) => (dev(s, Z2M).desk = 'D3'), `devices[${Z2M}].desk`, 'attachment', /^a zigbee-bridge cannot attach to a desk; attach it with space: <space id>/],
    // MQTT devices and logins
    ['MQTT device without credentials', (s) => delete dev(s, PM_PRINTER).credentials, `devices[${PM_PRINTER}]`, 'credentials', /^connects over MQTT \(shelly-gen2\); add credentials: \{ hash: … \}, \{ secret: env:… \} or \{ login: <shared login id> \}$/],
    ['zigbee-bridge without credentials', (s) => delete dev(s, Z2M).credentials, `devices[${Z2M}]`, 'credentials', /^connects over MQTT \(zigbee2mqtt\); add credentials:/],
    ['unknown login', (s) => (dev(s, PM_CNC).credentials = { login: 'plug' }), `devices[${PM_CNC}].credentials.login`, 'unknown-reference', /^there is no login "plug" \(did you mean "plugs"\?\); define it under logins: or fix the reference$/],
    ['login with no logins section', (s) => delete s.logins, `devices[${PM_CNC}].credentials.login`, 'unknown-reference', /^there is no login "plugs"; define it under logins:/],
    ['login id not an id', (s) => (dev(s, PM_CNC).credentials = { login: 'my plugs' }), `devices[${PM_CNC}].credentials.login`, 'invalid-value', /^"my plugs" is not a valid id/],
    ['duplicate login', (s) => (s.logins as unknown[]).push({ id: 'plugs', username: 'x', credentials: { hash: HASH } }), 'logins[1].id', 'duplicate-id', /^login id "plugs" is already used by logins\[0\]; give each login its own id$/],
    ['login without a user name', (s) => delete login(s).username, 'logins[0]', 'required', /^required field "username" is missing; add username: \(MQTT user name the devices send\)$/],
    ['login with a login', (s) => (login(s).credentials = { login: 'other' }), 'logins[0].credentials', 'required', /^needs hash: or secret: \(see docs\/site-file\.md, "Credentials"\)$/],
    ['login hash malformed', (s) => (login(s).credentials = { hash: 'sha256$abc' }), 'logins[0].credentials.hash', 'credentials', /^is not a valid hash: a sha256 hash has three parts: sha256\$<salt>\$<hash>; regenerate it/],
    ['login secret not an env name', (s) => (login(s).credentials = { secret: 'env:A-B' }), 'logins[0].credentials.secret', 'credentials', /^"A-B" is not an environment variable name; use letters, digits and "_", e\.g\. env:LOGIN_0_SECRET$/],
    ['login secret file relative', (s) => (login(s).credentials = { secret: 'file:secrets/plugs' }), 'logins[0].credentials.secret', 'credentials', /^"secrets\/plugs" is not an absolute path; write file:\/full\/path/],
    // unique MQTT identities
    ['duplicate client id', (s) => (mqttOf(s, PM_PRINTER).clientId = 'DVES_CNC'), `devices[${PM_PRINTER}].mqtt.clientId`, 'duplicate-identity', /^MQTT client id "DVES_CNC" is already used by device "pm-cnc"; give each device its own client id \(set mqtt\.clientId to what the device sends\)$/],
    ['explicit client id = an earlier device’s id', (s) => (mqttOf(s, PM_CNC).clientId = 'occ-1'), `devices[${PM_CNC}].mqtt.clientId`, 'duplicate-identity', /^MQTT client id "occ-1" is already used by device "occ-1"/],
    ['default client id = an earlier explicit client id', (s) => ((mqttOf(s, PM_CNC).clientId = 'pm-printer'), delete mqttOf(s, PM_PRINTER).clientId), `devices[${PM_PRINTER}]`, 'duplicate-identity', /^MQTT client id "pm-printer" is already used by device "pm-cnc"; give each device its own client id/],
    ['bridge client id = a device id', (s) => (dev(s, Z2M).mqtt = { clientId: 'dc-1' }), `devices[${Z2M}].mqtt.clientId`, 'duplicate-identity', /^MQTT client id "dc-1" is already used by device "dc-1"/],
    ['client id reserved for the gateway', (s) => (mqttOf(s, PM_CNC).clientId = 'Gateway'), `devices[${PM_CNC}].mqtt.clientId`, 'reserved-id', /^"Gateway" is reserved for the gateway itself; configure the device with another client id$/],
    ['duplicate tasmota topic', (s) => push(s, { id: 'pm-lathe', kind: 'power-meter', format: 'tasmota', equipment: 'lathe', credentials: { login: 'plugs' }, mqtt: { clientId: 'DVES_LATHE', topic: 'plug_cnc' } }), 'devices[10].mqtt.topic', 'duplicate-identity', /^tasmota topic "plug_cnc" is already used by device "pm-cnc"; give each device its own topic, on the device and in mqtt\.topic$/],
    ['tasmota default topic = an explicit one', (s) => push(s, { id: 'plug_cnc', kind: 'power-meter', format: 'tasmota', equipment: 'lathe', credentials: { login: 'plugs' }, mqtt: { clientId: 'DVES_LATHE' } }), 'devices[10]', 'duplicate-identity', /^tasmota topic "plug_cnc" is already used by device "pm-cnc"/],
    ['two bridges on the default base topic', (s) => push(s, { ...secondBridge, mqtt: undefined }), `devices[10]`, 'duplicate-identity', /^zigbee2mqtt topic "zigbee2mqtt" is already used by device "z2m"; give each device its own topic/],
    ['duplicate friendly name on one bridge', (s) => push(s, { id: 'occ-3', kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: 'D3', bridge: 'z2m', mqtt: { friendlyName: 'desk_2' } }), 'devices[10].mqtt.friendlyName', 'duplicate-identity', /^friendly name "desk_2" on bridge "z2m" is already used by device "occ-2"; give each sensor its own friendly_name in Zigbee2MQTT and set mqtt\.friendlyName to it$/],
    ['default friendly name = an explicit one', (s) => ((mqttOf(s, OCC_2).friendlyName = 'occ-3'), push(s, { id: 'occ-3', kind: 'occupancy-sensor', format: 'zigbee2mqtt', desk: 'D3', bridge: 'z2m' })), 'devices[10]', 'duplicate-identity', /^friendly name "occ-3" on bridge "z2m" is already used by device "occ-2"/],
    ['duplicate serial path', (s) => push(s, { id: 'rd-2', kind: 'badge-reader', format: 'wiegand26', equipment: 'cnc', serial: { path: '/dev/ttyUSB0' } }), 'devices[10].serial.path', 'duplicate-identity', /^serial port \/dev\/ttyUSB0 is already used by device "rd-1"; each reader needs its own port/],
    // timeouts
    ['occupancyTimeoutS on a power meter', (s) => (dev(s, PM_CNC).occupancyTimeoutS = 90), `devices[${PM_CNC}].occupancyTimeoutS`, 'format', /^only occupancy sensors have an occupancy timeout; remove occupancyTimeoutS from this power-meter$/],
    ['occupancyTimeoutS on a serial reader', (s) => (dev(s, RD_1).occupancyTimeoutS = 90), `devices[${RD_1}].occupancyTimeoutS`, 'format', /^only occupancy sensors have an occupancy timeout; remove occupancyTimeoutS from this badge-reader$/],
    ['occupancyTimeoutS on a bridge', (s) => (dev(s, Z2M).occupancyTimeoutS = 90), `devices[${Z2M}].occupancyTimeoutS`, 'format', /from this zigbee-bridge$/],
    ['occupancyTimeoutS of zero', (s) => (dev(s, OCC_2).occupancyTimeoutS = 0), `devices[${OCC_2}].occupancyTimeoutS`, 'invalid-value', /^must be more than 0, not 0$/],
    ['silentAfterS over a week', (s) => (dev(s, OCC_2).silentAfterS = 8 * 86_400), `devices[${OCC_2}].silentAfterS`, 'invalid-value', /^must be at most 604800, not 691200$/],
  ];

  it.each(cases)('%s', (_name, mutate, path, code, message) => {
    const s = fleet();
    mutate(s);
    const r = validateSite(s);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const found = r.errors.find((e) => formatSiteIssue(e).startsWith(`${path}: `) && e.code === code);
    expect(found, r.errors.map(formatSiteIssue).join('\n')).toBeDefined();
    expect(found!.message).toMatch(message);
    // One mistake, one message.
    expect(r.errors, r.errors.map(formatSiteIssue).join('\n')).toHaveLength(1);
  });

  // [MQTT-4.7.1-1] no wildcards in a topic name; $-topics are the broker's; empty levels are a typo.
  it.each<[string, string, string]>([
    ['topic', 'plug/+', 'a wildcard +'],
    ['topic', 'plugs/#', 'a wildcard #'],
    ['topic', '$SYS/plug', 'a leading $'],
    ['topic', 'plugs//cnc', 'an empty level'],
    ['topic', '/plug_cnc', 'a leading /'],
    ['topic', 'plug_cnc/', 'a trailing /'],
    ['topic', '', 'nothing'],
    ['clientId', 'DVES+1', 'a +'],
    ['clientId', 'DVES#1', 'a #'],
    ['clientId', 'dves/1', 'a /'],
    ['clientId', 'DVES 1', 'a space'],
  ])('schema refuses mqtt.%s %j (%s)', (field, value) => {
    const s = fleet();
    mqttOf(s, PM_CNC)[field] = value;
    const r = validateSite(s);
    if (r.ok) throw new Error('expected errors');
    expect(r.errors.map(formatSiteIssue)).toEqual([
      expect.stringMatching(
        field === 'topic'
          ? new RegExp(`^devices\\[${PM_CNC}\\]\\.mqtt\\.topic: .* cannot be used in an MQTT topic: no \\+ or # \\(wildcards\\), no leading \\$ \\(reserved for the broker\\), no leading, trailing or double "/"; use what the device is configured with`)
          : new RegExp(`^devices\\[${PM_CNC}\\]\\.mqtt\\.clientId: .* is not a usable MQTT client id: no spaces, "/", "\\+" or "#"; use the client id the device sends`),
      ),
    ]);
    expect(r.errors[0]!.code).toBe('invalid-value');
  });

  it('schema refuses a friendly name with a wildcard', () => {
    const s = fleet();
    mqttOf(s, OCC_2).friendlyName = 'desk/+';
    const r = validateSite(s);
    if (r.ok) throw new Error('expected errors');
    expect(r.errors.map(formatSiteIssue)).toEqual([`devices[${OCC_2}].mqtt.friendlyName: "desk/+" cannot be used in an MQTT topic: no + or # (wildcards), no leading $ (reserved for the broker), no leading, trailing or double "/"; use what the device is configured with, e.g. plug_laser_1`]);
  });
});

describe('parseCredentialHash', () => {
  it.each([
    [HASH, true],
    [`scrypt$16384$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`, true],
    ['sha256$short$' + 'B'.repeat(43), false],
    [`sha256$${'A'.repeat(22)}$${'B'.repeat(42)}`, false],
    [`sha256$${'A'.repeat(22)}$${'B'.repeat(42)}=`, false],
    [`sha256$${'A'.repeat(22)}$${'B'.repeat(43)}$extra`, false],
    [`scrypt$16000$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`, false],
    [`scrypt$${2 ** 30}$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`, false],
    [`scrypt$1048576$16$1$${'A'.repeat(22)}$${'B'.repeat(43)}`, false],
    [`scrypt$16384$0$1$${'A'.repeat(22)}$${'B'.repeat(43)}`, false],
    ['bcrypt$x', false],
    ['', false],
  ])('%s → %s', (stored, ok) => {
    expect(parseCredentialHash(stored).ok).toBe(ok);
  });
});
