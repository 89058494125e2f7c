import { describe, expect, it } from 'vitest';
import { exampleDeviceIds, exampleSiteFile } from '../../core/site/example.js';
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
    ['missing field', (s) => delete dev(s, 0).credentials, 'devices[0]', 'required', /required field "credentials" is missing; add credentials:/],
    ['bad id', (s) => (dev(s, 0).id = 'occ 1'), 'devices[0].id', 'invalid-value', /"occ 1" is not a valid id: an id has 1 to 64 characters, only letters A-Z a-z, digits 0-9, "-" and "_"/],
    ['number where text is expected', (s) => (dev(s, 0).id = 7), 'devices[0].id', 'invalid-value', /reads as a number; put the value in quotes/],
    ['empty value', (s) => (dev(s, 0).desk = null), 'devices[0].desk', 'invalid-value', /is empty/],
    ['bad machine class', (s) => ((s.equipment as Record<string, unknown>[])[0]!.class = 'Laser Cutter'), 'equipment[0].class', 'invalid-value', /not a valid machine class: use lowercase/],
    ['no credentials kind', (s) => (dev(s, 0).credentials = {}), 'devices[0].credentials', 'required', /needs hash: or secret:/],
    ['both credentials', (s) => (dev(s, 0).credentials = { hash: HASH, secret: 'env:X' }), 'devices[0].credentials', 'invalid-value', /either hash: or secret:, not both/],
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
    expect(site.devices.size).toBe(61);
    expect([...site.devices.keys()]).toEqual(ids);
    const count = (kind: string) => [...site.devices.values()].filter((d) => d.kind === kind).length;
    expect([count('occupancy-sensor'), count('power-meter'), count('door-controller'), count('badge-reader')]).toEqual([45, 10, 4, 2]);
    for (const m of site.equipment.values()) expect(site.spaces.get(m.space)?.kind).toBe('lab');
    for (const sp of site.spaces.values()) expect(sp.nameZh).toBeTruthy();
    expect([...site.doors.values()].filter((d) => d.antiPassback === true)).toHaveLength(1);
  });

  it('lets the caller choose the site id and credentials', () => {
    const seen: string[] = [];
    const file = exampleSiteFile({ siteId: 'shenzhen-1', credentialsFor: (id) => (seen.push(id), { secret: `env:S_${id.replace(/-/g, '_')}` }) });
    expect(file.site.id).toBe('shenzhen-1');
    expect(seen).toEqual(exampleDeviceIds());
    expect(file.devices![0]!.credentials).toEqual({ secret: 'env:S_dc_main' });
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
