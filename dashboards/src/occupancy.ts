/**
 * Occupancy: people per space and site, desks now, labs now. Everything here
 * reads the gateway's per-minute `space_occupancy` samples of its live state
 * (core/usage/live-points.ts): one point per space per minute the gateway runs.
 */
import { RowBuilder, type DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { dashboard, DATASOURCE, Grid, InfluxQL, lastValue, M, NOW, SITE, SPACE, table } from './kit.js';

const OCC = `"${M.spaceOccupancy}"`;
const WHERE = `${SITE} AND ${SPACE} AND $timeFilter`;

/** The newest sample of each space in the range, summed over the chosen spaces (a subquery per space). */
const latestSum = (fields: readonly string[], where = WHERE): string =>
  `SELECT ${fields.map((f) => `sum("${f}") AS "${f}"`).join(', ')} FROM (SELECT ${fields.map((f) => `last("${f}") AS "${f}"`).join(', ')} FROM ${OCC} WHERE ${where} GROUP BY "site", "space")`;

export function occupancyDashboard(): DashboardBuilder {
  const g = new Grid();
  const d = dashboard('openfacility-occupancy', 'OpenFacility · Occupancy', 'Live occupancy per site and space, desks and labs now, from the gateway’s per-minute space_occupancy samples.');

  let p = g.place(24, 1);
  d.withRow(new RowBuilder('Site').id(p.id).gridPos(p.pos));
  p = g.place(6, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('People inside now').description('Members with an open presence session (granted in at a door, not out yet), over the chosen spaces.')
      .datasource(DATASOURCE).reduceOptions(lastValue()).timeFrom(NOW).unit('none').decimals(0)
      .withTarget(new InfluxQL(latestSum(['people'])).table()),
  );
  p = g.place(6, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('Desks occupied now').description('Desks with an open desk session; desks whose sensors are offline are not counted as free.')
      .datasource(DATASOURCE).reduceOptions(lastValue()).timeFrom(NOW).unit('none').decimals(0)
      .withTarget(new InfluxQL(latestSum(['desks_occupied', 'desks'])).table()),
  );
  p = g.place(6, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('Desk occupancy now').description('Occupied desks as a share of all desks in the chosen spaces.')
      .datasource(DATASOURCE).reduceOptions(lastValue()).timeFrom(NOW).unit('percent').min(0).max(100).decimals(0)
      .withTarget(new InfluxQL(`SELECT sum("desks_occupied") / sum("desks") * 100 AS "occupancy" FROM (SELECT last("desks_occupied") AS "desks_occupied", last("desks") AS "desks" FROM ${OCC} WHERE ${WHERE} AND "desks" > 0 GROUP BY "site", "space")`).table()),
  );
  p = g.place(6, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('Desks unknown now').description('Desks whose sensors are offline, not yet heard from, or missing.')
      .datasource(DATASOURCE).reduceOptions(lastValue()).timeFrom(NOW).unit('none').decimals(0)
      .withTarget(new InfluxQL(latestSum(['desks_unknown'])).table()),
  );
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('People per site').description('Sum over the chosen spaces of each space’s peak in the interval.')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT sum("people") AS "people" FROM (SELECT max("people") AS "people" FROM ${OCC} WHERE ${WHERE} GROUP BY time($__interval), "site", "space") WHERE $timeFilter GROUP BY time($__interval), "site" fill(null)`).alias('$tag_site')),
  );
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('People per space').description('Peak people inside each space in the interval.')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT max("people") AS "people" FROM ${OCC} WHERE ${WHERE} GROUP BY time($__interval), "site", "space" fill(null)`).alias('$tag_site $tag_space')),
  );

  g.newRow();
  p = g.place(24, 1);
  d.withRow(new RowBuilder('Desks').id(p.id).gridPos(p.pos));
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Desks occupied per space').description('Mean occupied desks in the interval.')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT mean("desks_occupied") AS "occupied" FROM ${OCC} WHERE ${WHERE} AND "desks" > 0 GROUP BY time($__interval), "site", "space" fill(null)`).alias('$tag_site $tag_space')),
  );
  p = g.place(12, 8);
  d.withPanel(
    table(p, 'Desks now per space', 'Newest sample of each space with desks.',
      `SELECT last("desks_occupied") AS "occupied", last("desks_unknown") AS "unknown", last("desks") AS "desks" FROM ${OCC} WHERE ${WHERE} AND "desks" > 0 GROUP BY "site", "space"`),
  );

  g.newRow();
  p = g.place(24, 1);
  d.withRow(new RowBuilder('Labs').id(p.id).gridPos(p.pos));
  p = g.place(12, 8);
  d.withPanel(
    table(p, 'Labs now', 'Spaces with machines: people inside against the lab’s safety capacity (from the site file; empty when it sets none), and machines in use now.',
      `SELECT last("people") AS "people", last("capacity") AS "capacity", last("machines_in_use") AS "machines in use", last("machines_running") AS "machines running", last("machines") AS "machines" FROM ${OCC} WHERE ${WHERE} AND "machines" > 0 GROUP BY "site", "space"`),
  );
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('People per lab').description('Peak people inside each space with machines, in the interval.')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT max("people") AS "people" FROM ${OCC} WHERE ${WHERE} AND "machines" > 0 GROUP BY time($__interval), "site", "space" fill(null)`).alias('$tag_site $tag_space')),
  );
  return d;
}
