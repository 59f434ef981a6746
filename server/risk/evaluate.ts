import seedrandom from 'seedrandom';
import { HistoryState, walkWindows } from './features';
import { HIT_SHARES, type DayTotals, type RatioInterval, emptyDay, pairedBootstrap, scoreWindow, summarise } from './metrics';
import { type PoissonModel, predictLog } from './model';
import { type ModelOptions, type PlacedEvent, indexEvents, targetSpan, trainModel } from './training';
import type { UnitSet } from './units';
import { SLOTS_PER_DAY, dayOf, slotOfDay } from './windows';

export interface EvaluationSpan {
  trainFrom: number;
  trainTo: number;
  testFrom: number;
  testTo: number;
}

export interface EvaluationSetup {
  span: EvaluationSpan;
  options: ModelOptions;
  /** Builds the unit set of a list of keys (H3 cells with their rings, or road segments). */
  unitsOf: (keys: string[]) => UnitSet;
  bootstrapResamples: number;
}

export type MethodName = 'model' | 'HA_total' | 'HA_slot' | 'ceiling';

export interface MethodResult {
  method: MethodName;
  units: number;
  windows: number;
  testAccidents: number;
  recallAtK: number;
  'hit@1%': number;
  'hit@5%': number;
  'hit@10%': number;
  'PAI@1%': number;
  'PAI@5%': number;
  'PAI@10%': number;
  ratioToHA_total: Record<'recallAtK' | 'hit@1%' | 'hit@5%' | 'hit@10%', RatioInterval>;
  calibration?: Calibration;
  model?: PoissonModel;
}

export interface Calibration {
  predicted: number;
  /** Observed test accidents in the units (what the model predicts)... */
  observed: number;
  /** ...and outside every unit (places with no accident in the training span). */
  observedOutsideUnits: number;
  ratio: number;
  deciles: { decile: number; unitWindows: number; predicted: number; observed: number; ratio: number }[];
}

const hitLabels = HIT_SHARES.map((share) => `${Math.round(share * 100)}%`);

/** Keys of the units that had an accident in [from, to). */
export function unitKeysWithAccidents(events: PlacedEvent[], from: number, to: number): string[] {
  const keys = new Set<string>();
  for (const event of events) if (event.key !== null && event.window >= from && event.window < to) keys.add(event.key);
  return [...keys].sort();
}

/**
 * Trains on the training span, then scores every 2-hour window of the test span with history up to its start
 * (test accidents enter the history once their window has passed, as in live use), next to three references:
 * HA_total (train count per unit), HA_slot (train count per unit in the window's time of day) and the ceiling
 * (the test span's own counts: the best any static ranking could do). Units: those with an accident in the
 * training span. `events` sorted by window.
 */
export function evaluate(events: PlacedEvent[], setup: EvaluationSetup): MethodResult[] {
  const { span, options } = setup;
  const trainingUnits = setup.unitsOf(unitKeysWithAccidents(events, span.trainFrom, targetSpan({ from: span.trainFrom, to: span.trainTo }, options).from));
  const model = trainModel(events, trainingUnits, { from: span.trainFrom, to: span.trainTo }, options);

  const units = setup.unitsOf(unitKeysWithAccidents(events, span.trainFrom, span.trainTo));
  const unitCount = units.keys.length;
  const indexed = indexEvents(events.filter((event) => event.window >= span.trainFrom && event.window < span.testTo), units);
  const haTotal = new Float64Array(unitCount);
  const haSlot = Array.from({ length: SLOTS_PER_DAY }, () => new Float64Array(unitCount));
  const ceiling = new Float64Array(unitCount);
  for (const event of indexed) {
    if (event.unit < 0) continue;
    if (event.window < span.trainTo) {
      haTotal[event.unit]++;
      haSlot[slotOfDay(event.window)][event.unit]++;
    } else if (event.window >= span.testFrom) ceiling[event.unit]++;
  }

  const firstDay = dayOf(span.testFrom);
  const dayCount = dayOf(span.testTo - 1) - firstDay + 1;
  const days: Record<MethodName, DayTotals[]> = {
    model: Array.from({ length: dayCount }, emptyDay),
    HA_total: Array.from({ length: dayCount }, emptyDay),
    HA_slot: Array.from({ length: dayCount }, emptyDay),
    ceiling: Array.from({ length: dayCount }, emptyDay),
  };
  const calibration = new CalibrationBins();
  const state = new HistoryState(units, options.features, span.trainFrom);
  const features = new Float64Array(unitCount * state.names.length);
  const logRisk = new Float64Array(unitCount);
  const observed = new Float64Array(unitCount);
  let cursor = 0;
  let windows = 0;
  walkWindows(indexed, state, span.testFrom, span.testTo, (window) => {
    windows++;
    for (; cursor < indexed.length && indexed[cursor].window < window; cursor++);
    const accidentUnits: number[] = [];
    for (let next = cursor; next < indexed.length && indexed[next].window === window; next++) accidentUnits.push(indexed[next].unit);
    state.features(features);
    predictLog(model, features, logRisk);
    observed.fill(0);
    for (const unit of accidentUnits) if (unit >= 0) observed[unit]++;
    calibration.add(logRisk, observed, accidentUnits.length - accidentUnits.filter((unit) => unit >= 0).length);
    const day = dayOf(window) - firstDay;
    scoreWindow(logRisk, accidentUnits, days.model[day]);
    scoreWindow(haTotal, accidentUnits, days.HA_total[day]);
    scoreWindow(haSlot[slotOfDay(window)], accidentUnits, days.HA_slot[day]);
    scoreWindow(ceiling, accidentUnits, days.ceiling[day]);
  });

  const random = seedrandom(`${options.seed}-bootstrap`);
  return (Object.keys(days) as MethodName[]).map((method) => {
    const summary = summarise(days[method]);
    const ratios = pairedBootstrap(days[method], days.HA_total, setup.bootstrapResamples, random);
    const result: MethodResult = {
      method,
      units: unitCount,
      windows,
      testAccidents: days[method].reduce((total, day) => total + day.accidents, 0),
      recallAtK: summary.recallAtK,
      'hit@1%': summary.hits[0],
      'hit@5%': summary.hits[1],
      'hit@10%': summary.hits[2],
      'PAI@1%': summary.hits[0] / HIT_SHARES[0],
      'PAI@5%': summary.hits[1] / HIT_SHARES[1],
      'PAI@10%': summary.hits[2] / HIT_SHARES[2],
      ratioToHA_total: {
        recallAtK: ratios.recallAtK,
        ...(Object.fromEntries(hitLabels.map((label, index) => [`hit@${label}`, ratios.hits[index]])) as Record<'hit@1%' | 'hit@5%' | 'hit@10%', RatioInterval>),
      },
    };
    if (method === 'model') Object.assign(result, { calibration: calibration.summary(), model });
    return result;
  });
}

/**
 * Predicted against observed accidents per unit-window, binned finely by log predicted risk so that deciles
 * (of unit-windows, by predicted risk) can be formed without keeping millions of predictions.
 */
class CalibrationBins {
  private static readonly low = Math.log(1e-9);
  private static readonly high = Math.log(100);
  private static readonly bins = 8192;
  private readonly count = new Float64Array(CalibrationBins.bins);
  private readonly predicted = new Float64Array(CalibrationBins.bins);
  private readonly observed = new Float64Array(CalibrationBins.bins);
  private outside = 0;

  add(logRisk: Float64Array, observed: Float64Array, outsideUnits: number): void {
    const { low, high, bins } = CalibrationBins;
    const scale = bins / (high - low);
    this.outside += outsideUnits;
    for (let unit = 0; unit < logRisk.length; unit++) {
      const bin = Math.min(bins - 1, Math.max(0, Math.floor((logRisk[unit] - low) * scale)));
      this.count[bin]++;
      this.predicted[bin] += Math.exp(logRisk[unit]);
      this.observed[bin] += observed[unit];
    }
  }

  summary(): Calibration {
    const total = this.count.reduce((sum, value) => sum + value, 0);
    const deciles: Calibration['deciles'] = [];
    let current = { unitWindows: 0, predicted: 0, observed: 0 };
    let counted = 0;
    for (let bin = 0; bin < CalibrationBins.bins; bin++) {
      current.unitWindows += this.count[bin];
      current.predicted += this.predicted[bin];
      current.observed += this.observed[bin];
      counted += this.count[bin];
      // A decile closes at the first bin that reaches its share of unit-windows (bins are 0.003 log units wide).
      if (counted >= (total * (deciles.length + 1)) / 10 && current.unitWindows > 0) {
        deciles.push({ decile: deciles.length + 1, ...current, ratio: current.observed ? current.predicted / current.observed : Number.NaN });
        current = { unitWindows: 0, predicted: 0, observed: 0 };
      }
    }
    const predicted = this.predicted.reduce((sum, value) => sum + value, 0);
    const observed = this.observed.reduce((sum, value) => sum + value, 0);
    return { predicted, observed, observedOutsideUnits: this.outside, ratio: predicted / observed, deciles };
  }
}
