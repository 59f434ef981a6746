import { latLngToCell } from 'h3-js';

/**
 * Hotspot cells are stored once per row, as the resolution-10 H3 index in a bigint (`h3_r10`); any coarser cell
 * is derived in SQL by h3_cell_parent() (sql/140), so one column and one index serve resolutions 6–10.
 */
export const storedResolution = 10;
export const hotspotResolutions = { min: 6, max: storedResolution } as const;

/** The stored cell of a point: the H3 index as a decimal string, how node-postgres sends and returns a bigint. */
export function storedCell(lon: number, lat: number): string {
  return BigInt(`0x${latLngToCell(lat, lon, storedResolution)}`).toString();
}

/** The h3-js spelling (hex) of a cell stored or derived in SQL. */
export function cellHex(decimal: string | bigint): string {
  return BigInt(decimal).toString(16);
}
