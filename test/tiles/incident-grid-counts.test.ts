import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import type { Queryable } from '../../server/db/pool';
import { useTestApp } from '../support/app';
import { pointInGrid, report } from '../incidents/support';
import { binary, tileAt } from '../support/tiles';

/** Nonzero incidents per grid as kept in incident_grid_counts (sql/210), and as counted from the incidents. */
async function keptAndCounted(db: Queryable) {
  const kept = await db.query('SELECT grid_id, count FROM incident_grid_counts WHERE count <> 0 ORDER BY grid_id');
  const counted = await db.query('SELECT grid_id, count(*)::int AS count FROM incidents WHERE grid_id IS NOT NULL GROUP BY grid_id ORDER BY grid_id');
  return { kept: kept.rows, counted: counted.rows };
}

/** The counts band of the incident tiles reads the counts kept per grid: they must stay those of the raw rows. */
describe('incident counts per grid (incident_grid_counts)', () => {
  const suite = useTestApp();

  const expectEqual = async () => {
    const { kept, counted } = await keptAndCounted(suite.db.pool);
    expect(counted.length).toBeGreaterThan(0);
    expect(kept).toEqual(counted);
  };

  it('equal a raw count after intake batches, workflow updates, grid moves, deletes and a truncate', async () => {
    const { pool } = suite.db;
    await expectEqual();
    const places = await Promise.all(Array.from({ length: 6 }, (_, n) => pointInGrid(pool, n)));
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => report(suite.api, places[i % places.length], { description: `count ${i}` })));
    expect(answers.map((answer) => answer.status)).toEqual(Array(30).fill(201));
    await expectEqual();
    await pool.query(`UPDATE incidents SET status = 'closed' WHERE id IN (SELECT id FROM incidents ORDER BY id DESC LIMIT 50)`);
    await expectEqual();
    await pool.query('UPDATE incidents SET grid_id = $1 WHERE id % 7 = 0', [places[0].gridId]);
    await pool.query('UPDATE incidents SET grid_id = NULL WHERE id % 11 = 0');
    await expectEqual();
    await pool.query('DELETE FROM incident_events WHERE incident_id % 5 = 0');
    await pool.query('UPDATE incidents SET duplicate_of = NULL WHERE duplicate_of % 5 = 0');
    await pool.query('DELETE FROM incidents WHERE id % 5 = 0');
    await expectEqual();
    await pool.query('TRUNCATE incidents CASCADE');
    expect((await keptAndCounted(pool)).kept).toEqual([]);
  });

  it('draw each grid of an unfiltered counts tile with its number of incidents', async () => {
    const { pool } = suite.db;
    const place = await pointInGrid(pool, 3);
    await report(suite.api, place).expect(201);
    const tile = tileAt(place.lon, place.lat, 12);
    const response = await suite.api.request.get(`/tiles/incidents/${tile.z}/${tile.x}/${tile.y}.mvt`).set(suite.api.auth('planner')).buffer(true).parse(binary).expect(200);
    const layer = new VectorTile(new PbfReader(response.body as Buffer)).layers.incidents;
    const drawn = new Map(Array.from({ length: layer.length }, (_, i) => [layer.feature(i).id, layer.feature(i).properties.incident_count]));
    const { rows: grids } = await pool.query<{ id: number; n: number }>(
      `SELECT g.id, count(i.id)::int AS n FROM grids g JOIN incidents i ON i.grid_id = g.id
       WHERE g.level = 4 AND ST_Intersects(g.geom, ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4326))
       GROUP BY g.id`,
      [tile.z, tile.x, tile.y],
    );
    expect(grids.map((grid) => grid.id)).toContain(place.gridId);
    expect(drawn).toEqual(new Map(grids.map((grid) => [grid.id, grid.n])));
  });
});
