/**
 * `facility audit verify` and `facility audit rotate-key` (docs/audit.md):
 * the commands' work, apart from their flags (cli/facility.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { keyIdOf, type SignedCheckpoint } from '../core/audit/checkpoint.js';
import { verifyJournal, type AuditProblem, type StoredCheckpoint } from '../core/audit/verify-journal.js';
import { readAuditKey, writeNewAuditKey } from '../gateway/journal/audit-keys.js';
import { openJournalAudit } from '../gateway/journal/audit-source.js';
import { Journal } from '../gateway/journal/journal.js';

export const AUDIT_KEY_FILE = 'audit-key.pem';

export interface Output {
  out(line: string): void;
  /** Progress of a long run: entries verified, of all. */
  progress(done: number, total: number): void;
}

const n = (x: number) => x.toLocaleString('en-US');

function describe(p: AuditProblem): string {
  if ((p.where === 'entry' || p.where === 'tree') && p.seq !== null) return `entry ${p.seq}${p.key ? ` (key ${p.key})` : ''}: ${p.what}`;
  return `${p.where}: ${p.what}`;
}

/** What the server keeps for a gateway (GET /api/v1/gateways/:id/checkpoints): its announced keys and accepted checkpoints. */
export interface ServerRecord {
  readonly keyIds: readonly string[];
  readonly checkpoints: readonly StoredCheckpoint[];
}

/**
 * Fetches what the server keeps for a gateway, all pages. `gateway` is its id, or `me` with the gateway's
 * own token. Throws with the server's answer when it cannot.
 */
export async function fetchServerRecord(serverUrl: string, token: string, gateway: string, fetchFn: typeof fetch = fetch): Promise<ServerRecord> {
  const base = `${serverUrl.replace(/\/+$/, '')}/api/v1/gateways/${encodeURIComponent(gateway)}/checkpoints`;
  const checkpoints: StoredCheckpoint[] = [];
  let keyIds: string[] = [];
  for (let after = -1; ; ) {
    const res = await fetchFn(`${base}?afterSize=${after}&limit=1000`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${base}: ${res.status} ${text.slice(0, 300)}`);
    const page = JSON.parse(text) as { keys: { keyId: string }[]; checkpoints: { size: number; root: string; time: number; keyId: string; sig: string }[] };
    keyIds = page.keys.map((k) => k.keyId);
    for (const c of page.checkpoints) checkpoints.push({ size: c.size, root: new Uint8Array(Buffer.from(c.root, 'base64')), time: c.time, keyId: c.keyId, sig: c.sig });
    if (page.checkpoints.length < 1000) return { keyIds, checkpoints };
    after = page.checkpoints.at(-1)!.size;
  }
}

/**
 * Verifies a journal file; returns the exit code: 0 it verifies, 1 it does not (or cannot be read).
 * `fromServer`: what the server keeps for this gateway. Its keys become the trusted keys (unless
 * `trustedKeys` names some), and its checkpoints are checked against the journal like the journal's own:
 * a journal whose entries and checkpoints were all rewritten on the gateway still differs from them.
 */
export function runAuditVerify(journalPath: string, io: Output, trustedKeys?: ReadonlySet<string>, archives: readonly string[] = [], fromServer?: ServerRecord): number {
  if (!existsSync(journalPath)) {
    io.out(`BROKEN: ${journalPath} does not exist`);
    return 1;
  }
  let source;
  try {
    source = openJournalAudit(journalPath, archives);
  } catch (e) {
    io.out(`BROKEN: ${(e as Error).message}`);
    return 1;
  }
  try {
    io.out(`Verifying ${journalPath}${archives.length > 0 ? ` with ${n(archives.length)} archive(s)` : ''}: ${n(source.input.treeSize)} entries, ${n(source.input.checkpoints.length)} checkpoints, ${n(source.input.keys.length)} keys`);
    const trusted = trustedKeys ?? (fromServer && new Set(fromServer.keyIds));
    let checkpoints = source.input.checkpoints;
    if (fromServer) {
      // The server's copies join the journal's; one the journal holds as it is (same size, root, signature) counts once.
      const own = new Set(checkpoints.map((c) => `${c.size} ${Buffer.from(c.root).toString('base64')} ${c.sig}`));
      const extra = fromServer.checkpoints.filter((c) => !own.has(`${c.size} ${Buffer.from(c.root).toString('base64')} ${c.sig}`));
      io.out(`The server keeps ${n(fromServer.checkpoints.length)} checkpoints (${n(extra.length)} not in the journal as they are) and ${n(fromServer.keyIds.length)} keys${trustedKeys ? '' : ', trusted'}.`);
      checkpoints = [...checkpoints, ...extra];
    }
    const r = verifyJournal({ ...source.input, checkpoints, ...(trusted && { trustedKeys: trusted }), onProgress: (done, total) => io.progress(done, total) });
    if (r.ok) {
      io.out(`OK: ${n(r.size)} entries (${n(r.shedDeclared)} shed by the gateway, declared), ${n(r.checkpoints)} checkpoints, ${n(r.keys)} keys: every entry, node, signature and checkpoint checks out.`);
      return 0;
    }
    io.out(`BROKEN: first at ${describe(r.problems[0]!)}`);
    if (r.problems.length > 1) {
      io.out(`${n(r.problems.length - 1)} more problem(s):`);
      for (const p of r.problems.slice(1, 20)) io.out(`  - ${describe(p)}`);
      if (r.problems.length > 20) io.out('  …');
    }
    return 1;
  } finally {
    source.close();
  }
}

/**
 * Replaces the data directory's signing key with a new one and has the
 * journal register it: the old key is retired (kept in audit_keys, so its
 * checkpoints keep verifying), an audit_key record announcing the new one is
 * journaled, and a first checkpoint is signed with it. A gateway running on
 * the same directory takes the new key at its next checkpoint.
 */
export async function rotateAuditKey(opts: { dataDir: string; siteId: string; logger: Logger; now: () => number }): Promise<{ retired: string | null; current: string; checkpoint: SignedCheckpoint }> {
  const keyPath = join(opts.dataDir, AUDIT_KEY_FILE);
  const retired = existsSync(keyPath) ? keyIdOf(readAuditKey(keyPath)) : null;
  const key = writeNewAuditKey(keyPath);
  const journal = new Journal({
    path: join(opts.dataDir, 'journal.db'),
    site: opts.siteId,
    maxPending: Number.MAX_SAFE_INTEGER,
    maxRejects: 100_000,
    clock: { now: opts.now },
    logger: opts.logger,
    sink: null,
    audit: { keyPath, checkpointEveryMs: 3_600_000 },
  });
  await journal.start();
  try {
    const checkpoint = await journal.checkpoint();
    return { retired, current: keyIdOf(key), checkpoint };
  } finally {
    await journal.stop(0);
  }
}
