// npm run bench:grids: rebalance one community of 10,000 buildings into 40 grids, in a scratch database.
import { cityCatalogue } from '../server/catalogue/city';
import pg from 'pg';
// Registers .openapi() on zod before the domain schemas are loaded (the app does this through its routes).
import '../server/http/openapi';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool, ensureDatabaseExists } from '../server/db/pool';
import { cityExtentOf } from '../server/geo/extent';
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
  // 10,000 footprints (10–20 m) on a 100 × 100 lattice of 28 m plots, jittered, never overlapping; households
  // 1–40, denser around 12 estate centres, from a fixed seed.
  await pool.query('SELECT setseed(0.42)');
  await pool.query(
    `WITH estates AS (SELECT 121.0 + random() * 0.03 AS cx, 31.0 + random() * 0.025 AS cy FROM generate_series(1, 12)),
     plots AS (SELECT s, 121.0002 + (s % 100) * 0.000295 AS x, 31.0002 + (s / 100) * 0.000245 AS y,
                      (10 + random() * 10) / 111320.0 AS side, random() AS r FROM generate_series(0, $1 - 1) s)
     INSERT INTO buildings (households, geom)
     SELECT 1 + floor(r * 39 * exp(-(SELECT min((x - cx) ^ 2 + (y - cy) ^ 2) FROM estates) / 0.00005))::int,
            ST_Multi(ST_MakeEnvelope(x, y, x + side, y + side * 0.85, 4326))
     FROM plots`,
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
    const options = { pool, members: cityCatalogue.gridMembers, writer: { actor: null, route: 'bench grids' }, at: new Date(), city: cityExtentOf(loadConfig({})) };
    let started = performance.now();
    const preview = await rebalanceGrid(options, communityId, undefined, { targetHouseholds, tolerance: 0.1, commit: false });
    const previewSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    const committed = await rebalanceGrid(options, communityId, '1', { targetHouseholds, tolerance: 0.1, commit: true });
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
      { metric: 'buildings on cut lines', result: String(preview.buildingsOnCutLines), baseline: 'n/a', ratio: '' },
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
