import { useTestApp } from '../support/app';

const geoJson = 'application/geo+json';

describe('OGC API – Features Part 4: editing through the layer and grid services', () => {
  const suite = useTestApp();

  async function pointInGrid(): Promise<[number, number]> {
    const { rows } = await suite.db.pool.query<{ lon: number; lat: number }>(
      'SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM grids WHERE level = 4 ORDER BY id LIMIT 1) g',
    );
    return [rows[0].lon, rows[0].lat];
  }

  async function auditOf(entity: string, id: number) {
    const { rows } = await suite.db.pool.query<{ action: string; role: string; route: string }>('SELECT action, role, route FROM audit_log WHERE entity = $1 AND entity_id = $2 ORDER BY id', [entity, id]);
    return rows;
  }

  it('tells each caller in Allow what it may do (OPTIONS)', async () => {
    const { api, db } = suite;
    const { rows } = await db.pool.query<{ id: number }>('SELECT min(id) AS id FROM grids WHERE level = 4');
    const allow = async (role: Parameters<typeof api.auth>[0], path: string) =>
      (await api.request.options(`/ogc/collections/${path}`).set(api.auth(role)).expect(204)).headers.allow;
    expect(await allow('planner', 'hazards/items')).toBe('GET, HEAD, OPTIONS, POST');
    expect(await allow('planner', `grids_level_4/items/${rows[0].id}`)).toBe('GET, HEAD, OPTIONS, PUT, PATCH, DELETE');
    expect(await allow('commander', 'hazards/items')).toBe('GET, HEAD, OPTIONS');
    expect(await allow('admin', 'incidents/items')).toBe('GET, HEAD, OPTIONS');
    await api.request.options('/ogc/collections/patrol_tracks/items').set(api.auth('hotline')).expect(404);
    await api.request.options('/ogc/collections/grids_level_3/items/999999999').set(api.auth('planner')).expect(404);
  });

  it('creates, replaces, changes and deletes a hazard with ETags, audited as the REST API is', async () => {
    const { api, db } = suite;
    const [lon, lat] = await pointInGrid();
    const created = await api.request
      .post('/ogc/collections/hazards/items')
      .set(api.auth('planner'))
      .set('Content-Type', geoJson)
      .send(JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { name: '燃气调压站', kind: 'gas', risk_level: 3 } }))
      .expect(201);
    const location = created.headers.location as string;
    expect(location).toMatch(/\/ogc\/collections\/hazards\/items\/\d+$/);
    const id = Number(location.split('/').pop());
    const path = `/ogc/collections/hazards/items/${id}`;
    const first = await api.request.get(path).set(api.auth('planner')).expect(200);
    expect(first.body.properties).toMatchObject({ name: '燃气调压站', risk_level: 3, grid_id: expect.any(Number) });
    const etag = first.headers.etag as string;

    // A client sends back every property it read, grid_id included: read-only ones are ignored.
    const replacement = { type: 'Feature', id, geometry: first.body.geometry, properties: { ...first.body.properties, name: '调压站', risk_level: 2 } };
    const replaced = await api.request.put(path).set(api.auth('planner')).set('If-Match', etag).set('Content-Type', geoJson).send(JSON.stringify(replacement)).expect(204);
    const newTag = replaced.headers.etag as string;
    expect(newTag).not.toBe(etag);
    const afterPut = await api.request.get(path).set(api.auth('planner')).expect(200);
    expect(afterPut.headers.etag).toBe(newTag);
    expect(afterPut.body.properties).toMatchObject({ name: '调压站', risk_level: 2, last_inspected_at: null });

    // Someone who read before the replacement writes with the old ETag: 412, nothing changed.
    const stale = await api.request.patch(path).set(api.auth('admin')).set('If-Match', etag).send({ properties: { risk_level: 4 } }).expect(412);
    expect(stale.body).toEqual({ code: 'PreconditionFailed', description: expect.stringContaining('changed') });
    expect((await db.pool.query('SELECT risk_level FROM hazards WHERE id = $1', [id])).rows[0].risk_level).toBe(2);

    // A move given in Web Mercator (Content-Crs) is stored in WGS84.
    const { rows } = await db.pool.query<{ x: number; y: number }>('SELECT ST_X(p) AS x, ST_Y(p) AS y FROM ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), 3857) p', [lon + 0.0001, lat]);
    await api.request
      .patch(path)
      .set(api.auth('admin'))
      .set('If-Match', newTag)
      .set('Content-Crs', '<http://www.opengis.net/def/crs/EPSG/0/3857>')
      .set('Content-Type', 'application/merge-patch+json')
      .send(JSON.stringify({ geometry: { type: 'Point', coordinates: [rows[0].x, rows[0].y] } }))
      .expect(204);
    const moved = await db.pool.query<{ lon: number }>('SELECT ST_X(geom) AS lon FROM hazards WHERE id = $1', [id]);
    expect(moved.rows[0].lon).toBeCloseTo(lon + 0.0001, 7);

    const current = (await api.request.get(path).set(api.auth('planner')).expect(200)).headers.etag as string;
    await api.request.delete(path).set(api.auth('planner')).set('If-Match', etag).expect(412);
    await api.request.delete(path).set(api.auth('planner')).set('If-Match', current).expect(204);
    await api.request.get(path).set(api.auth('planner')).expect(404);

    expect(await auditOf('hazards', id)).toEqual([
      { action: 'insert', role: 'planner', route: 'POST /ogc/collections/:collectionId/items' },
      { action: 'update', role: 'planner', route: 'PUT /ogc/collections/:collectionId/items/:featureId' },
      { action: 'update', role: 'admin', route: 'PATCH /ogc/collections/:collectionId/items/:featureId' },
      { action: 'delete', role: 'planner', route: 'DELETE /ogc/collections/:collectionId/items/:featureId' },
    ]);
  });

  it('lets exactly one of two writers with the same ETag win; a retried create with its Idempotency-Key creates once', async () => {
    const { api, db } = suite;
    const [lon, lat] = await pointInGrid();
    const body = JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { name: '学校', kind: 'school' } });
    const create = () => api.request.post('/ogc/collections/key_places/items').set(api.auth('planner')).set('Idempotency-Key', 'ogc-create-1').set('Content-Type', geoJson).send(body).expect(201);
    const first = await create();
    const retry = await create();
    expect(new URL(retry.headers.location as string).pathname).toBe(new URL(first.headers.location as string).pathname);
    expect(Number((await db.pool.query(`SELECT count(*) AS n FROM key_places WHERE name = '学校'`)).rows[0].n)).toBe(1);

    const path = new URL(first.headers.location as string).pathname;
    const etag = (await api.request.get(path).set(api.auth('planner')).expect(200)).headers.etag as string;
    const writers = await Promise.all(
      ['甲', '乙'].map((name) => api.request.patch(path).set(api.auth('planner')).set('If-Match', etag).send({ properties: { name } })),
    );
    expect(writers.map((response) => response.status).sort()).toEqual([204, 412]);
    const winner = writers.find((response) => response.status === 204)!;
    const stored = await api.request.get(path).set(api.auth('planner')).expect(200);
    expect(stored.headers.etag).toBe(winner.headers.etag);
  });

  it('shares one ETag per feature with the REST API: read through one, write through the other', async () => {
    const { api, db } = suite;
    const { rows } = await db.pool.query<{ id: number }>('SELECT id::int FROM hazards ORDER BY id LIMIT 1');
    const rest = `/api/layers/hazards/${rows[0].id}`;
    const ogc = `/ogc/collections/hazards/items/${rows[0].id}`;
    const readByRest = (await api.request.get(rest).set(api.auth('planner')).expect(200)).headers.etag as string;
    expect((await api.request.get(ogc).set(api.auth('planner')).expect(200)).headers.etag).toBe(readByRest);
    const changedByOgc = await api.request.patch(ogc).set(api.auth('planner')).set('If-Match', readByRest).send({ properties: { risk_level: 2 } }).expect(204);
    expect((await api.request.get(rest).set(api.auth('planner')).expect(200)).headers.etag).toBe(changedByOgc.headers.etag);
    await api.request.patch(rest).set(api.auth('planner')).set('If-Match', readByRest).send({ properties: { risk_level: 3 } }).expect(412);
    const changedByRest = await api.request.patch(rest).set(api.auth('planner')).set('If-Match', changedByOgc.headers.etag as string).send({ properties: { risk_level: 3 } }).expect(200);
    await api.request.patch(ogc).set(api.auth('planner')).set('If-Match', changedByOgc.headers.etag as string).send({ properties: { risk_level: 1 } }).expect(412);
    expect((await api.request.get(ogc).set(api.auth('planner')).expect(200)).headers.etag).toBe(changedByRest.headers.etag);
  });

  it('applies the layer rules and roles of the REST API', async () => {
    const { api } = suite;
    const [lon, lat] = await pointInGrid();
    const hazard = (properties: Record<string, unknown>) => JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties });
    const invalid = await api.request.post('/ogc/collections/hazards/items').set(api.auth('planner')).set('Content-Type', geoJson).send(hazard({ name: 'x', kind: 'gas', risk_level: 9 })).expect(400);
    expect(invalid.body).toEqual({ code: 'InvalidParameterValue', description: expect.stringContaining('risk_level') });
    const bowtie = { type: 'Polygon', coordinates: [[[lon, lat], [lon + 0.001, lat + 0.001], [lon + 0.001, lat], [lon, lat + 0.001], [lon, lat]]] };
    const refused = await api.request
      .post('/ogc/collections/buildings/items')
      .set(api.auth('planner'))
      .set('Content-Type', geoJson)
      .send(JSON.stringify({ type: 'Feature', geometry: bowtie, properties: {} }))
      .expect(422);
    expect(refused.body.description).toContain('invalid');
    await api.request.post('/ogc/collections/hazards/items').set(api.auth('commander')).set('Content-Type', geoJson).send(hazard({ name: 'x', kind: 'gas', risk_level: 1 })).expect(403);
    const readOnly = await api.request.post('/ogc/collections/incidents/items').set(api.auth('admin')).set('Content-Type', geoJson).send(hazard({})).expect(405);
    expect(readOnly.headers.allow).toBe('GET, HEAD, OPTIONS');
    await api.request.post('/ogc/collections/hazards/items').set(api.auth('planner')).set('Content-Type', 'text/csv').send('a,b').expect(415);
  });

  it('changes a grid’s name with its version as ETag, into its history; without If-Match 428, stale 412', async () => {
    const { api, db } = suite;
    const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM grids WHERE level = 3 ORDER BY id LIMIT 1');
    const path = `/ogc/collections/grids_level_3/items/${rows[0].id}`;
    const read = await api.request.get(path).set(api.auth('planner')).expect(200);
    const version = read.body.properties.version as number;
    expect(read.headers.etag).toBe(`"${version}"`);
    await api.request.patch(path).set(api.auth('planner')).send({ properties: { name: '新名字' } }).expect(428);
    const changed = await api.request.patch(path).set(api.auth('planner')).set('If-Match', read.headers.etag).send({ properties: { name: '新名字' } }).expect(204);
    expect(changed.headers.etag).toBe(`"${version + 1}"`);
    const stale = await api.request.patch(path).set(api.auth('planner')).set('If-Match', read.headers.etag).send({ properties: { name: '又一个' } }).expect(412);
    expect(stale.body.code).toBe('PreconditionFailed');
    const history = await db.pool.query('SELECT action, role FROM grid_history WHERE grid_id = $1 ORDER BY version DESC LIMIT 1', [rows[0].id]);
    expect(history.rows[0]).toEqual({ action: 'update', role: 'planner' });
    expect((await auditOf('grids', rows[0].id)).pop()).toEqual({ action: 'update', role: 'planner', route: 'PATCH /ogc/collections/:collectionId/items/:featureId' });
    const level = await api.request.patch(path).set(api.auth('planner')).set('If-Match', `"${version + 1}"`).send({ properties: { level: 4 } }).expect(422);
    expect(level.body.description).toContain('grids_level_4');
  });
});
