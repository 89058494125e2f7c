/**
 * First run: with no user at all, create an administrator. Its password comes
 * from FACILITY_ADMIN_PASSWORD, or is generated and shown once — never a fixed
 * default. The generated one is also written to a file readable only by the
 * owner, for headless installs; delete it after logging in.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import type { ScryptParams } from '../../gateway/auth/secrets.js';
import { writeFileAtomic } from '../../gateway/auth/secrets.js';
import type { ServerDb } from '../db/database.js';
import { recordChange } from '../db/changes.js';
import { newId } from '../ids.js';
import { hashPassword, weakPassword } from './passwords.js';

export interface BootstrapResult {
  readonly username: string;
  /** Set when the password was generated here (and must be shown to the operator). */
  readonly generatedPassword: string | null;
  readonly passwordFile: string | null;
}

export async function ensureAdmin(
  db: ServerDb,
  opts: { env: Readonly<Record<string, string | undefined>>; clock: Clock; passwordFile: string; passwordParams?: Partial<ScryptParams> },
): Promise<BootstrapResult | null> {
  const any = await db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  if (any) return null;
  const username = opts.env.FACILITY_ADMIN_USERNAME ?? 'admin';
  const given = opts.env.FACILITY_ADMIN_PASSWORD;
  if (given !== undefined) {
    const weak = weakPassword(given, username);
    if (weak) throw new Error(`FACILITY_ADMIN_PASSWORD is too weak: ${weak}`);
  }
  const password = given ?? randomBytes(18).toString('base64url');
  const now = opts.clock.now();
  const id = newId('usr');
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('users')
      .values({ id, username, password_hash: hashPassword(password, opts.passwordParams), role: 'admin', member_id: null, disabled: 0, created_at: now, updated_at: now })
      .execute();
    await recordChange(trx, { actor: 'system', entity: 'user', entityId: id, action: 'create', before: null, after: { username, role: 'admin' }, at: now });
  });
  if (given !== undefined) return { username, generatedPassword: null, passwordFile: null };
  await writeFileAtomic(opts.passwordFile, `${username}\n${password}\n`, { mode: 0o600 });
  return { username, generatedPassword: password, passwordFile: opts.passwordFile };
}
