import { createTestApp, type TestApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/db';

interface Extent {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

/** A CSV of small square buildings spread over the city; `bad` maps a row number to its broken line. */
function buildingsCsv(extent: Extent, rows: number, bad: Map<number, string> = new Map()): string {
  const lines = ['code,address,use,floors,households,wkt'];
  const size = 0.00005;
  for (let row = 1; row <= rows; row += 1) {
    const broken = bad.get(row);
    if (broken) {
      lines.push(broken);
      continue;
    }
    const lon = extent.minLon + ((row * 7919) % 10_000) / 10_000 * (extent.maxLon - extent.minLon - size);
    const lat = extent.minLat + ((row * 104_729) % 10_000) / 10_000 * (extent.maxLat - extent.minLat - size);
    const ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]].map(([x, y]) => `${x} ${y}`).join(', ');
    lines.push(`IMP-${row},"No. ${row}, Import Road",residential,${1 + (row % 30)},${row % 50},"POLYGON((${ring}))"`);
  }
  return `${lines.join('\n')}\n`;
}

describe('layer import and export', () => {
  let db: TestDatabase;
  let api: TestApp;
  let extent: Extent;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await createTestApp(db);
    const { rows } = await db.pool.query<Extent>(
      `SELECT ST_XMin(e) AS "minLon", ST_YMin(e) AS "minLat", ST_XMax(e) AS "maxLon", ST_YMax(e) AS "maxLat"
         FROM (SELECT ST_Extent(geom)::box2d AS e FROM grids WHERE level = 4) AS extent`,
    );
    extent = rows[0];
  });
  afterAll(async () => {
    await api.close();
    await db.drop();
  });

  async function count(table: string): Promise<number> {
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
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
    const response = await api.request
      .post('/api/layers/buildings/import')
      .set(api.auth('planner'))
      .set('Content-Type', 'text/csv')
      .send(buildingsCsv(extent, 50_000, bad))
      .expect(422);
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
    const dry = await api.request
      .post('/api/layers/buildings/import?dryRun=true')
      .set(api.auth('planner'))
      .set('Content-Type', 'text/csv')
      .send(csv)
      .expect(200);
    expect(dry.body).toMatchObject({ dryRun: true, rows: 1000, inserted: 0 });
    expect(await count('buildings')).toBe(before);

    const done = await api.request.post('/api/layers/buildings/import').set(api.auth('admin')).set('Content-Type', 'text/csv').send(csv).expect(200);
    expect(done.body).toMatchObject({ dryRun: false, rows: 1000, inserted: 1000 });
    expect(await count('buildings')).toBe(before + 1000);
    const misplaced = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM buildings WHERE code LIKE 'IMP-%' AND grid_id IS DISTINCT FROM grid_at(ST_PointOnSurface(geom))`,
    );
    expect(misplaced.rows[0].n).toBe(0);
    const audit = await db.pool.query(`SELECT role, after FROM audit_log WHERE entity = 'buildings' AND route LIKE '%import'`);
    expect(audit.rows).toEqual([{ role: 'admin', after: { bulk: true, rows: 1000 } }]);
  }, 60_000);

  it('rejects unknown CSV columns (400) and keeps bulk people data for admins (403)', async () => {
    await api.request
      .post('/api/layers/hazards/import')
      .set(api.auth('planner'))
      .set('Content-Type', 'text/csv')
      .send('name,kind,risk_level,lon,lat,owner\nx,gas_station,2,120.7,31.3,me\n')
      .expect(400);
    await api.request.post('/api/layers/people/import').set(api.auth('planner')).set('Content-Type', 'text/csv').send('building_id,category\n1,常住\n').expect(403);
    await api.request.get('/api/layers/people/export').set(api.auth('grid_worker')).expect(403);
  });

  it('round-trips key places through a CSV export and import', async () => {
    const original = await db.pool.query<{ row: string }>(
      `SELECT name || '|' || kind || '|' || coalesce(capacity::text, '') || '|' || ST_AsText(geom) AS row FROM key_places ORDER BY 1`,
    );
    const maxId = (await db.pool.query<{ max: number }>('SELECT max(id) AS max FROM key_places')).rows[0].max;
    const exported = await api.request.get('/api/layers/key_places/export?format=csv').set(api.auth('police')).buffer(true).parse((res, done) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => done(null, text));
    }).expect(200);
    expect(exported.headers['content-type']).toMatch(/text\/csv/);
    await api.request.post('/api/layers/key_places/import').set(api.auth('planner')).set('Content-Type', 'text/csv').send(exported.body as string).expect(200);
    const imported = await db.pool.query<{ row: string }>(
      `SELECT name || '|' || kind || '|' || coalesce(capacity::text, '') || '|' || ST_AsText(geom) AS row FROM key_places WHERE id > $1 ORDER BY 1`,
      [maxId],
    );
    expect(imported.rows).toEqual(original.rows);
    expect(original.rows.length).toBeGreaterThan(0);
  });

  it('exports a layer as a GeoJSON FeatureCollection with every row', async () => {
    const response = await api.request.get('/api/layers/hazards/export').set(api.auth('commander')).expect(200);
    const collection = JSON.parse(response.text) as { type: string; features: Array<{ geometry: { type: string }; properties: Record<string, unknown> }> };
    expect(collection.type).toBe('FeatureCollection');
    expect(collection.features).toHaveLength(await count('hazards'));
    expect(collection.features[0].geometry.type).toBe('Point');
    expect(Object.keys(collection.features[0].properties).sort()).toEqual(['kind', 'last_inspected_at', 'name', 'next_inspection_due', 'risk_level']);
  });

  it('round-trips hazards through a GeoJSON export and import, and names bad features by number', async () => {
    const signature = `name || '|' || kind || '|' || risk_level || '|' || coalesce(next_inspection_due::text, '') || '|' || ST_AsText(geom)`;
    const original = await db.pool.query<{ row: string }>(`SELECT ${signature} AS row FROM hazards ORDER BY 1`);
    const maxId = (await db.pool.query<{ max: number }>('SELECT max(id) AS max FROM hazards')).rows[0].max;
    const exported = await api.request.get('/api/layers/hazards/export?format=geojson').set(api.auth('planner')).expect(200);
    const collection = JSON.parse(exported.text) as { features: Array<Record<string, unknown>> };

    const broken = structuredClone(collection);
    broken.features[1] = { ...broken.features[1], properties: { name: 'x', kind: 'y', risk_level: 9 } };
    broken.features[2] = { ...broken.features[2], geometry: { type: 'Point', coordinates: [500, 31] } };
    const rejected = await api.request
      .post('/api/layers/hazards/import?format=geojson')
      .set(api.auth('planner'))
      .set('Content-Type', 'application/geo+json')
      .send(JSON.stringify(broken))
      .expect(422);
    expect(rejected.body.errors.map((error: { row: number; field: string }) => [error.row, error.field])).toEqual([
      [2, 'risk_level'],
      [3, 'geometry'],
    ]);
    expect((await db.pool.query('SELECT 1 FROM hazards WHERE id > $1', [maxId])).rowCount).toBe(0);

    await api.request
      .post('/api/layers/hazards/import')
      .set(api.auth('planner'))
      .set('Content-Type', 'application/geo+json')
      .send(exported.text)
      .expect(200);
    const imported = await db.pool.query<{ row: string }>(`SELECT ${signature} AS row FROM hazards WHERE id > $1 ORDER BY 1`, [maxId]);
    expect(imported.rows).toEqual(original.rows);
  });
});
