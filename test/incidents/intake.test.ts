import { useTestApp } from '../support/app';
import { manualClock, pointInGrid, report } from './support';

describe('incident intake', () => {
  const time = manualClock('2026-03-01T08:00:00Z');
  const suite = useTestApp({ clock: time.clock });

  it('has a catalogue of about 30 categories covering every category in the data', async () => {
    const { db } = suite;
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM incident_categories');
    expect(rows[0].n).toBeGreaterThanOrEqual(30);
    const missing = await db.pool.query('SELECT DISTINCT category FROM incidents EXCEPT SELECT name FROM incident_categories');
    expect(missing.rows).toEqual([]);
    const undated = await db.pool.query('SELECT count(*)::int AS n FROM incidents WHERE department IS NULL OR due_at IS NULL');
    expect(undated.rows[0].n).toBe(0);
  });

  it('assigns grid, worker, department, H3 cells and deadlines from the catalogue and the clock', async () => {
    const { db, api } = suite;
    const at = await pointInGrid(db.pool, 3);
    const response = await report(api, at).expect(201);
    const incident = response.body;
    const expected = await db.pool.query(
      `SELECT grid_at(ST_SetSRID(ST_MakePoint($1, $2), 4326)) AS grid, (SELECT workers[1] FROM grids WHERE id = $3) AS worker,
              c.department, c.priority, c.accept_hours, c.accept_hours + c.dispatch_hours + c.handle_hours + c.feedback_hours AS total
       FROM incident_categories c WHERE c.name = '窨井盖'`,
      [at.lon, at.lat, at.gridId],
    );
    const e = expected.rows[0];
    expect(incident).toMatchObject({ status: 'reported', gridId: e.grid, department: e.department, priority: e.priority, assignedWorker: e.worker, duplicateOf: null });
    expect(incident.gridId).toBe(at.gridId);
    expect(incident.h3.r9).toMatch(/^89/);
    expect(new Date(incident.stageDueAt).getTime()).toBe(time.clock().getTime() + e.accept_hours * 3_600_000);
    expect(new Date(incident.dueAt).getTime()).toBe(time.clock().getTime() + e.total * 3_600_000);
    expect(incident.timeline).toEqual([expect.objectContaining({ kind: 'reported', to: 'reported', actorRole: 'hotline' })]);
    expect(response.headers.location).toBe(`/api/incidents/${incident.id}`);
  });

  it('links near-duplicates (same category, ≤ 50 m, ≤ 24 h, open) and keeps them', async () => {
    const { db, api } = suite;
    const at = await pointInGrid(db.pool, 7);
    const first = (await report(api, at, { category: '路灯故障' }).expect(201)).body;
    const near = (await report(api, { lon: at.lon + 0.0002, lat: at.lat }, { category: '路灯故障' }).expect(201)).body; // ≈ 19 m east
    const far = (await report(api, { lon: at.lon, lat: at.lat + 0.0009 }, { category: '路灯故障' }).expect(201)).body; // ≈ 100 m north
    const other = (await report(api, at, { category: '噪音扰民' }).expect(201)).body;
    expect(near.duplicateOf).toBe(first.id);
    expect(far.duplicateOf).toBeNull();
    expect(other.duplicateOf).toBeNull();
    time.advanceHours(25);
    const late = (await report(api, at, { category: '路灯故障' }).expect(201)).body;
    expect(late.duplicateOf).toBeNull();
    const original = (await api.request.get(`/api/incidents/${first.id}`).set(api.auth('commander')).expect(200)).body;
    expect(original.duplicates).toEqual([near.id]);
  });

  it('refuses unknown categories, places outside every grid, unknown fields and bad roles, changing nothing', async () => {
    const { db, api } = suite;
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM incidents')).rows[0].n;
    const at = await pointInGrid(db.pool, 0);
    expect((await report(api, at, { category: '外星人' }).expect(422)).body.rule).toBe('known-category');
    expect((await report(api, { lon: 0, lat: 0 }).expect(422)).body.rule).toBe('inside-grid');
    await report(api, at, { admin: true }).expect(400);
    await report(api, at, { source: 'fax' }).expect(400);
    await report(api, { lon: 200, lat: 0 }).expect(400);
    await report(api, at, { category: "窨井盖'; DROP TABLE incidents; --" }).expect(422);
    await api.request.post('/api/incidents').set(api.auth('planner')).send({}).expect(403);
    await api.request.post('/api/incidents').send({}).expect(401);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM incidents')).rows[0].n).toBe(before);
  });

  it('lets an admin edit the catalogue, which sets the deadlines of later reports', async () => {
    const { db, api } = suite;
    await api.request.patch('/api/incidents/categories/宠物扰民').set(api.auth('commander')).send({ accept_hours: 1 }).expect(403);
    await api.request.patch('/api/incidents/categories/外星人').set(api.auth('admin')).send({ accept_hours: 1 }).expect(404);
    await api.request.patch('/api/incidents/categories/宠物扰民').set(api.auth('admin')).send({ accept_hours: -1 }).expect(400);
    const edited = (await api.request.patch('/api/incidents/categories/宠物扰民').set(api.auth('admin')).send({ accept_hours: 0.5, department: '公安局' }).expect(200)).body;
    expect(edited).toMatchObject({ name: '宠物扰民', accept_hours: 0.5, department: '公安局' });
    const listed = (await api.request.get('/api/incidents/categories').set(api.auth('hotline')).expect(200)).body.categories;
    expect(listed).toContainEqual(edited);
    const incident = (await report(api, await pointInGrid(db.pool, 9), { category: '宠物扰民' }).expect(201)).body;
    expect(incident.department).toBe('公安局');
    expect(new Date(incident.stageDueAt).getTime()).toBe(time.clock().getTime() + 30 * 60_000);
  });

  it('lists incidents with filters and a cursor, matching SQL counts', async () => {
    const { db, api } = suite;
    const query = { category: '群租', status: 'closed', from: '2025-03-01T00:00:00+08:00', to: '2025-06-01T00:00:00+08:00' };
    const expected = (
      await db.pool.query(`SELECT count(*)::int AS n FROM incidents WHERE category = $1 AND status = $2 AND reported_at >= $3 AND reported_at < $4`, [
        query.category, query.status, query.from, query.to,
      ])
    ).rows[0].n;
    expect(expected).toBeGreaterThan(10);
    const seen: number[] = [];
    let cursor: number | null = 0;
    while (cursor !== null) {
      const page: { body: { items: Array<{ id: number; category: string }>; nextCursor: number | null } } = await api.request
        .get('/api/incidents')
        .query({ ...query, limit: 7, cursor })
        .set(api.auth('planner'))
        .expect(200);
      seen.push(...page.body.items.map((item) => item.id));
      expect(page.body.items.every((item) => item.category === '群租')).toBe(true);
      cursor = page.body.nextCursor;
    }
    expect(seen.length).toBe(expected);
    expect(new Set(seen).size).toBe(expected);
  });
});
