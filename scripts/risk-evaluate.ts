// npm run risk:evaluate -- --input <csv[.gz]> --train-from … --test-to … (see --help)
import { RiskInputError } from '../server/risk/csv-input';
import { evaluateUsage, runEvaluation } from '../server/risk/evaluation-run';

try {
  const run = runEvaluation(process.argv.slice(2));
  if (!run) {
    console.log(evaluateUsage);
  } else {
    process.stderr.write(`${JSON.stringify({ input: run.input })}\n`);
    for (const result of run.results) console.log(JSON.stringify(result));
  }
} catch (error) {
  if (!(error instanceof RiskInputError)) throw error;
  console.error(`risk:evaluate: ${error.message}\n\n${evaluateUsage}`);
  process.exit(2);
}
