import type { Actor } from '../auth/roles';
import { type Pool, type PoolClient, withTransaction } from './pool';
import { claimKeys, type IdempotencyClaim, rememberResults } from '../idempotency/keys';

/** Who writes and through which route: every write service takes one and passes it to withWriteTransaction. */
export interface WriteContext {
  actor: Actor | null;
  /** e.g. "PATCH /api/grids/:id", or "cli import" for command-line tools */
  route: string;
  requestId?: string;
  /** Bulk loads skip the per-row audit trigger and record one summary row themselves. */
  bulk?: boolean;
  /** The request's Idempotency-Key, on routes that create: see withWriteTransaction. */
  idempotency?: IdempotencyClaim;
}

/**
 * One transaction for one write, with the writer recorded in transaction-local settings that the audit trigger
 * (sql/005) reads, so the audit row commits or rolls back with the change.
 *
 * With an Idempotency-Key, the key is claimed first: if an earlier request with it committed, what that write
 * returned is returned again and fn does not run (the caller answers it as it answered the first time); else
 * what fn returns is stored under the key in this same transaction.
 */
export async function withWriteTransaction<T>(pool: Pool, context: WriteContext, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const writer = {
    text: `SELECT set_config('citygrid.token_id', $1, true), set_config('citygrid.role', $2, true),
                  set_config('citygrid.route', $3, true), set_config('citygrid.request_id', $4, true),
                  set_config('citygrid.bulk', $5, true)`,
    values: [String(context.actor?.tokenId ?? ''), context.actor?.role ?? '', context.route, context.requestId ?? '', context.bulk ? 'on' : 'off'],
  };
  return withTransaction(pool, async (client) => {
    const claim = context.idempotency;
    if (!claim) return fn(client);
    const keyed = { actor: context.actor, claim };
    const [earlier] = await claimKeys(client, [keyed]);
    // Stored by this very function for this key and request, so it has the type fn returns.
    if (earlier.stored) return earlier.result as T;
    const result = await fn(client);
    await rememberResults(client, [{ ...keyed, result }]);
    return result;
  }, [writer]);
}
