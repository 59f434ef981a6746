import { fixesOfDaysSql } from '../../server/patrols/sql';
import { createTestDatabase, type TestDatabase } from '../support/db';

// A rebuild reads the fixes of the worker-days a batch touched. With statistics taken while the table held one
// worker's fixes (the state after the first batches of a new city or a truncated table), the planner judged the
// time index as selective as the (worker, time) index and cheaper (or, asked by worker equality, a hash join over the
// whole table), so each worker-day read walked every worker's fixes: ingest slowed as the day filled (bench:patrols).
// The read must keep to the worker's range.
describe('patrol track rebuild reads a worker-day as a range of the (worker, time) index', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  /** `perWorker` fixes 5 s apart from 09:00 local of each worker in the range. */
  const insertFixes = (firstWorker: number, lastWorker: number, perWorker: number) =>
    db.pool.query(
      `INSERT INTO patrol_points (worker, recorded_at, geom)
       SELECT 'plan-worker-' || w, timestamptz '2026-01-10 01:00Z' + i * interval '5 s', ST_SetSRID(ST_MakePoint(121.5 + i * 1e-5, 29.87), 4326)
       FROM generate_series($1::int, $2::int) w, generate_series(1, $3::int) i`,
      [firstWorker, lastWorker, perWorker],
    );

  it('uses the (worker, time) index even when the statistics saw a single worker', async () => {
    await db.pool.query('ALTER TABLE patrol_points SET (autovacuum_enabled = false)');
    await db.pool.query('DELETE FROM patrol_points');
    await insertFixes(1, 1, 5000);
    await db.pool.query('ANALYZE patrol_points');
    await insertFixes(2, 100, 2000);
    const { rows } = await db.pool.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${fixesOfDaysSql}`, [
      ['plan-worker-1', 'plan-worker-2'],
      ['2026-01-10', '2026-01-10'],
      'Asia/Shanghai',
      [0, 0],
    ]);
    const plan = JSON.stringify(rows[0]['QUERY PLAN']);
    expect(plan).toContain('"Index Name":"patrol_points_worker_time_key"');
    expect(plan).not.toContain('patrol_points_recorded_at_idx');
    const { rows: read } = await db.pool.query(fixesOfDaysSql, [['plan-worker-1', 'plan-worker-2'], ['2026-01-10', '2026-01-10'], 'Asia/Shanghai', [0, 0]]);
    expect(read).toHaveLength(7000);
    await db.pool.query('ALTER TABLE patrol_points RESET (autovacuum_enabled)');
  });

  // Most batches start days of their own: the caller has those fixes in hand (the insert's RETURNING) and reads
  // back only the days that also hold fixes of earlier batches.
  it('reads back only the days holding fixes besides the ones the caller stored', async () => {
    const days = [['plan-worker-1', 'plan-worker-2', 'plan-worker-3'], ['2026-01-10', '2026-01-10', '2026-01-10'], 'Asia/Shanghai'];
    const { rows } = await db.pool.query<{ key: string }>(fixesOfDaysSql, [...days, [5000, 1999, 0]]);
    const perDay = rows.reduce<Record<string, number>>((counts, row) => ({ ...counts, [row.key]: (counts[row.key] ?? 0) + 1 }), {});
    expect(perDay).toEqual({ 2: 2000, 3: 2000 });
  });
});
