// npm run bench:incidents [-- --seconds 30 --connections 50 --rows 100000 --profile DIR]
// Single-report latency under concurrent clients (POST /api/incidents, also with an Idempotency-Key per request) and bulk import rate (COPY path), on a
// private database with the small demo city. Prints result, goal and ratio. The server runs in a child process,
// as in a deployment, so the load generator (autocannon, this process) does not share its event loop. `--profile DIR`
// writes the server's V8 CPU profile there (open it in Chrome DevTools) to see where a report's time goes.
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createApp } from '../server/app';
import { createToken } from '../server/auth/tokens';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { HeavyWork } from '../server/db/heavy-work';
import { createPool } from '../server/db/pool';
import { systemClock } from '../server/deps';
import { EventBus } from '../server/events/bus';
import { importIncidents } from '../server/incidents/import';
import { withFastPath } from '../server/http/fast-path';
import { createLogger } from '../server/logger';
import { loadDemoCity } from '../data/demo/load';
import { testCityOptions } from '../data/demo/options';
import { scratchDatabase } from './scratch-database';

const { values } = parseArgs({ allowPositionals: true, options: { seconds: { type: 'string', default: '30' }, connections: { type: 'string', default: '50' }, rows: { type: 'string', default: '100000' }, profile: { type: 'string' } } });
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const importRows = Number(values.rows);
const categories = ['环境卫生', '违章建筑', '群租', '窨井盖', '消防隐患', '矛盾纠纷', '占道经营', '道路破损', '噪音扰民', '绿化养护', '路灯故障', '违规停车'];

/** Child process: the app as main.ts serves it, on the bench database; tells the parent its port. */
async function serve(url: string): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const log = createLogger('silent');
  const events = new EventBus(url, log);
  await events.start();
  const pool = createPool(url, config.PG_POOL_MAX);
  const server = http.createServer(withFastPath(createApp({ config, pool, reads: pool, heavy: new HeavyWork(url, config), log, clock: systemClock, events }), log));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.on('disconnect', () => {
    server.close();
    void events.stop().then(() => pool.end()).then(() => process.exit(0));
  });
  process.send!({ port: (server.address() as AddressInfo).port });
}

async function startServer(url: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const child: ChildProcess = fork(__filename, ['serve', url], {
    stdio: 'inherit',
    execArgv: values.profile ? [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : process.execArgv,
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
    child.once('message', (message) => resolve((message as { port: number }).port));
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}

async function main(): Promise<void> {
  if (process.argv[2] === 'serve') return serve(process.argv[3]);
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const url = await scratchDatabase(await resolveDatabaseUrl(config), 'citygrid_bench_incidents');
  const pool = createPool(url, config.PG_POOL_MAX);
  await migrate(pool);
  console.log('loading the small demo city…');
  await loadDemoCity(pool, { ...testCityOptions, progress: false });
  const points = (await pool.query<{ lon: number; lat: number }>(
    `SELECT ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat FROM grids g, ST_Dump(ST_GeneratePoints(g.geom, 40, 7)) p WHERE g.level = 4`,
  )).rows;

  const server = await startServer(url);
  const { token } = await createToken(pool, { role: 'hotline', label: 'bench' });
  let n = 0;
  /**
   * Closed-loop clients, each repeating its own report (so most reports are near-duplicates of a first one);
   * `keyed`: each request with a new Idempotency-Key, as a retrying client sends them.
   */
  async function measureReports(clients: number, keyed = false) {
    console.log(`POST /api/incidents: ${clients} client(s)${keyed ? ' with Idempotency-Keys' : ''} for ${seconds} s…`);
    const latencies: number[] = [];
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
      const run = autocannon({
        url: `http://127.0.0.1:${server.port}/api/incidents`,
        connections: clients,
        duration: seconds,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        requests: keyed ? [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'idempotency-key': randomUUID() } }) }] : undefined,
        setupClient(client) {
          client.setBody(JSON.stringify({ category: categories[n % categories.length], location: { type: 'Point', coordinates: [points[n % points.length].lon, points[n % points.length].lat] }, source: 'app' }));
          n++;
        },
      }, (error, done) => (error ? reject(error) : resolve(done)));
      run.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
    });
    latencies.sort((a, b) => a - b);
    const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    return { clients, keyed, p50: percentile(0.5), p95: percentile(0.95), perSecond: Math.round(result.requests.average), non2xx: result.non2xx };
  }
  const single = await measureReports(1);
  const loaded = await measureReports(connections);
  const keyedLoad = await measureReports(connections, true);
  await server.stop();

  // Bulk import: a synthetic CSV of the same city through the COPY path (grid and H3 per row).
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'incidents-bench-')), 'history.csv');
  const lines = ['id,time,lon,lat,category,status,closed'];
  for (let i = 0; i < importRows; i++) {
    const p = points[(i * 7919) % points.length];
    const reported = new Date(Date.UTC(2024, 0, 1) + i * 60_000);
    lines.push(`bench-${i},${reported.toISOString()},${p.lon},${p.lat},${categories[i % categories.length]},${i % 10 ? 'closed' : 'open'},${i % 10 ? new Date(reported.getTime() + 36e5 * 20).toISOString() : ''}`);
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  console.log(`importing ${importRows} rows…`);
  const imported = await importIncidents(pool, [file], { id: 'id', time: 'time', lon: 'lon', lat: 'lat', category: 'category', status: 'status', closed: 'closed', timeFormat: 'iso', timeZone: 'Asia/Shanghai', closedValues: ['closed'] });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  await pool.end();

  const rate = imported.inserted / imported.seconds;
  const latencyRows = (run: Awaited<ReturnType<typeof measureReports>>) => {
    const clients = `${run.clients} client(s)${run.keyed ? ', Idempotency-Key' : ''}`;
    return [
      { metric: `report latency p50 (ms), ${clients}`, goal: '—', result: run.p50.toFixed(1), ratio: '—' },
      { metric: `report latency p95 (ms), ${clients}`, goal: '< 30', result: run.p95.toFixed(1), ratio: (30 / run.p95).toFixed(2) },
      { metric: `reports/s, ${clients}`, goal: '—', result: run.perSecond, ratio: '—' },
      { metric: `non-2xx responses, ${clients}`, goal: '0', result: run.non2xx, ratio: '—' },
    ];
  };
  const rows = [
    ...latencyRows(single),
    ...latencyRows(loaded),
    ...latencyRows(keyedLoad),
    { metric: `reports/s with keys vs without, ${connections} clients`, goal: '≥ 0.9', result: (keyedLoad.perSecond / loaded.perSecond).toFixed(2), ratio: (keyedLoad.perSecond / loaded.perSecond / 0.9).toFixed(2) },
    { metric: 'bulk import (rows/s)', goal: '≥ 5000', result: Math.round(rate), ratio: (rate / 5000).toFixed(2) },
  ];
  console.table(rows);
  console.log('ratio = goal / result for latency, result / goal for rates: above 1 meets the goal.');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
