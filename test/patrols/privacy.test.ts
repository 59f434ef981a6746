import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { createToken } from '../../server/auth/tokens';
import { useTestApp } from '../support/app';
import { binary, tileAt } from '../support/tiles';

/**
 * A worker's trace is theirs: a grid worker reads only their own tracks, in tiles and through OGC API, even where a
 * colleague's track crosses one of their grids (issue 17, privacy).
 */
describe('patrol traces seen by a grid worker', () => {
  const suite = useTestApp();

  /** A colleague's track in some grid, and another worker who serves that grid by token but did not walk it. */
  async function colleagueInMyGrid() {
    const { rows } = await suite.db.pool.query<{ gridId: number; colleague: string; me: string; lon: number; lat: number }>(
      `SELECT t.grid_id::int AS "gridId", t.worker AS colleague, me.worker AS me,
              ST_X(ST_PointN(t.geom, 1)) AS lon, ST_Y(ST_PointN(t.geom, 1)) AS lat
         FROM patrol_tracks t
         CROSS JOIN LATERAL (SELECT worker FROM patrol_tracks o WHERE o.worker <> t.worker ORDER BY o.id LIMIT 1) me
        WHERE t.grid_id IS NOT NULL
        ORDER BY t.id LIMIT 1`,
    );
    expect(rows).toHaveLength(1);
    const mine = await createToken(suite.db.pool, { role: 'grid_worker', gridIds: [rows[0].gridId], worker: rows[0].me });
    const unbound = await createToken(suite.db.pool, { role: 'grid_worker', gridIds: [rows[0].gridId] });
    return { ...rows[0], mine: `Bearer ${mine.token}`, unbound: `Bearer ${unbound.token}` };
  }

  function workersInTile(path: string, authorization: string): Promise<string[]> {
    return suite.api.request.get(path).set('Authorization', authorization).buffer(true).parse(binary).then((response) => {
      if (response.status === 204) return [];
      expect(response.status).toBe(200);
      const layer = new VectorTile(new PbfReader(response.body as Buffer)).layers.patrol_tracks;
      return Array.from({ length: layer?.length ?? 0 }, (_, i) => String(layer.feature(i).properties.worker));
    });
  }

  it('tiles hold only the reader\'s own tracks, cached per reader; the commander sees the colleague\'s', async () => {
    const seen = await colleagueInMyGrid();
    const { z, x, y } = tileAt(seen.lon, seen.lat, 15);
    const path = `/tiles/patrol_tracks/${z}/${x}/${y}.mvt`;
    const commander = `Bearer ${suite.api.tokens.commander}`;
    // Twice each, so the second answer comes from the cache and must still be the reader's own.
    for (let pass = 0; pass < 2; pass++) {
      expect(await workersInTile(path, commander)).toContain(seen.colleague);
      const mine = await workersInTile(path, seen.mine);
      expect(mine).not.toContain(seen.colleague);
      expect(mine.every((worker) => worker === seen.me)).toBe(true);
      expect(await workersInTile(path, seen.unbound)).toEqual([]);
    }
  });

  it('OGC API lists only the reader\'s own tracks and answers 404 for a colleague\'s', async () => {
    const seen = await colleagueInMyGrid();
    const { rows } = await suite.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM patrol_tracks WHERE worker = $1', [seen.me]);
    const items = await suite.api.request.get('/ogc/collections/patrol_tracks/items').query({ limit: 10000 }).set('Authorization', seen.mine).expect(200);
    expect(items.body.numberMatched).toBe(rows[0].n);
    expect(items.body.features.every((feature: { properties: { worker: string } }) => feature.properties.worker === seen.me)).toBe(true);
    const { rows: theirs } = await suite.db.pool.query<{ id: number }>('SELECT id::int FROM patrol_tracks WHERE worker = $1 AND grid_id = $2 LIMIT 1', [seen.colleague, seen.gridId]);
    await suite.api.request.get(`/ogc/collections/patrol_tracks/items/${theirs[0].id}`).set('Authorization', seen.mine).expect(404);
    await suite.api.request.get(`/ogc/collections/patrol_tracks/items/${theirs[0].id}`).set('Authorization', `Bearer ${suite.api.tokens.commander}`).expect(200);
  });
});
