/**
 * Closed months stay as they were closed: what they were priced or claimed
 * from (services, free-time grants, costs) cannot be added, changed or
 * removed afterwards; corrections are ledger adjustments (docs/accounting.md).
 */
import { monthsOf } from '../../core/accounting/price.js';
import { problems } from '../problems.js';
import type { ServerContext } from './context.js';

/** 409 when [from, to) (an instant alone when to ≤ from) falls in a closed month of this site. */
export async function assertMonthsOpen(ctx: ServerContext, from: number, to: number, what: string): Promise<void> {
  const months = monthsOf(ctx.usage?.site.timezone ?? 'UTC', from, to);
  let q = ctx.db.selectFrom('billing_periods').select('period').where('period', 'in', months);
  if (ctx.usage) q = q.where('site_id', '=', ctx.usage.siteId);
  const closed = await q.orderBy('period').executeTakeFirst();
  if (closed) throw problems.conflict(`${what} falls in ${closed.period}, which is closed: its figures are frozen; correct them with a ledger adjustment (POST /api/v1/ledger/adjustments)`);
}
