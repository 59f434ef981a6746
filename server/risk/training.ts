import seedrandom from 'seedrandom';
import { type FeatureOptions, HistoryState, type UnitEvent, defaultFeatureOptions, walkWindows } from './features';
import { type PoissonModel, type TrainingRows, fitPoisson } from './model';
import type { UnitSet } from './units';
import { WINDOWS_PER_DAY } from './windows';

/** An accident placed in time (window) and space (unit key: H3 cell or road id; null = no unit). */
export interface PlacedEvent {
  window: number;
  key: string | null;
}

export interface ModelOptions {
  features: FeatureOptions;
  /** Ridge penalty per training accident on standardised coefficients. */
  ridge: number;
  /** Training targets are the windows of the last `targetDays` of the training span... */
  targetDays: number;
  /** ...but never the first `warmupDays`, whose features would rest on too little history. */
  warmupDays: number;
  /** Share of unit-windows without an accident kept for fitting (weighted back up); all with one are kept. */
  zeroSampleRate: number;
  seed: string;
}

export const defaultModelOptions: ModelOptions = {
  features: defaultFeatureOptions,
  ridge: 0.001,
  targetDays: 730,
  warmupDays: 365,
  zeroSampleRate: 0.03,
  seed: 'citygrid-risk',
};

export interface TrainingSpan {
  from: number;
  to: number;
}

/** The windows whose accidents the model learns to predict (features from the windows before each). */
export function targetSpan(span: TrainingSpan, options: ModelOptions): TrainingSpan {
  const from = Math.max(span.from + options.warmupDays * WINDOWS_PER_DAY, span.to - options.targetDays * WINDOWS_PER_DAY);
  if (from >= span.to) throw new Error(`the training span needs more than ${options.warmupDays} days of history before its targets`);
  return { from, to: span.to };
}

/** Unit indexes of events (sorted by window) for a unit set; events in no unit keep −1. */
export function indexEvents(events: PlacedEvent[], units: UnitSet): UnitEvent[] {
  const indexOf = new Map(units.keys.map((key, index) => [key, index]));
  return events.map((event) => ({ window: event.window, unit: event.key === null ? -1 : (indexOf.get(event.key) ?? -1) }));
}

/**
 * Fits the model on the training span: every unit × target window is a row (zero rows subsampled), its features
 * from the history before that window, its count the accidents in it. `events` sorted by window; only those
 * inside the span are used.
 */
export function trainModel(events: PlacedEvent[], units: UnitSet, span: TrainingSpan, options: ModelOptions): PoissonModel {
  const targets = targetSpan(span, options);
  const inSpan = indexEvents(events.filter((event) => event.window >= span.from && event.window < span.to), units);
  const state = new HistoryState(units, options.features, span.from);
  const columns = state.names.length;
  const unitCount = units.keys.length;
  const random = seedrandom(options.seed);
  const rows = new RowBuffer(columns);
  const features = new Float64Array(unitCount * columns);
  const counts = new Float64Array(unitCount);
  let cursor = 0;
  walkWindows(inSpan, state, targets.from, targets.to, (window) => {
    for (; cursor < inSpan.length && inSpan[cursor].window < window; cursor++);
    counts.fill(0);
    for (let next = cursor; next < inSpan.length && inSpan[next].window === window; next++) if (inSpan[next].unit >= 0) counts[inSpan[next].unit]++;
    state.features(features);
    for (let unit = 0; unit < unitCount; unit++) {
      if (counts[unit] > 0) rows.push(features, unit, counts[unit], 1);
      else if (random() < options.zeroSampleRate) rows.push(features, unit, 0, 1 / options.zeroSampleRate);
    }
  });
  return fitPoisson(state.names, rows.done(), options.ridge);
}

class RowBuffer {
  private features = new Float64Array(0);
  private counts = new Float64Array(0);
  private weights = new Float64Array(0);
  private rows = 0;

  constructor(private readonly columns: number) {}

  push(source: Float64Array, unit: number, count: number, weight: number): void {
    if (this.rows === this.counts.length) this.grow();
    this.features.set(source.subarray(unit * this.columns, (unit + 1) * this.columns), this.rows * this.columns);
    this.counts[this.rows] = count;
    this.weights[this.rows] = weight;
    this.rows++;
  }

  private grow(): void {
    const capacity = Math.max(1024, this.counts.length * 2);
    const grown = (array: Float64Array, size: number) => {
      const larger = new Float64Array(size);
      larger.set(array);
      return larger;
    };
    this.features = grown(this.features, capacity * this.columns);
    this.counts = grown(this.counts, capacity);
    this.weights = grown(this.weights, capacity);
  }

  done(): TrainingRows {
    return { features: this.features, counts: this.counts, weights: this.weights, rows: this.rows };
  }
}
