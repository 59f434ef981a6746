/**
 * npm run bench:load [-- --quick] [-- --goal] — a mixed load on the server as production runs it
 * (server/supervisor.ts, node:cluster), with 1 and then 2 server processes: 70 % vector tiles, 20 % reads, 10 %
 * writes, at 1, 8, 32 and 64 connections for 30 s each (--quick: 5 s; --goal: only the goal's level, 2 processes at
 * 64 connections, for trying a change quickly: the full run's figures are the ones to record), after a warm-up
 * (every tile asked for 2 × workers times, spread over the processes as connections are, then 10 s of the mix).
 * Each connection is one keep-alive socket sending its next request when the last one is answered (a closed
 * loop), so throughput is what the server sustains and latency is the full round trip. Prints throughput and
 * p50/p95/p99 per level, overall and per kind, and the CPU time per request of the server processes, of
 * PostgreSQL (when it is the embedded cluster) and of the generator:
 * on a shared machine, where waiting for a core inflates latency, CPU per request shows which part costs what.
 *
 * - tiles: a fixed set of tiles over the demo city (z12–z16, every plain public layer), as map clients ask for
 *   them: after the warm-up most come from the processes' tile caches, except where writes dropped them;
 * - reads: an incident, a grid, or a grid's first page of incidents, in equal parts;
 * - writes: incident reports (hotline, with an Idempotency-Key), which also drop the incident tiles around them.
 *
 * After the levels of each worker count, the floor: the same generator and 64 connections asking for one cached
 * tile only (no database, the cheapest answer behind authentication). The goal line sets the mix's p99 beside the
 * floor's of the same run: what is left of 200 ms once this machine, the generator and Node's HTTP take theirs.
 *
 * Runs in a scratch database with the full demo city (loaded first, about a minute), on the PostgreSQL server of
 * DATABASE_URL or else the embedded cluster, as `npm start` does, and drops it afterwards: the writes do not end
 * up in the city `npm start` shows. The load generator is this process, on the same machine as the server and
 * PostgreSQL: it takes a share of the same cores.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import seedrandom from 'seedrandom';
import { createToken } from '../server/auth/tokens';
import { loadConfig, projectRoot } from '../server/config';
import type { Pool } from '../server/db/pool';
import { cityCatalogue } from '../server/catalogue/city';
import { sourceAtZoom, tileLayersOf } from '../server/tiles/registry';
import { loadDemoCity } from '../data/demo/load';
import { withScratchDatabase } from './scratch-database';

const quick = process.argv.includes('--quick');
const goalOnly = process.argv.includes('--goal');
const connectionLevels = goalOnly ? [64] : [1, 8, 32, 64];
const workerCounts = goalOnly ? [2] : [1, 2];
const levelSeconds = quick ? 5 : 30;
const warmUpSeconds = quick ? 3 : 10;
/** Connections of the warm-up pass over every tile. */
const warmUpConnections = 8;
const p99GoalMs = 200;
/** The floor: this generator at the goal's connections against the cheapest answer the server gives. */
const floorConnections = 64;

type Kind = 'tile' | 'read' | 'write';

interface Targets {
  tiles: string[];
  gridIds: number[];
  incidentIds: number[];
  points: Array<[number, number]>;
  readToken: string;
  writeToken: string;
}

interface Level {
  workers: number;
  connections: number;
  seconds: number;
  requests: number;
  failures: number;
  latencies: Record<Kind | 'all', number[]>;
  /** CPU ms per request of the server's processes (primary and workers), of PostgreSQL, and of this load generator. */
  cpu: { server: number; postgres: number | null; generator: number };
}

/** utime + stime of a process and its ended, waited-for children, in seconds (0 once it is gone); from /proc. */
function cpuSecondsOf(pid: number): number {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // Fields after the command name (which may hold spaces): utime, stime, cutime, cstime are the 12th to 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, 15).map(Number);
  return fields.reduce((sum, ticks) => sum + ticks, 0) / 100;
}

/** The processes whose parent is `parent`. */
function childrenOf(parent: number): number[] {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
    } catch {
      return false;
    }
  });
}

/** The embedded cluster's postmaster, when the bench runs on it (its backends are its children). */
function embeddedPostmaster(databaseUrl: string, home: string): number | null {
  const pidFile = path.join(home, 'pg', 'data', 'postmaster.pid');
  if (process.env.DATABASE_URL || !fs.existsSync(pidFile)) return null;
  const [pid, , , port] = fs.readFileSync(pidFile, 'utf8').split('\n');
  return new URL(databaseUrl).port === port.trim() ? Number(pid) : null;
}

/** CPU seconds so far of the server (the supervisor and its workers), of PostgreSQL and of this process. */
function cpuNow(serverPid: number, postmaster: number | null) {
  const tree = (pid: number) => [pid, ...childrenOf(pid)].reduce((sum, each) => sum + cpuSecondsOf(each), 0);
  const usage = process.cpuUsage();
  return { server: tree(serverPid), postgres: postmaster === null ? null : tree(postmaster), generator: (usage.user + usage.system) / 1e6 };
}

interface Request {
  kind: Kind;
  method: 'GET' | 'POST';
  path: string;
  headers: http.OutgoingHttpHeaders;
  body?: string;
}

/** Tile paths over the demo city: every zoom from 12 to 16 around points in level-4 grids, each plain public layer. */
async function pickTiles(pool: Pool): Promise<string[]> {
  const layers = [...tileLayersOf(cityCatalogue).values()].filter((layer) => !layer.computed && layer.access.includes('planner') && layer.name !== 'patrol_tracks');
  const { rows } = await pool.query<{ lon: number; lat: number }>(
    'SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM grids WHERE level = 4 ORDER BY md5(id::text) LIMIT 80) g',
  );
  const tiles = new Set<string>();
  for (const { lon, lat } of rows) {
    for (let z = 12; z <= 16; z++) {
      const n = 2 ** z;
      const x = Math.floor(((lon + 180) / 360) * n);
      const y = Math.floor(((1 - Math.asinh(Math.tan((lat * Math.PI) / 180)) / Math.PI) / 2) * n);
      for (const layer of layers) if (sourceAtZoom(layer, z)) tiles.add(`/tiles/${layer.name}/${z}/${x}/${y}.mvt`);
    }
  }
  return [...tiles];
}

async function pickTargets(pool: Pool): Promise<Targets> {
  const gridIds = (await pool.query<{ id: number }>('SELECT id FROM grids WHERE level = 4 ORDER BY id')).rows.map((row) => row.id);
  const incidentIds = (await pool.query<{ id: number }>('SELECT id FROM incidents ORDER BY md5(id::text) LIMIT 5000')).rows.map((row) => row.id);
  const points = (
    await pool.query<{ lon: number; lat: number }>(
      'SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM grids WHERE level = 4 ORDER BY md5(id::text) LIMIT 500) g',
    )
  ).rows.map(({ lon, lat }): [number, number] => [lon, lat]);
  const reader = await createToken(pool, { role: 'planner', label: 'bench load' });
  const writer = await createToken(pool, { role: 'hotline', label: 'bench load' });
  return { tiles: await pickTiles(pool), gridIds, incidentIds, points, readToken: reader.token, writeToken: writer.token };
}

const readHeaders = (targets: Targets) => ({ Authorization: `Bearer ${targets.readToken}`, 'Accept-Encoding': 'gzip' });

/** The next request of the mix, drawn with `random`. */
function nextRequest(targets: Targets, random: () => number): Request {
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
  const read = readHeaders(targets);
  const draw = random();
  if (draw < 0.7) return { kind: 'tile', method: 'GET', path: pick(targets.tiles), headers: read };
  if (draw < 0.9) {
    const which = random();
    const path =
      which < 1 / 3 ? `/api/incidents/${pick(targets.incidentIds)}` : which < 2 / 3 ? `/api/grids/${pick(targets.gridIds)}` : `/api/incidents?grid=${pick(targets.gridIds)}&limit=20`;
    return { kind: 'read', method: 'GET', path, headers: read };
  }
  const body = JSON.stringify({ category: '窨井盖', source: 'hotline', description: '压测上报：井盖松动', location: { type: 'Point', coordinates: pick(targets.points) } });
  return {
    kind: 'write',
    method: 'POST',
    path: '/api/incidents',
    headers: { Authorization: `Bearer ${targets.writeToken}`, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
    body,
  };
}

/** Sends one request over `agent`; resolves with its status once the whole answer arrived. */
function send(port: number, agent: http.Agent, request: Request): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = http.request({ host: '127.0.0.1', port, method: request.method, path: request.path, headers: request.headers, agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode!));
      response.on('error', reject);
    });
    sent.on('error', reject);
    sent.end(request.body);
  });
}

/** Asks for every tile `passes` times over warmUpConnections new connections: the processes' caches fill as in a day's use. */
async function warmTiles(port: number, targets: Targets, passes: number): Promise<void> {
  const queue = Array.from({ length: passes }, () => targets.tiles).flat();
  const headers = readHeaders(targets);
  await Promise.all(
    Array.from({ length: warmUpConnections }, async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let path = queue.pop(); path !== undefined; path = queue.pop()) await send(port, agent, { kind: 'tile', method: 'GET', path, headers });
      agent.destroy();
    }),
  );
}

/** `connections` closed loops for `seconds`, each on its own keep-alive socket. */
async function runLevel(server: Server, next: (random: () => number) => Request, workers: number, connections: number, seconds: number): Promise<Level> {
  const { port } = server;
  const level: Level = { workers, connections, seconds, requests: 0, failures: 0, latencies: { tile: [], read: [], write: [], all: [] }, cpu: { server: 0, postgres: null, generator: 0 } };
  const cpuBefore = server.cpu();
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, index) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const random = seedrandom(`load-${workers}-${connections}-${index}`);
      while (performance.now() < until) {
        const request = next(random);
        const started = performance.now();
        const status = await send(port, agent, request).catch(() => 0);
        const ms = performance.now() - started;
        level.requests++;
        if (status < 200 || status >= 300) level.failures++;
        level.latencies[request.kind].push(ms);
        level.latencies.all.push(ms);
      }
      agent.destroy();
    }),
  );
  const cpuAfter = server.cpu();
  const perRequest = (before: number | null, after: number | null) => (before === null || after === null ? null : ((after - before) * 1000) / level.requests);
  level.cpu = { server: perRequest(cpuBefore.server, cpuAfter.server)!, postgres: perRequest(cpuBefore.postgres, cpuAfter.postgres), generator: perRequest(cpuBefore.generator, cpuAfter.generator)! };
  return level;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The pid of the server process answering /health on a new connection, or null while none answers. */
async function healthPid(port: number): Promise<number | null> {
  const answer = await fetch(`http://127.0.0.1:${port}/health`, { headers: { Connection: 'close' } }).catch(() => null);
  if (answer?.status !== 200) return null;
  return ((await answer.json()) as { pid: number }).pid;
}

interface Server {
  port: number;
  cpu: () => ReturnType<typeof cpuNow>;
  stop: () => Promise<void>;
}

/** `npm run server -- --workers N` on the database; resolves once N different processes have answered. */
async function startServer(databaseUrl: string, workers: number, uploads: string, postmaster: number | null): Promise<Server> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'server', 'supervisor.ts'), '--workers', String(workers)], {
    cwd: projectRoot,
    env: { ...process.env, DATABASE_URL: databaseUrl, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', UPLOAD_DIR: uploads },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const seen = new Set<number>();
  const deadline = performance.now() + 120_000;
  while (seen.size < workers) {
    if (performance.now() > deadline || child.exitCode !== null) throw new Error(`the server with ${workers} workers did not come up`);
    const pid = await healthPid(port);
    if (pid === null) await new Promise((resolve) => setTimeout(resolve, 250));
    else seen.add(pid);
  }
  return {
    port,
    cpu: () => cpuNow(child.pid!, postmaster),
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function percentile(sorted: number[], share: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
}

function row(level: Level): string {
  const cells = (['all', 'tile', 'read', 'write'] as const).map((kind) => {
    const sorted = Float64Array.from(level.latencies[kind]).sort();
    const list = Array.from(sorted);
    if (kind !== 'all') return list.length === 0 ? '–' : percentile(list, 0.99).toFixed(1);
    return [0.5, 0.95, 0.99].map((share) => percentile(list, share).toFixed(1)).join(' | ');
  });
  const perSecond = (level.requests / level.seconds).toFixed(0);
  const cpu = [level.cpu.server, level.cpu.postgres, level.cpu.generator].map((ms) => (ms === null ? 'n/a' : ms.toFixed(2)));
  return `| ${level.workers} | ${level.connections} | ${perSecond} | ${cells.join(' | ')} | ${level.failures} | ${cpu.join(' | ')} |`;
}

function table(levels: Level[]): string {
  return [
    '| workers | connections | requests/s | p50 ms | p95 ms | p99 ms | tile p99 | read p99 | write p99 | failed | CPU ms/request: server | PostgreSQL | load generator |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...levels.map(row),
  ].join('\n');
}

const p99Of = (level: Level) => percentile(Array.from(Float64Array.from(level.latencies.all).sort()), 0.99);

/** 2 workers against the baseline of 1, level by level, from the same run. */
function ratioTable(levels: Level[]): string {
  const lines = ['| connections | requests/s, 2 workers ÷ 1 | p99, 2 workers ÷ 1 |', '|---:|---:|---:|'];
  for (const connections of connectionLevels) {
    const [one, two] = [1, 2].map((workers) => levels.find((level) => level.workers === workers && level.connections === connections));
    if (!one || !two) continue;
    lines.push(`| ${connections} | ${(two.requests / one.requests).toFixed(2)} | ${(p99Of(two) / p99Of(one)).toFixed(2)} |`);
  }
  return lines.join('\n');
}

function goalLine(levels: Level[], floors: Level[]): string {
  const target = levels.find((level) => level.workers === 2 && level.connections === 64);
  const floor = floors.find((level) => level.workers === 2);
  if (!target || !floor) return '';
  const p99 = p99Of(target);
  return `goal p99 < ${p99GoalMs} ms at 64 connections with 2 workers: ${p99.toFixed(1)} ms, ${p99 < p99GoalMs ? 'met' : 'NOT met'}; floor (one cached tile, same run): p99 ${p99Of(floor).toFixed(1)} ms at ${(floor.requests / floor.seconds).toFixed(0)} requests/s`;
}

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const uploads = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-bench-load-'));
  try {
    await withScratchDatabase('load', async (pool, databaseUrl) => {
      process.stdout.write('loading the demo city into a scratch database...\n');
      await loadDemoCity(pool, { progress: process.stdout.isTTY ?? false });
      await measureAll(pool, databaseUrl, embeddedPostmaster(databaseUrl, config.CITYGRID_HOME), uploads);
    });
  } finally {
    fs.rmSync(uploads, { recursive: true, force: true });
  }
}

async function measureAll(pool: Pool, databaseUrl: string, postmaster: number | null, uploads: string): Promise<void> {
  const targets = await pickTargets(pool);
  const loadBefore = os.loadavg();
  const levels: Level[] = [];
  const floors: Level[] = [];
  const mix = (random: () => number) => nextRequest(targets, random);
  // One tile of a layer the writes do not change: after the warm-up every process answers it from its cache.
  const floorRequest: Request = { kind: 'tile', method: 'GET', path: targets.tiles.find((tile) => tile.startsWith('/tiles/buildings/'))!, headers: readHeaders(targets) };
  for (const workers of workerCounts) {
    const server = await startServer(databaseUrl, workers, uploads, postmaster);
    try {
      process.stdout.write(`${workers} worker(s): warming up...\n`);
      await warmTiles(server.port, targets, 2 * workers);
      await runLevel(server, mix, workers, 64, warmUpSeconds);
      for (const connections of connectionLevels) {
        const level = await runLevel(server, mix, workers, connections, levelSeconds);
        levels.push(level);
        process.stdout.write(`${row(level)}\n`);
      }
      const floor = await runLevel(server, () => floorRequest, workers, floorConnections, levelSeconds);
      floors.push(floor);
      process.stdout.write(`floor: ${row(floor)}\n`);
    } finally {
      await server.stop();
    }
  }
  console.log(`\n${targets.tiles.length} tiles, ${targets.gridIds.length} grids, ${targets.incidentIds.length} incidents to read; ${levelSeconds} s per level${quick ? ' (--quick)' : ''}${goalOnly ? ' (--goal: that level only)' : ''}`);
  console.log(`${os.cpus().length} cores, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} after\n`);
  console.log(table(levels));
  console.log(`\nFloor: the same generator and connections asking for ${floorRequest.path} only (cached in every process)\n`);
  console.log(table(floors));
  console.log(`\n${ratioTable(levels)}`);
  console.log(`\n${goalLine(levels, floors)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
