/**
 * The witness and the auditor's alarm (docs/audit.md, "Witness"): an auditor
 * keeps a key the operator does not hold, and
 *
 * - `facility audit witness` fetches the server's newest checkpoint, asks for
 *   the consistency proof from the last one it cosigned, cosigns only if the
 *   log merely grew (core/audit/checkpoint.ts witnessCosign: a second root for
 *   a size, a smaller size or a fork is refused and reported), attaches the
 *   cosignature, and remembers what it cosigned in its state file;
 * - `facility audit check-cosigned` alarms (exit 1) when the newest checkpoint
 *   carries no valid cosignature of the witness key.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { checkCosignature, keyIdOf, publicKeyFromRaw, rawPublicKey, signedFromJson, witnessCosign, type CheckpointJson, type WitnessState } from '../core/audit/checkpoint.js';

type ApiCheckpoint = CheckpointJson & { readonly cosignatures: NonNullable<CheckpointJson['cosignatures']> };

export interface ServerAccess {
  /** The server's API base, e.g. http://host:8080/api/v1 */
  readonly api: string;
  /** An API token (an auditor's to read; an administrator's or manager's to attach the cosignature). */
  readonly token: string;
}

async function call<T>(a: ServerAccess, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${a.api}${path}`, { ...init, headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}


async function newest(a: ServerAccess): Promise<ApiCheckpoint | null> {
  const all = await call<ApiCheckpoint[]>(a, '/audit/checkpoints');
  return all.length === 0 ? null : all[all.length - 1]!;
}

export type WitnessRun = { readonly ok: true; readonly cosigned: number } | { readonly ok: false; readonly reason: string; readonly detail: string };

/** One round of the witness: cosign the server's newest checkpoint if the log only grew since the last cosigned. */
export async function witnessOnce(a: ServerAccess, o: { keyPath: string; statePath: string; now: number }): Promise<WitnessRun> {
  const key = createPrivateKey(readFileSync(o.keyPath));
  const state = (existsSync(o.statePath) ? JSON.parse(readFileSync(o.statePath, 'utf8')) : {}) as WitnessState;
  const cp = await newest(a);
  if (!cp) return { ok: false, reason: 'no-checkpoint', detail: 'the server has signed no checkpoint yet' };
  const keys = new Map((await call<{ keyId: string; publicKey: string }[]>(a, '/audit/keys')).map((k) => [k.keyId, publicKeyFromRaw(k.publicKey)]));
  const last = state[cp.origin];
  const proof = last && last.size < cp.size ? (await call<{ proof: string[] }>(a, `/audit/proofs/consistency?from=${last.size}&to=${cp.size}`)).proof.map((p) => Buffer.from(p, 'base64')) : [];
  const answer = witnessCosign(state, signedFromJson(cp), keys, proof, key, o.now);
  if (!answer.ok) return { ok: false, reason: answer.reason, detail: answer.detail };
  const mine = answer.cosigned.cosignatures.find((c) => c.keyId === keyIdOf(key))!;
  await call(a, `/audit/checkpoints/${cp.size}/cosignatures`, { method: 'POST', body: JSON.stringify({ publicKey: rawPublicKey(key).toString('base64'), sig: mine.sig, time: mine.time }) });
  // The state is written after the server took the cosignature, atomically (a crash leaves the old state).
  writeFileSync(`${o.statePath}.tmp`, JSON.stringify(answer.state, null, 2), { mode: 0o600 });
  renameSync(`${o.statePath}.tmp`, o.statePath);
  return { ok: true, cosigned: cp.size };
}

/** Whether the server's newest checkpoint carries a valid cosignature of this witness (raw public key, base64, or a PEM file). */
export async function checkCosigned(a: ServerAccess, witnessPublicKey: string): Promise<{ ok: boolean; detail: string }> {
  const witness: KeyObject = existsSync(witnessPublicKey) ? createPublicKey(readFileSync(witnessPublicKey)) : publicKeyFromRaw(witnessPublicKey);
  const cp = await newest(a);
  if (!cp) return { ok: false, detail: 'ALARM: the server has signed no checkpoint' };
  if (!checkCosignature(signedFromJson(cp), witness)) return { ok: false, detail: `ALARM: the newest checkpoint (size ${cp.size}) has no valid cosignature of witness ${keyIdOf(witness)}` };
  return { ok: true, detail: `OK: checkpoint of size ${cp.size} is cosigned by witness ${keyIdOf(witness)}` };
}
