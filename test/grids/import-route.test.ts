import { useTestApp } from '../support/app';
import { misplacedMembers, one } from './support';

describe('POST /api/grids/import: new boundaries for a community, reported before they are committed', () => {
  const suite = useTestApp();

  /** The community cut in two down its middle, with a strip of 2·halfGapDegrees left out between the halves. */
  const halves = async (communityId: number, halfGapDegrees: number) => {
    const { features } = await one<{ features: object[] }>(
      suite.db,
      `WITH c AS (SELECT geom, code, (ST_XMin(geom) + ST_XMax(geom)) / 2 AS mid FROM grids WHERE id = $1)
       SELECT json_agg(json_build_object('type', 'Feature', 'properties', json_build_object('code', code || '-N' || side, 'name', '新网格 ' || side),
                'geometry', ST_AsGeoJSON(ST_Intersection(geom, ST_MakeEnvelope(x0, ST_YMin(geom) - 1, x1, ST_YMax(geom) + 1, 4326)), 9)::json)) AS features
       FROM c, LATERAL (VALUES (1, ST_XMin(geom) - 1, mid - $2), (2, mid + $2, ST_XMax(geom) + 1)) AS sides(side, x0, x1)`,
      [communityId, halfGapDegrees],
    );
    return { type: 'FeatureCollection', features };
  };
  const post = (query: string, body: object) => suite.api.request.post(`/api/grids/import?${query}`).set(suite.api.auth('planner')).send(body);

  it('a dry run reports the gap between the halves and changes nothing; the commit with repair replaces the old grids, no gap left', async () => {
    const community = await one<{ id: number; children: number; grids: number }>(
      suite.db,
      `SELECT p.id, (SELECT count(*)::int FROM grids c WHERE c.parent_id = p.id) AS children, (SELECT count(*)::int FROM grids) AS grids
       FROM grids p WHERE p.level = 3 ORDER BY p.id LIMIT 1`,
    );
    const file = await halves(community.id, 0.0002);
    const dry = await post('level=4&replace=true&dryRun=true', file).expect(200);
    expect(dry.body).toMatchObject({ dryRun: true, imported: 2, replaced: community.children, after: null });
    expect(dry.body.before.gaps).toBeGreaterThanOrEqual(1);
    expect(dry.body.before.gapAreaM2).toBeGreaterThan(100);
    expect((await one<{ n: number }>(suite.db, 'SELECT count(*)::int AS n FROM grids')).n).toBe(community.grids);

    const done = await post('level=4&replace=true&repair=true', file).expect(200);
    expect(done.body).toMatchObject({ dryRun: false, imported: 2, replaced: community.children });
    expect(done.body.after).toMatchObject({ gaps: 0, overlaps: 0 });
    const children = await one<{ codes: string[] }>(suite.db, 'SELECT array_agg(code ORDER BY code) AS codes FROM grids WHERE parent_id = $1', [community.id]);
    expect(children.codes).toHaveLength(2);
    expect(children.codes.every((code) => /-N[12]$/.test(code))).toBe(true);
    expect(await misplacedMembers(suite.db)).toBe(0);
  });

  it('bad input is a 4xx naming the problem: a point instead of a polygon, a level-1 replace', async () => {
    const point = { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [121, 31] } }] };
    const refused = await post('level=4', point).expect(400);
    expect(refused.headers['content-type']).toMatch(/problem\+json/);
    const square = { type: 'Feature', properties: { code: 'X' }, geometry: { type: 'Polygon', coordinates: [[[0, 0], [0.01, 0], [0.01, 0.01], [0, 0]]] } };
    await post('level=1&replace=true', { type: 'FeatureCollection', features: [square] }).expect(422);
    const projected = await post('level=4&dryRun=true', { type: 'FeatureCollection', crs: { type: 'name', properties: { name: 'EPSG:4214' } }, features: [square] }).expect(400);
    expect(projected.body.detail).toMatch(/crs/);
  });
});
