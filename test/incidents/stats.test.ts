import { useTestApp } from '../support/app';
import { manualClock } from './support';

/** Linear interpolation between closest ranks, as percentile_cont does. */
function percentile(sorted: number[], p: number): number {
  const rank = p * (sorted.length - 1);
  const low = Math.floor(rank);
  return sorted[low] + (sorted[Math.min(low + 1, sorted.length - 1)] - sorted[low]) * (rank - low);
}

describe('GET /api/stats/incidents', () => {
  const time = manualClock('2026-01-15T00:00:00Z');
  const from = '2025-04-01T00:00:00+08:00';
  const to = '2025-10-01T00:00:00+08:00';
  const suite = useTestApp({ clock: time.clock });

  /** Recomputed from raw rows and the catalogue, not from the columns the service reads (due_at, department). */
  async function expectedFor(where: string, params: unknown[]) {
    const { rows } = await suite.db.pool.query<{ status: string; hours: number | null; on_time: boolean | null; overdue: boolean }>(
      `SELECT i.status, extract(epoch FROM i.closed_at - i.reported_at)::float8 / 3600 AS hours,
              i.closed_at <= i.reported_at + (c.accept_hours + c.dispatch_hours + c.handle_hours + c.feedback_hours) * interval '1 hour' AS on_time,
              i.status NOT IN ('closed', 'rejected') AND i.reported_at + (c.accept_hours + c.dispatch_hours + c.handle_hours + c.feedback_hours) * interval '1 hour' < $1 AS overdue
       FROM incidents i JOIN incident_categories c ON c.name = i.category
       WHERE i.reported_at >= $2 AND i.reported_at < $3 AND ${where}`,
      [time.clock(), from, to, ...params],
    );
    const closed = rows.filter((r) => r.status === 'closed');
    const hours = closed.map((r) => r.hours as number).sort((a, b) => a - b);
    const byStatus: Record<string, number> = {};
    for (const row of rows) byStatus[row.status] = (byStatus[row.status] ?? 0) + 1;
    return {
      total: rows.length,
      byStatus,
      closed: closed.length,
      closureRate: closed.length / rows.length,
      onTimeRate: closed.filter((r) => r.on_time).length / closed.length,
      meanHandlingHours: hours.reduce((sum, h) => sum + h, 0) / hours.length,
      p90HandlingHours: percentile(hours, 0.9),
      medianHandlingHours: percentile(hours, 0.5),
      overdueOpen: rows.filter((r) => r.overdue).length,
    };
  }

  function expectClose(actual: Record<string, unknown>, expected: Awaited<ReturnType<typeof expectedFor>>) {
    expect(actual).toMatchObject({ total: expected.total, byStatus: expected.byStatus, closed: expected.closed, overdueOpen: expected.overdueOpen });
    for (const key of ['closureRate', 'onTimeRate', 'meanHandlingHours', 'p90HandlingHours', 'medianHandlingHours'] as const) {
      expect(actual[key]).toBeCloseTo(expected[key], 6);
    }
  }

  it('matches counts, rates and handling times computed independently for the whole window', async () => {
    const { api } = suite;
    const response = await api.request.get('/api/stats/incidents').query({ from, to }).set(api.auth('planner')).expect(200);
    expect(response.body.groups).toHaveLength(1);
    const expected = await expectedFor('true', []);
    expect(expected.total).toBeGreaterThan(1000);
    expect(expected.onTimeRate).toBeGreaterThan(0);
    expect(expected.onTimeRate).toBeLessThan(1);
    expectClose(response.body.groups[0], expected);
  });

  it('groups by category and filters by department and grid, each matching SQL', async () => {
    const { db, api } = suite;
    const byCategory = (await api.request.get('/api/stats/incidents').query({ from, to, groupBy: 'category' }).set(api.auth('commander')).expect(200)).body;
    const categories = (await db.pool.query('SELECT DISTINCT category FROM incidents WHERE reported_at >= $1 AND reported_at < $2', [from, to])).rows;
    expect(byCategory.groups.map((g: { key: string }) => g.key).sort()).toEqual(categories.map((r) => r.category).sort());
    for (const group of byCategory.groups.slice(0, 4)) expectClose(group, await expectedFor('i.category = $4', [group.key]));

    const department = (await api.request.get('/api/stats/incidents').query({ from, to, department: '城管局' }).set(api.auth('commander')).expect(200)).body;
    expectClose(department.groups[0], await expectedFor(`c.department = '城管局'`, []));

    const grid = (await db.pool.query('SELECT grid_id FROM incidents WHERE grid_id IS NOT NULL GROUP BY grid_id ORDER BY count(*) DESC LIMIT 1')).rows[0].grid_id;
    const inGrid = (await api.request.get('/api/stats/incidents').query({ from, to, grid }).set(api.auth('commander')).expect(200)).body;
    expectClose(inGrid.groups[0], await expectedFor('i.grid_id = $4', [grid]));
  });

  it('groups by day in Shanghai time, totals adding up', async () => {
    const { api } = suite;
    const byDay = (await api.request.get('/api/stats/incidents').query({ from, to, groupBy: 'day' }).set(api.auth('planner')).expect(200)).body;
    expect(byDay.groups[0].key).toBe('2025-04-01');
    const total = byDay.groups.reduce((sum: number, g: { total: number }) => sum + g.total, 0);
    expect(total).toBe((await expectedFor('true', [])).total);
  });

  /** Local calendar days of each incident in the window, counted in JS (Intl), not by the server's SQL. */
  async function localDayCounts(timeZone: string): Promise<Record<string, number>> {
    const { rows } = await suite.db.pool.query<{ reported_at: Date }>('SELECT reported_at FROM incidents WHERE reported_at >= $1 AND reported_at < $2', [from, to]);
    const day = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    const counts: Record<string, number> = {};
    for (const row of rows) counts[day.format(row.reported_at)] = (counts[day.format(row.reported_at)] ?? 0) + 1;
    return counts;
  }
  const dayCounts = (body: { groups: Array<{ key: string; total: number }> }) => Object.fromEntries(body.groups.map((g) => [g.key, g.total]));

  it('groups by the calendar days of the time zone named by tz, and says which zone it used', async () => {
    const { api } = suite;
    const byDay = (await api.request.get('/api/stats/incidents').query({ from, to, groupBy: 'day', tz: 'America/New_York' }).set(api.auth('planner')).expect(200)).body;
    expect(byDay.timeZone).toBe('America/New_York');
    expect(byDay.groups[0].key).toBe('2025-03-31');
    expect(dayCounts(byDay)).toEqual(await localDayCounts('America/New_York'));
    const shanghai = (await api.request.get('/api/stats/incidents').query({ from, to, groupBy: 'day' }).set(api.auth('planner')).expect(200)).body;
    expect(shanghai.timeZone).toBe('Asia/Shanghai');
    expect(dayCounts(shanghai)).toEqual(await localDayCounts('Asia/Shanghai'));
    const refused = await api.request.get('/api/stats/incidents').query({ groupBy: 'day', tz: 'Mars/Olympus' }).set(api.auth('planner')).expect(400);
    expect(refused.type).toBe('application/problem+json');
    expect(JSON.stringify(refused.body)).toMatch(/tz/);
  });

  it('reports grid worker indicators matching SQL', async () => {
    const { db, api } = suite;
    const response = await api.request.get('/api/stats/incidents/workers').query({ from, to }).set(api.auth('commander')).expect(200);
    const { rows } = await db.pool.query(
      `SELECT g.workers[1] AS worker, i.source, i.status, i.closed_at <= i.due_at AS on_time
       FROM incidents i JOIN grids g ON g.id = i.grid_id WHERE i.reported_at >= $1 AND i.reported_at < $2 AND g.workers[1] IS NOT NULL`,
      [from, to],
    );
    const workers = [...new Set(rows.map((r) => r.worker as string))].sort();
    expect(response.body.workers.map((w: { worker: string }) => w.worker)).toEqual(workers);
    for (const indicator of response.body.workers.slice(0, 5)) {
      const mine = rows.filter((r) => r.worker === indicator.worker);
      const patrol = mine.filter((r) => r.source === 'patrol');
      const closed = mine.filter((r) => r.status === 'closed');
      expect(indicator.assigned).toBe(mine.length);
      expect(indicator.patrolReports).toBe(patrol.length);
      expect(indicator.validReportRate).toBeCloseTo(patrol.filter((r) => r.status !== 'rejected').length / patrol.length, 9);
      expect(indicator.verifiedOnTimeRate).toBeCloseTo(closed.filter((r) => r.on_time).length / closed.length, 9);
    }
  });

  it('states its on-time rule and counts the closed cases without a deadline it leaves out', async () => {
    const { db, api } = suite;
    const category = (await db.pool.query("SELECT category FROM incidents WHERE status = 'closed' AND reported_at >= $1 AND reported_at < $2 GROUP BY 1 ORDER BY count(*) DESC LIMIT 1", [from, to])).rows[0].category;
    const { rowCount } = await db.pool.query(
      "UPDATE incidents SET due_at = NULL WHERE id IN (SELECT id FROM incidents WHERE category = $1 AND status = 'closed' AND reported_at >= $2 AND reported_at < $3 ORDER BY id LIMIT 40)",
      [category, from, to],
    );
    expect(rowCount).toBe(40);
    const { rows } = await db.pool.query<{ on_time: boolean | null }>(
      "SELECT closed_at <= due_at AS on_time FROM incidents WHERE category = $1 AND status = 'closed' AND reported_at >= $2 AND reported_at < $3",
      [category, from, to],
    );
    const timed = rows.filter((row) => row.on_time !== null);
    const body = (await api.request.get('/api/stats/incidents').query({ from, to, category }).set(api.auth('planner')).expect(200)).body;
    expect(body.onTimeRule).toMatch(/without a deadline are left out/);
    expect(body.groups[0].closedWithoutDeadline).toBe(40);
    expect(body.groups[0].onTimeRate).toBeCloseTo(timed.filter((row) => row.on_time).length / timed.length, 9);
  });

  it('refuses bad filters', async () => {
    const { api } = suite;
    await api.request.get('/api/stats/incidents').query({ groupBy: 'street' }).set(api.auth('planner')).expect(400);
    await api.request.get('/api/stats/incidents').query({ from: 'yesterday' }).set(api.auth('planner')).expect(400);
    await api.request.get('/api/stats/incidents').query({ sql: '1' }).set(api.auth('planner')).expect(400);
    await api.request.get('/api/stats/incidents').expect(401);
  });
});
