/**
 * Gateway checkpoints at the server (issue #10, docs/audit.md "Gateway
 * checkpoints at the server"). A gateway's own copy of its checkpoints proves
 * nothing once its disk is in other hands, so each gateway sends the server
 * its signing keys and every checkpoint it signs; the server keeps those that
 * check out:
 *
 * - the origin is `openfacility/<the gateway's site>`;
 * - the signature verifies with a key the gateway announced before (and, for a
 *   retired key, the checkpoint is not newer than its retirement);
 * - it extends the newest checkpoint kept for that gateway: a larger log with
 *   a valid RFC 9162 consistency proof from it (checked by the independent
 *   verifier, core/audit/rfc9162-verify.ts), or the very same checkpoint again.
 *
 * A second root for a size kept, a log that does not extend the kept one, a
 * log smaller than one kept but never seen, and a bad signature are evidence
 * that the gateway's history was rewritten (or that someone else holds its
 * token): refused, and recorded as an alarm (table and change log), in the
 * same transaction as the refusal is decided.
 */
import type { Transaction } from 'kysely';
import { checkSignature, keyIdOf, publicKeyFromRaw, signedFromJson, type CheckpointJson } from '../../core/audit/checkpoint.js';
import { verifyConsistency } from '../../core/audit/rfc9162-verify.js';
import { recordChange } from '../db/changes.js';
import type { ServerDb } from '../db/database.js';
import type { DB } from '../db/schema.js';

export type { CheckpointJson };

export interface CheckpointSubmission {
  readonly checkpoint: CheckpointJson;
  /** From the newest checkpoint the server kept (its size) to this one; absent for the first. */
  readonly proof?: { readonly fromSize: number; readonly hashes: readonly string[] } | undefined;
}

export interface KeyJson {
  readonly keyId: string;
  readonly publicKey: string;
  readonly createdAt: number;
  readonly retiredAt: number | null;
}

export type AlarmCode = 'fork' | 'not_consistent' | 'rollback' | 'bad_signature';

export type SubmitVerdict =
  | { readonly ok: true; readonly status: 'kept' | 'already_kept'; readonly latest: CheckpointJson }
  /** Refused without an alarm: the gateway should fix its request (announce the key, send a proof from `latest`). */
  | { readonly ok: false; readonly status: 'refused'; readonly code: 'wrong_origin' | 'unknown_key' | 'retired_key' | 'proof_needed'; readonly detail: string; readonly latest: CheckpointJson | null }
  /** Refused as evidence of a rewritten history, recorded as an alarm. */
  | { readonly ok: false; readonly status: 'alarm'; readonly code: AlarmCode; readonly detail: string; readonly latest: CheckpointJson | null };

export interface GatewayRef {
  readonly id: string;
  readonly siteId: string;
}

export const originOf = (siteId: string): string => `openfacility/${siteId}`;

type Trx = Transaction<DB>;

async function latestKept(trx: Trx | ServerDb, gatewayId: string): Promise<CheckpointJson | null> {
  const r = await trx.selectFrom('gateway_checkpoints').selectAll().where('gateway_id', '=', gatewayId).orderBy('size', 'desc').limit(1).executeTakeFirst();
  return r ? toJson(r) : null;
}

const toJson = (r: { origin: string; size: number; root: string; time: number; key_id: string; sig: string }): CheckpointJson => ({
  origin: r.origin,
  size: Number(r.size),
  root: r.root,
  time: Number(r.time),
  keyId: r.key_id,
  sig: r.sig,
});


/** Records a key a gateway announced; answers whether it was new. Throws RangeError when the id is not the key's. */
export async function announceKey(db: ServerDb, gw: GatewayRef, k: KeyJson, actor: string, now: number): Promise<'created' | 'updated' | 'unchanged'> {
  const id = keyIdOf(publicKeyFromRaw(k.publicKey));
  if (id !== k.keyId) throw new RangeError(`key id ${k.keyId} is not the id of that public key (${id})`);
  return db.transaction().execute(async (trx) => {
    const had = await trx.selectFrom('gateway_audit_keys').selectAll().where('gateway_id', '=', gw.id).where('key_id', '=', k.keyId).executeTakeFirst();
    if (!had) {
      await trx.insertInto('gateway_audit_keys').values({ gateway_id: gw.id, key_id: k.keyId, public_key: k.publicKey, created_at: k.createdAt, retired_at: k.retiredAt, announced_at: now }).execute();
      await recordChange(trx, { actor, entity: 'gateway_key', entityId: `${gw.id}/${k.keyId}`, action: 'create', before: null, after: { ...k, gatewayId: gw.id }, at: now });
      return 'created';
    }
    // A key once retired stays retired; the only change a gateway may announce is its retirement.
    if (had.retired_at === null && k.retiredAt !== null) {
      await trx.updateTable('gateway_audit_keys').set({ retired_at: k.retiredAt }).where('gateway_id', '=', gw.id).where('key_id', '=', k.keyId).execute();
      await recordChange(trx, { actor, entity: 'gateway_key', entityId: `${gw.id}/${k.keyId}`, action: 'update', before: { retiredAt: null }, after: { retiredAt: k.retiredAt }, at: now });
      return 'updated';
    }
    return 'unchanged';
  });
}

/** Decides on a checkpoint a gateway sent, keeping it or recording the alarm, in one transaction. */
export async function submitCheckpoint(db: ServerDb, gw: GatewayRef, s: CheckpointSubmission, actor: string, now: number): Promise<SubmitVerdict> {
  const c = s.checkpoint;
  return db.transaction().execute(async (trx): Promise<SubmitVerdict> => {
    const latest = await latestKept(trx, gw.id);
    const refuse = (code: Extract<SubmitVerdict, { status: 'refused' }>['code'], detail: string): SubmitVerdict => ({ ok: false, status: 'refused', code, detail, latest });
    const alarm = async (code: AlarmCode, detail: string): Promise<SubmitVerdict> => {
      // A gateway retries what was refused: the same submission raises its alarm once.
      const body = JSON.stringify(s);
      const had = await trx.selectFrom('gateway_audit_alarms').select('id').where('gateway_id', '=', gw.id).where('code', '=', code).where('checkpoint', '=', body).executeTakeFirst();
      if (had) return { ok: false, status: 'alarm', code, detail, latest };
      await trx.insertInto('gateway_audit_alarms').values({ gateway_id: gw.id, at: now, code, detail, checkpoint: body }).execute();
      await recordChange(trx, { actor, entity: 'gateway_alarm', entityId: gw.id, action: 'create', before: null, after: { code, detail, checkpoint: c }, at: now });
      return { ok: false, status: 'alarm', code, detail, latest };
    };

    if (c.origin !== originOf(gw.siteId)) return refuse('wrong_origin', `the origin of this gateway's log is ${originOf(gw.siteId)}, not ${c.origin}`);
    const key = await trx.selectFrom('gateway_audit_keys').selectAll().where('gateway_id', '=', gw.id).where('key_id', '=', c.keyId).executeTakeFirst();
    if (!key) return refuse('unknown_key', `key ${c.keyId} was never announced by this gateway (POST /gateways/:id/keys first)`);
    if (key.retired_at !== null && c.time > Number(key.retired_at)) return refuse('retired_key', `key ${c.keyId} was retired at ${key.retired_at}, before this checkpoint's time`);
    const signed = signedFromJson(c);
    const bad = checkSignature(signed, new Map([[c.keyId, publicKeyFromRaw(key.public_key)]]));
    if (bad) return alarm('bad_signature', bad);

    if (latest) {
      if (c.size === latest.size) {
        if (c.root === latest.root) return { ok: true, status: 'already_kept', latest };
        return alarm('fork', `a different root for size ${c.size} was kept before (${latest.root})`);
      }
      if (c.size < latest.size) {
        const same = await trx.selectFrom('gateway_checkpoints').select('root').where('gateway_id', '=', gw.id).where('size', '=', c.size).executeTakeFirst();
        if (same?.root === c.root) return { ok: true, status: 'already_kept', latest };
        if (same) return alarm('fork', `a different root for size ${c.size} was kept before (${same.root})`);
        return alarm('rollback', `size ${c.size} is smaller than ${latest.size}, kept before`);
      }
      if (!s.proof || s.proof.fromSize !== latest.size) return refuse('proof_needed', `send a consistency proof from size ${latest.size}, the newest checkpoint kept`);
      const proof = s.proof.hashes.map((h) => Buffer.from(h, 'base64'));
      if (proof.some((h) => h.length !== 32) || !verifyConsistency(latest.size, c.size, Buffer.from(latest.root, 'base64'), signed.checkpoint.root, proof)) {
        return alarm('not_consistent', `the log of size ${c.size} does not extend the one of size ${latest.size} kept before`);
      }
    }
    await trx.insertInto('gateway_checkpoints').values({ gateway_id: gw.id, size: c.size, origin: c.origin, root: c.root, time: c.time, key_id: c.keyId, sig: c.sig, received_at: now }).execute();
    await recordChange(trx, { actor, entity: 'gateway_checkpoint', entityId: `${gw.id}/${c.size}`, action: 'create', before: null, after: c, at: now });
    return { ok: true, status: 'kept', latest: c };
  });
}

export interface GatewayAuditState {
  readonly keys: readonly (KeyJson & { readonly announcedAt: number })[];
  readonly latest: CheckpointJson | null;
  readonly checkpoints: readonly (CheckpointJson & { readonly receivedAt: number })[];
  readonly alarms: readonly { readonly id: number; readonly at: number; readonly code: string; readonly detail: string }[];
}

/** What the server keeps for a gateway: keys, checkpoints (by size, after `afterSize`, at most `limit`), alarms. */
export async function readGatewayAudit(db: ServerDb, gatewayId: string, afterSize: number, limit: number): Promise<GatewayAuditState> {
  const [keys, latest, rows, alarms] = await Promise.all([
    db.selectFrom('gateway_audit_keys').selectAll().where('gateway_id', '=', gatewayId).orderBy('created_at').orderBy('key_id').execute(),
    latestKept(db, gatewayId),
    db.selectFrom('gateway_checkpoints').selectAll().where('gateway_id', '=', gatewayId).where('size', '>', afterSize).orderBy('size').limit(limit).execute(),
    db.selectFrom('gateway_audit_alarms').select(['id', 'at', 'code', 'detail']).where('gateway_id', '=', gatewayId).orderBy('id').execute(),
  ]);
  return {
    keys: keys.map((k) => ({ keyId: k.key_id, publicKey: k.public_key, createdAt: Number(k.created_at), retiredAt: k.retired_at === null ? null : Number(k.retired_at), announcedAt: Number(k.announced_at) })),
    latest,
    checkpoints: rows.map((r) => ({ ...toJson(r), receivedAt: Number(r.received_at) })),
    alarms: alarms.map((a) => ({ id: Number(a.id), at: Number(a.at), code: a.code, detail: a.detail })),
  };
}
