/** Who is calling: a logged-in person (session cookie) or a service (API token). */
import type { Role } from '../db/schema.js';
import { problems } from '../problems.js';

export type Principal =
  | { readonly kind: 'user'; readonly id: string; readonly username: string; readonly role: Exclude<Role, 'gateway'>; readonly memberId: string | null }
  | { readonly kind: 'token'; readonly id: string; readonly name: string; readonly role: Role; readonly siteId: string | null };

/** Each route declares who may call it; a route without a declaration cannot be registered. */
export interface RouteAuthz {
  /** Roles allowed, or 'public' (no login). Auditors may only be listed on read routes (GET)… */
  readonly roles: readonly Role[] | 'public';
  /** …or on routes that touch only the caller's own session or password (logging out, changing one's password). */
  readonly selfService?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    authz?: RouteAuthz;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** The member a caller is confined to: their own member id for role member, null (no restriction) otherwise. */
export function ownMemberScope(p: Principal | null): string | null | undefined {
  if (!p) return undefined;
  if (p.role !== 'member') return null;
  return p.kind === 'user' ? (p.memberId ?? '\u0000none') : '\u0000none';
}

/**
 * Object-level check: a member may see only objects that belong to them; for
 * anyone else's the answer is 404, exactly as if it did not exist.
 */
export function assertOwnedBy(p: Principal | null, ownerMemberId: string | null, what: string): void {
  const scope = ownMemberScope(p);
  if (scope === undefined) throw problems.unauthorized();
  if (scope !== null && scope !== ownerMemberId) throw problems.notFound(what);
}
