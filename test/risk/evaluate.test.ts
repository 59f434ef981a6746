import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { RiskInputError } from '../../server/risk/csv-input';
import { runEvaluation } from '../../server/risk/evaluation-run';

const run = promisify(execFile);
const folder = mkdtempSync(path.join(tmpdir(), 'citygrid-risk-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** Ten places 2 km apart: in the training years place i has 10·(10 − i) accidents, in the test year i + 1. */
function series(): string[] {
  const lines = ['when,lat,lon,note'];
  const at = (year: number, dayOfYear: number, hour: number) =>
    new Date(Date.UTC(year, 0, 1 + dayOfYear, hour, 15)).toISOString().slice(0, 16);
  for (let place = 0; place < 10; place++) {
    const lat = (22.3 + place * 0.02).toFixed(5);
    for (let n = 0; n < 10 * (10 - place); n++) lines.push(`${at(2020 + (n % 2), (n * 37 + place * 11) % 360, (n * 5) % 24)},${lat},114.17,train`);
    for (let n = 0; n <= place; n++) lines.push(`${at(2022, (n * 53 + place * 7) % 360, (n * 7) % 24)},${lat},114.17,test`);
  }
  lines.push('2022-03-01T10:00,NA,NA,no coordinates', '2022-03-01T11:00,0,0,placed at 0 0');
  return lines;
}

const spans = ['--train-from', '2020-01-01', '--train-to', '2022-01-01', '--test-from', '2022-01-01', '--test-to', '2023-01-01'];
const columns = ['--time-col', 'when', '--lat-col', 'lat', '--lon-col', 'lon', '--tz', '+08:00', '--res', '8', '--bootstrap', '50'];

function writeFile(name: string, lines: string[], gzip = false): string {
  const file = path.join(folder, name);
  const text = `${lines.join('\n')}\n`;
  writeFileSync(file, gzip ? gzipSync(text) : text);
  return file;
}

describe('risk:evaluate', () => {
  const file = writeFile('series.csv.gz', series(), true);

  test('prints model, HA_total, HA_slot and ceiling; the ceiling ranks the test counts', () => {
    const result = runEvaluation(['--input', file, ...columns, ...spans])!;
    expect(result.results.map((line) => line.method)).toEqual(['model', 'HA_total', 'HA_slot', 'ceiling']);
    expect(result.input).toMatchObject({ rows: 550 + 55 + 2, withoutCoordinates: 2, placed: 550 + 55 });
    const ceiling = result.results[3];
    // Ten units; the top 10 % is the place with 10 test accidents, of 55; top 5 % and 1 % are half and a tenth of it.
    expect(ceiling['hit@10%']).toBeCloseTo(10 / 55, 10);
    expect(ceiling['hit@5%']).toBeCloseTo(0.5 * (10 / 55), 10);
    expect(ceiling['hit@1%']).toBeCloseTo(0.1 * (10 / 55), 10);
    expect(ceiling['PAI@10%']).toBeCloseTo(10 / 55 / 0.1, 10);
    // The training counts run the other way: the historical average puts the place with 1 test accident first.
    expect(result.results[1]['hit@10%']).toBeCloseTo(1 / 55, 10);
    expect(ceiling.ratioToHA_total['hit@10%'].ratio).toBeCloseTo(10, 10);
    const model = result.results[0];
    expect(model.calibration!.observed).toBe(55);
    expect(model.calibration!.deciles).toHaveLength(10);
    expect(model.calibration!.deciles.reduce((sum, decile) => sum + decile.observed, 0)).toBe(55);
  });

  test.each([
    [['--time-col', 'time'], /no column "time"/],
    [['--res', '11'], /--res 11 is outside 6–10/],
    [['--res', '5'], /--res 5 is outside 6–10/],
    [['--tz', 'Asia/Hong_Kong'], /--tz "Asia\/Hong_Kong" is not a UTC offset/],
    [['--test-from', '2019-01-01', '--test-to', '2020-01-01'], /test span must start at or after --train-to/],
    [['--train-from', '2010-01-01', '--train-to', '2011-01-01'], /training span holds no accident/],
    [['--test-from', '2030-01-01', '--test-to', '2031-01-01'], /test span holds no accident .*2020-01-01 to 2022-/],
    [['--train-to', 'soon'], /--train-to "soon" is not an ISO date/],
    [['--colour', 'red'], /Unknown option '--colour'/],
  ])('bad input %j is refused with a clear message', (change, message) => {
    const args = ['--input', file, ...columns, ...spans];
    for (let index = 0; index < change.length; index += 2) {
      const at = args.indexOf(change[index]);
      if (at >= 0) args[at + 1] = change[index + 1];
      else args.push(change[index], change[index + 1]);
    }
    expect(() => runEvaluation(args)).toThrow(RiskInputError);
    expect(() => runEvaluation(args)).toThrow(message);
  });

  test('an unparseable time names its row and column', () => {
    const lines = series();
    lines.splice(7, 0, '2021-02-30T10:00,22.3,114.17,bad day');
    const bad = writeFile('bad-time.csv', lines);
    expect(() => runEvaluation(['--input', bad, ...columns, ...spans])).toThrow(/bad-time\.csv: row 8, column "when": "2021-02-30T10:00" is not an ISO date-time/);
  });

  test('the command exits non-zero with the message and the usage', async () => {
    const failure = await run('npx', ['tsx', 'scripts/risk-evaluate.ts', '--input', file, ...columns, ...spans, '--res', '12'], { cwd: path.join(__dirname, '../..') }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toMatch(/--res 12 is outside 6–10[\s\S]*usage: npm run risk:evaluate/);
  });
});
