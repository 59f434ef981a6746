import { createToken } from '../../server/auth/tokens';
import { useTestApp } from '../support/app';
import { type Fix, forget, gridWithWorker, post, shiftedNorth, shuffled, storedTracks, walkEast } from './support';

// The app's "now": 14:00 in Shanghai on 10 January 2026; the walks start at 09:00 that day.
const now = new Date('2026-01-10T06:00:00.000Z');
const nineLocal = Date.parse('2026-01-10T01:00:00.000Z');
const day = '2026-01-10';

describe('patrol ingest: idempotent, order-free, flags and splits, refused whole', () => {
  let mine: Awaited<ReturnType<typeof gridWithWorker>>;
  let other: Awaited<ReturnType<typeof gridWithWorker>>;
  const tokens = { mine: '', unbound: '' };
  const suite = useTestApp(async (db) => {
    mine = await gridWithWorker(db.pool, 0);
    other = await gridWithWorker(db.pool, 3);
    tokens.mine = (await createToken(db.pool, { role: 'grid_worker', gridIds: [mine.gridId], worker: mine.worker })).token;
    tokens.unbound = (await createToken(db.pool, { role: 'grid_worker', gridIds: [mine.gridId] })).token;
    return { clock: () => now };
  });
  const admin = () => suite.api.tokens.admin;
  const storedCount = async () => (await suite.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM patrol_points')).rows[0].n;

  /** 200 fixes 10 s apart, a 100 m/s jump (1 km in 10 s) among them and a 20-minute gap after the 150th. */
  function dayOfFixes(worker: string, from: { lon: number; lat: number }): { fixes: Fix[]; jump: Fix } {
    const walk = walkEast(worker, from, nineLocal, 200, 10);
    const jump = shiftedNorth(walk[80], 1000);
    const withGap = walk.map((fix, i) => (i >= 150 ? { ...fix, t: fix.t + 20 * 60_000 } : fix));
    withGap[80] = jump;
    return { fixes: withGap, jump };
  }

  it('gives identical tracks for one batch, ten shuffled batches, and the same batch twice', async () => {
    const { api, db } = suite;
    const { fixes } = dayOfFixes(mine.worker, mine);
    const once = (await post(api, admin(), fixes).expect(200)).body;
    expect(once).toMatchObject({ received: 200, accepted: 199, duplicates: 0, flagged: { too_fast: 1, inaccurate: 0, outside_city: 0 } });
    const asOneBatch = await storedTracks(db.pool, mine.worker);
    const again = (await post(api, admin(), fixes).expect(200)).body;
    expect(again).toMatchObject({ received: 200, accepted: 0, duplicates: 200, days: [] });
    expect(await storedTracks(db.pool, mine.worker)).toEqual(asOneBatch);

    await forget(db.pool, mine.worker);
    const mixed = shuffled(fixes);
    for (let i = 0; i < 10; i++) await post(api, admin(), mixed.slice(i * 20, i * 20 + 20)).expect(200);
    expect(await storedTracks(db.pool, mine.worker)).toEqual(asOneBatch);
    expect(asOneBatch.tracks).toHaveLength(2);
  });

  it('flags a 100 m/s jump and leaves it out of the track; splits the track at a 20-minute gap', async () => {
    const { api, db } = suite;
    await forget(db.pool, mine.worker);
    const { fixes, jump } = dayOfFixes(mine.worker, mine);
    await post(api, admin(), fixes).expect(200);
    const { rows: flagged } = await db.pool.query('SELECT flag FROM patrol_points WHERE worker = $1 AND recorded_at = $2', [mine.worker, new Date(jump.t)]);
    expect(flagged).toEqual([{ flag: 'too_fast' }]);
    const tracks = (await api.request.get('/api/patrols/tracks').query({ worker: mine.worker, date: day }).set(api.auth('commander')).expect(200)).body;
    expect(tracks.features).toHaveLength(2);
    const [first, second] = tracks.features;
    expect(first.properties.fixes + second.properties.fixes).toBe(199);
    expect(first.geometry.coordinates).not.toContainEqual([jump.lon, jump.lat]);
    expect(first.properties.endedAt).toBe(new Date(fixes[149].t).toISOString());
    expect(second.properties.startedAt).toBe(new Date(fixes[150].t).toISOString());
    expect(first.properties.times).toHaveLength(first.geometry.coordinates.length);
    expect(first.properties.times[0]).toBe(fixes[0].t / 1000);
  });

  it('keeps each track as pieces that make up exactly its line, replaced with the track on a rebuild', async () => {
    const { api, db } = suite;
    await forget(db.pool, mine.worker);
    const { fixes } = dayOfFixes(mine.worker, mine);
    await post(api, admin(), fixes.slice(0, 120)).expect(200);
    await post(api, admin(), fixes.slice(120)).expect(200);
    const { rows } = await db.pool.query<{ vertices: number; piecesVertices: number; pieces: number; same: boolean; startsMatch: boolean }>(
      `SELECT ST_NPoints(t.geom_3857) AS vertices, sum(ST_NPoints(p.geom_3857))::int AS "piecesVertices", count(p.*)::int AS pieces,
              ST_Equals(ST_Union(p.geom_3857), t.geom_3857) AS same, bool_and(p.started_at = t.started_at) AS "startsMatch"
       FROM patrol_tracks t JOIN patrol_track_pieces p ON p.track_id = t.id WHERE t.worker = $1 GROUP BY t.id ORDER BY t.started_at`,
      [mine.worker],
    );
    expect(rows).toHaveLength(2);
    for (const track of rows) {
      expect(track).toMatchObject({ same: true, startsMatch: true });
      // Consecutive pieces share one fix; a piece holds at most 32.
      expect(track.piecesVertices - (track.pieces - 1)).toBe(track.vertices);
      expect(track.pieces).toBe(Math.ceil((track.vertices - 1) / 31));
    }
    const orphans = await db.pool.query('SELECT 1 FROM patrol_track_pieces p WHERE NOT EXISTS (SELECT 1 FROM patrol_tracks t WHERE t.id = p.track_id)');
    expect(orphans.rows).toEqual([]);
  });

  it('places every fix in the grid grid_at names, on shared edges and corners too', async () => {
    const { api, db } = suite;
    await forget(db.pool, mine.worker);
    // The corners and edge midpoints of the grid and its neighbours: each lies on two or more grids, the lowest id wins.
    const { rows: points } = await db.pool.query<{ lon: number; lat: number }>(
      `SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (
         SELECT (ST_DumpPoints(g.geom)).geom AS p FROM grids g JOIN grids mine ON mine.id = $1 WHERE g.level = 4 AND ST_Touches(g.geom, mine.geom)
         UNION ALL
         SELECT ST_LineInterpolatePoint(s.geom, 0.5) FROM grids g CROSS JOIN LATERAL ST_DumpSegments(g.geom) s WHERE g.id = $1
         UNION ALL
         SELECT ST_PointOnSurface(g.geom) FROM grids g WHERE g.level = 4
       ) x`,
      [mine.gridId],
    );
    expect(points.length).toBeGreaterThan(30);
    const fixes = points.map((point, i) => ({ workerId: mine.worker, t: nineLocal + i * 1000, lon: point.lon, lat: point.lat, accuracy: 5 }));
    for (let i = 0; i < fixes.length; i += 5000) await post(api, admin(), fixes.slice(i, i + 5000)).expect(200);
    const { rows } = await db.pool.query<{ stored: number; differing: number; onEdges: number }>(
      `SELECT count(*)::int AS stored, count(*) FILTER (WHERE grid_id IS DISTINCT FROM grid_at(geom))::int AS differing,
              count(*) FILTER (WHERE (SELECT count(*) FROM grids g WHERE g.level = 4 AND ST_Intersects(g.geom, p.geom)) > 1)::int AS "onEdges"
       FROM patrol_points p WHERE worker = $1`,
      [mine.worker],
    );
    expect(rows[0].stored).toBe(fixes.length);
    expect(rows[0].onEdges).toBeGreaterThan(5);
    expect(rows[0].differing).toBe(0);
  });

  it('stores inaccurate and outside-city fixes flagged, and takes CSV with epoch or ISO times', async () => {
    const { api, db } = suite;
    await forget(db.pool, other.worker);
    const walk = walkEast(other.worker, other, nineLocal, 10);
    const csv = [
      'workerId,t,lon,lat,accuracy,speed',
      ...walk.slice(0, 8).map((fix, i) => `${fix.workerId},${i % 2 ? new Date(fix.t).toISOString() : fix.t},${fix.lon},${fix.lat},8,1.2`),
      `${other.worker},${walk[8].t},${walk[8].lon},${walk[8].lat},250,`,
      `${other.worker},${walk[9].t},100.5,10.5,5,`,
    ].join('\n');
    const answer = (await api.request.post('/api/patrols/points').set(api.auth('admin')).set('Content-Type', 'text/csv').send(csv).expect(200)).body;
    expect(answer).toMatchObject({ received: 10, accepted: 8, flagged: { inaccurate: 1, outside_city: 1, too_fast: 0 } });
  });

  it('lets a grid worker post their own fixes only (403 naming the row), and read only their own tracks (404)', async () => {
    const { api } = suite;
    const own = walkEast(mine.worker, mine, nineLocal + 2.5 * 3600_000, 5);
    await post(api, tokens.mine, own).expect(200);
    const before = await storedCount();
    const forOther = [...walkEast(mine.worker, mine, nineLocal + 3 * 3600_000, 3), ...walkEast(other.worker, other, nineLocal, 2)];
    const refused = await post(api, tokens.mine, forOther).expect(403);
    expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(refused.body).toMatchObject({ row: 3, workerId: other.worker });
    await post(api, tokens.unbound, own).expect(403);
    expect(await storedCount()).toBe(before);

    const ownTracks = (await api.request.get('/api/patrols/tracks').query({ date: day }).set('Authorization', `Bearer ${tokens.mine}`).expect(200)).body;
    expect(ownTracks.features.length).toBeGreaterThan(0);
    expect(new Set(ownTracks.features.map((f: { properties: { workerId: string } }) => f.properties.workerId))).toEqual(new Set([mine.worker]));
    const othersTracks = await api.request.get('/api/patrols/tracks').query({ date: day, worker: other.worker }).set('Authorization', `Bearer ${tokens.mine}`).expect(404);
    expect(othersTracks.headers['content-type']).toMatch(/application\/problem\+json/);
    await api.request.get(`/api/patrols/workers/${encodeURIComponent(other.worker)}/summary`).set('Authorization', `Bearer ${tokens.mine}`).expect(404);
    await api.request.get('/api/patrols/tracks').query({ date: day }).set(api.auth('police')).expect(403);
    await api.request.get('/api/patrols/live').set(api.auth('police')).expect(403);
    await post(api, api.tokens.commander, own).expect(403);
  });

  it('refuses bad batches with problem+json naming the row, and stores nothing of them', async () => {
    const { api } = suite;
    const good = walkEast(mine.worker, mine, nineLocal + 3.5 * 3600_000, 5);
    const before = await storedCount();
    const withRow = (row: number, change: Partial<Fix>) => good.map((fix, i) => (i === row ? { ...fix, ...change } : fix));
    const cases: Array<[string, Fix[], number, RegExp]> = [
      ['unknown worker', withRow(2, { workerId: 'NOBODY-W9' }), 422, /Fix 2 .*no grid lists this worker/],
      ['in the future', withRow(3, { t: now.getTime() + 6 * 60_000 }), 422, /Fix 3 .*future/],
      ['before 2000', withRow(1, { t: Date.UTC(1999, 11, 31) }), 422, /Fix 1 .*before 2000/],
      ['latitude out of range', withRow(4, { lat: 95 }), 400, /fixes\.4\.lat/],
    ];
    for (const [label, fixes, status, detail] of cases) {
      const response = await post(api, admin(), fixes);
      expect([label, response.status]).toEqual([label, status]);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(response.body.detail).toMatch(detail);
    }
    const infinite = `{"fixes":[{"workerId":"${mine.worker}","t":${good[0].t},"lon":1e309,"lat":31}]}`;
    expect((await api.request.post('/api/patrols/points').set(api.auth('admin')).set('Content-Type', 'application/json').send(infinite)).status).toBe(400);
    const tooMany = Array.from({ length: 10_001 }, (_, i) => ({ ...good[0], t: good[0].t + i * 1000 }));
    expect((await post(api, admin(), tooMany)).status).toBe(413);
    const overLimit = `${'x'.repeat(5 * 1024 * 1024)}`;
    expect((await api.request.post('/api/patrols/points').set(api.auth('admin')).set('Content-Type', 'text/csv').send(overLimit)).status).toBe(413);
    const badCsv = `workerId,t,lon,lat\n${mine.worker},${good[0].t},${good[0].lon},${good[0].lat}\n${mine.worker},${good[1].t},"unterminated,${good[1].lat}\n`;
    const csv = await api.request.post('/api/patrols/points').set(api.auth('admin')).set('Content-Type', 'text/csv').send(badCsv).expect(400);
    expect(csv.body.detail).toMatch(/line 3/);
    const badCell = await api.request.post('/api/patrols/points').set(api.auth('admin')).set('Content-Type', 'text/csv').send(`workerId,t,lon,lat\n${mine.worker},${good[0].t},east,31\n`).expect(400);
    expect(badCell.body.detail).toMatch(/line 2.*lon/);
    await api.request.post('/api/patrols/points').set(api.auth('admin')).set('Content-Type', 'text/plain').send('hello').expect(415);
    expect(await storedCount()).toBe(before);
  });
});
