import type { Queryable } from '../db/pool';
import { planarAreaM2 } from '../geo/area';
import { featureCollection } from '../geo/schemas';
import { gridFeature } from './service';

// Below this, a difference is floating-point noise from shared edges, not a real gap or overlap.
export const coverageNoiseM2 = 0.01;

/**
 * Gaps (parent area no child covers), overlaps (between pairs of children) and children sticking out of the
 * parent, each as GeoJSON features with their area in m² (planarAreaM2: pieces of no width are noise, not land).
 */
export async function gridCoverage(db: Queryable, id: number) {
  await gridFeature(db, id);
  const { rows } = await db.query<{ kind: string; feature: { properties: { areaM2: number } } }>(
    `WITH parent AS (SELECT geom FROM grids WHERE id = $1),
     children AS (SELECT id, geom FROM grids WHERE parent_id = $1),
     pieces AS (
       SELECT 'gap' AS kind, NULL::bigint[] AS ids, (ST_Dump(ST_Difference(parent.geom,
                coalesce((SELECT ST_Union(geom) FROM children), 'SRID=4326;POLYGON EMPTY'::geometry)))).geom AS g
       FROM parent
       UNION ALL
       SELECT 'overlap', ARRAY[a.id, b.id], (ST_Dump(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3))).geom
       FROM children a JOIN children b ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
       UNION ALL
       SELECT 'outside', ARRAY[c.id], (ST_Dump(ST_Difference(c.geom, parent.geom))).geom FROM children c, parent)
     SELECT kind, json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(g, 9)::json,
              'properties', json_build_object('kind', kind, 'gridIds', ids, 'areaM2', ${planarAreaM2('g')})) AS feature
     FROM pieces WHERE ${planarAreaM2('g')} > $2`,
    [id, coverageNoiseM2],
  );
  const of = (kind: string) => rows.filter((row) => row.kind === kind).map((row) => row.feature);
  const total = (features: Array<{ properties: { areaM2: number } }>) => features.reduce((sum, feature) => sum + feature.properties.areaM2, 0);
  const gaps = of('gap');
  const overlaps = of('overlap');
  const outside = of('outside');
  return {
    gridId: id,
    clean: rows.length === 0,
    gapAreaM2: total(gaps as never),
    overlapAreaM2: total(overlaps as never),
    outsideAreaM2: total(outside as never),
    gaps: featureCollection(gaps),
    overlaps: featureCollection(overlaps),
    outside: featureCollection(outside),
  };
}

/** Figures over the level-4 grids under (or equal to) this grid; people are counted, never listed. */
export async function gridStats(db: Queryable, id: number) {
  await gridFeature(db, id);
  const { rows } = await db.query(
    `WITH RECURSIVE tree AS (
       SELECT id, level FROM grids WHERE id = $1
       UNION ALL SELECT g.id, g.level FROM grids g JOIN tree ON g.parent_id = tree.id),
     cells AS (SELECT id FROM tree WHERE level = 4),
     member_buildings AS (SELECT * FROM buildings WHERE grid_id IN (SELECT id FROM cells))
     SELECT (SELECT count(*)::int FROM member_buildings) AS buildings,
            (SELECT coalesce(sum(households), 0)::int FROM member_buildings) AS households,
            (SELECT coalesce(sum(rental_units), 0)::int FROM member_buildings) AS "rentalUnits",
            (SELECT coalesce(json_object_agg(category, n), '{}') FROM (
               SELECT p.category, count(*)::int AS n FROM people p JOIN member_buildings b ON b.id = p.building_id GROUP BY 1) x) AS "peopleByCategory",
            (SELECT coalesce(json_object_agg(risk_level, n), '{}') FROM (
               SELECT risk_level, count(*)::int AS n FROM hazards WHERE grid_id IN (SELECT id FROM cells) GROUP BY 1) x) AS "hazardsByRiskLevel",
            (SELECT count(*)::int FROM key_places WHERE grid_id IN (SELECT id FROM cells)) AS "keyPlaces",
            (SELECT count(*)::int FROM cells) AS "level4Grids"`,
    [id],
  );
  return { gridId: id, ...rows[0] };
}
