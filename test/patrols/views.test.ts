import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createToken } from '../../server/auth/tokens';
import { deleteExpiredFixes } from '../../server/patrols/retention';
import { useTestApp } from '../support/app';
import { forget, gridWithWorker, post, shiftedNorth, walkEast } from './support';

const now = new Date('2026-01-10T06:00:00.000Z');
const nineLocal = Date.parse('2026-01-10T01:00:00.000Z');
const day = '2026-01-10';

// A grid built by hand away from the test city (which lies around 120.7 E, 31.3 N): 4 km by 2 km, holding one
// straight road of 3 km, with two buildings, one beside the first half of the road and one beside the second.
const hand = { west: 121.5, south: 31.0, east: 121.54, north: 31.02, roadLat: 31.01, roadFrom: 121.505, worker: 'HAND-W1' };
const metresPerDegreeLon = 111_320 * Math.cos((hand.roadLat * Math.PI) / 180);
const roadTo = hand.roadFrom + 3000 / metresPerDegreeLon;

describe('patrol views: playback, live, coverage, retention', () => {
  let walker: Awaited<ReturnType<typeof gridWithWorker>>;
  let handGrid = 0;
  const suite = useTestApp(async (db) => {
    walker = await gridWithWorker(db.pool, 1);
    const box = `SRID=4326;MULTIPOLYGON(((${hand.west} ${hand.south},${hand.east} ${hand.south},${hand.east} ${hand.north},${hand.west} ${hand.north},${hand.west} ${hand.south})))`;
    let parent: number | null = null;
    for (const level of [1, 2, 3, 4]) {
      const { rows }: { rows: Array<{ id: number }> } = await db.pool.query(
        'INSERT INTO grids (code, name, level, parent_id, geom, workers) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
        [`HAND-${level}`, `手工网格${level}`, level, parent, box, level === 4 ? [hand.worker] : []],
      );
      parent = rows[0].id;
    }
    handGrid = parent as number;
    await db.pool.query(`INSERT INTO roads (name, kind, geom) VALUES ('手工路', 'local', ST_SetSRID(ST_MakeLine(ST_Point($1, $3), ST_Point($2, $3)), 4326))`, [hand.roadFrom, roadTo, hand.roadLat]);
    const building = (lon: number) =>
      `SRID=4326;MULTIPOLYGON(((${lon} ${hand.roadLat + 0.0002},${lon + 0.0001} ${hand.roadLat + 0.0002},${lon + 0.0001} ${hand.roadLat + 0.0003},${lon} ${hand.roadLat + 0.0003},${lon} ${hand.roadLat + 0.0002})))`;
    for (const lon of [hand.roadFrom + 0.005, roadTo - 0.005]) {
      await db.pool.query('INSERT INTO buildings (geom, grid_id) VALUES ($1, $2)', [building(lon), handGrid]);
    }
    return { clock: () => now };
  });

  it('gives TripsLayer data with ascending timestamps from local midnight, also simplified', async () => {
    const { api, db } = suite;
    await forget(db.pool, walker.worker);
    const zigzag = walkEast(walker.worker, walker, nineLocal, 120).map((fix, i) => (i % 2 ? shiftedNorth(fix, 3) : fix));
    await post(api, api.tokens.admin, zigzag).expect(200);
    const query = { worker: walker.worker, date: day, format: 'trips' };
    const full = (await api.request.get('/api/patrols/tracks').query(query).set(api.auth('commander')).expect(200)).body;
    expect(full.dayStart).toBe('2026-01-09T16:00:00.000Z');
    const [trip] = full.trips;
    expect(trip.path).toHaveLength(120);
    expect(trip.timestamps[0]).toBe(9 * 3600);
    const simplified = (await api.request.get('/api/patrols/tracks').query({ ...query, tolerance: 10 }).set(api.auth('commander')).expect(200)).body.trips[0];
    expect(simplified.path.length).toBeLessThan(10);
    for (const { path, timestamps } of [trip, simplified]) {
      expect(timestamps).toHaveLength(path.length);
      for (let i = 1; i < timestamps.length; i++) expect(timestamps[i]).toBeGreaterThan(timestamps[i - 1]);
      expect(timestamps[timestamps.length - 1]).toBe(9 * 3600 + 119 * 10);
      expect(timestamps.every((t: number) => Math.fround(t) === t || Math.abs(Math.fround(t) - t) < 0.01)).toBe(true);
    }
  });

  it('lists only workers with a recent fix, on duty within 15 minutes, and streams new positions', async () => {
    const { api, db } = suite;
    const [recent, earlier, stale] = await Promise.all([2, 4, 5].map((rank) => gridWithWorker(db.pool, rank)));
    for (const w of [recent, earlier, stale]) await forget(db.pool, w.worker);
    await post(api, api.tokens.admin, walkEast(earlier.worker, earlier, now.getTime() - 25 * 60_000, 3)).expect(200);
    await post(api, api.tokens.admin, walkEast(stale.worker, stale, now.getTime() - 3 * 86_400_000, 3)).expect(200);

    const server = http.createServer(api.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/incidents/stream?access_token=${api.tokens.commander}`;
      const positions = positionEvents(url, recent.worker);
      await positions.opened;
      const fixes = walkEast(recent.worker, recent, now.getTime() - 60_000, 3);
      await post(api, api.tokens.admin, fixes).expect(200);
      const event = await positions.first;
      expect(event).toMatchObject({ workerId: recent.worker, t: new Date(fixes[2].t).toISOString(), lon: fixes[2].lon, lat: fixes[2].lat, gridId: expect.any(Number) });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }

    const live = (await api.request.get('/api/patrols/live').set(api.auth('commander')).expect(200)).body.workers;
    const byWorker = new Map(live.map((w: { workerId: string }) => [w.workerId, w]));
    expect(byWorker.get(recent.worker)).toMatchObject({ onDuty: true });
    expect(byWorker.get(earlier.worker)).toMatchObject({ onDuty: false });
    expect(byWorker.has(stale.worker)).toBe(false);
    const own = await createToken(db.pool, { role: 'grid_worker', gridIds: [earlier.gridId], worker: earlier.worker });
    const seen = (await api.request.get('/api/patrols/live').set('Authorization', `Bearer ${own.token}`).expect(200)).body.workers;
    expect(seen.map((w: { workerId: string }) => w.workerId)).toEqual([earlier.worker]);
  });

  it('measures coverage of a hand-built grid with a track along half its road: 0.50 ± 0.02', async () => {
    const { api } = suite;
    // 1.5 km at 1.3 m/s, 11 m north of the road's centre line.
    const along = walkEast(hand.worker, { lon: hand.roadFrom, lat: hand.roadLat + 11 / 111_320 }, nineLocal, 116, 10, 1.3);
    await post(api, api.tokens.admin, along).expect(200);
    const { grids } = (await api.request.get('/api/patrols/coverage').query({ date: day, grid: handGrid }).set(api.auth('commander')).expect(200)).body;
    expect(grids).toHaveLength(1);
    const [coverage] = grids;
    expect(coverage.roadShare).toBeGreaterThanOrEqual(0.48);
    expect(coverage.roadShare).toBeLessThanOrEqual(0.52);
    expect(coverage.roadM).toBeGreaterThan(2950);
    expect(coverage.roadM).toBeLessThan(3050);
    expect(coverage).toMatchObject({ buildingShare: 0.5, buildings: 2, workers: [hand.worker] });
    expect(coverage.distanceM).toBeGreaterThan(1450);
    expect(coverage.seconds).toBe(1150);
    const summary = (await api.request.get(`/api/patrols/workers/${hand.worker}/summary`).query({ from: day, to: day }).set(api.auth('admin')).expect(200)).body;
    expect(summary).toMatchObject({ workerId: hand.worker, tracks: 1, onDutySeconds: 1150, gridsCovered: [handGrid] });
    expect(summary.ownGridsRoadShare).toBeCloseTo(coverage.roadShare, 5);
  });

  it('deletes fixes past retention and keeps tracks and indicators', async () => {
    const { api, db } = suite;
    const indicators = async () =>
      (await api.request.get('/api/patrols/indicators').query({ from: day, to: day, level: 3 }).set(api.auth('planner')).expect(200)).body.rows.find(
        (row: { code: string }) => row.code === 'HAND-3',
      );
    const before = await indicators();
    expect(before.roadShare).toBeGreaterThan(0.4);
    const csv = await api.request.get('/api/patrols/indicators').query({ from: day, to: day, level: 3, format: 'csv' }).set(api.auth('planner')).expect(200);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.text).toMatch(new RegExp(`^gridId,code,name,level,days,roadShare`));
    expect(csv.text).toContain(`HAND-3,手工网格3,3,1,${before.roadShare}`);
    const tracksBefore = (await db.pool.query('SELECT count(*)::int AS n FROM patrol_tracks')).rows[0].n;

    // First a horizon in the middle of the stored fixes, one worker per slice: exactly the older fixes go.
    const span = (
      await db.pool.query<{ cut: Date; older: number; newer: number; workers: number }>(
        `SELECT c.cut, (SELECT count(*) FROM patrol_points WHERE recorded_at < c.cut)::int AS older,
                (SELECT count(*) FROM patrol_points WHERE recorded_at >= c.cut)::int AS newer, (SELECT count(DISTINCT worker) FROM patrol_points)::int AS workers
         FROM (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY recorded_at) AS cut FROM patrol_points) c`,
      )
    ).rows[0];
    expect(span.older).toBeGreaterThan(0);
    expect(span.workers).toBeGreaterThan(1);
    expect(await deleteExpiredFixes(db.pool, () => new Date(span.cut.getTime() + 180 * 86_400_000), 180, 1)).toBe(span.older);
    const kept = (await db.pool.query('SELECT count(*)::int AS n, count(*) FILTER (WHERE recorded_at < $1)::int AS older FROM patrol_points', [span.cut])).rows[0];
    expect(kept).toEqual({ n: span.newer, older: 0 });

    const later = () => new Date(now.getTime() + 181 * 86_400_000);
    const deleted = await deleteExpiredFixes(db.pool, later, 180);
    expect(deleted).toBeGreaterThan(0);
    const left = (await db.pool.query('SELECT count(*)::int AS n FROM patrol_points WHERE recorded_at < $1', [new Date(later().getTime() - 180 * 86_400_000)])).rows[0].n;
    expect(left).toBe(0);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM patrol_tracks')).rows[0].n).toBe(tracksBefore);
    expect(await indicators()).toEqual(before);
    await db.pool.query("UPDATE patrol_days SET version = version + 1 WHERE day = $1", [day]);
    expect(await indicators()).toEqual(before);
  });
});

/** Reads the live stream until the first `position` event of the worker: opened when the stream has started. */
function positionEvents(url: string, workerId: string): { opened: Promise<void>; first: Promise<unknown> } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const first = new Promise<unknown>((resolve, reject) => {
    const request = http.get(url, (response) => {
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        if (buffer.includes('retry:')) open();
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: position$/m.test(block) && data && JSON.parse(data).workerId === workerId) {
            request.destroy();
            resolve(JSON.parse(data));
          }
        }
      });
    });
    request.on('error', (error) => (error.message === 'socket hang up' ? undefined : reject(error)));
  });
  return { opened, first };
}
