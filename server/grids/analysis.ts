import type { Queryable } from '../db/pool';
import { featureCollection } from '../geo/schemas';
import { gridFeature } from './service';
import { type CoverageRow, coverageSql, gridStatsSql } from './sql';

// Below this, a difference is floating-point noise from shared edges, not a real gap or overlap.
export const coverageNoiseM2 = 0.01;

/**
 * Gaps (parent area no child covers), overlaps (between pairs of children) and children sticking out of the
 * parent, each as GeoJSON features with their area in m² (planarAreaM2: pieces of no width are noise, not land).
 */
export async function gridCoverage(db: Queryable, id: number) {
  await gridFeature(db, id);
  const { rows } = await db.query<CoverageRow>(
    coverageSql,
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
    gridStatsSql,
    [id],
  );
  return { gridId: id, ...rows[0] };
}
