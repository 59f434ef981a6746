import { CholeskyDecomposition, Matrix } from 'ml-matrix';

/**
 * A Poisson regression with a log link, fitted by iteratively reweighted least squares with a ridge penalty:
 * expected accidents of a unit in a window = exp(intercept + Σ coefficient × standardised feature).
 *
 * Why this model: accident counts per unit and 2-hour window are small counts, for which the Poisson
 * likelihood is the natural one; the log link turns the multiplicative story (a unit's long-run rate × its
 * time-of-day profile × the city's level at that hour) into a sum, so the historical-average ranking is one
 * special case of the model and the fit can only move away from it where the training data say so; the ridge
 * penalty keeps weights stable where features are correlated (long-run, decayed and 365-day counts), and the
 * output is an expected count, so it can be checked for calibration, which a pure ranker cannot.
 */
export interface PoissonModel {
  names: string[];
  /** Standardisation of each feature (training rows). */
  means: number[];
  scales: number[];
  /**
   * Range of each feature in the training rows. Predictions clamp to it: a log-linear model extrapolated far out
   * (months without any accident in the database make city-level features fall below anything seen) would
   * predict absurd counts instead of the edge of what it learned.
   */
  lows: number[];
  highs: number[];
  intercept: number;
  coefficients: number[];
  ridge: number;
  iterations: number;
}

export interface TrainingRows {
  /** Row-major rows × names.length. */
  features: Float64Array;
  counts: Float64Array;
  /** Case weight of each row (1 / sampling rate: zero rows are subsampled). */
  weights: Float64Array;
  rows: number;
}

/** Fits the model; `ridge` is the penalty per training accident on standardised coefficients. */
export function fitPoisson(names: string[], data: TrainingRows, ridge: number, maxIterations = 30): PoissonModel {
  const columns = names.length;
  const { means, scales, lows, highs } = standardisation(data, columns);
  const size = columns + 1;
  const design = (row: number, column: number): number =>
    column === 0 ? 1 : (data.features[row * columns + column - 1] - means[column - 1]) / scales[column - 1];
  let weightedCount = 0;
  let weightSum = 0;
  for (let row = 0; row < data.rows; row++) {
    weightedCount += data.weights[row] * data.counts[row];
    weightSum += data.weights[row];
  }
  if (!weightedCount) throw new Error('no accident in the training windows');
  let beta = new Array<number>(size).fill(0);
  beta[0] = Math.log(weightedCount / weightSum);
  const penalty = ridge * weightedCount;
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const normal = new Float64Array(size * size);
    const right = new Float64Array(size);
    const x = new Float64Array(size);
    for (let row = 0; row < data.rows; row++) {
      let eta = 0;
      for (let column = 0; column < size; column++) {
        x[column] = design(row, column);
        eta += x[column] * beta[column];
      }
      const mu = Math.exp(eta);
      const weight = data.weights[row] * mu;
      const working = eta + (data.counts[row] - mu) / mu;
      for (let i = 0; i < size; i++) {
        const wx = weight * x[i];
        right[i] += wx * working;
        for (let j = 0; j <= i; j++) normal[i * size + j] += wx * x[j];
      }
    }
    const matrix = new Matrix(size, size);
    for (let i = 0; i < size; i++) {
      for (let j = 0; j <= i; j++) {
        matrix.set(i, j, normal[i * size + j]);
        matrix.set(j, i, normal[i * size + j]);
      }
      if (i > 0) matrix.set(i, i, matrix.get(i, i) + penalty);
    }
    const next = new CholeskyDecomposition(matrix).solve(Matrix.columnVector(Array.from(right))).getColumn(0);
    const change = Math.max(...next.map((value, index) => Math.abs(value - beta[index])));
    beta = next;
    if (change < 1e-6) break;
  }
  return { names, means, scales, lows, highs, intercept: beta[0], coefficients: beta.slice(1), ridge, iterations: iterations + 1 };
}

function standardisation(data: TrainingRows, columns: number): Pick<PoissonModel, 'means' | 'scales' | 'lows' | 'highs'> {
  const means = new Array<number>(columns).fill(0);
  const squares = new Array<number>(columns).fill(0);
  const lows = new Array<number>(columns).fill(Infinity);
  const highs = new Array<number>(columns).fill(-Infinity);
  for (let row = 0; row < data.rows; row++) {
    for (let column = 0; column < columns; column++) {
      const value = data.features[row * columns + column];
      means[column] += value;
      squares[column] += value * value;
      lows[column] = Math.min(lows[column], value);
      highs[column] = Math.max(highs[column], value);
    }
  }
  const scales = means.map((total, column) => {
    const mean = total / data.rows;
    const variance = squares[column] / data.rows - mean * mean;
    return variance > 1e-12 ? Math.sqrt(variance) : 1;
  });
  return { means: means.map((total) => total / data.rows), scales, lows, highs };
}

/** Linear predictor (log expected count) of every unit; features are row-major units × names. */
export function predictLog(model: PoissonModel, features: Float64Array, out: Float64Array): void {
  const columns = model.names.length;
  const weights = model.coefficients.map((coefficient, column) => coefficient / model.scales[column]);
  const offset = model.intercept - weights.reduce((total, weight, column) => total + weight * model.means[column], 0);
  for (let unit = 0; unit < out.length; unit++) {
    let eta = offset;
    const base = unit * columns;
    for (let column = 0; column < columns; column++) eta += weights[column] * Math.min(model.highs[column], Math.max(model.lows[column], features[base + column]));
    out[unit] = eta;
  }
}

export interface Contribution {
  feature: string;
  /** Factor by which this feature raises the unit's expected count above a unit with the window's mean value. */
  factor: number;
}

/**
 * The features that raise a unit's risk most, compared with the average unit of the same window (so city-level
 * features, equal for every unit, never show up).
 */
export function topContributions(model: PoissonModel, features: Float64Array, windowMeans: number[], unit: number, count: number): Contribution[] {
  const columns = model.names.length;
  return model.names
    .map((feature, column) => ({
      feature,
      log: (model.coefficients[column] / model.scales[column]) * (features[unit * columns + column] - windowMeans[column]),
    }))
    .filter((item) => item.log > 1e-6)
    .sort((a, b) => b.log - a.log)
    .slice(0, count)
    .map((item) => ({ feature: item.feature, factor: Math.exp(item.log) }));
}

/** Mean of each feature over the units of one window. */
export function featureMeans(features: Float64Array, columns: number): number[] {
  const means = new Array<number>(columns).fill(0);
  const units = features.length / columns;
  for (let unit = 0; unit < units; unit++) for (let column = 0; column < columns; column++) means[column] += features[unit * columns + column];
  return means.map((total) => total / units);
}
