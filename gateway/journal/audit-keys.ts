/**
 * The gateway's checkpoint-signing key on disk (docs/audit.md, "Keys"): one
 * Ed25519 key, PKCS8 PEM, mode 0600, in the data directory. Written crash-safe
 * (temporary file, fsync, rename, fsync of the directory), so a rotation
 * leaves either the old key or the new one, never half of either.
 *
 * Which keys the log trusts is decided in the journal itself (an audit_key
 * record per key, table audit_keys): the writer thread registers the key it
 * finds here when it is not registered yet (first start, or after a rotation).
 */
import { generateKeyPairSync, createPrivateKey, type KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** What identifies the key file's content on disk: a rotation replaces the file (a new inode). */
export function keyFileStamp(path: string): string {
  const s = statSync(path);
  return `${s.ino}:${s.mtimeMs}:${s.size}`;
}

export function readAuditKey(path: string): KeyObject {
  const key = createPrivateKey(readFileSync(path));
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is not an Ed25519 private key`);
  return key;
}

/** Writes a new key to `path` (replacing any there), crash-safe; returns it. */
export function writeNewAuditKey(path: string): KeyObject {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = String(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, pem);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return privateKey;
}

/** The key at `path`, created there when there is none (first start). */
export function loadOrCreateAuditKey(path: string): KeyObject {
  try {
    return readAuditKey(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return writeNewAuditKey(path);
  }
}
