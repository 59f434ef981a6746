import { createTestApp, type TestApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { manualClock, pointInGrid } from '../incidents/helpers';

describe('Open311 GeoReport v2', () => {
  let db: TestDatabase;
  let api: TestApp;
  const time = manualClock('2026-03-01T08:00:00Z');
  beforeAll(async () => {
    db = await createTestDatabase();
    api = await createTestApp(db, { clock: time.clock });
  });
  afterAll(async () => {
    await api.close();
    await db.drop();
  });

  it('lists one service per catalogue category and describes each', async () => {
    const services = (await api.request.get('/open311/v2/services.json').expect(200)).body;
    const count = (await db.pool.query('SELECT count(*)::int AS n FROM incident_categories')).rows[0].n;
    expect(services).toHaveLength(count);
    expect(services).toContainEqual(expect.objectContaining({ service_code: 'manhole-cover', service_name: '窨井盖', group: '市政公用局', metadata: false, type: 'realtime' }));
    expect((await api.request.get('/open311/v2/services/manhole-cover.json').expect(200)).body).toEqual({ service_code: 'manhole-cover', attributes: [] });
    await api.request.get('/open311/v2/services/unicorns.json').expect(404);
  });

  it('round-trips a form-encoded POST through GET requests/{id}.json and the filters', async () => {
    const at = await pointInGrid(db.pool, 4);
    const posted = await api.request
      .post('/open311/v2/requests.json')
      .type('form')
      .send({ service_code: 'manhole-cover', lat: String(at.lat), long: String(at.lon), description: 'Loose cover', email: 'a@example.org', media_url: 'https://example.org/p.jpg', api_key: 'k' })
      .expect(201);
    const id = posted.body[0].service_request_id;
    expect(id).toMatch(/^\d+$/);

    const fetched = (await api.request.get(`/open311/v2/requests/${id}.json`).expect(200)).body;
    expect(fetched).toHaveLength(1);
    expect(fetched[0]).toMatchObject({ service_request_id: id, status: 'open', service_code: 'manhole-cover', service_name: '窨井盖', description: 'Loose cover', agency_responsible: '市政公用局', media_url: 'https://example.org/p.jpg' });
    expect(fetched[0].lat).toBeCloseTo(at.lat, 6);
    expect(fetched[0].long).toBeCloseTo(at.lon, 6);
    const stored = (await db.pool.query('SELECT source, grid_id, reporter_contact FROM incidents WHERE id = $1', [Number(id)])).rows[0];
    expect(stored).toEqual({ source: 'open311', grid_id: at.gridId, reporter_contact: 'a@example.org' });

    const open = (await api.request.get('/open311/v2/requests.json').query({ service_code: 'manhole-cover', status: 'open' }).expect(200)).body;
    const openInWindow = await db.pool.query(
      "SELECT id::text FROM incidents WHERE category = '窨井盖' AND status NOT IN ('closed', 'rejected') AND reported_at >= $1::timestamptz - interval '90 days' ORDER BY id",
      [time.clock()],
    );
    expect(open.map((r: { service_request_id: string }) => r.service_request_id)).toEqual(openInWindow.rows.map((r) => r.id));
    expect(open.at(-1).service_request_id).toBe(id);
    const closed = (await api.request.get('/open311/v2/requests.json').query({ service_code: 'manhole-cover', status: 'closed' }).expect(200)).body;
    expect(closed.every((r: { status: string }) => r.status === 'closed')).toBe(true);
    expect(closed.map((r: { service_request_id: string }) => r.service_request_id)).not.toContain(id);
    const history = (await api.request.get('/open311/v2/requests.json').query({ service_code: 'dispute', start_date: '2025-05-01T00:00:00+08:00', end_date: '2025-06-01T00:00:00+08:00' }).expect(200)).body;
    const expected = (await db.pool.query("SELECT count(*)::int AS n FROM incidents WHERE category = '矛盾纠纷' AND reported_at >= '2025-05-01T00:00:00+08:00' AND reported_at < '2025-06-01T00:00:00+08:00'")).rows[0].n;
    expect(history).toHaveLength(expected);
  });

  it('accepts JSON too and refuses unknown services, bad coordinates and unknown fields', async () => {
    const at = await pointInGrid(db.pool, 4);
    await api.request.post('/open311/v2/requests.json').send({ service_code: 'noise', lat: at.lat, long: at.lon }).expect(201);
    await api.request.post('/open311/v2/requests.json').type('form').send({ service_code: 'unicorns', lat: String(at.lat), long: String(at.lon) }).expect(400);
    await api.request.post('/open311/v2/requests.json').type('form').send({ service_code: 'noise', lat: '95', long: String(at.lon) }).expect(400);
    await api.request.post('/open311/v2/requests.json').type('form').send({ service_code: 'noise', lat: String(at.lat), long: String(at.lon), status: 'closed' }).expect(400);
    await api.request.get('/open311/v2/requests/999999999.json').expect(404);
  });
});
