import { createHash } from 'node:crypto';
import { generateActivity } from '../../data/demo/activity';
import { generateCity } from '../../data/demo/city';
import { testCityOptions } from '../../data/demo/options';
import { cityCatalogue } from '../../server/catalogue/city';
import { tileLayersOf } from '../../server/tiles/registry';
import { createTestDatabase, type TestDatabase } from '../support/db';

function fingerprint(seed: string): string {
  const options = { ...testCityOptions, seed, incidents: 500, accidents: 100 };
  const city = generateCity(options);
  const { lattice, ...rows } = city;
  return createHash('sha256').update(JSON.stringify({ rows, activity: generateActivity(city), size: [lattice.nx, lattice.ny] })).digest('hex');
}

describe('demo city generator', () => {
  it('is deterministic: the same seed gives the same rows, another seed other rows', () => {
    expect(fingerprint('alpha')).toBe(fingerprint('alpha'));
    expect(fingerprint('alpha')).not.toBe(fingerprint('beta'));
  });

  describe('loaded into PostGIS (the test template holds the test city)', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    afterAll(async () => db.drop());

    it('has four levels of grids, each child with a parent one level up', async () => {
      const { rows } = await db.pool.query<{ level: number; n: number }>('SELECT level, count(*)::int AS n FROM grids GROUP BY level ORDER BY level');
      expect(rows.map((r) => r.level)).toEqual([1, 2, 3, 4]);
      const wrong = await db.pool.query('SELECT c.id FROM grids c JOIN grids p ON p.id = c.parent_id WHERE c.level <> p.level + 1');
      expect(wrong.rowCount).toBe(0);
    });

    it('children tile their parent exactly: union equals parent within 1 m², no sibling overlap over 0.01 m²', async () => {
      const mismatch = await db.pool.query<{ id: number; diff: number }>(`
        SELECT p.id, ST_Area(ST_SymDifference(p.geom, u.geom)::geography) AS diff
        FROM grids p JOIN (SELECT parent_id, ST_Union(geom) AS geom FROM grids GROUP BY parent_id) u ON u.parent_id = p.id
        WHERE ST_Area(ST_SymDifference(p.geom, u.geom)::geography) > 1`);
      expect(mismatch.rows).toEqual([]);
      const overlaps = await db.pool.query(`
        SELECT a.id, b.id FROM grids a JOIN grids b ON a.parent_id IS NOT DISTINCT FROM b.parent_id AND a.id < b.id AND a.geom && b.geom
        WHERE ST_Area(ST_Intersection(a.geom, b.geom)::geography) > 0.01`);
      expect(overlaps.rows).toEqual([]);
      const roots = await db.pool.query<{ diff: number }>(`
        SELECT ST_Area(ST_SymDifference(ST_Union(geom), (SELECT ST_Union(geom) FROM grids WHERE level = 4))::geography) AS diff FROM grids WHERE level = 1`);
      expect(roots.rows[0].diff).toBeLessThan(1);
    });

    it('puts every household in exactly one level-4 grid, the one recorded on its building', async () => {
      const { rows } = await db.pool.query<{ id: number; grids: number; recorded: boolean }>(`
        SELECT b.id, count(g.id)::int AS grids, bool_and(g.id = b.grid_id) AS recorded
        FROM buildings b LEFT JOIN grids g ON g.level = 4 AND ST_Contains(g.geom, ST_PointOnSurface(b.geom))
        WHERE b.households > 0 GROUP BY b.id HAVING count(g.id) <> 1 OR NOT bool_and(g.id = b.grid_id)`);
      expect(rows).toEqual([]);
      const cut = await db.pool.query(`
        SELECT b.id FROM buildings b JOIN grids g ON g.level = 4 AND ST_Overlaps(g.geom, b.geom) LIMIT 5`);
      expect(cut.rows).toEqual([]); // grid borders never cut a building
    });

    it('gives level-4 grids about the target number of households', async () => {
      const { rows } = await db.pool.query<{ mean: number }>(`
        SELECT avg(hh)::float AS mean FROM (SELECT g.id, coalesce(sum(b.households), 0) AS hh FROM grids g LEFT JOIN buildings b ON b.grid_id = g.id WHERE g.level = 4 GROUP BY g.id) x`);
      expect(rows[0].mean).toBeGreaterThan(testCityOptions.householdsPerGrid * 0.8);
      expect(rows[0].mean).toBeLessThan(testCityOptions.householdsPerGrid * 1.2);
    });

    it('places every incident in a grid with its H3 cells, within the demo year', async () => {
      const { rows } = await db.pool.query<{ missing: number; outside: number; total: number }>(`
        SELECT count(*) FILTER (WHERE grid_id IS NULL OR h3_r9 IS NULL)::int AS missing,
               count(*) FILTER (WHERE extract(year FROM reported_at AT TIME ZONE 'Asia/Shanghai') <> $1)::int AS outside,
               count(*)::int AS total FROM incidents`, [testCityOptions.year]);
      expect(rows[0]).toEqual({ missing: 0, outside: 0, total: testCityOptions.incidents });
    });

    it('has a lake and a canal with no building in them, parks without buildings, and arterials off the lattice', async () => {
      const { rows } = await db.pool.query<{ kind: string; n: number }>('SELECT kind, count(*)::int AS n FROM land_cover GROUP BY kind ORDER BY kind');
      expect(rows.map((r) => r.kind)).toEqual(['park', 'water']);
      expect(rows.find((r) => r.kind === 'water')?.n).toBe(2);
      const onLand = await db.pool.query(`
        SELECT b.id FROM buildings b JOIN land_cover l ON ST_Intersects(l.geom, b.geom) LIMIT 5`);
      expect(onLand.rows).toEqual([]);
      const wet = await db.pool.query(`
        SELECT x.kind, x.id FROM (
          SELECT 'incident' AS kind, id, geom FROM incidents UNION ALL SELECT 'hazard', id, geom FROM hazards UNION ALL SELECT 'key place', id, geom FROM key_places) x
        JOIN land_cover w ON w.kind = 'water' AND ST_Intersects(w.geom, x.geom) LIMIT 5`);
      expect(wet.rows).toEqual([]);
      // Streets stop at the lake (the canal has bridges).
      const drowned = await db.pool.query(`
        SELECT r.id FROM roads r JOIN land_cover w ON w.kind = 'water' AND w.name = '金鸡湖' AND ST_Intersects(w.geom, ST_LineInterpolatePoint(r.geom, 0.5)) LIMIT 5`);
      expect(drowned.rows).toEqual([]);
      const diagonal = await db.pool.query<{ n: number }>(`
        SELECT count(*)::int AS n FROM roads WHERE ST_X(ST_StartPoint(geom)) <> ST_X(ST_EndPoint(geom)) AND ST_Y(ST_StartPoint(geom)) <> ST_Y(ST_EndPoint(geom))`);
      expect(diagonal.rows[0].n).toBeGreaterThan(10);
    });

    it('stores every tile table in the order of its EPSG:3857 index, vacuumed, so tiles read few pages', async () => {
      const tables = [...new Set([...tileLayersOf(cityCatalogue).values()].map((layer) => layer.boundsTable))];
      const { rows } = await db.pool.query<{ table: string; clustered: boolean; visible: boolean }>(`
        SELECT c.relname AS table, i.indisclustered AS clustered, c.relallvisible = c.relpages AS visible
        FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid JOIN pg_class ix ON ix.oid = i.indexrelid
        WHERE c.relname = ANY($1) AND ix.relname = c.relname || '_geom_3857_idx' ORDER BY c.relname`, [tables]);
      expect(rows).toEqual([...tables].sort().map((table) => ({ table, clustered: true, visible: true })));
    });
  });
});
