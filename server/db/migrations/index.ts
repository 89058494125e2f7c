/**
 * The server's migrations, in order. Each is applied once, in a transaction,
 * and recorded by Kysely's migrator; a database written by a newer version is
 * refused. Never edit a released migration: add the next one.
 */
import type { Migration } from 'kysely';
import * as m001 from './001-reference-data.js';
import * as m002 from './002-changes-and-gateways.js';
import * as m003 from './003-access-control.js';
import * as m004 from './004-services.js';
import * as m005 from './005-ledger.js';
import * as m006 from './006-rate-cards.js';
import * as m007 from './007-accounting-inputs.js';
import * as m008 from './008-team-outcomes.js';
import * as m009 from './009-audit-log.js';
import * as m010 from './010-bookings.js';
import * as m011 from './011-gateway-checkpoints.js';

export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '001-reference-data': m001,
  '002-changes-and-gateways': m002,
  '003-access-control': m003,
  '004-services': m004,
  '005-ledger': m005,
  '006-rate-cards': m006,
  '007-accounting-inputs': m007,
  '008-team-outcomes': m008,
  '009-audit-log': m009,
  '010-bookings': m010,
  '011-gateway-checkpoints': m011,
});
