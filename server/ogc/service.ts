import { readerScope } from '../auth/scope';
import type { Actor } from '../auth/roles';
import type { Queryable } from '../db/pool';
import { NotFoundError, RuleViolationError } from '../errors';
import type { OgcCollection } from './collections';
import { type Crs, geometryJsonIn, toWgs84Json } from './crs';
import type { TimeSpan } from './schemas';
import { type CountRow, type ExtentRow, collectionExtentSql, countItemsSql, geometrySql, itemPageSql, itemSql } from './sql';

export interface GeoJsonFeature {
  type: 'Feature';
  id: number;
  geometry: { type: string } | null;
  properties: Record<string, unknown>;
}

/** What a list is narrowed to; every value is bound, every name comes from the collection. */
export interface ItemFilter {
  /** minx, miny, maxx, maxy in bboxCrs axis order. */
  bbox?: [number, number, number, number];
  bboxCrs: Crs;
  datetime?: TimeSpan;
  properties: Record<string, unknown>;
}

export interface ItemPage {
  features: GeoJsonFeature[];
  numberMatched: number;
}

function featureSql(collection: OgcCollection, crs: Crs): string {
  const properties = Object.entries(collection.properties).map(([name, sql]) => `'${name}', ${sql}`);
  return `json_build_object('type', 'Feature', 'id', ${collection.idSql},
            'geometry', ${geometryJsonIn(crs, collection.geometry, crs.srid === 3857 ? crs.decimals : (collection.decimals ?? 7))},
            'properties', json_build_object(${properties.join(', ')}))`;
}

/** WHERE conditions and their values: the collection's own, the reader's grid scope, then the request's. */
function conditions(collection: OgcCollection, filter: ItemFilter | null, actor: Actor | null) {
  const sql: string[] = collection.where ? [collection.where] : [];
  const values: unknown[] = [];
  const bind = (value: unknown) => `$${values.push(value)}`;
  const scope = readerScope(actor);
  if (scope && collection.owner) sql.push(`${collection.owner} = ANY(${bind(scope.worker === null ? [] : [scope.worker])}::text[])`);
  else if (scope && collection.grid) sql.push(`${collection.grid} = ANY(${bind(scope.grids)}::bigint[])`);
  if (!filter) return { sql, values, bind };
  if (filter.bbox) {
    const [a, b, c, d] = filter.bbox;
    const [minX, minY, maxX, maxY] = filter.bboxCrs.latitudeFirst ? [b, a, d, c] : [a, b, c, d];
    const envelope = `ST_MakeEnvelope(${bind(minX)}, ${bind(minY)}, ${bind(maxX)}, ${bind(maxY)}, ${filter.bboxCrs.srid})`;
    sql.push(`ST_Intersects(${collection.geometry}, ${filter.bboxCrs.srid === 4326 ? envelope : `ST_Transform(${envelope}, 4326)`})`);
  }
  if (filter.datetime && collection.temporal) {
    const { start, end } = filter.datetime;
    if (start) sql.push(`${collection.temporal} >= ${bind(start)}::timestamptz`);
    if (end) sql.push(`${collection.temporal} <= ${bind(end)}::timestamptz`);
  }
  for (const [name, value] of Object.entries(filter.properties)) sql.push(`${collection.properties[name]} = ${bind(value)}`);
  return { sql, values, bind };
}

const whereOf = (sql: string[]) => (sql.length ? `WHERE ${sql.join(' AND ')}` : '');

/** One page of a collection, in id order, and how many features match in all. */
export async function listItems(db: Queryable, collection: OgcCollection, filter: ItemFilter, page: { limit: number; offset: number; crs: Crs }, actor: Actor | null): Promise<ItemPage> {
  const { sql, values, bind } = conditions(collection, filter, actor);
  const where = whereOf(sql);
  const filterValues = [...values];
  const [count, rows] = await Promise.all([
    db.query<CountRow>(countItemsSql(collection.from, where), filterValues),
    // The page's ids first: rows an offset skips are then counted, not turned into GeoJSON.
    db.query<{ feature: GeoJsonFeature }>(
      itemPageSql(collection.from, collection.idSql, featureSql(collection, page.crs), where, bind(page.limit), bind(page.offset)),
      values,
    ),
  ]);
  return { features: rows.rows.map((row) => row.feature), numberMatched: count.rows[0].n };
}

/** One feature and its entity tag; a row outside the reader's grids is as unknown as a missing one. */
export async function getItem(db: Queryable, collection: OgcCollection, id: number, crs: Crs, actor: Actor | null): Promise<{ feature: GeoJsonFeature; etag: string }> {
  const { sql, values, bind } = conditions(collection, null, actor);
  sql.push(`${collection.idSql} = ${bind(id)}`);
  const { rows } = await db.query<{ feature: GeoJsonFeature; etag: string }>(
    itemSql(collection.from, featureSql(collection, crs), collection.version, whereOf(sql)),
    values,
  );
  if (!rows[0]) throw new NotFoundError(`${collection.id} has no feature ${id}`, { collection: collection.id, id });
  return { feature: rows[0].feature, etag: rows[0].etag };
}

/** The collection's extent: WGS84 bbox and, for a temporal collection, the first and last instant. */
export async function collectionExtent(db: Queryable, collection: OgcCollection, actor: Actor | null) {
  const { sql, values } = conditions(collection, null, actor);
  const time = collection.temporal ?? 'NULL::timestamptz';
  const { rows } = await db.query<ExtentRow>(
    collectionExtentSql(collection.from, collection.geometry, time, whereOf(sql)),
    values,
  );
  return rows[0];
}

/** A written geometry in `crs` as WGS84 GeoJSON, what the write services take. */
export async function geometryToWgs84(db: Queryable, geometry: unknown, crs: Crs): Promise<unknown> {
  if (crs.srid === 4326 && !crs.latitudeFirst) return geometry;
  const { rows } = await db
    .query<{ geometry: string }>(geometrySql(toWgs84Json(crs, 1)), [JSON.stringify(geometry)])
    .catch((error: Error) => {
      throw new RuleViolationError(`The geometry cannot be read in ${crs.uri}: ${error.message}`, { rule: 'valid-geometry', crs: crs.uri });
    });
  return JSON.parse(rows[0].geometry);
}
