/**
 * Ranking metrics of the evaluation, accumulated per test day so that confidence intervals can resample days.
 * Ties are broken at random in expectation: a unit that shares its score with e others and has g units above
 * it is in the top M with probability clamp((M − g) / (e + 1), 0, 1). So a ranking with many ties (the
 * historical average: many cells have the same count) is neither favoured nor penalised by an arbitrary order.
 */
export const HIT_SHARES = [0.01, 0.05, 0.1] as const;

export interface DayTotals {
  /** Test accidents of the day, also those outside every unit (they count as misses). */
  accidents: number;
  /** Accidents that fell into the top 1/5/10 % of units of their window (expected under random tie-breaks). */
  hits: number[];
  /** Windows of the day with an accident in some unit, and the sum of their recall at K. */
  windowsWithAccidents: number;
  recallSum: number;
}

export function emptyDay(): DayTotals {
  return { accidents: 0, hits: HIT_SHARES.map(() => 0), windowsWithAccidents: 0, recallSum: 0 };
}

/** Probability that `unit` is among the `top` highest scores, ties broken at random. */
export function topProbability(scores: ArrayLike<number>, unit: number, top: number): number {
  const score = scores[unit];
  let above = 0;
  let equal = 0;
  for (let other = 0; other < scores.length; other++) {
    const value = scores[other];
    if (value > score) above++;
    else if (value === score) equal++;
  }
  return Math.min(1, Math.max(0, (top - above) / equal));
}

/**
 * Scores one window: `accidentUnits` holds the unit of each accident of the window (−1 outside every unit).
 * recall at K (windows with an accident in some unit): K = distinct units with an accident; the share of them
 * among the top K units.
 */
export function scoreWindow(scores: ArrayLike<number>, accidentUnits: number[], day: DayTotals): void {
  if (!accidentUnits.length) return;
  const unitCount = scores.length;
  const perUnit = new Map<number, number>();
  for (const unit of accidentUnits) if (unit >= 0) perUnit.set(unit, (perUnit.get(unit) ?? 0) + 1);
  day.accidents += accidentUnits.length;
  if (!perUnit.size) return;
  let recalled = 0;
  for (const [unit, count] of perUnit) {
    HIT_SHARES.forEach((share, index) => (day.hits[index] += count * topProbability(scores, unit, share * unitCount)));
    recalled += topProbability(scores, unit, perUnit.size);
  }
  day.windowsWithAccidents++;
  day.recallSum += recalled / perUnit.size;
}

export interface MetricSummary {
  recallAtK: number;
  hits: number[];
}

export function summarise(days: DayTotals[]): MetricSummary {
  const accidents = sum(days, (day) => day.accidents);
  const windows = sum(days, (day) => day.windowsWithAccidents);
  return {
    recallAtK: windows ? sum(days, (day) => day.recallSum) / windows : 0,
    hits: HIT_SHARES.map((_, index) => (accidents ? sum(days, (day) => day.hits[index]) / accidents : 0)),
  };
}

function sum<T>(items: T[], value: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += value(item);
  return total;
}

export interface RatioInterval {
  ratio: number;
  ci90: [number, number];
}

/**
 * Ratio of a method to the baseline on each metric, with a 90 % percentile interval from a paired bootstrap
 * over test days: both methods are scored on the same resampled days. Seeded, so a run can be repeated.
 */
export function pairedBootstrap(method: DayTotals[], baseline: DayTotals[], resamples: number, random: () => number): { recallAtK: RatioInterval; hits: RatioInterval[] } {
  const dayCount = method.length;
  const metricsOf = (days: DayTotals[], picks: Int32Array | null): number[] => {
    let recall = 0;
    const hits = HIT_SHARES.map(() => 0);
    for (let index = 0; index < dayCount; index++) {
      const day = days[picks ? picks[index] : index];
      recall += day.recallSum;
      day.hits.forEach((value, hit) => (hits[hit] += value));
    }
    return [recall, ...hits];
  };
  const ratiosOf = (picks: Int32Array | null): number[] => {
    const ours = metricsOf(method, picks);
    const theirs = metricsOf(baseline, picks);
    return ours.map((value, index) => value / theirs[index]);
  };
  const point = ratiosOf(null);
  const samples: number[][] = point.map(() => []);
  const picks = new Int32Array(dayCount);
  for (let resample = 0; resample < resamples; resample++) {
    for (let index = 0; index < dayCount; index++) picks[index] = Math.floor(random() * dayCount);
    ratiosOf(picks).forEach((ratio, index) => samples[index].push(ratio));
  }
  const intervals = point.map((ratio, index): RatioInterval => {
    const sorted = samples[index].filter(Number.isFinite).sort((a, b) => a - b);
    return { ratio, ci90: [quantile(sorted, 0.05), quantile(sorted, 0.95)] };
  });
  return { recallAtK: intervals[0], hits: intervals.slice(1) };
}

function quantile(sorted: number[], share: number): number {
  if (!sorted.length) return Number.NaN;
  const position = share * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.min(sorted.length - 1, low + 1);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}
