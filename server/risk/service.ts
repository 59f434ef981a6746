import { cellPolygon } from '../geo/h3';
import { tryTransactionLock } from '../db/advisory-lock';
import { type Pool, type Queryable, withTransaction } from '../db/pool';
import type { Clock } from '../deps';
import { publishChange } from '../events/bus';
import type { Logger } from '../logger';
import { evaluate } from './evaluate';
import { HistoryState, walkWindows } from './features';
import { featureLabels } from './labels';
import { featureMeans, predictLog, topContributions } from './model';
import { CELL_RESOLUTION, type ModelArtefact, type PredictionRows, latestModel, loadHistory, replacePredictions, saveModel } from './store';
import { type ModelOptions, defaultModelOptions, indexEvents, trainModel } from './training';
import { WINDOWS_PER_DAY, dayOf, parseUtcOffset, windowOf, windowStartMs } from './windows';

/** Suzhou and Hong Kong: China Standard Time. Windows start at local midnight of this offset. */
export const DEFAULT_UTC_OFFSET = '+08:00';
export const PREDICTED_WINDOWS = 6;
const HOLDOUT_BOOTSTRAP = 500;

/** The options for a span of `days`: a year of warm-up where the data have it, a third of the span otherwise. */
function optionsForSpan(days: number): ModelOptions {
  const warmupDays = Math.max(1, Math.min(defaultModelOptions.warmupDays, Math.floor(days / 3)));
  return { ...defaultModelOptions, warmupDays, targetDays: Math.min(defaultModelOptions.targetDays, days - warmupDays) };
}

/**
 * `npm run risk:train`: fits the model on every accident in the database before clock(), evaluates the same
 * options on a hold-out (the last quarter of the data, at most a year, trained on what comes before it), and
 * stores both as the next model version.
 */
export async function trainFromDatabase(db: Queryable, clock: Clock, utcOffset = DEFAULT_UTC_OFFSET): Promise<ModelArtefact> {
  const offset = parseUtcOffset(utcOffset);
  if (offset === null) throw new Error(`"${utcOffset}" is not a UTC offset like +08:00`);
  const { units, events } = await loadHistory(db, offset, clock());
  if (!events.length) throw new Error('no accidents to train on');
  const from = dayOf(events[0].window) * WINDOWS_PER_DAY;
  const to = (dayOf(events[events.length - 1].window) + 1) * WINDOWS_PER_DAY;
  const days = (to - from) / WINDOWS_PER_DAY;
  if (days < 28) throw new Error(`the accidents cover ${days} days; the model needs at least 28`);
  const holdoutDays = Math.min(365, Math.floor(days / 4));
  const holdoutFrom = to - holdoutDays * WINDOWS_PER_DAY;
  const results = evaluate(events, {
    span: { trainFrom: from, trainTo: holdoutFrom, testFrom: holdoutFrom, testTo: to },
    options: optionsForSpan(days - holdoutDays),
    unitsOf: () => units,
    bootstrapResamples: HOLDOUT_BOOTSTRAP,
  });
  const options = optionsForSpan(days);
  const model = trainModel(events, units, { from, to }, options);
  const iso = (window: number) => new Date(windowStartMs(window, offset)).toISOString();
  const artefact = {
    unitKind: units.kind,
    h3Resolution: units.kind === 'h3' ? CELL_RESOLUTION : null,
    utcOffsetMinutes: offset,
    trainedFrom: iso(from),
    trainedTo: iso(to),
    parameters: { model, options },
    evaluation: { holdout: { from: iso(holdoutFrom), to: iso(to) }, results: results.map(({ model: _fitted, ...result }) => result) },
  };
  const version = await saveModel(db, artefact);
  return { ...artefact, version, createdAt: clock().toISOString() };
}

export interface PredictionIssue {
  modelVersion: number;
  issuedAt: string;
  windows: string[];
  units: number;
}

// One prediction run per cluster at a time: whoever holds this transaction-level advisory lock writes.
const predictionLockKey = 4_242_160;
const topFeatureCount = 3;

/**
 * Predicts the window containing clock() and the 5 after it for every unit, from the accidents before the
 * current window's start, with the latest model; replaces those windows in risk_predictions and announces them
 * (tiles drop the risk layer, the risk stream tells its listeners), all in one transaction. Null when no model
 * is trained yet or another process is writing the same predictions.
 */
export async function issuePredictions(pool: Pool, clock: Clock): Promise<PredictionIssue | null> {
  const artefact = await latestModel(pool);
  if (!artefact) return null;
  const now = clock();
  const offset = artefact.utcOffsetMinutes;
  const first = windowOf(now.getTime(), offset);
  const { units, events } = await loadHistory(pool, offset, new Date(windowStartMs(first, offset)));
  const { model, options } = artefact.parameters;
  const historyStart = windowOf(Date.parse(artefact.trainedFrom), offset);
  const state = new HistoryState(units, options.features, historyStart);
  if (state.names.join() !== model.names.join()) throw new Error(`model ${artefact.version} was trained on other features; run npm run risk:train`);
  const features = new Float64Array(units.keys.length * model.names.length);
  const logRisk = new Float64Array(units.keys.length);
  const rows: PredictionRows = { windowStart: [], windowEnd: [], unitKey: [], cellGeometry: [], expected: [], level: [], rank: [], topFeatures: [] };
  const geometry = units.kind === 'h3' ? units.keys.map(cellGeoJson) : units.keys.map(() => null);
  walkWindows(indexEvents(events, units), state, first, first + PREDICTED_WINDOWS, (window) => {
    state.features(features);
    predictLog(model, features, logRisk);
    const means = featureMeans(features, model.names.length);
    const order = Array.from(logRisk.keys()).sort((a, b) => logRisk[b] - logRisk[a] || a - b);
    order.forEach((unit, index) => {
      rows.windowStart.push(new Date(windowStartMs(window, offset)));
      rows.windowEnd.push(new Date(windowStartMs(window + 1, offset)));
      rows.unitKey.push(units.keys[unit]);
      rows.cellGeometry.push(geometry[unit]);
      rows.expected.push(Math.exp(logRisk[unit]));
      rows.level.push(riskLevel(index, order.length));
      rows.rank.push(index + 1);
      const top = topContributions(model, features, means, unit, topFeatureCount).map((item) => ({ ...item, label: featureLabels[item.feature] ?? item.feature }));
      rows.topFeatures.push(JSON.stringify(top));
    });
  });
  const windows = Array.from({ length: PREDICTED_WINDOWS }, (_, index) => new Date(windowStartMs(first + index, offset)).toISOString());
  const issue: PredictionIssue = { modelVersion: artefact.version, issuedAt: now.toISOString(), windows, units: units.keys.length };
  const written = await withTransaction(pool, async (client) => {
    if (!(await tryTransactionLock(client, predictionLockKey))) return false;
    await replacePredictions(client, artefact.version, now, rows, new Date(windows[0]));
    await publishChange(client, { kind: 'risk-predicted', ...issue });
    return true;
  });
  return written ? issue : null;
}

/** Risk level 1–4 by the unit's rank in its window: top 5 % → 4, next 15 % → 3, next 30 % → 2, the rest → 1. */
export function riskLevel(index: number, count: number): number {
  const share = (index + 1) / count;
  if (share <= 0.05) return 4;
  if (share <= 0.2) return 3;
  if (share <= 0.5) return 2;
  return 1;
}

function cellGeoJson(cell: string): string {
  return JSON.stringify(cellPolygon(cell));
}

/**
 * Issues predictions now and then at the start of every 2-hour window (a few seconds after, so the window's
 * first accidents are not missed by a clock skew), once a model is stored: training takes minutes of CPU and is
 * left to `npm run risk:train` (npm start runs it in a child process when no model exists), so a server never
 * stalls on it. A failed round is reported and tried again at the next window.
 */
export function startRiskScheduler(pool: Pool, clock: Clock, log: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const round = async () => {
    const issue = await issuePredictions(pool, clock);
    if (issue) log.info({ modelVersion: issue.modelVersion, firstWindow: issue.windows[0], units: issue.units }, 'risk predictions issued');
  };
  const schedule = () => {
    if (stopped) return;
    const offset = parseUtcOffset(DEFAULT_UTC_OFFSET)!;
    const next = windowStartMs(windowOf(clock().getTime(), offset) + 1, offset) + 5_000;
    timer = setTimeout(run, Math.max(1_000, next - clock().getTime()));
    timer.unref();
  };
  const run = () => {
    round()
      .catch((error: unknown) => log.warn({ err: error }, 'risk prediction round failed'))
      .finally(schedule);
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
