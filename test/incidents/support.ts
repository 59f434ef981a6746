import type { Pool } from '../../server/db/pool';
import type { TestApp } from '../support/app';

/** A clock the test moves by hand: deadlines and escalation without sleeping. */
export function manualClock(start: string) {
  let now = new Date(start);
  return {
    clock: () => now,
    advanceHours(hours: number) {
      now = new Date(now.getTime() + hours * 3_600_000);
    },
  };
}

/** A point well inside the n-th level-4 grid (by id), with that grid's id. */
export async function pointInGrid(pool: Pool, n = 0): Promise<{ gridId: number; lon: number; lat: number }> {
  const { rows } = await pool.query<{ id: number; lon: number; lat: number }>(
    `SELECT id, ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT id, ST_PointOnSurface(geom) AS p FROM grids WHERE level = 4 ORDER BY id OFFSET $1 LIMIT 1) g`,
    [n],
  );
  return { gridId: rows[0].id, lon: rows[0].lon, lat: rows[0].lat };
}

export async function level4GridIds(pool: Pool): Promise<number[]> {
  return (await pool.query<{ id: number }>('SELECT id FROM grids WHERE level = 4 ORDER BY id')).rows.map((r) => r.id);
}

export function report(api: TestApp, at: { lon: number; lat: number }, overrides: Record<string, unknown> = {}) {
  return api.request
    .post('/api/incidents')
    .set(api.auth('hotline'))
    .send({ category: '窨井盖', location: { type: 'Point', coordinates: [at.lon, at.lat] }, description: '井盖松动', source: 'hotline', reporterContact: '138****0000', ...overrides });
}
