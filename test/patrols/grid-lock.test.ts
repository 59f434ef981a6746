import { ingestFixes } from '../../server/patrols/ingest';
import { one } from '../grids/support';
import { useTestApp } from '../support/app';
import { waitUntil } from '../support/wait';
import { walkEast } from './support';

// Fixes carry their grid without a foreign key (sql/220: checked fix by fix it cost as much as storing them). The
// ingest locks the grids it places fixes in instead, so a grid deleted while a batch goes into it cannot leave
// fixes pointing at a grid that no longer exists.
describe('a grid deleted while a batch places fixes in it', () => {
  const suite = useTestApp();

  it('waits for the batch, then hands its fixes to the target: no fix points at a missing grid', async () => {
    const { db, api } = suite;
    const pair = await one<{ grid: number; neighbour: number; worker: string; lon: number; lat: number }>(
      db,
      `SELECT g.id AS grid, n.id AS neighbour, g.workers[1] AS worker, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
       FROM grids g JOIN grids n ON n.parent_id = g.parent_id AND n.id <> g.id AND ST_Length(ST_Intersection(g.geom, n.geom)) > 0
       WHERE g.level = 4 AND ST_NumGeometries(g.geom) = 1 AND cardinality(g.workers) > 0
       ORDER BY g.id DESC, n.id LIMIT 1`,
    );
    // One fix: no track, so no lock of the tracks' foreign key on the grid either; only the ingest's own.
    const fixes = walkEast(pair.worker, pair, Date.now() - 3_600_000, 1);
    const settings = { timeZone: 'Asia/Shanghai', city: { configured: null, marginMetres: 2000 }, retentionDays: 180, positionIntervalSeconds: 0 };
    const batch = await db.pool.connect();
    try {
      await batch.query('BEGIN');
      await ingestFixes({ client: batch }, () => new Date(), { actor: null, route: 'test' }, fixes, settings);
      const placed = await batch.query<{ grid_id: number }>('SELECT DISTINCT grid_id FROM patrol_points WHERE worker = $1', [pair.worker]);
      expect(placed.rows).toEqual([{ grid_id: pair.grid }]);

      const versions = await db.pool.query<{ id: number; version: number }>('SELECT id, version FROM grids WHERE id = ANY($1::bigint[])', [[pair.grid, pair.neighbour]]);
      const version = (id: number) => String(versions.rows.find((row) => row.id === id)!.version);
      const deleted = api.request
        .delete(`/api/grids/${pair.grid}?target=${pair.neighbour}&targetVersion=${version(pair.neighbour)}`)
        .set(api.auth('planner'))
        .set('If-Match', version(pair.grid))
        .then((response) => response);
      await waitUntil('the delete waits for the batch', async () => {
        const { rows } = await db.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%grids%'`,
        );
        return rows.length > 0;
      });
      await batch.query('COMMIT');
      expect((await deleted).status).toBe(200);
    } finally {
      batch.release();
    }
    const after = await db.pool.query<{ grid_id: number }>('SELECT DISTINCT grid_id FROM patrol_points WHERE worker = $1', [pair.worker]);
    expect(after.rows).toEqual([{ grid_id: pair.neighbour }]);
    expect(await one(db, 'SELECT count(*)::int AS n FROM patrol_points p WHERE p.grid_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM grids g WHERE g.id = p.grid_id)')).toEqual({ n: 0 });
  });
});
