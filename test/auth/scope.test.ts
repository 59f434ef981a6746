import { pointInGrid, report } from '../incidents/support';
import { useTestApp } from '../support/app';

/** Every key named actorTokenId or tokenId anywhere in a JSON body. */
function tokenIdKeys(body: unknown): string[] {
  return [...JSON.stringify(body).matchAll(/"(actorTokenId|tokenId|token_id)":/g)].map((match) => match[1]);
}

describe('token ids of the people who acted: admins only', () => {
  let at: { gridId: number; lon: number; lat: number };
  const suite = useTestApp(async (db) => {
    at = await pointInGrid(db.pool, 0);
    return { gridWorkerGrids: [at.gridId] };
  });

  it('leaves actorTokenId out of incident timelines for every role but admin', async () => {
    const { api } = suite;
    const created = await report(api, at).expect(201);
    expect(tokenIdKeys(created.body)).toEqual([]);
    const id = created.body.id as number;
    const accepted = await api.request.post(`/api/incidents/${id}/transitions`).set(api.auth('hotline')).send({ to: 'accepted' }).expect(200);
    expect(tokenIdKeys(accepted.body)).toEqual([]);
    for (const role of ['planner', 'commander', 'police', 'grid_worker', 'hotline'] as const) {
      const read = await api.request.get(`/api/incidents/${id}`).set(api.auth(role)).expect(200);
      expect(read.body.timeline.map((event: { actorRole: string }) => event.actorRole)).toEqual(['hotline', 'hotline']);
      expect(tokenIdKeys(read.body)).toEqual([]);
    }
    const hotline = (await suite.db.pool.query<{ id: number }>("SELECT id::int FROM api_tokens WHERE label = 'test hotline'")).rows[0].id;
    const admin = await api.request.get(`/api/incidents/${id}`).set(api.auth('admin')).expect(200);
    expect(admin.body.timeline.map((event: { actorTokenId: number }) => event.actorTokenId)).toEqual([hotline, hotline]);
  });

  it('leaves the writer\'s tokenId out of grid history for every role but admin; the audit log is for admins only', async () => {
    const { api, db } = suite;
    const version = (await db.pool.query<{ version: number }>('SELECT version FROM grids WHERE id = $1', [at.gridId])).rows[0].version;
    await api.request.patch(`/api/grids/${at.gridId}`).set(api.auth('planner')).set('If-Match', `"${version}"`).send({ name: '改名网格' }).expect(200);
    for (const role of ['planner', 'commander', 'police', 'grid_worker', 'hotline'] as const) {
      const history = await api.request.get(`/api/grids/${at.gridId}/history`).set(api.auth(role)).expect(200);
      expect(history.body.entries.at(-1)).toMatchObject({ action: 'update', role: 'planner' });
      expect(tokenIdKeys(history.body)).toEqual([]);
      await api.request.get('/api/audit').set(api.auth(role)).expect(403);
    }
    const planner = (await db.pool.query<{ id: number }>("SELECT id::int FROM api_tokens WHERE label = 'test planner'")).rows[0].id;
    const history = await api.request.get(`/api/grids/${at.gridId}/history`).set(api.auth('admin')).expect(200);
    expect(history.body.entries.at(-1).tokenId).toBe(planner);
    const audit = await api.request.get('/api/audit').query({ entity: 'grids', entity_id: at.gridId }).set(api.auth('admin')).expect(200);
    expect(audit.body.entries[0].token_id).toBe(planner);
  });
});
