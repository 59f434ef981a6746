import { cellToParent, latLngToCell } from 'h3-js';
import { cellHex, storedCell } from '../../server/geo/h3';
import { createToken } from '../../server/auth/tokens';
import { backfillHotspotCells } from '../../server/db/backfill-hotspot-cells';
import { useTestApp } from '../support/app';
import { pointInGrid, report } from '../incidents/support';
import { nextChange } from './synthetic';

const year = { from: '2025-01-01T00:00:00+08:00', to: '2026-01-01T00:00:00+08:00' };

describe('hotspot cells and counts', () => {
  const suite = useTestApp(async (db) => ({ gridWorkerGrids: [(await pointInGrid(db.pool, 0)).gridId] }));

  it('derives parents in SQL exactly as h3-js cellToParent, for 10,000 random cells', async () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const cells = Array.from({ length: 10_000 }, () => latLngToCell(random() * 170 - 85, random() * 360 - 180, 10));
    const { rows } = await suite.db.pool.query<{ cell: string; r6: string; r7: string; r8: string; r9: string; r10: string }>(
      `SELECT c::text AS cell, ${[6, 7, 8, 9, 10].map((r) => `to_hex(h3_cell_parent(c, ${r})) AS r${r}`).join(', ')}
       FROM unnest($1::bigint[]) AS c`,
      [cells.map((cell) => BigInt(`0x${cell}`).toString())],
    );
    const mismatches = rows.filter((row) => [6, 7, 8, 9, 10].some((r) => row[`r${r}` as 'r6'] !== cellToParent(cellHex(row.cell), r)));
    expect(rows).toHaveLength(10_000);
    expect(mismatches).toEqual([]);
  });

  it('stores the resolution-10 cell of every incident and accident, and the back-fill fills what is missing', async () => {
    const { pool } = suite.db;
    for (const table of ['incidents', 'accidents']) {
      const { rows } = await pool.query<{ cell: string | null; lon: number; lat: number }>(`SELECT h3_r10::text AS cell, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM ${table} ORDER BY id LIMIT 500`);
      expect(rows.every((row) => row.cell === storedCell(row.lon, row.lat))).toBe(true);
    }
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('UPDATE accidents SET h3_r10 = NULL WHERE id % 3 = 0');
      const filled = await backfillHotspotCells(client);
      expect(filled.accidents).toBeGreaterThan(0);
      const { rows } = await client.query<{ wrong: number }>(`SELECT count(*)::int AS wrong FROM accidents WHERE h3_r10 IS NULL`);
      expect(rows[0].wrong).toBe(0);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });

  it('counts incidents per cell as h3-js bins their points independently (parent of the resolution-10 cell)', async () => {
    const { body } = await suite.api.request.get('/api/hotspots').query({ ...year, res: 8 }).set(suite.api.auth('planner')).expect(200);
    const { rows } = await suite.db.pool.query<{ lon: number; lat: number }>(
      `SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM incidents WHERE reported_at >= $1 AND reported_at < $2`,
      [year.from, year.to],
    );
    const expected: Record<string, number> = {};
    for (const row of rows) {
      const hex = cellToParent(latLngToCell(row.lat, row.lon, 10), 8);
      expected[hex] = (expected[hex] ?? 0) + 1;
    }
    expect(Object.fromEntries(body.cells.map((cell: { hex: string; count: number }) => [cell.hex, cell.count]))).toEqual(expected);
    expect(body.total.count).toBe(rows.length);
    expect(body.total.count).toBeGreaterThan(1000);

    // The same counts from SQL alone, each stored cell mapped to its parent by h3-js rather than h3_cell_parent.
    const stored = await suite.db.pool.query<{ cell: string }>('SELECT DISTINCT h3_r10::text AS cell FROM incidents');
    const { rows: sqlCounts } = await suite.db.pool.query<{ hex: string; n: number }>(
      `SELECT p.parent AS hex, count(*)::int AS n FROM incidents i JOIN unnest($3::bigint[], $4::text[]) AS p (cell, parent) ON p.cell = i.h3_r10
       WHERE i.reported_at >= $1 AND i.reported_at < $2 GROUP BY 1`,
      [year.from, year.to, stored.rows.map((r) => r.cell), stored.rows.map((r) => cellToParent(cellHex(r.cell), 8))],
    );
    expect(Object.fromEntries(sqlCounts.map((row) => [row.hex, row.n]))).toEqual(expected);
  });

  it('counts accidents and casualties per cell, filtered by severity', async () => {
    const { body } = await suite.api.request.get('/api/hotspots').query({ ...year, source: 'accidents', res: 9, category: 'slight' }).set(suite.api.auth('police')).expect(200);
    const { rows } = await suite.db.pool.query<{ lon: number; lat: number; casualties: number }>(
      `SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, casualties FROM accidents WHERE severity = 'slight' AND occurred_at >= $1 AND occurred_at < $2`,
      [year.from, year.to],
    );
    const expected = new Map<string, { count: number; casualties: number }>();
    for (const row of rows) {
      const hex = cellToParent(latLngToCell(row.lat, row.lon, 10), 9);
      const cell = expected.get(hex) ?? { count: 0, casualties: 0 };
      expected.set(hex, { count: cell.count + 1, casualties: cell.casualties + row.casualties });
    }
    expect(new Map(body.cells.map((c: { hex: string; count: number; casualties: number }) => [c.hex, { count: c.count, casualties: c.casualties }]))).toEqual(expected);
  });

  it('shows a grid worker their own grid only, and no route to the hotline desk', async () => {
    const { api, db } = suite;
    const own = await pointInGrid(db.pool, 0);
    const other = await pointInGrid(db.pool, 5);
    const { body } = await api.request.get('/api/hotspots').query({ ...year, res: 10 }).set(api.auth('grid_worker')).expect(200);
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM incidents i JOIN grids g ON g.id = $3 WHERE ST_Intersects(i.geom, g.geom) AND reported_at >= $1 AND reported_at < $2`,
      [year.from, year.to, own.gridId],
    );
    expect(body.total.count).toBe(rows[0].n);
    await api.request.get('/api/hotspots').query({ grid: other.gridId }).set(api.auth('grid_worker')).expect(404);
    await api.request.get('/api/hotspots/gi').set(api.auth('hotline')).expect(403);
    await api.request.get('/tiles/hotspots/12/3421/1672.mvt').set(api.auth('grid_worker')).expect(403);
    const gridless = await createToken(db.pool, { role: 'grid_worker', label: 'no grids' });
    await api.request.get('/api/hotspots').set({ Authorization: `Bearer ${gridless.token}` }).expect(403);
    const empty = await api.request.get('/api/hotspots').query({ from: '2040-01-01T00:00:00Z', to: '2040-02-01T00:00:00Z' }).set(api.auth('planner')).expect(200);
    expect(empty.body.cells).toEqual([]);
    expect(empty.body.total.count).toBe(0);
  });

  it('shows a new incident in the counts of its cell at once', async () => {
    const { api, db } = suite;
    const at = await pointInGrid(db.pool, 3);
    const hex = latLngToCell(at.lat, at.lon, 8);
    const countOf = async () => {
      const { body } = await api.request.get('/api/hotspots').set(api.auth('commander')).expect(200);
      return body.cells.find((cell: { hex: string }) => cell.hex === hex)?.count ?? 0;
    };
    const before = await countOf();
    const heard = nextChange(api);
    await report(api, at).expect(201);
    await heard;
    expect(await countOf()).toBe(before + 1);
  });
});
