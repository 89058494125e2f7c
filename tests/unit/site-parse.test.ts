import { describe, expect, it } from 'vitest';
import { exampleSiteFile, siteToYaml, SITE_FILE_HEADER } from '../../core/site/example.js';
import { formatSiteErrors, MAX_SITE_FILE_BYTES, parseSiteText, type SiteFileError } from '../../core/site/parse.js';

const HASH = `sha256$${'A'.repeat(22)}$${'B'.repeat(43)}`;

// Line numbers matter below: keep this text as it is and add cases with `edit`.
const BASE = `version: 1
site:
  id: demo
  name: Demo
  timezone: Asia/Shanghai
spaces:
  - id: floor
    name: Floor
    kind: open-space
  - id: lab
    name: Lab
    kind: lab
desks:
  - id: D1
    space: floor
doors:
  - id: lab-door
    space: lab
equipment:
  - id: laser
    space: lab
    name: Laser
    class: laser-cutter
devices:
  - id: occ-1
    kind: occupancy-sensor
    desk: D1
    credentials:
      hash: ${HASH}
  - id: pm-1
    kind: power-meter
    equipment: laser
    credentials: { secret: "env:PM1" }
`;

/** A serial reader at lab-door on /dev/ttyUSB0 (5 lines). */
const READER = (id: string, format: string): string => `  - id: ${id}\n    kind: badge-reader\n    format: ${format}\n    door: lab-door\n    serial: { path: /dev/ttyUSB0 }`;
/** A Zigbee2MQTT bridge (4 lines) and a sensor on it (5 lines). */
const BRIDGE = `  - id: z2m\n    kind: zigbee-bridge\n    format: zigbee2mqtt\n    credentials: { hash: "${HASH}" }`;
const SENSOR = '  - id: occ-2\n    kind: occupancy-sensor\n    format: zigbee2mqtt\n    space: floor\n    bridge: z2m';

/** BASE with line `line` (1-based) replaced, and `insertAfter` lines inserted after it. */
function edit(line: number, replacement: string | null, insertAfter?: string): string {
  const lines = BASE.split('\n');
  if (replacement !== null) lines[line - 1] = replacement;
  if (insertAfter !== undefined) lines.splice(line, 0, ...insertAfter.split('\n'));
  return lines.join('\n');
}

/** BASE without lines `from`..`to` (1-based, inclusive). */
function without(from: number, to = from): string {
  const lines = BASE.split('\n');
  lines.splice(from - 1, to - from + 1);
  return lines.join('\n');
}

function errorsOf(text: string): SiteFileError[] {
  const r = parseSiteText(text, 'site.yaml');
  if (r.ok) throw new Error('expected errors');
  return r.errors;
}

describe('parseSiteText', () => {
  it('parses the base text', () => {
    const r = parseSiteText(BASE, 'site.yaml');
    expect(r.ok && r.site.devices.get('pm-1')?.target).toEqual({ type: 'equipment', id: 'laser' });
  });

  const cases: [string, string, number, number, string, RegExp][] = [
    // name, text, line, column, path, message
    ['bad reference (points at the value)', edit(27, '    desk: D99'), 27, 11, 'devices[0].desk', /^there is no desk "D99"; define it under desks: or fix the reference$/],
    ['unknown field (points at the key)', edit(9, null, '    colour: red'), 10, 5, 'spaces[0].colour', /^unknown field "colour"; allowed here: id, name, nameZh, kind/],
    ['missing field (points at the object)', without(31), 30, 5, 'devices[1]', /^required field "kind" is missing; add kind: \(What the device is\)$/],
    ['missing credentials (points at the object)', without(33), 30, 5, 'devices[1]', /^connects over MQTT \(canonical\); add credentials: \{ hash: … \}, \{ secret: env:… \} or \{ login: <shared login id> \}$/],
    ['enum value', edit(12, '    kind: workshop'), 12, 11, 'spaces[1].kind', /^must be one of open-space, lab, room; "workshop" is not/],
    ['bad id', edit(3, '  id: demo site'), 3, 7, 'site.id', /is not a valid id: an id has 1 to 64 characters/],
    ['id read as a number', edit(3, '  id: 0755'), 3, 7, 'site.id', /^must be text, but 755 reads as a number; put the value in quotes, e\.g\. "755"$/],
    ['empty value (points at the key)', edit(27, '    desk:'), 27, 5, 'devices[0].desk', /^is empty/],
    ['duplicate id', edit(18, null, '  - id: lab-door\n    space: lab'), 19, 9, 'doors[1].id', /^door id "lab-door" is already used by doors\[0\]; give each door its own id$/],
    ['incompatible attachment', edit(32, '    desk: D1'), 32, 11, 'devices[1].desk', /^a power-meter cannot attach to a desk; attach it with equipment:/],
    ['two attachments', edit(27, null, '    space: floor'), 25, 5, 'devices[0]', /^has desk: and space:; a device attaches to exactly one thing, keep one$/],
    ['machine outside a lab', edit(21, '    space: floor'), 21, 12, 'equipment[0].space', /which is an open-space; machines stand in a space of kind lab/],
    ['unknown time zone', edit(5, '  timezone: Beijing'), 5, 13, 'site.timezone', /"Beijing" is not a known IANA time zone/],
    ['value in a flow mapping', edit(33, '    credentials: { secret: "PM1" }'), 33, 28, 'devices[1].credentials.secret', /not a secret reference: write env:VARIABLE_NAME or file:/],
    ['measures not allowed', edit(32, null, '    measures: [power, occupancy]'), 33, 23, 'devices[1].measures[1]', /^a power-meter cannot send "occupancy"; it may send power, health$/],
    ['wrong version', edit(1, 'version: 2'), 1, 10, 'version', /^must be 1, not 2$/],
    // Real devices (lines 34 on are devices appended after pm-1).
    ['format not allowed for the kind', edit(31, null, '    format: zigbee2mqtt'), 32, 13, 'devices[1].format', /^a power-meter cannot speak zigbee2mqtt; set format: to one of canonical, tasmota, shelly-gen2$/],
    ['default format not allowed (points at the device)', edit(33, null, `  - id: z2m\n    kind: zigbee-bridge\n    credentials: { hash: "${HASH}" }`), 34, 5, 'devices[2]', /^a zigbee-bridge cannot speak canonical, the default format; add format: zigbee2mqtt$/],
    ['serial reader without serial', edit(33, null, `  - id: rd-1\n    kind: badge-reader\n    format: rdm6300\n    door: lab-door`), 34, 5, 'devices[2]', /^reads cards over a serial port \(rdm6300\); add serial: \{ path: \/dev\/ttyUSB0, baudRate: 9600 \}/],
    ['duplicate serial port', edit(33, null, `${READER('rd-1', 'rdm6300')}\n${READER('rd-2', 'wiegand26')}`), 43, 21, 'devices[3].serial.path', /^serial port \/dev\/ttyUSB0 is already used by device "rd-1"; each reader needs its own port/],
    ['unknown login', edit(33, '    credentials: { login: plugs }'), 33, 27, 'devices[1].credentials.login', /^there is no login "plugs"; define it under logins: or fix the reference$/],
    ['login with a malformed hash', edit(33, null, 'logins:\n  - id: plugs\n    username: tasmota\n    credentials: { hash: "sha256$abc" }'), 37, 26, 'logins[0].credentials.hash', /^is not a valid hash: a sha256 hash has three parts: sha256\$<salt>\$<hash>; regenerate it/],
    ['bridge that is not a zigbee-bridge', edit(33, null, '  - id: occ-2\n    kind: occupancy-sensor\n    format: zigbee2mqtt\n    space: floor\n    bridge: pm-1'), 38, 13, 'devices[2].bridge', /^"pm-1" is a power-meter, not a zigbee-bridge; set bridge: to the id of the zigbee-bridge device/],
    ['bridged sensor with credentials', edit(33, null, `${BRIDGE}\n${SENSOR}\n    credentials: { secret: "env:OCC2" }`), 43, 18, 'devices[3].credentials', /^a bridged sensor has no MQTT login of its own \(its bridge has\); remove credentials:$/],
    ['duplicate friendly name on one bridge', edit(33, null, `${BRIDGE}\n${SENSOR}\n    mqtt: { friendlyName: room }\n${SENSOR.replace('occ-2', 'occ-3')}\n    mqtt: { friendlyName: room }`), 49, 27, 'devices[4].mqtt.friendlyName', /^friendly name "room" on bridge "z2m" is already used by device "occ-2"; give each sensor its own friendly_name/],
    ['duplicate client id', edit(33, null, '  - id: occ-room\n    kind: occupancy-sensor\n    space: floor\n    credentials: { secret: "env:X" }\n    mqtt: { clientId: pm-1 }'), 38, 23, 'devices[2].mqtt.clientId', /^MQTT client id "pm-1" is already used by device "pm-1"; give each device its own client id/],
    ['wildcard in a topic', edit(33, null, '    format: tasmota\n    mqtt: { topic: "plug/#" }'), 35, 20, 'devices[1].mqtt.topic', /^"plug\/#" cannot be used in an MQTT topic: no \+ or # \(wildcards\)/],
    ['occupancyTimeoutS on a power meter', edit(32, null, '    occupancyTimeoutS: 90'), 33, 24, 'devices[1].occupancyTimeoutS', /^only occupancy sensors have an occupancy timeout; remove occupancyTimeoutS from this power-meter$/],
  ];

  it.each(cases)('%s', (_name, text, line, column, path, message) => {
    const errors = errorsOf(text);
    expect(errors).toHaveLength(1);
    const [e] = errors;
    expect(e).toMatchObject({ file: 'site.yaml', line, column, path });
    expect(e!.message).toMatch(message);
  });

  it.each([
    ['duplicate key', edit(4, '  name: Demo', '  name: Again'), 5, 3, /^YAML: Map keys must be unique \(a key appears twice in the same mapping; keep one\)$/],
    ['tab indentation', edit(26, '\tkind: occupancy-sensor'), 26, 1, /^YAML: .*/],
    ['unclosed flow mapping', edit(33, '    credentials: { secret: "env:PM1"'), 34, 1, /^YAML: /],
    ['unclosed quote', edit(4, '  name: "Demo'), 4, 14, /^YAML: Missing closing "quote \(something is missing here: a closing quote/],
    ['two documents', `${BASE}---\nversion: 1\n`, 34, 1, /^YAML: the file holds more than one YAML document/],
    ['a !tag', edit(4, '  name: !secret Demo'), 4, 9, /^YAML: Unresolved tag: !secret \(a site file uses no !tags; remove it\)$/],
  ])('YAML syntax: %s', (_name, text, line, column, message) => {
    const errors = errorsOf(text);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]).toMatchObject({ file: 'site.yaml', line, column, path: '' });
    expect(errors[0]!.message).toMatch(message);
  });

  it('sorts errors by position and formats them as file:line:column', () => {
    let text = edit(27, '    desk: D99');
    text = text.replace('kind: open-space', 'kind: open space');
    const errors = errorsOf(text);
    expect(formatSiteErrors(errors).split('\n')).toEqual([
      'site.yaml:9:11: spaces[0].kind: must be one of open-space, lab, room; "open space" is not (did you mean open-space?)',
      'site.yaml:27:11: devices[0].desk: there is no desk "D99"; define it under desks: or fix the reference',
    ]);
  });

  it('reports a missing section at the top of the file', () => {
    const errors = errorsOf(without(6, 12));
    expect(errors[0]).toMatchObject({ line: 1, column: 1, path: '' });
    expect(errors[0]!.message).toMatch(/^required field "spaces" is missing; add spaces:/);
  });

  it('follows aliases when locating an error', () => {
    // occ-1 defines the credentials with an anchor, pm-1 reuses them: both are wrong at the anchor's definition.
    const text = BASE.replace(`    credentials:\n      hash: ${HASH}`, '    credentials: &c { secret: "PM1" }').replace('    credentials: { secret: "env:PM1" }', '    credentials: *c');
    const errors = errorsOf(text);
    expect(errors.map((e) => [e.line, e.column, e.path])).toEqual([
      [28, 31, 'devices[0].credentials.secret'],
      [28, 31, 'devices[1].credentials.secret'],
    ]);
  });

  it('refuses an alias bomb', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    ].join('\n');
    const errors = errorsOf(bomb);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 1, column: 1 });
    expect(errors[0]!.message).toMatch(/cannot be read: .*alias/i);
  });

  it('refuses a file over the size limit', () => {
    const errors = errorsOf(`${BASE}#${'x'.repeat(MAX_SITE_FILE_BYTES)}\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 1, column: 1 });
    expect(errors[0]!.message).toMatch(/at most 5 MB/);
  });

  it('reports an empty file', () => {
    expect(errorsOf('')[0]).toMatchObject({ line: 1, column: 1, path: '' });
    expect(errorsOf('')[0]!.message).toMatch(/the site file is empty/);
    expect(errorsOf('# only a comment\n')[0]!.message).toMatch(/the site file is empty/);
  });

  it('places the "and N more" summary last', () => {
    const devices = Array.from({ length: 120 }, (_, i) => `  - id: d${i}\n    kind: power-meter\n    equipment: nope\n    credentials: { hash: "${HASH}" }`).join('\n');
    const text = BASE.replace(/^devices:\n[\s\S]*$/m, `devices:\n${devices}\n`);
    const errors = errorsOf(text);
    expect(errors).toHaveLength(101);
    expect(errors[100]!.message).toMatch(/and 20 more problems/);
    expect(errors[0]!.line).toBeLessThan(errors[99]!.line);
  });

  it('round-trips the example site through YAML', () => {
    const file = exampleSiteFile({ credentialsFor: () => ({ hash: HASH }) });
    const text = siteToYaml(file, SITE_FILE_HEADER);
    expect(text.startsWith('# OpenFacility site file')).toBe(true);
    expect(text).toContain('docs/site-file.md');
    expect(text).toContain('nameZh: 数字制造实验室');
    expect(text).toContain('position: { x: 2, y: 2 }');
    const r = parseSiteText(text, 'site.yaml');
    if (!r.ok) throw new Error(formatSiteErrors(r.errors));
    expect(text).toContain(' Shared MQTT logins');
    expect(text).toContain('login: tasmota-fleet');
    expect(text).toContain('friendlyName: desk_cw-01');
    expect(text).toContain('path: serial/rd-fablab');
    expect(r.site.file).toEqual(file);
    expect(r.site.devices.size).toBe(65);
    expect(r.site.logins.size).toBe(1);
    expect(r.site.bridged.get('z2m-cowork')?.size).toBe(37);
    expect(r.site.desks.size).toBe(44);
    expect(r.site.equipment.size).toBe(10);
  });
});
