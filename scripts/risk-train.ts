// npm run risk:train [-- --tz +08:00]: fits the accident-risk model on the database's accidents, evaluates it on a
// hold-out, stores it as the next model version and issues predictions for the next 6 windows with it.
import { parseArgs } from 'node:util';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool } from '../server/db/pool';
import { systemClock } from '../server/deps';
import { DEFAULT_UTC_OFFSET, issuePredictions, trainFromDatabase } from '../server/risk/service';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { tz: { type: 'string', default: DEFAULT_UTC_OFFSET } } });
  const pool = createPool(await resolveDatabaseUrl(loadConfig()), 2);
  try {
    await migrate(pool);
    const started = performance.now();
    const artefact = await trainFromDatabase(pool, systemClock, values.tz);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`risk model version ${artefact.version} (${artefact.unitKind} units) trained on ${artefact.trainedFrom} … ${artefact.trainedTo} in ${seconds} s`);
    console.log(`hold-out ${artefact.evaluation.holdout.from} … ${artefact.evaluation.holdout.to}:`);
    for (const result of artefact.evaluation.results) console.log(JSON.stringify(result));
    const issue = await issuePredictions(pool, systemClock);
    if (issue) console.log(`predictions for ${issue.windows.length} windows from ${issue.windows[0]} written for ${issue.units} units`);
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
