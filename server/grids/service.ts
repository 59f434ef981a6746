import type { Queryable } from '../db/pool';
import type { ListGridsQuery } from './schemas';

export interface GridFeaturePage {
  features: unknown[];
  nextCursor: number | null;
}

/** One page of grids as GeoJSON features, ordered by id; the filters are all optional and all bound. */
export async function listGrids(db: Queryable, query: ListGridsQuery): Promise<GridFeaturePage> {
  const [minLon, minLat, maxLon, maxLat] = query.bbox ?? [null, null, null, null];
  const { rows } = await db.query<{ id: number; feature: unknown }>(
    `SELECT id, json_build_object(
        'type', 'Feature', 'id', id,
        'geometry', ST_AsGeoJSON(geom, 7)::json,
        'properties', json_build_object('code', code, 'name', name, 'level', level, 'parentId', parent_id,
                                        'leader', leader, 'householdsTarget', households_target, 'version', version)
      ) AS feature
     FROM grids
     WHERE ($1::int IS NULL OR level = $1)
       AND ($2::bigint IS NULL OR parent_id = $2)
       AND ($3::float8 IS NULL OR geom && ST_MakeEnvelope($3, $4, $5, $6, 4326))
       AND id > $7
     ORDER BY id
     LIMIT $8`,
    [query.level ?? null, query.parent ?? null, minLon, minLat, maxLon, maxLat, query.cursor ?? 0, query.limit + 1],
  );
  const page = rows.slice(0, query.limit);
  const nextCursor = rows.length > query.limit ? page[page.length - 1].id : null;
  return { features: page.map((row) => row.feature), nextCursor };
}
