/**
 * Gateways are identified by their token: the first call a gateway token
 * makes registers its gateway (a token made with POST /tokens, role gateway,
 * has none until then). Shared by the policy area (which records when a
 * gateway was seen) and the gateway-checkpoint area.
 */
import type { Transaction } from 'kysely';
import type { Principal } from '../auth/principal.js';
import { actorOf, recordChange } from '../db/changes.js';
import type { DB } from '../db/schema.js';
import { newId } from '../ids.js';

export type GatewayPrincipal = Extract<Principal, { kind: 'token' }> & { readonly role: 'gateway' };

export function isGatewayToken(p: Principal | null): p is GatewayPrincipal {
  return p !== null && p.kind === 'token' && p.role === 'gateway';
}

/** The id of the token's gateway, registering it (and logging the change) on its first call. */
export async function ensureGateway(trx: Transaction<DB>, p: GatewayPrincipal, now: number): Promise<{ id: string; siteId: string }> {
  const row = await trx.selectFrom('gateways').select(['id', 'site_id']).where('token_id', '=', p.id).executeTakeFirst();
  if (row) return { id: row.id, siteId: row.site_id };
  const id = newId('gwy');
  const gw = { id, site_id: p.siteId ?? 'unknown', name: p.name, token_id: p.id, last_seen_at: null, policy_version_seen: null, created_at: now };
  await trx.insertInto('gateways').values(gw).execute();
  await recordChange(trx, { actor: actorOf(p), entity: 'gateway', entityId: id, action: 'create', before: null, after: { siteId: gw.site_id, name: gw.name, tokenId: p.id, registered: 'on first call' }, at: now });
  return { id, siteId: gw.site_id };
}
