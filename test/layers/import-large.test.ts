import { rebuildIndexesMinRows } from '../../server/layers/staging';
import { useTestApp } from '../support/app';
import { type Extent, buildingsCsv, importBuildingsCsv, levelFourExtent } from './buildings-csv';

interface IndexState {
  name: string;
  definition: string;
  valid: boolean;
  oid: number;
}

// Imports large enough to rebuild the spatial indexes of buildings instead of maintaining them row by row.
describe('large building imports', () => {
  const suite = useTestApp();
  let extent: Extent;

  beforeAll(async () => {
    extent = await levelFourExtent(suite.db.pool);
  });

  async function buildingIndexes(): Promise<IndexState[]> {
    const { rows } = await suite.db.pool.query<IndexState>(
      `SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition, indisvalid AS valid, indexrelid::int AS oid
         FROM pg_index WHERE indrelid = 'buildings'::regclass ORDER BY 1`,
    );
    return rows;
  }

  /** Buildings found through each GIST index (sequential scans disabled) against all buildings. */
  async function foundThroughSpatialIndexes(): Promise<{ total: number; geom: number; geom3857: number }> {
    const client = await suite.db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      const { rows } = await client.query<{ total: number; geom: number; geom3857: number }>(
        `SELECT (SELECT count(*)::int FROM buildings WHERE id > 0) AS total,
                (SELECT count(*)::int FROM buildings WHERE geom && ST_MakeEnvelope(-180, -90, 180, 90, 4326)) AS geom,
                (SELECT count(*)::int FROM buildings WHERE geom_3857 && ST_MakeEnvelope(-2e7, -2e7, 2e7, 2e7, 3857)) AS geom3857`,
      );
      await client.query('COMMIT');
      return rows[0];
    } finally {
      client.release();
    }
  }

  it('rebuilds the GIST indexes and leaves indexes, grid assignment, foreign key and audit trigger as they were', async () => {
    const before = await buildingIndexes();
    const response = await importBuildingsCsv(suite.api, buildingsCsv(extent, rebuildIndexesMinRows, new Map(), 'BIG')).expect(200);
    expect(response.body).toMatchObject({ rows: rebuildIndexesMinRows, inserted: rebuildIndexesMinRows });

    const after = await buildingIndexes();
    expect(after.map(({ name, definition, valid }) => ({ name, definition, valid }))).toEqual(before.map(({ name, definition }) => ({ name, definition, valid: true })));
    const rebuilt = after.filter((index, i) => index.oid !== before[i].oid).map((index) => index.name);
    expect(rebuilt).toEqual(['buildings_geom_3857_idx', 'buildings_geom_idx']);
    const found = await foundThroughSpatialIndexes();
    expect(found).toEqual({ total: found.total, geom: found.total, geom3857: found.total });

    const misplaced = await suite.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM buildings WHERE code LIKE 'BIG-%' AND grid_id IS DISTINCT FROM grid_at(ST_PointOnSurface(geom))`,
    );
    expect(misplaced.rows[0].n).toBe(0);
    const foreignKey = await suite.db.pool.query(`SELECT convalidated FROM pg_constraint WHERE conname = 'buildings_grid_id_fkey'`);
    expect(foreignKey.rows).toEqual([{ convalidated: true }]);

    const ring = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]].map(([x, y]) => [extent.minLon + 0.001 + x * 0.0001, extent.minLat + 0.001 + y * 0.0001]);
    const created = await suite.api.request
      .post('/api/layers/buildings')
      .set(suite.api.auth('planner'))
      .send({ type: 'Feature', geometry: { type: 'Polygon', coordinates: [ring] }, properties: { code: 'AFTER-BIG' } })
      .expect(201);
    const audit = await suite.db.pool.query(`SELECT action FROM audit_log WHERE entity = 'buildings' AND entity_id = $1`, [created.body.id]);
    expect(audit.rows).toEqual([{ action: 'insert' }]);
  }, 120_000);

  it('keeps its indexes and inserts row by row when readers hold the table past the lock timeout', async () => {
    const before = await buildingIndexes();
    const reader = await suite.db.pool.connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM buildings');
      await importBuildingsCsv(suite.api, buildingsCsv(extent, rebuildIndexesMinRows, new Map(), 'WAIT')).expect(200);
    } finally {
      await reader.query('ROLLBACK');
      reader.release();
    }
    expect(await buildingIndexes()).toEqual(before);
    const { rows } = await suite.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM buildings WHERE code LIKE 'WAIT-%'`);
    expect(rows[0].n).toBe(rebuildIndexesMinRows);
  }, 120_000);
});
