import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { z } from 'zod';
import { cityCatalogue } from '../../server/catalogue/city';
import type { CatalogueLayer } from '../../server/catalogue/types';
import { misplacedMembers } from '../../server/grids/membership';
import { createTestApp, type TestApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { adjacentLevel4Pair, one } from '../grids/support';
import { binary, tileAt } from '../support/tiles';

/** A layer the city does not have: a table made here, and one catalogue entry. Nothing else is changed. */
const streetLights: CatalogueLayer = {
  name: 'street_lights',
  title: { zh: '路灯', en: 'Street lights' },
  description: 'Street lights',
  table: 'street_lights',
  geometry: { type: 'Point', column: 'geom', tileColumn: 'geom_3857' },
  attributes: z
    .object({
      kind: z.enum(['led', 'sodium']),
      lumens: z.number().int().min(100).max(100_000),
      installed_on: z.iso.date().nullable().optional(),
    })
    .strict(),
  temporal: 'installed_on',
  read: ['admin', 'planner', 'commander'],
  grid: 'point',
  features: { write: ['admin', 'planner'], listFilters: ['kind', 'lumens'] },
  tiles: { bands: [{ minzoom: 12, maxzoom: 22 }], fields: ['kind', 'lumens', 'installed_on', 'grid_id'] },
  style: { kind: 'circle', color: '#f2c94c', order: 10 },
};

const streetLightsTable = `
  CREATE TABLE street_lights (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    lumens int NOT NULL,
    installed_on date,
    geom geometry(Point, 4326) NOT NULL,
    geom_3857 geometry(Point, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
    grid_id bigint REFERENCES grids (id),
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX ON street_lights USING gist (geom);
  CREATE INDEX ON street_lights USING gist (geom_3857);
  CREATE TRIGGER street_lights_audit AFTER INSERT OR UPDATE OR DELETE ON street_lights FOR EACH ROW EXECUTE FUNCTION audit_row_change();`;

function decode(body: Buffer) {
  const layer = new VectorTile(new PbfReader(body)).layers.street_lights;
  return Array.from({ length: layer?.length ?? 0 }, (_, i) => layer!.feature(i).properties);
}

describe('a layer added to the catalogue', () => {
  let db: TestDatabase;
  let api: TestApp;
  /** A point inside grid b of two adjacent level-4 siblings; merging them moves the light's row from b to a. */
  let pair: { a: number; b: number };
  let at: { lon: number; lat: number };

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query(streetLightsTable);
    api = await createTestApp(db, { catalogue: cityCatalogue.with(streetLights) });
    pair = await adjacentLevel4Pair(db, 3);
    at = await one(db, 'SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM grids WHERE id = $1) s', [pair.b]);
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('gets the feature API: create with its grid, read, list by filter, change, refuse bad attributes, delete', async () => {
    const created = await api.request
      .post('/api/layers/street_lights')
      .set(api.auth('planner'))
      .send({ geometry: { type: 'Point', coordinates: [at.lon, at.lat] }, properties: { kind: 'led', lumens: 1200, installed_on: '2024-05-01' } })
      .expect(201);
    expect(created.body.properties).toMatchObject({ kind: 'led', lumens: 1200, installed_on: '2024-05-01', grid_id: pair.b });
    const id = created.body.id as number;
    await api.request.get(`/api/layers/street_lights/${id}`).set(api.auth('commander')).expect(200);
    await api.request.get(`/api/layers/street_lights/${id}`).set(api.auth('hotline')).expect(403);
    const listed = await api.request.get('/api/layers/street_lights?kind=led&lumens=1200').set(api.auth('admin')).expect(200);
    expect(listed.body.features.map((f: { id: number }) => f.id)).toEqual([id]);
    const none = await api.request.get('/api/layers/street_lights?kind=sodium').set(api.auth('admin')).expect(200);
    expect(none.body.features).toEqual([]);
    await api.request.patch(`/api/layers/street_lights/${id}`).set(api.auth('planner')).send({ properties: { lumens: 1500 } }).expect(200);
    const refused = await api.request.patch(`/api/layers/street_lights/${id}`).set(api.auth('planner')).send({ properties: { lumens: 5 } }).expect(400);
    expect(refused.headers['content-type']).toMatch(/problem\+json/);
    await api.request.post('/api/layers/street_lights').set(api.auth('commander')).send({ geometry: { type: 'Point', coordinates: [at.lon, at.lat] }, properties: { kind: 'led', lumens: 900 } }).expect(403);
    const spare = await api.request
      .post('/api/layers/street_lights')
      .set(api.auth('planner'))
      .send({ geometry: { type: 'Point', coordinates: [at.lon, at.lat] }, properties: { kind: 'sodium', lumens: 900 } })
      .expect(201);
    await api.request.delete(`/api/layers/street_lights/${spare.body.id}`).set(api.auth('planner')).expect(204);
    expect(await one(db, "SELECT count(*)::int AS n FROM audit_log WHERE entity = 'street_lights'")).toEqual({ n: 4 });
  });

  it('gets import and export, with grids assigned on import', async () => {
    const csv = `kind,lumens,lon,lat\nsodium,800,${at.lon},${at.lat}\nled,2000,${at.lon + 0.00001},${at.lat}\n`;
    const report = await api.request.post('/api/layers/street_lights/import').set(api.auth('planner')).set('Content-Type', 'text/csv').send(csv).expect(200);
    expect(report.body).toMatchObject({ layer: 'street_lights', rows: 2, inserted: 2 });
    const bad = await api.request.post('/api/layers/street_lights/import').set(api.auth('planner')).set('Content-Type', 'text/csv').send(`kind,lumens,lon,lat\nneon,800,${at.lon},${at.lat}\n`).expect(422);
    expect(bad.body.errors[0]).toMatchObject({ row: 1, field: 'kind' });
    const exported = await api.request.get('/api/layers/street_lights/export?format=csv').set(api.auth('admin')).expect(200);
    expect(String(exported.text).split('\n')[0]).toBe('kind,lumens,installed_on,wkt');
    expect(await one(db, 'SELECT count(*)::int AS n FROM street_lights WHERE grid_id = $1', [pair.b])).toEqual({ n: 3 });
  });

  it('gets tiles: listed with its title and style, TileJSON fields typed, features in the tile', async () => {
    const listed = await api.request.get('/tiles').set(api.auth('planner')).expect(200);
    expect(listed.body.layers.find((l: { name: string }) => l.name === 'street_lights')).toMatchObject({
      title: { zh: '路灯', en: 'Street lights' },
      geometryType: 'Point',
      minzoom: 12,
      style: { kind: 'circle', color: '#f2c94c' },
    });
    const tileJson = await api.request.get('/tiles/street_lights.json').set(api.auth('planner')).expect(200);
    expect(tileJson.body.vector_layers[0].fields).toEqual({ kind: 'String', lumens: 'Number', installed_on: 'String', grid_id: 'Number' });
    const tile = tileAt(at.lon, at.lat, 16);
    const body = (await api.request.get(`/tiles/street_lights/16/${tile.x}/${tile.y}.mvt`).set(api.auth('planner')).buffer(true).parse(binary).expect(200)).body as Buffer;
    const lights = decode(body);
    expect(lights).toHaveLength(3);
    expect(lights).toContainEqual({ kind: 'led', lumens: 1500, installed_on: '2024-05-01', grid_id: pair.b });
    await api.request.get(`/tiles/street_lights/16/${tile.x}/${tile.y}.mvt`).set(api.auth('hotline')).expect(403);
  });

  it('gets grid membership: a merge moves its rows with the grid, and its tiles show the new grid', async () => {
    const tile = tileAt(at.lon, at.lat, 16);
    const path = `/tiles/street_lights/16/${tile.x}/${tile.y}.mvt`;
    await api.request.get(path).set(api.auth('planner')).buffer(true).parse(binary).expect(200);
    const changed = new Promise<void>((resolve) => {
      const stop = api.events.onChange((event) => {
        if (event.kind === 'layer-changed' && event.layer === 'street_lights') {
          stop();
          resolve();
        }
      });
    });
    const merged = await api.request.post('/api/grids/merge').set(api.auth('planner')).send({ ids: [pair.a, pair.b], versions: [1, 1], commit: true }).expect(200);
    expect(merged.body.deletedIds).toEqual([pair.b]);
    await changed;
    expect(await one(db, 'SELECT count(*)::int AS n FROM street_lights WHERE grid_id = $1', [pair.a])).toEqual({ n: 3 });
    expect(await misplacedMembers(db.pool, cityCatalogue.with(streetLights).gridMembers)).toBe(0);
    const body = (await api.request.get(path).set(api.auth('planner')).buffer(true).parse(binary).expect(200)).body as Buffer;
    expect(decode(body).map((light) => light.grid_id)).toEqual([pair.a, pair.a, pair.a]);
  });

  it('gets an OGC API collection, read and written with the REST API\'s rules and roles', async () => {
    const created = await api.request
      .post('/ogc/collections/street_lights/items')
      .set(api.auth('planner'))
      .set('Content-Type', 'application/geo+json')
      .send(JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [at.lon, at.lat] }, properties: { kind: 'sodium', lumens: 2400 } }))
      .expect(201);
    const path = new URL(created.headers.location as string).pathname;
    const item = await api.request.get(path).set(api.auth('commander')).expect(200);
    const rest = await api.request.get(`/api/layers/street_lights/${item.body.id}`).set(api.auth('commander')).expect(200);
    expect(item.body.properties).toMatchObject({ kind: 'sodium', lumens: 2400, grid_id: rest.body.properties.grid_id });
    expect(rest.body.properties.grid_id).toEqual(expect.any(Number));
    const listed = await api.request.get('/ogc/collections/street_lights/items').query({ kind: 'sodium' }).set(api.auth('admin')).expect(200);
    expect(listed.body.features.map((feature: { id: number }) => feature.id)).toContain(item.body.id);
    await api.request.patch(path).set(api.auth('planner')).set('If-Match', item.headers.etag as string).send({ properties: { lumens: 5 } }).expect(400);
    await api.request.get('/ogc/collections/street_lights').set(api.auth('hotline')).expect(404);
    await api.request.delete(path).set(api.auth('planner')).expect(204);
  });

  it('is unknown to an app running on the city catalogue alone', async () => {
    const plain = await createTestApp(db);
    try {
      await plain.request.get('/tiles/street_lights.json').set(plain.auth('planner')).expect(404);
      await plain.request.get('/api/layers/street_lights').set(plain.auth('planner')).expect(404);
      await plain.request.get('/ogc/collections/street_lights').set(plain.auth('planner')).expect(404);
    } finally {
      await plain.close();
    }
  });
});
