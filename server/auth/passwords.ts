/**
 * People's passwords: scrypt, a memory-hard KDF (32 MiB per check with the
 * default N=2^15, r=8), so a stolen database resists guessing. The stored form
 * is the same `scrypt$N$r$p$salt$hash` as device secrets (gateway/auth/secrets.ts).
 */
import { hashSecretScrypt, verifySecret, type ScryptParams } from '../../gateway/auth/secrets.js';

export const MIN_PASSWORD_LENGTH = 10;

export function hashPassword(password: string, params?: Partial<ScryptParams>): string {
  return hashSecretScrypt(password, params);
}

export function verifyPassword(stored: string, password: string): boolean {
  return verifySecret(stored, password);
}

/** A reason the password is too weak, or null. */
export function weakPassword(password: string, username: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `a password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.toLowerCase().includes(username.toLowerCase())) return 'a password may not contain the user name';
  if (/^(.)\1*$/.test(password)) return 'a password may not be one character repeated';
  return null;
}
