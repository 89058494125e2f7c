/**
 * The gateway's Prometheus metrics, in one registry handed to every part (no
 * global default registry). Names follow Prometheus conventions: counters end
 * in _total, units in the name.
 */
import { Counter, Gauge, Registry } from 'prom-client';

export function createGatewayMetrics(register = new Registry()) {
  const m = {
    register,
    received: new Counter({ name: 'facility_signals_received_total', help: 'Device messages received on uplink topics', labelNames: ['channel'] as const, registers: [register] }),
    accepted: new Counter({ name: 'facility_signals_accepted_total', help: 'Messages decoded into valid signals', labelNames: ['kind'] as const, registers: [register] }),
    ignored: new Counter({ name: 'facility_signals_ignored_total', help: 'Messages acknowledged but not recorded (e.g. about devices not in the site file)', labelNames: ['reason'] as const, registers: [register] }),
    rejected: new Counter({ name: 'facility_signals_rejected_total', help: 'Messages rejected (kept in the rejects table)', labelNames: ['reason'] as const, registers: [register] }),
    journaled: new Counter({ name: 'facility_signals_journaled_total', help: 'Records committed to the journal (fsynced)', registers: [register] }),
    duplicates: new Counter({ name: 'facility_signals_duplicate_total', help: 'Redelivered messages already in the journal', registers: [register] }),
    refused: new Counter({ name: 'facility_signals_refused_total', help: 'Messages not acknowledged because the journal could not take them', labelNames: ['reason'] as const, registers: [register] }),
    shed: new Counter({ name: 'facility_journal_shed_total', help: 'Telemetry records shed oldest-first at journal capacity', registers: [register] }),
    written: new Counter({ name: 'facility_influx_points_written_total', help: 'Points confirmed by InfluxDB', registers: [register] }),
    sinkFailures: new Counter({ name: 'facility_influx_write_failures_total', help: 'Failed InfluxDB write attempts', labelNames: ['action'] as const, registers: [register] }),
    sinkLag: new Gauge({ name: 'facility_influx_sink_lag_records', help: 'Journal records not yet confirmed by InfluxDB', registers: [register] }),
    sinkLagSeconds: new Gauge({ name: 'facility_influx_sink_lag_seconds', help: 'Age of the oldest record not yet in InfluxDB', registers: [register] }),
    journalPending: new Gauge({ name: 'facility_journal_pending_records', help: 'Unsent records by class', labelNames: ['class'] as const, registers: [register] }),
    connections: new Gauge({ name: 'facility_mqtt_clients_connected', help: 'Authenticated MQTT clients connected', registers: [register] }),
    connRefused: new Counter({ name: 'facility_mqtt_connections_refused_total', help: 'Connections refused before or at CONNECT', labelNames: ['reason'] as const, registers: [register] }),
    aclDenied: new Counter({ name: 'facility_mqtt_acl_denied_total', help: 'Publishes and subscriptions refused by the topic ACL', labelNames: ['op', 'reason'] as const, registers: [register] }),
    rateLimited: new Counter({ name: 'facility_mqtt_rate_limited_total', help: 'Clients disconnected for publishing over their rate', registers: [register] }),
  };
  return m;
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
