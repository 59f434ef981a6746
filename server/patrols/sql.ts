// The patrols domain's SQL: ingest (fixes, their grids and flags), tracks, live positions, playback, coverage and
// indicators, retention. Every value is a bound parameter; the fragments here splice only aliases and SQL of this
// file. Other domains read tracks through patrolTrackFacts.
import { extentSql } from '../geo/extent';

/**
 * What other domains may read of every patrol track, as a relation: `FROM ${patrolTrackFacts} t`. The planner folds
 * it into the statement, so it costs what reading the table would. `worker` is personal data: a reader shows it only
 * as its own rules allow (the wall: no names).
 */
export const patrolTrackFacts = '(SELECT id, worker, started_at, ended_at, geom_m FROM patrol_tracks)';

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

/** `part / whole` as float8, null when whole is 0. */
const share = (part: string, whole: string) => `CASE WHEN ${whole} > 0 THEN (${part})::float8 / ${whole} END`;

/** The instant local day `day` (SQL date) starts in time zone `zone` (SQL text). */
const dayBounds = (day: string, zone: string) => `(${day}::timestamp AT TIME ZONE ${zone})`;

/**
 * Rows of worker `k.worker` whose `time` falls on local day `k.day`, as a range of the (worker, time) index. Written
 * as row comparisons so that only that index can serve it: with `time` bounds alone the planner may walk the
 * whole day of every worker on the time index and filter by worker, and with a plain `worker =` it may hash-join a
 * scan of the whole table; it did either whenever its statistics lagged behind the fixes (statistics of a table
 * that held one worker; test/patrols/day-reads), and a batch then read ~40 rows for each row it kept.
 */
const workerDayRange = (worker: string, time: string, k: string, zone: string) =>
  `(${worker}, ${time}) >= (${k}.worker, ${dayBounds(`${k}.day`, zone)}) AND (${worker}, ${time}) < (${k}.worker, ${dayBounds(`(${k}.day + 1)`, zone)})`;

/**
 * Coverage of every level-4 grid on one local day, from that day's tracks, in metres measured in Web Mercator and
 * scaled by each grid's latitude (30 m on the ground is 30 / cos φ there). A road counts where it lies within 30 m
 * of any track, whichever grid the track was in (measured on pieces of road of 10 m by their midpoints: buffering
 * tracks that walk the same streets back and forth made GEOS take minutes); a building when any part of it does.
 * Both ask the tracks' pieces (sql/181). Distance and time in a grid are the track's stretches there (sql/171).
 *
 * $1..$2 the day's instants, $3 the day, $4 its version: computes and keeps the day's coverage.
 */
export const dayCoverageSql = `
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

/** Makes the transaction one snapshot (computeDayCoverage). */
export const repeatableReadSql = 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ';

/** A day's coverage version and the instants the day starts and ends. */
export interface DayVersionRow extends Omit<LocalDayRow, 'day'> {
  version: number;
}

/** $1 a local day, $2 the city's time zone: the day's coverage version (0 before any track) and the instants it starts and ends. */
export const dayVersionAndBoundsSql = `SELECT coalesce((SELECT version FROM patrol_days WHERE day = $1::date), 0) AS version,
              $1::date::timestamp AT TIME ZONE $2 AS "dayStart", ($1::date + 1)::timestamp AT TIME ZONE $2 AS "dayEnd"`;

export interface DayRow {
  day: string;
}

/** $1 local days: those whose kept coverage is missing, partial (a grid added since) or stale. */
export const daysNeedingCoverageSql = `SELECT d::text AS day FROM unnest($1::date[]) d
     WHERE (SELECT count(*) FROM patrol_coverage c WHERE c.day = d AND c.version = coalesce((SELECT version FROM patrol_days p WHERE p.day = d), 0))
         < (SELECT count(*) FROM grids WHERE level = 4)`;

/** $1 a grid id: a row when it is a level-4 grid. */
export const levelFourGridExistsSql = 'SELECT 1 FROM grids WHERE id = $1 AND level = 4';

/** $1 a local day, $2 one grid or null, $3 the reader's grids or null: kept coverage of level-4 grids. */
export const coverageOfDaySql = `SELECT g.id AS "gridId", g.code, g.name, ${share('c.road_covered_m', 'c.road_m')} AS "roadShare", ${share('c.buildings_covered', 'c.buildings')} AS "buildingShare",
            round(c.road_m::numeric, 1)::float8 AS "roadM", c.buildings, c.workers, round(c.distance_m::numeric, 1)::float8 AS "distanceM", round(c.seconds::numeric)::float8 AS seconds
     FROM patrol_coverage c JOIN grids g ON g.id = c.grid_id
     WHERE c.day = $1::date AND ($2::bigint IS NULL OR g.id = $2) AND ($3::bigint[] IS NULL OR g.id = ANY ($3))
     ORDER BY g.id`;

export interface PeriodDaysRow {
  from: string;
  days: string[];
}

/** $1 the first day or null (then 29 days before $2), $2 the last day: the first day and every day of the period. */
export const periodDaysSql = `SELECT f::text AS from, ARRAY(SELECT d::date::text FROM generate_series(f, $2::date, interval '1 day') d) AS days
     FROM (SELECT coalesce($1::date, $2::date - 29) AS f) x`;

/** $1..$2 the period, $3 the level, $4 the city's time zone, $5 the period's days: indicators per grid of the level (IndicatorRow). */
export const indicatorsSql = `WITH RECURSIVE up AS (
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
     ORDER BY g.code`;

/** $1 a worker id: a row when some grid lists the worker. */
export const workerKnownSql = 'SELECT 1 FROM grids WHERE workers @> ARRAY[$1::text] LIMIT 1';

/** $1 a worker, $2..$3 the period, $4 the city's time zone: the worker's figures of the period. */
export const workerSummarySql = `WITH t AS (
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
             WHERE i.source = 'patrol') AS "patrolReports"`;

export interface WorkerRow {
  worker: string;
}

/** $1 worker ids: those no grid lists. */
export const unknownWorkersSql = 'SELECT w AS worker FROM unnest($1::text[]) w WHERE NOT EXISTS (SELECT 1 FROM grids WHERE workers @> ARRAY[w])';

/** $1..$7 the fixes' columns (worker, ms, lon, lat, accuracy, speed, heading), $8 worstAccuracyM, $9..$10 the city extent (extentValues), $11 the time zone: inserts the new fixes with grid and flag (insertNewFixes): worker, ms, local day each. */
export const insertNewFixesSql = `WITH city AS MATERIALIZED (SELECT ${extentSql(9)} AS extent),
     input AS MATERIALIZED (
       SELECT f.n, f.worker, timestamptz 'epoch' + f.ms * interval '1 millisecond' AS recorded_at, p.geom, f.lon, f.lat, f.accuracy, f.speed, f.heading,
              NOT coalesce(p.geom && city.extent, true) AS outside
       FROM unnest($1::text[], $2::float8[], $3::float8[], $4::float8[], $5::real[], $6::real[], $7::real[]) WITH ORDINALITY
         AS f(worker, ms, lon, lat, accuracy, speed, heading, n)
       CROSS JOIN city CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(f.lon, f.lat), 4326) AS geom) p
     ),
     candidate AS MATERIALIZED (
       SELECT id, geom, ST_XMin(geom) AS x0, ST_YMin(geom) AS y0, ST_XMax(geom) AS x1, ST_YMax(geom) AS y1
       FROM grids WHERE level = 4 AND geom && (SELECT ST_Extent(geom) FROM input WHERE NOT outside)
       -- What a foreign key would lock fix by fix, once per grid (sql/220): a grid cannot go while fixes go into it.
       FOR KEY SHARE
     ),
     -- A cell of the mean grid's size, but never so small that the largest grid spans more than 64 × 64 cells.
     cell AS MATERIALIZED (SELECT nullif(greatest(avg(greatest(x1 - x0, y1 - y0)), max(greatest(x1 - x0, y1 - y0)) / 64), 0) AS size FROM candidate),
     grid_cell AS MATERIALIZED (
       SELECT c.id, c.geom, gx, gy
       FROM candidate c CROSS JOIN cell
       CROSS JOIN generate_series(floor(c.x0 / cell.size)::int, floor(c.x1 / cell.size)::int) gx
       CROSS JOIN generate_series(floor(c.y0 / cell.size)::int, floor(c.y1 / cell.size)::int) gy
     ),
     placed AS (
       SELECT i.n, min(gc.id) AS grid_id
       FROM input i CROSS JOIN cell JOIN grid_cell gc ON gc.gx = floor(i.lon / cell.size)::int AND gc.gy = floor(i.lat / cell.size)::int
       WHERE NOT i.outside AND ST_Intersects(gc.geom, i.geom)
       GROUP BY i.n
     )
     INSERT INTO patrol_points (worker, recorded_at, geom, accuracy_m, speed_mps, heading_deg, grid_id, flag)
     SELECT i.worker, i.recorded_at, i.geom, i.accuracy, i.speed, i.heading, placed.grid_id,
            CASE WHEN i.outside THEN 'outside_city' WHEN i.accuracy > $8 THEN 'inaccurate' END
     FROM input i LEFT JOIN placed USING (n)
     ORDER BY i.n
     ON CONFLICT (worker, recorded_at) DO NOTHING
     RETURNING id, worker, (extract(epoch FROM recorded_at) * 1000)::float8 AS ms, (recorded_at AT TIME ZONE $11)::date::text AS day,
       ST_X(geom) AS lon, ST_Y(geom) AS lat, grid_id AS "gridId", flag`;

/** $1..$4 newest fixes (worker, ms, lon, lat), $5 now, $6 onDutyMinutes, $7 the announce interval (seconds): keeps each worker's newest fix; the position of each worker whose fix is newer, and whether to announce it. */
export const upsertLivePositionsSql = `INSERT INTO patrol_live AS l (worker, recorded_at, geom, announced_at)
     SELECT n.worker, timestamptz 'epoch' + n.ms * interval '1 millisecond', ST_SetSRID(ST_MakePoint(n.lon, n.lat), 4326), NULL
     FROM unnest($1::text[], $2::float8[], $3::float8[], $4::float8[]) AS n(worker, ms, lon, lat)
     ORDER BY n.worker
     ON CONFLICT (worker) DO UPDATE SET recorded_at = EXCLUDED.recorded_at, geom = EXCLUDED.geom
       WHERE l.recorded_at < EXCLUDED.recorded_at
     RETURNING l.worker AS "workerId", to_char(l.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS t,
       ST_X(l.geom) AS lon, ST_Y(l.geom) AS lat, grid_at(l.geom) AS "gridId",
       l.recorded_at >= $5::timestamptz - make_interval(mins => $6) AND (l.announced_at IS NULL OR l.announced_at <= $5::timestamptz - make_interval(secs => $7)) AS announce`;

/** $1 workers, $2 now: their positions were announced. */
export const markAnnouncedSql = 'UPDATE patrol_live SET announced_at = $2 WHERE worker = ANY ($1::text[])';

/** $1 now, $2 hours back, $3 onDutyMinutes, $4 one worker or null: each worker's last position (LivePosition). */
export const livePositionsSql = `SELECT worker AS "workerId", to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS t, ST_X(geom) AS lon, ST_Y(geom) AS lat,
            grid_at(geom) AS "gridId", recorded_at >= $1::timestamptz - make_interval(mins => $3) AS "onDuty"
     FROM patrol_live
     WHERE recorded_at >= $1::timestamptz - $2::float8 * interval '1 hour' AND ($4::text IS NULL OR worker = $4)
     ORDER BY worker`;

/** A local day and the instants it starts and ends. */
export interface LocalDayRow {
  day: string;
  dayStart: Date;
  dayEnd: Date;
}

/** $1 a local day or null (then that of $3), $2 the city's time zone, $3 now: the day and the instants it starts and ends (LocalDayRow). */
export const localDaySql = `SELECT d::text AS day, d::timestamp AT TIME ZONE $2 AS "dayStart", (d + 1)::timestamp AT TIME ZONE $2 AS "dayEnd"
     FROM (SELECT coalesce($1::date, ($3::timestamptz AT TIME ZONE $2)::date) AS d) x`;

/** $1..$2 the day's instants, $3 worker, $4 grid, $5 bbox (each null: any), $6 after this id, $7 simplification tolerance (m), $8 limit: tracks with vertices. */
export const tracksOfDaySql = `SELECT t.id, t.worker AS "workerId", to_char(t.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "startedAt",
            to_char(t.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "endedAt", round(t.distance_m::numeric, 1)::float8 AS "distanceM",
            extract(epoch FROM t.ended_at - t.started_at)::float8 AS "durationS", t.fixes, t.grid_ids::int[] AS "gridIds",
            (SELECT json_agg(json_build_array(round(ST_X(v.geom)::numeric, 6), round(ST_Y(v.geom)::numeric, 6), ST_M(v.geom)) ORDER BY v.path)
             FROM ST_DumpPoints(CASE WHEN $7::float8 > 0
                   THEN ST_Transform(ST_Simplify(ST_Transform(t.geom_m, 3857), $7 / cos(radians(ST_Y(ST_StartPoint(t.geom_m)))), true), 4326)
                   ELSE t.geom_m END) v) AS vertices
     FROM patrol_tracks t
     WHERE t.started_at >= $1 AND t.started_at < $2 AND ($3::text IS NULL OR t.worker = $3) AND ($4::bigint IS NULL OR t.grid_ids @> ARRAY[$4::bigint])
       AND ($5::float8[] IS NULL OR t.geom && ST_MakeEnvelope($5[1], $5[2], $5[3], $5[4], 4326)) AND t.id > $6
     ORDER BY t.id LIMIT $8`;

/** $1 the horizon: deletes last positions older than it. */
export const deleteExpiredLiveSql = 'DELETE FROM patrol_live WHERE recorded_at < $1';

/** The last worker of a retention slice (null when no worker came after the cursor) and how many fixes went. */
export interface RetentionSliceRow {
  last: string | null;
  deleted: number;
}

/**
 * $1 the horizon, $2 the worker after which to go on ('' at first), $3 workers per slice: deletes the fixes older
 * than the horizon of the next $3 workers that have fixes, each found by one probe of the (worker, recorded_at)
 * index (a loose index scan) and its old fixes as one range of it.
 */
export const deleteExpiredFixesSliceSql = `WITH RECURSIVE w(worker, n) AS (
       (SELECT worker, 1 FROM patrol_points WHERE worker > $2 ORDER BY worker LIMIT 1)
       UNION ALL
       SELECT (SELECT p.worker FROM patrol_points p WHERE p.worker > w.worker ORDER BY p.worker LIMIT 1), w.n + 1
       FROM w WHERE w.worker IS NOT NULL AND w.n < $3
     ),
     gone AS (
       DELETE FROM patrol_points p USING w WHERE p.worker = w.worker AND p.recorded_at < $1
       RETURNING 1
     )
     SELECT (SELECT max(worker) FROM w) AS last, (SELECT count(*) FROM gone)::int AS deleted`;

/** $1 workers, $2 days (sorted keys): the advisory locks of those worker-days, in one order. */
export const lockWorkerDaysSql = `SELECT pg_advisory_xact_lock(k) FROM (SELECT hashtextextended(w || '/' || d, 17) AS k FROM unnest($1::text[], $2::text[]) AS x(w, d) ORDER BY 1) keys`;

/**
 * $1 workers, $2 days, $3 the time zone, $4 how many fixes of each day this transaction stored: every stored fix of
 * those worker-days, by key then time — except of the days that hold no other fixes, whose fixes the caller has in
 * hand already (a count on the index decides, after the days' locks).
 */
export const fixesOfDaysSql = `SELECT k.n AS key, p.id, (extract(epoch FROM p.recorded_at) * 1000)::float8 AS ms, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, p.grid_id AS "gridId", p.flag
     FROM unnest($1::text[], $2::date[], $4::int[]) WITH ORDINALITY AS k(worker, day, fresh, n)
     CROSS JOIN LATERAL (
       SELECT * FROM patrol_points p
       WHERE ${workerDayRange('p.worker', 'p.recorded_at', 'k', '$3')}
         AND (SELECT count(*) FROM patrol_points c WHERE ${workerDayRange('c.worker', 'c.recorded_at', 'k', '$3')}) > k.fresh
       ORDER BY p.worker, p.recorded_at
     ) p
     ORDER BY k.n, p.recorded_at`;

/**
 * $1..$2 worker-days, $3..$12 the built tracks (geometry as hex EWKB), $13 the time zone, $14..$15 their pieces (hex
 * EWKB), $16 the change channel (events/bus): replaces the days' tracks, marks the days' coverage stale (sql/170:
 * patrol_days, in day order) and announces the extent of what changed on the map, if anything did, as a
 * layer-changed event of patrol_tracks.
 */
export const replaceTracksSql = `WITH gone AS (
       DELETE FROM patrol_tracks t USING unnest($1::text[], $2::date[]) AS k(worker, day)
       WHERE ${workerDayRange('t.worker', 't.started_at', 'k', '$13')}
       RETURNING t.geom
     ),
     built AS (
       SELECT nextval('patrol_tracks_id_seq') AS id, b.track, b.worker, b.ewkb::geometry AS geom_m,
              timestamptz 'epoch' + b.started_ms * interval '1 millisecond' AS started_at, timestamptz 'epoch' + b.ended_ms * interval '1 millisecond' AS ended_at,
              b.n, b.distance_m, b.main_grid, b.grids::bigint[] AS grids, b.metres::float8[] AS metres, b.seconds::float8[] AS seconds
       FROM unnest($3::text[], $4::text[], $5::float8[], $6::float8[], $7::int[], $8::float8[], $9::bigint[], $10::text[], $11::text[], $12::text[]) WITH ORDINALITY
         AS b(worker, ewkb, started_ms, ended_ms, n, distance_m, main_grid, grids, metres, seconds, track)
     ),
     added AS (
       INSERT INTO patrol_tracks (id, worker, started_at, ended_at, geom, geom_m, distance_m, fixes, grid_id, grid_ids, grid_metres, grid_seconds)
       SELECT id, worker, started_at, ended_at, ST_Force2D(geom_m), geom_m, distance_m, n, main_grid, grids, metres, seconds
       FROM built
       RETURNING geom
     ),
     pieces AS (
       INSERT INTO patrol_track_pieces (track_id, started_at, geom_3857)
       SELECT built.id, built.started_at, ST_Transform(p.ewkb::geometry, 3857)
       FROM unnest($14::int[], $15::text[]) AS p(track, ewkb) JOIN built USING (track)
     ),
     stale AS (
       INSERT INTO patrol_days (day) SELECT DISTINCT d FROM unnest($2::date[]) d ORDER BY d
       ON CONFLICT (day) DO UPDATE SET version = patrol_days.version + 1
     )
     SELECT pg_notify($16, json_build_object('kind', 'layer-changed', 'layer', 'patrol_tracks', 'ids', '[]'::json,
                                             'bbox', json_build_array(ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)))::text)
     FROM (SELECT ST_Extent(geom) AS e FROM (SELECT geom FROM gone UNION ALL SELECT geom FROM added) changed) extent
     WHERE e IS NOT NULL`;

/** $1 fix ids, $2 their flags: writes the changed speed flags. */
export const updateFlagsSql = 'UPDATE patrol_points p SET flag = c.flag FROM unnest($1::bigint[], $2::text[]) AS c(id, flag) WHERE p.id = c.id';

