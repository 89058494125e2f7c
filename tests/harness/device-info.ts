/** A DeviceInfo literal for unit tests, with the fields a test does not care about filled in. */
import type { DeviceInfo } from '../../core/site/model.js';

export function deviceInfo(d: Pick<DeviceInfo, 'id' | 'kind'> & Partial<DeviceInfo>): DeviceInfo {
  return {
    format: 'canonical',
    space: null,
    target: null,
    measures: [],
    credentials: { secret: 'env:TEST_SECRET' },
    mqtt: { clientId: d.id, username: d.id, topic: d.id },
    bridge: null,
    serial: null,
    model: null,
    occupancyTimeoutMs: null,
    silentAfterMs: null,
    direction: 'in',
    ...d,
  };
}
