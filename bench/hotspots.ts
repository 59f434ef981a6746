/**
 * npm run bench:hotspots [-- --rows 1000000 --runs 50 --reuse] — hotspot analysis on a scratch database: the demo city's
 * grids (full extent, ≈ 250 km²) and `rows` synthetic incidents over the year ending now (a third in 60 clusters,
 * the rest uniform), each with its stored resolution-10 cell and the text cells of resolutions 7–9.
 * Measured through HTTP on the real app (in this process, one client, requests one after another):
 *   (a) GET /api/hotspots res 8, last 30 days, whole city — goal p95 < 150 ms;
 *   (b) GET /api/hotspots/gi res 8, k 1 — goal p95 < 500 ms;
 *   (c) GET /api/hotspots/trend res 8, 8 weekly windows — goal < 2 s;
 * each uncached (every run asks for a span ending 1 ms later, a new cache key) and cached; and, in the same run,
 * the baseline of a kepler.gl user: fetch the span's points through pg and bin them with h3-js latLngToCell in
 * Node — goal (a) ≥ 20× faster. Also the storage choice: the counts query grouping the parent derived from the
 * bigint resolution-10 cell against grouping the stored text column h3_r8. Appends the table to bench/RESULTS.md.
 * `--reuse`: measure again on the scratch database of an earlier run, if it holds `rows` incidents up to the
 * last day (loading them takes minutes).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { latLngToCell } from 'h3-js';
import { Client } from 'pg';
import seedrandom from 'seedrandom';
import { createApp } from '../server/app';
import { HeavyWork } from '../server/db/heavy-work';
import { createToken } from '../server/auth/tokens';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool, type Pool } from '../server/db/pool';
import { systemClock } from '../server/deps';
import { EventBus } from '../server/events/bus';
import { incidentCells } from '../server/geo/h3';
import { statuses } from '../server/incidents/workflow';
import { withFastPath } from '../server/http/fast-path';
import { createLogger } from '../server/logger';
import { copyRows, silentProgress } from '../data/demo/copy';
import { loadDemoCity } from '../data/demo/load';
import { demoCityOptions } from '../data/demo/options';
import { scratchDatabase } from './scratch-database';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '50' }, reuse: { type: 'boolean', default: false } } });
const rowCount = Number(values.rows);
const runs = Number(values.runs);
const dayMs = 24 * 3600 * 1000;
const databaseName = 'citygrid_bench_hotspots';

/** The demo city's grids over its full extent, with few other rows, then `rowCount` incidents of the last year. */
async function loadBenchData(pool: Pool, now: Date): Promise<void> {
  await loadDemoCity(pool, { ...demoCityOptions, buildings: 4000, people: 4000, incidents: 1000, accidents: 1000, patrolWorkers: 1, patrolDays: 1, progress: false });
  const categories = (await pool.query<{ name: string }>('SELECT name FROM incident_categories ORDER BY name')).rows.map((row) => row.name);
  const [minLon, minLat, maxLon, maxLat] = demoCityOptions.bbox;
  const random = seedrandom('hotspots-bench');
  const clusters = Array.from({ length: 60 }, () => [minLon + random() * (maxLon - minLon), minLat + random() * (maxLat - minLat)]);
  const client = await pool.connect();
  try {
    // Bulk rows: the audit trigger records one summary instead of a million rows (as the demo loader does).
    await client.query(`SET citygrid.bulk = 'on'`);
    const chunk = 100_000;
    for (let start = 0; start < rowCount; start += chunk) {
      const rows = Array.from({ length: Math.min(chunk, rowCount - start) }, () => {
        let lon: number;
        let lat: number;
        if (random() < 1 / 3) {
          const [cx, cy] = clusters[Math.floor(random() * clusters.length)];
          // Box-Muller: a Gaussian spot of ≈ 300 m.
          const radius = Math.sqrt(-2 * Math.log(1 - random())) * 0.003;
          const angle = 2 * Math.PI * random();
          lon = cx + radius * Math.cos(angle);
          lat = cy + radius * Math.sin(angle);
        } else {
          lon = minLon + random() * (maxLon - minLon);
          lat = minLat + random() * (maxLat - minLat);
        }
        lon = Math.round(lon * 1e7) / 1e7;
        lat = Math.round(lat * 1e7) / 1e7;
        return { lon, lat, at: new Date(now.getTime() - random() * 365 * dayMs), category: categories[Math.floor(random() * categories.length)], status: statuses[Math.floor(random() * statuses.length)] };
      });
      await copyRows(client, 'incidents', ['category', 'source', 'status', 'reported_at', 'geom', 'h3_r7', 'h3_r8', 'h3_r9', 'h3_r10'], rows,
        (r) => [r.category, 'app', r.status, r.at, `SRID=4326;POINT(${r.lon} ${r.lat})`, ...incidentCells(r.lon, r.lat)],
        silentProgress);
      process.stdout.write(`\r${Math.min(start + chunk, rowCount).toLocaleString('en')} incidents`);
    }
    process.stdout.write('\n');
  } finally {
    await client.query('RESET citygrid.bulk');
    client.release();
  }
  await pool.query('VACUUM (ANALYZE) incidents');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

async function timed(times: number, run: (i: number) => Promise<unknown>): Promise<{ p50: number; p95: number; max: number }> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await run(i);
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 0.5), p95: percentile(ms, 0.95), max: ms[ms.length - 1] };
}

function getJson(agent: http.Agent, port: number, pathAndQuery: string, token: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: pathAndQuery, agent, headers: { authorization: `Bearer ${token}` } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (response.statusCode !== 200) reject(new Error(`${pathAndQuery}: ${response.statusCode} ${text.slice(0, 300)}`));
        else resolve(JSON.parse(text));
      });
    });
    request.on('error', reject);
  });
}

/** The scratch database of an earlier run when it holds this run's rows up to the last day, else null. */
async function earlierData(serverUrl: string): Promise<string | null> {
  const url = new URL(serverUrl);
  url.pathname = `/${databaseName}`;
  const client = new Client({ connectionString: url.toString() });
  try {
    await client.connect();
    const { rows } = await client.query<{ n: string; latest: Date }>('SELECT count(*) AS n, max(reported_at) AS latest FROM incidents');
    return Number(rows[0].n) >= rowCount && Date.now() - rows[0].latest.getTime() < dayMs ? url.toString() : null;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const serverUrl = await resolveDatabaseUrl(config);
  const reused = values.reuse ? await earlierData(serverUrl) : null;
  const url = reused ?? (await scratchDatabase(serverUrl, databaseName));
  const pool = createPool(url, config.PG_POOL_MAX);
  await migrate(pool);
  const now = new Date();
  const loadStarted = performance.now();
  if (reused) console.log(`measuring again on ${databaseName} of an earlier run…`);
  else {
    console.log(`loading the demo city's grids and ${rowCount.toLocaleString('en')} incidents into ${databaseName}…`);
    await loadBenchData(pool, now);
  }
  const loadSeconds = (performance.now() - loadStarted) / 1000;

  const log = createLogger('silent');
  const events = new EventBus(url, log);
  await events.start();
  const server = http.createServer(withFastPath(createApp({ config, pool, reads: pool, heavy: new HeavyWork(url, config), log, clock: systemClock, events }), log));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const { token } = await createToken(pool, { role: 'commander', label: 'bench' });
  const to = new Date(Math.ceil(now.getTime() / 60_000) * 60_000);
  const from = new Date(to.getTime() - 30 * dayMs);
  const get = (route: string, query: string, end: Date) => getJson(agent, port, `${route}?${query}&to=${encodeURIComponent(end.toISOString())}`, token);
  // Every uncached run ends its span 1 ms later: a new cache key, the same rows.
  const later = (i: number) => new Date(to.getTime() + i + 1);
  const spanQuery = (end: Date) => `res=8&from=${encodeURIComponent(new Date(end.getTime() - 30 * dayMs).toISOString())}`;

  console.log('measuring…');
  const spanRows = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM incidents WHERE reported_at >= $1 AND reported_at < $2', [from, to])).rows[0].n;
  await get('/api/hotspots', spanQuery(to), to);
  const counts = await timed(runs, (i) => get('/api/hotspots', spanQuery(later(i)), later(i)));
  const countsCached = await timed(runs, () => get('/api/hotspots', spanQuery(to), to));
  const gi = await timed(runs, (i) => get('/api/hotspots/gi', `${spanQuery(later(i))}&k=1`, later(i)));
  const giCells = ((await get('/api/hotspots/gi', `${spanQuery(to)}&k=1`, to)) as { cells: unknown[] }).cells.length;
  const giCached = await timed(runs, () => get('/api/hotspots/gi', `${spanQuery(to)}&k=1`, to));
  const trendRuns = Math.max(5, Math.round(runs / 5));
  const trend = await timed(trendRuns, (i) => get('/api/hotspots/trend', `res=8&k=1&window=7d&windows=8`, later(i)));

  // A kepler.gl user: the span's points to the client, binned there with h3-js.
  const baselineRuns = Math.max(5, Math.round(runs / 5));
  const baseline = await timed(baselineRuns, async (i) => {
    const { rows } = await pool.query<{ lon: number; lat: number }>('SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM incidents WHERE reported_at >= $1 AND reported_at < $2', [new Date(from.getTime() + i + 1), later(i)]);
    const bins = new Map<string, number>();
    for (const row of rows) {
      const cell = latLngToCell(row.lat, row.lon, 8);
      bins.set(cell, (bins.get(cell) ?? 0) + 1);
    }
    return bins;
  });

  // Storage: the counts query on the derived parent of the bigint cell, and on a stored text column per resolution.
  const derived = await timed(runs, (i) =>
    pool.query('SELECT to_hex(cell), n FROM (SELECT h3_cell_parent(h3_r10, 8) AS cell, count(*) AS n FROM incidents WHERE reported_at >= $1 AND reported_at < $2 GROUP BY 1) c', [from, later(i)]),
  );
  // The other design would cover its column in the time index too: same footing (index-only) for the comparison.
  await pool.query('CREATE INDEX IF NOT EXISTS incidents_reported_at_r8_idx ON incidents (reported_at) INCLUDE (h3_r8)');
  await pool.query('ANALYZE incidents');
  const textColumn = await timed(runs, (i) => pool.query('SELECT h3_r8, count(*) AS n FROM incidents WHERE reported_at >= $1 AND reported_at < $2 GROUP BY 1', [from, later(i)]));
  const sizes = (await pool.query<{ bigint: number; text: number }>(
    `SELECT avg(pg_column_size(h3_r10))::float8 AS bigint, avg(pg_column_size(h3_r7) + pg_column_size(h3_r8) + pg_column_size(h3_r9))::float8 / 3 AS text FROM (SELECT * FROM incidents LIMIT 10000) s`,
  )).rows[0];
  const differ = (await pool.query<{ share: number }>(`SELECT avg((h3_r8 <> to_hex(h3_cell_parent(h3_r10, 8)))::int)::float8 AS share FROM incidents`)).rows[0].share;

  agent.destroy();
  server.close();
  await events.stop();
  await pool.end();

  const ms = (value: number) => value.toFixed(1);
  const rows = [
    ['(a) counts res 8, 30 days, whole city, uncached', `p95 < 150 ms`, `p50 ${ms(counts.p50)}, p95 ${ms(counts.p95)}`, (150 / counts.p95).toFixed(2)],
    ['(a) counts, cached', '—', `p50 ${ms(countsCached.p50)}, p95 ${ms(countsCached.p95)}`, '—'],
    [`(b) Gi* res 8, k 1, 30 days (${giCells} cells), uncached`, 'p95 < 500 ms', `p50 ${ms(gi.p50)}, p95 ${ms(gi.p95)}`, (500 / gi.p95).toFixed(2)],
    ['(b) Gi*, cached', '—', `p50 ${ms(giCached.p50)}, p95 ${ms(giCached.p95)}`, '—'],
    [`(c) trend res 8, 8 weekly windows, uncached (${trendRuns} runs)`, '< 2000 ms', `p50 ${ms(trend.p50)}, max ${ms(trend.max)}`, (2000 / trend.max).toFixed(2)],
    [`baseline: fetch ${spanRows.toLocaleString('en')} points + h3-js binning (${baselineRuns} runs)`, '—', `p50 ${ms(baseline.p50)}, p95 ${ms(baseline.p95)}`, '—'],
    ['(a) vs baseline, uncached (baseline p50 / counts p50)', '≥ 20×', `${(baseline.p50 / counts.p50).toFixed(1)}×`, (baseline.p50 / counts.p50 / 20).toFixed(2)],
    ['(a) vs baseline, cached', '≥ 20×', `${(baseline.p50 / countsCached.p50).toFixed(1)}×`, (baseline.p50 / countsCached.p50 / 20).toFixed(2)],
    ['storage: counts SQL on h3_cell_parent(h3_r10, 8) (bigint, 8 B)', '—', `p50 ${ms(derived.p50)}, p95 ${ms(derived.p95)}`, '—'],
    [`storage: counts SQL on text column h3_r8 (${sizes.text.toFixed(0)} B per resolution)`, '—', `p50 ${ms(textColumn.p50)}, p95 ${ms(textColumn.p95)}`, '—'],
    ['rows whose parent cell ≠ latLngToCell at res 8', '—', `${(differ * 100).toFixed(1)} %`, '—'],
  ];
  const load = os.loadavg().map((value) => value.toFixed(1)).join(' ');
  const table = [
    `### ${new Date().toISOString().slice(0, 16)}Z, ${rowCount.toLocaleString('en')} incidents (${spanRows.toLocaleString('en')} in the 30 days), ${runs} runs, load average ${load} (${os.cpus().length} cores), ${reused ? 'data of an earlier run' : `loaded in ${loadSeconds.toFixed(0)} s`}`,
    '',
    '| measurement | goal | result (ms) | ratio (≥ 1 meets) |',
    '|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
  ].join('\n');
  console.log(`\n${table}`);
  const results = path.join(__dirname, 'RESULTS.md');
  fs.appendFileSync(results, `\n${table}`);
  console.log(`appended to ${path.relative(process.cwd(), results)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
