import type { Actor } from './roles';

/**
 * The level-4 grids whose records (people, incidents) this actor may see, or null when the actor is not limited
 * to grids. A grid worker serves their grids; every other role sees by role alone.
 */
export function gridScope(actor: Actor | null): number[] | null {
  return actor?.role === 'grid_worker' ? actor.gridIds : null;
}

/**
 * What a reader limited by who they are may see of a layer: the rows of their level-4 grids and, of a layer of
 * personal traces (catalogue `owner`), their own rows only. Null when the actor is not limited.
 */
export interface ReaderScope {
  grids: number[];
  /** The worker id the token speaks for; null for a grid worker's token bound to no worker (they own no trace). */
  worker: string | null;
}

export function readerScope(actor: Actor | null): ReaderScope | null {
  return actor?.role === 'grid_worker' ? { grids: actor.gridIds, worker: actor.worker ?? null } : null;
}

/**
 * Whether a record of this grid is visible to the actor. Callers answer a record outside the scope exactly as an
 * unknown id (404, nothing about it): a 403 naming the record's grid would confirm that it exists and where.
 */
export function inGridScope(actor: Actor | null, gridId: number | null): boolean {
  const scope = gridScope(actor);
  return scope === null || (gridId !== null && scope.includes(gridId));
}

/** Token ids in timelines, histories and the audit log identify staff accounts: shown to admins only. */
export function seesTokenIds(actor: Actor | null): boolean {
  return actor?.role === 'admin';
}
