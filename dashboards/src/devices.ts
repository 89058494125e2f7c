/**
 * Device health: which devices say they are offline, batteries, radio link
 * quality, from `device_health` (the devices' own reports, their wills,
 * their bridges', and the gateway's device watch for silent devices).
 * Filtered by site only: bridges and some readers belong to no space.
 */
import { RowBuilder, type DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { dashboard, DATASOURCE, Grid, InfluxQL, lastValue, M, SITE, table } from './kit.js';

const HEALTH = `"${M.health}"`;
const WHERE = `${SITE} AND $timeFilter`;

export function devicesDashboard(): DashboardBuilder {
  const g = new Grid();
  const d = dashboard('openfacility-devices', 'OpenFacility · Device health', 'Devices offline, batteries and radio links, from the devices’ health reports.', { space: false });

  let p = g.place(24, 1);
  d.withRow(new RowBuilder('Now').id(p.id).gridPos(p.pos));
  p = g.place(6, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('Devices offline').description('Devices whose newest online/offline report in the range says offline.')
      .datasource(DATASOURCE).reduceOptions(lastValue()).unit('none').decimals(0)
      .withTarget(new InfluxQL(`SELECT count("online") - sum("online") AS "offline" FROM (SELECT last("online") AS "online" FROM ${HEALTH} WHERE ${WHERE} GROUP BY "site", "device")`).table()),
  );
  p = g.place(6, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('Lowest battery').description('The lowest newest battery level of any battery device in the range.')
      .datasource(DATASOURCE).reduceOptions(lastValue()).unit('percent').min(0).max(100).decimals(0)
      .withTarget(new InfluxQL(`SELECT min("battery") AS "battery" FROM (SELECT last("battery_pct") AS "battery" FROM ${HEALTH} WHERE ${WHERE} GROUP BY "site", "device")`).table()),
  );
  p = g.place(12, 10);
  d.withPanel(
    table(p, 'Offline devices', 'Devices whose newest report in the range is offline (1 = online, 0 = offline), with when it came.',
      `SELECT last("online") AS "online" FROM ${HEALTH} WHERE ${WHERE} GROUP BY "site", "device", "device_kind"`, null),
  );
  p = g.place(12, 10);
  d.withPanel(
    table(p, 'Batteries', 'Newest battery level of each battery device in the range (%).',
      `SELECT last("battery_pct") AS "battery" FROM ${HEALTH} WHERE ${WHERE} GROUP BY "site", "device"`, null),
  );

  g.newRow();
  p = g.place(24, 1);
  d.withRow(new RowBuilder('Over time').id(p.id).gridPos(p.pos));
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Offline reports').description('Offline reports per interval, by device kind.')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT count("online") AS "offline" FROM ${HEALTH} WHERE ${WHERE} AND "online" = 0 GROUP BY time($__interval), "device_kind" fill(0)`).alias('$tag_device_kind')),
  );
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Battery per device').description('Lowest battery level reported in the interval (%).')
      .datasource(DATASOURCE).unit('percent').min(0).max(100)
      .withTarget(new InfluxQL(`SELECT min("battery_pct") AS "battery" FROM ${HEALTH} WHERE ${WHERE} GROUP BY time($__interval), "site", "device" fill(null)`).alias('$tag_site $tag_device')),
  );
  p = g.place(24, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Link quality per device').description('Lowest radio link quality reported in the interval (Zigbee LQI, 0–255).')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT min("link_quality") AS "lqi" FROM ${HEALTH} WHERE ${WHERE} GROUP BY time($__interval), "site", "device" fill(null)`).alias('$tag_site $tag_device')),
  );
  return d;
}
