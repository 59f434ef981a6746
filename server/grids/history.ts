import type { WriteContext } from '../db/write-context';
import type { Actor } from '../auth/roles';
import { seesTokenIds } from '../auth/scope';
import type { Queryable } from '../db/pool';
import { type GridSnapshotRow, gridSnapshotSql, insertHistorySql, listHistorySql, type SnapshotAtVersionRow, snapshotAtVersionSql } from './sql';

export type HistoryAction = 'create' | 'update' | 'delete' | 'revert' | 'split' | 'merge';

/** A grid as history keeps it: every attribute plus its geometry at 1e-9 degree precision (far below 1 mm). */
export async function gridSnapshot(db: Queryable, id: number): Promise<Record<string, unknown> | null> {
  const { rows } = await db.query<GridSnapshotRow>(
    gridSnapshotSql,
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
    insertHistorySql,
    [entry.gridId, entry.version, entry.action, entry.reason ?? null, writer.actor?.tokenId ?? null, writer.actor?.role ?? null, at, entry.before, entry.after],
  );
}

/** A grid's changes, oldest first; the writers' token ids only for admins (seesTokenIds). */
export async function listHistory(db: Queryable, gridId: number, reader: Actor | null) {
  const { rows } = await db.query<{ tokenId: number | null } & Record<string, unknown>>(
    listHistorySql,
    [gridId],
  );
  return seesTokenIds(reader) ? rows : rows.map(({ tokenId: _hidden, ...entry }) => entry);
}

/**
 * The grid as it was at version `version`: the `after` of the change that wrote it, or else the `before` of
 * the next change (bulk-loaded grids have no history row of their own for version 1).
 */
export async function snapshotAtVersion(db: Queryable, gridId: number, version: number): Promise<Record<string, unknown> | null> {
  const { rows } = await db.query<SnapshotAtVersionRow>(
    snapshotAtVersionSql,
    [gridId, version],
  );
  return rows[0]?.snapshot ?? null;
}
