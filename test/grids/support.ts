import { cityCatalogue } from '../../server/catalogue/city';
import { misplacedMembers as countMisplaced } from '../../server/grids/membership';
import type { TestDatabase } from '../support/db';

/** A square ring in WGS84 from its south-west corner and side (degrees). */
export function square(lon: number, lat: number, side: number) {
  return {
    type: 'Polygon' as const,
    coordinates: [[[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]],
  };
}

export async function one<T>(db: TestDatabase, sql: string, params: unknown[] = []): Promise<T> {
  const { rows } = await db.pool.query(sql, params);
  return rows[0] as T;
}

/** Two level-4 siblings sharing an edge of positive length, not used by other tests (offset picks the pair). */
export async function adjacentLevel4Pair(db: TestDatabase, offset: number): Promise<{ a: number; b: number }> {
  return one(
    db,
    `SELECT a.id AS a, b.id AS b FROM grids a JOIN grids b ON a.parent_id = b.parent_id AND a.id < b.id
     WHERE a.level = 4 AND ST_Length(ST_Intersection(a.geom, b.geom)) > 0
     ORDER BY a.id, b.id OFFSET $1 LIMIT 1`,
    [offset],
  );
}

/** Rows of every grid member layer of the city catalogue whose grid is not the one their rule gives. */
export function misplacedMembers(db: TestDatabase): Promise<number> {
  return countMisplaced(db.pool, cityCatalogue.gridMembers);
}
