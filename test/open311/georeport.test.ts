import { useTestApp } from '../support/app';
import { manualClock, pointInGrid } from '../incidents/support';

describe('Open311 GeoReport v2', () => {
  const time = manualClock('2026-03-01T08:00:00Z');
  const suite = useTestApp({ clock: time.clock });

  it('lists one service per catalogue category and describes each', async () => {
    const { db, api } = suite;
    const services = (await api.request.get('/open311/v2/services.json').expect(200)).body;
    const count = (await db.pool.query('SELECT count(*)::int AS n FROM incident_categories')).rows[0].n;
    expect(services).toHaveLength(count);
    expect(services).toContainEqual(expect.objectContaining({ service_code: 'manhole-cover', service_name: '窨井盖', group: '市政公用局', metadata: false, type: 'realtime' }));
    expect((await api.request.get('/open311/v2/services/manhole-cover.json').expect(200)).body).toEqual({ service_code: 'manhole-cover', attributes: [] });
    await api.request.get('/open311/v2/services/unicorns.json').expect(404);
  });

  it('round-trips a form-encoded POST through GET requests/{id}.json and the filters', async () => {
    const { db, api } = suite;
    const at = await pointInGrid(db.pool, 4);
    const posted = await api.request
      .post('/open311/v2/requests.json')
      .type('form')
      .send({ service_code: 'manhole-cover', lat: String(at.lat), long: String(at.lon), description: 'Loose cover', email: 'a@example.org', media_url: 'https://example.org/p.jpg', api_key: api.tokens.hotline })
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
    // The api_key is a citygrid token: the audit trail names it.
    const audit = (await db.pool.query("SELECT role, route FROM audit_log WHERE entity = 'incidents' AND entity_id = $1 AND action = 'insert'", [Number(id)])).rows;
    expect(audit).toEqual([{ role: 'hotline', route: 'POST /open311/v2/requests.json' }]);

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

  it('accepts JSON too and refuses unknown services, bad coordinates and unknown fields with GeoReport v2 errors', async () => {
    const { db, api } = suite;
    const at = await pointInGrid(db.pool, 4);
    const key = api.tokens.hotline;
    await api.request.post('/open311/v2/requests.json').send({ service_code: 'noise', lat: at.lat, long: at.lon, api_key: key }).expect(201);
    const refused = async (status: number, send: () => ReturnType<typeof api.request.get>, mentions: RegExp) => {
      const response = await send().expect(status).expect('Content-Type', /^application\/json/);
      expect(response.body.length).toBeGreaterThan(0);
      for (const error of response.body) expect(error).toEqual({ code: status, description: expect.any(String) });
      expect(response.body.some((error: { description: string }) => mentions.test(error.description))).toBe(true);
    };
    const post = (body: Record<string, string>) => () => api.request.post('/open311/v2/requests.json').type('form').send(body);
    await refused(400, post({ service_code: 'unicorns', lat: String(at.lat), long: String(at.lon), api_key: key }), /unicorns/);
    await refused(400, post({ service_code: 'noise', lat: '95', long: String(at.lon), api_key: key }), /lat/);
    await refused(400, post({ service_code: 'noise', lat: String(at.lat), long: String(at.lon), status: 'closed', api_key: key }), /status/);
    await refused(400, () => api.request.post('/open311/v2/requests.json').set('Content-Type', 'application/json').send('{"service_code": '), /JSON|Unexpected|parse/i);
    await refused(404, () => api.request.get('/open311/v2/requests/999999999.json'), /999999999/);
    await refused(404, () => api.request.get('/open311/v2/services/unicorns.json'), /unicorns/);
    await refused(400, () => api.request.get('/open311/v2/requests.json').query({ status: 'pending' }), /status/);
    // Everywhere else errors stay problem+json.
    await api.request.get('/api/incidents/999999999').set(api.auth('commander')).expect(404).expect('Content-Type', /^application\/problem\+json/);
  });

  it('files requests only with a valid api_key of a role that may report', async () => {
    const { db, api } = suite;
    const at = await pointInGrid(db.pool, 5);
    const body = { service_code: 'graffiti', lat: String(at.lat), long: String(at.lon), description: 'api key check' };
    const count = async () => (await db.pool.query("SELECT count(*)::int AS n FROM incidents WHERE description = 'api key check'")).rows[0].n;
    const missing = await api.request.post('/open311/v2/requests.json').type('form').send(body).expect(400);
    expect(missing.body).toEqual([{ code: 400, description: expect.stringMatching(/api_key/) }]);
    const unknown = await api.request.post('/open311/v2/requests.json').type('form').send({ ...body, api_key: 'cg_not-a-token' }).expect(403);
    expect(unknown.body).toEqual([{ code: 403, description: expect.stringMatching(/api_key/) }]);
    const planner = await api.request.post('/open311/v2/requests.json').type('form').send({ ...body, api_key: api.tokens.planner }).expect(403);
    expect(planner.body).toEqual([{ code: 403, description: expect.stringMatching(/planner/) }]);
    expect(await count()).toBe(0);
    await api.request.post('/open311/v2/requests.json').type('form').send({ ...body, api_key: api.tokens.grid_worker }).expect(201);
    expect(await count()).toBe(1);
    // Reading stays public; clients that send their key on reads are not refused.
    await api.request.get('/open311/v2/requests.json').query({ service_code: 'graffiti', api_key: 'anything' }).expect(200);
  });

  it('documents the GeoReport v2 error format in OpenAPI', async () => {
    const { api } = suite;
    const document = (await api.request.get('/api').expect(200)).body;
    expect(Object.keys(document.paths['/open311/v2/requests.json'].post.responses.default.content)).toEqual(['application/json']);
    expect(Object.keys(document.paths['/api/incidents/{id}'].get.responses.default.content)).toEqual(['application/problem+json']);
  });
});
