import { transitions } from '../../server/incidents/workflow';
import { useTestApp } from '../support/app';
import { level4GridIds, pointInGrid, report } from '../incidents/support';

/**
 * Conditional requests on every versioned resource: the single-resource GET answers its version as ETag (304 for
 * If-None-Match with it), and a write with a stale If-Match is refused with 412, changing nothing. If-Match is
 * optional for layer features and incidents (phone apps and Open311 clients never send it) and required for grids.
 */
describe('ETag and If-Match', () => {
  const suite = useTestApp(async (db) => ({ gridWorkerGrids: await level4GridIds(db.pool) }));

  it('versions a layer feature: ETag on GET, 304, 412 when stale, and a write without If-Match still works', async () => {
    const { api, db } = suite;
    const id = (await db.pool.query<{ id: number }>('SELECT id FROM hazards ORDER BY id LIMIT 1')).rows[0].id;
    const read = await api.request.get(`/api/layers/hazards/${id}`).set(api.auth('planner')).expect(200);
    const etag = read.headers.etag as string;
    expect(etag).toMatch(/^"\d+"$/);
    await api.request.get(`/api/layers/hazards/${id}`).set(api.auth('planner')).set('If-None-Match', etag).expect(304);

    const changed = await api.request.patch(`/api/layers/hazards/${id}`).set(api.auth('planner')).set('If-Match', etag).send({ properties: { name: 'first' } }).expect(200);
    expect(changed.headers.etag).not.toBe(etag);
    const stale = await api.request.patch(`/api/layers/hazards/${id}`).set(api.auth('planner')).set('If-Match', etag).send({ properties: { name: 'second' } }).expect(412);
    expect(stale.body).toMatchObject({ type: 'stale-version', currentVersion: JSON.parse(changed.headers.etag as string) });
    await api.request.delete(`/api/layers/hazards/${id}`).set(api.auth('planner')).set('If-Match', etag).expect(412);
    expect((await db.pool.query('SELECT name FROM hazards WHERE id = $1', [id])).rows).toEqual([{ name: 'first' }]);

    await api.request.patch(`/api/layers/hazards/${id}`).set(api.auth('planner')).send({ properties: { name: 'third' } }).expect(200);
    await api.request.patch(`/api/layers/hazards/${id}`).set(api.auth('planner')).set('If-Match', 'version 3').send({ properties: { name: 'x' } }).expect(400);
  });

  it('versions an incident: ETag on GET, 412 for a step taken on a stale version', async () => {
    const { api, db } = suite;
    const step = transitions[0];
    const role = step.roles[0];
    const id = (await report(api, await pointInGrid(db.pool, 5), { category: '乱贴乱画' }).expect(201)).body.id as number;
    await db.pool.query('UPDATE incidents SET status = $2 WHERE id = $1', [id, step.from]);
    const read = await api.request.get(`/api/incidents/${id}`).set(api.auth(role)).expect(200);
    const etag = read.headers.etag as string;
    expect(etag).toBe(`"${read.body.version}"`);

    await db.pool.query('UPDATE incidents SET version = version + 1 WHERE id = $1', [id]);
    await api.request.post(`/api/incidents/${id}/transitions`).set(api.auth(role)).set('If-Match', etag).send({ to: step.to }).expect(412);
    expect((await db.pool.query('SELECT status FROM incidents WHERE id = $1', [id])).rows[0].status).toBe(step.from);

    const moved = await api.request.post(`/api/incidents/${id}/transitions`).set(api.auth(role)).send({ to: step.to }).expect(200);
    expect(moved.headers.etag).toBe(`"${moved.body.version}"`);
  });

  it('still requires If-Match for a grid (428) and names the current version when stale (412)', async () => {
    const { api, db } = suite;
    const id = (await db.pool.query<{ id: number }>('SELECT id FROM grids WHERE level = 4 ORDER BY id LIMIT 1')).rows[0].id;
    const read = await api.request.get(`/api/grids/${id}`).set(api.auth('planner')).expect(200);
    await api.request.get(`/api/grids/${id}`).set(api.auth('planner')).set('If-None-Match', read.headers.etag as string).expect(304);
    await api.request.patch(`/api/grids/${id}`).set(api.auth('planner')).send({ name: 'renamed' }).expect(428);
    await api.request.patch(`/api/grids/${id}`).set(api.auth('planner')).set('If-Match', '"999"').send({ name: 'renamed' }).expect(412);
  });
});
