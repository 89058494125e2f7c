/**
 * Machines: how many run now, how much of the time they run (utilisation),
 * power per machine, sessions and hour meters. From `space_occupancy`
 * (machines, machines_running, machines_in_use), `equipment_power`,
 * `equipment_session` and `equipment_hours` (docs/protocol.md, "InfluxDB schema").
 */
import { RowBuilder, type DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { dashboard, DATASOURCE, Grid, InfluxQL, lastValue, M, NOW, SITE, SPACE, table } from './kit.js';

const OCC = `"${M.spaceOccupancy}"`;
const WHERE = `${SITE} AND ${SPACE} AND $timeFilter`;

export function machinesDashboard(): DashboardBuilder {
  const g = new Grid();
  const d = dashboard('openfacility-machines', 'OpenFacility · Machines', 'Machines running now, utilisation, power, sessions and hour meters.');

  let p = g.place(24, 1);
  d.withRow(new RowBuilder('Now').id(p.id).gridPos(p.pos));
  p = g.place(8, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('Machines running now').description('Drawing working power (above their running threshold), over the chosen spaces.')
      .datasource(DATASOURCE).reduceOptions(lastValue()).timeFrom(NOW).unit('none').decimals(0)
      .withTarget(new InfluxQL(`SELECT sum("machines_running") AS "running", sum("machines") AS "machines" FROM (SELECT last("machines_running") AS "machines_running", last("machines") AS "machines" FROM ${OCC} WHERE ${WHERE} GROUP BY "site", "space")`).table()),
  );
  p = g.place(8, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('Machines in use now').description('In a session: running, or idle between jobs.')
      .datasource(DATASOURCE).reduceOptions(lastValue()).timeFrom(NOW).unit('none').decimals(0)
      .withTarget(new InfluxQL(`SELECT sum("machines_in_use") AS "in use" FROM (SELECT last("machines_in_use") AS "machines_in_use" FROM ${OCC} WHERE ${WHERE} GROUP BY "site", "space")`).table()),
  );
  p = g.place(8, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('Utilisation over the range').description('Machine-minutes running as a share of machine-minutes available, over the dashboard’s range (minutes the gateway sampled).')
      .datasource(DATASOURCE).reduceOptions(lastValue()).unit('percent').min(0).max(100).decimals(1)
      .withTarget(new InfluxQL(`SELECT sum("machines_running") / sum("machines") * 100 AS "utilisation" FROM ${OCC} WHERE ${WHERE} AND "machines" > 0`).table()),
  );

  g.newRow();
  p = g.place(24, 1);
  d.withRow(new RowBuilder('Over time').id(p.id).gridPos(p.pos));
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Machines running per space').description('Peak machines running in the interval.')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT max("machines_running") AS "running" FROM ${OCC} WHERE ${WHERE} AND "machines" > 0 GROUP BY time($__interval), "site", "space" fill(null)`).alias('$tag_site $tag_space')),
  );
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Utilisation per space').description('Share of the space’s machines running, averaged over the interval.')
      .datasource(DATASOURCE).unit('percent').min(0).max(100)
      .withTarget(new InfluxQL(`SELECT sum("machines_running") / sum("machines") * 100 AS "utilisation" FROM ${OCC} WHERE ${WHERE} AND "machines" > 0 GROUP BY time($__interval), "site", "space" fill(null)`).alias('$tag_site $tag_space')),
  );
  p = g.place(24, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Power per machine').description('Mean power reported by each machine’s meter (W).')
      .datasource(DATASOURCE).unit('watt').min(0)
      .withTarget(new InfluxQL(`SELECT mean("power_w") AS "power" FROM "${M.power}" WHERE ${WHERE} GROUP BY time($__interval), "site", "target" fill(null)`).alias('$tag_site $tag_target')),
  );

  g.newRow();
  p = g.place(24, 1);
  d.withRow(new RowBuilder('Sessions and hour meters').id(p.id).gridPos(p.pos));
  p = g.place(12, 8);
  d.withPanel(
    table(p, 'Sessions ended per machine', 'Machine sessions that ended in the range and their total length (hours).',
      `SELECT count("duration_s") AS "sessions", sum("duration_s") / 3600 AS "hours" FROM "${M.session}" WHERE ${WHERE} AND "event" = 'end' GROUP BY "site", "equipment"`, null),
  );
  p = g.place(12, 8);
  d.withPanel(
    table(p, 'Hour meters', 'Each machine’s lifetime running hours, as last checkpointed by the gateway in the range.',
      `SELECT last("running_h") AS "running hours" FROM "${M.meter}" WHERE ${WHERE} GROUP BY "site", "equipment"`, null),
  );
  return d;
}
