import { useTestApp } from '../support/app';

// The test city's patrols walk on 2 and 3 June 2025 (data/demo/activity.ts), 09:00–13:00 Asia/Shanghai.
const day = '2025-06-02';
const dayStart = '2025-06-01T16:00:00.000Z';
const dayEnd = '2025-06-02T16:00:00.000Z';
const daysBefore = (days: number) => new Date(Date.parse(dayStart) - days * 86_400_000).toISOString();
// The wall's "now": 10:30 on that day, while the workers are out.
const now = new Date('2025-06-02T02:30:00.000Z');

describe('wall aggregates', () => {
  const suite = useTestApp({ clock: () => now });

  it('gives every panel figure as the stats API gives it for the same window', async () => {
    const { api } = suite;
    const summary = (await api.request.get('/api/wall/summary').set(api.auth('commander')).expect(200)).body;
    const stats = async (query: Record<string, string>) => (await api.request.get('/api/stats/incidents').query(query).set(api.auth('commander')).expect(200)).body.groups;
    const [today] = await stats({ from: dayStart, to: dayEnd });
    const [month] = await stats({ from: daysBefore(29), to: dayEnd });
    const [city] = await stats({});
    expect(summary.day).toBe(day);
    expect(today.total).toBeGreaterThan(0);
    expect(summary.kpis).toMatchObject({
      reports: today.total,
      closureRate: month.closureRate,
      onTimeRate: month.onTimeRate,
      overdue: city.overdueOpen,
      supervising: city.byStatus.supervising ?? 0,
    });
    const week = await stats({ from: daysBefore(6), to: dayEnd, groupBy: 'day' });
    expect(summary.trend).toHaveLength(7);
    expect(summary.trend.map((d: { reports: number }) => d.reports).reduce((a: number, b: number) => a + b)).toBe(week.reduce((sum: number, g: { total: number }) => sum + g.total, 0));
    const bySource = await stats({ from: daysBefore(6), to: dayEnd, groupBy: 'source' });
    expect(Object.fromEntries(summary.bySource.map((s: { name: string; count: number }) => [s.name, s.count]))).toEqual(Object.fromEntries(bySource.map((g: { key: string; total: number }) => [g.key, g.total])));
    const byGrid = await stats({ groupBy: 'grid' });
    const mostOverdue = byGrid.map((g: { overdueOpen: number }) => g.overdueOpen).sort((a: number, b: number) => b - a).slice(0, 10);
    expect(summary.mostOverdueGrids.map((g: { overdue: number }) => g.overdue)).toEqual(mostOverdue.filter((n: number) => n > 0));
    expect(summary.districts.length).toBeGreaterThan(0);
  });

  it('counts the workers out now and shows where, never who', async () => {
    const { api, db } = suite;
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(DISTINCT worker)::int AS n FROM patrol_points WHERE flag IS NULL AND recorded_at BETWEEN $1::timestamptz - interval '5 minutes' AND $1`,
      [now],
    );
    expect(rows[0].n).toBeGreaterThan(0);
    const summary = (await api.request.get('/api/wall/summary').set(api.auth('commander')).expect(200)).body;
    expect(summary.kpis.workersOnPatrol).toBe(rows[0].n);
    const patrols = await api.request.get('/api/wall/patrols').set(api.auth('commander')).expect(200);
    expect(patrols.body.positions.length).toBeGreaterThanOrEqual(rows[0].n);
    expect(patrols.body.tracks.length).toBeGreaterThan(0);
    for (const track of patrols.body.tracks) {
      expect(track.path.length).toBe(track.seconds.length);
      expect(Math.max(...track.seconds)).toBeLessThanOrEqual((now.getTime() - Date.parse(dayStart)) / 1000);
    }
    // Worker names (e.g. D01-01-01-001-W1) and grid or track ids appear nowhere in the answer.
    const workers = (await db.pool.query<{ worker: string }>('SELECT DISTINCT worker FROM patrol_tracks')).rows.map((r) => r.worker);
    for (const worker of workers) expect(patrols.text).not.toContain(worker);
    expect(Object.keys(patrols.body.tracks[0]).sort()).toEqual(['path', 'seconds']);
  });

  it('counts incidents per H3 cell over the window, one row per cell', async () => {
    const { api, db } = suite;
    const cells = (await api.request.get('/api/wall/cells').query({ window: '7d', resolution: 8 }).set(api.auth('commander')).expect(200)).body.cells;
    const { rows } = await db.pool.query<{ n: number; cells: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT h3_r8)::int AS cells FROM incidents WHERE reported_at >= $1::timestamptz - interval '7 days' AND reported_at < $1`,
      [now],
    );
    expect(cells.reduce((sum: number, c: { count: number }) => sum + c.count, 0)).toBe(rows[0].n);
    expect(cells).toHaveLength(rows[0].cells);
  });

  it('names a past day for a replay, seen as at its end', async () => {
    const { api } = suite;
    const summary = (await api.request.get('/api/wall/summary').query({ day: '2025-06-01' }).set(api.auth('commander')).expect(200)).body;
    expect(summary).toMatchObject({ day: '2025-06-01', at: '2025-06-01T15:59:59.000Z' });
  });

  it('is for the command centre only, and refuses a bad day or window with problem+json', async () => {
    const { api } = suite;
    await api.request.get('/api/wall/summary').expect(401);
    await api.request.get('/api/wall/summary').set(api.auth('hotline')).expect(403);
    await api.request.get('/api/wall/patrols').set(api.auth('grid_worker')).expect(403);
    for (const query of [{ day: '2025-13-01' }, { day: 'today' }, { window: '1y' }, { resolution: 12 }]) {
      const path = 'window' in query || 'resolution' in query ? '/api/wall/cells' : '/api/wall/summary';
      const refused = await api.request.get(path).query(query).set(api.auth('commander')).expect(400);
      expect(refused.type).toBe('application/problem+json');
    }
  });

  it('tells a token its role, for the start page', async () => {
    const { api } = suite;
    const session = await api.request.get('/api/session').set(api.auth('planner')).expect(200);
    expect(session.body).toEqual({ role: 'planner', label: 'test planner' });
    await api.request.get('/api/session').expect(401);
  });
});
