/**
 * Login sessions and API tokens. Both are random 256-bit secrets handed out
 * once; only their SHA-256 is stored, so the database never holds a usable
 * credential.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ServerDb } from '../db/database.js';
import type { Role } from '../db/schema.js';
import { newId } from '../ids.js';
import type { Principal } from './principal.js';

export const SESSION_COOKIE = 'facility_session';
export const TOKEN_PREFIX = 'fac_';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');

export async function createSession(db: ServerDb, userId: string, now: number, ttlMs: number): Promise<string> {
  const secret = randomBytes(32).toString('base64url');
  await db.insertInto('sessions').values({ id_hash: sha256(secret), user_id: userId, created_at: now, last_seen_at: now, expires_at: now + ttlMs }).execute();
  return secret;
}

/** The user behind a session cookie, sliding its expiry; null for unknown, expired or disabled. */
export async function resolveSession(db: ServerDb, secret: string, now: number, ttlMs: number): Promise<Principal | null> {
  const idHash = sha256(secret);
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['users.id', 'users.username', 'users.role', 'users.member_id', 'users.disabled', 'sessions.expires_at', 'sessions.last_seen_at'])
    .where('sessions.id_hash', '=', idHash)
    .executeTakeFirst();
  if (!row || Number(row.expires_at) <= now || row.disabled) return null;
  // Touch at most once a minute: a read should not write on every request.
  if (now - Number(row.last_seen_at) > 60_000) {
    await db.updateTable('sessions').set({ last_seen_at: now, expires_at: now + ttlMs }).where('id_hash', '=', idHash).execute();
  }
  return { kind: 'user', id: row.id, username: row.username, role: row.role, memberId: row.member_id };
}

export async function destroySession(db: ServerDb, secret: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', sha256(secret)).execute();
}

export async function destroyUserSessions(db: ServerDb, userId: string): Promise<void> {
  await db.deleteFrom('sessions').where('user_id', '=', userId).execute();
}

export async function createApiToken(
  db: ServerDb,
  t: { name: string; role: Role; siteId: string | null; createdBy: string | null },
  now: number,
): Promise<{ id: string; token: string }> {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const id = newId('tok');
  await db
    .insertInto('api_tokens')
    .values({ id, name: t.name, token_hash: sha256(token), role: t.role, site_id: t.siteId, created_by: t.createdBy, created_at: now, last_used_at: null, revoked_at: null })
    .execute();
  return { id, token };
}

export async function resolveApiToken(db: ServerDb, token: string, now: number): Promise<Principal | null> {
  if (!token.startsWith(TOKEN_PREFIX)) return null;
  const row = await db.selectFrom('api_tokens').selectAll().where('token_hash', '=', sha256(token)).executeTakeFirst();
  if (!row || row.revoked_at !== null) return null;
  if (row.last_used_at === null || now - Number(row.last_used_at) > 60_000) {
    await db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
  }
  return { kind: 'token', id: row.id, name: row.name, role: row.role, siteId: row.site_id };
}
