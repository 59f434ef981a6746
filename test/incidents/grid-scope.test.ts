import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { useTestApp } from '../support/app';
import { pointInGrid, report } from './support';

// A 1×1 PNG: enough for an incident photo.
const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==', 'base64');

describe('grid workers and incidents: their grids only; outside them an incident does not exist', () => {
  let inside: { gridId: number; lon: number; lat: number };
  let outside: { gridId: number; lon: number; lat: number };
  const suite = useTestApp(async (db) => {
    inside = await pointInGrid(db.pool, 0);
    outside = await pointInGrid(db.pool, 1);
    return { gridWorkerGrids: [inside.gridId] };
  });

  /** What the grid worker gets, with the incident id in the body written as 0 so that two answers compare. */
  async function asGridWorker(request: (id: number) => Promise<{ status: number; body: unknown }>, id: number) {
    const { status, body } = await request(id);
    return { status, body: JSON.parse(JSON.stringify(body).replaceAll(String(id), '0')) };
  }

  const count = async (sql: string, params: unknown[] = []) => (await suite.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM incidents i ${sql}`, params)).rows[0].n;

  it('lists only the incidents of their grids; a filter for another grid finds nothing', async () => {
    const { api } = suite;
    const own = (await report(api, inside).expect(201)).body;
    const foreign = (await report(api, outside).expect(201)).body;
    const listed = await api.request.get('/api/incidents').query({ cursor: own.id - 1, limit: 1000 }).set(api.auth('grid_worker')).expect(200);
    const ids = listed.body.items.map((item: { id: number }) => item.id);
    expect(ids).toContain(own.id);
    expect(ids).not.toContain(foreign.id);
    expect(listed.body.items.every((item: { gridId: number }) => item.gridId === inside.gridId)).toBe(true);
    const elsewhere = await api.request.get('/api/incidents').query({ grid: outside.gridId }).set(api.auth('grid_worker')).expect(200);
    expect(elsewhere.body.items).toEqual([]);
    const commander = await api.request.get('/api/incidents').query({ cursor: own.id - 1, limit: 1000 }).set(api.auth('commander')).expect(200);
    expect(commander.body.items.map((item: { id: number }) => item.id)).toEqual(expect.arrayContaining([own.id, foreign.id]));
  });

  it('answers reads, steps, photo uploads and photos of an incident outside their grids exactly as for an unknown id (404)', async () => {
    const { api, db } = suite;
    const foreign = (await api.request
      .post('/api/incidents')
      .set(api.auth('hotline'))
      .field('report', JSON.stringify({ category: '窨井盖', location: { type: 'Point', coordinates: [outside.lon, outside.lat] }, source: 'hotline' }))
      .attach('photos', png, { filename: 'site.png', contentType: 'image/png' })
      .expect(201)).body;
    await api.request.post(`/api/incidents/${foreign.id}/transitions`).set(api.auth('hotline')).send({ to: 'accepted' }).expect(200);
    await api.request.post(`/api/incidents/${foreign.id}/transitions`).set(api.auth('commander')).send({ to: 'dispatched' }).expect(200);
    const unknownId = (await db.pool.query<{ id: number }>('SELECT max(id) + 1000 AS id FROM incidents')).rows[0].id;
    const photoId = foreign.uploadedPhotos[0].id;
    const worker = api.auth('grid_worker');
    const requests: Array<(id: number) => Promise<{ status: number; body: unknown }>> = [
      (id) => api.request.get(`/api/incidents/${id}`).set(worker),
      (id) => api.request.post(`/api/incidents/${id}/transitions`).set(worker).send({ to: 'handling' }),
      (id) => api.request.post(`/api/incidents/${id}/photos`).set(worker).attach('photos', png, { filename: 'x.png', contentType: 'image/png' }),
      (id) => api.request.get(`/api/incidents/${id}/photos/${photoId}`).set(worker),
    ];
    for (const request of requests) {
      const answer = await asGridWorker(request, foreign.id);
      expect(answer.status).toBe(404);
      expect(answer).toEqual(await asGridWorker(request, unknownId));
      expect(JSON.stringify(answer.body)).not.toMatch(/gridId|allowedGrids/);
    }
    const stored = (await db.pool.query('SELECT status, (SELECT count(*)::int FROM incident_photos WHERE incident_id = $1) AS photos FROM incidents WHERE id = $1', [foreign.id])).rows[0];
    expect(stored).toEqual({ status: 'dispatched', photos: 1 });
    await api.request.get(`/api/incidents/${foreign.id}/photos/${photoId}`).set(api.auth('commander')).expect(200);
  });

  it('streams only the events of incidents in their grids, also on a replay from Last-Event-ID', async () => {
    const { api, db } = suite;
    const server = http.createServer(api.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/incidents/stream`;
    try {
      const lastEventId = (await db.pool.query<{ id: number }>('SELECT coalesce(max(id), 0)::int AS id FROM incident_events')).rows[0].id;
      const foreign = (await report(api, outside).expect(201)).body;
      const own = (await report(api, inside).expect(201)).body;
      // Replayed in event order: the foreign report comes first, so reaching ours shows whether it was passed over.
      const [worker, commander] = await Promise.all(
        (['grid_worker', 'commander'] as const).map((role) => incidentIdsStreamedUntil(url, api.tokens[role], lastEventId, own.id)),
      );
      const events = (await db.pool.query<{ incidentId: number; gridId: number }>(
        'SELECT e.incident_id AS "incidentId", i.grid_id AS "gridId" FROM incident_events e JOIN incidents i ON i.id = e.incident_id WHERE e.id > $1 AND e.id <= (SELECT min(id) FROM incident_events WHERE incident_id = $2) ORDER BY e.id',
        [lastEventId, own.id],
      )).rows;
      expect(commander).toEqual(events.map((event) => event.incidentId));
      expect(commander).toContain(foreign.id);
      expect(worker).toEqual(events.filter((event) => event.gridId === inside.gridId).map((event) => event.incidentId));
      expect(worker).not.toContain(foreign.id);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('gives their grids\' statistics and indicators, and the whole city only as one row', async () => {
    const { api } = suite;
    await report(api, inside).expect(201);
    await report(api, outside).expect(201);
    const stats = (await api.request.get('/api/stats/incidents').query({ groupBy: 'grid' }).set(api.auth('grid_worker')).expect(200)).body;
    expect(stats.groups.map((group: { key: string }) => group.key)).toEqual([String(inside.gridId)]);
    expect(stats.groups[0].total).toBe(await count('WHERE i.grid_id = $1', [inside.gridId]));
    expect(stats.cityWide).toMatchObject({ key: 'all', total: await count('') });
    const elsewhere = (await api.request.get('/api/stats/incidents').query({ grid: outside.gridId }).set(api.auth('grid_worker')).expect(200)).body;
    expect(elsewhere.groups).toEqual([]);

    const wall = (await api.request.get('/api/stats/incidents').query({ groupBy: 'grid' }).set(api.auth('commander')).expect(200)).body;
    expect(wall.groups.length).toBeGreaterThan(1);
    expect(wall.cityWide).toBeUndefined();

    const indicators = (await api.request.get('/api/stats/incidents/workers').set(api.auth('grid_worker')).expect(200)).body.workers;
    const assigned = indicators.reduce((sum: number, worker: { assigned: number }) => sum + worker.assigned, 0);
    expect(assigned).toBe(await count('JOIN grids g ON g.id = i.grid_id WHERE i.grid_id = $1 AND coalesce(i.assigned_worker, g.workers[1]) IS NOT NULL', [inside.gridId]));
  });
});

/** Opens the stream after `lastEventId` and collects the incident ids of its events until `lastIncidentId` arrives. */
function incidentIdsStreamedUntil(url: string, token: string, lastEventId: number, lastIncidentId: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const ids: number[] = [];
    let text = '';
    const request = http.get(url, { headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': String(lastEventId) } }, (response) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        const blocks = (text + chunk).split('\n\n');
        text = blocks.pop() ?? '';
        for (const data of blocks.map((block) => /^data: (.*)$/m.exec(block)?.[1]).filter(Boolean)) ids.push(JSON.parse(data as string).incidentId);
        if (ids.includes(lastIncidentId)) {
          request.destroy();
          resolve(ids);
        }
      });
    });
    request.on('error', reject);
    request.setTimeout(10_000, () => request.destroy(new Error(`no event of incident ${lastIncidentId} in 10 s; received ${ids.join(', ')}`)));
  });
}
