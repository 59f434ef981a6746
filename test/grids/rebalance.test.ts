import { useTestApp } from '../support/app';
import { misplacedMembers, one } from './support';

describe('POST /api/grids/:id/rebalance', () => {
  const suite = useTestApp();
  let community: { id: number; households: number; children: number };
  const target = 250;

  beforeAll(async () => {
    community = await one(
      suite.db,
      `SELECT p.id, (SELECT count(*)::int FROM grids c WHERE c.parent_id = p.id) AS children,
              (SELECT sum(b.households)::int FROM buildings b WHERE ST_Intersects(p.geom, ST_PointOnSurface(b.geom))) AS households
       FROM grids p WHERE level = 3 ORDER BY 3 DESC LIMIT 1`,
    );
  });

  it('previews round(households / target) grids with deviation and compactness, changing nothing', async () => {
    const { db, api } = suite;
    const { body } = await api.request.post(`/api/grids/${community.id}/rebalance`).set(api.auth('planner')).send({ targetHouseholds: target }).expect(200);
    expect(body.committed).toBe(false);
    expect(body.grids).toBe(Math.round(community.households / target));
    expect(body.households).toBe(community.households);
    const features = body.proposal.features as Array<{ properties: { households: number; deviation: number; polsbyPopper: number; parts: number } }>;
    expect(features).toHaveLength(body.grids);
    expect(features.reduce((sum, f) => sum + f.properties.households, 0)).toBe(community.households);
    for (const { properties } of features) {
      expect(properties.parts).toBe(1);
      expect(properties.polsbyPopper).toBeGreaterThan(0.1);
    }
    expect(body.meanPolsbyPopper).toBeGreaterThan(0.4);
    expect(await one(db, 'SELECT count(*)::int AS n FROM grids WHERE parent_id = $1', [community.id])).toEqual({ n: community.children });
  });

  it('commits grids that are contiguous, tile the parent exactly, stay within 10% and hold every building once', async () => {
    const { db, api } = suite;
    const send = (version?: string) => {
      const request = api.request.post(`/api/grids/${community.id}/rebalance`).set(api.auth('planner'));
      if (version) request.set('If-Match', version);
      return request.send({ targetHouseholds: target, tolerance: 0.1, commit: true });
    };
    await send().expect(428);
    await send('"7"').expect(412);
    const { body } = await send('"1"').expect(200);
    await send('"1"').expect(412);
    const ids = body.ids as number[];
    const check = await one<{ parts: number; gap: number; overlap: number; children: number }>(
      db,
      `WITH c AS (SELECT id, geom FROM grids WHERE parent_id = $1)
       SELECT (SELECT max(ST_NumGeometries(geom)) FROM c) AS parts,
              (SELECT ST_Area(ST_SymDifference(p.geom, (SELECT ST_Union(geom) FROM c))::geography) FROM grids p WHERE p.id = $1) AS gap,
              (SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0) FROM c a JOIN c b ON a.id < b.id AND ST_Intersects(a.geom, b.geom)) AS overlap,
              (SELECT count(*)::int FROM c) AS children`,
      [community.id],
    );
    expect(check.parts).toBe(1);
    expect(check.gap).toBeLessThan(1);
    expect(check.overlap).toBeLessThan(1);
    expect(check.children).toBe(ids.length);
    const { rows } = await db.pool.query<{ households: number }>(
      'SELECT coalesce(sum(b.households), 0)::int AS households FROM grids g LEFT JOIN buildings b ON b.grid_id = g.id WHERE g.parent_id = $1 GROUP BY g.id',
      [community.id],
    );
    const worst = Math.max(...rows.map((row) => Math.abs(row.households - target) / target));
    expect(worst).toBeLessThanOrEqual(Math.max(0.1, Math.abs(community.households / ids.length - target) / target + 0.1));
    expect(rows.reduce((sum, row) => sum + row.households, 0)).toBe(community.households);
    expect(await misplacedMembers(db)).toBe(0);
    const split = await one<{ n: number }>(
      db,
      `SELECT count(*)::int AS n FROM buildings b
       WHERE (SELECT count(*) FROM grids g WHERE g.parent_id = $1 AND g.geom && b.geom AND ST_Area(ST_Intersection(g.geom, b.geom)::geography) > 0.01) > 1`,
      [community.id],
    );
    expect(split.n).toBe(0);
    const coverage = await api.request.get(`/api/grids/${community.id}/coverage`).set(api.auth('planner')).expect(200);
    expect(coverage.body.gapAreaM2 + coverage.body.overlapAreaM2).toBeLessThan(1);
  });

  it('refuses a level-4 grid and non-editors', async () => {
    const { db, api } = suite;
    const cell = await one<{ id: number }>(db, 'SELECT id FROM grids WHERE level = 4 LIMIT 1');
    await api.request.post(`/api/grids/${cell.id}/rebalance`).set(api.auth('planner')).send({ targetHouseholds: target }).expect(422);
    await api.request.post(`/api/grids/${community.id}/rebalance`).set(api.auth('police')).send({ targetHouseholds: target }).expect(403);
  });
});
