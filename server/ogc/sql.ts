// The OGC API domain's SQL: statements over a collection's relation (`from`, `idSql` and the WHERE text come from
// the collection, built in collections.ts with its table names quoted), entity tags, CRS lookups. Every value is a
// bound parameter.
import { tableAs } from '../db/identifiers';
import { featureVersionSql } from '../layers/sql';

/** $1 SRIDs: those PostGIS knows (spatial_ref_sys). */
export const knownSridsSql = 'SELECT srid FROM spatial_ref_sys WHERE srid = ANY($1::int[])';

export interface SridRow {
  srid: number;
}

/** How many rows of `from` match `where`. */
export const countItemsSql = (from: string, where: string) => `SELECT count(*)::int AS n FROM ${from} ${where}`;

export interface CountRow {
  n: number;
}

/**
 * One page of features: the page's ids first, so that rows an offset skips are counted, not turned into GeoJSON.
 * `limit` and `offset` are parameter placeholders.
 */
export const itemPageSql = (from: string, idSql: string, feature: string, where: string, limit: string, offset: string) =>
  `SELECT ${feature} AS feature
         FROM (SELECT ${idSql} AS page_id FROM ${from} ${where}
                ORDER BY ${idSql} LIMIT ${limit} OFFSET ${offset}) page
         JOIN ${from} ON ${idSql} = page.page_id
        ORDER BY page.page_id`;

/** One feature and its entity tag (`version`, SQL over the row). */
export const itemSql = (from: string, feature: string, version: string, where: string) =>
  `SELECT ${feature} AS feature, ${version} AS etag FROM ${from} ${where}`;

/** WGS84 bbox of `geometry` and the first and last `time` of the rows of `from` matching `where`. */
export const collectionExtentSql = (from: string, geometry: string, time: string, where: string) =>
  `SELECT CASE WHEN e IS NULL THEN NULL ELSE ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] END AS bbox, first, last
       FROM (SELECT ST_Extent(${geometry}) AS e, min(${time}) AS first, max(${time}) AS last
               FROM ${from} ${where}) AS extent`;

export interface ExtentRow {
  first: Date | null;
  last: Date | null;
  bbox: number[] | null;
}

/** The geometry SQL expression `geometry` (crs.ts toWgs84Json) as text. */
export const geometrySql = (geometry: string) => `SELECT ${geometry} AS geometry`;

/**
 * A layer row's entity tag is the feature API's version, so a client may read through one API and write through
 * the other. Checked under the row lock inside the service's transaction.
 */
export const layerVersionSql = featureVersionSql;

/**
 * The entity tag of a read-only collection's row (incidents, accidents, roads, tracks: not all have updated_at):
 * its xmin, the transaction that last wrote it.
 */
export const readOnlyVersionSql = (alias: string) => `${alias}.xmin::text`;

/** $1 a row id of `table`: its entity tag, the row locked. */
export const lockedLayerVersionSql = (table: string) => `SELECT ${layerVersionSql('t')} AS tag FROM ${tableAs(table, 't')} WHERE t.id = $1 FOR UPDATE`;

export interface TagRow {
  tag: string;
}

/** A grid's entity tag is its version, as the grid API sends it: If-Match: "3". */
export const gridVersionSql = (alias: string) => `${alias}.version::text`;

/** $1 a grid id: its version. */
export const gridVersionOfSql = 'SELECT version FROM grids WHERE id = $1';

export interface VersionRow {
  version: number;
}
