import * as turf from '@turf/turf';
import type { Queryable } from '../db/pool';
import { demandSql } from './sql';

/** A place where risk is predicted: its weight is the expected accidents there, its point a segment midpoint or cell centre. */
export interface DemandPoint {
  key: string;
  lon: number;
  lat: number;
  weight: number;
}

export interface CoverageProblem {
  /** `covers[c]` lists the demand indices candidate `c` reaches within the radius. */
  covers: number[][];
  weights: number[];
}

/**
 * Greedy maximal coverage: each step takes the candidate adding the most not-yet-covered weight. It is the
 * classic (1 − 1/e) approximation; on city-sized inputs it reaches all but a few per cent of the optimum.
 * Returns the chosen candidate indices in the order chosen (fewer than `count` once nothing more is gained).
 */
export function greedyMaximalCoverage({ covers, weights }: CoverageProblem, count: number): number[] {
  const covered = new Uint8Array(weights.length);
  const chosen: number[] = [];
  while (chosen.length < count) {
    let best = -1;
    let bestGain = 0;
    covers.forEach((reach, candidate) => {
      const gain = reach.reduce((sum, demand) => sum + (covered[demand] ? 0 : weights[demand]), 0);
      if (gain > bestGain) [best, bestGain] = [candidate, gain];
    });
    if (best < 0) break;
    chosen.push(best);
    for (const demand of covers[best]) covered[demand] = 1;
  }
  return chosen;
}

/** The weight `chosen` candidates cover together. */
export function coveredWeight({ covers, weights }: CoverageProblem, chosen: number[]): number {
  const covered = new Set(chosen.flatMap((candidate) => covers[candidate]));
  return [...covered].reduce((sum, demand) => sum + weights[demand], 0);
}

/** Candidates are the demand points themselves: a patrol car waits on a segment (or in a cell) with risk. */
export function coverageProblem(points: DemandPoint[], radiusM: number): CoverageProblem {
  const bbox = turf.bbox(turf.featureCollection(points.map((point) => turf.point([point.lon, point.lat]))));
  // A coarse grid of radius-sized buckets keeps the neighbour search near-linear for thousands of segments.
  const cellDegLat = radiusM / 111_320;
  const cellDegLon = cellDegLat / Math.max(0.1, Math.cos(((bbox[1] + bbox[3]) / 2) * (Math.PI / 180)));
  const bucketOf = (point: DemandPoint) => [Math.floor((point.lon - bbox[0]) / cellDegLon), Math.floor((point.lat - bbox[1]) / cellDegLat)];
  const buckets = new Map<string, number[]>();
  points.forEach((point, index) => {
    const key = bucketOf(point).join(',');
    buckets.set(key, [...(buckets.get(key) ?? []), index]);
  });
  const covers = points.map((point) => {
    const [bx, by] = bucketOf(point);
    const near = [-1, 0, 1].flatMap((dx) => [-1, 0, 1].flatMap((dy) => buckets.get(`${bx + dx},${by + dy}`) ?? []));
    return near.filter((other) => distanceM(point, points[other]) <= radiusM).sort((a, b) => a - b);
  });
  return { covers, weights: points.map((point) => point.weight) };
}

const distanceM = (a: DemandPoint, b: DemandPoint) => turf.distance([a.lon, a.lat], [b.lon, b.lat], { units: 'meters' });

export interface DeploymentPoint {
  order: number;
  unitKey: string;
  lon: number;
  lat: number;
  /** Expected accidents this point adds to the cover (its marginal gain when chosen). */
  addedExpected: number;
  coveredUnits: number;
  catchment: GeoJSON.Polygon;
}

export interface Deployment {
  windowStart: string;
  windowEnd: string;
  modelVersion: number;
  radiusM: number;
  totalExpected: number;
  coveredExpected: number;
  coveredShare: number;
  points: DeploymentPoint[];
}

/** Deployment points for the predicted window containing `at`; null when that window was not predicted. */
export async function deploymentFor(db: Queryable, at: Date, units: number, radiusM: number): Promise<Deployment | null> {
  const { rows } = await db.query<DemandPoint & { windowStart: string; windowEnd: string; modelVersion: number }>(
    demandSql,
    [at],
  );
  if (!rows.length) return null;
  const demand = rows.filter((row) => row.weight > 0);
  const problem = coverageProblem(demand, radiusM);
  const chosen = greedyMaximalCoverage(problem, units);
  const totalExpected = problem.weights.reduce((sum, weight) => sum + weight, 0);
  const points = chosen.map((candidate, index) => ({
    order: index + 1,
    unitKey: demand[candidate].key,
    lon: demand[candidate].lon,
    lat: demand[candidate].lat,
    addedExpected: coveredWeight(problem, chosen.slice(0, index + 1)) - coveredWeight(problem, chosen.slice(0, index)),
    coveredUnits: problem.covers[candidate].length,
    catchment: turf.circle([demand[candidate].lon, demand[candidate].lat], radiusM, { units: 'meters', steps: 48 }).geometry,
  }));
  const coveredExpected = coveredWeight(problem, chosen);
  const { windowStart, windowEnd, modelVersion } = rows[0];
  return { windowStart, windowEnd, modelVersion, radiusM, totalExpected, coveredExpected, coveredShare: totalExpected ? coveredExpected / totalExpected : 0, points };
}
