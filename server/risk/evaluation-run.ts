import { parseArgs } from 'node:util';
import { type AccidentColumns, RiskInputError, parseLocalTime, readAccidentCsv } from './csv-input';
import { type MethodResult, evaluate } from './evaluate';
import { type ModelOptions, type PlacedEvent, defaultModelOptions } from './training';
import { cellAt } from '../geo/h3';
import { MAX_H3_RESOLUTION, MIN_H3_RESOLUTION, h3Units } from './units';
import { parseUtcOffset, windowOf, windowStartMs } from './windows';

export const evaluateUsage = `usage: npm run risk:evaluate -- --input <file.csv[.gz]> [--input more ...]
  --train-from DATE --train-to DATE --test-from DATE --test-to DATE   spans, [from, to), local dates or ISO times
  --time-col NAME   column of the accident time, ISO (default Date_Time)
  --lat-col NAME    latitude column, WGS84 (default latitude)
  --lon-col NAME    longitude column, WGS84 (default longitude)
  --tz ±HH:MM       UTC offset of times written without one; windows start at local midnight (default +00:00)
  --res N           H3 resolution of the units, ${MIN_H3_RESOLUTION}–${MAX_H3_RESOLUTION} (default 8)
  --decay-days N    time constant of the decayed count (default ${defaultModelOptions.features.decayDays})
  --ridge X         ridge penalty per training accident (default ${defaultModelOptions.ridge})
  --bootstrap N     bootstrap resamples over test days for the 90 % intervals (default 2000)
  --seed TEXT       seed of the row sampling and the bootstrap (default ${defaultModelOptions.seed})
Prints one JSON line per method: model, HA_total, HA_slot, ceiling. Input summary on stderr.`;

export interface EvaluationRun {
  input: { files: string[]; rows: number; withoutCoordinates: number; placed: number; seconds: number };
  results: MethodResult[];
}

const options = {
  input: { type: 'string', multiple: true },
  'time-col': { type: 'string', default: 'Date_Time' },
  'lat-col': { type: 'string', default: 'latitude' },
  'lon-col': { type: 'string', default: 'longitude' },
  tz: { type: 'string', default: '+00:00' },
  res: { type: 'string', default: '8' },
  'train-from': { type: 'string' },
  'train-to': { type: 'string' },
  'test-from': { type: 'string' },
  'test-to': { type: 'string' },
  'decay-days': { type: 'string' },
  ridge: { type: 'string' },
  bootstrap: { type: 'string', default: '2000' },
  seed: { type: 'string', default: defaultModelOptions.seed },
  help: { type: 'boolean', default: false },
} as const;

export function runEvaluation(argv: string[]): EvaluationRun | null {
  const started = performance.now();
  let values;
  try {
    values = parseArgs({ args: argv, options, allowPositionals: false }).values;
  } catch (error) {
    throw new RiskInputError((error as Error).message);
  }
  if (values.help) return null;
  if (!values.input?.length) throw new RiskInputError('--input is required (a CSV or CSV.gz file of accidents)');
  const offset = parseUtcOffset(values.tz);
  if (offset === null) throw new RiskInputError(`--tz "${values.tz}" is not a UTC offset like +08:00`);
  const resolution = integer('--res', values.res);
  if (resolution < MIN_H3_RESOLUTION || resolution > MAX_H3_RESOLUTION) {
    throw new RiskInputError(`--res ${resolution} is outside ${MIN_H3_RESOLUTION}–${MAX_H3_RESOLUTION}`);
  }
  const span = {
    trainFrom: windowOf(date('--train-from', values['train-from'], offset), offset),
    trainTo: windowOf(date('--train-to', values['train-to'], offset), offset),
    testFrom: windowOf(date('--test-from', values['test-from'], offset), offset),
    testTo: windowOf(date('--test-to', values['test-to'], offset), offset),
  };
  if (span.trainTo <= span.trainFrom) throw new RiskInputError('--train-to must be after --train-from');
  if (span.testTo <= span.testFrom) throw new RiskInputError('--test-to must be after --test-from');
  if (span.testFrom < span.trainTo) throw new RiskInputError('the test span must start at or after --train-to (no evaluation on training data)');
  const modelOptions: ModelOptions = {
    ...defaultModelOptions,
    features: { ...defaultModelOptions.features, decayDays: positive('--decay-days', values['decay-days'], defaultModelOptions.features.decayDays) },
    ridge: positive('--ridge', values.ridge, defaultModelOptions.ridge, true),
    seed: values.seed,
  };

  const columns: AccidentColumns = { time: values['time-col'], lat: values['lat-col'], lon: values['lon-col'] };
  const events: PlacedEvent[] = [];
  let rows = 0;
  let withoutCoordinates = 0;
  for (const file of values.input) {
    const read = readAccidentCsv(file, columns, offset);
    rows += read.rows;
    withoutCoordinates += read.withoutCoordinates;
    for (const accident of read.accidents) events.push({ window: windowOf(accident.epochMs, offset), key: cellAt(accident.lon, accident.lat, resolution) });
  }
  events.sort((a, b) => a.window - b.window);
  const trainCount = events.filter((event) => event.window >= span.trainFrom && event.window < span.trainTo).length;
  if (!trainCount) throw new RiskInputError('the training span holds no accident with coordinates');
  const testCount = events.filter((event) => event.window >= span.testFrom && event.window < span.testTo).length;
  if (!testCount) throw new RiskInputError(`the test span holds no accident with coordinates (the data run from ${dataSpan(events, offset)})`);
  const results = evaluate(events, { span, options: modelOptions, unitsOf: h3Units, bootstrapResamples: integer('--bootstrap', values.bootstrap) });
  return {
    input: { files: values.input, rows, withoutCoordinates, placed: events.length, seconds: (performance.now() - started) / 1000 },
    results,
  };
}

function dataSpan(events: PlacedEvent[], offset: number): string {
  const day = (window: number) => new Date(windowStartMs(window, offset) + offset * 60_000).toISOString().slice(0, 10);
  return events.length ? `${day(events[0].window)} to ${day(events[events.length - 1].window)}` : 'nowhere: no row has coordinates';
}

function date(name: string, text: string | undefined, offset: number): number {
  if (!text) throw new RiskInputError(`${name} is required (a date like 2018-01-01)`);
  const value = parseLocalTime(text, offset);
  if (value === null) throw new RiskInputError(`${name} "${text}" is not an ISO date or date-time`);
  return value;
}

function integer(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new RiskInputError(`${name} "${text}" is not a whole number`);
  return value;
}

function positive(name: string, text: string | undefined, fallback: number, zeroAllowed = false): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) throw new RiskInputError(`${name} "${text}" must be a ${zeroAllowed ? 'non-negative' : 'positive'} number`);
  return value;
}
