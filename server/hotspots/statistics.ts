/**
 * The statistics of hotspot analysis, pure functions over numbers: Getis-Ord Gi*, its confidence classes with
 * an optional Benjamini–Hochberg false-discovery-rate correction, the Mann-Kendall trend test and the
 * emerging-hot-spot labels of ArcGIS "Emerging Hot Spot Analysis".
 */

/** Two-sided p-value of a standard normal z-score. */
export function twoSidedP(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/**
 * Complementary error function, Chebyshev fit of Numerical Recipes (2nd ed., §6.2, `erfcc`): relative error below
 * 1.2e-7 everywhere, far finer than the 0.01 steps between confidence levels.
 */
function erfc(x: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const tail =
    t *
    Math.exp(
      -x * x - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? tail : 2 - tail;
}

/**
 * Gi* z-scores of every cell, with binary weights: w_ij = 1 when j is one of `neighbours[i]` (its gridDisk(k) in
 * the study area, i itself included), else 0. As in Ord & Getis (1995), ArcGIS "Hot Spot Analysis" and PySAL
 * esda.G_Local(star=True) with binary weights, for n cells with counts x:
 *
 *            Σ_j w_ij x_j − X̄ Σ_j w_ij                    X̄ = Σ_j x_j / n
 *   G*_i = ─────────────────────────────────────────────    S = √( Σ_j x_j² / n − X̄² )
 *           S √( (n Σ_j w_ij² − (Σ_j w_ij)²) / (n − 1) )
 *
 * G*_i is itself a z-score. With binary weights Σ_j w_ij² = Σ_j w_ij = the number of neighbours. A field with no
 * variation (S = 0) or a cell that neighbours the whole study area has no defined score: 0 (not significant).
 */
export function getisOrdGiStar(counts: readonly number[], neighbours: readonly (readonly number[])[]): number[] {
  const n = counts.length;
  if (n < 2) return counts.map(() => 0);
  let sum = 0;
  let sumOfSquares = 0;
  for (const x of counts) {
    sum += x;
    sumOfSquares += x * x;
  }
  const mean = sum / n;
  const deviation = Math.sqrt(Math.max(0, sumOfSquares / n - mean * mean));
  return neighbours.map((cells) => {
    const weight = cells.length;
    let local = 0;
    for (const j of cells) local += counts[j];
    const spread = deviation * Math.sqrt((n * weight - weight * weight) / (n - 1));
    return spread > 0 ? (local - mean * weight) / spread : 0;
  });
}

/** Confidence levels of the classes ±1, ±2, ±3 (90, 95, 99 %), as ArcGIS reports Gi_Bin. */
const classLevels = [0.1, 0.05, 0.01] as const;

/**
 * Benjamini–Hochberg: the largest p-value still significant at false-discovery rate `alpha` among `pValues`
 * (sorted ascending): the largest p_(i) with p_(i) ≤ i·alpha/m. −1 when none is.
 */
function benjaminiHochbergCutoff(sortedP: readonly number[], alpha: number): number {
  const m = sortedP.length;
  for (let i = m; i >= 1; i--) if (sortedP[i - 1] <= (i * alpha) / m) return sortedP[i - 1];
  return -1;
}

/**
 * Class −3…+3 per z-score: the sign of z times the number of levels (90, 95, 99 %) at which p is significant.
 * With `fdr`, significance at each level is decided by Benjamini–Hochberg over all cells instead of p < alpha;
 * its cut-off never exceeds alpha, so it never marks more cells than without.
 */
export function confidenceClasses(zScores: readonly number[], pValues: readonly number[], fdr: boolean): number[] {
  const sorted = fdr ? [...pValues].sort((a, b) => a - b) : [];
  const cutoffs = classLevels.map((alpha) => (fdr ? benjaminiHochbergCutoff(sorted, alpha) : alpha));
  return zScores.map((z, i) => {
    const p = pValues[i];
    const levels = cutoffs.filter((cutoff, level) => (fdr ? p <= cutoff : p < classLevels[level])).length;
    return z > 0 ? levels : -levels;
  });
}

export interface MannKendall {
  /** S = Σ_{i<j} sign(x_j − x_i) */
  s: number;
  /** Normal approximation with continuity correction and the tie correction of the variance. */
  z: number;
  p: number;
}

/**
 * Mann-Kendall trend test of a series in time order: S = Σ_{i<j} sign(x_j − x_i),
 * Var(S) = (n(n−1)(2n+5) − Σ_t t(t−1)(2t+5)) / 18 over groups of t tied values, Z = (S ∓ 1)/√Var(S).
 */
export function mannKendall(series: readonly number[]): MannKendall {
  const n = series.length;
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += Math.sign(series[j] - series[i]);
  const ties = new Map<number, number>();
  for (const x of series) ties.set(x, (ties.get(x) ?? 0) + 1);
  let tieTerm = 0;
  for (const t of ties.values()) tieTerm += t * (t - 1) * (2 * t + 5);
  const variance = (n * (n - 1) * (2 * n + 5) - tieTerm) / 18;
  const z = variance > 0 && s !== 0 ? (s - Math.sign(s)) / Math.sqrt(variance) : 0;
  return { s, z, p: twoSidedP(z) };
}

/** A trend of the Gi* z-scores counts as significant (intensifying, diminishing) below this p-value. */
export const trendSignificance = 0.05;

export const emergingLabels = [
  'new hot spot', 'consecutive hot spot', 'intensifying hot spot', 'persistent hot spot', 'diminishing hot spot',
  'sporadic hot spot', 'oscillating hot spot', 'historical hot spot',
  'new cold spot', 'consecutive cold spot', 'intensifying cold spot', 'persistent cold spot', 'diminishing cold spot',
  'sporadic cold spot', 'oscillating cold spot', 'historical cold spot',
  'no pattern detected',
] as const;
export type EmergingLabel = (typeof emergingLabels)[number];

/**
 * The emerging-hot-spot label of one cell from its Gi* class per window (oldest first; a class ≠ 0 is a
 * significant hot or cold spot at 90 % or more) and the Mann-Kendall trend of its z-scores, following ArcGIS's
 * definitions ("How Emerging Hot Spot Analysis works"), hot spots first; cold spots mirror them:
 * - new: significant hot in the last window, never hot before;
 * - consecutive: one uninterrupted run of ≥ 2 hot windows at the end, never hot before that run, hot in < 90 %;
 * - intensifying: hot in ≥ 90 % of windows including the last, z-scores rising significantly;
 * - persistent: hot in ≥ 90 % of windows (the last included), no significant trend;
 * - diminishing: hot in ≥ 90 % of windows including the last, z-scores falling significantly;
 * - sporadic: hot in the last window, on and off before, hot in < 90 %, never cold;
 * - oscillating: hot in the last window, cold in some earlier window, hot in < 90 % (checked before new and
 *   consecutive, which speak only of earlier hot spots);
 * - historical: not hot in the last window, hot in ≥ 90 % of the windows.
 */
export function emergingLabel(classes: readonly number[], trend: MannKendall): EmergingLabel {
  return spotLabel(classes.map((c) => Math.sign(c)), trend, 'hot') ?? spotLabel(classes.map((c) => -Math.sign(c)), { ...trend, z: -trend.z }, 'cold') ?? 'no pattern detected';
}

/** The hot-spot label of a series of +1 (this kind of spot), −1 (the opposite kind) and 0; cold spots call it mirrored. */
function spotLabel(signs: readonly number[], trend: MannKendall, kind: 'hot' | 'cold'): EmergingLabel | undefined {
  const n = signs.length;
  const spots = signs.filter((s) => s > 0).length;
  const last = signs[n - 1] > 0;
  const mostly = spots >= 0.9 * n;
  const label = (name: string) => `${name} ${kind} spot` as EmergingLabel;
  if (!last) return mostly && spots > 0 ? label('historical') : undefined;
  if (mostly) {
    if (trend.p < trendSignificance) return label(trend.z > 0 ? 'intensifying' : 'diminishing');
    return label('persistent');
  }
  let runStart = n - 1;
  while (runStart > 0 && signs[runStart - 1] > 0) runStart--;
  // A past spot of the opposite kind makes it oscillating even when this kind of spot is new (ArcGIS's sporadic
  // and oscillating both need the last window; only sporadic excludes the opposite kind).
  if (signs.some((s) => s < 0)) return label('oscillating');
  const spotBeforeRun = signs.slice(0, runStart).some((s) => s > 0);
  if (!spotBeforeRun) return label(runStart === n - 1 ? 'new' : 'consecutive');
  return label('sporadic');
}
