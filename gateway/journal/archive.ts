/**
 * Archiving old journal rows without breaking verification (issue #10,
 * docs/audit.md "Retention and archives").
 *
 * The rows of a seq range move to an archive file (a small SQLite database:
 * `archive_meta` and `journal`, the rows exactly as journaled) and are deleted
 * from the live journal; the tree (merkle_nodes: leaves and nodes, ~64 bytes
 * an entry), the checkpoints and the keys stay. `facility audit verify
 * --archive <file…>` reads the archived rows back in seq order before the live
 * ones, so the log verifies exactly as before; without the archive, the range
 * shows as deleted entries.
 *
 * Only rows that are settled move:
 * - covered by a signed checkpoint (their history is fixed, and the checkpoint
 *   may already be at the server);
 * - already written to InfluxDB (the sink's cursor is past them);
 * - received before a cutoff older than the oldest device time accepted
 *   (`time.maxPastMs`): a record's key stays in the live journal as long as a
 *   device may still send it again, so duplicates keep being recognised;
 * - never the newest row (seq numbering continues from it).
 *
 * The archive is written whole to a temporary file, fsynced and renamed into
 * place before any row is deleted; the deletion is one transaction that first
 * checks the rows are still those copied. A crash in between leaves rows both
 * archived and live, which the verifier's reader takes once.
 */
import Database from 'better-sqlite3';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { createHash } from 'node:crypto';

export const ARCHIVE_FORMAT = 'openfacility-journal-archive/v1';

export interface ArchiveOptions {
  readonly journalPath: string;
  /** The archive file to write; it must not exist. */
  readonly outPath: string;
  /** Move rows received (column `at`) before this instant, epoch ms. */
  readonly beforeAt: number;
  readonly now: number;
  /** The cutoff must be at least this old (the gateway's time.maxPastMs). */
  readonly minAgeMs: number;
  /** The sink cursor's name (gateway/journal/journal.ts SINK_CURSOR). */
  readonly sinkCursor: string;
}

export interface ArchiveResult {
  /** Rows moved (0: nothing settled before the cutoff; no file written). */
  readonly rows: number;
  readonly fromSeq: number | null;
  readonly toSeq: number | null;
  /** SHA-256 (hex) of the archived bodies in seq order, each followed by a newline: names the archive's content. */
  readonly digest: string | null;
  /** What held the range back, when it ends before the cutoff. */
  readonly limitedBy: 'cutoff' | 'checkpoint' | 'sink' | 'newest-row';
}

interface Row {
  seq: number;
  key: string;
  class: number;
  ts: number;
  at: number;
  body: string;
}

export function archiveJournal(o: ArchiveOptions): ArchiveResult {
  if (o.beforeAt > o.now - o.minAgeMs) {
    throw new RangeError(`the cutoff must be older than ${Math.round(o.minAgeMs / 86_400_000)} days (time.maxPastMs): a device may still send a record received since, and its key must stay in the journal to be recognised as a duplicate`);
  }
  if (existsSync(o.outPath)) throw new Error(`${o.outPath} exists: archives are never overwritten`);
  const db = new Database(o.journalPath, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version < 2) throw new Error(`${o.journalPath} is a journal of schema v${version}, before it was a Merkle log: start the gateway on it once first`);
    const one = <T>(q: string, ...args: unknown[]): T | undefined => db.prepare(q).get(...args) as T | undefined;
    const checkpoint = one<{ size: number; root: Buffer }>('SELECT size, root FROM checkpoints ORDER BY size DESC LIMIT 1');
    const cursor = one<{ seq: number }>('SELECT seq FROM cursors WHERE name = ?', o.sinkCursor)?.seq ?? 0;
    const newest = one<{ m: number | null }>('SELECT max(seq) AS m FROM journal')?.m ?? 0;
    const firstAfterCutoff = one<{ m: number | null }>('SELECT min(seq) AS m FROM journal WHERE at >= ?', o.beforeAt)?.m ?? null;
    const bounds: [ArchiveResult['limitedBy'], number][] = [
      ['cutoff', firstAfterCutoff === null ? Number.MAX_SAFE_INTEGER : firstAfterCutoff - 1],
      ['checkpoint', checkpoint?.size ?? 0],
      ['sink', cursor],
      ['newest-row', newest - 1],
    ];
    const [limitedBy, toSeq] = bounds.reduce((a, b) => (b[1] < a[1] ? b : a));
    const rows = db.prepare('SELECT seq, key, class, ts, at, body FROM journal WHERE seq <= ? ORDER BY seq').all(toSeq) as Row[];
    if (rows.length === 0) return { rows: 0, fromSeq: null, toSeq: null, digest: null, limitedBy };
    const fromSeq = rows[0]!.seq;
    const lastSeq = rows.at(-1)!.seq;
    const h = createHash('sha256');
    for (const r of rows) h.update(r.body).update('\n');
    const digest = h.digest('hex');

    const tmp = `${o.outPath}.tmp`;
    rmSync(tmp, { force: true });
    const out = new Database(tmp);
    try {
      out.exec(`CREATE TABLE archive_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE journal (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, class INTEGER NOT NULL, ts INTEGER NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL);`);
      out.transaction(() => {
        const meta = out.prepare('INSERT INTO archive_meta (key, value) VALUES (?, ?)');
        for (const [k, v] of Object.entries({
          format: ARCHIVE_FORMAT,
          from_seq: String(fromSeq),
          to_seq: String(lastSeq),
          rows: String(rows.length),
          bodies_sha256: digest,
          checkpoint_size: String(checkpoint!.size),
          checkpoint_root: checkpoint!.root.toString('base64'),
          archived_at: String(o.now),
        })) {
          meta.run(k, v);
        }
        const ins = out.prepare('INSERT INTO journal (seq, key, class, ts, at, body) VALUES (?, ?, ?, ?, ?, ?)');
        for (const r of rows) ins.run(r.seq, r.key, r.class, r.ts, r.at, r.body);
      })();
    } finally {
      out.close();
    }
    fsyncFile(tmp);
    renameSync(tmp, o.outPath);
    fsyncFile(dirname(o.outPath));

    db.transaction(() => {
      // The rows deleted are exactly those archived (nothing changed them in between).
      const check = createHash('sha256');
      const now = db.prepare('SELECT body FROM journal WHERE seq BETWEEN ? AND ? ORDER BY seq').all(fromSeq, lastSeq) as { body: string }[];
      for (const r of now) check.update(r.body).update('\n');
      if (now.length !== rows.length || check.digest('hex') !== digest) throw new Error('the journal changed while it was archived: nothing deleted; archive again');
      db.prepare('DELETE FROM journal WHERE seq BETWEEN ? AND ?').run(fromSeq, lastSeq);
    })();
    return { rows: rows.length, fromSeq, toSeq: lastSeq, digest, limitedBy };
  } finally {
    db.close();
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** An archive opened for reading: its range and its rows in seq order. */
export interface ArchiveReader {
  readonly path: string;
  readonly fromSeq: number;
  readonly toSeq: number;
  rows(): IterableIterator<{ seq: number; body: string }>;
  body(seq: number): string | undefined;
  close(): void;
}

export function openArchive(path: string): ArchiveReader {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const meta = new Map((db.prepare('SELECT key, value FROM archive_meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    if (meta.get('format') !== ARCHIVE_FORMAT) throw new Error(`${path} is not a journal archive (${ARCHIVE_FORMAT})`);
    const stmt = db.prepare('SELECT seq, body FROM journal ORDER BY seq');
    // A second connection: better-sqlite3 keeps one busy while it iterates, and body() is asked meanwhile.
    const lookup = new Database(path, { readonly: true, fileMustExist: true });
    const bodyOf = lookup.prepare<[number], { body: string }>('SELECT body FROM journal WHERE seq = ?');
    return {
      path,
      fromSeq: Number(meta.get('from_seq')),
      toSeq: Number(meta.get('to_seq')),
      rows: () => stmt.iterate() as IterableIterator<{ seq: number; body: string }>,
      body: (seq) => bodyOf.get(seq)?.body,
      close: () => {
        db.close();
        lookup.close();
      },
    };
  } catch (e) {
    db.close();
    throw e;
  }
}
