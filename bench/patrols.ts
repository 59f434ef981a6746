// npm run bench:patrols [-- --fixes 1000000 --workers 500 --batch 5000 --clients 2,4]
// Patrol pipeline (issue 17) on a private database with the demo city's grids, roads and buildings:
//  1. ingest floor: a bare COPY of the fixes into patrol_points with its indexes (no checks, no grids, no tracks);
//  2. the same fixes over HTTP, POST /api/patrols/points in batches, to the real server in a child process
//     (checks, grid per fix, flags, tracks of every touched worker-day rebuilt, live positions) — goal 50,000 fixes/s;
//     once per number of concurrent clients (--clients; 500 phones post at once in a city, and on 2 cores two batches
//     in flight leave a core idle while one waits for the other's day lock or its JSON), the tables emptied between;
//  3. tracks for one day of every worker, built again from their fixes; and read back as TripsLayer data;
//  4. coverage floor: road length and buildings per level-4 grid, the part of coverage that no track changes;
//  5. coverage of every level-4 grid for that day, computed afresh (not read from patrol_coverage) — goal < 5 s.
// Each step reports wall time and the CPU time of the database server, the server process and this process (from
// /proc, when the database runs on this machine), with the load average: the machine is shared.
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { from as copyFrom } from 'pg-copy-streams';
import { createToken } from '../server/auth/tokens';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool, type Pool, withTransaction } from '../server/db/pool';
import { computeDayCoverage } from '../server/patrols/coverage';
import { rebuildDays } from '../server/patrols/tracks';
import { loadDemoCity } from '../data/demo/load';
import { demoCityOptions } from '../data/demo/options';
import { startChildServer } from '../test/support/child-server';
import { processStat, serverCpuSeconds } from './cpu';
import { scratchDatabase } from './scratch-database';

const { values } = parseArgs({
  options: { fixes: { type: 'string', default: '1000000' }, workers: { type: 'string', default: '500' }, batch: { type: 'string', default: '5000' }, clients: { type: 'string', default: '2,4' } },
});
const totalFixes = Number(values.fixes);
const batchSize = Number(values.batch);
const clientCounts = values.clients.split(',').map(Number);
const zone = 'Asia/Shanghai';
// Yesterday in the city, from 08:00: inside retention and not in the future.
const dayStartMs = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() - 1) - 8 * 3_600_000;
const day = new Date(dayStartMs + 8 * 3_600_000).toISOString().slice(0, 10);

interface Walker {
  worker: string;
  lon: number;
  lat: number;
}

interface BenchFix {
  workerId: string;
  t: number;
  lon: number;
  lat: number;
  accuracy: number;
}

/** One worker's day: a fix every 5 s from 08:00, walking back and forth along a street of their grid with GPS noise. */
function dayOfWalker(walker: Walker, count: number, seed: number): BenchFix[] {
  let state = seed;
  const noise = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31 - 0.5;
  };
  const metre = 1 / 111_320;
  return Array.from({ length: count }, (_, i) => {
    const along = ((i * 5 * 1.2) % 1600) - 800;
    const back = Math.floor((i * 5 * 1.2) / 1600) % 2 ? -along : along;
    return {
      workerId: walker.worker,
      t: dayStartMs + 8 * 3_600_000 + i * 5000,
      lon: Number((walker.lon + back * metre * 1.17 + noise() * 6 * metre).toFixed(7)),
      lat: Number((walker.lat + noise() * 6 * metre).toFixed(7)),
      accuracy: Math.round(4 + Math.abs(noise()) * 16),
    };
  });
}

async function walkers(pool: Pool, count: number): Promise<Walker[]> {
  const { rows } = await pool.query<Walker>(
    `SELECT w AS worker, ST_X(p) AS lon, ST_Y(p) AS lat
     FROM (SELECT id, workers, ST_PointOnSurface(geom) AS p FROM grids WHERE level = 4) g CROSS JOIN unnest(g.workers) w
     ORDER BY g.id, w LIMIT $1`,
    [count],
  );
  return rows;
}

async function timed<T>(run: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  const started = performance.now();
  const result = await run();
  return { seconds: (performance.now() - started) / 1000, result };
}

/** Wall seconds of a step, CPU seconds of the database, of the server process and of this one, and the load average after it. */
interface Step<T> {
  seconds: number;
  result: T;
  databaseCpu: number | null;
  serverCpu: number | null;
  benchCpu: number;
  load: number;
}

async function measured<T>(pool: Pool, serverPid: number | null, run: () => Promise<T>): Promise<Step<T>> {
  const database = await serverCpuSeconds(pool);
  const server = serverPid === null ? null : processStat(serverPid);
  const bench = process.cpuUsage();
  const { seconds, result } = await timed(run);
  const benchUsed = process.cpuUsage(bench);
  const databaseAfter = await serverCpuSeconds(pool);
  const serverAfter = serverPid === null ? null : processStat(serverPid);
  return {
    seconds,
    result,
    databaseCpu: database === null || databaseAfter === null ? null : databaseAfter - database,
    serverCpu: server === null || serverAfter === null ? null : serverAfter.cpuSeconds - server.cpuSeconds,
    benchCpu: (benchUsed.user + benchUsed.system) / 1e6,
    load: os.loadavg()[0],
  };
}

/** CPU of a step per fix, in µs, for the table. */
const perFix = (cpuSeconds: number | null, fixes: number) => (cpuSeconds === null ? 'n/a' : ((cpuSeconds * 1e6) / fixes).toFixed(1));

/** The floor: the same rows as bare COPY into patrol_points, then emptied again for the HTTP run. */
async function bareCopy(pool: Pool, fixes: BenchFix[]): Promise<Step<void>> {
  const step = await measured(pool, null, () =>
    withTransaction(pool, async (client) => {
      const lines = function* () {
        for (let i = 0; i < fixes.length; i += 10_000) {
          yield fixes
            .slice(i, i + 10_000)
            .map((f) => `${f.workerId}\t${new Date(f.t).toISOString()}\t${f.accuracy}\tSRID=4326;POINT(${f.lon} ${f.lat})\n`)
            .join('');
        }
      };
      await pipeline(Readable.from(lines()), client.query(copyFrom('COPY patrol_points (worker, recorded_at, accuracy_m, geom) FROM STDIN')));
    }),
  );
  await pool.query('TRUNCATE patrol_points, patrol_tracks, patrol_track_pieces, patrol_live, patrol_days');
  return step;
}

/** POSTs the batches from `clients` concurrent clients. */
async function overHttp(url: string, token: string, batches: BenchFix[][], clients: number): Promise<void> {
  const queue = [...batches];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let batch = queue.shift(); batch; batch = queue.shift()) {
        const response = await fetch(`${url}/api/patrols/points`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ fixes: batch }),
        });
        if (response.status !== 200) throw new Error(`ingest answered ${response.status}: ${await response.text()}`);
        await response.arrayBuffer();
      }
    }),
  );
}

/** What coverage computes whatever the tracks: road length and buildings per level-4 grid. */
async function coverageFloor(pool: Pool): Promise<void> {
  await pool.query(
    `SELECT (SELECT sum(m) FROM (
              SELECT sum(ST_Length(ST_Intersection(r.geom_3857, g.geom_3857))) AS m FROM grids g JOIN roads r ON r.geom_3857 && g.geom_3857 WHERE g.level = 4 GROUP BY g.id
            ) road) AS road_m,
            (SELECT sum(n) FROM (SELECT count(*) AS n FROM buildings WHERE grid_id IS NOT NULL GROUP BY grid_id) building) AS buildings`,
  );
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const url = await scratchDatabase(await resolveDatabaseUrl(config), 'citygrid_bench_patrols');
  const pool = createPool(url, 4);
  let stopServer = async (): Promise<void> => undefined;
  try {
    await migrate(pool);
    console.log('loading the demo city (grids, roads, buildings; few reports)…');
    await loadDemoCity(pool, { ...demoCityOptions, incidents: 2000, accidents: 1000, patrolWorkers: 1, patrolDays: 1, progress: false });
    await pool.query('TRUNCATE patrol_points, patrol_tracks, patrol_track_pieces, patrol_live, patrol_days, patrol_coverage');
    const people = await walkers(pool, Number(values.workers));
    const perWorker = Math.ceil(totalFixes / people.length);
    // Each phone posts its day in batches of its own fixes; a batch of 5,000 holds the end of one day and the start of the next.
    const fixes = people.flatMap((walker, i) => dayOfWalker(walker, perWorker, i + 1)).slice(0, totalFixes);
    const batches = Array.from({ length: Math.ceil(fixes.length / batchSize) }, (_, i) => fixes.slice(i * batchSize, (i + 1) * batchSize));
    console.log(`${fixes.length} fixes of ${people.length} workers on ${day}, ${batches.length} batches of ${batchSize}`);

    console.log(`load average before: ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}`);
    const floor = await bareCopy(pool, fixes);
    const floorRate = fixes.length / floor.seconds;
    console.log(`bare COPY: ${Math.round(floorRate)} fixes/s`);
    const child = await startChildServer(url);
    stopServer = child.stop;
    const admin = await createToken(pool, { role: 'admin', label: 'bench:patrols' });
    const ingests: Array<{ clients: number; step: Step<void>; rate: number }> = [];
    for (const [i, clients] of clientCounts.entries()) {
      if (i > 0) await pool.query('TRUNCATE patrol_points, patrol_tracks, patrol_track_pieces, patrol_live, patrol_days');
      const step = await measured(pool, child.pid, () => overHttp(child.url, admin.token, batches, clients));
      ingests.push({ clients, step, rate: fixes.length / step.seconds });
      console.log(`HTTP ingest, ${clients} client(s): ${Math.round(fixes.length / step.seconds)} fixes/s`);
    }

    const days = people.map((walker) => ({ worker: walker.worker, day }));
    const rebuild = await timed(() => withTransaction(pool, (client) => rebuildDays(client, days, zone)));
    const commander = await createToken(pool, { role: 'commander', label: 'bench:patrols' });
    const trips = await timed(async () => {
      const response = await fetch(`${child.url}/api/patrols/tracks?date=${day}&format=trips&limit=5000`, { headers: { Authorization: `Bearer ${commander.token}` } });
      return (await response.json()) as { trips: unknown[] };
    });
    const grids = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM grids WHERE level = 4')).rows[0].n;
    const floorRuns: Step<void>[] = [];
    const coverageRuns: Step<void>[] = [];
    for (let run = 0; run < 3; run++) {
      floorRuns.push(await measured(pool, null, () => coverageFloor(pool)));
      coverageRuns.push(await measured(pool, null, () => computeDayCoverage(pool, zone, day)));
    }
    const coverageFloorSeconds = median(floorRuns.map((step) => step.seconds));
    const coverageSeconds = median(coverageRuns.map((step) => step.seconds));

    console.log(`\nmachine shared with other work; load average after: ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}`);
    console.table([
      { measure: `floor: bare COPY of ${fixes.length} fixes`, result: `${Math.round(floorRate)} fixes/s`, goal: '', ratio: '', 'load avg': floor.load.toFixed(1) },
      ...ingests.flatMap(({ clients, step, rate }) => [
        {
          measure: `POST /api/patrols/points, batches of ${batchSize}, ${clients} client(s)`,
          result: `${Math.round(rate)} fixes/s`,
          goal: '≥ 50000 fixes/s',
          ratio: (rate / 50_000).toFixed(2),
          'load avg': step.load.toFixed(1),
        },
        { measure: `ingest / floor, ${clients} client(s)`, result: (rate / floorRate).toFixed(2), goal: '', ratio: '', 'load avg': '' },
      ]),
      { measure: 'floor / goal', result: (floorRate / 50_000).toFixed(2), goal: '', ratio: '', 'load avg': '' },
      { measure: `tracks of ${people.length} workers for a day, rebuilt`, result: `${rebuild.seconds.toFixed(2)} s`, goal: '', ratio: '', 'load avg': '' },
      { measure: `GET tracks format=trips (${trips.result.trips.length} tracks)`, result: `${trips.seconds.toFixed(2)} s`, goal: '', ratio: '', 'load avg': '' },
      {
        measure: `floor: road length and buildings of ${grids} grids`,
        result: `${coverageFloorSeconds.toFixed(2)} s`,
        goal: '',
        ratio: '',
        'load avg': floorRuns[1].load.toFixed(1),
      },
      {
        measure: `coverage of ${grids} level-4 grids for a day (median of 3)`,
        result: `${coverageSeconds.toFixed(2)} s`,
        goal: '< 5 s',
        ratio: (5 / coverageSeconds).toFixed(2),
        'load avg': coverageRuns[1].load.toFixed(1),
      },
      { measure: 'coverage / floor', result: (coverageSeconds / coverageFloorSeconds).toFixed(2), goal: '', ratio: '', 'load avg': '' },
    ]);
    console.log('ratio = result / goal for rates, goal / result for times: above 1 meets the goal.');
    console.log(`coverage runs: ${coverageRuns.map((step) => step.seconds.toFixed(2)).join(', ')} s; floor runs: ${floorRuns.map((step) => step.seconds.toFixed(2)).join(', ')} s`);
    console.log('\nCPU per fix (µs; all processes of each kind, from /proc; n/a when not measurable here):');
    console.table([
      { step: 'bare COPY', database: perFix(floor.databaseCpu, fixes.length), 'server process': '', 'bench (client)': perFix(floor.benchCpu, fixes.length) },
      ...ingests.map(({ clients, step }) => ({
        step: `HTTP ingest, ${clients} client(s)`,
        database: perFix(step.databaseCpu, fixes.length),
        'server process': perFix(step.serverCpu, fixes.length),
        'bench (client)': perFix(step.benchCpu, fixes.length),
      })),
    ]);
  } finally {
    await stopServer();
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
