/**
 * Checkpoints: a signed statement "the log <origin> had <size> entries with
 * root <root> at <time>". The gateway signs one periodically and at every
 * period close with its own Ed25519 key; a witness (an auditor's process,
 * with a key the operator does not hold) cosigns a checkpoint only if it
 * extends the last one it cosigned, so the operator cannot show two different
 * histories to two people (a split view) or roll the log back.
 *
 * The text signed is line-based, in the spirit of the C2SP checkpoint note
 * (docs/audit.md has the exact bytes):
 *
 *   openfacility-checkpoint/v1
 *   origin <origin>
 *   size <decimal>
 *   root <base64 of the 32-byte root>
 *   time <epoch ms>
 *
 * A witness signs "openfacility-cosignature/v1\ntime <epoch ms>\n" followed by
 * the same body. Keys are named by the first 8 bytes (hex) of SHA-256 of the
 * raw 32-byte public key. Pure: keys and times are passed in.
 */
import { createHash, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { verifyConsistency } from './rfc9162-verify.js';

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  /** When it was signed, epoch ms (the signer's clock). */
  readonly time: number;
}

export interface Signature {
  readonly keyId: string;
  /** Base64 Ed25519 signature. */
  readonly sig: string;
}

export interface SignedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The log's own signature. */
  readonly signature: Signature;
  /** Witnesses' cosignatures, each over the cosignature text with its own time. */
  readonly cosignatures: readonly (Signature & { readonly time: number })[];
}

const ORIGIN = /^[A-Za-z0-9._:/-]{1,200}$/;

/** A checkpoint as JSON carries it (root base64), with any cosignatures. */
export interface CheckpointJson {
  readonly origin: string;
  readonly size: number;
  readonly root: string;
  readonly time: number;
  readonly keyId: string;
  readonly sig: string;
  readonly cosignatures?: readonly { readonly keyId: string; readonly sig: string; readonly time: number }[];
}

/** A checkpoint from its JSON form, as signCheckpoint makes and checkSignature checks it. */
export function signedFromJson(c: CheckpointJson): SignedCheckpoint {
  return {
    checkpoint: { origin: c.origin, size: c.size, root: Buffer.from(c.root, 'base64'), time: c.time },
    signature: { keyId: c.keyId, sig: c.sig },
    cosignatures: (c.cosignatures ?? []).map((x) => ({ keyId: x.keyId, sig: x.sig, time: x.time })),
  };
}

/** The exact bytes a log signs. */
export function checkpointBody(c: Checkpoint): string {
  if (!ORIGIN.test(c.origin)) throw new RangeError(`origin "${c.origin}" must be 1–200 of A–Z a–z 0–9 . _ : / -`);
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new RangeError(`size ${c.size} is not a whole number ≥ 0`);
  if (c.root.length !== 32) throw new RangeError('root must be 32 bytes');
  if (!Number.isSafeInteger(c.time)) throw new RangeError('time must be epoch ms');
  return `openfacility-checkpoint/v1\norigin ${c.origin}\nsize ${c.size}\nroot ${Buffer.from(c.root).toString('base64')}\ntime ${c.time}\n`;
}

/** The exact bytes a witness signs. */
export function cosignatureBody(c: Checkpoint, time: number): string {
  return `openfacility-cosignature/v1\ntime ${time}\n${checkpointBody(c)}`;
}

/** Parses a checkpoint body back; null when it is not exactly one. */
export function parseCheckpointBody(text: string): Checkpoint | null {
  const m = /^openfacility-checkpoint\/v1\norigin ([^\n]+)\nsize (0|[1-9][0-9]{0,15})\nroot ([A-Za-z0-9+/]{43}=)\ntime (-?[0-9]{1,16})\n$/.exec(text);
  if (!m) return null;
  const c: Checkpoint = { origin: m[1]!, size: Number(m[2]), root: Buffer.from(m[3]!, 'base64'), time: Number(m[4]) };
  try {
    return checkpointBody(c) === text ? c : null;
  } catch {
    return null;
  }
}

/** The raw 32-byte Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

export function keyIdOf(key: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(key)).digest().subarray(0, 8).toString('hex');
}

/** An Ed25519 public key from its raw 32 bytes (base64), as checkpoints and bundles carry it. */
export function publicKeyFromRaw(rawBase64: string): KeyObject {
  const raw = Buffer.from(rawBase64, 'base64');
  if (raw.length !== 32) throw new RangeError('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

export function signCheckpoint(c: Checkpoint, privateKey: KeyObject): SignedCheckpoint {
  const sig = edSign(null, Buffer.from(checkpointBody(c)), privateKey).toString('base64');
  return { checkpoint: c, signature: { keyId: keyIdOf(privateKey), sig }, cosignatures: [] };
}

/** Why a checkpoint's signature does not check out, or null when it does. Keys by id: every key the log ever used (rotation keeps old ones). */
export function checkSignature(s: SignedCheckpoint, logKeys: ReadonlyMap<string, KeyObject>): string | null {
  const key = logKeys.get(s.signature.keyId);
  if (!key) return `signed by an unknown key ${s.signature.keyId}`;
  let ok = false;
  try {
    ok = edVerify(null, Buffer.from(checkpointBody(s.checkpoint)), key, Buffer.from(s.signature.sig, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? null : `the signature by ${s.signature.keyId} does not match the checkpoint`;
}

/** Whether a cosignature by this witness key is valid on the checkpoint. */
export function checkCosignature(s: SignedCheckpoint, witness: KeyObject): boolean {
  const id = keyIdOf(witness);
  return s.cosignatures.some((c) => {
    if (c.keyId !== id) return false;
    try {
      return edVerify(null, Buffer.from(cosignatureBody(s.checkpoint, c.time)), witness, Buffer.from(c.sig, 'base64'));
    } catch {
      return false;
    }
  });
}

/** What a witness remembers per log: the last checkpoint it cosigned. */
export type WitnessState = Readonly<Record<string, { readonly size: number; readonly root: string }>>;

export type WitnessAnswer =
  | { readonly ok: true; readonly state: WitnessState; readonly cosigned: SignedCheckpoint }
  | { readonly ok: false; readonly reason: 'bad-signature' | 'rollback' | 'split-view' | 'not-consistent'; readonly detail: string };

/**
 * A witness's decision: cosign a checkpoint only when the log signed it and it
 * extends (by a valid consistency proof) the last checkpoint cosigned for the
 * same origin. The same size with another root is a split view and refused.
 */
export function witnessCosign(
  state: WitnessState,
  s: SignedCheckpoint,
  logKeys: ReadonlyMap<string, KeyObject>,
  proof: readonly Uint8Array[],
  witnessKey: KeyObject,
  now: number,
): WitnessAnswer {
  const bad = checkSignature(s, logKeys);
  if (bad) return { ok: false, reason: 'bad-signature', detail: bad };
  const c = s.checkpoint;
  const last = state[c.origin];
  const root = Buffer.from(c.root).toString('base64');
  if (last) {
    if (c.size < last.size) return { ok: false, reason: 'rollback', detail: `size ${c.size} is smaller than ${last.size}, cosigned before` };
    if (c.size === last.size && root !== last.root) return { ok: false, reason: 'split-view', detail: `a different root for size ${c.size} was cosigned before` };
    if (!verifyConsistency(last.size, c.size, Buffer.from(last.root, 'base64'), c.root, proof)) {
      return { ok: false, reason: 'not-consistent', detail: `the log of size ${c.size} does not extend the one of size ${last.size} cosigned before` };
    }
  }
  const sig = edSign(null, Buffer.from(cosignatureBody(c, now)), witnessKey).toString('base64');
  return {
    ok: true,
    state: { ...state, [c.origin]: { size: c.size, root } },
    cosigned: { ...s, cosignatures: [...s.cosignatures.filter((x) => x.keyId !== keyIdOf(witnessKey)), { keyId: keyIdOf(witnessKey), sig, time: now }] },
  };
}
