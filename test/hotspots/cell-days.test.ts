import { useTestApp } from '../support/app';

/** Nonzero counts per (res, day, cell) as kept in incident_cell_days, and as counted from the incidents. */
async function keptAndCounted(pool: ReturnType<typeof useTestApp>['db']['pool']) {
  const kept = await pool.query<{ key: string; count: number }>(
    `SELECT res || ' ' || day || ' ' || cell AS key, count FROM incident_cell_days WHERE count <> 0 ORDER BY 1`,
  );
  const counted = await pool.query<{ key: string; count: number }>(
    `SELECT r.res || ' ' || (i.reported_at AT TIME ZONE 'UTC')::date || ' ' || h3_cell_parent(i.h3_r10, r.res) AS key, count(*)::int AS count
     FROM incidents i CROSS JOIN generate_series(6, 10) AS r(res) WHERE i.h3_r10 IS NOT NULL GROUP BY 1 ORDER BY 1`,
  );
  return { kept: kept.rows, counted: counted.rows };
}

describe('incident counts per cell and day (incident_cell_days)', () => {
  const suite = useTestApp();

  it('equal a raw count after inserts, status transitions, moves in time and space, and deletes', async () => {
    const { pool } = suite.db;
    const expectEqual = async () => {
      const { kept, counted } = await keptAndCounted(pool);
      expect(counted.length).toBeGreaterThan(0);
      expect(kept).toEqual(counted);
    };
    await expectEqual();
    await pool.query(
      `INSERT INTO incidents (category, source, status, reported_at, geom, h3_r10)
       SELECT category, source, status, reported_at + interval '3 hours', geom, h3_r10 FROM incidents ORDER BY id LIMIT 200`,
    );
    await expectEqual();
    await pool.query(`UPDATE incidents SET status = 'closed' WHERE id IN (SELECT id FROM incidents ORDER BY id DESC LIMIT 50)`);
    await expectEqual();
    await pool.query(`UPDATE incidents SET reported_at = reported_at - interval '1 day 5 hours' WHERE id % 7 = 0`);
    await expectEqual();
    await pool.query(`UPDATE incidents SET h3_r10 = (SELECT h3_r10 FROM incidents WHERE h3_r10 IS NOT NULL ORDER BY id LIMIT 1) WHERE id % 11 = 0`);
    await pool.query(`UPDATE incidents SET h3_r10 = NULL WHERE id % 13 = 0`);
    await expectEqual();
    await pool.query(`DELETE FROM incidents WHERE id % 5 = 0`);
    await expectEqual();
  });

  it('give the whole-city counts of a span with partial days at both ends, as the raw rows do', async () => {
    const { rows: bounds } = await suite.db.pool.query<{ from: Date; to: Date }>(
      `SELECT min(reported_at) + interval '2 days 7 hours 13 minutes' AS from, max(reported_at) - interval '1 day 3 hours' AS to FROM incidents`,
    );
    const { from, to } = bounds[0];
    const { body } = await suite.api.request
      .get('/api/hotspots')
      .query({ res: 9, from: from.toISOString(), to: to.toISOString() })
      .set(suite.api.auth('planner'))
      .expect(200);
    const { rows } = await suite.db.pool.query<{ hex: string; count: number }>(
      `SELECT to_hex(h3_cell_parent(h3_r10, 9)) AS hex, count(*)::int AS count FROM incidents
       WHERE h3_r10 IS NOT NULL AND reported_at >= $1 AND reported_at < $2 GROUP BY 1`,
      [from, to],
    );
    expect(rows.length).toBeGreaterThan(0);
    const byHex = (cells: { hex: string; count: number }[]) => Object.fromEntries(cells.map((cell) => [cell.hex, cell.count]));
    expect(byHex(body.cells)).toEqual(byHex(rows));
  });
});
