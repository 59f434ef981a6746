import type { Actor } from '../auth/roles';
import { gridScope } from '../auth/scope';
import type { Pool, Queryable } from '../db/pool';
import { withTransaction } from '../db/pool';
import type { Clock } from '../deps';
import { NotFoundError, RuleViolationError } from '../errors';
import type { IndicatorRow } from './schemas';
import { localDay, workerInScope } from './playback';

/** Roads and buildings this close to a track count as patrolled. */
export const reachMetres = 30;
/**
 * The roads of the grids in CTE `grids` (id, geom_3857, reach) cut into pieces of a third of the reach (10 m),
 * each measured by its midpoint: a piece is covered when a track passes within the reach of it.
 */
const roadPiecesOf = (grids: string, roadFilter = 'true') => `
  SELECT ${grids}.id, ${grids}.reach, piece.geom, ST_LineInterpolatePoint(piece.geom, 0.5) AS middle
  FROM ${grids} JOIN roads r ON r.geom_3857 && ${grids}.geom_3857 AND ${roadFilter}
  CROSS JOIN LATERAL ST_DumpSegments(ST_Segmentize(ST_Intersection(r.geom_3857, ${grids}.geom_3857), ${grids}.reach / 3)) piece`;

/**
 * Whether a track that started in [$1, $2) passes within `reach` of `geom` (3857), asked of the tracks' pieces
 * (sql/181): the index finds the few short lines of that day nearby, and each distance is measured to them only.
 */
const nearTrackOfDay = (geom: string, reach: string) =>
  `EXISTS (SELECT 1 FROM patrol_track_pieces p WHERE p.started_at >= $1 AND p.started_at < $2 AND ST_DWithin(p.geom_3857, ${geom}, ${reach}))`;

/** Longest period of one indicators request (days are computed once and kept, see sql/170). */
export const maxPeriodDays = 92;

/**
 * Coverage of every level-4 grid on one local day, from that day's tracks, in metres measured in Web Mercator and
 * scaled by each grid's latitude (30 m on the ground is 30 / cos φ there). A road counts where it lies within 30 m
 * of any track, whichever grid the track was in (measured on pieces of road of 10 m by their midpoints: buffering
 * tracks that walk the same streets back and forth made GEOS take minutes); a building when any part of it does.
 * Both ask the tracks' pieces (sql/181). Distance and time in a grid are the track's stretches there (sql/171).
 */
const dayCoverageSql = `
  WITH g AS (
    SELECT id, geom_3857, ${reachMetres} / cos(radians(ST_Y(ST_PointOnSurface(geom)))) AS reach FROM grids WHERE level = 4
  ),
  t AS (
    SELECT worker, grid_ids, grid_metres, grid_seconds FROM patrol_tracks WHERE started_at >= $1 AND started_at < $2
  ),
  walked AS (
    SELECT s.grid_id AS id, array_agg(DISTINCT t.worker ORDER BY t.worker) AS workers, sum(s.metres) AS distance_m, sum(s.seconds) AS seconds
    FROM t CROSS JOIN LATERAL unnest(t.grid_ids, t.grid_metres, t.grid_seconds) AS s(grid_id, metres, seconds)
    GROUP BY s.grid_id
  ),
  touched AS (
    SELECT g.* FROM g WHERE ${nearTrackOfDay('g.geom_3857', 'g.reach')}
  ),
  -- Only roads with a track within reach can have a covered piece: the others are not cut up.
  road_piece AS (${roadPiecesOf('touched', nearTrackOfDay('r.geom_3857', 'touched.reach'))}
  ),
  road_covered AS (
    SELECT id, sum(ST_Length(geom)) * ${reachMetres} / min(reach) AS covered_m
    FROM road_piece rp
    WHERE ${nearTrackOfDay('rp.middle', 'rp.reach')}
    GROUP BY id
  ),
  road AS (
    SELECT g.id, sum(ST_Length(ST_Intersection(r.geom_3857, g.geom_3857))) * ${reachMetres} / min(g.reach) AS road_m
    FROM g JOIN roads r ON r.geom_3857 && g.geom_3857
    GROUP BY g.id
  ),
  building AS (
    SELECT b.grid_id AS id, count(*)::int AS n,
           (count(*) FILTER (WHERE touched.id IS NOT NULL AND ${nearTrackOfDay('b.geom_3857', 'touched.reach')}))::int AS covered
    FROM buildings b LEFT JOIN touched ON touched.id = b.grid_id
    WHERE b.grid_id IS NOT NULL
    GROUP BY b.grid_id
  )
  INSERT INTO patrol_coverage AS c (day, grid_id, version, road_m, road_covered_m, buildings, buildings_covered, distance_m, seconds, workers)
  SELECT $3::date, g.id, $4, coalesce(road.road_m, 0), coalesce(road_covered.covered_m, 0), coalesce(building.n, 0), coalesce(building.covered, 0),
         coalesce(walked.distance_m, 0), coalesce(walked.seconds, 0), coalesce(walked.workers, '{}')
  FROM g LEFT JOIN road USING (id) LEFT JOIN road_covered USING (id) LEFT JOIN building USING (id) LEFT JOIN walked USING (id)
  ON CONFLICT (day, grid_id) DO UPDATE SET version = EXCLUDED.version, road_m = EXCLUDED.road_m, road_covered_m = EXCLUDED.road_covered_m,
    buildings = EXCLUDED.buildings, buildings_covered = EXCLUDED.buildings_covered, distance_m = EXCLUDED.distance_m, seconds = EXCLUDED.seconds,
    workers = EXCLUDED.workers`;

/**
 * Computes and keeps one day's coverage. Repeatable read: the version read and the tracks read are one snapshot,
 * so figures stored under a version are those of that version's tracks; a rebuild meanwhile raises the version
 * and the day is computed again on its next read.
 */
export async function computeDayCoverage(pool: Pool, zone: string, day: string): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const { rows } = await client.query<{ version: number; dayStart: Date; dayEnd: Date }>(
      `SELECT coalesce((SELECT version FROM patrol_days WHERE day = $1::date), 0) AS version,
              $1::date::timestamp AT TIME ZONE $2 AS "dayStart", ($1::date + 1)::timestamp AT TIME ZONE $2 AS "dayEnd"`,
      [day, zone],
    );
    await client.query(dayCoverageSql, [rows[0].dayStart, rows[0].dayEnd, day, rows[0].version]);
  });
}

/** Computes the days among `days` whose kept coverage is missing, partial (a grid added since) or stale. */
export async function ensureCoverage(pool: Pool, zone: string, days: string[]): Promise<void> {
  const { rows } = await pool.query<{ day: string }>(
    `SELECT d::text AS day FROM unnest($1::date[]) d
     WHERE (SELECT count(*) FROM patrol_coverage c WHERE c.day = d AND c.version = coalesce((SELECT version FROM patrol_days p WHERE p.day = d), 0))
         < (SELECT count(*) FROM grids WHERE level = 4)`,
    [days],
  );
  for (const { day } of rows) await computeDayCoverage(pool, zone, day);
}

const share = (part: string, whole: string) => `CASE WHEN ${whole} > 0 THEN (${part})::float8 / ${whole} END`;

/** GET /api/patrols/coverage: every level-4 grid the reader may see (a grid worker: their grids), or one. */
export async function coverageOfDay(pool: Pool, clock: Clock, zone: string, reader: Actor | null, query: { date?: string; grid?: number }) {
  const scope = gridScope(reader);
  if (query.grid !== undefined) {
    const { rows } = await pool.query('SELECT 1 FROM grids WHERE id = $1 AND level = 4', [query.grid]);
    if (!rows.length || (scope && !scope.includes(query.grid))) throw new NotFoundError(`No level-4 grid ${query.grid}`);
  }
  const { day } = await localDay(pool, clock, zone, query.date);
  await ensureCoverage(pool, zone, [day]);
  const { rows } = await pool.query(
    `SELECT g.id AS "gridId", g.code, g.name, ${share('c.road_covered_m', 'c.road_m')} AS "roadShare", ${share('c.buildings_covered', 'c.buildings')} AS "buildingShare",
            round(c.road_m::numeric, 1)::float8 AS "roadM", c.buildings, c.workers, round(c.distance_m::numeric, 1)::float8 AS "distanceM", round(c.seconds::numeric)::float8 AS seconds
     FROM patrol_coverage c JOIN grids g ON g.id = c.grid_id
     WHERE c.day = $1::date AND ($2::bigint IS NULL OR g.id = $2) AND ($3::bigint[] IS NULL OR g.id = ANY ($3))
     ORDER BY g.id`,
    [day, query.grid ?? null, scope],
  );
  return { day, grids: rows };
}

/** The local days from..to (default: the 30 days up to today), refused beyond 92 days. */
async function periodDays(db: Queryable, clock: Clock, zone: string, period: { from?: string; to?: string }): Promise<{ from: string; to: string; days: string[] }> {
  const to = (await localDay(db, clock, zone, period.to)).day;
  const { rows } = await db.query<{ from: string; days: string[] }>(
    `SELECT f::text AS from, ARRAY(SELECT d::date::text FROM generate_series(f, $2::date, interval '1 day') d) AS days
     FROM (SELECT coalesce($1::date, $2::date - 29) AS f) x`,
    [period.from ?? null, to],
  );
  const { from, days } = rows[0];
  if (from > to) throw new RuleViolationError(`from (${from}) is after to (${to})`, { rule: 'period' });
  if (days.length > maxPeriodDays) throw new RuleViolationError(`The period holds ${days.length} days; at most ${maxPeriodDays} per request`, { rule: 'period' });
  return { from, to, days };
}

/**
 * Indicators per grid of a level over a period: the mean daily road and building coverage (weighted by road
 * length when level-4 grids roll up into communities, streets, districts), distance and time patrolled, distinct
 * workers, and reports filed on patrol (incidents of source patrol) in the grid.
 */
export async function indicators(pool: Pool, clock: Clock, zone: string, query: { from?: string; to?: string; level: number }): Promise<{ from: string; to: string; level: number; rows: IndicatorRow[] }> {
  const period = await periodDays(pool, clock, zone, query);
  await ensureCoverage(pool, zone, period.days);
  const { rows } = await pool.query<IndicatorRow>(
    `WITH RECURSIVE up AS (
       SELECT id AS leaf, id AS ancestor, level::int FROM grids WHERE level = 4
       UNION ALL
       SELECT up.leaf, g.parent_id, g.level - 1 FROM up JOIN grids g ON g.id = up.ancestor WHERE up.level > $3 AND g.parent_id IS NOT NULL
     ),
     members AS (SELECT leaf, ancestor FROM up WHERE level = $3),
     sums AS (
       SELECT m.ancestor, sum(c.road_m) AS road_m, sum(c.road_covered_m) AS road_covered_m, sum(c.buildings) AS buildings,
              sum(c.buildings_covered) AS buildings_covered, sum(c.distance_m) AS distance_m, sum(c.seconds) AS seconds
       FROM members m JOIN patrol_coverage c ON c.grid_id = m.leaf AND c.day BETWEEN $1::date AND $2::date
       GROUP BY m.ancestor
     ),
     workers AS (
       SELECT m.ancestor, count(DISTINCT w)::int AS n
       FROM members m JOIN patrol_coverage c ON c.grid_id = m.leaf AND c.day BETWEEN $1::date AND $2::date CROSS JOIN unnest(c.workers) w
       GROUP BY m.ancestor
     ),
     reports AS (
       SELECT m.ancestor, count(*)::int AS n
       FROM members m JOIN incidents i ON i.grid_id = m.leaf AND i.source = 'patrol'
        AND i.reported_at >= $1::date::timestamp AT TIME ZONE $4 AND i.reported_at < ($2::date + 1)::timestamp AT TIME ZONE $4
       GROUP BY m.ancestor
     )
     SELECT g.id AS "gridId", g.code, g.name, g.level, $5::int AS days,
            ${share('s.road_covered_m', 's.road_m')} AS "roadShare", ${share('s.buildings_covered', 's.buildings')} AS "buildingShare",
            round(coalesce(s.distance_m, 0)::numeric, 1)::float8 AS "distanceM", round(coalesce(s.seconds, 0)::numeric)::float8 AS seconds,
            coalesce(w.n, 0) AS workers, coalesce(r.n, 0) AS "patrolReports"
     FROM grids g LEFT JOIN sums s ON s.ancestor = g.id LEFT JOIN workers w ON w.ancestor = g.id LEFT JOIN reports r ON r.ancestor = g.id
     WHERE g.level = $3
     ORDER BY g.code`,
    [period.from, period.to, query.level, zone, period.days.length],
  );
  return { from: period.from, to: period.to, level: query.level, rows };
}

const csvColumns: Array<keyof IndicatorRow> = ['gridId', 'code', 'name', 'level', 'days', 'roadShare', 'buildingShare', 'distanceM', 'seconds', 'workers', 'patrolReports'];

/** RFC 4180 quoting; a text cell a spreadsheet would run as a formula (=, +, -, @) is prefixed with '. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@]/.test(String(value)) ? `'${String(value)}` : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function indicatorsCsv(rows: IndicatorRow[]): string {
  return [csvColumns.join(','), ...rows.map((row) => csvColumns.map((column) => csvCell(row[column])).join(','))].join('\r\n') + '\r\n';
}

/**
 * One worker over a period: distance, time on duty (the time spanned by their tracks), the grids their tracks
 * crossed, how much of the road length of their own grids (those listing them) lies within 30 m of their tracks
 * of the period, and their patrol reports: incidents of source patrol filed while one of their tracks ran, within
 * 100 m of it.
 */
export async function workerSummary(pool: Pool, clock: Clock, zone: string, reader: Actor | null, workerId: string, period: { from?: string; to?: string }) {
  const worker = workerInScope(reader, workerId) as string;
  const known = await pool.query('SELECT 1 FROM grids WHERE workers @> ARRAY[$1::text] LIMIT 1', [worker]);
  if (!known.rows.length) throw new NotFoundError(`No worker ${worker}`);
  const { from, to } = await periodDays(pool, clock, zone, period);
  const { rows } = await pool.query(
    `WITH t AS (
       SELECT * FROM patrol_tracks WHERE worker = $1 AND started_at >= $2::date::timestamp AT TIME ZONE $4 AND started_at < ($3::date + 1)::timestamp AT TIME ZONE $4
     ),
     own AS (SELECT id, geom_3857, ${reachMetres} / cos(radians(ST_Y(ST_PointOnSurface(geom)))) AS reach FROM grids WHERE level = 4 AND workers @> ARRAY[$1::text]),
     own_piece AS (${roadPiecesOf('own')}
     ),
     own_roads AS (
       SELECT id, sum(ST_Length(geom)) AS total,
              coalesce(sum(ST_Length(geom)) FILTER (WHERE EXISTS (SELECT 1 FROM t WHERE ST_DWithin(t.geom_3857, own_piece.middle, own_piece.reach))), 0) AS covered
       FROM own_piece GROUP BY id
     )
     SELECT coalesce((SELECT round(sum(distance_m)::numeric, 1)::float8 FROM t), 0) AS "distanceM",
            coalesce((SELECT sum(extract(epoch FROM ended_at - started_at))::float8 FROM t), 0) AS "onDutySeconds",
            (SELECT count(*)::int FROM t) AS tracks,
            coalesce((SELECT array_agg(DISTINCT g ORDER BY g)::int[] FROM t, unnest(t.grid_ids) g), '{}') AS "gridsCovered",
            coalesce((SELECT json_agg(json_build_object('gridId', own.id, 'roadShare', ${share('o.covered', 'o.total')}) ORDER BY own.id)
                      FROM own LEFT JOIN own_roads o USING (id)), '[]') AS "ownGrids",
            (SELECT ${share('sum(covered)', 'sum(total)')} FROM own_roads) AS "ownGridsRoadShare",
            (SELECT count(DISTINCT i.id)::int FROM incidents i JOIN t ON i.reported_at BETWEEN t.started_at AND t.ended_at AND ST_DWithin(i.geom::geography, t.geom::geography, 100)
             WHERE i.source = 'patrol') AS "patrolReports"`,
    [worker, from, to, zone],
  );
  return { workerId: worker, from, to, ...rows[0] };
}
