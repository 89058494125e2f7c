/** MQTT.js clients acting as canonical devices, for integration tests. */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { DeviceInfo, Site } from '../../core/site/model.js';

/** Devices of a kind that speak the canonical protocol over their own connection. */
export function devicesOfKind(site: Site, kind: DeviceInfo['kind']): DeviceInfo[] {
  return [...site.devices.values()].filter((d) => d.kind === kind && d.format === 'canonical');
}

/** Connects as a device; rejects with the broker's refusal (e.g. "Connection refused: Bad username or password"). */
export function connectDevice(url: string, id: string, password: string | undefined, extra: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, {
      clientId: id,
      username: id,
      password,
      protocolVersion: 4,
      clean: false,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...extra,
    });
    const onError = (err: Error) => {
      cleanup();
      c.end(true);
      reject(err);
    };
    const onClose = () => {
      cleanup();
      c.end(true);
      reject(new Error('connection closed before CONNACK'));
    };
    const cleanup = () => {
      c.off('error', onError);
      c.off('close', onClose);
    };
    c.once('error', onError);
    c.once('close', onClose);
    c.once('connect', () => {
      cleanup();
      resolve(c);
    });
  });
}

export const occupancyTopic = (site: string, device: string) => `fac/v1/${site}/d/${device}/occupancy`;

export function occupancyPayload(boot: number, seq: number, ts?: number): string {
  return JSON.stringify({ boot, seq, ...(ts !== undefined && { ts }), occupied: seq % 2 === 0 });
}

/** Resolves when the socket closes (e.g. the broker disconnected a misbehaving client). */
export function closed(c: MqttClient, timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    if (!c.connected) return resolve(true);
    const t = setTimeout(() => resolve(false), timeoutMs);
    c.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}
