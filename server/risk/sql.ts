// The risk domain's SQL: the accident history a model learns from, the stored models and the predictions of each
// window. Every value is a bound parameter.

/** A timestamptz as JavaScript's toISOString writes it, whatever the session's time zone. */
const isoUtc = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** $1 the lock's key: true when this transaction holds it now (the round's predictor), false when another does. */
/** A road as a risk unit: its attributes, its midpoint and the roads it touches. */
export interface RoadRow {
  id: string;
  kind: string;
  lanes: number;
  speed_limit: number;
  lat: number;
  lon: number;
  adjacent: string[];
}

/** Every road in id order (RoadRow). */
export const roadsSql = `SELECT r.id::text AS id, r.kind, r.lanes, r.speed_limit,
            ST_Y(ST_LineInterpolatePoint(r.geom, 0.5)) AS lat, ST_X(ST_LineInterpolatePoint(r.geom, 0.5)) AS lon,
            coalesce(array(SELECT o.id::text FROM roads o WHERE o.id <> r.id AND ST_Intersects(o.geom, r.geom) ORDER BY o.id), '{}') AS adjacent
     FROM roads r ORDER BY r.id`;

export interface AccidentRow {
  at: Date;
  road_id: string | null;
  lat: number;
  lon: number;
}

/** The accidents before $1, oldest first (AccidentRow). */
export const accidentsBeforeSql = `SELECT occurred_at AS at, road_id::text AS road_id, ST_Y(geom) AS lat, ST_X(geom) AS lon
     FROM accidents WHERE occurred_at < $1 ORDER BY occurred_at`;

export interface InsertModelRow {
  version: number;
}

/** $1–$7 unit kind, H3 resolution, UTC offset, trained from, trained to, parameters, evaluation: the new version. */
export const insertModelSql = `INSERT INTO risk_models (unit_kind, h3_resolution, utc_offset_minutes, trained_from, trained_to, parameters, evaluation)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING version`;

/** The newest model (store.ts ModelArtefact). */
export const latestModelSql = `SELECT version, ${isoUtc('created_at')} AS "createdAt", unit_kind AS "unitKind", h3_resolution AS "h3Resolution",
            utc_offset_minutes AS "utcOffsetMinutes", ${isoUtc('trained_from')} AS "trainedFrom",
            ${isoUtc('trained_to')} AS "trainedTo", parameters, evaluation
     FROM risk_models ORDER BY version DESC LIMIT 1`;

/** $1 the first window predicted again: its predictions and later ones go, and those more than a week older. */
export const deletePredictionsSql = "DELETE FROM risk_predictions WHERE window_start >= $1 OR window_end < $1::timestamptz - interval '7 days'";

/**
 * $1 model version, $2 issued at, then one array per column of store.ts PredictionRows ($3 window starts … $10 top
 * features). A road's prediction takes the road's geometry, a cell's its GeoJSON.
 */
export const insertPredictionsSql = `INSERT INTO risk_predictions (window_start, window_end, unit_key, model_version, issued_at, road_id, expected, level, rank, top_features, geom)
     SELECT p.window_start, p.window_end, p.unit_key, $1, $2, r.id, p.expected, p.level, p.rank, p.top_features,
            coalesce(r.geom, ST_SetSRID(ST_GeomFromGeoJSON(p.cell), 4326))
     FROM unnest($3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[], $7::float8[], $8::int[], $9::int[], $10::jsonb[])
            AS p (window_start, window_end, unit_key, cell, expected, level, rank, top_features)
     LEFT JOIN roads r ON p.cell IS NULL AND r.id = p.unit_key::bigint
     -- Spatial order, so a tile of one window reads few pages (the table is rewritten every 2 hours, never CLUSTERed).
     ORDER BY p.window_start, ST_GeoHash(ST_Centroid(coalesce(r.geom, ST_SetSRID(ST_GeomFromGeoJSON(p.cell), 4326))), 10)`;

/** The predicted window containing $1: its bounds, model, issue time and how many units it ranks. */
export const rankedWindowSql = `SELECT ${isoUtc('window_start')} AS "windowStart", ${isoUtc('window_end')} AS "windowEnd",
            min(model_version) AS "modelVersion", ${isoUtc('min(issued_at)')} AS "issuedAt", count(*)::int AS total
     FROM risk_predictions WHERE window_start <= $1 AND window_end > $1
     GROUP BY window_start, window_end`;

/** The units of the window containing $1 by rank, $2 of them after the first $3. */
export const rankedUnitsSql = `SELECT rank, unit_key AS "unitKey", road_id::int AS "roadId", expected, level, top_features AS "topFeatures",
            ST_AsGeoJSON(geom, 7)::json AS geometry
     FROM risk_predictions WHERE window_start <= $1 AND window_end > $1
     ORDER BY rank LIMIT $2 OFFSET $3`;

/** The demand of the window containing $1, by rank: each unit's expected accidents at its midpoint (or a point on it). */
export const demandSql = `SELECT unit_key AS key, expected AS weight, model_version AS "modelVersion",
            ${isoUtc('window_start')} AS "windowStart",
            ${isoUtc('window_end')} AS "windowEnd",
            ST_X(p) AS lon, ST_Y(p) AS lat
     FROM risk_predictions,
          LATERAL (SELECT CASE WHEN GeometryType(geom) = 'LINESTRING' THEN ST_LineInterpolatePoint(geom, 0.5) ELSE ST_PointOnSurface(geom) END AS p) AS m
     WHERE window_start <= $1 AND window_end > $1
     ORDER BY rank`;
