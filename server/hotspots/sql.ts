// The hotspots domain's SQL: counts per H3 cell of incidents or accidents, and the outline of a study area.
// Table and column names come from the fixed table below and are quoted; every value is a bound parameter.
import { identifier } from '../db/identifiers';
import { gridFacts } from '../grids/sql';
import type { HotspotFilters, HotspotSource } from './schemas';

/** Per source: its table, time column, what `category` filters, and what else is summed per cell. */
const sourceTables: Record<HotspotSource, { table: string; time: string; category: string; status: string | null; casualties: boolean }> = {
  incidents: { table: 'incidents', time: 'reported_at', category: 'category', status: 'status', casualties: false },
  accidents: { table: 'accidents', time: 'occurred_at', category: 'severity', status: null, casualties: true },
};

/**
 * The counts statement of a request: per cell (at `res`, derived from the stored resolution-10 cell) over
 * [from, to), and per window when `windowSeconds` is given (window 0 ends at `to`). Only the conditions a request
 * has are written into the text, each value bound: the whole city has no area test (the statement stays
 * index-only, and its plan is a fifth of a millisecond instead of the 3–10 ms PostGIS planning costs), a single
 * window no per-row arithmetic. Grouped by the bigint cell and spelled in hex once per group; epochs by
 * date_part, a float8 (extract() computes a numeric).
 */
export function countStatement(query: HotspotFilters, areaFilter: string | null, span: { from: Date; to: Date }, windowSeconds?: number) {
  const source = sourceTables[query.source];
  const { casualties } = source;
  const [table, time, category] = [identifier(source.table), identifier(source.time), identifier(source.category)];
  const status = source.status && identifier(source.status);
  const values: unknown[] = [query.res, span.from, span.to];
  const bind = (value: unknown, type: string) => `$${values.push(value)}::${type}`;
  const conditions = [`f.${time} >= $2::timestamptz`, `f.${time} < $3::timestamptz`, 'f.h3_r10 IS NOT NULL'];
  if (query.category !== undefined) conditions.push(`f.${category} = ${bind(query.category, 'text')}`);
  if (query.status !== undefined && status) conditions.push(`f.${status} = ${bind(query.status, 'text')}`);
  if (areaFilter !== null) conditions.push(`ST_Intersects(f.geom, (SELECT ST_GeomFromGeoJSON(${bind(areaFilter, 'text')})))`);
  const window = windowSeconds === undefined ? '0' : `(ceil((date_part('epoch', $3::timestamptz) - date_part('epoch', f.${time})) / ${bind(windowSeconds, 'float8')}) - 1)::int`;
  const text = `SELECT to_hex(cell) AS hex, "window", count${casualties ? ', casualties' : ''} FROM (
      SELECT h3_cell_parent(f.h3_r10, $1::int) AS cell, ${window} AS "window",
             count(*)::int AS count${casualties ? ', sum(f.casualties)::int AS casualties' : ''}
      FROM ${table} f WHERE ${conditions.join(' AND ')}
      GROUP BY 1, 2) cells`;
  return { text, values };
}

const dayMs = 86_400_000;

/**
 * The whole-city incident counts of one window, without category or status, read whole UTC days of the span from
 * incident_cell_days (sql/145, kept by triggers in every write's transaction) and only the partial days at its
 * edges from the incidents. Null when the request is not of that shape or the span holds no whole day.
 */
export function cellDaysStatement(query: HotspotFilters, areaFilter: string | null, span: { from: Date; to: Date }, windowSeconds?: number) {
  if (query.source !== 'incidents' || windowSeconds !== undefined || areaFilter !== null || query.category !== undefined || query.status !== undefined) return null;
  const firstDay = new Date(Math.ceil(span.from.getTime() / dayMs) * dayMs);
  const endDay = new Date(Math.floor(span.to.getTime() / dayMs) * dayMs);
  if (firstDay >= endDay) return null;
  const edgeCells = `SELECT h3_cell_parent(h3_r10, $1::int) AS cell, count(*) AS count FROM incidents WHERE h3_r10 IS NOT NULL AND`;
  const text = `SELECT to_hex(cell) AS hex, 0 AS "window", sum(count)::int AS count FROM (
      SELECT cell, count FROM incident_cell_days WHERE res = $1::int
        AND day >= ($4::timestamptz AT TIME ZONE 'UTC')::date AND day < ($5::timestamptz AT TIME ZONE 'UTC')::date
      UNION ALL ${edgeCells} reported_at >= $2::timestamptz AND reported_at < $4::timestamptz GROUP BY 1
      UNION ALL ${edgeCells} reported_at >= $5::timestamptz AND reported_at < $3::timestamptz GROUP BY 1) parts
    GROUP BY cell HAVING sum(count) > 0`;
  return { text, values: [query.res, span.from, span.to, firstDay, endDay] };
}

export interface CellCount {
  hex: string;
  window: number;
  count: number;
  casualties?: number;
}

export interface StudyAreaRow {
  found: number;
  outline: string | null;
}

/**
 * The outline of a scope: $1 grid ids (null: the whole city, its level-1 grids), $2 a box [w, s, e, n] to clip
 * it to (null: none). `found` counts the grids found, `outline` is GeoJSON (null when nothing is left).
 */
export const studyAreaSql = `WITH chosen AS (
       SELECT geom FROM ${gridFacts} g WHERE CASE WHEN $1::bigint[] IS NULL THEN level = 1 ELSE id = ANY ($1) END
     ), outline AS (
       SELECT ST_Multi(CASE WHEN $2::float8[] IS NULL THEN u ELSE ST_CollectionExtract(ST_Intersection(u, ST_MakeEnvelope($2[1], $2[2], $2[3], $2[4], 4326)), 3) END) AS geom
       FROM (SELECT ST_Union(geom) AS u FROM chosen) g
     )
     SELECT (SELECT count(*) FROM chosen)::int AS found,
            CASE WHEN geom IS NULL OR ST_IsEmpty(geom) THEN NULL ELSE ST_AsGeoJSON(geom) END AS outline
     FROM outline`;
