/**
 * The change log: every write to reference data records who did what, with the
 * before and after images. Its newest id is the access-policy version.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Principal } from '../auth/principal.js';
import type { DB } from './schema.js';

export type Entity = 'member' | 'team' | 'badge' | 'plan' | 'certification' | 'trainer' | 'user' | 'token' | 'gateway' | 'equipment' | 'service' | 'rate_card' | 'grant' | 'cost' | 'investment' | 'booking' | 'gateway_key' | 'gateway_checkpoint' | 'gateway_alarm';

export function actorOf(p: Principal | null): string {
  if (!p) return 'system';
  return p.kind === 'user' ? `user:${p.username}` : `token:${p.name}`;
}

export async function recordChange(
  db: Kysely<DB> | Transaction<DB>,
  c: { actor: string; entity: Entity; entityId: string; action: 'create' | 'update' | 'delete' | 'import'; before: unknown; after: unknown; at: number },
): Promise<number> {
  const r = await db
    .insertInto('changes')
    .values({
      at: c.at,
      actor: c.actor,
      entity: c.entity,
      entity_id: c.entityId,
      action: c.action,
      before: c.before === null || c.before === undefined ? null : JSON.stringify(c.before),
      after: c.after === null || c.after === undefined ? null : JSON.stringify(c.after),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(r.id);
}

/** Entities whose changes alter what gateways decide (the access policy); equipment: machines out of service; booking: machines booked. */
export const POLICY_ENTITIES: readonly Entity[] = ['member', 'team', 'badge', 'plan', 'certification', 'equipment', 'booking'];
