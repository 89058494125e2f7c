/**
 * Opens the server's database and brings its schema up to date. SQLite
 * (better-sqlite3, one file under the data directory) is the embedded default;
 * the same Kysely queries and migrations are meant to run on PostgreSQL for
 * multi-site deployments.
 */
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type MigrationProvider } from 'kysely';
import { MIGRATIONS } from './migrations/index.js';
import type { DB } from './schema.js';

export type ServerDb = Kysely<DB>;

const provider: MigrationProvider = { getMigrations: () => Promise.resolve({ ...MIGRATIONS }) };

/** Opens (creating if needed) a SQLite database file; ':memory:' for tests. */
export function openSqlite(path: string): ServerDb {
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) });
}

export interface MigrationReport {
  readonly applied: readonly string[];
  readonly version: string | null;
}

/** Applies every pending migration (or up to `target`); throws with the failing migration's name. */
export async function migrate(db: Kysely<unknown> | ServerDb, target?: string): Promise<MigrationReport> {
  const migrator = new Migrator({ db: db as Kysely<unknown>, provider });
  const { error, results } = target === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(target);
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const why = error instanceof Error ? error.message : error === undefined ? 'unknown error' : JSON.stringify(error);
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${why}`);
  }
  const all = await migrator.getMigrations();
  const done = all.filter((m) => m.executedAt !== undefined).map((m) => m.name);
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName), version: done.at(-1) ?? null };
}

export const LATEST_MIGRATION = Object.keys(MIGRATIONS).at(-1)!;
