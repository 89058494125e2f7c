/**
 * Version 11: the gateways' checkpoints leave the gateway (issue #10,
 * docs/audit.md "Gateway checkpoints at the server").
 *
 * - `gateway_audit_keys`: every checkpoint-signing key a gateway announced
 *   (raw Ed25519 public key, base64), when the gateway made it and retired it,
 *   and when the server heard of it. Retired keys stay, so their checkpoints
 *   keep verifying.
 * - `gateway_checkpoints`: every checkpoint a gateway sent that the server
 *   accepted — signed by an announced key and extending the one kept before
 *   (by a consistency proof). One per (gateway, size); kept for good: the
 *   database refuses to change or delete one.
 * - `gateway_audit_alarms`: every checkpoint refused as evidence of a rewritten
 *   history (a second root for a size, a log that does not extend the kept
 *   one, a smaller log, a bad signature), with the checkpoint as it came.
 *
 * Key announcements, accepted checkpoints and alarms are also change-log
 * entries, so the server's own audit log (and its witness) fixes them too.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('gateway_audit_keys')
    .addColumn('gateway_id', 'text', (c) => c.notNull().references('gateways.id'))
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retired_at', 'bigint')
    .addColumn('announced_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('gateway_audit_keys_pk', ['gateway_id', 'key_id'])
    .execute();
  await db.schema
    .createTable('gateway_checkpoints')
    .addColumn('gateway_id', 'text', (c) => c.notNull().references('gateways.id'))
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('root', 'text', (c) => c.notNull())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('sig', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('gateway_checkpoints_pk', ['gateway_id', 'size'])
    .execute();
  await sql`CREATE TRIGGER gateway_checkpoints_no_delete BEFORE DELETE ON gateway_checkpoints BEGIN SELECT RAISE(ABORT, 'gateway checkpoints are kept'); END`.execute(db);
  await sql`CREATE TRIGGER gateway_checkpoints_no_update BEFORE UPDATE ON gateway_checkpoints BEGIN SELECT RAISE(ABORT, 'gateway checkpoints are kept'); END`.execute(db);
  await db.schema
    .createTable('gateway_audit_alarms')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('gateway_id', 'text', (c) => c.notNull().references('gateways.id'))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('checkpoint', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('gateway_audit_alarms_gateway').on('gateway_audit_alarms').columns(['gateway_id', 'at']).execute();
}
