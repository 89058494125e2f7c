/**
 * The server's audit log (docs/audit.md): the rows migration 009's triggers
 * copy into `audit_log` (changes, ledger entries, period closes, rate cards)
 * hashed into an RFC 6962 Merkle tree (core/audit/merkle.ts), with checkpoints
 * signed by the server's Ed25519 key.
 *
 * Rows arrive through the triggers in the same transaction as what they log;
 * hashing follows (`catchUp`): each row's leaf hash is written once, and the
 * tree is kept in memory (two hashes per entry; rebuilt from the stored leaf
 * hashes at start). Work on the tree is serialised, so concurrent requests
 * never append a leaf twice.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { KeyObject } from 'node:crypto';
import { checkpointBody, keyIdOf, rawPublicKey, signCheckpoint, signedFromJson, type Checkpoint, type SignedCheckpoint } from '../../core/audit/checkpoint.js';
import { appendLeaf, consistencyProof, inclusionProof, leafHash, MemoryNodeStore, rootAt } from '../../core/audit/merkle.js';
import type { Clock } from '../../core/clock.js';
import type { ServerDb } from '../db/database.js';

export interface StoredCheckpoint {
  readonly size: number;
  readonly root: string;
  readonly time: number;
  readonly keyId: string;
  readonly sig: string;
  readonly reason: string;
  readonly cosignatures: readonly { readonly keyId: string; readonly sig: string; readonly time: number; readonly publicKey: string }[];
  /** The exact text the signature covers. */
  readonly body: string;
}

/** How a report names the checkpoint it was computed at. */
export const AuditCheckpointRef = Type.Object(
  { size: Type.Integer(), root: Type.String(), time: Type.Integer(), keyId: Type.String() },
  { additionalProperties: false, description: "A checkpoint of the server's audit log: GET /api/v1/audit/checkpoints has it signed" },
);
export type AuditCheckpointRef = Static<typeof AuditCheckpointRef>;

export const checkpointRef = (c: StoredCheckpoint): AuditCheckpointRef => ({ size: c.size, root: c.root, time: c.time, keyId: c.keyId });

export class ServerAuditLog {
  private readonly store = new MemoryNodeStore();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: ServerDb,
    private readonly key: KeyObject,
    readonly origin: string,
    private readonly clock: Clock,
  ) {}

  /** Loads the tree from the stored leaf hashes and registers the key. */
  static async open(db: ServerDb, opts: { key: KeyObject; origin: string; clock: Clock }): Promise<ServerAuditLog> {
    const log = new ServerAuditLog(db, opts.key, opts.origin, opts.clock);
    const rows = await db.selectFrom('audit_log').select(['idx', 'leaf_hash']).where('leaf_hash', 'is not', null).orderBy('idx').execute();
    for (const r of rows) {
      if (r.idx !== log.store.size() + 1) throw new Error(`audit log entry ${log.store.size() + 1} has no leaf hash but ${r.idx} has: the log was changed by hand`);
      appendLeaf(log.store, r.leaf_hash!);
    }
    const keyId = keyIdOf(opts.key);
    await db
      .insertInto('audit_keys')
      .values({ key_id: keyId, public_key: rawPublicKey(opts.key).toString('base64'), created_at: opts.clock.now(), retired_at: null })
      .onConflict((oc) => oc.column('key_id').doNothing())
      .execute();
    return log;
  }

  get keyId(): string {
    return keyIdOf(this.key);
  }

  /** Runs `fn` after everything queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Hashes the entries logged since the last call; returns the tree size. */
  catchUp(): Promise<number> {
    return this.serial(() => this.hashNew());
  }

  private async hashNew(): Promise<number> {
    for (;;) {
      const rows = await this.db.selectFrom('audit_log').select(['idx', 'body']).where('idx', '>', this.store.size()).orderBy('idx').limit(1000).execute();
      if (rows.length === 0) return this.store.size();
      for (const r of rows) {
        if (r.idx !== this.store.size() + 1) throw new Error(`audit log entry ${this.store.size() + 1} is missing (next is ${r.idx})`);
        const h = leafHash(Buffer.from(r.body, 'utf8'));
        await this.db.updateTable('audit_log').set({ leaf_hash: Buffer.from(h) }).where('idx', '=', r.idx).execute();
        appendLeaf(this.store, h);
      }
    }
  }

  /** Signs a checkpoint of everything logged so far (the newest one again when nothing was added). */
  checkpoint(reason: string): Promise<StoredCheckpoint> {
    return this.serial(async () => {
      const size = await this.hashNew();
      const last = await this.db.selectFrom('audit_checkpoints').selectAll().orderBy('size', 'desc').limit(1).executeTakeFirst();
      if (last && last.size === size) return toStored(last);
      const c: Checkpoint = { origin: this.origin, size, root: rootAt(this.store, size), time: this.clock.now() };
      const signed = signCheckpoint(c, this.key);
      const row = { size, root: Buffer.from(c.root).toString('base64'), time: c.time, key_id: signed.signature.keyId, sig: signed.signature.sig, reason, cosignatures: '[]' };
      await this.db.insertInto('audit_checkpoints').values(row).execute();
      return toStored(row, this.origin);
    });
  }

  size(): number {
    return this.store.size();
  }

  inclusion(entry: number, size: number): Uint8Array[] {
    return inclusionProof(this.store, entry, size);
  }

  consistency(from: number, to: number): Uint8Array[] {
    return consistencyProof(this.store, from, to);
  }

  rootAt(size: number): Uint8Array {
    return rootAt(this.store, size);
  }
}

type CheckpointRow = { size: number; root: string; time: number; key_id: string; sig: string; reason: string; cosignatures: string };

export function toStored(r: CheckpointRow, origin?: string): StoredCheckpoint {
  const o = origin ?? '';
  return {
    size: r.size,
    root: r.root,
    time: Number(r.time),
    keyId: r.key_id,
    sig: r.sig,
    reason: r.reason,
    cosignatures: JSON.parse(r.cosignatures) as StoredCheckpoint['cosignatures'],
    body: o === '' ? '' : checkpointBody({ origin: o, size: r.size, root: Buffer.from(r.root, 'base64'), time: Number(r.time) }),
  };
}

/** A stored checkpoint as core/audit/checkpoint.ts signs and checks it. */
export const signedOf = (c: StoredCheckpoint, origin: string): SignedCheckpoint => signedFromJson({ ...c, origin });
