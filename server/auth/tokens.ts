import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../db/pool';
import type { Actor, Role } from './roles';

const tokenPrefix = 'cg_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface CreatedToken {
  id: number;
  token: string;
  role: Role;
}

/** Creates a bearer token; only its hash is stored, so the returned plain token is the only copy. */
export async function createToken(db: Queryable, input: { role: Role; label?: string; gridIds?: number[]; worker?: string }): Promise<CreatedToken> {
  const token = tokenPrefix + randomBytes(24).toString('base64url');
  const { rows } = await db.query<{ id: number }>(
    'INSERT INTO api_tokens (token_hash, role, label, grid_ids, worker) VALUES ($1, $2, $3, $4, $5) RETURNING id',
    [hashToken(token), input.role, input.label ?? null, input.gridIds ?? [], input.worker ?? null],
  );
  return { id: rows[0].id, token, role: input.role };
}

export async function revokeToken(db: Queryable, id: number): Promise<boolean> {
  const result = await db.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
  return result.rowCount === 1;
}

export async function findActorByToken(db: Queryable, token: string): Promise<Actor | null> {
  const { rows } = await db.query<{ id: number; role: Role; label: string | null; grid_ids: number[]; worker: string | null }>(
    'SELECT id, role, label, grid_ids, worker FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL',
    [hashToken(token)],
  );
  if (rows.length === 0) return null;
  const row = rows[0];
  return { tokenId: row.id, role: row.role, label: row.label, gridIds: row.grid_ids.map(Number), worker: row.worker };
}
