import { cellToLatLng, cellToParent, getResolution, gridDisk, isValidCell } from 'h3-js';

/**
 * What the model ranks: road segments where a road network is loaded, H3 cells otherwise. The model only sees
 * unit indexes, neighbour lists and optional numeric attributes, so one model serves both kinds.
 */
export interface UnitSet {
  kind: 'h3' | 'road';
  /** H3 index or road id as text, one per unit. */
  keys: string[];
  /** Neighbours of unit i are neighbourIndex[neighbourStart[i] .. neighbourStart[i + 1]). */
  neighbourStart: Int32Array;
  neighbourIndex: Int32Array;
  /** Region of each unit (H3 parent two levels up; a road's grid), whose time profile the unit's is drawn from. */
  region: Int32Array;
  /** Numeric attributes per unit (road class, lanes, speed limit...); empty for cells. */
  attributes: { name: string; values: Float64Array }[];
}

export const MIN_H3_RESOLUTION = 6;
export const MAX_H3_RESOLUTION = 10;

export function cellCentre(cell: string): [number, number] {
  const [lat, lon] = cellToLatLng(cell);
  return [lon, lat];
}

/** Cells as units, neighbours from the first ring of gridDisk (only those that are units themselves). */
export function h3Units(cells: Iterable<string>): UnitSet {
  const keys = [...new Set(cells)].filter((cell) => isValidCell(cell)).sort();
  const indexOf = new Map(keys.map((key, index) => [key, index]));
  return {
    kind: 'h3',
    keys,
    ...neighbourLists(keys.map((cell) => gridDisk(cell, 1).flatMap((other) => (other === cell ? [] : [indexOf.get(other) ?? -1])))),
    region: regionIndexes(keys.map((cell) => cellToParent(cell, Math.max(0, getResolution(cell) - REGION_LEVELS_UP)))),
    attributes: [],
  };
}

/** Road segments as units; adjacency (segments sharing an end point) is given by the caller. */
export function roadUnits(roadIds: string[], adjacent: Map<string, string[]>, regions: string[], attributes: UnitSet['attributes']): UnitSet {
  const indexOf = new Map(roadIds.map((key, index) => [key, index]));
  return {
    kind: 'road',
    keys: roadIds,
    ...neighbourLists(roadIds.map((id) => (adjacent.get(id) ?? []).map((other) => indexOf.get(other) ?? -1))),
    region: regionIndexes(regions),
    attributes,
  };
}

/** An H3 parent two levels up (res 8 → res 6, ≈ 36 km²) is a district-sized area with its own daily rhythm. */
const REGION_LEVELS_UP = 2;

function regionIndexes(regionKeys: string[]): Int32Array {
  const indexOf = new Map<string, number>();
  return Int32Array.from(regionKeys.map((key) => indexOf.get(key) ?? indexOf.set(key, indexOf.size).get(key)!));
}

function neighbourLists(lists: number[][]): Pick<UnitSet, 'neighbourStart' | 'neighbourIndex'> {
  const kept = lists.map((list) => list.filter((index) => index >= 0));
  const neighbourStart = new Int32Array(kept.length + 1);
  kept.forEach((list, index) => (neighbourStart[index + 1] = neighbourStart[index] + list.length));
  return { neighbourStart, neighbourIndex: Int32Array.from(kept.flat()) };
}
