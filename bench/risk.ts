// npm run bench:risk: the accident-risk evaluation on the real Hong Kong accidents (train 2014–2017, test 2018,
// H3 res 8), timed against the 2-minute goal, with the model's ratios to the historical average.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runEvaluation } from '../server/risk/evaluation-run';

const file = path.resolve(__dirname, '../../shared/data/hk-accidents/hk_accidents_2014_2018.csv.gz');
const goalSeconds = 120;
// The acceptance: ratio to HA_total ≥ 1.01 on hit@5 % (lower 90 % bound > 1), ≥ 1.00 on the others.
const goalRatios = { 'hit@5%': 1.01, recallAtK: 1, 'hit@1%': 1, 'hit@10%': 1 } as const;

if (!existsSync(file)) {
  console.log(`bench:risk skipped: ${file} is not there`);
  process.exit(0);
}
const load = os.loadavg()[0].toFixed(1);
const run = runEvaluation([
  '--input', file, '--time-col', 'Date_Time', '--lat-col', 'latitude', '--lon-col', 'longitude', '--tz', '+08:00', '--res', '8',
  '--train-from', '2014-01-01', '--train-to', '2018-01-01', '--test-from', '2018-01-01', '--test-to', '2019-01-01',
])!;
const model = run.results[0];
console.log(`load average before: ${load}; ${run.input.rows} rows, ${run.input.withoutCoordinates} without coordinates`);
console.log('| measure | seen | goal | ratio to goal / verdict |');
console.log('|---|---|---|---|');
console.log(`| wall time of the evaluation | ${run.input.seconds.toFixed(1)} s | < ${goalSeconds} s | ${(run.input.seconds / goalSeconds).toFixed(2)} of the budget |`);
for (const [metric, goal] of Object.entries(goalRatios)) {
  const { ratio, ci90 } = model.ratioToHA_total[metric as keyof typeof goalRatios];
  const met = ratio >= goal && (metric !== 'hit@5%' || ci90[0] > 1);
  console.log(`| ${metric} model / HA_total | ${ratio.toFixed(4)} [${ci90.map((bound) => bound.toFixed(4)).join(', ')}] | ≥ ${goal}${metric === 'hit@5%' ? ', lower bound > 1' : ''} | ${met ? 'met' : 'not met'} |`);
}
const calibration = model.calibration!;
console.log(`| predicted / observed accidents | ${calibration.predicted.toFixed(0)} / ${calibration.observed} = ${calibration.ratio.toFixed(3)} | within ±10 % | ${Math.abs(calibration.ratio - 1) <= 0.1 ? 'met' : 'not met'} |`);
