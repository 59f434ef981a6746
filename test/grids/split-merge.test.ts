import { useTestApp } from '../support/app';
import { adjacentLevel4Pair, misplacedMembers, one } from './support';

describe('split and merge', () => {
  const suite = useTestApp();

  /** A north-south line through the middle of the grid's bounding box, reaching beyond it. */
  async function cuttingLine(id: number) {
    const box = await one<{ x: number; y0: number; y1: number }>(
      suite.db,
      'SELECT (ST_XMin(geom) + ST_XMax(geom)) / 2 AS x, ST_YMin(geom) - 0.001 AS y0, ST_YMax(geom) + 0.001 AS y1 FROM grids WHERE id = $1',
      [id],
    );
    return { type: 'LineString', coordinates: [[box.x, box.y0], [box.x, box.y1]] };
  }

  it('split previews two pieces holding all the grid’s buildings, then commits them with members re-assigned', async () => {
    const { db, api } = suite;
    const grid = await one<{ id: number; area: number; buildings: number; parent: number }>(
      db,
      `SELECT g.id, ST_Area(g.geom::geography) AS area, g.parent_id AS parent, (SELECT count(*)::int FROM buildings b WHERE b.grid_id = g.id) AS buildings
       FROM grids g WHERE level = 4 ORDER BY 4 DESC LIMIT 1`,
    );
    const line = await cuttingLine(grid.id);
    const preview = await api.request.post(`/api/grids/${grid.id}/split`).set(api.auth('planner')).send({ line }).expect(200);
    expect(preview.body.committed).toBe(false);
    const pieces = preview.body.pieces.features.map((feature: { properties: { buildings: number; areaM2: number } }) => feature.properties);
    expect(pieces).toHaveLength(2);
    expect(pieces[0].buildings + pieces[1].buildings).toBe(grid.buildings);
    expect(pieces[0].areaM2 + pieces[1].areaM2).toBeCloseTo(grid.area, 0);
    expect(await one(db, 'SELECT version FROM grids WHERE id = $1', [grid.id])).toEqual({ version: 1 });

    await api.request.post(`/api/grids/${grid.id}/split`).set(api.auth('planner')).send({ line, commit: true }).expect(428);
    const committed = await api.request
      .post(`/api/grids/${grid.id}/split`)
      .set(api.auth('planner'))
      .set('If-Match', '1')
      .send({ line, commit: true, newCode: 'SPLIT-NEW', newName: '新网格' })
      .expect(200);
    const [kept, created] = committed.body.grids.map((grid: { feature: { id: number } }) => grid.feature.id);
    const result = await one<{ area: number; buildings: number; overlap: number }>(
      db,
      `SELECT sum(ST_Area(geom::geography)) AS area, (SELECT count(*)::int FROM buildings WHERE grid_id = ANY($1::bigint[])) AS buildings,
              (SELECT ST_Area(ST_Intersection(a.geom, b.geom)::geography) FROM grids a, grids b WHERE a.id = $2 AND b.id = $3) AS overlap
       FROM grids WHERE id = ANY($1::bigint[])`,
      [[kept, created], kept, created],
    );
    expect(result.area).toBeCloseTo(grid.area, 0);
    expect(result.buildings).toBe(grid.buildings);
    expect(result.overlap).toBeLessThan(0.01);
    expect(await one(db, 'SELECT level, parent_id AS parent, code FROM grids WHERE id = $1', [created])).toEqual({ level: 4, parent: grid.parent, code: 'SPLIT-NEW' });
    expect(await misplacedMembers(db)).toBe(0);
  });

  it('refuses a line that does not cut the grid in two (422 split-line)', async () => {
    const { db, api } = suite;
    const grid = await one<{ id: number; x: number; y: number }>(db, 'SELECT id, ST_XMax(geom) + 0.01 AS x, ST_YMin(geom) AS y FROM grids WHERE level = 4 ORDER BY id LIMIT 1');
    const outside = { type: 'LineString', coordinates: [[grid.x, grid.y], [grid.x + 0.001, grid.y + 0.001]] };
    const refused = await api.request.post(`/api/grids/${grid.id}/split`).set(api.auth('planner')).send({ line: outside }).expect(422);
    expect(refused.body.rule).toBe('split-line');
    const community = await one<{ id: number }>(db, 'SELECT id FROM grids WHERE level = 3 ORDER BY id LIMIT 1');
    await api.request.post(`/api/grids/${community.id}/split`).set(api.auth('planner')).send({ line: await cuttingLine(community.id) }).expect(422);
  });

  it('merge previews the union of adjacent siblings, needs versions to commit, then keeps the first grid', async () => {
    const { db, api } = suite;
    const { a, b } = await adjacentLevel4Pair(db, 10);
    const before = await one<{ area: number; buildings: number }>(
      db,
      'SELECT (SELECT sum(ST_Area(geom::geography)) FROM grids WHERE id IN ($1, $2)) AS area, (SELECT count(*)::int FROM buildings WHERE grid_id IN ($1, $2)) AS buildings',
      [a, b],
    );
    const preview = await api.request.post('/api/grids/merge').set(api.auth('planner')).send({ ids: [a, b] }).expect(200);
    expect(preview.body.merged.features[0].properties.buildings).toBe(before.buildings);
    await api.request.post('/api/grids/merge').set(api.auth('planner')).send({ ids: [a, b], commit: true }).expect(428);
    await api.request.post('/api/grids/merge').set(api.auth('planner')).send({ ids: [a, b], versions: [1, 5], commit: true }).expect(412);
    const merged = await api.request.post('/api/grids/merge').set(api.auth('planner')).send({ ids: [a, b], versions: [1, 1], commit: true }).expect(200);
    expect(merged.body.deletedIds).toEqual([b]);
    const after = await one<{ area: number; parts: number; buildings: number; gone: number }>(
      db,
      `SELECT ST_Area(geom::geography) AS area, ST_NumGeometries(geom) AS parts,
              (SELECT count(*)::int FROM buildings WHERE grid_id = $1) AS buildings, (SELECT count(*)::int FROM grids WHERE id = $2) AS gone
       FROM grids WHERE id = $1`,
      [a, b],
    );
    expect(after).toEqual({ area: expect.closeTo(before.area, 0), parts: 1, buildings: before.buildings, gone: 0 });
    expect(await misplacedMembers(db)).toBe(0);
  });

  it('refuses to merge grids that are not adjacent or not siblings', async () => {
    const { db, api } = suite;
    const apart = await one<{ a: number; b: number }>(
      db,
      `SELECT a.id AS a, b.id AS b FROM grids a JOIN grids b ON a.parent_id = b.parent_id AND a.id < b.id
       WHERE a.level = 4 AND NOT ST_Intersects(a.geom, b.geom) ORDER BY a.id DESC LIMIT 1`,
    );
    const notAdjacent = await api.request.post('/api/grids/merge').set(api.auth('planner')).send({ ids: [apart.a, apart.b] }).expect(422);
    expect(notAdjacent.body.rule).toBe('merge-adjacent');
    const cousins = await one<{ a: number; b: number }>(
      db,
      'SELECT a.id AS a, b.id AS b FROM grids a JOIN grids b ON a.parent_id <> b.parent_id AND a.level = 4 AND b.level = 4 AND ST_Intersects(a.geom, b.geom) LIMIT 1',
    );
    const notSiblings = await api.request.post('/api/grids/merge').set(api.auth('planner')).send({ ids: [cousins.a, cousins.b] }).expect(422);
    expect(notSiblings.body.rule).toBe('merge-siblings');
    await api.request.post('/api/grids/merge').set(api.auth('grid_worker')).send({ ids: [cousins.a, cousins.b] }).expect(403);
  });
});
