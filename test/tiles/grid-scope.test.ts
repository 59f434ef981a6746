import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import type { Response } from 'supertest';
import type { Role } from '../../server/auth/roles';
import type { Pool } from '../../server/db/pool';
import { createTestApp, type TestApp, useTestApp } from '../support/app';

interface Tile {
  z: number;
  x: number;
  y: number;
}

/** A tile at zoom z holding points (`lon`, `lat`, `grid_id` of the query `points`) of more than one grid, and the lowest of them. */
async function tileOfSeveralGrids(pool: Pool, points: string, z: number): Promise<{ tile: Tile; grid: number }> {
  const { rows } = await pool.query<{ x: number; y: number; grid: number }>(
    `WITH placed AS (
       SELECT floor((lon + 180) / 360 * 2 ^ $1)::int AS x, floor((1 - ln(tan(radians(lat)) + 1 / cos(radians(lat))) / pi()) / 2 * 2 ^ $1)::int AS y, grid_id
       FROM (${points}) AS point WHERE grid_id IS NOT NULL)
     SELECT x, y, min(grid_id)::int AS grid FROM placed GROUP BY x, y HAVING count(DISTINCT grid_id) > 1 ORDER BY count(*) DESC, x, y LIMIT 1`,
    [z],
  );
  return { tile: { z, x: rows[0].x, y: rows[0].y }, grid: rows[0].grid };
}

/** The grid_id attribute (or, for grid polygons, the feature id) of every feature of a layer's tile, as a role sees it. */
async function gridsInTile(api: TestApp, layer: string, { z, x, y }: Tile, role: Role, gridOf: 'grid_id' | 'id' = 'grid_id'): Promise<number[]> {
  const response: Response = await api.request
    .get(`/tiles/${layer}/${z}/${x}/${y}.mvt`)
    .set(api.auth(role))
    .buffer(true)
    .parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    });
  expect([200, 204]).toContain(response.status);
  const decoded = new VectorTile(new PbfReader(response.status === 200 ? (response.body as Buffer) : Buffer.alloc(0))).layers[layer];
  const features = decoded ? Array.from({ length: decoded.length }, (_, i) => decoded.feature(i)) : [];
  return features.map((feature) => Number(gridOf === 'id' ? feature.id : feature.properties.grid_id));
}

describe('tiles for grid workers: incidents of their grids only, patrol tracks of their own only', () => {
  let incidents: { tile: Tile; grid: number };
  const suite = useTestApp(async (db) => {
    incidents = await tileOfSeveralGrids(db.pool, 'SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, grid_id FROM incidents', 15);
    return { gridWorkerGrids: [incidents.grid] };
  });

  it('draws single incidents (z15) and incident counts per grid (z14) of their grids only; other roles see all', async () => {
    const { api } = suite;
    const { tile, grid } = incidents;
    const commander = await gridsInTile(api, 'incidents', tile, 'commander');
    expect(new Set(commander).size).toBeGreaterThan(1);
    const worker = await gridsInTile(api, 'incidents', tile, 'grid_worker');
    expect(worker.length).toBe(commander.filter((id) => id === grid).length);
    expect(new Set(worker)).toEqual(new Set([grid]));
    // Asked again: from the cache, still their own (the cache keeps a limited tile apart from the full one).
    expect(await gridsInTile(api, 'incidents', tile, 'grid_worker')).toEqual(worker);
    expect(await gridsInTile(api, 'incidents', tile, 'commander')).toEqual(commander);

    const counts = { z: 14, x: tile.x >> 1, y: tile.y >> 1 };
    expect(new Set(await gridsInTile(api, 'incidents', counts, 'commander', 'id')).size).toBeGreaterThan(1);
    expect(await gridsInTile(api, 'incidents', counts, 'grid_worker', 'id')).toEqual([grid]);
  });

  // Traces are personal: a grid worker sees their own only (test/patrols/privacy.test.ts), none through their grids.
  it('draws none of their grids\' patrol tracks to a grid worker bound to no worker', async () => {
    const { db } = suite;
    const { tile, grid } = await tileOfSeveralGrids(
      db.pool,
      'SELECT ST_X(p) AS lon, ST_Y(p) AS lat, grid_id FROM patrol_tracks, ST_StartPoint(ST_GeometryN(geom, 1)) AS p',
      13,
    );
    const worker = await createTestApp(db, { gridWorkerGrids: [grid] });
    try {
      const commander = await gridsInTile(worker, 'patrol_tracks', tile, 'commander');
      const own = await gridsInTile(worker, 'patrol_tracks', tile, 'grid_worker');
      expect(commander).toContain(grid);
      expect(own).toEqual([]);
    } finally {
      await worker.close();
    }
  });
});
