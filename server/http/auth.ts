import type { IncomingHttpHeaders } from 'node:http';
import type { Actor, Role } from '../auth/roles';
import { findActorByToken } from '../auth/tokens';
import type { Queryable } from '../db/pool';
import { ForbiddenError, UnauthorizedError } from '../errors';

export type RouteAccess = readonly Role[] | 'public';

/** What authorization reads of a request: a Koa context, or the fast path's parse of the same request. */
export interface AuthRequest {
  headers: IncomingHttpHeaders;
  query: Record<string, unknown>;
  method: string;
  path: string;
}

// A short memory of resolved tokens keeps the hot paths (tiles) at one query less; a revoked token stops
// working within this many milliseconds.
const actorCacheMs = 10_000;

/**
 * The one auth path: every token, however it arrives, is checked here. Default deny: a route names the roles it
 * allows; anything else is 401 (who are you?) or 403 (not you). The actor comes back synchronously when the token is remembered (or the route is public): the fast path for
 * cached tiles then answers without making a promise; Koa's middleware awaits either.
 */
export function createAuthenticator(db: Queryable) {
  const cache = new Map<string, { actor: Actor | null; until: number }>();

  async function lookUp(token: string, now: number): Promise<Actor | null> {
    const actor = await findActorByToken(db, token);
    if (cache.size > 10_000) cache.clear();
    cache.set(token, { actor, until: now + actorCacheMs });
    return actor;
  }

  function allowed(actor: Actor | null, request: Pick<AuthRequest, 'method' | 'path'>, access: readonly Role[]): Actor {
    if (!actor) throw new UnauthorizedError('The bearer token is unknown or revoked');
    if (!access.includes(actor.role)) {
      throw new ForbiddenError(`Role ${actor.role} may not ${request.method} ${request.path}`, { allowedRoles: access });
    }
    return actor;
  }

  /** The actor of a token if its role may use a route of this access: 401 for an unknown token, 403 for a role not allowed. */
  function actorForToken(token: string, access: readonly Role[], request: Pick<AuthRequest, 'method' | 'path'>): Actor | Promise<Actor> {
    const now = Date.now();
    const hit = cache.get(token);
    if (hit && hit.until > now) return allowed(hit.actor, request, access);
    return lookUp(token, now).then((actor) => allowed(actor, request, access));
  }

  /** The request's bearer token (Authorization, or access_token in the query for EventSource and map tiles), checked. */
  function authorize(request: AuthRequest, access: RouteAccess): Actor | null | Promise<Actor | null> {
    if (access === 'public') return null;
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    const token = match?.[1] ?? (typeof request.query.access_token === 'string' ? request.query.access_token : undefined);
    if (!token) throw new UnauthorizedError('A bearer token is required (Authorization: Bearer <token>)');
    return actorForToken(token, access, request);
  }

  return { authorize, actorForToken };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
export type Authorize = Authenticator['authorize'];
