/** The evaluation core (docs/indicators.md): indicators, the periodic report, charts. Pure. */
export * from './bookings.js';
export * from './catalogue.js';
export * from './charts.js';
export * from './inputs.js';
export * from './lowcost.js';
export * from './periods.js';
export * from './report.js';
export * from './served.js';
export * from './services.js';
export * from './survival.js';
export * from './teams.js';
export * from './utilisation.js';
export * from './values.js';
