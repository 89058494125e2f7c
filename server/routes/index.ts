/**
 * The API's route areas, each an encapsulated fastify plugin registered under
 * /api/v1 with the ServerContext as its options. Add a new area here.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from './context.js';
import { badgeRoutes } from './badges.js';
import { importExportRoutes } from './import-export.js';
import { memberRoutes } from './members.js';
import { teamRoutes } from './teams.js';
import { certificationRoutes } from './certifications.js';
import { equipmentRoutes } from './equipment.js';
import { evaluationRoutes } from './evaluation.js';
import { planRoutes } from './plans.js';
import { policyRoutes } from './policy.js';
import { printRoutes } from './print.js';
import { rateCardRoutes } from './rate-card.js';
import { ledgerRoutes } from './ledger.js';
import { costRoutes } from './costs.js';
import { grantRoutes } from './grants.js';
import { auditRoutes } from './audit.js';
import { investmentRoutes } from './investments.js';
import { serviceRoutes } from './services.js';
import { statementRoutes } from './statements.js';
import { trainerRoutes } from './trainers.js';
import { usageRoutes, utilisationRoutes } from './usage.js';
import { bookingRoutes } from './bookings.js';
import { gatewayAuditRoutes } from './gateway-audit.js';

export type RouteArea = FastifyPluginAsync<ServerContext>;

export const ROUTE_AREAS: readonly RouteArea[] = [
  memberRoutes,
  teamRoutes,
  investmentRoutes,
  badgeRoutes,
  importExportRoutes,
  planRoutes,
  certificationRoutes,
  trainerRoutes,
  serviceRoutes,
  rateCardRoutes,
  statementRoutes,
  printRoutes,
  ledgerRoutes,
  grantRoutes,
  auditRoutes,
  costRoutes,
  equipmentRoutes,
  policyRoutes,
  usageRoutes,
  utilisationRoutes,
  evaluationRoutes,
  bookingRoutes,
  gatewayAuditRoutes,
];
