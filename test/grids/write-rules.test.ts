import { useTestApp } from '../support/app';
import { one, square } from './support';

// A test district far from the demo city (which lies in 120.7–120.74, 31.3–31.33), so nothing else is there.
const districtOrigin = { lon: 121.0, lat: 31.0 };
const metre = 1 / 111_320; // one metre of latitude in degrees

describe('grid writes: validation rules', () => {
  const suite = useTestApp();
  let districtId: number;
  let streetId: number;

  const post = (body: object, query = '') => suite.api.request.post(`/api/grids${query}`).set(suite.api.auth('planner')).send(body);

  beforeAll(async () => {
    const district = await post({ code: 'T01', name: '测试区', level: 1, geometry: square(districtOrigin.lon, districtOrigin.lat, 0.02) }).expect(201);
    districtId = district.body.feature.id;
    const street = await post({ code: 'T01-01', name: '测试街道', level: 2, parentId: districtId, geometry: square(121.0, 31.0, 0.01) }).expect(201);
    streetId = street.body.feature.id;
  });

  it('creates a grid and answers with version 1, an ETag and a history row', async () => {
    const { db, api } = suite;
    const created = await one<{ version: number; level: number }>(db, 'SELECT version, level FROM grids WHERE id = $1', [streetId]);
    expect(created).toEqual({ version: 1, level: 2 });
    const history = await api.request.get(`/api/grids/${streetId}/history`).set(api.auth('police')).expect(200);
    expect(history.body.entries).toHaveLength(1);
    expect(history.body.entries[0]).toMatchObject({ action: 'create', version: 1, role: 'planner' });
  });

  it('refuses a level that is not parent level + 1 (422 level), and a level-1 grid with a parent', async () => {
    const { db } = suite;
    const wrong = await post({ code: 'T-L', name: 'x', level: 3, parentId: districtId, geometry: square(121.011, 31.0, 0.001) }).expect(422);
    expect(wrong.body).toMatchObject({ type: 'rule-violation', rule: 'level' });
    expect(wrong.headers['content-type']).toMatch(/application\/problem\+json/);
    await post({ code: 'T-L2', name: 'x', level: 1, parentId: districtId, geometry: square(121.011, 31.0, 0.001) }).expect(422);
    await post({ code: 'T-L3', name: 'x', level: 2, geometry: square(121.011, 31.0, 0.001) }).expect(422);
    expect(await one<{ n: number }>(db, "SELECT count(*)::int AS n FROM grids WHERE code LIKE 'T-L%'")).toEqual({ n: 0 });
  });

  it('refuses a self-intersecting polygon naming the reason, and repairs it with ?repair=true', async () => {
    const { db } = suite;
    const bowtie = { type: 'Polygon', coordinates: [[[121.012, 31.012], [121.014, 31.014], [121.014, 31.012], [121.012, 31.014], [121.012, 31.012]]] };
    const refused = await post({ code: 'T01-02', name: 'bowtie', level: 2, parentId: districtId, geometry: bowtie }).expect(422);
    expect(refused.body.rule).toBe('valid-geometry');
    expect(refused.body.detail).toMatch(/Self-intersection/);
    const repaired = await post({ code: 'T01-02', name: 'bowtie', level: 2, parentId: districtId, geometry: bowtie }, '?repair=true').expect(201);
    const stored = await one<{ valid: boolean; parts: number }>(db, 'SELECT ST_IsValid(geom) AS valid, ST_NumGeometries(geom) AS parts FROM grids WHERE id = $1', [repaired.body.feature.id]);
    expect(stored).toEqual({ valid: true, parts: 2 });
  });

  it('refuses a grid outside its parent beyond 0.5 m, and accepts (and clips) one 0.3 m out', async () => {
    const { db } = suite;
    const farOut = square(121.0 - 5 * metre, 31.012, 0.001);
    const refused = await post({ code: 'T01-03', name: 'out', level: 2, parentId: districtId, geometry: farOut }).expect(422);
    expect(refused.body).toMatchObject({ rule: 'inside-parent', parentId: districtId });
    expect(refused.body.outsideAreaM2).toBeGreaterThan(100);
    expect(refused.body.geometry.type).toMatch(/Polygon/);
    const slightlyOut = square(121.0 - 0.3 * metre, 31.015, 0.001);
    const accepted = await post({ code: 'T01-03', name: 'edge', level: 2, parentId: districtId, geometry: slightlyOut }).expect(201);
    const nested = await one<{ covered: boolean }>(db, 'SELECT ST_Covers(p.geom, c.geom) AS covered FROM grids p, grids c WHERE p.id = $1 AND c.id = $2', [districtId, accepted.body.feature.id]);
    expect(nested.covered).toBe(true);
  });

  it('refuses an overlap with a sibling above 1 m² and tolerates (removes) a smaller one', async () => {
    const { db } = suite;
    const overlapping = square(121.009, 31.0, 0.002); // 0.001° (≈ 95 m) into the street
    const refused = await post({ code: 'T01-04', name: 'overlap', level: 2, parentId: districtId, geometry: overlapping }).expect(422);
    expect(refused.body.rule).toBe('sibling-overlap');
    expect(refused.body.siblings[0].id).toBe(streetId);
    // 0.2 m into the street along a 1 km edge would be ~200 m²: use a 1 m long tooth instead.
    const tooth = { type: 'Polygon', coordinates: [[[121.01, 31.0], [121.012, 31.0], [121.012, 31.002], [121.01, 31.002], [121.01, 31.001 + metre], [121.01 - 0.5 * metre, 31.001 + metre], [121.01 - 0.5 * metre, 31.001], [121.01, 31.001], [121.01, 31.0]]] };
    const accepted = await post({ code: 'T01-04', name: 'tooth', level: 2, parentId: districtId, geometry: tooth }).expect(201);
    const overlap = await one<{ m2: number }>(db, 'SELECT ST_Area(ST_Intersection(a.geom, b.geom)::geography) AS m2 FROM grids a, grids b WHERE a.id = $1 AND b.id = $2', [streetId, accepted.body.feature.id]);
    expect(overlap.m2).toBeLessThan(0.01);
  });

  it('accepts a neighbour whose shared slanted edge has a vertex a rounding error off it (no width, no overlap)', async () => {
    const { db } = suite;
    // Two districts meeting along a 5.4 km diagonal; the second's boundary has a vertex a third of the way along it,
    // 1e-13° off the line, as overlays and digitising leave them. In the plane they overlap by a triangle of no
    // width (≈ 2e-5 m²); read as geodesics, the same triangle encloses ≈ 540 m².
    const [x0, y0, x1, y1] = [122.5, 30.5, 122.53, 30.54];
    const west = { type: 'Polygon', coordinates: [[[x0, y0], [x1, y1], [x0 - 0.02, y1], [x0, y0]]] };
    const onEdge = [x0 + (x1 - x0) / 3 - 1e-13, y0 + (y1 - y0) / 3];
    const east = { type: 'Polygon', coordinates: [[[x0, y0], [x0 + 0.03, y0], [x1, y1], onEdge, [x0, y0]]] };
    const first = await post({ code: 'T-DIAG-W', name: 'west', level: 1, geometry: west }).expect(201);
    const second = await post({ code: 'T-DIAG-E', name: 'east', level: 1, geometry: east }).expect(201);
    const overlap = await one<{ planar: number }>(db, 'SELECT ST_Area(ST_Intersection(a.geom, b.geom)) AS planar FROM grids a, grids b WHERE a.id = $1 AND b.id = $2', [
      first.body.feature.id,
      second.body.feature.id,
    ]);
    expect(overlap.planar).toBeLessThan(1e-12);
  });

  it('snaps a sliver gap of about 1 m to the neighbour’s edge so the border is shared', async () => {
    const { db } = suite;
    const nearly = square(121.0, 31.01 + metre, 0.004); // 1 m north of the street's northern edge
    const created = await post({ code: 'T01-05', name: 'sliver', level: 2, parentId: districtId, geometry: nearly }).expect(201);
    const shared = await one<{ gap: number; border: number }>(
      db,
      'SELECT ST_Distance(a.geom::geography, b.geom::geography) AS gap, ST_Length(ST_Intersection(a.geom, b.geom)::geography) AS border FROM grids a, grids b WHERE a.id = $1 AND b.id = $2',
      [streetId, created.body.feature.id],
    );
    expect(shared.gap).toBe(0);
    expect(shared.border).toBeGreaterThan(300);
  });

  it('snaps a sliver of about 1 m against the parent’s own edge, but leaves a 5 m strip alone', async () => {
    const { db, api } = suite;
    const box = (west: number, south: number, east: number, north: number) => ({
      type: 'Polygon',
      coordinates: [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    });
    const edge = districtOrigin.lon + 0.02; // the district's eastern boundary
    const alongParentEdge = (id: number) =>
      one<{ gap: number; border: number }>(
        db,
        `SELECT ST_Distance(c.geom::geography, ST_Boundary(p.geom)::geography) AS gap,
                ST_Length(ST_Intersection(ST_Boundary(c.geom), ST_Boundary(p.geom))::geography) AS border
         FROM grids p, grids c WHERE p.id = $1 AND c.id = $2`,
        [districtId, id],
      );
    const nearly = await post({ code: 'T01-06', name: 'edge sliver', level: 2, parentId: districtId, geometry: box(121.017, 31.016, edge - metre, 31.019) }).expect(201);
    expect(await alongParentEdge(nearly.body.feature.id)).toEqual({ gap: 0, border: expect.any(Number) });
    expect((await alongParentEdge(nearly.body.feature.id)).border).toBeGreaterThan(300);
    const { body } = await api.request.get(`/api/grids/${districtId}/coverage`).set(api.auth('planner')).expect(200);
    const besideNew = await one<{ m2: number }>(
      db,
      `SELECT coalesce(sum(ST_Area(ST_Intersection(ST_SetSRID(ST_GeomFromGeoJSON(gap ->> 'geometry'), 4326), ST_MakeEnvelope($2, 31.016, $3, 31.019, 4326))::geography)), 0) AS m2
       FROM json_array_elements($1::json) AS gap`,
      [JSON.stringify(body.gaps.features), edge - 2 * metre, edge],
    );
    expect(besideNew.m2).toBeLessThan(0.01);

    const strip = await post({ code: 'T01-07', name: 'edge strip', level: 2, parentId: districtId, geometry: box(121.017, 31.005, edge - 5 * metre, 31.008) }).expect(201);
    expect((await alongParentEdge(strip.body.feature.id)).gap).toBeGreaterThan(4);
  });

  it('PATCH parentId moves a grid under another parent with every rule applied', async () => {
    const { db, api } = suite;
    const otherDistrict = await post({ code: 'T02', name: '测试二区', level: 1, geometry: square(121.05, 31.0, 0.02) }).expect(201);
    const otherId = otherDistrict.body.feature.id;
    const neighbour = await post({ code: 'T02-01', name: 'resident', level: 2, parentId: otherId, geometry: square(121.05, 31.0, 0.005) }).expect(201);
    const moving = await post({ code: 'T01-M', name: 'moving', level: 2, parentId: districtId, geometry: square(121.005, 31.015, 0.003) }).expect(201);
    const id = moving.body.feature.id;
    const patch = (body: object) => api.request.patch(`/api/grids/${id}`).set(api.auth('planner')).set('If-Match', '1').send(body);

    const outside = await patch({ parentId: otherId }).expect(422);
    expect(outside.body).toMatchObject({ rule: 'inside-parent', parentId: otherId });
    expect((await patch({ parentId: streetId }).expect(422)).body.rule).toBe('level');
    const overlapping = await patch({ parentId: otherId, geometry: square(121.053, 31.003, 0.004) }).expect(422);
    expect(overlapping.body).toMatchObject({ rule: 'sibling-overlap', siblings: [{ id: neighbour.body.feature.id }] });
    expect(await one(db, 'SELECT parent_id AS parent, version FROM grids WHERE id = $1', [id])).toEqual({ parent: districtId, version: 1 });

    const moved = await patch({ parentId: otherId, geometry: square(121.06, 31.01, 0.003), reason: 'transferred to the other district' }).expect(200);
    expect(moved.body.version).toBe(2);
    const read = await api.request.get(`/api/grids/${id}`).set(api.auth('planner')).expect(200);
    expect(read.body.parents.map((parent: { id: number }) => parent.id)).toEqual([otherId]);
    const nested = await one<{ covered: boolean }>(db, 'SELECT ST_CoveredBy(c.geom, p.geom) AS covered FROM grids c, grids p WHERE c.id = $1 AND p.id = $2', [id, otherId]);
    expect(nested.covered).toBe(true);
    const history = await api.request.get(`/api/grids/${id}/history`).set(api.auth('planner')).expect(200);
    expect(history.body.entries.at(-1)).toMatchObject({ action: 'update', before: { parentId: districtId }, after: { parentId: otherId } });

    const reverted = await api.request.post(`/api/grids/${id}/revert`).set(api.auth('planner')).set('If-Match', '2').send({ version: 1 }).expect(200);
    expect(reverted.body.version).toBe(3);
    expect(await one(db, 'SELECT parent_id AS parent FROM grids WHERE id = $1', [id])).toEqual({ parent: districtId });
  });

  it('answers 400 for a foreign crs, out-of-range coordinates, unknown fields and wrong types; nothing is written', async () => {
    const { db } = suite;
    const before = await one<{ n: number }>(db, 'SELECT count(*)::int AS n FROM grids');
    const base = { code: 'T-BAD', name: 'bad', level: 2, parentId: districtId };
    await post({ ...base, geometry: { ...square(121.001, 31.001, 0.001), crs: { type: 'name', properties: { name: 'EPSG:3857' } } } }).expect(400);
    await post({ ...base, geometry: square(181, 31.001, 0.001) }).expect(400);
    await post({ ...base, geometry: square(121.001, 31.001, 0.001), colour: 'red' }).expect(400);
    await post({ ...base, geometry: { type: 'Point', coordinates: [121, 31] } }).expect(400);
    await post({ ...base, code: "x'); DROP TABLE grids; --", geometry: { type: 'Polygon', coordinates: [[[121.001, 31.001], [121.002, 31.001], [121.002, 31.002]]] } }).expect(400);
    expect(await one<{ n: number }>(db, 'SELECT count(*)::int AS n FROM grids')).toEqual(before);
  });

  it('lets planners and admins write, and refuses other roles (403)', async () => {
    const { api } = suite;
    const body = { code: 'T01-R', name: 'role', level: 2, parentId: districtId, geometry: square(121.015, 31.015, 0.001) };
    for (const role of ['police', 'commander', 'grid_worker', 'hotline'] as const) {
      await api.request.post('/api/grids').set(api.auth(role)).send(body).expect(403);
    }
    await api.request.post('/api/grids').set(api.auth('admin')).send(body).expect(201);
  });
});
