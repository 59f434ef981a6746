import { withWriteTransaction } from '../../server/db/write-context';
import { storedCell } from '../../server/geo/h3';
import type { Pool, PoolClient } from '../../server/db/pool';
import { ingestFixes } from '../../server/patrols/ingest';
import { maxFixesPerBatch } from '../../server/patrols/schemas';
import { generateActivity, type PatrolWalk } from './activity';
import { type Position, generateCity } from './city';
import { copyRows, type Progress, silentProgress, terminalProgress } from './copy';
import { type CityOptions, demoCityOptions, testCityOptions } from './options';

export { demoCityOptions, testCityOptions };

const wktPoint = ([x, y]: Position) => `SRID=4326;POINT(${x} ${y})`;
const demoTimeZone = 'Asia/Shanghai';
const wktLine = (line: Position[]) => `SRID=4326;LINESTRING(${line.map(([x, y]) => `${x} ${y}`).join(',')})`;
const wktMultiPolygon = (ring: Position[]) => `SRID=4326;MULTIPOLYGON(((${ring.map(([x, y]) => `${x} ${y}`).join(',')})))`;

/** Tables the demo city fills, children first so TRUNCATE ... CASCADE order does not matter. */
export const demoTables = ['patrol_points', 'patrol_tracks', 'accidents', 'incidents', 'people', 'hazards', 'key_places', 'buildings', 'roads', 'land_cover', 'grids'];

/** Tables that tiles read by their EPSG:3857 GIST index (sql/002: `<table>_geom_3857_idx`). */
const tileTables = ['grids', 'land_cover', 'roads', 'buildings', 'hazards', 'key_places', 'incidents', 'accidents', 'patrol_tracks'];

export interface LoadOptions extends CityOptions {
  progress: boolean;
}

export type RowCounts = Record<string, number>;

export async function countDemoRows(pool: Pool): Promise<RowCounts> {
  const counts: RowCounts = {};
  for (const table of [...demoTables].reverse()) {
    counts[table] = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
  }
  return counts;
}

/** Places every located row in its level-4 grid with one set-based join (grid_at's rule: lowest id on a border). */
async function assignGrids(client: PoolClient): Promise<void> {
  const targets: Array<[string, string]> = [
    ['buildings', 'ST_PointOnSurface(t.geom)'],
    ['hazards', 't.geom'],
    ['key_places', 't.geom'],
    ['incidents', 't.geom'],
  ];
  for (const [table, point] of targets) {
    await client.query(`
      UPDATE ${table} AS target SET grid_id = hit.grid_id
      FROM (
        SELECT DISTINCT ON (t.id) t.id, g.id AS grid_id
        FROM ${table} t JOIN grids g ON g.level = 4 AND ST_Intersects(g.geom, ${point})
        ORDER BY t.id, g.id
      ) hit
      WHERE target.id = hit.id`);
  }
}

// The phones post every two hours or so (a batch holds that long of every worker's fixes, at most 10,000): every
// 20 minutes rebuilt each day six times as often, and the demo's patrols took 55 s to post instead of about 20 s.
const postEveryMs = 2 * 3_600_000;

/**
 * The week of patrols goes in as phones send it, through the ingest path (server/patrols), so tracks, flags and
 * splits are the ones a real city gets. The clock stands just after the last fix: the demo week lies in the past,
 * beyond PATROL_RETENTION_DAYS of today, and the server's retention deletes its raw fixes once it runs (the tracks
 * and coverage stay).
 */
async function postPatrols(client: PoolClient, walks: PatrolWalk[]): Promise<void> {
  const fixes = walks
    .flatMap((walk) => walk.fixes.map((fix) => ({ workerId: walk.worker, t: fix.time.getTime(), lon: fix.at[0], lat: fix.at[1], accuracy: fix.accuracy })))
    .sort((a, b) => a.t - b.t);
  if (!fixes.length) return;
  const clock = () => new Date(fixes[fixes.length - 1].t + 60_000);
  const settings = { timeZone: demoTimeZone, city: { configured: null, marginMetres: 2000 }, retentionDays: 180, positionIntervalSeconds: 0 };
  const writer = { actor: null, route: 'data:demo' };
  for (let start = 0; start < fixes.length; ) {
    let end = start;
    while (end < fixes.length && end - start < maxFixesPerBatch && fixes[end].t < fixes[start].t + postEveryMs) end++;
    await ingestFixes({ client }, clock, writer, fixes.slice(start, end), settings);
    start = end;
  }
}

/**
 * Rewrites each tile table in the order of its GIST index, so the rows of one tile sit in a few pages instead of
 * one page per row (the notes measured buildings 243 → 338 tiles/s). Generated rows arrive in generation order,
 * not spatial order, and CLUSTER needs the rows to exist, so this is the loader's job, not a migration's.
 */
async function clusterForTiles(pool: Pool): Promise<void> {
  for (const table of tileTables) await pool.query(`CLUSTER ${table} USING ${table}_geom_3857_idx`);
}

/**
 * Generates the demo city and loads it in one transaction, replacing whatever demo tables held: running it
 * twice leaves the same rows. COPY for speed; the grid of every row is assigned in SQL afterwards.
 */
export async function loadDemoCity(pool: Pool, options: Partial<LoadOptions> = {}): Promise<RowCounts> {
  const cityOptions: CityOptions = { ...demoCityOptions, ...options };
  const progress: Progress = options.progress === false ? silentProgress : terminalProgress();
  const city = generateCity(cityOptions);
  const activity = generateActivity(city);
  await withWriteTransaction(pool, { actor: null, route: 'data:demo', bulk: true }, async (client) => {
    await client.query(`TRUNCATE ${demoTables.join(', ')} RESTART IDENTITY CASCADE`);
    await copyRows(client, 'grids', ['id', 'code', 'name', 'level', 'parent_id', 'geom', 'leader', 'workers', 'households_target'], city.grids,
      (g) => [g.id, g.code, g.name, g.level, g.parentId, wktMultiPolygon(g.ring), g.leader, g.workers, g.householdsTarget], progress);
    await copyRows(client, 'land_cover', ['id', 'kind', 'name', 'geom'], city.landCover, (l) => [l.id, l.kind, l.name, wktMultiPolygon(l.ring)], progress);
    await copyRows(client, 'roads', ['id', 'name', 'kind', 'lanes', 'speed_limit', 'geom'], city.roads,
      (r) => [r.id, r.name, r.kind, r.lanes, r.speedLimit, wktLine(r.line)], progress);
    await copyRows(client, 'buildings', ['id', 'code', 'address', 'use', 'floors', 'households', 'rental_units', 'geom'], city.buildings,
      (b) => [b.id, b.code, b.address, b.use, b.floors, b.households, b.rentalUnits, wktMultiPolygon(b.ring)], progress);
    await copyRows(client, 'people', ['id', 'building_id', 'category', 'household_no', 'birth_year'], city.people,
      (p) => [p.id, p.buildingId, p.category, p.householdNo, p.birthYear], progress);
    await copyRows(client, 'hazards', ['id', 'name', 'kind', 'risk_level', 'last_inspected_at', 'next_inspection_due', 'geom'], city.hazards,
      (h) => [h.id, h.name, h.kind, h.riskLevel, h.lastInspected, h.nextDue, wktPoint(h.at)], progress);
    await copyRows(client, 'key_places', ['id', 'name', 'kind', 'capacity', 'geom'], city.keyPlaces,
      (k) => [k.id, k.name, k.kind, k.capacity, wktPoint(k.at)], progress);
    await copyRows(client, 'incidents', ['id', 'category', 'source', 'status', 'description', 'reported_at', 'closed_at', 'geom', 'h3_r7', 'h3_r8', 'h3_r9', 'h3_r10'], activity.incidents,
      (i) => [i.id, i.category, i.source, i.status, i.description, i.reportedAt, i.closedAt, wktPoint(i.at), ...i.cells], progress);
    await copyRows(client, 'accidents', ['id', 'occurred_at', 'severity', 'vehicles', 'casualties', 'road_id', 'geom', 'h3_r10'], activity.accidents,
      (a) => [a.id, a.occurredAt, a.severity, a.vehicles, a.casualties, a.roadId, wktPoint(a.at), storedCell(...a.at)], progress);
    await client.query('TRUNCATE patrol_live, patrol_days');
    await postPatrols(client, activity.patrols);
    await assignGrids(client);
    // Explicit ids were copied in: move each sequence past them so later inserts do not collide.
    for (const table of demoTables) {
      await client.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), GREATEST((SELECT max(id) FROM ${table}), 1))`);
    }
  });
  await clusterForTiles(pool);
  // VACUUM as well as ANALYZE: it sets the visibility map, which keeps the incident counts of tiles index-only.
  for (const table of demoTables) await pool.query(`VACUUM (ANALYZE) ${table}`);
  return countDemoRows(pool);
}
