/**
 * Access: grants and refusals at doors and machines, with their reasons
 * (core/access/reasons.ts), from `access_decision`. The grant and reason
 * are tags, so counting per reason needs no field scan.
 */
import { RowBuilder, type DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { dashboard, DATASOURCE, Grid, InfluxQL, lastValue, M, SITE, SPACE, table } from './kit.js';

const DEC = `"${M.decision}"`;
const WHERE = `${SITE} AND ${SPACE} AND $timeFilter`;

export function accessDashboard(): DashboardBuilder {
  const g = new Grid();
  const d = dashboard('openfacility-access', 'OpenFacility · Access', 'Access decisions at doors and machines: grants, refusals and why.');

  let p = g.place(24, 1);
  d.withRow(new RowBuilder('Decisions').id(p.id).gridPos(p.pos));
  p = g.place(8, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('Granted').description('Decisions that opened a door or started/ended a machine session, in the range.')
      .datasource(DATASOURCE).reduceOptions(lastValue()).unit('none').decimals(0)
      .withTarget(new InfluxQL(`SELECT count("granted") AS "granted" FROM ${DEC} WHERE ${WHERE} AND "grant" = 'true'`).table()),
  );
  p = g.place(8, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('Refused').description('Decisions that refused a badge, in the range.')
      .datasource(DATASOURCE).reduceOptions(lastValue()).unit('none').decimals(0)
      .withTarget(new InfluxQL(`SELECT count("granted") AS "refused" FROM ${DEC} WHERE ${WHERE} AND "grant" = 'false'`).table()),
  );
  p = g.place(8, 5);
  d.withPanel(
    new StatPanel().id(p.id).gridPos(p.pos).title('Refusal rate').description('Refused as a share of all decisions in the range.')
      .datasource(DATASOURCE).reduceOptions(lastValue()).unit('percent').min(0).max(100).decimals(1)
      .withTarget(new InfluxQL(`SELECT (count("granted") - sum("granted")) / count("granted") * 100 AS "refused" FROM ${DEC} WHERE ${WHERE}`).table()),
  );
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Grants and refusals').description('Decisions per interval, by outcome.')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT count("granted") AS "decisions" FROM ${DEC} WHERE ${WHERE} GROUP BY time($__interval), "grant" fill(0)`).alias('grant=$tag_grant')),
  );
  p = g.place(12, 8);
  d.withPanel(
    new TimeseriesPanel().id(p.id).gridPos(p.pos).title('Refusals by reason').description('Refusals per interval, by reason code (core/access/reasons.ts).')
      .datasource(DATASOURCE).unit('none').min(0)
      .withTarget(new InfluxQL(`SELECT count("granted") AS "refused" FROM ${DEC} WHERE ${WHERE} AND "grant" = 'false' GROUP BY time($__interval), "reason" fill(0)`).alias('$tag_reason')),
  );

  g.newRow();
  p = g.place(24, 1);
  d.withRow(new RowBuilder('Why and where').id(p.id).gridPos(p.pos));
  p = g.place(8, 9);
  d.withPanel(table(p, 'Decisions by reason', 'Every reason code in the range, grants and refusals.', `SELECT count("granted") AS "decisions" FROM ${DEC} WHERE ${WHERE} GROUP BY "grant", "reason"`, null));
  p = g.place(8, 9);
  d.withPanel(table(p, 'Refusals by door or machine', 'Where badges were refused in the range.', `SELECT count("granted") AS "refused" FROM ${DEC} WHERE ${WHERE} AND "grant" = 'false' GROUP BY "site", "target_type", "target"`, null));
  p = g.place(8, 9);
  d.withPanel(table(p, 'Overrides', 'Staff override badges used in the range, per door or machine.', `SELECT sum("override") AS "overrides" FROM ${DEC} WHERE ${WHERE} AND "override" = 1 GROUP BY "site", "target_type", "target"`, null));
  return d;
}
