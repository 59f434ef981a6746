import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import type { Response } from 'supertest';
import type { Queryable } from '../../server/db/pool';
import { withWriteTransaction } from '../../server/db/write-context';
import { ensureSystemPackages } from '../../server/db/system-packages';
import { type ChangeEvent, publishChange } from '../../server/events/bus';
import { cityCatalogue } from '../../server/catalogue/city';
import { tileLayersOf } from '../../server/tiles/registry';
import { createIncidentBody } from '../../server/incidents/schemas';
import { reportIncident } from '../../server/incidents/service';
import type { SharedTile, TilePeers } from '../../server/tiles/peers';
import { queryTile, TileService } from '../../server/tiles/service';
import { useTestApp } from '../support/app';
import { announcedIncidents, binary, type Tile, tileAt } from '../support/tiles';

const tileLayerByName = tileLayersOf(cityCatalogue);

describe('vector tiles', () => {
  const suite = useTestApp();

  function getTile(layer: string, { z, x, y }: Tile, query = '', headers: Record<string, string> = suite.api.auth('planner')) {
    return suite.api.request.get(`/tiles/${layer}/${z}/${x}/${y}.mvt${query}`).set(headers).buffer(true).parse(binary);
  }

  function decode(response: Response) {
    return new VectorTile(new PbfReader(response.body as Buffer));
  }

  /** A tile holding the representative point of some row of the table, at zoom z. */
  async function tileOfRow(sql: string, z: number): Promise<Tile> {
    const { rows } = await suite.db.pool.query<{ lon: number; lat: number }>(sql);
    return tileAt(rows[0].lon, rows[0].lat, z);
  }

  /**
   * Features whose geometry touches the tile grown by the 64-pixel buffer, counted without the tile code. The tile
   * query's box test (&&) works in single precision and takes in a point a few centimetres past the buffer (the test
   * city has one): the count allows 10 cm.
   */
  async function countTouching(from: string, tile: Tile): Promise<number> {
    const { rows } = await suite.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${from}
       WHERE ST_Intersects(geom_3857, ST_Expand(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 0.1))`,
      [tile.z, tile.x, tile.y],
    );
    return rows[0].n;
  }

  function expectInsideBuffer(tile: VectorTile, layerName: string) {
    const layer = tile.layers[layerName];
    for (let i = 0; i < layer.length; i++) {
      for (const ring of layer.feature(i).loadGeometry()) {
        for (const point of ring) {
          expect(point.x).toBeGreaterThanOrEqual(-64);
          expect(point.x).toBeLessThanOrEqual(4096 + 64);
          expect(point.y).toBeGreaterThanOrEqual(-64);
          expect(point.y).toBeLessThanOrEqual(4096 + 64);
        }
      }
    }
  }

  const middleBuilding = `SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM buildings ORDER BY id OFFSET (SELECT count(*) / 2 FROM buildings) LIMIT 1) b`;

  it('lists the layers a role may see, never people', async () => {
    const { api } = suite;
    const planner = await api.request.get('/tiles').set(api.auth('planner')).expect(200);
    const names = planner.body.layers.map((layer: { name: string }) => layer.name);
    expect(names).toEqual(expect.arrayContaining(['grids', 'buildings', 'hazards', 'key_places', 'incidents', 'roads', 'accidents']));
    expect(names).not.toContain('people');
    const commander = await api.request.get('/tiles').set(api.auth('commander')).expect(200);
    expect(commander.body.layers.map((layer: { name: string }) => layer.name)).toContain('patrol_tracks');
    // Workers' traces are personal data: planners, police and the hotline desk do not see them.
    for (const role of ['planner', 'police', 'hotline'] as const) {
      const listed = await api.request.get('/tiles').set(api.auth(role)).expect(200);
      expect(listed.body.layers.map((layer: { name: string }) => layer.name)).not.toContain('patrol_tracks');
    }
    await api.request.get('/tiles/people/16/0/0.mvt').set(api.auth('admin')).expect(404);
    await api.request.get('/tiles').expect(401);
  });

  it.each([
    ['buildings', 'buildings', middleBuilding, 16, ['code', 'use', 'floors', 'grid_id']],
    ['hazards', 'hazards', 'SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM hazards ORDER BY id LIMIT 1', 13, ['name', 'kind', 'risk_level']],
    ['key_places', 'key_places', 'SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM key_places ORDER BY id LIMIT 1', 13, ['name', 'kind']],
    ['incidents', 'incidents', 'SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM incidents ORDER BY id LIMIT 1', 16, ['category', 'status', 'reported_at']],
    ['accidents', 'accidents', 'SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM accidents ORDER BY id LIMIT 1', 15, ['severity', 'occurred_at']],
    ['roads', 'roads', 'SELECT ST_X(ST_PointN(geom, 1)) AS lon, ST_Y(ST_PointN(geom, 1)) AS lat FROM roads ORDER BY id LIMIT 1', 15, ['kind', 'lanes']],
    ['patrol_tracks', 'patrol_tracks', 'SELECT ST_X(ST_PointN(geom, 1)) AS lon, ST_Y(ST_PointN(geom, 1)) AS lat FROM patrol_tracks ORDER BY id LIMIT 1', 15, ['worker']],
    ['grids', '(SELECT * FROM grids WHERE level = 4) g', middleBuilding, 15, ['code', 'name', 'level']],
  ])('%s: the tile holds exactly the features touching it, with attributes, inside extent + buffer', async (layer, from, locate, z, attributes) => {
    const tile = await tileOfRow(locate, z);
    const reader = layer === 'patrol_tracks' ? 'commander' : 'planner'; // workers' traces are not the planner's to read
    const response = await getTile(layer, tile, '', suite.api.auth(reader)).expect(200);
    expect(response.headers['content-type']).toBe('application/vnd.mapbox-vector-tile');
    const decoded = decode(response);
    expect(Object.keys(decoded.layers)).toEqual([layer]);
    const expected = await countTouching(from, tile);
    expect(expected).toBeGreaterThan(0);
    expect(decoded.layers[layer].length).toBe(expected);
    expect(decoded.layers[layer].extent).toBe(4096);
    expect(Object.keys(decoded.layers[layer].feature(0).properties)).toEqual(expect.arrayContaining(attributes));
    expectInsideBuffer(decoded, layer);
  });

  it('incidents below z15 are counts per level-4 grid that match SQL, and filters are bound', async () => {
    const { db } = suite;
    const tile = await tileOfRow(middleBuilding, 12);
    const { rows } = await db.pool.query<{ category: string }>('SELECT category FROM incidents GROUP BY category ORDER BY count(*) DESC LIMIT 1');
    const { category } = rows[0];
    const response = await getTile('incidents', tile, `?category=${encodeURIComponent(category)}&from=2025-03-01T00:00:00Z&to=2025-06-01T00:00:00Z`).expect(200);
    const layer = decode(response).layers.incidents;
    const { rows: grids } = await db.pool.query<{ id: number; n: number }>(
      `SELECT g.id, count(i.id)::int AS n FROM grids g JOIN incidents i ON i.grid_id = g.id
       WHERE g.level = 4 AND ST_Intersects(g.geom, ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4326))
         AND i.category = $4 AND i.reported_at >= '2025-03-01Z' AND i.reported_at < '2025-06-01Z'
       GROUP BY g.id`,
      [tile.z, tile.x, tile.y, category],
    );
    expect(grids.length).toBeGreaterThan(0);
    expect(layer.length).toBe(grids.length);
    const counts = new Map(Array.from({ length: layer.length }, (_, i) => [layer.feature(i).id, layer.feature(i).properties.incident_count]));
    for (const grid of grids) expect(counts.get(grid.id)).toBe(grid.n);

    const injection = await getTile('incidents', tile, `?category=${encodeURIComponent("x' OR '1'='1")}`);
    expect(injection.status).toBe(204);
    const { rows: still } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM incidents');
    expect(still[0].n).toBeGreaterThan(0);
  });

  it('rejects invalid tile addresses, foreign filters and bad filter values with 400 problems', async () => {
    const { api } = suite;
    for (const url of ['/tiles/buildings/3/8/0.mvt', '/tiles/buildings/3/0/8.mvt', '/tiles/buildings/23/0/0.mvt', '/tiles/buildings/a/0/0.mvt', '/tiles/buildings/14/-1/0.mvt', '/tiles/buildings/14/1.5/0.mvt', '/tiles/buildings/14/0/0.mvt?category=x', '/tiles/incidents/14/0/0.mvt?from=yesterday', '/tiles/grids/14/0/0.mvt?level=9', '/tiles/grids/14/0/0.mvt?nope=1']) {
      const response = await api.request.get(url).set(api.auth('planner'));
      expect([url, response.status]).toEqual([url, 400]);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
    }
  });

  it('answers 204 for an empty tile and for a zoom outside the layer', async () => {
    await getTile('buildings', { z: 14, x: 0, y: 0 }).expect(204);
    await getTile('buildings', await tileOfRow(middleBuilding, 10)).expect(204);
  });

  it('serves identical bytes from the database and from the cache, with an ETag that gives 304', async () => {
    const { db, api } = suite;
    const tile = await tileOfRow(middleBuilding, 15);
    const first = await getTile('buildings', tile).expect(200);
    const second = await getTile('buildings', tile).expect(200);
    expect(second.headers['content-encoding']).toBe('gzip');
    expect(Buffer.compare(first.body, second.body)).toBe(0);
    const raw = await queryTile(db.pool, tileLayerByName.get('buildings')!, tile, []);
    expect(Buffer.compare(first.body, raw)).toBe(0);
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(first.headers['cache-control']).toBe('private, no-cache');
    await getTile('buildings', tile, '', { ...api.auth('planner'), 'If-None-Match': first.headers.etag }).expect(304);
    const identity = await getTile('buildings', tile, '', { ...api.auth('planner'), 'Accept-Encoding': 'identity' }).expect(200);
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(Buffer.compare(identity.body, raw)).toBe(0);
  });

  /** Response headers that must not differ between two answers to the same request. */
  function stableHeaders(response: Response): Record<string, string> {
    const { date: _date, 'x-request-id': _id, ...headers } = response.headers as Record<string, string>;
    return headers;
  }

  it('gives the same bytes for a tile on every execution, whatever plan PostgreSQL picks', async () => {
    const { db } = suite;
    const client = await db.pool.connect();
    try {
      for (const [layer, z] of [['hazards', 12], ['key_places', 12], ['roads', 14], ['buildings', 16]] as const) {
        const tile = await tileOfRow(middleBuilding, z);
        const source = tileLayerByName.get(layer)!;
        // PostgreSQL plans a prepared statement's first 5 executions for their values, then may switch to a
        // generic plan that scans in another order.
        const runs = [];
        for (let i = 0; i < 8; i++) runs.push(await queryTile(client, source, tile, []));
        expect(runs[0].length).toBeGreaterThan(0);
        for (const run of runs) expect(Buffer.compare(run, runs[0])).toBe(0);
      }
    } finally {
      client.release();
    }
  });

  it('answers a cached tile before Koa with the same status, headers and bytes as the route', async () => {
    const { api } = suite;
    const tile = await tileOfRow(middleBuilding, 14);
    const empty = { z: 14, x: 0, y: 0 };
    const fromRoute = await getTile('buildings', tile).expect(200);
    const emptyFromRoute = await getTile('buildings', empty).expect(204);
    const contexts = jest.spyOn(api.app.koa, 'createContext');
    try {
      const fromCache = await getTile('buildings', tile, '', { ...api.auth('planner'), 'X-Request-Id': 'wall-7' }).expect(200);
      const emptyFromCache = await getTile('buildings', empty).expect(204);
      const notModified = await getTile('buildings', tile, '', { ...api.auth('planner'), 'If-None-Match': `"x", ${fromRoute.headers.etag}` }).expect(304);
      expect(contexts).not.toHaveBeenCalled();
      expect(stableHeaders(fromCache)).toEqual(stableHeaders(fromRoute));
      expect(Buffer.compare(fromCache.body, fromRoute.body)).toBe(0);
      expect(fromCache.headers['x-request-id']).toBe('wall-7');
      expect(stableHeaders(emptyFromCache)).toEqual(stableHeaders(emptyFromRoute));
      expect(notModified.headers).toMatchObject({ etag: fromRoute.headers.etag, 'cache-control': 'private, no-cache', vary: 'Accept-Encoding' });
      expect(notModified.headers['content-type']).toBeUndefined();
      expect(notModified.headers['x-request-id']).toEqual(expect.any(String));
    } finally {
      contexts.mockRestore();
    }
  });

  it('keeps the roles, tokens and validation of the route for cached tiles', async () => {
    const { api } = suite;
    const tile = await tileOfRow('SELECT ST_X(ST_PointN(geom, 1)) AS lon, ST_Y(ST_PointN(geom, 1)) AS lat FROM patrol_tracks ORDER BY id LIMIT 1', 15);
    const path = `/tiles/patrol_tracks/${tile.z}/${tile.x}/${tile.y}.mvt`;
    const commander = api.auth('commander');
    await getTile('patrol_tracks', tile, '', commander).expect(200);
    await getTile('patrol_tracks', tile, '', commander).expect(200);
    // Workers' traces are personal data: planners and police never see them, cached or not.
    await getTile('patrol_tracks', tile, '', api.auth('planner')).expect(403);
    const refused = await getTile('patrol_tracks', tile, '', api.auth('hotline')).expect(403);
    expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.parse(refused.body.toString())).toMatchObject({ type: 'forbidden', status: 403, instance: path });
    const anonymous = await api.request.get(path).expect(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer');
    expect(anonymous.body).toMatchObject({ type: 'unauthorized', instance: path });
    await api.request.get(path).set('Authorization', 'Bearer not-a-token').expect(401);
    await api.request.get(`${path}?access_token=${api.tokens.hotline}`).expect(403);
    await api.request.get(`${path}?access_token=${api.tokens.police}`).expect(403);
    await api.request.get(`${path}?access_token=${api.tokens.commander}`).expect(200);
    // Twice each: the fast path remembers what a URL resolved to, and must not remember its way past a check.
    for (let pass = 0; pass < 2; pass++) {
      await getTile('patrol_tracks', tile, '?category=x', commander).expect(400);
      await getTile('patrol_tracks', tile, '?access_token=a&access_token=b', commander).expect(400);
      await getTile('patrol_tracks', { ...tile, x: 2 ** tile.z }, '', commander).expect(400);
      await api.request.get(path).set('Authorization', `Bearer ${api.tokens.hotline}`).expect(403);
      await api.request.get(path).set('Authorization', `Bearer ${api.tokens.police}`).expect(403);
      await api.request.get(path).set('Authorization', `Bearer ${api.tokens.commander}`).expect(200);
    }
  });

  it('shows an edited building in the next tile response, on every process that hears the change', async () => {
    const { db, api } = suite;
    const tile = await tileOfRow(middleBuilding, 16);
    const before = await getTile('buildings', tile).expect(200);
    const { rows } = await db.pool.query<{ id: number; bbox: [number, number, number, number] }>(
      `SELECT id, ARRAY[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)] AS bbox FROM buildings
       WHERE ST_Intersects(geom, ST_Transform(ST_TileEnvelope($1, $2, $3), 4326)) ORDER BY id LIMIT 1`,
      [tile.z, tile.x, tile.y],
    );
    const { id, bbox } = rows[0];
    const heard = new Promise<ChangeEvent>((resolve) => {
      const stop = api.events.onChange((event) => {
        stop();
        resolve(event);
      });
    });
    await withWriteTransaction(db.pool, { actor: null, route: 'test edit' }, async (client) => {
      await client.query(`UPDATE buildings SET use = 'edited-in-test', updated_at = now() WHERE id = $1`, [id]);
      await publishChange(client, { kind: 'layer-changed', layer: 'buildings', ids: [id], bbox });
    });
    await heard;
    const after = await getTile('buildings', tile, '', { ...api.auth('planner'), 'If-None-Match': before.headers.etag }).expect(200);
    expect(after.headers.etag).not.toBe(before.headers.etag);
    const layer = decode(after).layers.buildings;
    const edited = Array.from({ length: layer.length }, (_, i) => layer.feature(i)).find((feature) => feature.id === id);
    expect(edited?.properties.use).toBe('edited-in-test');
  });

  it('updates incident counts in every count tile when one incident is added, wherever it lies', async () => {
    const { db, api } = suite;
    const tile = await tileOfRow(middleBuilding, 12);
    const before = decode(await getTile('incidents', tile).expect(200)).layers.incidents;
    const first = before.feature(0);
    const heard = new Promise<void>((resolve) => {
      const stop = api.events.onChange(() => {
        stop();
        resolve();
      });
    });
    await withWriteTransaction(db.pool, { actor: null, route: 'test insert' }, async (client) => {
      const { rows } = await client.query<{ id: number; bbox: [number, number, number, number] }>(
        `INSERT INTO incidents (category, source, status, reported_at, geom, grid_id)
         SELECT '环境卫生', 'app', 'reported', now(), p, $1 FROM (SELECT ST_PointOnSurface(geom) AS p FROM grids WHERE id = $1) g
         RETURNING id, ARRAY[ST_X(geom), ST_Y(geom), ST_X(geom), ST_Y(geom)] AS bbox`,
        [first.id],
      );
      await publishChange(client, { kind: 'layer-changed', layer: 'incidents', ids: [rows[0].id], bbox: rows[0].bbox });
    });
    await heard;
    const after = decode(await getTile('incidents', tile).expect(200)).layers.incidents;
    const counts = new Map(Array.from({ length: after.length }, (_, i) => [after.feature(i).id, after.feature(i).properties.incident_count]));
    expect(counts.get(first.id)).toBe((first.properties.incident_count as number) + 1);
  });

  it('drops exactly the cached tiles whose buffered bounds touch a change', async () => {
    const { db } = suite;
    const service = new TileService(db.pool, tileLayerByName, 16 * 1024 * 1024);
    const buildings = tileLayerByName.get('buildings')!;
    const near = await tileOfRow(middleBuilding, 16);
    const neighbour = { ...near, x: near.x + 1 };
    const far = { ...near, x: near.x + 5 };
    for (const tile of [near, neighbour, far]) await service.tile(buildings, tile, {}, 'gzip');
    await service.tile(tileLayerByName.get('hazards')!, near, {}, 'gzip');
    expect(service.cacheSize.tiles).toBe(4);
    // A point-sized change well inside `near`: its neighbours' buffers do not reach it.
    const { rows } = await db.pool.query<{ lon: number; lat: number }>(
      'SELECT ST_X(c) AS lon, ST_Y(c) AS lat FROM (SELECT ST_Transform(ST_Centroid(ST_TileEnvelope($1, $2, $3)), 4326) AS c) p',
      [near.z, near.x, near.y],
    );
    const point: [number, number, number, number] = [rows[0].lon, rows[0].lat, rows[0].lon, rows[0].lat];
    expect(service.invalidate({ kind: 'layer-changed', layer: 'buildings', ids: [1], bbox: point })).toBe(1);
    expect(service.cacheSize.tiles).toBe(3);
    expect(service.invalidate({ kind: 'layer-changed', layer: 'buildings', ids: [], bbox: null })).toBe(2);
    expect(service.cacheSize.tiles).toBe(1);
    // Count tiles summarise whole grids: any incident change drops them; single-incident tiles only nearby.
    const incidents = tileLayerByName.get('incidents')!;
    await service.tile(incidents, { z: 12, x: near.x >> 4, y: near.y >> 4 }, {}, 'gzip');
    await service.tile(incidents, near, {}, 'gzip');
    expect(service.cacheSize.tiles).toBe(3);
    expect(service.invalidate({ kind: 'layer-changed', layer: 'incidents', ids: [1], bbox: [0, 0, 0.001, 0.001] })).toBe(1);
    expect(service.invalidate({ kind: 'incident-changed', id: 1, status: 'closed' })).toBe(1);
    expect(service.cacheSize.tiles).toBe(1);
  });

  it('drops only the incident tiles touching the grid of a reported incident, counts included', async () => {
    const { db, api } = suite;
    const { rows } = await db.pool.query<{ lon: number; lat: number; east: number }>(
      `SELECT ST_X(p) AS lon, ST_Y(p) AS lat, ST_XMax(geom) AS east
       FROM (SELECT geom, ST_PointOnSurface(geom) AS p FROM grids WHERE level = 4 ORDER BY id DESC LIMIT 1) g`,
    );
    const { lon, lat, east } = rows[0];
    const incidents = tileLayerByName.get('incidents')!;
    const counts = tileAt(lon, lat, 14);
    const points = tileAt(lon, lat, 16);
    // Well east of the grid: no tile edge or buffer of it reaches the grid.
    const farCounts = tileAt(east + 0.05, lat, 14);
    const service = new TileService(db.pool, tileLayerByName, 16 * 1024 * 1024);
    const stop = service.listen(api.events);
    try {
      for (const tile of [counts, points, farCounts]) await service.tile(incidents, tile, {}, 'gzip');
      const gridId = (await db.pool.query<{ id: number }>('SELECT id FROM grids WHERE level = 4 ORDER BY id DESC LIMIT 1')).rows[0].id;
      const countOf = (response: Response) => {
        const layer = decode(response).layers.incidents;
        const grid = Array.from({ length: layer.length }, (_, i) => layer.feature(i)).find((feature) => feature.id === gridId);
        return (grid?.properties.incident_count as number | undefined) ?? 0;
      };
      const before = countOf(await getTile('incidents', counts).expect(200));
      const heard = new Promise<ChangeEvent>((resolve) => {
        const off = api.events.onChange((event) => {
          if (event.kind !== 'incident-changed') return;
          off();
          resolve(event);
        });
      });
      await api.request
        .post('/api/incidents')
        .set(api.auth('hotline'))
        .send({ category: '违章建筑', source: 'hotline', location: { type: 'Point', coordinates: [lon, lat] } })
        .expect(201);
      const event = await heard;
      // The event names the whole grid, whose count is drawn in every tile the grid touches.
      const grid = (await db.pool.query<{ bbox: number[] }>('SELECT ARRAY[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)] AS bbox FROM grids WHERE id = $1', [gridId])).rows[0];
      expect(event.kind === 'incident-changed' && event.gridBbox?.map((v) => v.toFixed(6))).toEqual(grid.bbox.map((v) => v.toFixed(6)));
      expect(service.cached(incidents, counts, {})).toBeUndefined();
      expect(service.cached(incidents, points, {})).toBeUndefined();
      expect(service.cached(incidents, farCounts, {})).toBeDefined();
      expect(countOf(await getTile('incidents', counts).expect(200))).toBe(before + 1);
    } finally {
      stop();
    }
  });

  it('makes a missing tile once for requests meanwhile, and caches it unless a change touching it came in while it was made', async () => {
    const { db } = suite;
    const buildings = tileLayerByName.get('buildings')!;
    const tile = await tileOfRow(middleBuilding, 15);
    let queries = 0;
    let changeDuringQuery: ChangeEvent | null = null;
    const counted: Queryable = {
      query: ((...args: Parameters<Queryable['query']>) => {
        queries++;
        if (changeDuringQuery) service.invalidate(changeDuringQuery);
        return db.pool.query(...args);
      }) as Queryable['query'],
    };
    const service: TileService = new TileService(counted, tileLayerByName, 16 * 1024 * 1024);
    const [zipped, plain] = await Promise.all([service.tile(buildings, tile, {}, 'gzip'), service.tile(buildings, tile, {}, 'identity')]);
    expect(queries).toBe(1);
    expect(plain.etag).toBe(zipped.etag);
    expect(zlib.gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    expect(service.cached(buildings, tile, {})?.etag).toBe(zipped.etag);
    // A change far away while the next tile is made: it is kept.
    changeDuringQuery = { kind: 'layer-changed', layer: 'buildings', ids: [1], bbox: [0, 0, 0.001, 0.001] };
    const west = { ...tile, x: tile.x - 1 };
    await service.tile(buildings, west, {}, 'gzip');
    expect(service.cached(buildings, west, {})).toBeDefined();
    // A change that may touch it: answered, but not kept, as it may show the state before the change.
    changeDuringQuery = { kind: 'layer-changed', layer: 'buildings', ids: [1], bbox: null };
    const east = { ...tile, x: tile.x + 1 };
    await service.tile(buildings, east, {}, 'gzip');
    expect(service.cached(buildings, east, {})).toBeUndefined();
    expect(queries).toBe(3);
  });

  it('hands the tiles it keeps to the other processes, which keep them unless a change that may alter them came after the query began', async () => {
    const { db } = suite;
    const buildings = tileLayerByName.get('buildings')!;
    const tile = await tileOfRow(middleBuilding, 15);
    // Two processes' tile services, joined as the supervisor joins its workers (tiles/peers.ts: relayTiles).
    const takers: Array<(shared: SharedTile) => void> = [];
    const peerOf = (index: number): TilePeers => ({
      share: (shared) => takers.forEach((take, i) => i !== index && take(shared)),
      onShared: (take) => {
        takers[index] = take;
        return () => undefined;
      },
    });
    let duringMakersQuery = () => {};
    const makersDb: Queryable = {
      query: ((...args: Parameters<Queryable['query']>) => {
        duringMakersQuery();
        return db.pool.query(...args);
      }) as Queryable['query'],
    };
    let othersQueries = 0;
    const othersDb: Queryable = {
      query: ((...args: Parameters<Queryable['query']>) => {
        othersQueries++;
        return db.pool.query(...args);
      }) as Queryable['query'],
    };
    const quiet = { onChange: () => () => undefined, onResync: () => () => undefined };
    const maker = new TileService(makersDb, tileLayerByName, 16 * 1024 * 1024, {}, peerOf(0));
    const other = new TileService(othersDb, tileLayerByName, 16 * 1024 * 1024, {}, peerOf(1));
    maker.listen(quiet);
    other.listen(quiet);

    const made = await maker.tile(buildings, tile, {}, 'gzip');
    expect(other.cached(buildings, tile, {})?.etag).toBe(made.etag);
    expect((await other.tile(buildings, tile, {}, 'gzip')).body.equals(made.body)).toBe(true);
    expect(othersQueries).toBe(0);

    // A change that may alter the tile reaches the other process while the maker's query runs: the copy may predate it.
    const east = { ...tile, x: tile.x + 1 };
    duringMakersQuery = () => other.invalidate({ kind: 'layer-changed', layer: 'buildings', ids: [], bbox: null });
    await maker.tile(buildings, east, {}, 'gzip');
    expect(maker.cached(buildings, east, {})).toBeDefined();
    expect(other.cached(buildings, east, {})).toBeUndefined();
    // Changes are judged by the millisecond they were heard in: the next query begins in a later one.
    const nextMillisecond = async () => {
      for (const now = Date.now(); Date.now() <= now; ) await new Promise<void>((resolve) => setImmediate(resolve));
    };
    // One far from the tile changes nothing; nor does one heard before the query began.
    await nextMillisecond();
    const west = { ...tile, x: tile.x - 1 };
    duringMakersQuery = () => other.invalidate({ kind: 'layer-changed', layer: 'buildings', ids: [1], bbox: [0, 0, 0.001, 0.001] });
    await maker.tile(buildings, west, {}, 'gzip');
    expect(other.cached(buildings, west, {})).toBeDefined();
    duringMakersQuery = () => {};
    other.invalidate({ kind: 'layer-changed', layer: 'buildings', ids: [], bbox: null });
    await nextMillisecond();
    const north = { ...tile, y: tile.y - 1 };
    await maker.tile(buildings, north, {}, 'gzip');
    expect(other.cached(buildings, north, {})).toBeDefined();
    expect(othersQueries).toBe(0);
  });

  it('drops the incident tiles of each grid of an intake batch, not those between its grids', async () => {
    const { db, api } = suite;
    // The westmost and eastmost level-4 grids, and a tile at the city's middle that touches neither.
    const { rows } = await db.pool.query<{ id: number; lon: number; lat: number; xmin: number; xmax: number }>(
      `(SELECT id, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat, ST_XMin(geom) AS xmin, ST_XMax(geom) AS xmax
          FROM grids WHERE level = 4 ORDER BY ST_XMin(geom) LIMIT 1)
       UNION ALL
       (SELECT id, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)), ST_XMin(geom), ST_XMax(geom)
          FROM grids WHERE level = 4 ORDER BY ST_XMax(geom) DESC LIMIT 1)`,
    );
    const [west, east] = rows;
    const between = tileAt((west.xmax + east.xmin) / 2, (west.lat + east.lat) / 2, 16);
    const [westTile, eastTile] = [tileAt(west.lon, west.lat, 16), tileAt(east.lon, east.lat, 16)];
    expect(west.xmax).toBeLessThan(east.xmin);
    const incidents = tileLayerByName.get('incidents')!;
    const service = new TileService(db.pool, tileLayerByName, 16 * 1024 * 1024);
    const stop = service.listen(api.events);
    const batches: ChangeEvent[] = [];
    let off = () => {};
    const twoBatches = new Promise<void>((resolve) => {
      off = api.events.onChange((event) => {
        if (event.kind === 'incident-changed' && batches.push(event) === 2) resolve();
      });
    });
    try {
      for (const tile of [between, westTile, eastTile]) await service.tile(incidents, tile, {}, 'gzip');
      const report = (grid: { lon: number; lat: number }) =>
        reportIncident(db.pool, () => new Date(), { actor: null, route: 'test' }, createIncidentBody.parse({ category: '违章建筑', source: 'hotline', location: { type: 'Point', coordinates: [grid.lon, grid.lat] } }));
      // Submitted together: the first is written alone, the next two wait and are written as one batch.
      await Promise.all([report(west), report(west), report(east)]);
      await twoBatches;
      const batch = batches[1];
      expect(batch.kind === 'incident-changed' && batch.ids?.length).toBe(2);
      expect(batch.kind === 'incident-changed' && batch.gridBboxes?.length).toBe(2);
      expect(service.cached(incidents, westTile, {})).toBeUndefined();
      expect(service.cached(incidents, eastTile, {})).toBeUndefined();
      // The box around both grids would cover it: only the two grids' boxes keep it.
      expect(service.cached(incidents, between, {})).toBeDefined();
    } finally {
      off();
      stop();
    }
  });

  it('drops the single-incident tiles where the reports of an intake batch lie, not the rest of their grid', async () => {
    const { db, api } = suite;
    // A level-4 grid's inner point, and the corner of its box: both inside the box announced for the grid.
    const { rows } = await db.pool.query<{ lon: number; lat: number; xmin: number; ymin: number }>(
      `SELECT ST_X(p) AS lon, ST_Y(p) AS lat, ST_XMin(geom) AS xmin, ST_YMin(geom) AS ymin
       FROM (SELECT geom, ST_PointOnSurface(geom) AS p FROM grids WHERE level = 4 ORDER BY id LIMIT 1) g`,
    );
    const [grid] = rows;
    const z = 18;
    const inner = tileAt(grid.lon, grid.lat, z);
    const corner = tileAt(grid.xmin + 1e-7, grid.ymin + 1e-7, z);
    expect(Math.max(Math.abs(corner.x - inner.x), Math.abs(corner.y - inner.y))).toBeGreaterThan(2);
    // A second report 16 pixels inside the inner tile's east edge: the eastern neighbour shows it in its buffer.
    const eastEdge = ((inner.x + 1) / 2 ** z) * 360 - 180;
    const nearEdge = { lon: eastEdge - (16 / 4096) * (360 / 2 ** z), lat: grid.lat };
    const neighbour = { ...inner, x: inner.x + 1 };
    const inside = await db.pool.query<{ grid: number }>('SELECT grid_at(ST_SetSRID(ST_MakePoint($1, $2), 4326)) AS grid', [nearEdge.lon, nearEdge.lat]);
    expect(inside.rows[0].grid).not.toBeNull();
    const incidents = tileLayerByName.get('incidents')!;
    const service = new TileService(db.pool, tileLayerByName, 16 * 1024 * 1024);
    const stop = service.listen(api.events);
    const announced = announcedIncidents(api.events);
    try {
      for (const tile of [inner, corner, neighbour]) await service.tile(incidents, tile, {}, 'gzip');
      const report = (at: { lon: number; lat: number }) =>
        reportIncident(db.pool, () => new Date(), { actor: null, route: 'test' }, createIncidentBody.parse({ category: '违章建筑', source: 'hotline', location: { type: 'Point', coordinates: [at.lon, at.lat] } }));
      const [atInner, atEdge] = await Promise.all([report(grid), report(nearEdge)]);
      const ids = [atInner.id as number, atEdge.id as number];
      await announced.all(ids);
      // The corner of the grid's box is far from both reports: its tile stays.
      expect(service.cached(incidents, corner, {})).toBeDefined();
      const shown = async (tile: Tile) => {
        expect(service.cached(incidents, tile, {})).toBeUndefined();
        const layer = new VectorTile(new PbfReader((await service.tile(incidents, tile, {}, 'identity')).body)).layers.incidents;
        return Array.from({ length: layer?.length ?? 0 }, (_, i) => layer.feature(i).id);
      };
      expect(await shown(inner)).toEqual(expect.arrayContaining(ids));
      expect(await shown(neighbour)).toContain(ids[1]);
    } finally {
      announced.off();
      stop();
    }
  });

  it('accepts ?access_token= and applies layer roles', async () => {
    const { api } = suite;
    const tile = await tileOfRow(middleBuilding, 15);
    await api.request.get(`/tiles/buildings/${tile.z}/${tile.x}/${tile.y}.mvt?access_token=${api.tokens.hotline}`).expect(200);
    await api.request.get(`/tiles/patrol_tracks/${tile.z}/${tile.x}/${tile.y}.mvt?access_token=${api.tokens.hotline}`).expect(403);
    await api.request.get(`/tiles/buildings/${tile.z}/${tile.x}/${tile.y}.mvt`).expect(401);
  });

  it('describes a layer as TileJSON 3.0.0', async () => {
    const { db, api } = suite;
    const response = await api.request.get('/tiles/incidents.json?status=open').set(api.auth('commander')).expect(200);
    expect(response.body).toMatchObject({ tilejson: '3.0.0', name: 'incidents', minzoom: 0, maxzoom: 22 });
    // Absolute URLs of this server as the client reached it (the request carries no Origin header).
    expect(response.body.tiles[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/tiles\/incidents\/\{z\}\/\{x\}\/\{y\}\.mvt\?status=open$/);
    const listed = await api.request.get('/tiles').set(api.auth('commander')).expect(200);
    expect(listed.body.layers.find((layer: { name: string }) => layer.name === 'incidents').tilejson).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/tiles\/incidents\.json$/);
    expect(response.body.vector_layers[0]).toMatchObject({ id: 'incidents', fields: { category: 'String', incident_count: 'Number' } });
    const { rows } = await db.pool.query<{ minx: number; maxy: number }>('SELECT ST_XMin(ST_Extent(geom)) AS minx, ST_YMax(ST_Extent(geom)) AS maxy FROM incidents');
    expect(response.body.bounds[0]).toBeCloseTo(rows[0].minx, 6);
    expect(response.body.bounds[3]).toBeCloseTo(rows[0].maxy, 6);
    const [west, south, east, north] = response.body.bounds;
    expect(response.body.center[0]).toBeGreaterThan(west);
    expect(response.body.center[0]).toBeLessThan(east);
    expect(response.body.center[1]).toBeGreaterThan(south);
    expect(response.body.center[1]).toBeLessThan(north);
  });

  it('documents the tile routes in the OpenAPI document', async () => {
    const { api } = suite;
    const response = await api.request.get('/api').expect(200);
    expect(Object.keys(response.body.paths)).toEqual(expect.arrayContaining(['/tiles', '/tiles/{layer}.json', '/tiles/{layer}/{z}/{x}/{y}.mvt']));
  });

  it('gives tiles that ogrinfo (GDAL) opens as MVT files', async () => {
    ensureSystemPackages(['gdal']);
    const tile = await tileOfRow(middleBuilding, 16);
    const response = await getTile('buildings', tile).expect(200);
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-tile-'));
    const file = path.join(folder, 'tile.mvt');
    fs.writeFileSync(file, response.body);
    try {
      const listing = execFileSync('ogrinfo', ['-ro', '-q', file], { encoding: 'utf8' });
      expect(listing).toMatch(/1: buildings \((Multi)?Polygon\)/);
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
