import { useTestApp } from '../support/app';
import { waitUntil, watchChanges } from '../support/wait';
import { adjacentLevel4Pair, misplacedMembers, one } from './support';

describe('grid edits: versions, membership, history, delete', () => {
  const suite = useTestApp();

  const versionOf = async (id: number) => (await one<{ version: number }>(suite.db, 'SELECT version FROM grids WHERE id = $1', [id])).version;

  const patch = (id: number, body: object, version?: number | string) => {
    const request = suite.api.request.patch(`/api/grids/${id}`).set(suite.api.auth('planner'));
    if (version !== undefined) request.set('If-Match', `"${version}"`);
    return request.send(body);
  };

  it('PATCH without If-Match is 428, with a stale version 412 naming the current one; nothing changes', async () => {
    const { db } = suite;
    const grid = await one<{ id: number; name: string }>(db, 'SELECT id, name FROM grids WHERE level = 4 ORDER BY id LIMIT 1');
    await patch(grid.id, { name: 'renamed' }).expect(428);
    const stale = await patch(grid.id, { name: 'renamed' }, 7).expect(412);
    expect(stale.body).toMatchObject({ type: 'stale-version', currentVersion: 1 });
    expect(await one(db, 'SELECT name, version FROM grids WHERE id = $1', [grid.id])).toEqual({ name: grid.name, version: 1 });
    const ok = await patch(grid.id, { name: 'renamed', reason: 'new street sign' }, 1).expect(200);
    expect(ok.body.version).toBe(2);
    expect(ok.headers.etag).toBe('"2"');
  });

  it('two PATCH with the same version race: exactly one wins, the other gets 412', async () => {
    const { db } = suite;
    const grid = await one<{ id: number }>(db, 'SELECT id FROM grids WHERE level = 4 ORDER BY id OFFSET 1 LIMIT 1');
    // The race is made, not hoped for: a row lock held here stops both requests inside their transactions, at the
    // version check, until both are seen waiting there; released at once, they race for the row. If they never
    // overlap (one done before the other starts), the wait fails instead of the test passing unexercised.
    const holder = await db.pool.connect();
    let answers: Awaited<ReturnType<typeof patch>>[];
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM grids WHERE id = $1 FOR UPDATE', [grid.id]);
      const racing = Promise.all([patch(grid.id, { leader: 'Planner A' }, 1), patch(grid.id, { leader: 'Planner B' }, 1)]);
      // Asked outside the holder's transaction, which would see one snapshot of pg_stat_activity throughout.
      await waitUntil('both PATCH requests to wait on the grid row', async () => {
        const { rows } = await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FROM grids WHERE id = $1 FOR UPDATE%'`,
        );
        return rows[0].n === 2;
      });
      await holder.query('COMMIT');
      answers = await racing;
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    const [first, second] = answers;
    expect([first.status, second.status].sort()).toEqual([200, 412]);
    const winner = first.status === 200 ? 'Planner A' : 'Planner B';
    expect(await one(db, 'SELECT leader, version FROM grids WHERE id = $1', [grid.id])).toEqual({ leader: winner, version: 2 });
  });

  it('moving a shared border re-assigns buildings and incidents in the same change, publishes the bbox and records history', async () => {
    const { db, api } = suite;
    const { a, b } = await adjacentLevel4Pair(db, 0);
    // A 30 m strip of A along its border with B moves from A to B: shrink A first, then grow B.
    const shapes = await one<{ a_new: object; b_new: object; strip_buildings: number }>(
      db,
      `WITH s AS (SELECT ST_Intersection(a.geom, ST_Buffer(b.geom::geography, 30)::geometry) AS strip, a.geom AS ag, b.geom AS bg
                  FROM grids a, grids b WHERE a.id = $1 AND b.id = $2)
       SELECT ST_AsGeoJSON(ST_Difference(ag, strip), 9)::json AS a_new, ST_AsGeoJSON(ST_Union(bg, strip), 9)::json AS b_new,
              (SELECT count(*)::int FROM buildings x WHERE x.grid_id = $1 AND ST_Intersects(strip, ST_PointOnSurface(x.geom))) AS strip_buildings
       FROM s`,
      [a, b],
    );
    const buildingsOfB = async () => (await one<{ n: number }>(db, 'SELECT count(*)::int AS n FROM buildings WHERE grid_id = $1', [b])).n;
    const before = await buildingsOfB();
    const [versionA, versionB] = [await versionOf(a), await versionOf(b)];
    const changes = watchChanges(api.events);
    const gridEvents = () => changes.events.filter((event) => event.kind === 'layer-changed' && event.layer === 'grids');
    await patch(a, { geometry: shapes.a_new }, versionA).expect(200);
    const grown = await patch(b, { geometry: shapes.b_new, reason: 'road realigned' }, versionB);
    expect(grown.body).toMatchObject({ version: versionB + 1 });
    expect(grown.body.version).toBe(versionB + 1);
    expect(await buildingsOfB()).toBe(before + shapes.strip_buildings);
    expect(await misplacedMembers(db)).toBe(0);
    await changes.until(() => gridEvents().length >= 2);
    changes.stop();
    expect(gridEvents().length).toBe(2);
    expect(gridEvents()[1]).toMatchObject({ ids: [b], bbox: expect.any(Array) });
    const history = await api.request.get(`/api/grids/${b}/history`).set(api.auth('commander')).expect(200);
    expect(history.body.entries.at(-1)).toMatchObject({ action: 'update', reason: 'road realigned', role: 'planner', version: versionB + 1 });
    expect(history.body.entries.at(-1).before.geometry.type).toBe('MultiPolygon');
  });

  it('coverage reports a gap left by a shrunk grid with its area', async () => {
    const { db, api } = suite;
    const { a } = await adjacentLevel4Pair(db, 3);
    const shrunk = await one<{ parent: number; geometry: object; lost: number }>(
      db,
      `SELECT parent_id AS parent, ST_AsGeoJSON(ST_Buffer(geom::geography, -20)::geometry, 9)::json AS geometry,
              ST_Area(geom::geography) - ST_Area(ST_Buffer(geom::geography, -20)) AS lost FROM grids WHERE id = $1`,
      [a],
    );
    await patch(a, { geometry: shrunk.geometry }, await versionOf(a)).expect(200);
    const { body } = await api.request.get(`/api/grids/${shrunk.parent}/coverage`).set(api.auth('planner')).expect(200);
    expect(body.clean).toBe(false);
    expect(body.gapAreaM2).toBeGreaterThan(shrunk.lost * 0.9);
    expect(body.gapAreaM2).toBeLessThan(shrunk.lost * 1.1 + 10);
    expect(body.gaps.features[0].geometry.type).toBe('Polygon');
    expect(await misplacedMembers(db)).toBe(0);
  });

  it('revert restores an earlier version as a new version', async () => {
    const { db, api } = suite;
    const grid = await one<{ id: number; name: string; area: number }>(db, 'SELECT id, name, ST_Area(geom) AS area FROM grids WHERE level = 4 ORDER BY id DESC LIMIT 1');
    const smaller = await one<{ geometry: object }>(db, 'SELECT ST_AsGeoJSON(ST_Buffer(geom::geography, -15)::geometry, 9)::json AS geometry FROM grids WHERE id = $1', [grid.id]);
    await patch(grid.id, { name: 'temporary' }, 1).expect(200);
    await patch(grid.id, { geometry: smaller.geometry }, 2).expect(200);
    await api.request.post(`/api/grids/${grid.id}/revert`).set(api.auth('planner')).send({ version: 1 }).expect(428);
    await api.request.post(`/api/grids/${grid.id}/revert`).set(api.auth('planner')).set('If-Match', '3').send({ version: 9 }).expect(404);
    const reverted = await api.request.post(`/api/grids/${grid.id}/revert`).set(api.auth('planner')).set('If-Match', '3').send({ version: 1 }).expect(200);
    expect(reverted.body.version).toBe(4);
    const now = await one<{ name: string; area: number }>(db, 'SELECT name, ST_Area(geom) AS area FROM grids WHERE id = $1', [grid.id]);
    expect(now.name).toBe(grid.name);
    expect(Math.abs(now.area - grid.area) / grid.area).toBeLessThan(1e-9);
    expect(await misplacedMembers(db)).toBe(0);
    const history = await api.request.get(`/api/grids/${grid.id}/history`).set(api.auth('planner')).expect(200);
    expect(history.body.entries.map((entry: { action: string }) => entry.action)).toEqual(['update', 'update', 'revert']);
  });

  it('DELETE is refused while a grid has members, and moves them to ?target=', async () => {
    const { db, api } = suite;
    const { a, b } = await adjacentLevel4Pair(db, 6);
    const members = await one<{ n: number }>(db, 'SELECT count(*)::int AS n FROM buildings WHERE grid_id = $1', [a]);
    expect(members.n).toBeGreaterThan(0);
    const version = (await one<{ version: number }>(db, 'SELECT version FROM grids WHERE id = $1', [a])).version;
    await api.request.delete(`/api/grids/${a}`).set(api.auth('planner')).expect(428);
    const refused = await api.request.delete(`/api/grids/${a}`).set(api.auth('planner')).set('If-Match', String(version)).expect(409);
    expect(refused.body.rule).toBe('delete-has-dependents');
    await api.request.delete(`/api/grids/${a}`).set(api.auth('police')).set('If-Match', String(version)).expect(403);
    const districtId = (await one<{ id: number }>(db, 'SELECT id FROM grids WHERE level = 1 LIMIT 1')).id;
    await api.request.delete(`/api/grids/${a}?target=${districtId}&targetVersion=${await versionOf(districtId)}`).set(api.auth('planner')).set('If-Match', String(version)).expect(422);
    const before = await one<{ n: number }>(db, 'SELECT count(*)::int AS n FROM buildings WHERE grid_id = $1', [b]);
    const missing = await api.request.delete(`/api/grids/${a}?target=${b}`).set(api.auth('planner')).set('If-Match', String(version)).expect(428);
    expect(missing.body.detail).toMatch(/targetVersion/);
    await api.request.delete(`/api/grids/${a}?targetVersion=1`).set(api.auth('planner')).set('If-Match', String(version)).expect(400);
    await api.request.delete(`/api/grids/${a}?target=${b}&targetVersion=${await versionOf(b)}`).set(api.auth('planner')).set('If-Match', String(version)).expect(200);
    expect(await one(db, 'SELECT count(*)::int AS n FROM grids WHERE id = $1', [a])).toEqual({ n: 0 });
    expect(await one(db, 'SELECT count(*)::int AS n FROM buildings WHERE grid_id = $1', [b])).toEqual({ n: before.n + members.n });
    const history = await api.request.get(`/api/grids/${a}/history`).set(api.auth('planner')).expect(200);
    expect(history.body.entries.at(-1)).toMatchObject({ action: 'delete', after: null });
  });
  it('DELETE ?target= needs an adjacent sibling, which absorbs the area: moved children stay inside it', async () => {
    const { db, api } = suite;
    const apart = await one<{ a: number; b: number }>(
      db,
      `SELECT a.id AS a, b.id AS b FROM grids a JOIN grids b ON a.parent_id = b.parent_id AND a.id <> b.id
       WHERE a.level = 4 AND NOT ST_Intersects(a.geom, b.geom) ORDER BY a.id LIMIT 1`,
    );
    const refused = await api.request.delete(`/api/grids/${apart.a}?target=${apart.b}&targetVersion=${await versionOf(apart.b)}`).set(api.auth('planner')).set('If-Match', String(await versionOf(apart.a))).expect(422);
    expect(refused.body).toMatchObject({ rule: 'delete-target', target: apart.b });
    expect(refused.body.detail).toMatch(/adjacent sibling/);
    const cousins = await one<{ a: number; b: number }>(
      db,
      'SELECT a.id AS a, b.id AS b FROM grids a JOIN grids b ON a.parent_id <> b.parent_id AND a.level = 4 AND b.level = 4 AND ST_Length(ST_Intersection(a.geom, b.geom)) > 0 LIMIT 1',
    );
    const notSibling = await api.request.delete(`/api/grids/${cousins.a}?target=${cousins.b}&targetVersion=${await versionOf(cousins.b)}`).set(api.auth('planner')).set('If-Match', String(await versionOf(cousins.a))).expect(422);
    expect(notSibling.body).toMatchObject({ rule: 'delete-target', target: cousins.b });
    expect(await one(db, 'SELECT count(*)::int AS n FROM grids WHERE id IN ($1, $2)', [apart.a, cousins.a])).toEqual({ n: 2 });

    const pair = await one<{ a: number; b: number; area: number; children: number[] }>(
      db,
      `SELECT a.id AS a, b.id AS b, ST_Area(ST_Union(a.geom, b.geom)::geography) AS area,
              (SELECT array_agg(c.id::int ORDER BY c.id) FROM grids c WHERE c.parent_id = a.id) AS children
       FROM grids a JOIN grids b ON a.parent_id = b.parent_id AND a.id <> b.id
       WHERE a.level = 3 AND ST_Length(ST_Intersection(a.geom, b.geom)) > 0 ORDER BY a.id DESC LIMIT 1`,
    );
    expect(pair.children.length).toBeGreaterThan(0);
    // Another planner renames the target after this one read it: the delete is refused and changes nothing.
    const readVersion = await versionOf(pair.b);
    await patch(pair.b, { name: 'renamed meanwhile' }, readVersion).expect(200);
    const stale = await api.request.delete(`/api/grids/${pair.a}?target=${pair.b}&targetVersion=${readVersion}`).set(api.auth('planner')).set('If-Match', String(await versionOf(pair.a))).expect(412);
    expect(stale.body.currentVersions).toEqual({ [pair.b]: readVersion + 1 });
    expect(await one(db, 'SELECT count(*)::int AS n FROM grids WHERE id = ANY($1::bigint[])', [[pair.a, pair.b]])).toEqual({ n: 2 });
    const targetVersion = await versionOf(pair.b);
    const deleted = await api.request.delete(`/api/grids/${pair.a}?target=${pair.b}&targetVersion=${targetVersion}`).set(api.auth('planner')).set('If-Match', String(await versionOf(pair.a))).expect(200);
    expect(deleted.body).toMatchObject({ deleted: true, targetId: pair.b, children: pair.children.length });
    const target = await one<{ area: number; version: number; outside: number }>(
      db,
      `SELECT ST_Area(t.geom::geography) AS area, t.version,
              (SELECT count(*)::int FROM grids c WHERE c.id = ANY($2::bigint[]) AND (c.parent_id <> t.id OR NOT ST_CoveredBy(c.geom, t.geom))) AS outside
       FROM grids t WHERE t.id = $1`,
      [pair.b, pair.children],
    );
    expect(target).toEqual({ area: expect.closeTo(pair.area, 0), version: targetVersion + 1, outside: 0 });
    const coverage = await api.request.get(`/api/grids/${pair.b}/coverage`).set(api.auth('planner')).expect(200);
    expect(coverage.body.clean).toBe(true);
    expect(await misplacedMembers(db)).toBe(0);
    const history = await api.request.get(`/api/grids/${pair.b}/history`).set(api.auth('planner')).expect(200);
    expect(history.body.entries.at(-1)).toMatchObject({ action: 'merge', version: targetVersion + 1 });
  });
});
