/**
 * What every OpenFacility dashboard shares: the provisioned InfluxDB data
 * source, raw InfluxQL targets (the foundation SDK has no InfluxDB query
 * type, so ours implements its Dataquery builder contract), the site and
 * space template variables, and a small grid layout so panel ids and
 * positions come out the same on every run.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import { ReduceDataOptionsBuilder, type DataSourceRef } from '@grafana/grafana-foundation-sdk/common';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { MEASUREMENTS } from '../../core/points.js';
import { OCCUPANCY_MEASUREMENT } from '../../core/usage/live-points.js';
import { DashboardBuilder, QueryVariableBuilder, VariableRefresh, VariableSort, type GridPos } from '@grafana/grafana-foundation-sdk/dashboard';

/** The data source dashboards/provisioning/datasources/openfacility.yaml creates, by its fixed uid. */
export const DATASOURCE: DataSourceRef = Object.freeze({ type: 'influxdb', uid: 'openfacility-influxdb' });

/** The shape Grafana stores for an InfluxQL target in raw mode (what its query editor saves). */
export interface InfluxQLQuery extends cog.Dataquery {
  refId: string;
  datasource: DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
  alias?: string;
}

/** A raw InfluxQL target. Grafana fills $timeFilter, $__interval and template variables (dashboards/macros.ts). */
export class InfluxQL implements cog.Builder<cog.Dataquery> {
  private readonly q: InfluxQLQuery;

  constructor(query: string, refId = 'A') {
    this.q = { refId, datasource: DATASOURCE, query, rawQuery: true, resultFormat: 'time_series', _implementsDataqueryVariant: () => undefined };
  }

  /** Results as one table (one row per series/group) instead of time series. */
  table(): this {
    this.q.resultFormat = 'table';
    return this;
  }

  /** Series name, e.g. `$tag_space` (Grafana's InfluxDB alias patterns). */
  alias(alias: string): this {
    this.q.alias = alias;
    return this;
  }

  build(): cog.Dataquery {
    return { ...this.q };
  }
}

/** The InfluxQL condition for a template variable's tag, multi-value safe: Grafana joins values with `|`. */
export const tagIn = (tag: string, variable: string): string => `"${tag}" =~ /^(\$${variable})$/`;

export const SITE = tagIn('site', 'site');
export const SPACE = tagIn('space', 'space');

/** `site`: every site any measurement has seen (multi, all). */
export function siteVariable(): QueryVariableBuilder {
  return new QueryVariableBuilder('site')
    .label('Site')
    .datasource(DATASOURCE)
    .query('SHOW TAG VALUES WITH KEY = "site"')
    .definition('SHOW TAG VALUES WITH KEY = "site"')
    .multi(true)
    .includeAll(true)
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc);
}

/** `space`: the spaces of the chosen sites, from the per-minute occupancy samples (multi, all). */
export function spaceVariable(): QueryVariableBuilder {
  const q = `SHOW TAG VALUES FROM "${OCCUPANCY_MEASUREMENT}" WITH KEY = "space" WHERE ${SITE}`;
  return new QueryVariableBuilder('space')
    .label('Space')
    .datasource(DATASOURCE)
    .query(q)
    .definition(q)
    .multi(true)
    .includeAll(true)
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc);
}

/**
 * Places panels left to right on Grafana's 24-column grid, wrapping to a new
 * row, and numbers them: the same source gives the same ids and positions.
 */
export class Grid {
  private x = 0;
  private y = 0;
  private rowHeight = 0;
  private nextId = 1;

  /** The next panel's id and position, `w` columns wide and `h` rows high. */
  place(w: number, h: number): { id: number; pos: GridPos } {
    if (this.x + w > 24) this.newRow();
    const pos = { h, w, x: this.x, y: this.y };
    this.x += w;
    this.rowHeight = Math.max(this.rowHeight, h);
    return { id: this.nextId++, pos };
  }

  newRow(): void {
    this.y += this.rowHeight;
    this.x = 0;
    this.rowHeight = 0;
  }
}

/** Measurement names, from the mapping itself, so a renamed measurement cannot leave a dashboard behind. */
export const M = Object.freeze({ ...MEASUREMENTS, spaceOccupancy: OCCUPANCY_MEASUREMENT });

/** Every measurement written from a journal record, sorted (ingest panels count them). */
export const RECORD_MEASUREMENTS: readonly string[] = Object.values(MEASUREMENTS).sort();

/** An InfluxQL regex matching exactly these measurement names. */
export const measurementsRegex = (names: readonly string[]): string => `/^(${names.join('|')})$/`;

/** A dashboard with our conventions: uid, tags, last 6 hours, refreshed every minute, site and space variables. */
export function dashboard(uid: string, title: string, description: string, variables: { space: boolean } = { space: true }): DashboardBuilder {
  const d = new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['openfacility'])
    .editable()
    .timezone('browser')
    .time({ from: 'now-6h', to: 'now' })
    .refresh('1m')
    .withVariable(siteVariable());
  if (variables.space) d.withVariable(spaceVariable());
  return d;
}

/** Panels showing "now": the last 5 minutes, whatever range the dashboard shows (Grafana's relative time override). */
export const NOW = '5m';

/** A table panel of one InfluxQL query (one row per group), by default over the last few minutes. */
export function table(p: { id: number; pos: GridPos }, title: string, description: string, query: string, timeFrom: string | null = NOW): TablePanel {
  const t = new TablePanel().id(p.id).gridPos(p.pos).title(title).description(description).datasource(DATASOURCE).withTarget(new InfluxQL(query).table());
  if (timeFrom !== null) t.timeFrom(timeFrom);
  return t;
}

/** Stat panels show the newest value of each column (our "now" queries return one row). */
export const lastValue = (): ReduceDataOptionsBuilder => new ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('').values(false);
