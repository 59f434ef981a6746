import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import type { Actor } from '../auth/roles';
import type { PoolClient } from '../db/pool';
import { IdempotencyKeyReusedError } from '../errors';

/**
 * Idempotency-Key: a client that got no answer to a create (a timeout, a database restart, a server killed)
 * sends it again with the same key and gets the first answer, not a second incident. The key and what the write
 * returned are stored in the transaction of the create itself (sql/100), so a create that committed has its key,
 * and one that did not has none: there is no state in between for a retry to trip over.
 */
export interface IdempotencyClaim {
  /** The client's Idempotency-Key. */
  key: string;
  /** SHA-256 of the request (requestFingerprint): a reused key with another request is refused (422). */
  fingerprint: string;
}

/** How long a key is remembered. */
export const keptHours = 24;

/** Advisory lock class of keys (two-key form, the second key a hash of scope and key). */
const keyLockClass = 7306;

/** Old keys removed by each claiming transaction: cleanup rides on writes, a few rows at a time. */
const sweepBatch = 100;

/**
 * A request's identity for its key: method, path, query and body, with object members in sorted order (a client
 * that re-serialises the same body gets the same fingerprint). A multipart report passes its JSON part and the
 * SHA-256 of each photo instead of the raw bytes, whose boundary changes with every send.
 */
export function requestFingerprint(request: { method: string; path: string; query?: unknown; content: unknown }): string {
  return createHash('sha256').update(stringify([request.method.toUpperCase(), request.path, request.query ?? {}, request.content ?? null])).digest('hex');
}

/** Keys are per token: one client's key never answers another's request. */
function scopeOf(actor: Actor | null): string {
  return actor ? `token:${actor.tokenId}` : 'public';
}

export interface KeyedWrite {
  actor: Actor | null;
  claim: IdempotencyClaim;
}

/** What claimKeys found under a key: nothing (a first use), or what the first request's write returned. */
export type Claimed = { stored: false } | { stored: true; result: unknown };

/** The scopes and keys of some writes, as the two text arrays keyLockRows and claimKeys take. */
export function scopesAndKeys(writes: KeyedWrite[]): [string[], string[]] {
  return [writes.map((write) => scopeOf(write.actor)), writes.map((write) => write.claim.key)];
}

/**
 * SQL rows (class, key) of the advisory locks of some keys, given the parameters holding scopesAndKeys: for a
 * caller that takes them in one statement with locks of its own, in one order (the incident intake).
 */
export function keyLockRows(scopesParam: string, keysParam: string): string {
  return `SELECT ${keyLockClass} AS class, hashtext(scope || ' ' || key) AS key FROM unnest(${scopesParam}::text[], ${keysParam}::text[]) AS c (scope, key)`;
}

/**
 * Inside the write transaction, before it writes: locks each key for the rest of the transaction (so a
 * concurrent request with the same key, in any process, waits for this one to commit or roll back) and returns
 * what is stored under it. Throws IdempotencyKeyReusedError when a key was used for another request.
 */
export async function claimKeys(client: PoolClient, writes: KeyedWrite[]): Promise<Claimed[]> {
  const [scopes, keys] = scopesAndKeys(writes);
  // In key order, so two transactions claiming several keys never wait on each other in a circle.
  await client.query(`SELECT pg_advisory_xact_lock(class, key) FROM (${keyLockRows('$1', '$2')} ORDER BY 2) locks`, [scopes, keys]);
  // A statement of its own, after the lock: its snapshot sees what a request holding the lock before committed.
  const { rows } = await client.query<StoredKey & { scope: string; key: string }>(
    `WITH swept AS (${sweepExpiredKeysSql('$3')})
     SELECT k.scope, k.key, k.fingerprint, k.result
     FROM idempotency_keys k JOIN unnest($1::text[], $2::text[]) AS c (scope, key) USING (scope, key)
     WHERE ${liveKeySql('k', '$3')}`,
    [scopes, keys, keptHours],
  );
  const found = new Map(rows.map((row) => [`${row.scope} ${row.key}`, row]));
  return writes.map((write, i) => storedClaim(write, found.get(`${scopes[i]} ${keys[i]}`)));
}

/** What a key holds: the fingerprint of the request that first used it and what its write returned. */
export interface StoredKey {
  fingerprint: string;
  result: unknown;
}

/** A write's claim given what its key holds (undefined: nothing); see checkFingerprint. */
function storedClaim(write: KeyedWrite, stored: StoredKey | undefined): Claimed {
  if (!stored) return { stored: false };
  checkFingerprint(write, stored);
  return { stored: true, result: stored.result };
}

/** Throws IdempotencyKeyReusedError when the key holds what another request returned. */
export function checkFingerprint(write: KeyedWrite, stored: StoredKey): void {
  if (stored.fingerprint === write.claim.fingerprint) return;
  throw new IdempotencyKeyReusedError(`Idempotency-Key ${JSON.stringify(write.claim.key)} was used for another request in the last ${keptHours} hours`, {
    idempotencyKey: write.claim.key,
  });
}

/** SQL: the key row `k` is still remembered, `hours` (a parameter holding keptHours) after it was stored. */
export function liveKeySql(k: string, hours: string): string {
  return `${k}.created_at >= now() - make_interval(hours => ${hours})`;
}

/**
 * SQL: deletes up to sweepBatch keys older than `hours`, skipping those another transaction holds. `spared`: a
 * SELECT of (scope, key) rows not to delete, the keys the same statement stores again (one statement may not
 * change a row twice).
 */
export function sweepExpiredKeysSql(hours: string, spared?: string): string {
  return `DELETE FROM idempotency_keys WHERE (scope, key) IN (
         SELECT scope, key FROM idempotency_keys WHERE created_at < now() - make_interval(hours => ${hours})
         ${spared ? `AND (scope, key) NOT IN (${spared})` : ''}
         ORDER BY created_at LIMIT ${sweepBatch} FOR UPDATE SKIP LOCKED)`;
}

/**
 * SQL: stores the (scope, key, fingerprint, result) rows of `rows` (a SELECT). An expired row of the same key is
 * replaced; a live one is not (the caller compares the rows stored with the rows given).
 */
export function rememberKeysSql(rows: string, hours: string): string {
  return `INSERT INTO idempotency_keys AS k (scope, key, fingerprint, result) ${rows}
     ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, result = excluded.result, created_at = now()
       WHERE k.created_at < now() - make_interval(hours => ${hours})`;
}

/**
 * Stores what each write returned under its key, in the write's transaction. An expired row of the same key is
 * replaced; a live one (the same key twice in one transaction) fails the transaction, so nothing is written twice.
 */
export async function rememberResults(client: PoolClient, writes: Array<KeyedWrite & { result: unknown }>): Promise<void> {
  if (writes.length === 0) return;
  const { rowCount } = await client.query(
    rememberKeysSql('SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::json[])', '$5'),
    [
      ...scopesAndKeys(writes),
      writes.map((write) => write.claim.fingerprint),
      writes.map((write) => JSON.stringify(write.result)),
      keptHours,
    ],
  );
  if (rowCount !== writes.length) throw new Error('an Idempotency-Key was claimed twice in one transaction');
}

/** Replaces what a key stored in this transaction answers: for a write that added to its result after storing it. */
export async function replaceResult(client: PoolClient, write: KeyedWrite & { result: unknown }): Promise<void> {
  const [[scope], [key]] = scopesAndKeys([write]);
  await client.query('UPDATE idempotency_keys SET result = $3 WHERE scope = $1 AND key = $2', [scope, key, JSON.stringify(write.result)]);
}
