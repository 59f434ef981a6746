import type { Response } from 'supertest';
import { useTestApp } from '../support/app';

const crs84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84';
const epsg = (code: number) => `http://www.opengis.net/def/crs/EPSG/0/${code}`;

describe('OGC API – Features Part 1 and 2: reading', () => {
  let workerGrid: number;
  const suite = useTestApp(async (db) => {
    const { rows } = await db.pool.query<{ id: number }>('SELECT grid_id AS id FROM patrol_tracks GROUP BY grid_id ORDER BY count(*) DESC LIMIT 1');
    workerGrid = rows[0].id;
    return { gridWorkerGrids: [workerGrid] };
  });

  it('serves a landing page, conformance and an OpenAPI 3.0 definition, public and linked', async () => {
    const { api } = suite;
    const landing = await api.request.get('/ogc').expect(200);
    const rels = landing.body.links.map((link: { rel: string }) => link.rel);
    expect(rels).toEqual(expect.arrayContaining(['self', 'alternate', 'service-desc', 'conformance', 'data']));
    const conformance = await api.request.get('/ogc/conformance').expect(200);
    expect(conformance.body.conformsTo).toEqual(
      expect.arrayContaining([
        'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
        'http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs',
        'http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete',
      ]),
    );
    const document = await api.request.get('/ogc/api').expect(200);
    expect(document.headers['content-type']).toContain('application/vnd.oai.openapi+json');
    expect(document.body.openapi).toMatch(/^3\.0\./);
    const limit = document.body.paths['/collections/{collectionId}/items'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(limit.schema).toMatchObject({ default: 100, maximum: 10000 });
  });

  it('lists to each role only the collections it may read, never people', async () => {
    const { api } = suite;
    const ids = async (role: Parameters<typeof api.auth>[0]) =>
      ((await api.request.get('/ogc/collections').set(api.auth(role)).expect(200)).body.collections as Array<{ id: string }>).map((c) => c.id);
    const planner = await ids('planner');
    expect(planner).toEqual(['grids_level_1', 'grids_level_2', 'grids_level_3', 'grids_level_4', 'buildings', 'hazards', 'key_places', 'incidents', 'accidents', 'roads']);
    expect(await ids('admin')).not.toContain('people');
    expect(await ids('commander')).toContain('patrol_tracks');
    // Where named workers walked is personal data: for planners, police and the hotline desk the collection does not exist.
    for (const role of ['planner', 'police', 'hotline'] as const) expect(await ids(role)).not.toContain('patrol_tracks');
    const hidden = await api.request.get('/ogc/collections/patrol_tracks/items').set(api.auth('hotline')).expect(404);
    expect(hidden.body).toEqual({ code: 'NotFound', description: expect.stringContaining('patrol_tracks') });
    await api.request.get('/ogc/collections/people/items').set(api.auth('admin')).expect(404);
    await api.request.get('/ogc/collections').expect(401);
  });

  it('describes a collection with its extent and the CRSs served, CGCS2000 among them', async () => {
    const { api, db } = suite;
    const { body } = await api.request.get('/ogc/collections/incidents').set(api.auth('planner')).expect(200);
    expect(body.crs).toEqual([crs84, epsg(4326), epsg(3857), epsg(4490)]);
    expect(body.storageCrs).toBe(crs84);
    const [minLon, minLat, maxLon, maxLat] = body.extent.spatial.bbox[0];
    const { rows } = await db.pool.query('SELECT ST_XMin(e) AS a, ST_YMin(e) AS b, ST_XMax(e) AS c, ST_YMax(e) AS d FROM (SELECT ST_Extent(geom) AS e FROM incidents WHERE NOT location_placeholder) x');
    expect([minLon, minLat, maxLon, maxLat]).toEqual([rows[0].a, rows[0].b, rows[0].c, rows[0].d]);
    expect(body.extent.temporal.interval[0][0]).toMatch(/^\d{4}-/);
    expect(body.links.map((link: { rel: string }) => link.rel)).toEqual(expect.arrayContaining(['self', 'alternate', 'items']));
  });

  it('pages items with limit, numberMatched, numberReturned and next/prev links that walk the whole collection', async () => {
    const { api, db } = suite;
    const total = Number((await db.pool.query('SELECT count(*) AS n FROM hazards')).rows[0].n);
    let url: string | undefined = '/ogc/collections/hazards/items?limit=7';
    const seen: number[] = [];
    let pages = 0;
    while (url) {
      const response: Response = await api.request.get(url.replace(/^https?:\/\/[^/]+/, '')).set(api.auth('commander')).expect(200);
      expect(response.headers['content-type']).toContain('application/geo+json');
      expect(response.headers['content-crs']).toBe(`<${crs84}>`);
      expect(response.body.numberMatched).toBe(total);
      expect(response.body.numberReturned).toBe(response.body.features.length);
      const rels = response.body.links.map((link: { rel: string }) => link.rel);
      expect(rels.includes('prev')).toBe(pages > 0);
      expect(response.headers.link.includes('rel="next"')).toBe(rels.includes('next'));
      seen.push(...response.body.features.map((feature: { id: number }) => feature.id));
      url = response.body.links.find((link: { rel: string }) => link.rel === 'next')?.href;
      pages += 1;
    }
    expect(pages).toBe(Math.ceil(total / 7));
    expect(new Set(seen).size).toBe(total);
    const defaults = await api.request.get('/ogc/collections/buildings/items').set(api.auth('planner')).expect(200);
    expect(defaults.body.numberReturned).toBe(Math.min(100, defaults.body.numberMatched));
  });

  it('narrows by bbox (also given in EPSG:3857 and in latitude-first EPSG:4326), datetime and registry filters', async () => {
    const { api, db } = suite;
    const { rows: centre } = await db.pool.query<{ lon: number; lat: number }>('SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM buildings ORDER BY id LIMIT 1) b');
    const bbox = [centre[0].lon - 0.004, centre[0].lat - 0.003, centre[0].lon + 0.004, centre[0].lat + 0.003];
    const inBox = Number((await db.pool.query('SELECT count(*) AS n FROM buildings WHERE ST_Intersects(geom, ST_MakeEnvelope($1, $2, $3, $4, 4326))', bbox)).rows[0].n);
    expect(inBox).toBeGreaterThan(0);
    const count = async (query: string) => (await api.request.get(`/ogc/collections/buildings/items?limit=1&${query}`).set(api.auth('planner')).expect(200)).body.numberMatched;
    expect(await count(`bbox=${bbox.join(',')}`)).toBe(inBox);
    expect(await count(`bbox=${[bbox[1], bbox[0], bbox[3], bbox[2]].join(',')}&bbox-crs=${encodeURIComponent(epsg(4326))}`)).toBe(inBox);
    const { rows } = await db.pool.query('SELECT ST_XMin(e) AS a, ST_YMin(e) AS b, ST_XMax(e) AS c, ST_YMax(e) AS d FROM (SELECT ST_Transform(ST_MakeEnvelope($1, $2, $3, $4, 4326), 3857) AS e) x', bbox);
    expect(await count(`bbox=${[rows[0].a, rows[0].b, rows[0].c, rows[0].d].join(',')}&bbox-crs=EPSG:3857`)).toBe(inBox);

    const residential = Number((await db.pool.query(`SELECT count(*) AS n FROM buildings WHERE use = 'residential'`)).rows[0].n);
    expect(await count('use=residential')).toBe(residential);

    const span = ['2025-01-01T00:00:00Z', '2025-06-30T23:59:59Z'];
    const inSpan = Number((await db.pool.query('SELECT count(*) AS n FROM incidents WHERE NOT location_placeholder AND reported_at BETWEEN $1 AND $2', span)).rows[0].n);
    const incidents = async (datetime: string) => (await api.request.get(`/ogc/collections/incidents/items?limit=1&datetime=${encodeURIComponent(datetime)}`).set(api.auth('planner')).expect(200)).body.numberMatched;
    expect(await incidents(span.join('/'))).toBe(inSpan);
    const after = Number((await db.pool.query('SELECT count(*) AS n FROM incidents WHERE NOT location_placeholder AND reported_at >= $1', [span[0]])).rows[0].n);
    expect(await incidents(`${span[0]}/..`)).toBe(after);
  });

  it('answers in EPSG:3857, in latitude-first EPSG:4326 and in CGCS2000, saying which in Content-Crs', async () => {
    const { api, db } = suite;
    const { rows } = await db.pool.query<{ id: number; lon: number; lat: number; x: number; y: number }>(
      'SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat, ST_X(geom_3857) AS x, ST_Y(geom_3857) AS y FROM key_places ORDER BY id LIMIT 1',
    );
    const place = rows[0];
    const read = async (crs: string) => {
      const response = await api.request.get(`/ogc/collections/key_places/items/${place.id}?crs=${encodeURIComponent(crs)}`).set(api.auth('planner')).expect(200);
      expect(response.headers['content-crs']).toBe(`<${crs}>`);
      return response.body.geometry.coordinates as number[];
    };
    const [x, y] = await read(epsg(3857));
    expect(x).toBeCloseTo(place.x, 2);
    expect(y).toBeCloseTo(place.y, 2);
    const [lat, lon] = await read(epsg(4326));
    expect([lon, lat]).toEqual([expect.closeTo(place.lon, 7), expect.closeTo(place.lat, 7)]);
    const [lat2000, lon2000] = await read(epsg(4490));
    // CGCS2000 and WGS84 agree to centimetres: PostGIS's definition has no shift between them.
    expect(lon2000).toBeCloseTo(place.lon, 6);
    expect(lat2000).toBeCloseTo(place.lat, 6);
  });

  it('serves one feature with an ETag (304 when unchanged), and a grid worker none of their grids\' patrol tracks but their own', async () => {
    const { api, db } = suite;
    const grid = await api.request.get('/ogc/collections/grids_level_4/items?limit=1').set(api.auth('planner')).expect(200);
    const id = grid.body.features[0].id;
    const one = await api.request.get(`/ogc/collections/grids_level_4/items/${id}`).set(api.auth('planner')).expect(200);
    expect(one.headers.etag).toBe(`"${one.body.properties.version}"`);
    await api.request.get(`/ogc/collections/grids_level_4/items/${id}`).set(api.auth('planner')).set('If-None-Match', one.headers.etag).expect(304);
    await api.request.get(`/ogc/collections/grids_level_3/items/${id}`).set(api.auth('planner')).expect(404);

    // This token speaks for no worker: it owns no trace, though tracks cross its grid (own ones: patrols/privacy.test.ts).
    const tracks = Number((await db.pool.query('SELECT count(*) AS n FROM patrol_tracks WHERE grid_id = $1', [workerGrid])).rows[0].n);
    expect(tracks).toBeGreaterThan(0);
    const mine = await api.request.get('/ogc/collections/patrol_tracks/items?limit=1').set(api.auth('grid_worker')).expect(200);
    expect(mine.body.numberMatched).toBe(0);
    const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM patrol_tracks WHERE grid_id <> $1 LIMIT 1', [workerGrid]);
    await api.request.get(`/ogc/collections/patrol_tracks/items/${rows[0].id}`).set(api.auth('grid_worker')).expect(404);
  });

  it('has an HTML view of every document', async () => {
    const { api } = suite;
    const token = api.tokens.planner;
    const landing = await api.request.get('/ogc').set('Accept', 'text/html').expect(200);
    expect(landing.headers['content-type']).toContain('text/html');
    const items = await api.request.get(`/ogc/collections/key_places/items?f=html&limit=5&access_token=${token}`).expect(200);
    expect(items.text).toContain('<table>');
    // Links of the page carry the token it was opened with, so the pages can be browsed.
    const next = /href="([^"]*rel|[^"]*offset=5[^"]*)"/.exec(items.text)?.[1];
    expect(next).toContain('access_token=');
    const item = await api.request.get(`/ogc/collections/key_places/items/1?f=html&access_token=${token}`).expect(200);
    expect(item.text).toContain('<th>name</th>');
  });
});
