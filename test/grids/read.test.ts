import pg from 'pg';
import { useTestApp } from '../support/app';
import { one } from './support';

describe('grid reads', () => {
  const suite = useTestApp();

  it('GET /api/grids/:id gives the parent chain nearest first and the child count', async () => {
    const { db, api } = suite;
    const community = await one<{ id: number; children: number }>(
      db,
      'SELECT g.id, (SELECT count(*)::int FROM grids c WHERE c.parent_id = g.id) AS children FROM grids g WHERE level = 3 ORDER BY id LIMIT 1',
    );
    const response = await api.request.get(`/api/grids/${community.id}`).set(api.auth('police')).expect(200);
    expect(response.body.childCount).toBe(community.children);
    expect(response.body.parents.map((parent: { level: number }) => parent.level)).toEqual([2, 1]);
    expect(response.headers.etag).toBe(`"${response.body.version}"`);
    const children = await api.request.get(`/api/grids/${community.id}/children`).set(api.auth('hotline')).expect(200);
    expect(children.body.features).toHaveLength(community.children);
  });

  it('reads a grid, its parent chain and its child count with one statement: one snapshot, one wait for a connection', async () => {
    const { db, api } = suite;
    const grid = await one<{ id: number; top: number }>(db, 'SELECT id, (SELECT id FROM grids WHERE parent_id IS NULL ORDER BY id LIMIT 1) AS top FROM grids WHERE level = 4 ORDER BY id LIMIT 1');
    const sent = jest.spyOn(pg.Client.prototype, 'query');
    try {
      const response = await api.request.get(`/api/grids/${grid.id}`).set(api.auth('police')).expect(200);
      expect(response.body.parents.map((parent: { level: number }) => parent.level)).toEqual([3, 2, 1]);
      expect(response.body.childCount).toBe(0);
      const texts = sent.mock.calls.map(([query]) => (typeof query === 'string' ? query : (query as { text: string }).text));
      expect(texts.filter((text) => /\bFROM grids\b/.test(text))).toHaveLength(1);
    } finally {
      sent.mockRestore();
    }
    const top = await api.request.get(`/api/grids/${grid.top}`).set(api.auth('police')).expect(200);
    expect(top.body.parents).toEqual([]);
    expect(top.body.childCount).toBeGreaterThan(0);
  });

  it('documents every grid route in the OpenAPI document', async () => {
    const { api } = suite;
    const { body } = await api.request.get('/api').expect(200);
    const paths = Object.keys(body.paths);
    for (const path of ['/api/grids/{id}', '/api/grids/{id}/split', '/api/grids/merge', '/api/grids/{id}/rebalance', '/api/grids/{id}/revert']) {
      expect(paths).toContain(path);
    }
  });

  it('answers 404 for a grid that does not exist and 401 without a token', async () => {
    const { api } = suite;
    await api.request.get('/api/grids/999999').set(api.auth('planner')).expect(404);
    await api.request.get('/api/grids/1').expect(401);
  });

  it('stats match independent counts over the level-4 grids below', async () => {
    const { db, api } = suite;
    const street = await one<{ id: number }>(db, 'SELECT id FROM grids WHERE level = 2 ORDER BY id LIMIT 1');
    const expected = await one<{ buildings: number; households: number; people: number; hazards: number; key_places: number }>(
      db,
      `WITH cells AS (SELECT c4.id FROM grids c4 JOIN grids c3 ON c4.parent_id = c3.id WHERE c3.parent_id = $1)
       SELECT (SELECT count(*)::int FROM buildings WHERE grid_id IN (SELECT id FROM cells)) AS buildings,
              (SELECT sum(households)::int FROM buildings WHERE grid_id IN (SELECT id FROM cells)) AS households,
              (SELECT count(*)::int FROM people p JOIN buildings b ON b.id = p.building_id WHERE b.grid_id IN (SELECT id FROM cells)) AS people,
              (SELECT count(*)::int FROM hazards WHERE grid_id IN (SELECT id FROM cells)) AS hazards,
              (SELECT count(*)::int FROM key_places WHERE grid_id IN (SELECT id FROM cells)) AS key_places`,
      [street.id],
    );
    const { body } = await api.request.get(`/api/grids/${street.id}/stats`).set(api.auth('commander')).expect(200);
    expect(body.buildings).toBe(expected.buildings);
    expect(body.households).toBe(expected.households);
    expect(Object.values(body.peopleByCategory as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(expected.people);
    expect(Object.values(body.hazardsByRiskLevel as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(expected.hazards);
    expect(body.keyPlaces).toBe(expected.key_places);
    expect(expected.buildings).toBeGreaterThan(0);
  });

  it('coverage of a demo community is clean and agrees with SQL', async () => {
    const { db, api } = suite;
    const community = await one<{ id: number; gap: number }>(
      db,
      `SELECT p.id, ST_Area(ST_Difference(p.geom, ST_Union(c.geom))::geography) AS gap
       FROM grids p JOIN grids c ON c.parent_id = p.id WHERE p.level = 3 GROUP BY p.id ORDER BY p.id LIMIT 1`,
    );
    const { body } = await api.request.get(`/api/grids/${community.id}/coverage`).set(api.auth('planner')).expect(200);
    expect(body.gapAreaM2).toBeCloseTo(community.gap > 0.01 ? community.gap : 0, 0);
    expect(body.overlaps.features).toHaveLength(0);
  });
});
