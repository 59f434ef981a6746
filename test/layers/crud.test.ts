import { useTestApp } from '../support/app';

// A small square around a point of a level-4 grid, so it is assigned to that grid.
function squareAround([lon, lat]: [number, number], size = 0.0002) {
  return {
    type: 'Polygon',
    coordinates: [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]],
  };
}

describe('layers CRUD, roles and audit', () => {
  let workerGrid: number;
  let otherGrid: number;
  let insideWorkerGrid: [number, number];

  // The grid worker's token is made for workerGrid, so the grids are picked before the app starts.
  const suite = useTestApp(async (db) => {
    const { rows } = await db.pool.query<{ id: number; lon: number; lat: number }>(
      `SELECT g.id, ST_X(p) AS lon, ST_Y(p) AS lat
         FROM grids g CROSS JOIN LATERAL ST_PointOnSurface(g.geom) AS p
        WHERE g.level = 4 AND EXISTS (SELECT 1 FROM buildings b JOIN people pe ON pe.building_id = b.id WHERE b.grid_id = g.id)
        ORDER BY g.id LIMIT 2`,
    );
    workerGrid = rows[0].id;
    otherGrid = rows[1].id;
    insideWorkerGrid = [rows[0].lon, rows[0].lat];
    return { gridWorkerGrids: [workerGrid] };
  });

  async function auditRows(entity: string, id: number) {
    const { rows } = await suite.db.pool.query<{ action: string; role: string; route: string }>(
      'SELECT action, role, route FROM audit_log WHERE entity = $1 AND entity_id = $2 ORDER BY id',
      [entity, id],
    );
    return rows;
  }

  it('creates, reads, changes and deletes a building, assigning its grid and auditing every write', async () => {
    const { db, api } = suite;
    const created = await api.request
      .post('/api/layers/buildings')
      .set(api.auth('planner'))
      .send({ type: 'Feature', geometry: squareAround(insideWorkerGrid), properties: { code: 'T-1', floors: 6, households: 24 } })
      .expect(201);
    const id = created.body.id as number;
    const expectedGrid = await db.pool.query('SELECT grid_at(ST_PointOnSurface(geom)) AS g FROM buildings WHERE id = $1', [id]);
    expect(created.body.properties).toMatchObject({ code: 'T-1', floors: 6, grid_id: expectedGrid.rows[0].g });
    expect(created.body.geometry.type).toBe('MultiPolygon');

    const read = await api.request.get(`/api/layers/buildings/${id}`).set(api.auth('commander')).expect(200);
    expect(read.body.properties.households).toBe(24);

    const moved = await api.request
      .patch(`/api/layers/buildings/${id}`)
      .set(api.auth('admin'))
      .send({ properties: { floors: 7 } })
      .expect(200);
    expect(moved.body.properties.floors).toBe(7);

    await api.request.delete(`/api/layers/buildings/${id}`).set(api.auth('planner')).expect(204);
    await api.request.get(`/api/layers/buildings/${id}`).set(api.auth('planner')).expect(404);
    expect((await auditRows('buildings', id)).map((row) => [row.action, row.role])).toEqual([
      ['insert', 'planner'],
      ['update', 'admin'],
      ['delete', 'planner'],
    ]);
  });

  it.each([
    ['hazards', { name: 'Gas station 7', kind: 'gas_station', risk_level: 3, next_inspection_due: '2026-01-31' }],
    ['key_places', { name: 'No. 2 Primary School', kind: 'school', capacity: 900 }],
  ])('creates, changes and deletes %s points with their grid', async (layer, properties) => {
    const { api } = suite;
    const created = await api.request
      .post(`/api/layers/${layer}`)
      .set(api.auth('planner'))
      .send({ geometry: { type: 'Point', coordinates: insideWorkerGrid }, properties })
      .expect(201);
    expect(created.body.properties).toMatchObject({ ...properties, grid_id: workerGrid });
    const id = created.body.id as number;
    const patched = await api.request
      .patch(`/api/layers/${layer}/${id}`)
      .set(api.auth('planner'))
      .send({ properties: { name: 'renamed' } })
      .expect(200);
    expect(patched.body.properties.name).toBe('renamed');
    await api.request.delete(`/api/layers/${layer}/${id}`).set(api.auth('admin')).expect(204);
    expect((await auditRows(layer, id)).map((row) => row.action)).toEqual(['insert', 'update', 'delete']);
  });

  it('lists a layer by grid and bbox as paginated GeoJSON matching SQL counts', async () => {
    const { db, api } = suite;
    const expected = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM buildings WHERE grid_id = $1', [workerGrid]);
    const ids: number[] = [];
    let cursor: number | null = 0;
    while (cursor !== null) {
      const page: { body: { type: string; features: Array<{ id: number }>; nextCursor: number | null } } = await api.request
        .get('/api/layers/buildings')
        .query({ grid: workerGrid, limit: 7, cursor })
        .set(api.auth('police'))
        .expect(200);
      expect(page.body.type).toBe('FeatureCollection');
      ids.push(...page.body.features.map((feature) => feature.id));
      cursor = page.body.nextCursor;
    }
    expect(ids).toHaveLength(expected.rows[0].n);
    expect(new Set(ids).size).toBe(ids.length);

    const bbox = [insideWorkerGrid[0] - 0.01, insideWorkerGrid[1] - 0.01, insideWorkerGrid[0] + 0.01, insideWorkerGrid[1] + 0.01];
    const inBox = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM hazards WHERE geom && ST_MakeEnvelope($1, $2, $3, $4, 4326)', bbox);
    const listed = await api.request.get('/api/layers/hazards').query({ bbox: bbox.join(','), limit: 5000 }).set(api.auth('planner')).expect(200);
    expect(listed.body.features).toHaveLength(inBox.rows[0].n);
  });

  it('narrows a list to attribute values (each layer its own filters), matching SQL counts, and refuses bad ones', async () => {
    const { db, api } = suite;
    const count = async (sql: string, params: unknown[] = []) => (await db.pool.query<{ n: number }>(sql, params)).rows[0].n;
    const listed = async (layer: string, query: Record<string, string | number>, role: Parameters<typeof api.auth>[0] = 'planner') =>
      (await api.request.get(`/api/layers/${layer}`).query({ ...query, limit: 5000 }).set(api.auth(role)).expect(200)).body.features as Array<{ properties: Record<string, unknown> }>;

    const severe = await listed('hazards', { risk_level: 4 });
    expect(severe.length).toBe(await count('SELECT count(*)::int AS n FROM hazards WHERE risk_level = 4'));
    expect(severe.length).toBeGreaterThan(0);
    expect(severe.every((feature) => feature.properties.risk_level === 4)).toBe(true);
    const schoolsInGrid = await listed('key_places', { kind: 'school', grid: workerGrid });
    expect(schoolsInGrid.length).toBe(await count("SELECT count(*)::int AS n FROM key_places WHERE kind = 'school' AND grid_id = $1", [workerGrid]));
    const flagged = await count("SELECT count(*)::int AS n FROM people WHERE category = '重点关注'");
    expect(flagged).toBeGreaterThan(0);
    expect((await listed('people', { category: '重点关注' }, 'admin')).length).toBe(Math.min(flagged, 5000));
    // A grid worker's filtered list stays inside their grids.
    const own = await listed('people', { category: '常住' }, 'grid_worker');
    expect(own.length).toBeGreaterThan(0);
    expect(own.length).toBe(await count("SELECT count(*)::int AS n FROM people p JOIN buildings b ON b.id = p.building_id WHERE p.category = '常住' AND b.grid_id = $1", [workerGrid]));

    for (const query of [{ risk_level: 9 }, { risk_level: '4 OR 1=1' }, { kind: '' }, { floors: 2 }]) {
      const refused = await api.request.get('/api/layers/hazards').query(query).set(api.auth('planner')).expect(400);
      expect(refused.headers['content-type']).toMatch(/problem\+json/);
    }
    await api.request.get('/api/layers/key_places').query({ kind: 'castle' }).set(api.auth('planner')).expect(400);
  });

  it('answers 404 for an unknown layer, 400 for unknown fields and 422 for a self-intersecting footprint', async () => {
    const { db, api } = suite;
    await api.request.get('/api/layers/secrets').set(api.auth('admin')).expect(404);
    await api.request
      .post('/api/layers/key_places')
      .set(api.auth('planner'))
      .send({ geometry: { type: 'Point', coordinates: insideWorkerGrid }, properties: { name: 'x', kind: 'school', owner: 'me' } })
      .expect(400);
    await api.request
      .post('/api/layers/key_places')
      .set(api.auth('planner'))
      .send({ geometry: { type: 'Point', coordinates: insideWorkerGrid }, properties: { name: 'x', kind: 'school' }, crs: { type: 'name' } })
      .expect(400);
    const [lon, lat] = insideWorkerGrid;
    const bowTie = { type: 'Polygon', coordinates: [[[lon, lat], [lon + 0.001, lat + 0.001], [lon + 0.001, lat], [lon, lat + 0.001], [lon, lat]]] };
    const before = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM buildings');
    const response = await api.request.post('/api/layers/buildings').set(api.auth('planner')).send({ geometry: bowTie, properties: {} }).expect(422);
    expect(response.body.rule).toBe('valid-geometry');
    const after = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM buildings');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  describe('people (personal data)', () => {
    async function personIn(gridId: number) {
      const { rows } = await suite.db.pool.query<{ id: number; building_id: number }>(
        'SELECT p.id, p.building_id FROM people p JOIN buildings b ON b.id = p.building_id WHERE b.grid_id = $1 ORDER BY p.id LIMIT 1',
        [gridId],
      );
      return rows[0];
    }

    it('needs a token (401) and is closed to planners, commanders, police and hotline (403)', async () => {
      const { api } = suite;
      await api.request.get('/api/layers/people').expect(401);
      for (const role of ['planner', 'commander', 'police', 'hotline'] as const) {
        await api.request.get('/api/layers/people').set(api.auth(role)).expect(403);
      }
    });

    /** What a grid worker gets for a person, the id in the body written as 0 so that two answers compare. */
    async function asGridWorker(method: 'get' | 'patch' | 'delete', id: number) {
      const { api } = suite;
      const response = await api.request[method](`/api/layers/people/${id}`).set(api.auth('grid_worker')).send(method === 'patch' ? { properties: { category: '流动' } } : undefined);
      return { status: response.status, body: JSON.parse(JSON.stringify(response.body).replaceAll(String(id), '0')) };
    }

    it('lets a grid worker read only the people of their own grid; anyone else does not exist for them (404, as an unknown id)', async () => {
      const { db, api } = suite;
      const own = await personIn(workerGrid);
      const other = await personIn(otherGrid);
      const unknownId = (await db.pool.query<{ id: number }>('SELECT max(id) + 1000 AS id FROM people')).rows[0].id;
      await api.request.get(`/api/layers/people/${own.id}`).set(api.auth('grid_worker')).expect(200);
      for (const method of ['get', 'patch', 'delete'] as const) {
        const outside = await asGridWorker(method, other.id);
        expect(outside.status).toBe(404);
        expect(outside).toEqual(await asGridWorker(method, unknownId));
        expect(JSON.stringify(outside.body)).not.toMatch(new RegExp(`allowedGrids|gridId|${otherGrid}`));
      }
      const elsewhere = await api.request.get('/api/layers/people').query({ grid: otherGrid }).set(api.auth('grid_worker')).expect(200);
      expect(elsewhere.body.features).toEqual([]);
      await api.request.get(`/api/layers/people/${other.id}`).set(api.auth('admin')).expect(200);

      const expected = await db.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM people p JOIN buildings b ON b.id = p.building_id WHERE b.grid_id = $1',
        [workerGrid],
      );
      const listed = await api.request.get('/api/layers/people').query({ limit: 5000 }).set(api.auth('grid_worker')).expect(200);
      expect(listed.body.features).toHaveLength(expected.rows[0].n);
      expect(listed.body.features.every((feature: { properties: { grid_id: number } }) => feature.properties.grid_id === workerGrid)).toBe(true);
    });

    it('lets a grid worker register and change people only in buildings of their grid, audited', async () => {
      const { api } = suite;
      const own = await personIn(workerGrid);
      const other = await personIn(otherGrid);
      const created = await api.request
        .post('/api/layers/people')
        .set(api.auth('grid_worker'))
        .send({ properties: { building_id: own.building_id, category: '流动', birth_year: 1990 } })
        .expect(201);
      await api.request
        .post('/api/layers/people')
        .set(api.auth('grid_worker'))
        .send({ properties: { building_id: other.building_id, category: '流动' } })
        .expect(403);
      await api.request
        .patch(`/api/layers/people/${created.body.id}`)
        .set(api.auth('grid_worker'))
        .send({ properties: { building_id: other.building_id } })
        .expect(403);
      await api.request.post('/api/layers/people').set(api.auth('planner')).send({ properties: { building_id: own.building_id, category: '常住' } }).expect(403);
      await api.request.delete(`/api/layers/people/${created.body.id}`).set(api.auth('grid_worker')).expect(204);
      expect((await auditRows('people', created.body.id)).map((row) => [row.action, row.role])).toEqual([
        ['insert', 'grid_worker'],
        ['delete', 'grid_worker'],
      ]);
    });
  });

  it('shows the audit log to admins only, filtered by entity', async () => {
    const { api } = suite;
    await api.request.get('/api/audit').set(api.auth('planner')).expect(403);
    await api.request.get('/api/audit').expect(401);
    const log = await api.request.get('/api/audit').query({ entity: 'buildings', limit: 2 }).set(api.auth('admin')).expect(200);
    expect(log.body.entries.length).toBeGreaterThan(0);
    expect(log.body.entries.every((entry: { entity: string }) => entry.entity === 'buildings')).toBe(true);
    expect(log.body.entries[0].route).toMatch(/\/api\/layers\/buildings/);
  });

  it('describes every layer route in the OpenAPI document', async () => {
    const { api } = suite;
    const document = await api.request.get('/api').expect(200);
    for (const layer of ['buildings', 'people', 'hazards', 'key_places']) {
      expect(Object.keys(document.body.paths)).toEqual(
        expect.arrayContaining([`/api/layers/${layer}`, `/api/layers/${layer}/{id}`, `/api/layers/${layer}/import`, `/api/layers/${layer}/export`]),
      );
    }
  });

  it('answers 400 to unknown fields in a change and 404 to a missing row, changing nothing', async () => {
    const { db, api } = suite;
    const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM hazards ORDER BY id LIMIT 1');
    const auditBefore = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
    await api.request.patch(`/api/layers/hazards/${rows[0].id}`).set(api.auth('planner')).send({ properties: { owner: 'x' } }).expect(400);
    await api.request.patch('/api/layers/hazards/999999999').set(api.auth('planner')).send({ properties: { name: 'x' } }).expect(404);
    await api.request.post('/api/layers/hazards/import').set('Content-Type', 'text/csv').send('name\n').expect(401);
    const auditAfter = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
    expect(auditAfter.rows[0].n).toBe(auditBefore.rows[0].n);
  });
});
