import type { Queryable } from '../../server/db/pool';
import type { TestApp } from '../support/app';

export interface Extent {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

/** A CSV of small square buildings spread over the city, coded `${prefix}-${row}`; `bad` maps a row number to its broken line. */
export function buildingsCsv(extent: Extent, rows: number, bad: Map<number, string> = new Map(), prefix = 'IMP'): string {
  const lines = ['code,address,use,floors,households,wkt'];
  const size = 0.00005;
  for (let row = 1; row <= rows; row += 1) {
    const broken = bad.get(row);
    if (broken) {
      lines.push(broken);
      continue;
    }
    const lon = extent.minLon + ((row * 7919) % 10_000) / 10_000 * (extent.maxLon - extent.minLon - size);
    const lat = extent.minLat + ((row * 104_729) % 10_000) / 10_000 * (extent.maxLat - extent.minLat - size);
    const ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]].map(([x, y]) => `${x} ${y}`).join(', ');
    lines.push(`${prefix}-${row},"No. ${row}, Import Road",residential,${1 + (row % 30)},${row % 50},"POLYGON((${ring}))"`);
  }
  return `${lines.join('\n')}\n`;
}

/** The bounding box of the level-4 grids: where imported buildings get a grid. */
export async function levelFourExtent(db: Queryable): Promise<Extent> {
  const { rows } = await db.query<Extent>(
    `SELECT ST_XMin(e) AS "minLon", ST_YMin(e) AS "minLat", ST_XMax(e) AS "maxLon", ST_YMax(e) AS "maxLat"
       FROM (SELECT ST_Extent(geom)::box2d AS e FROM grids WHERE level = 4) AS extent`,
  );
  return rows[0];
}

/** POSTs a buildings CSV to the import route as a planner; `query` e.g. `?dryRun=true`. */
export function importBuildingsCsv(api: TestApp, csv: string, query = '') {
  return api.request.post(`/api/layers/buildings/import${query}`).set(api.auth('planner')).set('Content-Type', 'text/csv').send(csv);
}
