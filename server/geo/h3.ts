// H3 cells, every resolution, in one place: which cell a point lies in, how cells are stored, and their shapes.
import { cellToBoundary, cellToLatLng, gridDisk, latLngToCell } from 'h3-js';

/**
 * Hotspot cells are stored once per row, as the resolution-10 H3 index in a bigint (`h3_r10`); any coarser cell
 * is derived in SQL by h3_cell_parent() (sql/140), so one column and one index serve resolutions 6–10.
 */
export const storedResolution = 10;
export const hotspotResolutions = { min: 6, max: storedResolution } as const;

/** The cell (h3-js hex) holding a WGS84 point at a resolution. */
export function cellAt(lon: number, lat: number, resolution: number): string {
  return latLngToCell(lat, lon, resolution);
}

/** The cell holding a WGS84 point at a resolution and its neighbours: where points near it lie. */
export function cellsAround(lon: number, lat: number, resolution: number): string[] {
  return gridDisk(cellAt(lon, lat, resolution), 1);
}

/** The centre of a cell as [lon, lat]. */
export function cellCentre(cell: string): [number, number] {
  const [lat, lon] = cellToLatLng(cell);
  return [lon, lat];
}

/** The stored cell of a point: the H3 index as a decimal string, how node-postgres sends and returns a bigint. */
export function storedCell(lon: number, lat: number): string {
  return BigInt(`0x${cellAt(lon, lat, storedResolution)}`).toString();
}

/** An incident's cells in the order of its columns h3_r7, h3_r8, h3_r9 (hex text) and h3_r10 (stored). */
export function incidentCells(lon: number, lat: number): [string, string, string, string] {
  return [cellAt(lon, lat, 7), cellAt(lon, lat, 8), cellAt(lon, lat, 9), storedCell(lon, lat)];
}

/** The h3-js spelling (hex) of a cell stored or derived in SQL. */
export function cellHex(decimal: string | bigint): string {
  return BigInt(decimal).toString(16);
}

/** A cell's outline as a GeoJSON Polygon (longitude first, ring closed). */
export function cellPolygon(cell: string): { type: 'Polygon'; coordinates: number[][][] } {
  return { type: 'Polygon', coordinates: [cellToBoundary(cell, true)] };
}
