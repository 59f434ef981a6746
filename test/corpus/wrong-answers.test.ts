import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Response } from 'supertest';
import { importGrids } from '../../server/grids/import';
import { createTestApp, type TestApp, useTestApp } from '../support/app';
import { pointInGrid } from '../incidents/support';
import { type Extent, importBuildingsCsv, levelFourExtent } from '../layers/buildings-csv';

/**
 * Issue 13, "wrong answers on valid or hostile input": each finding of the hostile probe as the request the
 * probe sent, answered as it must be now. The sweep in bad-input.test.ts sends the same kinds of input to every
 * route (inputs.ts); these pin the particular answers.
 */

const uploadDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-wrong-answers-'));

const binary = (response: Response, done: (error: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  response.on('data', (chunk: Buffer) => chunks.push(chunk));
  response.on('end', () => done(null, Buffer.concat(chunks)));
};

/** A square ring of side `d` degrees at (x, y), closed. */
const square = (x: number, y: number, d: number) => [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]];

describe('issue 13: wrong answers on valid or hostile input', () => {
  const suite = useTestApp({ env: { UPLOAD_DIR: uploadDir } });
  afterAll(() => fs.rmSync(uploadDir, { recursive: true, force: true }));
  let extent: Extent;
  let at: { gridId: number; lon: number; lat: number };

  beforeAll(async () => {
    extent = await levelFourExtent(suite.db.pool);
    at = await pointInGrid(suite.db.pool, 3);
  });

  const count = async (sql: string) => (await suite.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`)).rows[0].n;

  it('5: answers a cached empty tile to a client without gzip as 204, every time', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await suite.api.request.get('/tiles/roads/14/100/100.mvt').set(suite.api.auth('planner')).set('Accept-Encoding', 'identity').buffer(true).parse(binary);
      expect(response.status).toBe(204);
      expect(response.headers['content-encoding']).toBeUndefined();
    }
    // And the same tile with gzip after it, from the cache.
    await suite.api.request.get('/tiles/roads/14/100/100.mvt').set(suite.api.auth('planner')).set('Accept-Encoding', 'gzip').expect(204);
  });

  it('6: refuses time-zone offsets beyond ±15:59 with a 400 naming the field, on every route that takes a time', async () => {
    const late = encodeURIComponent('2025-01-01T00:00:00-20:00');
    const admin = suite.api.auth('admin');
    for (const [url, field] of [
      [`/tiles/incidents/14/13700/6700.mvt?from=${late}`, 'from'],
      [`/tiles/incidents.json?to=${late}`, 'to'],
      [`/api/incidents?from=${late}`, 'from'],
      [`/api/stats/incidents?to=${late}`, 'to'],
      [`/api/stats/incidents/workers?from=${late}`, 'from'],
    ]) {
      const response = await suite.api.request.get(url).set(admin);
      expect([url, response.status, response.headers['content-type']]).toEqual([url, 400, expect.stringMatching(/problem\+json/)]);
      expect(response.body.detail).toContain(field);
    }
    const open311 = await suite.api.request.get(`/open311/v2/requests.json?start_date=${late}`).expect(400);
    expect(open311.body).toEqual([{ code: 400, description: expect.stringContaining('start_date') }]);
    // The widest offsets PostgreSQL reads still work.
    await suite.api.request.get(`/api/incidents?from=${encodeURIComponent('2025-01-01T00:00:00+15:59')}`).set(admin).expect(200);
    await suite.api.request.get(`/open311/v2/requests.json?end_date=${encodeURIComponent('2025-06-01T00:00:00-15:59')}`).expect(200);
  });

  it('7: refuses a photo whose file name holds NUL (RFC 5987 filename*), naming the part, and stores nothing', async () => {
    const before = await count('incidents');
    const boundary = 'corpusnul';
    const report = JSON.stringify({ category: '窨井盖', location: { type: 'Point', coordinates: [at.lon, at.lat] }, source: 'app', description: 'NUL file name' });
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="report"\r\n\r\n${report}\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="photos"; filename*=utf-8''a%00b.jpg\r\nContent-Type: image/jpeg\r\n\r\n`),
      Buffer.from([0xff, 0xd8, 0xff, 0xe0, ...Buffer.alloc(64, 7)]),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const response = await suite.api.request.post('/api/incidents').set(suite.api.auth('admin')).set('Content-Type', `multipart/form-data; boundary=${boundary}`).send(body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ file: 'photos[0]', detail: expect.stringContaining('NUL') });
    expect(await count('incidents')).toBe(before);
    expect(fs.readdirSync(uploadDir)).toEqual([]);
  });

  it('7: names the row and field of a NUL in a CSV or GeoJSON import, and stores nothing', async () => {
    const before = await count('buildings');
    const ring = square(extent.minLon + 0.001, extent.minLat + 0.001, 0.0001)[0].map(([x, y]) => `${x} ${y}`).join(', ');
    const csv = `code,address,wkt\nNUL-1,fine,"POLYGON((${ring}))"\nNUL-2,"bad\u0000address","POLYGON((${ring}))"\n`;
    const fromCsv = await importBuildingsCsv(suite.api, csv).expect(422);
    expect(fromCsv.body.errors).toEqual([{ row: 2, field: 'address', reason: expect.stringContaining('NUL') }]);

    const feature = (properties: Record<string, unknown>) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [at.lon, at.lat] }, properties });
    const collection = { type: 'FeatureCollection', features: [feature({ name: 'ok', kind: 'gas', risk_level: 2 }), feature({ name: 'a\u0000b', kind: 'gas', risk_level: 2 })] };
    const fromGeoJson = await suite.api.request.post('/api/layers/hazards/import').set(suite.api.auth('admin')).set('Content-Type', 'application/geo+json').send(JSON.stringify(collection)).expect(422);
    expect(fromGeoJson.body.errors).toEqual([{ row: 2, field: 'name', reason: expect.stringContaining('NUL') }]);
    expect(await count('buildings')).toBe(before);
  });

  it('8: refuses a POINT Z row in the dry run exactly as in the import, naming the row', async () => {
    const csv = `name,kind,wkt\nflat,market,"POINT(${at.lon} ${at.lat})"\nhigh,market,"POINT Z(${at.lon} ${at.lat} 12)"\n`;
    const importCsv = (query: string) => suite.api.request.post(`/api/layers/key_places/import${query}`).set(suite.api.auth('admin')).set('Content-Type', 'text/csv').send(csv);
    const dry = await importCsv('?dryRun=true');
    const real = await importCsv('');
    expect(dry.status).toBe(422);
    expect(real.status).toBe(422);
    expect(dry.body.errors).toEqual([{ row: 2, field: 'geometry', reason: expect.stringContaining('Z') }]);
    expect(real.body.errors).toEqual(dry.body.errors);
    expect(await count("key_places WHERE name IN ('flat', 'high')")).toBe(0);
  });

  it('8: a dry run that passes means the import passes, and stores nothing itself', async () => {
    const csv = `name,kind,lon,lat\ndry one,market,${at.lon},${at.lat}\n`;
    const importCsv = (query: string) => suite.api.request.post(`/api/layers/key_places/import${query}`).set(suite.api.auth('admin')).set('Content-Type', 'text/csv').send(csv);
    expect((await importCsv('?dryRun=true').expect(200)).body).toMatchObject({ dryRun: true, rows: 1, inserted: 0 });
    expect(await count("key_places WHERE name = 'dry one'")).toBe(0);
    expect((await importCsv('').expect(200)).body).toMatchObject({ dryRun: false, rows: 1, inserted: 1 });
    await suite.db.pool.query("DELETE FROM key_places WHERE name = 'dry one'");
  });

  it('9: refuses geometry outside the city, around the world, across the antimeridian or at the poles (422 naming why)', async () => {
    const admin = suite.api.auth('admin');
    const before = await count('buildings') + (await count('hazards'));
    const building = (coordinates: unknown) => suite.api.request.post('/api/layers/buildings').set(admin).send({ type: 'Feature', geometry: { type: 'Polygon', coordinates }, properties: {} });
    const refusals: Array<[string, Promise<Response>, RegExp]> = [
      ['whole world', building([[[-180, -85], [180, -85], [180, 85], [-180, 85], [-180, -85]]]), /180° of longitude/],
      ['across the antimeridian', building([[[179.9, 10], [-179.9, 10], [-179.9, 10.1], [179.9, 10.1], [179.9, 10]]]), /180° of longitude/],
      ['outside the city', building(square(at.lon + 3, at.lat, 0.001)), /outside the city/],
      [
        'hazard at latitude 90',
        suite.api.request.post('/api/layers/hazards').set(admin).send({ type: 'Feature', geometry: { type: 'Point', coordinates: [at.lon, 90] }, properties: { name: 'pole', kind: 'gas', risk_level: 1 } }),
        /latitude/,
      ],
    ];
    for (const [label, request, reason] of refusals) {
      const response = await request;
      expect([label, response.status]).toEqual([label, 422]);
      expect(response.body).toMatchObject({ rule: 'storable-geometry', detail: expect.stringMatching(reason) });
    }
    // Just inside the margin is still the city.
    await building(square(extent.maxLon + 0.005, at.lat, 0.0005)).expect(201);
    expect(await count('buildings') + (await count('hazards'))).toBe(before + 1);
  });

  it('9: refuses a Z coordinate the same way on incidents, layers and grids, imports included (422 naming it)', async () => {
    const admin = suite.api.auth('admin');
    const before = { incidents: await count('incidents'), hazards: await count('hazards'), grids: await count('grids') };
    const { rows } = await suite.db.pool.query<{ id: number; version: number; geometry: { coordinates: number[][][][] } }>(
      `SELECT id, version, ST_AsGeoJSON(geom)::json AS geometry FROM grids WHERE level = 4 ORDER BY id LIMIT 1`,
    );
    const grid = rows[0];
    const withZ = grid.geometry.coordinates.map((polygon) => polygon.map((ring) => ring.map(([x, y]) => [x, y, 5])));
    const answers = [
      await suite.api.request.post('/api/incidents').set(admin).send({ category: '窨井盖', source: 'app', location: { type: 'Point', coordinates: [at.lon, at.lat, 12] } }),
      await suite.api.request.post('/api/layers/hazards').set(admin).send({ type: 'Feature', geometry: { type: 'Point', coordinates: [at.lon, at.lat, 12] }, properties: { name: 'z', kind: 'gas', risk_level: 1 } }),
      await suite.api.request.patch(`/api/grids/${grid.id}`).set(admin).set('If-Match', `"${grid.version}"`).send({ geometry: { type: 'MultiPolygon', coordinates: withZ } }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(422);
      expect(answer.body).toMatchObject({ rule: 'storable-geometry', detail: expect.stringContaining('third (Z or M) coordinate') });
    }
    // The grid import (npm run import:grids) too.
    const imported = importGrids(suite.db.pool, { features: [{ type: 'Feature', properties: { code: 'Z-1' }, geometry: { type: 'MultiPolygon', coordinates: withZ } }] }, { level: 4, repair: false });
    await expect(imported).rejects.toThrow(/Z-1: has a third \(Z or M\) coordinate/);
    expect({ incidents: await count('incidents'), hazards: await count('hazards'), grids: await count('grids') }).toEqual(before);
  });

  it('9: takes the city extent from CITY_EXTENT when it is set', async () => {
    const configured = await createTestApp(suite.db, { env: { CITY_EXTENT: `${at.lon - 0.01},${at.lat - 0.01},${at.lon + 0.01},${at.lat + 0.01}`, CITY_EXTENT_MARGIN_M: '0' } });
    try {
      const place = (lon: number) => configured.request.post('/api/layers/key_places').set(configured.auth('admin')).send({ type: 'Feature', geometry: { type: 'Point', coordinates: [lon, at.lat] }, properties: { name: 'extent probe', kind: 'other' } });
      const outside = await place(at.lon + 0.02).expect(422);
      expect(outside.body.detail).toMatch(/outside the city/);
      await place(at.lon + 0.005).expect(201);
    } finally {
      await configured.close();
      await suite.db.pool.query("DELETE FROM key_places WHERE name = 'extent probe'");
    }
  });

  it('10: reads up to 100 Open311 ids in one query and refuses more in the GeoReport format', async () => {
    const { rows } = await suite.db.pool.query<{ id: number }>('SELECT id FROM incidents ORDER BY id LIMIT 50');
    const ids = rows.map((row) => row.id);
    const queries = jest.spyOn(suite.db.pool, 'query');
    try {
      const found = await suite.api.request.get(`/open311/v2/requests.json?service_request_id=${[...ids, ...ids].join(',')}`).expect(200);
      expect(found.body.map((request: { service_request_id: string }) => Number(request.service_request_id))).toEqual(ids);
      // The catalogue and the requests: not one query per id.
      expect(queries.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      queries.mockRestore();
    }
    const many = await suite.api.request.get(`/open311/v2/requests.json?service_request_id=${Array(7500).fill(1).join(',')}`).expect(400);
    expect(many.body).toEqual([{ code: 400, description: expect.stringContaining('at most 100') }]);
  });

  it('10: answers unknown Open311 routes and wrong methods in the GeoReport error format', async () => {
    const unknown = await suite.api.request.get('/open311/v2/discovery.xml').expect(404).expect('Content-Type', /^application\/json/);
    expect(unknown.body).toEqual([{ code: 404, description: expect.stringContaining('/open311/v2/discovery.xml') }]);
    const wrongMethod = await suite.api.request.delete('/open311/v2/requests.json').expect(405);
    expect(wrongMethod.body).toEqual([{ code: 405, description: expect.any(String) }]);
    // Outside Open311, the same is problem+json.
    await suite.api.request.delete('/api/incidents/categories').set(suite.api.auth('admin')).expect(405).expect('Content-Type', /problem\+json/);
  });

  it('10: refuses malformed percent-encoding in a query with 400 everywhere, the tile fast path included', async () => {
    const planner = suite.api.auth('planner');
    const bad = '%E0%A4%A';
    for (const url of [`/tiles/incidents/14/13700/6700.mvt?category=${bad}`, `/tiles/incidents.json?category=${bad}`, `/api/incidents?category=${bad}`, `/api/grids?bbox=${bad}`]) {
      // Twice: the fast path remembers URLs, so the second answer comes from what it remembered.
      for (let attempt = 0; attempt < 2; attempt++) {
        const response = await suite.api.request.get(url).set(planner);
        expect([url, response.status]).toEqual([url, 400]);
        expect(response.body.detail).toMatch(/malformed percent-encoding/);
      }
    }
    const open311 = await suite.api.request.get(`/open311/v2/requests.json?service_code=${bad}`).expect(400);
    expect(open311.body).toEqual([{ code: 400, description: expect.stringContaining('service_code') }]);
  });

  it('11: keeps a safe X-Request-Id and replaces any other before it reaches the log or the audit', async () => {
    const create = (requestId: string, name: string) =>
      suite.api.request.post('/api/layers/key_places').set(suite.api.auth('admin')).set('X-Request-Id', requestId).send({ type: 'Feature', geometry: { type: 'Point', coordinates: [at.lon, at.lat] }, properties: { name, kind: 'other' } }).expect(201);
    const safe = await create('req-01HZX8K3:trace.7', 'request id safe');
    expect(safe.headers['x-request-id']).toBe('req-01HZX8K3:trace.7');
    for (const hostile of ['x'.repeat(65), 'a b', 'line\\nbreak', '<script>']) {
      const replaced = await create(hostile, `request id ${hostile.length}`);
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    const audit = await suite.db.pool.query<{ request_id: string }>(`SELECT a.request_id FROM audit_log a WHERE a.entity = 'key_places' AND a.after->>'name' LIKE 'request id%' ORDER BY a.id`);
    expect(audit.rows.map((row) => row.request_id)).toEqual([safe.headers['x-request-id'], ...Array(4).fill(expect.stringMatching(/^[0-9a-f-]{36}$/))]);
    await suite.db.pool.query("DELETE FROM key_places WHERE name LIKE 'request id%'");
  });

  it('11: never puts a forged Host into TileJSON or /tiles URLs', async () => {
    const viaPublicUrl = await createTestApp(suite.db, { env: { PUBLIC_URL: 'https://map.city.example, http://10.0.0.5:8080' } });
    try {
      const tileUrls = async (app: TestApp, host: string) => {
        const json = await app.request.get('/tiles/grids.json').set(app.auth('planner')).set('Host', host).expect(200);
        const list = await app.request.get('/tiles').set(app.auth('planner')).set('Host', host).expect(200);
        return [json.body.tiles[0] as string, list.body.layers[0].tilejson as string];
      };
      for (const url of await tileUrls(viaPublicUrl, 'evil.example')) expect(url.startsWith('https://map.city.example/tiles/')).toBe(true);
      for (const url of await tileUrls(viaPublicUrl, '10.0.0.5:8080')) expect(url.startsWith('http://10.0.0.5:8080/tiles/')).toBe(true);
      // Without PUBLIC_URL: http://HOST:PORT, and a browser on this machine keeps the loopback name it used.
      for (const url of await tileUrls(suite.api, 'evil.example')) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/tiles\//);
      for (const url of await tileUrls(suite.api, 'localhost:5173')) expect(url.startsWith('http://localhost:5173/tiles/')).toBe(true);
    } finally {
      await viaPublicUrl.close();
    }
  });
});
