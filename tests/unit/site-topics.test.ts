/** Devices' MQTT topic spaces must never nest, and never use OpenFacility's own fac/ space. */
import { describe, expect, it } from 'vitest';
import { exampleSiteFile } from '../../core/site/example.js';
import type { DeviceDef, SiteFile } from '../../core/site/model.js';
import { validateSite } from '../../core/site/validate.js';

function withTopic(format: DeviceDef['format'], topic: string): SiteFile {
  const f = exampleSiteFile({ credentialsFor: () => ({ secret: 'env:X' }) });
  // The first device of the format that has a topic of its own (for Zigbee2MQTT: the bridge).
  const d = f.devices!.find((x) => x.format === format && (format !== 'zigbee2mqtt' || x.kind === 'zigbee-bridge'))!;
  d.mqtt = { ...d.mqtt, topic };
  return f;
}

describe('topic spaces', () => {
  it('accepts the example site', () => {
    expect(validateSite(exampleSiteFile({ credentialsFor: () => ({ secret: 'env:X' }) })).ok).toBe(true);
  });

  it.each([
    ['a Shelly prefix inside a Tasmota plug’s tele/ topics', 'shelly-gen2', 'tele/plug_laser_1', /lie inside those of device "pm-laser-1"/],
    ['a Shelly prefix inside the Zigbee2MQTT base topic', 'shelly-gen2', 'zigbee2mqtt/desk', /lie inside those of device "z2m-cowork"/],
    ['a Zigbee2MQTT base topic containing a Shelly', 'zigbee2mqtt', 'shellyplusplugs-fdm-1', /lie inside those of device/],
    ['a Shelly prefix under fac/', 'shelly-gen2', 'fac/v1/demo-makerspace/d/x', /OpenFacility's own topic space/],
    ['a Tasmota topic that nests another plug’s', 'tasmota', 'plug_laser_2/sub', /lie inside those of device "pm-laser-2"|lie inside those of device "pm-laser-1"/],
  ] as const)('refuses %s', (_name, format, topic, message) => {
    const r = validateSite(withTopic(format, topic));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const issue = r.errors.find((e) => e.code === 'duplicate-identity');
      expect(issue?.message).toMatch(message);
      expect(issue?.message).toMatch(/choose/);
    }
  });

  it('accepts topics that merely share a beginning but do not nest', () => {
    expect(validateSite(withTopic('shelly-gen2', 'tele-shelly')).ok).toBe(true);
  });
});
