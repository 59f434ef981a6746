/**
 * SQL for the area in m² of a piece of a WGS84 geometry as the geometry itself has it: edges straight in
 * longitude/latitude, as every overlay (intersection, difference, union) computes them, scaled to metres at the
 * piece's latitude (within 0.1 % of the geodesic area for grids of any level).
 *
 * Use it wherever an area decides something or names a sliver. ST_Area(geography) reads each edge as a
 * geodesic, and overlays leave pieces of no width — three vertices on one straight edge, one of them a rounding
 * error off it — which that reading turns into real-looking areas: 1e-8 m² in the plane became 0.05–55 m² on
 * the Hong Kong areas, and 2e-5 m² along a 5.4 km diagonal became 540 m² (test/grids/write-rules.test.ts).
 * `piece` is an SQL expression of SRID 4326, inserted twice; give a column or a parameter, not a subquery.
 */
export function planarAreaM2(piece: string): string {
  return `(ST_Area(${piece}) * (pi() * 6371008.8 / 180) ^ 2 * cos(radians(ST_Y(ST_Centroid(${piece})))))`;
}
