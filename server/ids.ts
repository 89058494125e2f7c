import { randomBytes } from 'node:crypto';

/** An opaque, unguessable id with a readable prefix, e.g. mem_3k9x… (ids never reveal counts or order). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}
