// npm run bench:grids: rebalance one community of 10,000 buildings into 40 grids, in a scratch database.
import pg from 'pg';
// Registers .openapi() on zod before the domain schemas are loaded (the app does this through its routes).
import '../server/http/openapi';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool, ensureDatabaseExists } from '../server/db/pool';
import { rebalanceGrid } from '../server/grids/rebalance';

const buildings = 10_000;
const grids = 40;
// The acceptance figures: < 3 s, max |deviation| ≤ 10%; compactness has no baseline (reported).
const baseline = { seconds: 3, maxDeviation: 0.1 };

async function seedCommunity(pool: pg.Pool): Promise<{ communityId: number; households: number }> {
  const square = 'ST_Multi(ST_MakeEnvelope(121.0, 31.0, 121.03, 31.025, 4326))';
  await pool.query("SELECT set_config('citygrid.bulk', 'on', false)");
  await pool.query('TRUNCATE grids, buildings, people, hazards, key_places, incidents, patrol_tracks, patrol_points RESTART IDENTITY CASCADE');
  await pool.query(`INSERT INTO grids (code, name, level, parent_id, geom) VALUES ('B1', 'bench district', 1, NULL, ${square})`);
  await pool.query(`INSERT INTO grids (code, name, level, parent_id, geom) VALUES ('B1-1', 'bench street', 2, 1, ${square})`);
  const { rows } = await pool.query<{ id: number }>(`INSERT INTO grids (code, name, level, parent_id, geom) VALUES ('B1-1-1', 'bench community', 3, 2, ${square}) RETURNING id`);
  // Buildings in clusters (estates) of 10–20 m footprints with 1–40 households, from a fixed seed.
  await pool.query('SELECT setseed(0.42)');
  await pool.query(
    `WITH estates AS (SELECT e, 121.001 + random() * 0.028 AS cx, 31.001 + random() * 0.023 AS cy FROM generate_series(1, 200) e),
     spots AS (SELECT s, (SELECT cx FROM estates WHERE e = 1 + (s % 200)) + (random() - 0.5) * 0.003 AS x,
                         (SELECT cy FROM estates WHERE e = 1 + (s % 200)) + (random() - 0.5) * 0.003 AS y,
                         (10 + random() * 10) / 111320.0 AS side, 1 + floor(random() * 40)::int AS households
               FROM generate_series(1, $1) s)
     INSERT INTO buildings (households, geom)
     SELECT households, ST_Multi(ST_MakeEnvelope(least(greatest(x, 121.0001), 121.0297), least(greatest(y, 31.0001), 31.0247),
                                                  least(greatest(x, 121.0001), 121.0297) + side, least(greatest(y, 31.0001), 31.0247) + side, 4326))
     FROM spots`,
    [buildings],
  );
  const total = await pool.query<{ n: number }>('SELECT sum(households)::int AS n FROM buildings');
  await pool.query('ANALYZE grids; ANALYZE buildings');
  return { communityId: rows[0].id, households: total.rows[0].n };
}

async function main(): Promise<void> {
  const serverUrl = await resolveDatabaseUrl(loadConfig());
  const url = new URL(serverUrl);
  url.pathname = '/citygrid_bench_grids';
  await ensureDatabaseExists(url.toString());
  const pool = createPool(url.toString(), 2);
  try {
    await migrate(pool);
    const { communityId, households } = await seedCommunity(pool);
    const targetHouseholds = Math.round(households / grids);
    const options = { pool, writer: { actor: null, route: 'bench grids' }, at: new Date() };
    let started = performance.now();
    const preview = await rebalanceGrid(options, communityId, { targetHouseholds, tolerance: 0.1, commit: false });
    const previewSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    const committed = await rebalanceGrid(options, communityId, { targetHouseholds, tolerance: 0.1, commit: true });
    const commitSeconds = (performance.now() - started) / 1000;
    const { rows } = await pool.query<{ parts: number; gap: number }>(
      `SELECT (SELECT max(ST_NumGeometries(geom)) FROM grids WHERE parent_id = $1) AS parts,
              (SELECT ST_Area(ST_SymDifference(p.geom, (SELECT ST_Union(geom) FROM grids WHERE parent_id = $1))::geography) FROM grids p WHERE id = $1) AS gap`,
      [communityId],
    );
    const ratio = (value: number, base: number) => (value / base).toFixed(2);
    console.log(`rebalance: ${buildings} buildings, ${households} households → ${preview.grids} grids of ~${targetHouseholds}`);
    console.table([
      { metric: 'preview time (s)', result: previewSeconds.toFixed(2), baseline: `< ${baseline.seconds}`, ratio: ratio(previewSeconds, baseline.seconds) },
      { metric: 'commit time (s)', result: commitSeconds.toFixed(2), baseline: `< ${baseline.seconds}`, ratio: ratio(commitSeconds, baseline.seconds) },
      { metric: 'max |deviation|', result: preview.maxAbsDeviation.toFixed(3), baseline: `≤ ${baseline.maxDeviation}`, ratio: ratio(preview.maxAbsDeviation, baseline.maxDeviation) },
      { metric: 'mean Polsby-Popper', result: preview.meanPolsbyPopper.toFixed(3), baseline: 'n/a', ratio: '' },
      { metric: 'max parts per grid', result: String(rows[0].parts), baseline: '1', ratio: '' },
      { metric: 'tiling error (m²)', result: rows[0].gap.toFixed(3), baseline: '< 1', ratio: '' },
      { metric: 'buildings changing grid', result: String(committed.buildingsChangingGrid), baseline: 'n/a', ratio: '' },
    ]);
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
