/**
 * npm run bench:tiles — the same 500 random tiles (z10–z16 over the demo city, a random layer each) measured as
 * (a) the tile SQL through pg without HTTP, (b) the server with its cache off, (c) the server with a warm cache,
 * each with 1 and 4 concurrent clients, median of 5 interleaved rounds. The servers run in a child process, as
 * in a deployment; the load generator is this process. Needs DATABASE_URL pointing at a database holding the full demo city.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import seedrandom from 'seedrandom';
import { createApp } from '../server/app';
import { createToken, revokeToken } from '../server/auth/tokens';
import { loadConfig } from '../server/config';
import { createPool, type Pool } from '../server/db/pool';
import { systemClock } from '../server/deps';
import { EventBus } from '../server/events/bus';
import { createLogger } from '../server/logger';
import { sourceAtZoom, tileLayerByName, tileLayers } from '../server/tiles/registry';
import { queryTile } from '../server/tiles/service';

const tileCount = 500;
const roundCount = 5;
const sizeBudget = 500 * 1024;

interface BenchTile {
  layer: string;
  z: number;
  x: number;
  y: number;
}

interface Sample {
  ms: number;
  bytes: number;
}

interface Run {
  name: string;
  clients: number;
  tilesPerSecond: number;
  p50: number;
  p95: number;
  meanBytes: number;
  maxBytes: number;
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
    const layers = tileLayers.filter((layer) => sourceAtZoom(layer, z));
    const layer = layers[Math.floor(random() * layers.length)].name;
    const [x, y] = tileAt(west + random() * (east - west), south + random() * (north - south), z);
    return { layer, z, x, y };
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `clients` loops pulling the next tile from one shared list until all are done. */
async function measure(name: string, clients: number, tiles: BenchTile[], fetchTile: (tile: BenchTile) => Promise<number>): Promise<Run> {
  const samples: Sample[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < tiles.length) {
        const tile = tiles[next++];
        const t0 = performance.now();
        const bytes = await fetchTile(tile);
        samples.push({ ms: performance.now() - t0, bytes });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    name,
    clients,
    tilesPerSecond: samples.length / seconds,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    meanBytes: samples.reduce((sum, s) => sum + s.bytes, 0) / samples.length,
    maxBytes: Math.max(...samples.map((s) => s.bytes)),
  };
}

async function startServer(url: string, cacheMb: number, pool: Pool) {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', TILE_CACHE_MB: String(cacheMb) });
  const log = createLogger('silent');
  const events = new EventBus(url, log);
  await events.start();
  const server = http.createServer(createApp({ config, pool, log, clock: systemClock, events }).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await events.stop();
    },
  };
}

/** Raw HTTP with keep-alive, no decompression: the bytes counted are the bytes on the wire. */
function httpFetcher(port: number, token: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  return (tile: BenchTile) =>
    new Promise<number>((resolve, reject) => {
      const request = http.get(
        { host: '127.0.0.1', port, agent, path: `/tiles/${tile.layer}/${tile.z}/${tile.x}/${tile.y}.mvt`, headers: { Authorization: `Bearer ${token}`, 'Accept-Encoding': 'gzip' } },
        (response) => {
          let bytes = 0;
          response.on('data', (chunk: Buffer) => (bytes += chunk.length));
          response.on('end', () => (response.statusCode === 200 || response.statusCode === 204 ? resolve(bytes) : reject(new Error(`HTTP ${response.statusCode}`))));
        },
      );
      request.on('error', reject);
    });
}

const format = (value: number, digits = 1) => value.toFixed(digits).padStart(9);

/** Child process: both servers, as a deployment would run them, away from the load generator's event loop. */
async function serve(url: string) {
  const pool = createPool(url, 4);
  const servers = [await startServer(url, 0, pool), await startServer(url, 256, pool)];
  process.send!({ uncached: servers[0].port, cached: servers[1].port });
  process.on('disconnect', () => {
    void Promise.all(servers.map((server) => server.close())).then(() => pool.end());
  });
}

async function startServers(): Promise<{ ports: { uncached: number; cached: number }; stop: () => void }> {
  const child = fork(__filename, ['serve'], { stdio: 'inherit' });
  const ports = await new Promise<{ uncached: number; cached: number }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { uncached: number; cached: number }));
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
  });
  return { ports, stop: () => child.disconnect() };
}

async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('set DATABASE_URL to the database with the full demo city');
  if (process.argv[2] === 'serve') return serve(url);
  const pool = createPool(url, 4);
  const tiles = await randomTiles(pool);
  const { id: tokenId, token } = await createToken(pool, { role: 'planner', label: 'bench tiles', gridIds: [] });
  const raw = (tile: BenchTile) => queryTile(pool, tileLayerByName.get(tile.layer)!, tile, Object.keys(tileLayerByName.get(tile.layer)!.filters).map(() => null)).then((b) => b.length);

  const servers = await startServers();
  const uncached = httpFetcher(servers.ports.uncached, token);
  const cached = httpFetcher(servers.ports.cached, token);

  // Warm-up: plans prepared on every pooled connection, pages in shared buffers, the cache filled once.
  process.stdout.write('warming up...\n');
  for (let i = 0; i < 2; i++) await measure('warm', 4, tiles, raw);
  await measure('warm', 4, tiles, uncached);
  await measure('warm', 1, tiles, cached);

  // The machine is shared: modes alternate within each round, and each mode reports its median round.
  const modes: Array<[string, (tile: BenchTile) => Promise<number>]> = [
    ['raw SQL (pg, no HTTP)', raw],
    ['server, cache off', uncached],
    ['server, cached', cached],
  ];
  const runs: Run[] = [];
  for (const clients of [1, 4]) {
    const rounds = new Map<string, Run[]>(modes.map(([name]) => [name, []]));
    for (let round = 0; round < roundCount; round++) {
      for (const [name, fetchTile] of modes) rounds.get(name)!.push(await measure(name, clients, tiles, fetchTile));
    }
    for (const [name] of modes) runs.push(rounds.get(name)!.sort((a, b) => a.tilesPerSecond - b.tilesPerSecond)[Math.floor(roundCount / 2)]);
    process.stdout.write(`measured ${clients} client(s), ${roundCount} rounds\n`);
  }

  const header = `| run | clients | tiles/s | × raw | p50 ms | p95 ms | mean bytes | max bytes |`;
  const lines = [header, '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const run of runs) {
    const baseline = runs.find((r) => r.clients === run.clients && r.name.startsWith('raw'))!;
    lines.push(
      `| ${run.name} | ${run.clients} | ${format(run.tilesPerSecond)} | ${format(run.tilesPerSecond / baseline.tilesPerSecond, 2)} | ${format(run.p50, 2)} | ${format(run.p95, 2)} | ${format(run.meanBytes, 0)} | ${format(run.maxBytes, 0)} |`,
    );
  }
  const byLayer = new Map<string, number>();
  for (const tile of tiles) byLayer.set(tile.layer, (byLayer.get(tile.layer) ?? 0) + 1);
  console.log(`\n${tiles.length} tiles, z10–z16, layers: ${[...byLayer].map(([l, n]) => `${l} ${n}`).join(', ')}`);
  console.log('raw bytes are uncompressed MVT; server bytes are gzip on the wire\n');
  console.log(lines.join('\n'));
  const largest = Math.max(...runs.filter((r) => r.name.startsWith('raw')).map((r) => r.maxBytes));
  console.log(`\nlargest tile ${Math.round(largest / 1024)} KB uncompressed: ${largest <= sizeBudget ? 'within' : 'OVER'} the 500 KB budget`);

  await revokeToken(pool, tokenId);
  servers.stop();
  await pool.end();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
