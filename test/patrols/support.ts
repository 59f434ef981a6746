import type { Pool } from '../../server/db/pool';
import type { TestApp } from '../support/app';

export interface Fix {
  workerId: string;
  t: number;
  lon: number;
  lat: number;
  accuracy?: number;
}

/** A level-4 grid of the test city (by rank), a point inside it, and its second worker (the demo walks the first). */
export async function gridWithWorker(pool: Pool, rank: number): Promise<{ gridId: number; worker: string; lon: number; lat: number }> {
  const { rows } = await pool.query<{ gridId: number; worker: string; lon: number; lat: number }>(
    `SELECT id AS "gridId", workers[2] AS worker, ST_X(p) AS lon, ST_Y(p) AS lat
     FROM (SELECT *, ST_PointOnSurface(geom) AS p FROM grids WHERE level = 4 AND cardinality(workers) >= 2 ORDER BY id OFFSET $1 LIMIT 1) g`,
    [rank],
  );
  return rows[0];
}

const metresPerDegreeLat = 111_320;

/** A walk due east at `speed` m/s, a fix every `everyS` seconds from `startMs`. */
export function walkEast(workerId: string, from: { lon: number; lat: number }, startMs: number, count: number, everyS = 10, speed = 1.2): Fix[] {
  const degreesPerMetre = 1 / (metresPerDegreeLat * Math.cos((from.lat * Math.PI) / 180));
  return Array.from({ length: count }, (_, i) => ({
    workerId,
    t: startMs + i * everyS * 1000,
    lon: Number((from.lon + i * everyS * speed * degreesPerMetre).toFixed(7)),
    lat: from.lat,
    accuracy: 8,
  }));
}

/** Moves a fix `metres` north. */
export function shiftedNorth(fix: Fix, metres: number): Fix {
  return { ...fix, lat: Number((fix.lat + metres / metresPerDegreeLat).toFixed(7)) };
}

export function post(api: TestApp, token: string, fixes: Fix[]) {
  return api.request.post('/api/patrols/points').set('Authorization', `Bearer ${token}`).send({ fixes });
}

/** The stored tracks of a worker, everything that defines them, to compare two ways of arriving at them. */
export async function storedTracks(pool: Pool, worker: string) {
  const { rows } = await pool.query(
    `SELECT worker, started_at, ended_at, ST_AsEWKT(geom_m) AS line, fixes, distance_m, grid_ids, grid_id FROM patrol_tracks WHERE worker = $1 ORDER BY started_at`,
    [worker],
  );
  const flags = await pool.query('SELECT recorded_at, flag FROM patrol_points WHERE worker = $1 ORDER BY recorded_at', [worker]);
  return { tracks: rows, flags: flags.rows };
}

export async function forget(pool: Pool, worker: string): Promise<void> {
  await pool.query('DELETE FROM patrol_points WHERE worker = $1', [worker]);
  await pool.query('DELETE FROM patrol_tracks WHERE worker = $1', [worker]);
  await pool.query('DELETE FROM patrol_live WHERE worker = $1', [worker]);
}

/** Deterministic shuffle (a seeded LCG): the test fails the same way every run. */
export function shuffled<T>(items: T[], seed = 7): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}
