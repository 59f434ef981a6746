/**
 * Recursive bisection of a parent's buildings into N groups of about equal households. At each step the
 * longer side (in metres) of the current box is cut by a line of constant longitude or latitude, at the
 * position that gives the left part its share (k1/k) of the households. Cuts are taken preferably in a gap
 * between building footprints, so no building is cut in two. The boxes partition the plane, so parent ∩ box
 * tiles the parent exactly, and each piece is one polygon whenever the parent is convex along the cut.
 * Chosen over region growing on Voronoi cells because it is O(n log² n), deterministic, and its
 * exact tiling needs no topology repair.
 */
export interface WeightedBuilding {
  id: number;
  /** a point on the footprint (lon, lat) */
  x: number;
  y: number;
  /** the footprint's extent (degrees) */
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  households: number;
}

export type Box = [number, number, number, number];

export interface PartitionCell {
  box: Box;
  buildings: WeightedBuilding[];
  households: number;
}

interface Axis {
  point: (b: WeightedBuilding) => number;
  min: (b: WeightedBuilding) => number;
  max: (b: WeightedBuilding) => number;
  lo: 0 | 1;
  hi: 2 | 3;
}

const xAxis: Axis = { point: (b) => b.x, min: (b) => b.minX, max: (b) => b.maxX, lo: 0, hi: 2 };
const yAxis: Axis = { point: (b) => b.y, min: (b) => b.minY, max: (b) => b.maxY, lo: 1, hi: 3 };

const sumHouseholds = (buildings: WeightedBuilding[]) => buildings.reduce((sum, b) => sum + b.households, 0);

export function partitionBuildings(buildings: WeightedBuilding[], count: number, box: Box, slack: number): PartitionCell[] {
  if (count <= 1) return [{ box, buildings, households: sumHouseholds(buildings) }];
  const leftCount = Math.floor(count / 2);
  const metresX = (box[2] - box[0]) * Math.cos((((box[1] + box[3]) / 2) * Math.PI) / 180);
  const wanted = (sumHouseholds(buildings) * leftCount) / count;
  // Cut across the longer side (compact grids) unless the other side balances households clearly better.
  const [longer, shorter] = (metresX >= box[3] - box[1] ? [xAxis, yAxis] : [yAxis, xAxis]).map((axis) => {
    const sorted = [...buildings].sort((a, b) => axis.point(a) - axis.point(b));
    return { axis, sorted, cut: chooseCut(sorted, axis, wanted, slack, box) };
  });
  const { axis, sorted, cut } = longer.cut.error <= slack || longer.cut.error <= shorter.cut.error ? longer : shorter;
  const leftBox: Box = [...box];
  const rightBox: Box = [...box];
  leftBox[axis.hi] = cut.at;
  rightBox[axis.lo] = cut.at;
  return [
    ...partitionBuildings(sorted.slice(0, cut.index), leftCount, leftBox, slack),
    ...partitionBuildings(sorted.slice(cut.index), count - leftCount, rightBox, slack),
  ];
}

/**
 * The cut position: `index` buildings go left. Among cuts within `slack` households of the wanted share, a
 * gap between footprints wins; otherwise the best-balanced cut between two points.
 */
function chooseCut(sorted: WeightedBuilding[], axis: Axis, wanted: number, slack: number, box: Box): { index: number; at: number; error: number } {
  if (sorted.length === 0) return { index: 0, at: (box[axis.lo] + box[axis.hi]) / 2, error: 0 };
  const suffixMin = new Array<number>(sorted.length + 1).fill(Infinity);
  for (let i = sorted.length - 1; i >= 0; i--) suffixMin[i] = Math.min(suffixMin[i + 1], axis.min(sorted[i]));
  let best = { index: 0, at: box[axis.lo], error: Infinity, clean: false };
  let cumulative = 0;
  let prefixMax = -Infinity;
  for (let index = 1; index < sorted.length; index++) {
    cumulative += sorted[index - 1].households;
    prefixMax = Math.max(prefixMax, axis.max(sorted[index - 1]));
    const error = Math.abs(cumulative - wanted);
    const clean = prefixMax < suffixMin[index];
    const at = clean ? (prefixMax + suffixMin[index]) / 2 : (axis.point(sorted[index - 1]) + axis.point(sorted[index])) / 2;
    const better = clean === best.clean ? error < best.error : clean ? error <= slack || error < best.error : best.error > slack && error < best.error;
    if (better && at > box[axis.lo] && at < box[axis.hi]) best = { index, at, error, clean };
  }
  return best.error === Infinity ? { index: sorted.length, at: (box[axis.lo] + box[axis.hi]) / 2, error: Math.abs(cumulative - wanted) } : best;
}
