/**
 * External broker mode, without a broker: MQTT filter matching, topic → device
 * resolution over the example site (every MQTT family), and the generated
 * Mosquitto password and ACL files.
 */
import { describe, expect, it } from 'vitest';
import { filterCovers, minimalFilters, sharedFilter, topicMatches } from '../../core/protocol/mqtt-filter.js';
import { exampleSiteFile } from '../../core/site/example.js';
import type { Site } from '../../core/site/model.js';
import { validateSite } from '../../core/site/validate.js';
import { mosquittoAclFile, mosquittoPasswordFile, mosquittoPasswordHash, mosquittoUsers, verifyMosquittoHash, type SecretsSource } from '../../gateway/broker/mosquitto-config.js';
import { TopicResolver } from '../../gateway/broker/topic-resolver.js';

function exampleSite(): Site {
  const r = validateSite(exampleSiteFile({ credentialsFor: () => ({ secret: 'env:TEST_SECRET' }) }));
  if (!r.ok) throw new Error('example site invalid');
  return r.site;
}

const site = exampleSite();
const S = site.id;
const resolver = new TopicResolver(site);

describe('MQTT filters', () => {
  it.each([
    ['a/b/c', 'a/b/c', true],
    ['a/+/c', 'a/b/c', true],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['tele/p/+', 'tele/p/SENSOR', true],
    ['tele/p/+', 'tele/p/q/SENSOR', false],
  ])('%s matches %s: %s', (filter, topic, expected) => expect(topicMatches(filter, topic)).toBe(expected));

  it.each([
    ['a/#', 'a/b/+', true],
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/#', false],
    ['a/b', 'a/+', false],
    ['#', 'x/y', true],
    ['a/+', 'a/b/c', false],
  ])('%s covers %s: %s', (outer, inner, expected) => expect(filterCovers(outer, inner)).toBe(expected));

  it('keeps one of each filter and none that another covers (a broker would deliver twice)', () => {
    expect(minimalFilters(['z/#', 'z/a/+', 'a/b', 'a/b', 'a/+/c', 'a/x/c'])).toEqual(['a/+/c', 'a/b', 'z/#']);
  });

  it('builds shared filters and refuses a group name with a topic separator or wildcard', () => {
    expect(sharedFilter('openfacility', 'fac/v1/s/d/+/badge')).toBe('$share/openfacility/fac/v1/s/d/+/badge');
    expect(() => sharedFilter('a/b', 'x')).toThrow(RangeError);
    expect(() => sharedFilter('', 'x')).toThrow(RangeError);
  });
});

describe('topic → device (TopicResolver over the example site)', () => {
  it.each([
    [`fac/v1/${S}/d/dc-main/badge`, false, 'dc-main', 'dc-main', 'badge'],
    [`fac/v1/${S}/d/dc-main/status`, true, 'dc-main', 'dc-main', 'status'],
    ['tele/plug_laser_1/SENSOR', false, 'pm-laser-1', 'pm-laser-1', 'tele/SENSOR'],
    ['stat/plug_cnc_1/POWER', false, 'pm-cnc-1', 'pm-cnc-1', 'stat/POWER'],
    ['shellyplusplugs-fdm-1/status/switch:0', false, 'pm-fdm-1', 'pm-fdm-1', 'status/switch:0'],
    // A bridge's message routes to the sensor it is about.
    ['zigbee2mqtt/roadshow_room', false, 'z2m-cowork', 'occ-roadshow', 'state'],
  ])('%s (retain %s) → %s, recorded for %s as %s', (topic, retain, from, device, channel) => {
    const r = resolver.resolve(topic, retain);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.device.id).toBe(from);
    expect(r.decision.route?.device.id).toBe(device);
    expect(r.decision.route?.channel).toBe(channel);
  });

  it.each([
    ['tele/plug_laser_1/INFO1', 'tasmota_info'],
    ['zigbee2mqtt/some_lamp', 'unmapped_device'],
  ])('%s is its device’s, allowed and not recorded (%s)', (topic, ignored) => {
    const r = resolver.resolve(topic, false);
    expect(r).toMatchObject({ ok: true, decision: { ok: true, route: null, ignored } });
  });

  it.each([
    ['fac/v1/other-site/d/dc-main/badge', 'no_device'],
    [`fac/v1/${S}/d/dc-main/occupancy`, 'no_device'], // a door controller does not send occupancy: no filter of the site
    [`fac/v1/${S}/d/nobody/badge`, 'no_device'],
    ['$SYS/broker/uptime', 'no_device'],
    [`fac/v1/${S}/gateway/rpc`, 'ambiguous'], // every Shelly plug of the site replies here
  ])('%s has no single device: %s', (topic, reason) => {
    expect(resolver.resolve(topic, false)).toMatchObject({ ok: false, reason });
  });

  it('refuses what the device’s own policy refuses (a retained reading)', () => {
    expect(resolver.resolve(`fac/v1/${S}/d/dc-main/badge`, true)).toMatchObject({ ok: false, reason: 'refused', acl: 'retain_not_allowed' });
  });

  it('subscribes to each uplink filter once, none covered by another, all families included', () => {
    const f = resolver.filters;
    expect(new Set(f).size).toBe(f.length);
    for (const a of f) for (const b of f) if (a !== b) expect(filterCovers(a, b), `${a} covers ${b}`).toBe(false);
    expect(f).toContain(`fac/v1/${S}/d/dc-main/badge`);
    expect(f).toContain('tele/plug_laser_1/+');
    expect(f).toContain('shellyplusplugs-fdm-1/status/+');
    expect(f).toContain('zigbee2mqtt/#');
    expect(f.filter((x) => x === `fac/v1/${S}/gateway/rpc`)).toHaveLength(1);
    // Bridged sensors and serial readers have no filters of their own.
    expect(f.some((x) => x.includes('occ-roadshow'))).toBe(false);
  });

  it('routes every exact uplink filter back to exactly one device (except the shared Shelly reply topic)', () => {
    for (const f of resolver.filters) {
      if (/[+#]/.test(f) || f === `fac/v1/${S}/gateway/rpc`) continue;
      expect(resolver.resolve(f, false).ok, f).toBe(true);
    }
  });
});

const secretFor = (id: string) => `pw-${id}`;
const allSecrets: SecretsSource = { device: secretFor, login: (id) => `login-${id}`, observer: secretFor };
const GW = { username: 'openfacility-gateway', password: 'gw-secret', shareGroup: 'openfacility' };

describe('Mosquitto password and ACL files', () => {
  it('hashes passwords in Mosquitto 2.0’s $7$ form (PBKDF2-SHA512), verifiable against mosquitto_passwd’s own output', () => {
    const h = mosquittoPasswordHash('secret1');
    expect(h).toMatch(/^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    expect(verifyMosquittoHash(h, 'secret1')).toBe(true);
    expect(verifyMosquittoHash(h, 'secret2')).toBe(false);
    // Written by `mosquitto_passwd -b passwd alice secret1` (Mosquitto 2.0.11) on this machine.
    const fromMosquitto = '$7$101$/ugLtfI64vgm8Rp/$vibcQjigM7Zh8wkCTIkIJrrmOiuXDPZYAEefTQgj57EFDOuZBxWu/PVvZBM9cdb3isCCUTPNoSj3LyoXKC+9QA==';
    expect(verifyMosquittoHash(fromMosquitto, 'secret1')).toBe(true);
  });

  const { users, problems } = mosquittoUsers(site, allSecrets, GW);
  const byName = new Map(users.map((u) => [u.username, u]));

  it('has the gateway, one user per device user name (a shared login once) and no problems', () => {
    expect(problems).toEqual([]);
    expect(users[0]!.username).toBe('openfacility-gateway');
    const tasmota = byName.get('tasmota')!;
    expect(tasmota.password).toBe('login-tasmota-fleet');
    expect(tasmota.write).toEqual(expect.arrayContaining(['tele/plug_laser_1/+', 'stat/plug_laser_1/+', 'tele/plug_cnc_1/+']));
    expect(tasmota.read).toEqual(expect.arrayContaining(['cmnd/plug_laser_1/+']));
    expect(byName.get('z2m-cowork')).toMatchObject({ write: ['zigbee2mqtt/#'], read: [] });
  });

  it('lets a canonical device write only its own uplinks and read only its own commands', () => {
    expect(byName.get('dc-main')).toMatchObject({
      write: [`fac/v1/${S}/d/dc-main/badge`, `fac/v1/${S}/d/dc-main/health`, `fac/v1/${S}/d/dc-main/status`],
      read: [`fac/v1/${S}/d/dc-main/cmd/#`],
    });
  });

  it('lets no two device users write the same topic, except the reply topic all Shelly plugs share', () => {
    const devices = users.filter((u) => u.username !== GW.username && u.write.length > 0);
    for (const a of devices) {
      for (const b of devices) {
        if (a === b) continue;
        for (const fa of a.write) {
          for (const fb of b.write) {
            if (fa === `fac/v1/${S}/gateway/rpc` && fb === fa) continue;
            expect(filterCovers(fa, fb) || filterCovers(fb, fa), `${a.username} ${fa} / ${b.username} ${fb}`).toBe(false);
          }
        }
      }
    }
  });

  it('lets the gateway read every uplink, as shared subscriptions too, and write commands, its status and the live state', () => {
    const gw = byName.get(GW.username)!;
    for (const f of resolver.filters) {
      expect(gw.read).toContain(f);
      expect(gw.read).toContain(`$share/openfacility/${f}`);
    }
    expect(gw.write).toEqual(expect.arrayContaining([`fac/v1/${S}/d/dc-main/cmd/#`, 'cmnd/plug_laser_1/+', 'shellyplusplugs-fdm-1/rpc', `fac/v1/${S}/gateway/status`, `fac/v1/${S}/state/#`]));
    expect(gw.write.some((f) => f.includes('zigbee2mqtt'))).toBe(false);
  });

  it('writes the ACL file as user blocks of topic lines, and the password file one hash per user', () => {
    const acl = mosquittoAclFile(site, users, 'site.yaml');
    expect(acl).toContain(`user dc-main\ntopic write fac/v1/${S}/d/dc-main/badge\ntopic write fac/v1/${S}/d/dc-main/health\ntopic write fac/v1/${S}/d/dc-main/status\ntopic read fac/v1/${S}/d/dc-main/cmd/#\n`);
    expect(acl.match(/^user /gm)).toHaveLength(users.length);
    const passwd = mosquittoPasswordFile(users, (p) => `H(${p})`);
    expect(passwd.split('\n')[0]).toBe('openfacility-gateway:H(gw-secret)');
    expect(passwd).toContain('dc-main:H(pw-dc-main)\n');
  });

  it('leaves out a device without a known secret, and says so', () => {
    const missing = mosquittoUsers(site, { ...allSecrets, device: (id) => (id === 'dc-main' ? undefined : secretFor(id)) }, GW);
    expect(missing.users.some((u) => u.username === 'dc-main')).toBe(false);
    expect(missing.problems).toEqual([expect.stringMatching(/^device "dc-main": no secret/)]);
  });
});
