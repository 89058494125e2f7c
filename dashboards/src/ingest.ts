/**
 * Ingest health: what reaches InfluxDB, per measurement and device kind, how
 * fresh the newest point is, device clocks the gateway had to replace, and
 * telemetry shed under journal pressure (`gateway_event`).
 *
 * Rejected payloads and the sink's lag are not written to InfluxDB: they are
 * in the journal and on GET /metrics and /healthz (README, "Operations"), so
 * a text panel says where to find them. "Newest point" is the lag as
 * InfluxDB sees it: how long ago the newest point of each measurement was.
 */
import { RowBuilder, type DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TextPanel, TextMode } from '@grafana/grafana-foundation-sdk/text';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { dashboard, DATASOURCE, Grid, InfluxQL, M, measurementsRegex, RECORD_MEASUREMENTS, SITE, table } from './kit.js';

const WHERE = `${SITE} AND $timeFilter`;
const RECORDS = measurementsRegex(RECORD_MEASUREMENTS);
const SIGNALS = measurementsRegex([M.badge, M.health, M.occupancy, M.power].sort());

const NOT_IN_INFLUX = [
  'Rejected payloads and the InfluxDB writer’s lag are not written to InfluxDB.',
  '',
  '- **Rejects**: `facility_signals_rejected_total{reason}` on `GET /metrics`; the payloads themselves in the journal’s `rejects` table.',
  '- **Sink lag**: `facility_influx_sink_lag_records` and `facility_influx_sink_lag_seconds` on `GET /metrics`, `influx` in `GET /healthz`.',
  '- **Shed telemetry** is written (`gateway_event`), and shown here.',
  '',
  'See docs/dashboards.md.',
].join('\n');

export function ingestDashboard(): DashboardBuilder {
  const g = new Grid();
  const d = dashboard('openfacility-ingest', 'OpenFacility · Ingest health', 'Points reaching InfluxDB per measurement and device kind, freshness, replaced device clocks and shed telemetry.', { space: false });

  let p = g.place(24, 1);
  d.withRow(new RowBuilder('Rates').id(p.id).gridPos(p.pos));
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Points per measurement').description('Points written per interval, per measurement (every journal record becomes one point).')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT count("record_key") AS "points" FROM ${RECORDS} WHERE ${WHERE} GROUP BY time($__interval) fill(0)`).alias('$m')),
  );
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Signals per device kind').description('Device signals per interval, by device kind.')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT count("seq") AS "signals" FROM ${SIGNALS} WHERE ${WHERE} GROUP BY time($__interval), "device_kind" fill(0)`).alias('$m $tag_device_kind')),
  );
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Device clocks replaced').description('Signals whose device time was implausible (too old or ahead), stamped with the gateway’s receive time instead.')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT count("seq") AS "replaced" FROM ${SIGNALS} WHERE ${WHERE} AND "ts_source" = 'gateway' GROUP BY time($__interval) fill(0)`).alias('$m')),
  );
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Telemetry shed').description('Device health signals dropped oldest-first while the journal was over its limit (badge, occupancy and power are never shed).')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT sum("count") AS "shed" FROM "${M.system}" WHERE ${WHERE} AND "event" = 'telemetry_shed' GROUP BY time($__interval) fill(0)`).alias('shed')),
  );

  g.newRow();
  p = g.place(24, 1);
  d.withRow(new RowBuilder('Freshness').id(p.id).gridPos(p.pos));
  p = g.place(12, 9);
  d.withPanel(
    table(p, 'Newest point per measurement', 'When the newest point of each measurement was written for: a measurement falling behind shows here first.',
      `SELECT last("record_key") AS "newest record" FROM ${RECORDS} WHERE ${WHERE} GROUP BY "site"`, null)
      .withTarget(new InfluxQL(`SELECT last("people") AS "people" FROM "${M.spaceOccupancy}" WHERE ${WHERE} GROUP BY "site"`, 'B').table()),
  );
  p = g.place(12, 9);
  d.withPanel(new TextPanel().id(p.id).gridPos(p.pos).title('Rejects and sink lag').mode(TextMode.Markdown).content(NOT_IN_INFLUX));
  return d;
}
