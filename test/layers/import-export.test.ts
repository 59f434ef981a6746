import { useTestApp } from '../support/app';
import { type Extent, buildingsCsv, importBuildingsCsv, levelFourExtent } from './buildings-csv';

describe('layer import and export', () => {
  const suite = useTestApp();
  let extent: Extent;

  beforeAll(async () => {
    extent = await levelFourExtent(suite.db.pool);
  });

  async function count(table: string): Promise<number> {
    const { rows } = await suite.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    return rows[0].n;
  }

  it('rejects a 50,000-row CSV with 3 bad rows with exactly those row numbers, storing nothing', async () => {
    const bad = new Map([
      [1234, 'IMP-bad1,somewhere,residential,many,3,"POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))"'],
      [25_000, 'IMP-bad2,bow tie,residential,3,3,"POLYGON((120 31, 120.001 31.001, 120.001 31, 120 31.001, 120 31))"'],
      [49_999, 'IMP-bad3,broken,residential,3,3,"POLYGON((120 31, 120.001"'],
    ]);
    const before = await count('buildings');
    const auditBefore = await count('audit_log');
    const response = await importBuildingsCsv(suite.api, buildingsCsv(extent, 50_000, bad)).expect(422);
    expect(response.body.rows).toBe(50_000);
    expect(response.body.badRows).toBe(3);
    expect([...new Set(response.body.errors.map((error: { row: number }) => error.row))]).toEqual([1234, 25_000, 49_999]);
    expect(response.body.errors.map((error: { field: string }) => error.field)).toEqual(['floors', 'geometry', 'geometry']);
    expect(await count('buildings')).toBe(before);
    expect(await count('audit_log')).toBe(auditBefore);
  }, 60_000);

  it('stores nothing on a dry run, then imports with grids assigned and one summary audit row', async () => {
    const csv = buildingsCsv(extent, 1000);
    const before = await count('buildings');
    const dry = await importBuildingsCsv(suite.api, csv, '?dryRun=true').expect(200);
    expect(dry.body).toMatchObject({ dryRun: true, rows: 1000, inserted: 0 });
    expect(await count('buildings')).toBe(before);

    const done = await suite.api.request.post('/api/layers/buildings/import').set(suite.api.auth('admin')).set('Content-Type', 'text/csv').send(csv).expect(200);
    expect(done.body).toMatchObject({ dryRun: false, rows: 1000, inserted: 1000 });
    expect(await count('buildings')).toBe(before + 1000);
    const misplaced = await suite.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM buildings WHERE code LIKE 'IMP-%' AND grid_id IS DISTINCT FROM grid_at(ST_PointOnSurface(geom))`,
    );
    expect(misplaced.rows[0].n).toBe(0);
    const audit = await suite.db.pool.query(`SELECT role, after FROM audit_log WHERE entity = 'buildings' AND route LIKE '%import'`);
    expect(audit.rows).toEqual([{ role: 'admin', after: { bulk: true, rows: 1000 } }]);
  }, 60_000);

  it('names the rows whose code is taken, by a stored building or an earlier row, and stores nothing', async () => {
    const { rows } = await suite.db.pool.query<{ code: string }>('SELECT code FROM buildings WHERE code IS NOT NULL ORDER BY id LIMIT 1');
    const taken = rows[0].code;
    const lines = buildingsCsv(extent, 5, new Map(), 'UNI').trimEnd().split('\n');
    lines[1] = lines[1].replace('UNI-1,', `${taken},`);
    lines[4] = lines[4].replace('UNI-4,', 'UNI-2,');
    const before = await count('buildings');
    const response = await importBuildingsCsv(suite.api, `${lines.join('\n')}\n`).expect(422);
    expect(response.body.badRows).toBe(2);
    expect(response.body.errors).toEqual([
      { row: 1, field: 'code', reason: expect.stringContaining(`'${taken}' already exists`) },
      { row: 4, field: 'code', reason: "code 'UNI-2' is already on row 2" },
    ]);
    expect(await count('buildings')).toBe(before);
  });

  it('answers 409 naming the value when a unique rule the checks do not know fails the insert, storing nothing', async () => {
    await suite.db.pool.query('CREATE UNIQUE INDEX buildings_address_once ON buildings (lower(address))');
    try {
      const before = await count('buildings');
      const [header, first, second] = buildingsCsv(extent, 2, new Map(), 'ADDR').split('\n');
      const csv = [header, first.replace('"No. 1, Import Road"', 'Same Street'), second.replace('"No. 2, Import Road"', 'same street'), ''].join('\n');
      const response = await importBuildingsCsv(suite.api, csv).expect(409);
      expect(response.body.detail).toMatch(/already exists/);
      expect(response.body.detail).toContain('same street');
      expect(await count('buildings')).toBe(before);
    } finally {
      await suite.db.pool.query('DROP INDEX buildings_address_once');
    }
  });

  it('puts a building whose anchor lies where grids meet into the lowest-numbered of them, as grid_at does', async () => {
    const { rows } = await suite.db.pool.query<{ lon: number; lat: number; grids: number[] }>(
      `WITH corners AS (SELECT DISTINCT (ST_DumpPoints(geom)).geom AS pt FROM grids WHERE level = 4)
       SELECT ST_X(pt) AS lon, ST_Y(pt) AS lat, array_agg(g.id::int ORDER BY g.id) AS grids
         FROM corners JOIN grids g ON g.level = 4 AND ST_Intersects(g.geom, pt)
        GROUP BY pt HAVING count(*) >= 2 ORDER BY min(g.id) DESC LIMIT 1`,
    );
    const { lon, lat, grids } = rows[0];
    // A square centred exactly on the shared corner: its point on surface is the corner itself.
    const half = 2 ** -14;
    const ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half], [lon - half, lat - half]];
    const wkt = `POLYGON((${ring.map(([x, y]) => `${x} ${y}`).join(', ')}))`;
    await importBuildingsCsv(suite.api, `code,wkt\nIMP-corner,"${wkt}"\n`).expect(200);
    const stored = await suite.db.pool.query<{ grid_id: number; on_corner: boolean }>(
      `SELECT grid_id, ST_Equals(ST_PointOnSurface(geom), ST_SetSRID(ST_MakePoint($1, $2), 4326)) AS on_corner FROM buildings WHERE code = 'IMP-corner'`,
      [lon, lat],
    );
    expect(stored.rows).toEqual([{ grid_id: grids[0], on_corner: true }]);
  });

  it('rejects unknown CSV columns (400) and keeps bulk people data for admins (403)', async () => {
    await suite.api.request
      .post('/api/layers/hazards/import')
      .set(suite.api.auth('planner'))
      .set('Content-Type', 'text/csv')
      .send('name,kind,risk_level,lon,lat,owner\nx,gas_station,2,120.7,31.3,me\n')
      .expect(400);
    await suite.api.request.post('/api/layers/people/import').set(suite.api.auth('planner')).set('Content-Type', 'text/csv').send('building_id,category\n1,常住\n').expect(403);
    await suite.api.request.get('/api/layers/people/export').set(suite.api.auth('grid_worker')).expect(403);
  });

  it('round-trips key places through a CSV export and import', async () => {
    const original = await suite.db.pool.query<{ row: string }>(
      `SELECT name || '|' || kind || '|' || coalesce(capacity::text, '') || '|' || ST_AsText(geom) AS row FROM key_places ORDER BY 1`,
    );
    const maxId = (await suite.db.pool.query<{ max: number }>('SELECT max(id) AS max FROM key_places')).rows[0].max;
    const exported = await suite.api.request.get('/api/layers/key_places/export?format=csv').set(suite.api.auth('police')).buffer(true).parse((res, done) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => done(null, text));
    }).expect(200);
    expect(exported.headers['content-type']).toMatch(/text\/csv/);
    await suite.api.request.post('/api/layers/key_places/import').set(suite.api.auth('planner')).set('Content-Type', 'text/csv').send(exported.body as string).expect(200);
    const imported = await suite.db.pool.query<{ row: string }>(
      `SELECT name || '|' || kind || '|' || coalesce(capacity::text, '') || '|' || ST_AsText(geom) AS row FROM key_places WHERE id > $1 ORDER BY 1`,
      [maxId],
    );
    expect(imported.rows).toEqual(original.rows);
    expect(original.rows.length).toBeGreaterThan(0);
  });

  it('exports a layer as a GeoJSON FeatureCollection with every row', async () => {
    const response = await suite.api.request.get('/api/layers/hazards/export').set(suite.api.auth('commander')).expect(200);
    const collection = JSON.parse(response.text) as { type: string; features: Array<{ geometry: { type: string }; properties: Record<string, unknown> }> };
    expect(collection.type).toBe('FeatureCollection');
    expect(collection.features).toHaveLength(await count('hazards'));
    expect(collection.features[0].geometry.type).toBe('Point');
    expect(Object.keys(collection.features[0].properties).sort()).toEqual(['kind', 'last_inspected_at', 'name', 'next_inspection_due', 'risk_level']);
  });

  it('round-trips hazards through a GeoJSON export and import, and names bad features by number', async () => {
    const signature = `name || '|' || kind || '|' || risk_level || '|' || coalesce(next_inspection_due::text, '') || '|' || ST_AsText(geom)`;
    const original = await suite.db.pool.query<{ row: string }>(`SELECT ${signature} AS row FROM hazards ORDER BY 1`);
    const maxId = (await suite.db.pool.query<{ max: number }>('SELECT max(id) AS max FROM hazards')).rows[0].max;
    const exported = await suite.api.request.get('/api/layers/hazards/export?format=geojson').set(suite.api.auth('planner')).expect(200);
    const collection = JSON.parse(exported.text) as { features: Array<Record<string, unknown>> };

    const broken = structuredClone(collection);
    broken.features[1] = { ...broken.features[1], properties: { name: 'x', kind: 'y', risk_level: 9 } };
    broken.features[2] = { ...broken.features[2], geometry: { type: 'Point', coordinates: [500, 31] } };
    const rejected = await suite.api.request
      .post('/api/layers/hazards/import?format=geojson')
      .set(suite.api.auth('planner'))
      .set('Content-Type', 'application/geo+json')
      .send(JSON.stringify(broken))
      .expect(422);
    expect(rejected.body.errors.map((error: { row: number; field: string }) => [error.row, error.field])).toEqual([
      [2, 'risk_level'],
      [3, 'geometry'],
    ]);
    expect((await suite.db.pool.query('SELECT 1 FROM hazards WHERE id > $1', [maxId])).rowCount).toBe(0);

    await suite.api.request
      .post('/api/layers/hazards/import')
      .set(suite.api.auth('planner'))
      .set('Content-Type', 'application/geo+json')
      .send(exported.text)
      .expect(200);
    const imported = await suite.db.pool.query<{ row: string }>(`SELECT ${signature} AS row FROM hazards WHERE id > $1 ORDER BY 1`, [maxId]);
    expect(imported.rows).toEqual(original.rows);
  });

  it('imports a GeoJSON whose top-level crs names WGS84, and refuses one in another CRS (400), storing nothing', async () => {
    const exported = await suite.api.request.get('/api/layers/key_places/export?format=geojson').set(suite.api.auth('planner')).expect(200);
    const collection = JSON.parse(exported.text) as { features: unknown[] };
    const before = await count('key_places');
    const importWith = (crsName: string) =>
      suite.api.request
        .post('/api/layers/key_places/import?dryRun=true')
        .set(suite.api.auth('planner'))
        .set('Content-Type', 'application/geo+json')
        // GDAL writes crs before the features, where a streaming reader meets it first.
        .send(JSON.stringify({ type: 'FeatureCollection', crs: { type: 'name', properties: { name: crsName } }, features: collection.features }));
    await importWith('urn:ogc:def:crs:OGC:1.3:CRS84').expect(200);
    await importWith('EPSG:4326').expect(200);
    // Beijing 1954 in degrees: the coordinates look like WGS84 and would land ~100 m off.
    const refused = await importWith('urn:ogc:def:crs:EPSG::4214').expect(400);
    expect(refused.body.detail).toMatch(/crs is urn:ogc:def:crs:EPSG::4214/);
    await importWith('EPSG:3857').expect(400);
    expect(await count('key_places')).toBe(before);
  });
});
