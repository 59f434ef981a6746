import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { loadDemoCity, testCityOptions } from '../../data/demo/load';
import { loadConfig } from '../../server/config';
import { ensureEmbeddedCluster, removeCluster, startStreamingReplica, stopEmbeddedCluster } from '../../server/db/embedded';
import { migrate } from '../../server/db/migrate';
import { createPool, ensureDatabaseExists, type Pool } from '../../server/db/pool';
import type { ChangeEvent } from '../../server/events/bus';
import { createTestApp, type TestApp } from '../support/app';
import { freePort } from '../support/ports';
import { binary, type Tile, tileAt } from '../support/tiles';

const year = { from: '2025-01-01T00:00:00+08:00', to: '2026-01-01T00:00:00+08:00' };

// A replica is a copy of a local cluster made with pg_basebackup; a DATABASE_URL server may not allow that.
const describeLocal = loadConfig().DATABASE_URL ? describe.skip : describe;

/**
 * The primary is a throw-away cluster of its own (as the fault test's), not the suite's shared one: a replica of
 * that would copy, and then have to replay, every database the other test files clone meanwhile.
 */
describeLocal('read replica (DATABASE_READ_URL)', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-replica-'));
  const primaryHome = path.join(home, 'primary');
  const replicaHome = path.join(home, 'replica');
  let db: { url: string; pool: Pool };
  let replicaPort: number;
  let replica: Pool;
  let api: TestApp;

  beforeAll(async () => {
    const url = ensureEmbeddedCluster({ home: primaryHome, port: await freePort(), database: 'citygrid_replica', log: () => undefined });
    await ensureDatabaseExists(url);
    db = { url, pool: createPool(url, 4) };
    await migrate(db.pool);
    await loadDemoCity(db.pool, { ...testCityOptions, progress: false });
    replicaPort = await freePort();
    const replicaUrl = startStreamingReplica({ home: replicaHome, port: replicaPort, primaryUrl: url, log: () => undefined });
    replica = createPool(replicaUrl, 2);
    api = await createTestApp(db, { env: { DATABASE_READ_URL: replicaUrl, TILE_CACHE_MB: '0', READ_REPLICA_RETRY_S: '1' } });
  }, 240_000);

  afterAll(async () => {
    await api?.close();
    await replica?.end();
    await db?.pool.end();
    removeCluster(replicaHome);
    removeCluster(primaryHome);
    fs.rmSync(home, { recursive: true, force: true });
  }, 60_000);

  /** Waits until the replica has replayed everything the primary has written so far. */
  async function replicaCaughtUp(): Promise<void> {
    const { rows } = await db.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    for (;;) {
      const replayed = await replica.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [rows[0].lsn]);
      if (replayed.rows[0].done) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function placeNames(tile: Tile): Promise<string[]> {
    const response = await api.request.get(`/tiles/key_places/${tile.z}/${tile.x}/${tile.y}.mvt`).set(api.auth('planner')).buffer(true).parse(binary).expect((r) => {
      if (r.status !== 200 && r.status !== 204) throw new Error(`tile answered ${r.status}`);
    });
    const layer = new VectorTile(new PbfReader(response.body as Buffer)).layers.key_places;
    return Array.from({ length: layer?.length ?? 0 }, (_, i) => String(layer.feature(i).properties.name));
  }

  /** The place as OGC API – Features serves it: its name and ETag. */
  async function ogcPlace(id: number): Promise<{ name: string; etag: string }> {
    const response = await api.request.get(`/ogc/collections/key_places/items/${id}`).set(api.auth('planner')).expect(200);
    return { name: String(response.body.properties.name), etag: String(response.headers.etag) };
  }

  /** Names of the OGC features in a small box around the place, and how many features the box holds. */
  async function ogcNamesNear(place: { lon: number; lat: number }): Promise<{ names: string[]; matched: number }> {
    const bbox = [place.lon - 0.001, place.lat - 0.001, place.lon + 0.001, place.lat + 0.001].join(',');
    const response = await api.request.get('/ogc/collections/key_places/items').query({ bbox }).set(api.auth('planner')).expect(200);
    return { names: response.body.features.map((feature: { properties: { name: string } }) => feature.properties.name), matched: response.body.numberMatched };
  }

  async function somePlace(): Promise<{ id: number; name: string; lon: number; lat: number; tile: Tile }> {
    const { rows } = await db.pool.query<{ id: number; name: string; lon: number; lat: number }>(
      'SELECT id, name, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM key_places ORDER BY id LIMIT 1',
    );
    return { ...rows[0], tile: tileAt(rows[0].lon, rows[0].lat, 16) };
  }

  const nextChange = () => new Promise<ChangeEvent>((resolve) => {
    const stop = api.events.onChange((event) => {
      stop();
      resolve(event);
    });
  });

  it('serves tiles from the replica: a change it has not replayed yet is not in them, and is once replayed', async () => {
    const place = await somePlace();
    await replicaCaughtUp();
    await replica.query('SELECT pg_wal_replay_pause()');
    try {
      // Written on the primary without a change event, so nothing tells the read pool to wait for the replica.
      await db.pool.query('UPDATE key_places SET name = $2 WHERE id = $1', [place.id, 'renamed behind the replica']);
      expect(await placeNames(place.tile)).toContain(place.name);
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()');
    }
    await replicaCaughtUp();
    expect(await placeNames(place.tile)).toContain('renamed behind the replica');
    expect((await api.request.get('/health').expect(200)).body.reads).toBe('replica');
    const { rows } = await replica.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'citygrid reads'");
    expect(rows[0].n).toBeGreaterThan(0);
  });

  it('serves OGC API features and their counts from the replica: a change it has not replayed is not in them, and is once replayed', async () => {
    const place = await somePlace();
    await replicaCaughtUp();
    const before = await ogcNamesNear(place);
    await replica.query('SELECT pg_wal_replay_pause()');
    try {
      // Written on the primary without a change event: a row renamed and a row added next to it.
      await db.pool.query('UPDATE key_places SET name = $2 WHERE id = $1', [place.id, 'renamed for OGC behind the replica']);
      await db.pool.query(
        "INSERT INTO key_places (name, kind, geom) SELECT 'added behind the replica', kind, geom FROM key_places WHERE id = $1",
        [place.id],
      );
      expect((await ogcPlace(place.id)).name).toBe(place.name);
      expect(await ogcNamesNear(place)).toEqual(before);
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()');
    }
    await replicaCaughtUp();
    expect((await ogcPlace(place.id)).name).toBe('renamed for OGC behind the replica');
    const after = await ogcNamesNear(place);
    expect(after.matched).toBe(before.matched + 1);
    expect(after.names).toEqual(expect.arrayContaining(['renamed for OGC behind the replica', 'added behind the replica']));
  });

  it('reads a write made through the API at once, from the primary while the replica has not replayed it', async () => {
    const place = await somePlace();
    await replicaCaughtUp();
    await replica.query('SELECT pg_wal_replay_pause()');
    try {
      const changed = nextChange();
      await api.request.patch(`/api/layers/key_places/${place.id}`).set(api.auth('planner')).send({ properties: { name: 'renamed through the API' } }).expect(200);
      await changed;
      expect(await placeNames(place.tile)).toContain('renamed through the API');
      const onReplica = await replica.query<{ name: string }>('SELECT name FROM key_places WHERE id = $1', [place.id]);
      expect(onReplica.rows[0].name).not.toBe('renamed through the API');
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()');
    }
  });

  it('answers an OGC API write with the ETag the next read shows, read from the primary while the replica lags', async () => {
    const place = await somePlace();
    await replicaCaughtUp();
    const { etag } = await ogcPlace(place.id);
    await replica.query('SELECT pg_wal_replay_pause()');
    try {
      const changed = nextChange();
      const patched = await api.request
        .patch(`/ogc/collections/key_places/items/${place.id}`)
        .set(api.auth('planner'))
        .set('If-Match', etag)
        .send({ properties: { name: 'renamed through OGC' } })
        .expect(204);
      await changed;
      expect(await ogcPlace(place.id)).toEqual({ name: 'renamed through OGC', etag: patched.headers.etag });
      expect((await ogcNamesNear(place)).names).toContain('renamed through OGC');
      const onReplica = await replica.query<{ name: string }>('SELECT name FROM key_places WHERE id = $1', [place.id]);
      expect(onReplica.rows[0].name).not.toBe('renamed through OGC');
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()');
    }
  });

  it('answers tiles, OGC features, hotspots, statistics and the wall from the primary when the replica is stopped', async () => {
    const place = await somePlace();
    await replicaCaughtUp();
    const before = {
      hotspots: (await api.request.get('/api/hotspots').query({ ...year, res: 8 }).set(api.auth('planner')).expect(200)).body,
      stats: (await api.request.get('/api/stats/incidents').query({ ...year, groupBy: 'category' }).set(api.auth('planner')).expect(200)).body,
      ogc: await ogcNamesNear(place),
    };
    stopEmbeddedCluster({ home: replicaHome, port: replicaPort, database: 'citygrid_replica' });
    expect(await placeNames(place.tile)).toContain(place.name);
    // Other parameters than before, so the hotspot cache cannot answer: the primary does.
    const hotspots = await api.request.get('/api/hotspots').query({ ...year, res: 7 }).set(api.auth('planner')).expect(200);
    expect(hotspots.body.cells.length).toBeGreaterThan(0);
    expect(hotspots.body.cells.reduce((sum: number, cell: { count: number }) => sum + cell.count, 0)).toBe(before.hotspots.cells.reduce((sum: number, cell: { count: number }) => sum + cell.count, 0));
    expect((await api.request.get('/api/stats/incidents').query({ ...year, groupBy: 'category' }).set(api.auth('planner')).expect(200)).body).toEqual(before.stats);
    expect(await ogcNamesNear(place)).toEqual(before.ogc);
    expect((await ogcPlace(place.id)).name).toBe(place.name);
    expect((await api.request.get('/health').expect(200)).body.reads).toBe('primary');
    const grid = await db.pool.query<{ id: number }>('SELECT id FROM grids ORDER BY id LIMIT 1');
    await api.request.get(`/api/grids/${grid.rows[0].id}/stats`).set(api.auth('planner')).expect(200);
  });
});
