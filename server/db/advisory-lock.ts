import type { Queryable } from './pool';

/**
 * Takes the transaction-level advisory lock `key` unless another session holds it, and says whether it did: a
 * scheduler round another process (or host) is already running is skipped, not run twice. Released at commit or
 * rollback.
 */
export async function tryTransactionLock(client: Queryable, key: number): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [key]);
  return rows[0].locked;
}
