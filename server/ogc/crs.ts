import type { Queryable } from '../db/pool';
import { type SridRow, knownSridsSql } from './sql';

/**
 * A coordinate reference system a client may ask features in (OGC API – Features Part 2). `latitudeFirst`: EPSG's
 * geographic CRSs order their axes latitude, longitude, so coordinates (and a bbox) in them are flipped against
 * GeoJSON's default CRS84 order; projected EPSG:3857 is easting, northing like CRS84.
 */
export interface Crs {
  uri: string;
  srid: number;
  latitudeFirst: boolean;
  /** Decimals of served coordinates: 9 (≈ 0.1 mm) in degrees, as the grid API serves them; millimetres in metres. */
  decimals: number;
}

export const crs84: Crs = { uri: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84', srid: 4326, latitudeFirst: false, decimals: 9 };

/** Every CRS served besides CRS84; CGCS2000 (EPSG:4490) only when this PostGIS's spatial_ref_sys knows it. */
const candidates: Crs[] = [
  { uri: 'http://www.opengis.net/def/crs/EPSG/0/4326', srid: 4326, latitudeFirst: true, decimals: 9 },
  { uri: 'http://www.opengis.net/def/crs/EPSG/0/3857', srid: 3857, latitudeFirst: false, decimals: 3 },
  { uri: 'http://www.opengis.net/def/crs/EPSG/0/4490', srid: 4490, latitudeFirst: true, decimals: 9 },
];

/** The served CRSs, CRS84 first (the default and the storage CRS): looked up once per database. */
export async function servedCrs(db: Queryable): Promise<Crs[]> {
  const { rows } = await db.query<SridRow>(knownSridsSql, [candidates.map((crs) => crs.srid)]);
  const known = new Set(rows.map((row) => row.srid));
  return [crs84, ...candidates.filter((crs) => known.has(crs.srid))];
}

/** A CRS named by its URI, its safe CURIE ([EPSG:3857]) or a bare EPSG:3857 as clients also write; undefined if not served. */
export function findCrs(served: readonly Crs[], name: string): Crs | undefined {
  const text = name.trim().replace(/^\[(.*)\]$/, '$1');
  const epsg = /^EPSG:(\d+)$/i.exec(text);
  const uri = epsg ? `http://www.opengis.net/def/crs/EPSG/0/${epsg[1]}` : /^OGC:CRS84$/i.test(text) ? crs84.uri : text.replace(/^https:/, 'http:');
  return served.find((crs) => crs.uri === uri);
}

/** SQL: WGS84 geometry expression `geom` as GeoJSON text in `crs`, axes in the CRS's order. */
export function geometryJsonIn(crs: Crs, geom: string, decimals = crs.decimals): string {
  const transformed = crs.srid === 4326 ? geom : `ST_Transform(${geom}, ${crs.srid})`;
  const ordered = crs.latitudeFirst ? `ST_FlipCoordinates(${transformed})` : transformed;
  return `ST_AsGeoJSON(${ordered}, ${decimals})::json`;
}

/** SQL: GeoJSON text parameter `$n` given in `crs` as WGS84 GeoJSON text, for the write services (which take CRS84). */
export function toWgs84Json(crs: Crs, parameter: number): string {
  const read = `ST_SetSRID(ST_GeomFromGeoJSON($${parameter}::text), ${crs.srid})`;
  const ordered = crs.latitudeFirst ? `ST_FlipCoordinates(${read})` : read;
  return `ST_AsGeoJSON(ST_Transform(${ordered}, 4326), 15)`;
}
