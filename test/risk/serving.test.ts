import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import type { ChangeEvent } from '../../server/events/bus';
import { issuePredictions, trainFromDatabase } from '../../server/risk/service';
import { useTestApp } from '../support/app';
import { binary, tileAt } from '../support/tiles';

// Inside the demo city's year of accidents, so the model has a history before it.
const now = new Date('2025-10-15T09:30:00+08:00');
const clock = () => now;

describe('risk serving', () => {
  const suite = useTestApp({ clock });

  beforeAll(async () => {
    const model = await trainFromDatabase(suite.db.pool, clock);
    expect(model.unitKind).toBe('road');
    const announced = new Promise<ChangeEvent>((resolve) => {
      const stop = suite.api.events.onChange((event) => event.kind === 'risk-predicted' && (stop(), resolve(event)));
    });
    const issue = await issuePredictions(suite.db.pool, clock);
    expect(issue?.windows).toHaveLength(6);
    expect(await announced).toMatchObject({ kind: 'risk-predicted', modelVersion: model.version, windows: issue!.windows });
  }, 120_000);

  test('the model route shows version, training span, weights and the hold-out evaluation', async () => {
    const { body } = await suite.api.request.get('/api/risk/model').set(suite.api.auth('commander')).expect(200);
    expect(body.version).toBeGreaterThanOrEqual(1);
    expect(Date.parse(body.trainedTo)).toBeLessThanOrEqual(now.getTime() + 86_400_000);
    expect(body.parameters.model.names).toEqual(expect.arrayContaining(['longRunRate', 'timeOfDay', 'lanes', 'junctions']));
    expect(body.evaluation.results.map((result: { method: string }) => result.method)).toEqual(['model', 'HA_total', 'HA_slot', 'ceiling']);
  });

  test('served predictions equal the stored table, ranked, with levels and top features', async () => {
    const { body } = await suite.api.request.get(`/api/risk/segments?at=${encodeURIComponent('2025-10-15T11:10:00+08:00')}&limit=20`).set(suite.api.auth('police')).expect(200);
    expect(body).toMatchObject({ windowStart: '2025-10-15T02:00:00.000Z', windowEnd: '2025-10-15T04:00:00.000Z' });
    const { rows } = await suite.db.pool.query(
      `SELECT rank, unit_key AS "unitKey", road_id::int AS "roadId", expected, level, top_features AS "topFeatures"
       FROM risk_predictions WHERE window_start = '2025-10-15T10:00:00+08:00' ORDER BY rank LIMIT 20`,
    );
    expect(body.units.map(({ geometry: _geometry, ...unit }: { geometry: unknown }) => unit)).toEqual(rows);
    expect(body.total).toBeGreaterThan(100);
    expect(body.units[0]).toMatchObject({ rank: 1, level: 4, geometry: { type: 'LineString' } });
    expect(body.units[0].topFeatures.length).toBeGreaterThan(0);
    expect(body.units[0].topFeatures[0]).toEqual({ feature: expect.any(String), label: expect.any(String), factor: expect.any(Number) });
    const expected = body.units.map((unit: { expected: number }) => unit.expected);
    expect(expected).toEqual([...expected].sort((a, b) => b - a));
    const page = await suite.api.request.get('/api/risk/segments?limit=5&offset=5').set(suite.api.auth('admin')).expect(200);
    expect(page.body.windowStart).toBe('2025-10-15T00:00:00.000Z');
    expect(page.body.units.map((unit: { rank: number }) => unit.rank)).toEqual([6, 7, 8, 9, 10]);
  });

  test('a window without predictions is a 404, bad queries a 400, other roles a 403', async () => {
    const missing = await suite.api.request.get('/api/risk/segments?at=2025-12-01T00:00:00Z').set(suite.api.auth('police')).expect(404);
    expect(missing.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(missing.body.detail ?? missing.body.title).toMatch(/no risk predictions/);
    for (const query of ['limit=0', 'limit=5000', 'at=tomorrow', 'offset=-1', 'colour=red']) {
      const bad = await suite.api.request.get(`/api/risk/segments?${query}`).set(suite.api.auth('police')).expect(400);
      expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    for (const role of ['planner', 'hotline', 'grid_worker'] as const) {
      await suite.api.request.get('/api/risk/segments').set(suite.api.auth(role)).expect(403);
      await suite.api.request.get('/api/risk/model').set(suite.api.auth(role)).expect(403);
    }
    await suite.api.request.get('/api/risk/segments').expect(401);
  });

  test('deployment points cover the predicted risk PostGIS finds within their radius; bad queries are a 400', async () => {
    const at = encodeURIComponent('2025-10-15T11:10:00+08:00');
    const { body } = await suite.api.request.get(`/api/risk/deployment?at=${at}&units=5&radius_m=1200`).set(suite.api.auth('police')).expect(200);
    expect(body).toMatchObject({ windowStart: '2025-10-15T02:00:00.000Z', radiusM: 1200 });
    expect(body.points).toHaveLength(5);
    expect(body.points[0].catchment.type).toBe('Polygon');
    const gains = body.points.map((point: { addedExpected: number }) => point.addedExpected);
    expect(gains).toEqual([...gains].sort((a, b) => b - a));
    const { rows } = await suite.db.pool.query<{ covered: number; total: number }>(
      `WITH p AS (SELECT expected, CASE WHEN GeometryType(geom) = 'LINESTRING' THEN ST_LineInterpolatePoint(geom, 0.5) ELSE ST_PointOnSurface(geom) END AS pt
                  FROM risk_predictions WHERE window_start = '2025-10-15T10:00:00+08:00'),
            chosen AS (SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt FROM jsonb_to_recordset($1::jsonb) AS c (lon float8, lat float8))
       SELECT (SELECT sum(expected) FROM p WHERE EXISTS (SELECT 1 FROM chosen c WHERE ST_DWithin(c.pt::geography, p.pt::geography, 1200, false)))::float8 AS covered,
              (SELECT sum(expected) FROM p)::float8 AS total`,
      [JSON.stringify(body.points)],
    );
    expect(body.totalExpected).toBeCloseTo(rows[0].total, 6);
    expect(body.coveredExpected).toBeCloseTo(rows[0].covered, 2);
    expect(body.coveredShare).toBeCloseTo(rows[0].covered / rows[0].total, 3);
    const wider = await suite.api.request.get(`/api/risk/deployment?at=${at}&units=5&radius_m=3000`).set(suite.api.auth('commander')).expect(200);
    expect(wider.body.coveredShare).toBeGreaterThan(body.coveredShare);
    for (const query of ['units=0', 'units=51', 'radius_m=50', 'radius_m=abc', 'at=tomorrow', 'cars=3']) {
      const bad = await suite.api.request.get(`/api/risk/deployment?${query}`).set(suite.api.auth('police')).expect(400);
      expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    await suite.api.request.get('/api/risk/deployment?at=2025-12-01T00:00:00Z').set(suite.api.auth('police')).expect(404);
    await suite.api.request.get('/api/risk/deployment').set(suite.api.auth('planner')).expect(403);
  });

  test('risk tiles decode, with the attributes of the window asked for', async () => {
    const { rows } = await suite.db.pool.query<{ lon: number; lat: number; n: number }>(
      `SELECT ST_X(ST_Centroid(geom)) AS lon, ST_Y(ST_Centroid(geom)) AS lat FROM risk_predictions
       WHERE window_start = '2025-10-15T08:00:00+08:00' AND rank = 1`,
    );
    const tile = tileAt(rows[0].lon, rows[0].lat, 14);
    const response = await suite.api.request
      .get(`/tiles/risk/${tile.z}/${tile.x}/${tile.y}.mvt?at=${encodeURIComponent('2025-10-15T09:45:00+08:00')}`)
      .set(suite.api.auth('police'))
      .buffer(true)
      .parse(binary)
      .expect(200);
    const layer = new VectorTile(new PbfReader(response.body as Buffer)).layers.risk;
    expect(layer.length).toBeGreaterThan(0);
    const features = Array.from({ length: layer.length }, (_, index) => layer.feature(index).properties);
    const top = features.find((properties) => properties.rank === 1);
    expect(top).toMatchObject({ level: 4, window_start: '2025-10-15T00:00:00Z' });
    expect(typeof top?.top_feature).toBe('string');
    await suite.api.request.get(`/tiles/risk/${tile.z}/${tile.x}/${tile.y}.mvt`).set(suite.api.auth('planner')).expect(403);
  });

  test('new predictions are announced on the risk stream', async () => {
    const server = http.createServer(suite.api.listener).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const received = await new Promise<string>((resolve, reject) => {
        const request = http.get({ port, host: '127.0.0.1', path: '/api/risk/stream', headers: suite.api.auth('commander') }, (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            text += chunk;
            if (text.startsWith('retry:') && !text.includes('event: risk')) void issuePredictions(suite.db.pool, clock).catch(reject);
            if (text.includes('event: risk')) {
              request.destroy();
              resolve(text);
            }
          });
        });
        request.on('error', reject);
      });
      const data = JSON.parse(/event: risk\ndata: (.*)\n/.exec(received)![1]);
      expect(data).toMatchObject({ windows: expect.arrayContaining(['2025-10-15T00:00:00.000Z', '2025-10-15T10:00:00.000Z']), units: expect.any(Number) });
    } finally {
      server.close();
    }
  });

  // Last: a later issue replaces the stored windows the tests above read.
  test('a history that ended long ago still gives counts of the order the city had, not an extrapolation', async () => {
    const later = new Date('2026-09-01T10:00:00+08:00');
    const issue = await issuePredictions(suite.db.pool, () => later);
    const { rows } = await suite.db.pool.query<{ total: number; perWindow: number }>(
      `SELECT (SELECT sum(expected) FROM risk_predictions WHERE window_start = $1) AS total,
              (SELECT count(*) FROM accidents)::float8 / (365 * 12) AS "perWindow"`,
      [issue!.windows[0]],
    );
    expect(rows[0].total).toBeGreaterThan(0);
    expect(rows[0].total).toBeLessThan(5 * rows[0].perWindow);
  });
});
