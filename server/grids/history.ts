import type { WriteContext } from '../db/write-context';
import type { Actor } from '../auth/roles';
import { seesTokenIds } from '../auth/scope';
import type { Queryable } from '../db/pool';

export type HistoryAction = 'create' | 'update' | 'delete' | 'revert' | 'split' | 'merge';

/** A grid as history keeps it: every attribute plus its geometry at 1e-9 degree precision (far below 1 mm). */
export async function gridSnapshot(db: Queryable, id: number): Promise<Record<string, unknown> | null> {
  const { rows } = await db.query<{ snapshot: Record<string, unknown> }>(
    `SELECT json_build_object('code', code, 'name', name, 'level', level, 'parentId', parent_id, 'leader', leader,
              'workers', workers, 'householdsTarget', households_target, 'version', version,
              'geometry', ST_AsGeoJSON(geom, 9)::json) AS snapshot
     FROM grids WHERE id = $1`,
    [id],
  );
  return rows[0]?.snapshot ?? null;
}

export interface HistoryEntry {
  gridId: number;
  version: number;
  action: HistoryAction;
  reason?: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export async function recordHistory(db: Queryable, writer: WriteContext, at: Date, entry: HistoryEntry): Promise<void> {
  await db.query(
    `INSERT INTO grid_history (grid_id, version, action, reason, token_id, role, at, before, after)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [entry.gridId, entry.version, entry.action, entry.reason ?? null, writer.actor?.tokenId ?? null, writer.actor?.role ?? null, at, entry.before, entry.after],
  );
}

/** A grid's changes, oldest first; the writers' token ids only for admins (seesTokenIds). */
export async function listHistory(db: Queryable, gridId: number, reader: Actor | null) {
  const { rows } = await db.query<{ tokenId: number | null } & Record<string, unknown>>(
    `SELECT id, version, action, reason, token_id AS "tokenId", role, at, before, after
     FROM grid_history WHERE grid_id = $1 ORDER BY id`,
    [gridId],
  );
  return seesTokenIds(reader) ? rows : rows.map(({ tokenId: _hidden, ...entry }) => entry);
}

/**
 * The grid as it was at version `version`: the `after` of the change that wrote it, or else the `before` of
 * the next change (bulk-loaded grids have no history row of their own for version 1).
 */
export async function snapshotAtVersion(db: Queryable, gridId: number, version: number): Promise<Record<string, unknown> | null> {
  const { rows } = await db.query<{ snapshot: Record<string, unknown> }>(
    `SELECT CASE WHEN (after ->> 'version')::int = $2 THEN after ELSE before END AS snapshot
     FROM grid_history
     WHERE grid_id = $1 AND ((after ->> 'version')::int = $2 OR (before ->> 'version')::int = $2)
     ORDER BY id DESC LIMIT 1`,
    [gridId, version],
  );
  return rows[0]?.snapshot ?? null;
}
