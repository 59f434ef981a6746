import { booleanPointInPolygon } from '@turf/turf';
import type { Lattice } from './lattice';
import type { Random } from './random';

export type Position = [number, number];

/** Water and parks the basemap draws (table land_cover, sql/150). Rings are in WGS84. */
export interface LandCoverRow {
  id: number;
  kind: 'water' | 'park';
  name: string;
  ring: Position[];
}

/** A road that does not follow the lattice, as a polyline in fractional cell coordinates. */
export interface FreeRoad {
  name: string;
  path: Position[];
}

export interface Landscape {
  landCover: LandCoverRow[];
  freeRoads: FreeRoad[];
  /** Cells where no building may stand: water, parks and the corridors of the free roads (by lattice.cellIndex). */
  blocked: Uint8Array;
  /** Lattice road segments (keyed by roadEdgeKey) that would run through the lake: not built. */
  drownedEdges: Set<string>;
  inWater(at: Position): boolean;
}

export function roadEdgeKey(a: [number, number], b: [number, number]): string {
  const [p, q] = a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]) ? [a, b] : [b, a];
  return `${p[0]},${p[1]}-${q[0]},${q[1]}`;
}

const polygon = (ring: Position[]) => ({ type: 'Polygon' as const, coordinates: [ring] });

/** A lake outline in cell coordinates: an ellipse with a wavy shore, `scale` times its size (1 = the water's edge). */
function lakeRing(centre: Position, radii: Position, phases: [number, number], scale: number): Position[] {
  return Array.from({ length: 97 }, (_, k) => {
    const angle = ((k % 96) / 96) * 2 * Math.PI;
    const r = scale * (1 + 0.14 * Math.sin(3 * angle + phases[0]) + 0.07 * Math.sin(5 * angle + phases[1]));
    return [centre[0] + radii[0] * r * Math.cos(angle), centre[1] + radii[1] * r * Math.sin(angle)];
  });
}

/**
 * A lake (金鸡湖 in the default city), a canal flowing into it from the west edge, a park around the lake and park
 * blocks among the streets, and a few arterials that cut across the lattice: a ring road round the lake and two
 * diagonals. Everything is placed relative to the extent, so the small test city gets the same features.
 * Grids still cut only on lattice lines, so their nesting stays exact; buildings keep off all of it.
 */
export function generateLandscape(random: Random, lattice: Lattice, roadSpacing: number): Landscape {
  const { nx, ny } = lattice;
  const toLonLat = (ring: Position[]): Position[] => ring.map(([x, y]) => [lattice.lon(x), lattice.lat(y)]);
  const centre: Position = [nx * random.float(0.6, 0.68), ny * random.float(0.5, 0.58)];
  const radii: Position = [Math.min(nx, ny) * 0.14, Math.min(nx, ny) * 0.11];
  const phases: [number, number] = [random.float(0, 6.28), random.float(0, 6.28)];
  const lake = lakeRing(centre, radii, phases, 1);
  const lakeShore = lakeRing(centre, radii, phases, 1.28);

  const canalHalfWidth = 0.45;
  const canalY = (x: number) => centre[1] + ny * 0.05 * Math.sin((x / nx) * 3 * Math.PI);
  const canalXs = Array.from({ length: Math.ceil(centre[0]) + 1 }, (_, x) => x);
  const canal: Position[] = [
    ...canalXs.map((x): Position => [x, canalY(x) + canalHalfWidth]),
    ...[...canalXs].reverse().map((x): Position => [x, canalY(x) - canalHalfWidth]),
  ];
  canal.push(canal[0]);

  const water = [polygon(lake), polygon(canal)];
  const inWaterCells = (at: Position) => water.some((p) => booleanPointInPolygon(at, p));

  const blocked = new Uint8Array(nx * ny);
  const block = (i: number, j: number) => {
    if (i >= 0 && j >= 0 && i < nx && j < ny) blocked[lattice.cellIndex(i, j)] = 1;
  };
  // A cell is blocked when any of a few points in and just around it lies in the area: no building touches it.
  const blockArea = (ring: Position[]) => {
    const area = polygon(ring);
    const xs = ring.map((p) => p[0]);
    const ys = ring.map((p) => p[1]);
    for (let j = Math.floor(Math.min(...ys)) - 1; j <= Math.ceil(Math.max(...ys)); j++) {
      for (let i = Math.floor(Math.min(...xs)) - 1; i <= Math.ceil(Math.max(...xs)); i++) {
        const samples = [0, 0.25, 0.5, 0.75, 1].flatMap((u) => [0, 0.25, 0.5, 0.75, 1].map((v): Position => [i + u, j + v]));
        if (samples.some((at) => booleanPointInPolygon(at, area))) block(i, j);
      }
    }
  };

  const drownedEdges = new Set<string>();
  for (let i = 0; i <= nx; i += roadSpacing) {
    for (let j = 0; j <= ny; j += roadSpacing) {
      for (const [di, dj] of [[roadSpacing, 0], [0, roadSpacing]]) {
        const along = Array.from({ length: 13 }, (_, k): Position => [i + (di * k) / 12, j + (dj * k) / 12]);
        if (along.some((at) => booleanPointInPolygon(at, polygon(lake)))) drownedEdges.add(roadEdgeKey([i, j], [i + di, j + dj]));
      }
    }
  }

  // Park blocks: whole road-bounded blocks, set back from the kerb, away from the water.
  const parks: Position[][] = [];
  const blocksX = Math.floor(nx / roadSpacing);
  const blocksY = Math.floor(ny / roadSpacing);
  const wanted = 2 + Math.round((blocksX * blocksY) / 200);
  for (let tries = 0; parks.length < wanted && tries < wanted * 20; tries++) {
    const [bx, by] = [random.int(0, blocksX - 1), random.int(0, blocksY - 1)];
    const [w, h] = [random.int(1, 2), random.int(1, 2)];
    const [x0, y0, x1, y1] = [bx * roadSpacing + 0.3, by * roadSpacing + 0.3, Math.min(bx + w, blocksX) * roadSpacing - 0.3, Math.min(by + h, blocksY) * roadSpacing - 0.3];
    const corners: Position[] = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];
    const middle: Position = [(x0 + x1) / 2, (y0 + y1) / 2];
    const nearWater = [...corners, middle].some((at) => inWaterCells(at) || booleanPointInPolygon(at, polygon(lakeShore)));
    if (!nearWater) parks.push(corners);
  }

  const freeRoads: FreeRoad[] = [
    { name: '环湖路', path: lakeRing(centre, radii, phases, 1.36).filter((_, k) => k % 2 === 0) },
    { name: '现代大道', path: curve([0, ny * 0.12], [nx, ny * 0.34], ny * 0.04) },
    { name: '星湖街', path: curve([nx * 0.08, ny], [centre[0] - radii[0] * 1.36, centre[1] + radii[1] * 0.3], nx * 0.03) },
  ].map((road) => ({ ...road, path: road.path.map(([x, y]): Position => [Math.min(nx, Math.max(0, x)), Math.min(ny, Math.max(0, y))]) }));

  for (const ring of [lake, canal, lakeShore, ...parks]) blockArea(ring);
  for (const { path } of freeRoads) {
    for (let k = 1; k < path.length; k++) {
      const [[x0, y0], [x1, y1]] = [path[k - 1], path[k]];
      const steps = Math.ceil(Math.hypot(x1 - x0, y1 - y0) * 4);
      for (let s = 0; s <= steps; s++) {
        const [x, y] = [x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps];
        for (const dx of [-0.6, 0.6]) for (const dy of [-0.6, 0.6]) block(Math.floor(x + dx), Math.floor(y + dy));
      }
    }
  }

  const parkNames = ['湖滨公园', '白塘植物园', '青剑湖公园', '斜塘公园', '翠园绿地', '玲珑湾公园', '东沙湖公园', '星港公园', '独墅湖绿地', '阳澄湖公园'];
  const landCover: LandCoverRow[] = [
    { id: 1, kind: 'park', name: '金鸡湖景区', ring: toLonLat(lakeShore) },
    ...parks.map((ring, k): LandCoverRow => ({ id: k + 2, kind: 'park', name: parkNames[k % parkNames.length], ring: toLonLat(ring) })),
  ];
  landCover.push({ id: landCover.length + 1, kind: 'water', name: '金鸡湖', ring: toLonLat(lake) });
  landCover.push({ id: landCover.length + 1, kind: 'water', name: '娄江', ring: toLonLat(canal) });
  const waterLonLat = landCover.filter((row) => row.kind === 'water').map((row) => polygon(row.ring));
  return {
    landCover,
    freeRoads,
    blocked,
    drownedEdges,
    inWater: (at) => waterLonLat.some((p) => booleanPointInPolygon(at, p)),
  };
}

/** A gently bowed line from a to b: `bow` cells off the straight line at its middle, a vertex every ~2 cells. */
function curve(a: Position, b: Position, bow: number): Position[] {
  const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
  const steps = Math.max(2, Math.round(length / 2));
  const [nx, ny] = [-(b[1] - a[1]) / length, (b[0] - a[0]) / length];
  return Array.from({ length: steps + 1 }, (_, k) => {
    const t = k / steps;
    const off = bow * Math.sin(Math.PI * t);
    return [a[0] + (b[0] - a[0]) * t + nx * off, a[1] + (b[1] - a[1]) * t + ny * off];
  });
}
