import { coverageProblem, coveredWeight, greedyMaximalCoverage, type CoverageProblem, type DemandPoint } from '../../server/risk/deployment';

/** Every `count`-subset of candidates; the best weight any covers. Only for small cases. */
function exhaustiveBest(problem: CoverageProblem, count: number): number {
  let best = 0;
  const pick = (start: number, chosen: number[]) => {
    if (chosen.length === count || start === problem.covers.length) {
      best = Math.max(best, coveredWeight(problem, chosen));
      return;
    }
    for (let candidate = start; candidate < problem.covers.length; candidate += 1) pick(candidate + 1, [...chosen, candidate]);
  };
  pick(0, []);
  return best;
}

/** A deterministic pseudo-random sequence, so a failing case can be rerun. */
function seeded(seed: number) {
  let state = seed;
  return () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
}

// 0.001° of latitude ≈ 111 m.
const at = (key: string, northM: number, eastM: number, weight: number): DemandPoint => ({
  key,
  lat: 31.3 + northM / 111_320,
  lon: 120.7 + eastM / (111_320 * Math.cos((31.3 * Math.PI) / 180)),
  weight,
});

describe('deployment choice (greedy maximal coverage)', () => {
  test('a hand-built case: two clusters and a lone heavy segment, the best two points are known', () => {
    const points = [
      // West cluster: 3 segments 300 m apart, 1 + 1 + 1.
      at('w1', 0, 0, 1), at('w2', 0, 300, 1), at('w3', 0, 600, 1),
      // East cluster 5 km away: 0.8 + 0.8 at 200 m.
      at('e1', 0, 5000, 0.8), at('e2', 0, 5200, 0.8),
      // A lone heavy segment 5 km north: 1.2.
      at('n1', 5000, 0, 1.2),
    ];
    const problem = coverageProblem(points, 400);
    // w2 reaches w1 and w3; e1 (or e2) the pair; n1 itself.
    expect(problem.covers[1]).toEqual([0, 1, 2]);
    const chosen = greedyMaximalCoverage(problem, 2);
    expect(chosen.map((index) => points[index].key)).toEqual(['w2', 'e1']);
    expect(coveredWeight(problem, chosen)).toBeCloseTo(4.6);
    expect(coveredWeight(problem, chosen)).toBeCloseTo(exhaustiveBest(problem, 2));
    // With three cars the lone segment comes third; with more, nothing is left to gain and no point is added.
    expect(greedyMaximalCoverage(problem, 10).map((index) => points[index].key)).toEqual(['w2', 'e1', 'n1']);
  });

  test('on small random cities it covers at least 95 % of what exhaustive search covers', () => {
    const random = seeded(21);
    const ratios: number[] = [];
    for (let trial = 0; trial < 60; trial += 1) {
      const points = Array.from({ length: 10 + Math.floor(random() * 6) }, (_, index) =>
        at(`u${index}`, random() * 4000, random() * 4000, random() ** 3 * 2),
      );
      const problem = coverageProblem(points, 600 + random() * 800);
      const count = 2 + Math.floor(random() * 3);
      const best = exhaustiveBest(problem, count);
      ratios.push(coveredWeight(problem, greedyMaximalCoverage(problem, count)) / best);
    }
    expect(Math.min(...ratios)).toBeGreaterThanOrEqual(0.95);
  });

  test('the neighbour buckets find exactly the pairs a full distance check finds', () => {
    const random = seeded(7);
    const points = Array.from({ length: 200 }, (_, index) => at(`u${index}`, random() * 8000, random() * 8000, 1));
    const problem = coverageProblem(points, 700);
    const brute = points.map((_, index) =>
      points.flatMap((other, j) => {
        const dNorth = (other.lat - points[index].lat) * 111_320;
        const dEast = (other.lon - points[index].lon) * 111_320 * Math.cos((31.3 * Math.PI) / 180);
        return Math.hypot(dNorth, dEast) <= 699 ? [j] : [];
      }),
    );
    problem.covers.forEach((reach, index) => expect(reach).toEqual(expect.arrayContaining(brute[index])));
  });
});
