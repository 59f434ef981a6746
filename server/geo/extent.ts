import type { Config } from '../config';
import type { Queryable } from '../db/pool';
import { RuleViolationError } from '../errors';
import type { Bbox } from './schemas';

/**
 * Where geometry may be stored (README: geometry rules): inside the city, which is CITY_EXTENT or else the extent
 * of the top-level grids, grown by CITY_EXTENT_MARGIN_M; two-dimensional; within web-map latitudes; not across
 * the antimeridian. The rule itself is SQL (geometry_problem, sql/110), so imports check staged rows with it too.
 */
export interface CityExtent {
  configured: Bbox | null;
  marginMetres: number;
}

export function cityExtentOf(config: Pick<Config, 'CITY_EXTENT' | 'CITY_EXTENT_MARGIN_M'>): CityExtent {
  return { configured: config.CITY_EXTENT ?? null, marginMetres: config.CITY_EXTENT_MARGIN_M };
}

/**
 * The SQL extent expression over parameters $n (the configured extent) and $n+1 (the margin). Top-level grids
 * make the city, so they are held only to a configured extent.
 */
export function extentSql(first: number, scope: 'city' | 'top-level grid' = 'city'): string {
  return `city_extent($${first}::float8[], $${first + 1}::float8, ${scope === 'city'})`;
}

export function extentValues(city: CityExtent): [number[] | null, number] {
  return [city.configured, city.marginMetres];
}

/** Refuses (422, naming the reason) a GeoJSON geometry the city cannot store. */
export async function assertStorableGeometry(db: Queryable, geometry: unknown, city: CityExtent, scope: 'city' | 'top-level grid' = 'city'): Promise<void> {
  const { rows } = await db.query<{ problem: string | null }>(`SELECT geometry_problem(ST_GeomFromGeoJSON($1::text), ${extentSql(2, scope)}) AS problem`, [
    JSON.stringify(geometry),
    ...extentValues(city),
  ]);
  const problem = rows[0].problem;
  if (problem) throw new RuleViolationError(`The geometry ${problem}`, { rule: 'storable-geometry', reason: problem });
}

/**
 * The same Z rule for a point that never reaches PostGIS as GeoJSON (incident intake builds it from longitude and
 * latitude): refused with geometry_problem's words rather than dropped.
 */
export function assertTwoDimensional(point: { coordinates: number[] }, field: string): void {
  if (point.coordinates.length <= 2) return;
  const reason = 'has a third (Z or M) coordinate: citygrid stores longitude and latitude only (drop it, e.g. ogr2ogr -dim XY)';
  throw new RuleViolationError(`The ${field} ${reason}`, { rule: 'storable-geometry', reason, field });
}
