/**
 * npm run bench:tiles — the same 500 random tiles (z10–z16 over the demo city, a random layer each) measured as
 * (a) the tile SQL through pg without HTTP, (b) the server with its cache off, (c) the server with a warm cache,
 * each with 1 and 4 concurrent clients, median of 5 interleaved rounds. Extra rows, labelled as such: the cached
 * server as 2 processes (node:cluster), and the floors of this machine: a bare node:http server answering the same
 * gzip tiles from a Map (no framework, no checks), bare node:http servers running the same statement per
 * request, with and without gzip (what a miss costs with nothing of citygrid's), and bare TCP socket servers doing
 * the Map and the statement with gzip (what is left without node:http either). The goals are checked at the end
 * against citygrid's rows, with the floors beside them.
 * Every server runs in its own child process, as in a deployment; the load generator is this process, one
 * keep-alive socket per client. Runs on DATABASE_URL, or else the embedded cluster's database, as `npm start` does;
 * loads the full demo city there first if it holds no grids.
 */
import { type ChildProcess, fork } from 'node:child_process';
import cluster from 'node:cluster';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import zlib from 'node:zlib';
import seedrandom from 'seedrandom';
import { createApp } from '../server/app';
import { createToken, revokeToken } from '../server/auth/tokens';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { HeavyWork } from '../server/db/heavy-work';
import { createPool, type Pool } from '../server/db/pool';
import { systemClock } from '../server/deps';
import { EventBus } from '../server/events/bus';
import { withFastPath } from '../server/http/fast-path';
import { createLogger } from '../server/logger';
import { cityCatalogue } from '../server/catalogue/city';
import { sourceAtZoom, tileLayersOf } from '../server/tiles/registry';
import { queryTile, TileService } from '../server/tiles/service';
import { countDemoRows, loadDemoCity } from '../data/demo/load';

const tileLayerByName = tileLayersOf(cityCatalogue);
const tileCount = 500;
const roundCount = 5;
/** A cached round over 500 tiles lasts ~0.1 s: it goes over the list this many times, for figures that settle. */
const cachedRepeats = 10;
const sizeBudget = 500 * 1024;

interface BenchTile {
  layer: string;
  z: number;
  x: number;
  y: number;
  path: string;
}

interface Run {
  name: string;
  clients: number;
  tilesPerSecond: number;
  p50: number;
  p95: number;
  meanBytes: number;
  maxBytes: number;
  /** CPU time of the load generator and of the server process per tile, µs: unlike tiles/s, waiting for a core does not count. */
  generatorCpu: number;
  serverCpu: number | null;
}

type ServerKind = 'uncached' | 'cached' | 'cached-2' | 'floor' | 'floor-socket' | 'floor-query-gzip' | 'floor-query' | 'floor-socket-query-gzip';

interface ServerProcess {
  port: number;
  /** CPU seconds the process has used so far. */
  cpuSeconds: () => Promise<number>;
  stop: () => void;
}

type Fetch = (tile: BenchTile) => Promise<number>;

interface Mode {
  name: string;
  repeats: number;
  fetch: Fetch;
  server: ServerProcess | null;
}

function tileAt(lon: number, lat: number, z: number): [number, number] {
  const n = 2 ** z;
  const rad = (lat * Math.PI) / 180;
  return [Math.floor(((lon + 180) / 360) * n), Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * n)];
}

async function randomTiles(pool: Pool): Promise<BenchTile[]> {
  const { rows } = await pool.query<{ bounds: number[] }>(
    'SELECT ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] AS bounds FROM (SELECT ST_Extent(geom) AS e FROM grids) g',
  );
  const [west, south, east, north] = rows[0].bounds;
  const random = seedrandom('bench-tiles');
  return Array.from({ length: tileCount }, () => {
    const z = 10 + Math.floor(random() * 7);
    const layers = [...tileLayerByName.values()].filter((layer) => sourceAtZoom(layer, z));
    const layer = layers[Math.floor(random() * layers.length)].name;
    const [x, y] = tileAt(west + random() * (east - west), south + random() * (north - south), z);
    return { layer, z, x, y, path: `/tiles/${layer}/${z}/${x}/${y}.mvt` };
  });
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const cpuSecondsOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;

/** `clients` loops pulling the next tile from one shared list (gone over `repeats` times) until all are done. */
async function measure(mode: Mode, clients: number, tiles: BenchTile[]): Promise<Run> {
  const total = tiles.length * mode.repeats;
  const latencies = new Float64Array(total);
  let bytes = 0;
  let maxBytes = 0;
  let next = 0;
  const serverCpuBefore = await mode.server?.cpuSeconds();
  const generatorCpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const index = next++;
        const t0 = performance.now();
        const size = await mode.fetch(tiles[index % tiles.length]);
        latencies[index] = performance.now() - t0;
        bytes += size;
        if (size > maxBytes) maxBytes = size;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const generatorCpu = (cpuSecondsOf(process.cpuUsage(generatorCpuBefore)) / total) * 1e6;
  const serverCpu = mode.server ? (((await mode.server.cpuSeconds()) - serverCpuBefore!) / total) * 1e6 : null;
  latencies.sort();
  return {
    name: mode.name,
    clients,
    tilesPerSecond: total / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    meanBytes: bytes / total,
    maxBytes,
    generatorCpu,
    serverCpu,
  };
}

/**
 * Keep-alive HTTP/1.1, one socket per client, no decompression: the bytes counted are the bytes on the wire. A
 * plain socket with each tile's request bytes built once, not `http.Agent`: on this 2-core machine the load
 * generator shares the cores with the server it measures, and `http.get` cost the generator about as much CPU per
 * request as a cached tile costs the server. Reads `Content-Length` bodies only (every answer here has one or none).
 */
function httpFetcher(port: number, token: string): Fetch {
  const idle: net.Socket[] = [];
  const requests = new Map<string, Buffer>();
  const requestFor = (path: string) => {
    let bytes = requests.get(path);
    if (!bytes) {
      bytes = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nAccept-Encoding: gzip\r\n\r\n`);
      requests.set(path, bytes);
    }
    return bytes;
  };
  // A server may close a keep-alive socket that waited (node:http after 5 s): such a socket is not reused, and a
  // request whose socket closes before any answer byte is sent again on a new one, instead of waiting forever.
  const fetchTile = (tile: BenchTile, fresh: boolean): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      let socket = fresh ? undefined : idle.pop();
      while (socket && (socket.destroyed || socket.readableEnded)) socket = idle.pop();
      socket ??= net.connect({ host: '127.0.0.1', port, noDelay: true });
      let received: Buffer = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
        const headerEnd = received.indexOf('\r\n\r\n');
        if (headerEnd < 0) return;
        const head = received.subarray(0, headerEnd).toString('latin1');
        const status = Number(head.slice(9, 12));
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (received.length < headerEnd + 4 + length) return;
        socket.off('data', onData).off('error', onError).off('close', onClose);
        idle.push(socket);
        if (status === 200 || status === 204) resolve(length);
        else reject(new Error(`HTTP ${status} for ${tile.path}`));
      };
      const onError = (error: Error) => reject(error);
      const onClose = () => {
        if (received.length > 0 || fresh) reject(new Error(`connection closed before the whole answer to ${tile.path}`));
        else resolve(fetchTile(tile, true));
      };
      socket.on('data', onData).on('error', onError).on('close', onClose);
      socket.write(requestFor(tile.path));
    });
  return (tile) => fetchTile(tile, false);
}

/** The citygrid app as main.ts serves it, with its tile cache on or off. */
async function citygridServer(url: string, cacheMb: number): Promise<http.Server> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', TILE_CACHE_MB: String(cacheMb) });
  const log = createLogger('silent');
  const events = new EventBus(url, log);
  await events.start();
  const pool = createPool(url, 4);
  return http.createServer(withFastPath(createApp({ config, pool, reads: pool, heavy: new HeavyWork(url, config), log, clock: systemClock, events }), log));
}

/** The bench tiles as citygrid caches them (gzip, ETag), by URL path. */
async function gzipTilesByPath(url: string, tiles: BenchTile[]): Promise<Map<string, { body: Buffer; etag: string }>> {
  const pool = createPool(url, 4);
  const service = new TileService(pool, tileLayerByName, 256 * 1024 * 1024);
  const responses = new Map<string, { body: Buffer; etag: string }>();
  for (const tile of tiles) responses.set(tile.path, await service.tile(tileLayerByName.get(tile.layer)!, tile, {}, 'gzip'));
  await pool.end();
  return responses;
}

/**
 * The floor: what one Node process on this machine does when a request costs nothing but node:http itself —
 * the same gzip tiles and headers, taken from a Map by URL, no routing, auth or validation.
 */
async function floorServer(url: string, tiles: BenchTile[]): Promise<http.Server> {
  const responses = await gzipTilesByPath(url, tiles);
  return http.createServer((request, response) => {
    const tile = responses.get(request.url!.split('?')[0])!;
    const headers = { 'Cache-Control': 'private, no-cache', ETag: tile.etag, Vary: 'Accept-Encoding' };
    if (tile.body.length === 0) {
      response.writeHead(204, headers).end();
      return;
    }
    response
      .writeHead(200, { ...headers, 'Content-Type': 'application/vnd.mapbox-vector-tile', 'Content-Encoding': 'gzip', 'Content-Length': tile.body.length })
      .end(tile.body);
  });
}

/** A miss as the floors run it: the same prepared statement through pg, then gzip at citygrid's level or none. */
function tileQuery(url: string, gzip: boolean): (path: string) => Promise<Buffer> {
  const pool = createPool(url, 4);
  return async (path) => {
    const [, , layerName, z, x, y] = path.split(/[/.]/);
    const layer = tileLayerByName.get(layerName)!;
    const mvt = await queryTile(pool, layer, { z: Number(z), x: Number(x), y: Number(y) }, Object.keys(layer.filters).map(() => null));
    return gzip && mvt.length > 0 ? zlib.gzipSync(mvt, { level: 1 }) : mvt;
  };
}

/**
 * The floor of a miss: what one Node process does when a miss costs nothing but node:http, the same prepared
 * tile statement through pg and (with `gzip`) compression at citygrid's level — no routing, auth, validation,
 * ETag or cache. With one client every step is serial, so this bounds what any node:http server reaches here.
 */
function uncachedFloorServer(url: string, gzip: boolean): http.Server {
  const tileAt = tileQuery(url, gzip);
  return http.createServer(async (request, response) => {
    const body = await tileAt(request.url!);
    if (body.length === 0) {
      response.writeHead(204, { 'Cache-Control': 'private, no-cache' }).end();
      return;
    }
    const headers = { 'Cache-Control': 'private, no-cache', 'Content-Type': 'application/vnd.mapbox-vector-tile', 'Content-Length': body.length };
    response.writeHead(200, gzip ? { ...headers, 'Content-Encoding': 'gzip' } : headers).end(body);
  });
}


/**
 * The floors below node:http: a bare TCP server that reads the request line, gets the gzip tile (from a Map, or
 * by running the statement) and writes a minimal HTTP/1.1 answer — no header parsing, no framework, nothing
 * Node's http module does. It relies on this bench's load generator (one whole request per packet, one at a time
 * per socket) and is no server for anything else; it shows what is left once the loopback round trip is paid.
 */
function socketFloorServer(gzipTile: (path: string) => Buffer | Promise<Buffer>): net.Server {
  return net.createServer({ noDelay: true }, (socket) => {
    socket.on('data', async (request: Buffer) => {
      const body = await gzipTile(request.toString('latin1', 4, request.indexOf(' ', 4)));
      const status = body.length === 0 ? '204 No Content' : '200 OK\r\nContent-Encoding: gzip';
      socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 ${status}\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
    });
  });
}

/** CPU seconds of another process so far, from /proc (Linux): utime + stime in clock ticks of 1/100 s. */
function procCpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Two citygrid processes sharing one port through node:cluster, each with its own cache (as N copies of the
 * server run): the primary only hands out connections and adds up its workers' CPU time.
 */
function serveTwoProcesses(url: string) {
  if (cluster.isWorker) {
    void citygridServer(url, 256).then((server) => {
      server.keepAliveTimeout = 60_000;
      server.listen(0, '127.0.0.1');
    });
    return;
  }
  process.once('message', async () => {
    const workers = [cluster.fork(), cluster.fork()];
    const [address] = await Promise.all(workers.map((worker) => new Promise<{ port: number }>((resolve) => worker.once('listening', resolve))));
    process.on('message', () => {
      const cpuSeconds = cpuSecondsOf(process.cpuUsage()) + workers.reduce((sum, worker) => sum + procCpuSeconds(worker.process.pid!), 0);
      process.send!({ cpuSeconds });
    });
    process.on('disconnect', () => {
      for (const worker of workers) worker.kill();
      process.exit(0);
    });
    process.send!({ port: address.port });
  });
}

/** Child process: one server, away from the load generator's event loop; answers CPU-time questions over IPC. */
function serve(url: string, kind: ServerKind) {
  if (kind === 'cached-2') return serveTwoProcesses(url);
  process.once('message', async (tiles: BenchTile[]) => {
    const server =
      kind === 'floor'
        ? await floorServer(url, tiles)
        : kind === 'floor-query-gzip' || kind === 'floor-query'
          ? uncachedFloorServer(url, kind === 'floor-query-gzip')
          : kind === 'floor-socket'
            ? await gzipTilesByPath(url, tiles).then((responses) => socketFloorServer((path) => responses.get(path)!.body))
            : kind === 'floor-socket-query-gzip'
              ? socketFloorServer(tileQuery(url, true))
              : await citygridServer(url, kind === 'cached' ? 256 : 0);
    if (server instanceof http.Server) server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.on('message', () => process.send!({ cpuSeconds: cpuSecondsOf(process.cpuUsage()) }));
    process.on('disconnect', () => process.exit(0));
    process.send!({ port: (server.address() as AddressInfo).port });
  });
}

function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`server process exited with ${code}`));
    child.once('exit', onExit);
    child.once('message', (message) => {
      child.off('exit', onExit);
      resolve(message as T);
    });
  });
}

async function startServer(url: string, kind: ServerKind, tiles: BenchTile[]): Promise<ServerProcess> {
  const child = fork(__filename, ['serve', kind, url], { stdio: 'inherit' });
  child.send(tiles);
  const { port } = await nextMessage<{ port: number }>(child);
  return {
    port,
    cpuSeconds: async () => {
      const answer = nextMessage<{ cpuSeconds: number }>(child);
      child.send('cpu');
      return (await answer).cpuSeconds;
    },
    stop: () => child.disconnect(),
  };
}

const format = (value: number, digits = 1) => value.toFixed(digits).padStart(9);
const micros = (value: number | null) => (value === null ? '—' : format(value, 0));

function table(runs: Run[]): string {
  const lines = ['| run | clients | tiles/s | × raw | p50 ms | p95 ms | mean bytes | max bytes | generator CPU µs/tile | server CPU µs/tile |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const run of runs) {
    const baseline = runs.find((r) => r.clients === run.clients && r.name.startsWith('raw'))!;
    lines.push(
      `| ${run.name} | ${run.clients} | ${format(run.tilesPerSecond)} | ${format(run.tilesPerSecond / baseline.tilesPerSecond, 2)} | ${format(run.p50, 2)} | ${format(run.p95, 2)} | ${format(run.meanBytes, 0)} | ${format(run.maxBytes, 0)} | ${micros(run.generatorCpu)} | ${micros(run.serverCpu)} |`,
    );
  }
  return lines.join('\n');
}

/** The issue's two speed goals per client count, each beside the floor that bounds it on this machine. */
function goalLines(runs: Run[]): string[] {
  const ratio = (name: string, clients: number) => {
    const run = runs.find((r) => r.clients === clients && r.name.startsWith(name))!;
    const raw = runs.find((r) => r.clients === clients && r.name.startsWith('raw'))!;
    return run.tilesPerSecond / raw.tilesPerSecond;
  };
  const verdict = (value: number, goal: number) => `${value.toFixed(2)}× (goal ≥ ${goal}×: ${value >= goal ? 'met' : 'NOT met'})`;
  return [1, 4].flatMap((clients) => [
    `${clients} client(s): uncached / raw ${verdict(ratio('server, cache off', clients), 0.9)}; miss floors: node:http ${ratio('extra: miss floor, bare node:http + the same statement + gzip', clients).toFixed(2)}× with gzip, ${ratio('extra: miss floor, bare node:http + the same statement, no gzip', clients).toFixed(2)}× without; bare TCP socket with gzip ${ratio('extra: miss floor, bare TCP socket', clients).toFixed(2)}×`,
    `${clients} client(s): cached / raw ${verdict(ratio('server, cached', clients), 30)}; floors: node:http ${ratio('extra: floor, bare node:http', clients).toFixed(2)}×, bare TCP socket ${ratio('extra: floor, bare TCP socket', clients).toFixed(2)}×`,
  ]);
}

async function main() {
  if (process.argv[2] === 'serve') return serve(process.argv[4], process.argv[3] as ServerKind);
  const url = await resolveDatabaseUrl(loadConfig({ ...process.env, LOG_LEVEL: 'silent' }));
  const pool = createPool(url, 4);
  await migrate(pool);
  if ((await countDemoRows(pool)).grids === 0) {
    process.stdout.write('loading the demo city...\n');
    await loadDemoCity(pool, { progress: process.stdout.isTTY ?? false });
  }
  const loadBefore = os.loadavg();
  const tiles = await randomTiles(pool);
  // An admin reads every tile layer: a planner may not read the risk tiles, which the random tiles include.
  const { id: tokenId, token } = await createToken(pool, { role: 'admin', label: 'bench tiles', gridIds: [] });
  const raw: Fetch = (tile) => {
    const layer = tileLayerByName.get(tile.layer)!;
    return queryTile(pool, layer, tile, Object.keys(layer.filters).map(() => null)).then((b) => b.length);
  };

  const servers = await Promise.all(
    (['uncached', 'cached', 'cached-2', 'floor', 'floor-socket', 'floor-query-gzip', 'floor-query', 'floor-socket-query-gzip'] as const).map((kind) =>
      startServer(url, kind, tiles),
    ),
  );
  const [uncachedServer, cachedServer, cachedTwice, floor, socketFloor, queryFloorGzip, queryFloor, socketQueryFloor] = servers;
  const modes: Mode[] = [
    { name: 'raw SQL (pg, no HTTP)', repeats: 1, fetch: raw, server: null },
    { name: 'server, cache off', repeats: 1, fetch: httpFetcher(uncachedServer.port, token), server: uncachedServer },
    { name: 'server, cached', repeats: cachedRepeats, fetch: httpFetcher(cachedServer.port, token), server: cachedServer },
    { name: 'extra: server, cached, 2 processes (node:cluster)', repeats: cachedRepeats, fetch: httpFetcher(cachedTwice.port, token), server: cachedTwice },
    { name: 'extra: floor, bare node:http + Map of the same gzip tiles', repeats: cachedRepeats, fetch: httpFetcher(floor.port, token), server: floor },
    { name: 'extra: floor, bare TCP socket (no node:http) + Map of the same gzip tiles', repeats: cachedRepeats, fetch: httpFetcher(socketFloor.port, token), server: socketFloor },
    { name: 'extra: miss floor, bare node:http + the same statement + gzip', repeats: 1, fetch: httpFetcher(queryFloorGzip.port, token), server: queryFloorGzip },
    { name: 'extra: miss floor, bare node:http + the same statement, no gzip', repeats: 1, fetch: httpFetcher(queryFloor.port, token), server: queryFloor },
    { name: 'extra: miss floor, bare TCP socket (no node:http) + the same statement + gzip', repeats: 1, fetch: httpFetcher(socketQueryFloor.port, token), server: socketQueryFloor },
  ];

  // Warm-up: plans prepared on every pooled connection, pages in shared buffers, the caches filled (with 4
  // clients, 10 passes: each of the 2 processes sees every tile), code compiled.
  process.stdout.write('warming up...\n');
  for (const mode of modes) await measure(mode, 4, tiles);
  for (const mode of modes.filter((m) => m.repeats > 1)) await measure(mode, 1, tiles);

  // The machine is shared: modes alternate within each round, and each mode reports its median round.
  const runs: Run[] = [];
  for (const clients of [1, 4]) {
    const rounds = new Map<string, Run[]>(modes.map(({ name }) => [name, []]));
    for (let round = 0; round < roundCount; round++) {
      for (const mode of modes) rounds.get(mode.name)!.push(await measure(mode, clients, tiles));
    }
    for (const { name } of modes) runs.push(rounds.get(name)!.sort((a, b) => a.tilesPerSecond - b.tilesPerSecond)[Math.floor(roundCount / 2)]);
    process.stdout.write(`measured ${clients} client(s), ${roundCount} rounds\n`);
  }

  const byLayer = new Map<string, number>();
  for (const tile of tiles) byLayer.set(tile.layer, (byLayer.get(tile.layer) ?? 0) + 1);
  console.log(`\n${tiles.length} tiles, z10–z16, layers: ${[...byLayer].map(([l, n]) => `${l} ${n}`).join(', ')}`);
  console.log(`cached and floor rounds go over the list ${cachedRepeats} times; raw bytes are uncompressed MVT, server bytes gzip on the wire`);
  console.log(`${os.cpus().length} cores, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} after\n`);
  console.log(table(runs));
  console.log(`\n${goalLines(runs).join('\n')}`);
  const largest = Math.max(...runs.filter((r) => r.name.startsWith('raw')).map((r) => r.maxBytes));
  console.log(`\nlargest tile ${Math.round(largest / 1024)} KB uncompressed: ${largest <= sizeBudget ? 'within' : 'OVER'} the 500 KB budget`);

  await revokeToken(pool, tokenId);
  for (const server of servers) server.stop();
  await pool.end();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
