/**
 * The demo city is laid on a lattice of square cells (50 m by default). Roads run along lattice lines, each
 * building sits inside one cell, and every grid border follows lattice lines, so grids nest and tile exactly
 * (neighbours share the very same coordinates) and no border ever cuts a building.
 */
export type Bbox = [number, number, number, number];

const metresPerDegreeLat = 111_320;

export class Lattice {
  readonly dLon: number;
  readonly dLat: number;
  readonly nx: number;
  readonly ny: number;

  /** The extent is trimmed to whole blocks of `blockCells` so the outermost roads close every block. */
  constructor(
    readonly bbox: Bbox,
    readonly cellMetres: number,
    blockCells: number,
  ) {
    const midLat = (bbox[1] + bbox[3]) / 2;
    this.dLat = cellMetres / metresPerDegreeLat;
    this.dLon = cellMetres / (metresPerDegreeLat * Math.cos((midLat * Math.PI) / 180));
    this.nx = Math.floor((bbox[2] - bbox[0]) / this.dLon / blockCells) * blockCells;
    this.ny = Math.floor((bbox[3] - bbox[1]) / this.dLat / blockCells) * blockCells;
  }

  /** Keeps a point inside the extent (jittered reports near the edge would otherwise fall outside every grid). */
  clamp([lon, lat]: [number, number]): [number, number] {
    const inset = 1e-6;
    return [Math.min(Math.max(lon, this.lon(0) + inset), this.lon(this.nx) - inset), Math.min(Math.max(lat, this.lat(0) + inset), this.lat(this.ny) - inset)];
  }

  /** Longitude of lattice line i (fractional i for points inside cells); rounded so shared lines are identical. */
  lon(i: number): number {
    return round7(this.bbox[0] + i * this.dLon);
  }

  lat(j: number): number {
    return round7(this.bbox[1] + j * this.dLat);
  }

  cellIndex(i: number, j: number): number {
    return j * this.nx + i;
  }
}

export function round7(value: number): number {
  return Math.round(value * 1e7) / 1e7;
}

/** A rectangle of whole cells: x0 ≤ i < x1, y0 ≤ j < y1. */
export interface CellRect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function rectRing(lattice: Lattice, rect: CellRect): Array<[number, number]> {
  const [w, s, e, n] = [lattice.lon(rect.x0), lattice.lat(rect.y0), lattice.lon(rect.x1), lattice.lat(rect.y1)];
  return [
    [w, s],
    [e, s],
    [e, n],
    [w, n],
    [w, s],
  ];
}

/** Summed-area table over cell weights, for O(1) weight of any rectangle while bisecting. */
export class WeightTable {
  private readonly sums: Float64Array;

  constructor(
    private readonly lattice: Lattice,
    weights: Float64Array,
  ) {
    const { nx, ny } = lattice;
    this.sums = new Float64Array((nx + 1) * (ny + 1));
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        this.sums[(j + 1) * (nx + 1) + i + 1] =
          weights[j * nx + i] + this.sums[j * (nx + 1) + i + 1] + this.sums[(j + 1) * (nx + 1) + i] - this.sums[j * (nx + 1) + i];
      }
    }
  }

  weight(rect: CellRect): number {
    const stride = this.lattice.nx + 1;
    const s = this.sums;
    return s[rect.y1 * stride + rect.x1] - s[rect.y0 * stride + rect.x1] - s[rect.y1 * stride + rect.x0] + s[rect.y0 * stride + rect.x0];
  }
}

/**
 * Recursive bisection of a rectangle into k parts of about equal weight, cutting only on lattice lines that are
 * multiples of `step` (roads for the upper levels). Always cuts the longer side first to keep parts compact.
 */
export function bisect(table: WeightTable, rect: CellRect, k: number, step: number): CellRect[] {
  if (k <= 1) return [rect];
  const total = table.weight(rect);
  const kLeft = Math.floor(k / 2);
  const target = (total * kLeft) / k;
  let best: [CellRect, CellRect] | undefined;
  let bestScore = Infinity;
  for (const alongX of [true, false]) {
    const [from, to] = alongX ? [rect.x0, rect.x1] : [rect.y0, rect.y1];
    for (let cut = Math.ceil((from + 1) / step) * step; cut < to; cut += step) {
      const parts: [CellRect, CellRect] = alongX ? [{ ...rect, x1: cut }, { ...rect, x0: cut }] : [{ ...rect, y1: cut }, { ...rect, y0: cut }];
      // Balance first; elongated parts (aspect ratio over 3) pay a penalty so grids stay compact.
      const elongation = Math.max(...parts.map(aspectRatio));
      const score = Math.abs(table.weight(parts[0]) - target) / Math.max(total, 1) + (elongation > 3 ? elongation / 10 : 0);
      if (score < bestScore) [best, bestScore] = [parts, score];
    }
  }
  if (!best) return [rect];
  return [...bisect(table, best[0], kLeft, step), ...bisect(table, best[1], k - kLeft, step)];
}

function aspectRatio(rect: CellRect): number {
  const [w, h] = [rect.x1 - rect.x0, rect.y1 - rect.y0];
  return Math.max(w, h) / Math.min(w, h);
}
