import { useTestApp } from '../support/app';
import { watchChanges } from '../support/wait';
import { misplacedMembers, one } from './support';

// Patrol data (GPS fixes and tracks, sql/050) follows every boundary change in the same transaction, like
// buildings and incidents: fixes by grid_at(), a track by the grid that holds most of its length.
describe('membership: patrol data follows boundary changes', () => {
  const suite = useTestApp();

  const versionOf = async (id: number) => (await one<{ version: number }>(suite.db, 'SELECT version FROM grids WHERE id = $1', [id])).version;
  const pointIdsIn = async (gridId: number) =>
    (await suite.db.pool.query<{ id: number }>('SELECT id FROM patrol_points WHERE grid_id = $1 ORDER BY id', [gridId])).rows.map((row) => row.id);
  const gridsOfPoints = async (ids: number[]) =>
    (await suite.db.pool.query<{ grid_id: number | null }>('SELECT DISTINCT grid_id FROM patrol_points WHERE id = ANY($1::bigint[])', [ids])).rows.map((row) => row.grid_id);

  /** A patrolled level-4 grid (the holder of a track) with an adjacent sibling; `offset` picks a different one. */
  const patrolledPair = (offset: number) =>
    one<{ grid: number; neighbour: number; track: number }>(
      suite.db,
      `SELECT DISTINCT ON (t.grid_id) t.grid_id AS grid, n.id AS neighbour, t.id AS track
       FROM patrol_tracks t JOIN grids g ON g.id = t.grid_id AND ST_NumGeometries(g.geom) = 1
       JOIN grids n ON n.parent_id = g.parent_id AND n.id <> g.id AND ST_Length(ST_Intersection(g.geom, n.geom)) > 0
       ORDER BY t.grid_id, n.id, t.id OFFSET $1 LIMIT 1`,
      [offset],
    );

  it('PATCH moving a border re-assigns the GPS fixes on the moved strip, and every track keeps its rule', async () => {
    const { db, api } = suite;
    // The border with the most fixes within 38 m on the near side: a 40 m strip of A then moves to B.
    const pair = await one<{ a: number; b: number; fixes: number[] }>(
      db,
      `SELECT a.id AS a, b.id AS b, array_agg(p.id ORDER BY p.id) AS fixes
       FROM grids a JOIN grids b ON a.parent_id = b.parent_id AND a.id <> b.id AND a.level = 4 AND ST_Length(ST_Intersection(a.geom, b.geom)) > 0
       JOIN patrol_points p ON p.grid_id = a.id AND ST_DWithin(p.geom::geography, b.geom::geography, 38) AND NOT ST_DWithin(p.geom::geography, b.geom::geography, 1)
       GROUP BY a.id, b.id ORDER BY count(*) DESC, a.id LIMIT 1`,
    );
    expect(pair.fixes.length).toBeGreaterThan(0);
    const shapes = await one<{ a_new: object; b_new: object }>(
      db,
      `WITH s AS (SELECT ST_Intersection(a.geom, ST_Buffer(b.geom::geography, 40)::geometry) AS strip, a.geom AS ag, b.geom AS bg
                  FROM grids a, grids b WHERE a.id = $1 AND b.id = $2)
       SELECT ST_AsGeoJSON(ST_Difference(ag, strip), 9)::json AS a_new, ST_AsGeoJSON(ST_Union(bg, strip), 9)::json AS b_new FROM s`,
      [pair.a, pair.b],
    );
    const patch = async (id: number, geometry: object) =>
      api.request.patch(`/api/grids/${id}`).set(api.auth('planner')).set('If-Match', String(await versionOf(id))).send({ geometry }).expect(200);
    const changes = watchChanges(api.events);
    const layers = () => changes.events.flatMap((event) => (event.kind === 'layer-changed' ? [event.layer] : []));
    const shrunk = await patch(pair.a, shapes.a_new);
    expect(shrunk.body.membersMoved.patrol_points).toBeGreaterThanOrEqual(pair.fixes.length);
    await patch(pair.b, shapes.b_new);
    expect(await gridsOfPoints(pair.fixes)).toEqual([pair.b]);
    expect(await misplacedMembers(db)).toBe(0);
    // Member tiles carry grid_id, so every member layer that moved is announced to the tile cache.
    const movedLayers = Object.entries(shrunk.body.membersMoved as Record<string, number>).filter(([, rows]) => rows > 0).map(([table]) => table);
    await changes.until(() => ['grids', ...movedLayers].every((layer) => layers().includes(layer)));
    changes.stop();
    expect(layers()).toEqual(expect.arrayContaining(['grids', ...movedLayers]));
  });

  it('merge hands the absorbed grid’s fixes and tracks to the survivor', async () => {
    const { db, api } = suite;
    const { grid, neighbour, track } = await patrolledPair(1);
    const fixes = await pointIdsIn(grid);
    const versions = [await versionOf(neighbour), await versionOf(grid)];
    await api.request.post('/api/grids/merge').set(api.auth('planner')).send({ ids: [neighbour, grid], versions, commit: true }).expect(200);
    expect(await gridsOfPoints(fixes)).toEqual([neighbour]);
    expect(await one(db, 'SELECT grid_id FROM patrol_tracks WHERE id = $1', [track])).toEqual({ grid_id: neighbour });
    expect(await misplacedMembers(db)).toBe(0);
  });

  it('split gives each fix the piece it lies in, and each track the piece holding most of it', async () => {
    const { db, api } = suite;
    const { grid } = await patrolledPair(0);
    const fixes = await pointIdsIn(grid);
    const box = await one<{ x: number; y0: number; y1: number }>(db, 'SELECT (ST_XMin(geom) + ST_XMax(geom)) / 2 AS x, ST_YMin(geom) - 0.001 AS y0, ST_YMax(geom) + 0.001 AS y1 FROM grids WHERE id = $1', [grid]);
    const line = { type: 'LineString', coordinates: [[box.x, box.y0], [box.x, box.y1]] };
    const split = await api.request.post(`/api/grids/${grid}/split`).set(api.auth('planner')).set('If-Match', String(await versionOf(grid))).send({ line, commit: true, newCode: 'PATROL-SPLIT' }).expect(200);
    const pieces = split.body.grids.map((piece: { feature: { id: number } }) => piece.feature.id);
    const sides = await one<{ east: number; west: number }>(
      db,
      `SELECT max(id) FILTER (WHERE ST_X(ST_PointOnSurface(geom)) > $2) AS east, max(id) FILTER (WHERE ST_X(ST_PointOnSurface(geom)) < $2) AS west
       FROM grids WHERE id = ANY($1::bigint[])`,
      [pieces, box.x],
    );
    const fixesBySide = await one<{ east: number[]; west: number[] }>(
      db,
      `SELECT coalesce(array_agg(DISTINCT grid_id::int) FILTER (WHERE ST_X(geom) > $2 + 1e-6), '{}') AS east,
              coalesce(array_agg(DISTINCT grid_id::int) FILTER (WHERE ST_X(geom) < $2 - 1e-6), '{}') AS west
       FROM patrol_points WHERE id = ANY($1::bigint[])`,
      [fixes, box.x],
    );
    expect(fixesBySide.east.length + fixesBySide.west.length).toBeGreaterThan(0);
    expect(fixesBySide.east).toEqual(fixesBySide.east.length ? [sides.east] : []);
    expect(fixesBySide.west).toEqual(fixesBySide.west.length ? [sides.west] : []);
    expect(await misplacedMembers(db)).toBe(0);
  });

  it('revert gives the fixes on a restored strip their grid back', async () => {
    const { db, api } = suite;
    const { grid } = await patrolledPair(0);
    const version = await versionOf(grid);
    // The grid loses its western 30 % (left uncovered), then is reverted to the version before.
    const cut = await one<{ geometry: object; fixes: number[] }>(
      db,
      `WITH g AS (SELECT geom, ST_XMin(geom) + 0.3 * (ST_XMax(geom) - ST_XMin(geom)) AS x FROM grids WHERE id = $1)
       SELECT ST_AsGeoJSON(ST_Intersection(geom, ST_MakeEnvelope(x, ST_YMin(geom) - 1, ST_XMax(geom) + 1, ST_YMax(geom) + 1, 4326)), 9)::json AS geometry,
              (SELECT array_agg(p.id::int) FROM patrol_points p WHERE p.grid_id = $1 AND ST_X(p.geom) < g.x - 1e-5) AS fixes
       FROM g`,
      [grid],
    );
    expect(cut.fixes?.length).toBeGreaterThan(0);
    await api.request.patch(`/api/grids/${grid}`).set(api.auth('planner')).set('If-Match', String(version)).send({ geometry: cut.geometry }).expect(200);
    expect(await gridsOfPoints(cut.fixes)).toEqual([null]);
    await api.request.post(`/api/grids/${grid}/revert`).set(api.auth('planner')).set('If-Match', String(version + 1)).send({ version }).expect(200);
    expect(await gridsOfPoints(cut.fixes)).toEqual([grid]);
    expect(await misplacedMembers(db)).toBe(0);
  });

  it('delete with a target hands the deleted grid’s fixes and tracks to the target', async () => {
    const { db, api } = suite;
    const { grid, neighbour, track } = await patrolledPair(1);
    const fixes = await pointIdsIn(grid);
    await api.request.delete(`/api/grids/${grid}?target=${neighbour}&targetVersion=${await versionOf(neighbour)}`).set(api.auth('planner')).set('If-Match', String(await versionOf(grid))).expect(200);
    expect(await gridsOfPoints(fixes)).toEqual([neighbour]);
    expect(await one(db, 'SELECT grid_id FROM patrol_tracks WHERE id = $1', [track])).toEqual({ grid_id: neighbour });
    expect(await misplacedMembers(db)).toBe(0);
  });

  it('rebalance re-places the fixes and tracks of a community among its new grids', async () => {
    const { db, api } = suite;
    const community = await one<{ id: number; fixes: number }>(
      db,
      `SELECT c.id, count(*)::int AS fixes FROM grids c JOIN grids g ON g.parent_id = c.id JOIN patrol_points p ON p.grid_id = g.id
       WHERE c.level = 3 GROUP BY c.id ORDER BY 2 DESC LIMIT 1`,
    );
    const { body } = await api.request
      .post(`/api/grids/${community.id}/rebalance`)
      .set(api.auth('planner'))
      .set('If-Match', String(await versionOf(community.id)))
      .send({ targetHouseholds: 200, commit: true })
      .expect(200);
    const placed = await one<{ n: number }>(db, 'SELECT count(*)::int AS n FROM patrol_points WHERE grid_id = ANY($1::bigint[])', [body.ids]);
    expect(placed.n).toBeGreaterThanOrEqual(community.fixes);
    expect(await misplacedMembers(db)).toBe(0);
  });
});
