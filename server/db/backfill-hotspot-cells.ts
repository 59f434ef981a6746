import type { Queryable } from './pool';
import { storedCell } from '../geo/h3';

const batchRows = 20_000;

/**
 * A data step of the migrations (db/migrate.ts): sets the stored hotspot cell (sql/140) of every incident and
 * accident that has none, in the transaction of migration 140, so the column never exists half-filled. Per-row audit is switched off
 * (citygrid.bulk, as bulk loads do): one summary row per table records the back-fill instead.
 */
export async function backfillHotspotCells(db: Queryable): Promise<Record<string, number>> {
  await db.query(`SELECT set_config('citygrid.bulk', 'on', true)`);
  const filled: Record<string, number> = {};
  for (const table of ['incidents', 'accidents'] as const) {
    filled[table] = 0;
    for (let after = 0; ; ) {
      const { rows } = await db.query<{ id: string; lon: number; lat: number }>(
        `SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM ${table} WHERE id > $1 AND h3_r10 IS NULL ORDER BY id LIMIT ${batchRows}`,
        [after],
      );
      if (rows.length === 0) break;
      await db.query(`UPDATE ${table} t SET h3_r10 = v.cell FROM unnest($1::bigint[], $2::bigint[]) AS v (id, cell) WHERE t.id = v.id`, [
        rows.map((row) => row.id),
        rows.map((row) => storedCell(row.lon, row.lat)),
      ]);
      filled[table] += rows.length;
      after = Number(rows[rows.length - 1].id);
    }
    if (filled[table] > 0) {
      await db.query(`INSERT INTO audit_log (route, entity, action, after) VALUES ('migration 140', $1, 'update', $2)`, [table, JSON.stringify({ h3_r10: filled[table] })]);
    }
  }
  return filled;
}
