/** Every dashboard, by the file name it is written to under dashboards/json/. */
import type { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { accessDashboard } from './access.js';
import { devicesDashboard } from './devices.js';
import { ingestDashboard } from './ingest.js';
import { machinesDashboard } from './machines.js';
import { occupancyDashboard } from './occupancy.js';

export const DASHBOARDS: Readonly<Record<string, () => DashboardBuilder>> = Object.freeze({
  access: accessDashboard,
  devices: devicesDashboard,
  ingest: ingestDashboard,
  machines: machinesDashboard,
  occupancy: occupancyDashboard,
});
