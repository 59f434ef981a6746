import { useTestApp } from '../support/app';
import { adjacentLevel4Pair, one } from './support';

describe('grid writes with ?dryRun=true: the verdict, nothing changed', () => {
  const suite = useTestApp();

  const state = async (id: number) => one<{ version: number; geom: string; history: number; audit: number }>(
    suite.db,
    `SELECT version, ST_AsEWKT(geom) AS geom, (SELECT count(*)::int FROM grid_history WHERE grid_id = $1) AS history,
            (SELECT count(*)::int FROM audit_log) AS audit FROM grids WHERE id = $1`,
    [id],
  );
  const dryPatch = (id: number, body: object, version: number) =>
    suite.api.request.patch(`/api/grids/${id}?dryRun=true`).set(suite.api.auth('planner')).set('If-Match', `"${version}"`).send(body);

  it('a boundary pushed into the neighbour: refused for the overlap, with the overlap, cut buildings and gaps named; nothing changes', async () => {
    const { a, b } = await adjacentLevel4Pair(suite.db, 3);
    // A grown by 40 m into B, and a 25 m strip along its other borders given up (gaps in the parent).
    const shapes = await one<{ grown: object; neighbour_code: string }>(
      suite.db,
      `SELECT ST_AsGeoJSON(ST_Union(ST_Difference(a.geom, ST_Difference(a.geom, ST_Buffer(a.geom::geography, -25)::geometry)),
                                     ST_Intersection(b.geom, ST_Buffer(a.geom::geography, 40)::geometry)), 9)::json AS grown,
              b.code AS neighbour_code
       FROM grids a, grids b WHERE a.id = $1 AND b.id = $2`,
      [a, b],
    );
    const before = await state(a);
    const answer = await dryPatch(a, { geometry: shapes.grown }, before.version).expect(200);
    expect(answer.body).toMatchObject({ dryRun: true, accepted: false, refusal: { rule: 'sibling-overlap' }, feature: null });
    expect(answer.body.overlaps.find((overlap: { gridId: number }) => overlap.gridId === b)).toMatchObject({ code: shapes.neighbour_code });
    expect(answer.body.overlaps[0].areaM2).toBeGreaterThan(1);
    expect(answer.body.gaps.areaM2).toBeGreaterThan(answer.body.gaps.beforeAreaM2 + 100);
    expect(answer.body.gaps.features.length).toBe(answer.body.gaps.count);
    expect(Array.isArray(answer.body.cutBuildings)).toBe(true);
    expect(await state(a)).toEqual(before);
  });

  it('a boundary unchanged: accepted, no overlap or new gap, the stored feature given; version and history untouched', async () => {
    const { a } = await adjacentLevel4Pair(suite.db, 4);
    const grid = await suite.api.request.get(`/api/grids/${a}`).set(suite.api.auth('planner')).expect(200);
    const before = await state(a);
    const answer = await dryPatch(a, { geometry: grid.body.feature.geometry }, before.version).expect(200);
    expect(answer.body).toMatchObject({ dryRun: true, accepted: true, refusal: null, overlaps: [], outsideParentM2: 0 });
    expect(answer.body.gaps.areaM2).toBeCloseTo(answer.body.gaps.beforeAreaM2, 1);
    expect(answer.body.feature).toMatchObject({ id: a, properties: { version: before.version + 1 } });
    expect(await state(a)).toEqual(before);
  });

  it('leaving the parent is measured; a stale If-Match is still 412 and a missing one 428', async () => {
    const { a } = await adjacentLevel4Pair(suite.db, 5);
    const shape = await one<{ out: object }>(suite.db, `SELECT ST_AsGeoJSON(ST_Buffer(geom::geography, 300)::geometry, 9)::json AS out FROM grids WHERE id = $1`, [a]);
    const before = await state(a);
    const answer = await dryPatch(a, { geometry: shape.out }, before.version).expect(200);
    expect(answer.body).toMatchObject({ accepted: false, refusal: { rule: 'inside-parent' } });
    expect(answer.body.outsideParentM2).toBeGreaterThan(1000);
    await dryPatch(a, { geometry: shape.out }, before.version + 5).expect(412);
    await suite.api.request.patch(`/api/grids/${a}?dryRun=true`).set(suite.api.auth('planner')).send({ name: 'x' }).expect(428);
    expect(await state(a)).toEqual(before);
  });

  it('create and revert rehearse too: nothing is inserted, the revert verdict gives the old boundary', async () => {
    const { a } = await adjacentLevel4Pair(suite.db, 6);
    const grid = await one<{ parent_id: number; count: number }>(suite.db, 'SELECT parent_id, (SELECT count(*)::int FROM grids) AS count FROM grids WHERE id = $1', [a]);
    const inside = await one<{ g: object }>(suite.db, `SELECT ST_AsGeoJSON(ST_Buffer(ST_PointOnSurface(geom)::geography, 20)::geometry, 9)::json AS g FROM grids WHERE id = $1`, [a]);
    const created = await suite.api.request
      .post('/api/grids?dryRun=true')
      .set(suite.api.auth('planner'))
      .send({ code: 'DRY-1', name: 'dry', level: 4, parentId: grid.parent_id, geometry: inside.g })
      .expect(200);
    expect(created.body).toMatchObject({ dryRun: true, accepted: false, refusal: { rule: 'sibling-overlap' } });
    expect(created.body.overlaps[0]).toMatchObject({ gridId: a });
    expect((await one<{ count: number }>(suite.db, 'SELECT count(*)::int AS count FROM grids')).count).toBe(grid.count);

    const v1 = await suite.api.request.get(`/api/grids/${a}`).set(suite.api.auth('planner')).expect(200);
    await suite.api.request.patch(`/api/grids/${a}`).set(suite.api.auth('planner')).set('If-Match', '"1"').send({ name: 'renamed' }).expect(200);
    const before = await state(a);
    const revert = await suite.api.request.post(`/api/grids/${a}/revert?dryRun=true`).set(suite.api.auth('planner')).set('If-Match', '"2"').send({ version: 1 }).expect(200);
    expect(revert.body).toMatchObject({ accepted: true, feature: { properties: { name: v1.body.feature.properties.name, version: 3 } } });
    expect(await state(a)).toEqual(before);
  });
});
