import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { type CsvMapping, importIncidents, normalizeTime } from '../../server/incidents/import';
import { createTestDatabase, type TestDatabase } from '../support/db';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

/** A generic 311 export as a New York file comes: its own column names, US times, no id column. */
const header = ['Created', 'Closed', 'Complaint', 'Agency', 'Lat', 'Lon'];
const nyc: CsvMapping = {
  time: 'Created',
  closed: 'Closed',
  category: 'Complaint',
  department: 'Agency',
  lat: 'Lat',
  lon: 'Lon',
  timeFormat: 'us',
  timeZone: 'America/New_York',
  closedValues: [],
};

describe('import:incidents on generic CSV files', () => {
  let db: TestDatabase;
  let folder: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'incident-import-'));
  });
  afterAll(async () => {
    fs.rmSync(folder, { recursive: true, force: true });
    await db.drop();
  });

  function csvFile(name: string, rows: Array<Array<string | number>>): string {
    const file = path.join(folder, name);
    const quote = (value: string | number) => (/[",]/.test(String(value)) ? `"${String(value).replace(/"/g, '""')}"` : String(value));
    fs.writeFileSync(file, [header, ...rows].map((row) => row.map(quote).join(',')).join('\n'));
    return file;
  }

  /** n rows spread over the demo city, one minute apart. */
  function spreadRows(n: number, category = 'Noise', day = '3/14/2025'): Array<Array<string | number>> {
    return Array.from({ length: n }, (_, i) => [`${day} ${10 + Math.floor(i / 60)}:${String(i % 60).padStart(2, '0')}`, '', category, 'NYPD', (31.27 + (i % 10) * 0.009).toFixed(5), (120.62 + Math.floor(i / 10) * 0.006).toFixed(5)]);
  }

  const cli = (...args: string[]) => run(path.join(root, 'node_modules/.bin/tsx'), ['scripts/import-incidents.ts', ...args], { cwd: root, env: { ...process.env, DATABASE_URL: db.url } });
  const count = async (where = 'true', params: unknown[] = []) => (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM incidents WHERE ${where}`, params)).rows[0].n;

  it('--help lists every option with an example for a generic CSV', async () => {
    const { stdout } = await cli('--help');
    for (const option of ['--format', '--time', '--lon', '--lat', '--category', '--id', '--department', '--status', '--closed', '--target', '--source', '--description', '--time-zone', '--time-format', '--closed-values', '--category-map', '--placeholder-share', '--rejects']) {
      expect(stdout).toContain(option);
    }
    expect(stdout).toMatch(/Examples:[\s\S]*--time-zone America\/New_York/);
  }, 60_000);

  it('refuses a generic CSV without --time-zone, and a misspelt option, pointing at --help', async () => {
    const file = csvFile('no-zone.csv', spreadRows(3));
    await expect(cli(file, '--time', 'Created', '--lon', 'Lon', '--lat', 'Lat', '--category', 'Complaint')).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/--time-zone/) });
    await expect(cli(file, '--time-zome', 'UTC')).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/see --help/) });
    expect(await count()).toBe(await count('external_id IS NULL'));
  }, 60_000);

  it('names a column the file does not have, and the columns it has, before reading a row', async () => {
    const file = csvFile('wrong-column.csv', spreadRows(5));
    const before = await count();
    await expect(importIncidents(db.pool, [file], { ...nyc, time: 'Created Date' })).rejects.toThrow(/no column "Created Date" \(--time\); its columns are: Created, Closed, Complaint, Agency, Lat, Lon/);
    await expect(cli(file, '--time', 'Created Date', '--lon', 'Lon', '--lat', 'Lat', '--category', 'Complaint', '--time-zone', 'America/New_York')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/no column "Created Date"/) });
    expect(await count()).toBe(before);
  }, 60_000);

  it('re-running a file without an id column adds nothing, and keeps rows that repeat inside the file', async () => {
    const rows = spreadRows(20, 'Rerun');
    const file = csvFile('rerun.csv', [...rows, rows[0]]);
    const first = await importIncidents(db.pool, [file], nyc);
    expect(first).toMatchObject({ read: 21, inserted: 21, alreadyImported: 0 });
    const second = await importIncidents(db.pool, [file], nyc);
    expect(second).toMatchObject({ read: 21, inserted: 0, alreadyImported: 21 });
    expect(await count("category = 'Rerun'")).toBe(21);
  });

  it('reads times in the given zone whatever the server DateStyle, US times with or without AM/PM', async () => {
    await db.pool.query(`ALTER DATABASE ${(await db.pool.query('SELECT current_database() AS d')).rows[0].d} SET datestyle = 'ISO, DMY'`);
    const file = csvFile('times.csv', [
      ['3/14/2025 1:20', '3/14/2025 13:05', 'Zoned', 'NYPD', 31.3, 120.7],
      ['03/14/2025 01:20:00 PM', '', 'Zoned', 'NYPD', 31.3, 120.7],
      ['11/02/2025 11:59:59 PM', '', 'Zoned', 'NYPD', 31.3, 120.7],
    ]);
    const result = await importIncidents(db.pool, [file], nyc);
    expect(result).toMatchObject({ inserted: 3, rejected: [], timeZone: 'America/New_York' });
    const { rows } = await db.pool.query<{ reported: string; closed: string | null }>(
      `SELECT to_char(reported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS reported, to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS closed
       FROM incidents WHERE category = 'Zoned' ORDER BY reported_at`,
    );
    // New York is UTC-4 from 9 March 2025 (daylight saving), UTC-5 from 2 November.
    expect(rows).toEqual([
      { reported: '2025-03-14 05:20:00', closed: '2025-03-14 17:05:00' },
      { reported: '2025-03-14 17:20:00', closed: null },
      { reported: '2025-11-03 04:59:59', closed: null },
    ]);
    expect(normalizeTime('2/30/2025 10:00', 'us')).toBeNull();
    expect(normalizeTime('3/14/2025 13:20 PM', 'us')).toBeNull();
    expect(normalizeTime('2025-03-14T01:20:00Z', 'iso')).toBe('2025-03-14T01:20:00+00:00');
  });

  it('rejects rows without a usable coordinate, time or category, lists row, column and reason, and writes a rejects CSV', async () => {
    const rows = spreadRows(6, 'Rejects');
    rows[1][4] = '';
    rows[2][5] = 'west';
    rows[3][0] = 'yesterday';
    rows[4][4] = '95';
    const file = csvFile('rejects.csv', rows);
    const result = await importIncidents(db.pool, [file], nyc);
    expect(result.rejected.map(({ row, column, reason }) => ({ row, column, reason }))).toEqual([
      { row: 3, column: 'Lat', reason: 'empty coordinate' },
      { row: 4, column: 'Lon', reason: 'not a number' },
      { row: 5, column: 'Created', reason: 'not a us time' },
      { row: 6, column: 'Lat', reason: 'out of range (±90)' },
    ]);
    expect(result.inserted).toBe(2);
    expect(await count("category = 'Rejects' AND (ST_X(geom) = 0 OR ST_Y(geom) = 0)")).toBe(0);

    const many = csvFile('rejects-cli.csv', spreadRows(14, 'RejectsCli').map((row) => [row[0], row[1], row[2], row[3], '', row[5]]));
    const { stdout } = await cli(many, '--time', 'Created', '--lon', 'Lon', '--lat', 'Lat', '--category', 'Complaint', '--time-zone', 'America/New_York', '--time-format', 'us');
    const rejectsFile = path.join(folder, 'rejects-cli.rejects.csv');
    expect(stdout).toContain(`rejected rows (all 14 in ${rejectsFile})`);
    expect(stdout.match(/empty coordinate/g)).toHaveLength(10);
    const listed = parse(fs.readFileSync(rejectsFile), { columns: true }) as Array<Record<string, string>>;
    expect(listed).toHaveLength(14);
    expect(listed[0]).toMatchObject({ row: '2', column: 'Lat', value: '', reason: 'empty coordinate' });
  }, 60_000);

  it('stores rows at a placeholder point flagged, without grid and H3 cells, and says how many', async () => {
    const rows = spreadRows(300, 'Placeholder', '4/1/2025');
    for (let i = 0; i < 60; i++) rows[i * 5] = [rows[i * 5][0], '', 'Placeholder', 'NYPD', '31.30000', '120.70000'];
    const file = csvFile('placeholder.csv', rows);
    const result = await importIncidents(db.pool, [file], nyc);
    expect(result.placeholders).toEqual([{ lon: 120.7, lat: 31.3, rows: 60 }]);
    expect(await count("category = 'Placeholder' AND location_placeholder AND grid_id IS NULL AND h3_r9 IS NULL AND h3_r10 IS NULL")).toBe(60);
    expect(await count("category = 'Placeholder' AND NOT location_placeholder AND grid_id IS NOT DISTINCT FROM grid_at(geom) AND h3_r9 IS NOT NULL AND h3_r10 IS NOT NULL")).toBe(240);
    // The placeholder point lies in a grid: the flagged rows were kept out of it on purpose.
    expect((await db.pool.query('SELECT grid_at(ST_SetSRID(ST_MakePoint(120.7, 31.3), 4326)) AS grid')).rows[0].grid).not.toBeNull();
  });

  it('maps source categories onto the catalogue with --category-map and lists the unmapped ones with counts', async () => {
    const rows = [...spreadRows(4, 'Street Light Out', '1/5/2031'), ...spreadRows(3, 'Illegal Parking', '1/5/2031'), ...spreadRows(2, 'Graffiti', '1/5/2031')];
    const file = csvFile('categories.csv', rows);
    const map = path.join(folder, 'map.csv');
    fs.writeFileSync(map, 'source,category\nStreet Light Out,路灯故障\nGraffiti,乱贴乱画\n');
    const catalogue = (await db.pool.query<{ name: string }>('SELECT name FROM incident_categories')).rows.map((row) => row.name);
    expect(catalogue).toEqual(expect.arrayContaining(['路灯故障', '乱贴乱画']));
    const { stdout } = await cli(file, '--time', 'Created', '--lon', 'Lon', '--lat', 'Lat', '--category', 'Complaint', '--time-zone', 'America/New_York', '--time-format', 'us', '--category-map', map);
    expect(stdout).toMatch(/1 categories are not in the catalogue[\s\S]*Illegal Parking[^\n]*3/);
    expect(await count("category = '路灯故障' AND reported_at >= '2031-01-01' AND reported_at < '2031-02-01'")).toBe(4);

    fs.writeFileSync(map, 'source,category\nGraffiti,涂鸦\n');
    await expect(cli(file, '--time', 'Created', '--lon', 'Lon', '--lat', 'Lat', '--category', 'Complaint', '--time-zone', 'America/New_York', '--category-map', map)).rejects.toMatchObject({ stderr: expect.stringMatching(/catalogue does not have: 涂鸦/) });
  }, 60_000);
});
