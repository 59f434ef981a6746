import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { useTestApp } from '../support/app';
import { createPool, type Pool } from '../../server/db/pool';
import type { TestDatabase } from '../support/db';
import { stalledGet } from '../support/stalled-client';

/**
 * Copies of every building, moved far outside the city (no grid holds them): the buildings export grows to
 * ≈ 15 MB, more than the kernel buffers of a client that does not read, so its server really has to wait.
 */
async function growBuildingsLayer(db: TestDatabase, copies: number): Promise<void> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('citygrid.bulk', 'on', true)`);
    await client.query(
      `INSERT INTO buildings (code, address, use, floors, households, rental_units, geom)
       SELECT b.code || '-copy-' || n, b.address, b.use, b.floors, b.households, b.rental_units, ST_Translate(b.geom, 2, 0)
       FROM buildings b, generate_series(1, $1) n`,
      [copies],
    );
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/**
 * The real app with these settings on a real port (raw sockets need one) and a buildings layer of ≈ 15 MB. `running`
 * counts statements of its database running now whose text matches an ILIKE pattern, on a connection of its own
 * (the app's pool is the one being starved); `openStalled` opens a client that does not read, closed after the test
 * whatever happened, so that a failed test leaves nothing holding the app's connections.
 */
function heavySuite(env: NodeJS.ProcessEnv) {
  const suite = useTestApp({ env });
  let server: http.Server;
  let watcher: Pool;
  let base = '';
  const stalledClients: Array<ReturnType<typeof stalledGet>> = [];
  const responses: http.ServerResponse[] = [];
  afterEach(() => stalledClients.splice(0).forEach((client) => client.destroy()));
  beforeAll(async () => {
    await growBuildingsLayer(suite.db, 25);
    watcher = createPool(suite.db.url, 1);
    server = http.createServer(suite.api.listener);
    server.on('request', (_request: http.IncomingMessage, response: http.ServerResponse) => responses.push(response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await watcher.end();
  });
  const running = async (pattern: string): Promise<number> => {
    const { rows } = await watcher.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query ILIKE $1`,
      [pattern],
    );
    return rows[0].n;
  };
  const openStalled = (path: string, headers: Record<string, string>) => {
    const client = stalledGet(base, path, headers);
    stalledClients.push(client);
    return client;
  };
  /** The server's answers to requests for this path (headersSent, statusCode, writableFinished tell how far). */
  const answersTo = (path: string) => responses.filter((response) => response.req.url === path);
  return { suite, base: () => base, running, openStalled, answersTo };
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One GET's status and milliseconds; a request that takes longer than 2 s counts as failed (status 0). */
function timedGet(agent: http.Agent, url: string, headers: Record<string, string>): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const request = http.get(url, { agent, headers, timeout: 2000 }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, ms: performance.now() - started }));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
  });
}

describe('heavy work cannot starve the pool', () => {
  const { suite, base, running, openStalled, answersTo } = heavySuite({ HEAVY_QUEUE_WAIT_S: '2', CLIENT_STALL_TIMEOUT_S: '60' });

  it('keeps GET /api/grids/:id at p95 < 100 ms while 8 exports stall and 2 rebalances of 2,000+ grids run; the excess waits, then 503', async () => {
    const { db, api } = suite;
    const community = (await db.pool.query<{ id: number }>('SELECT id FROM grids WHERE level = 3 ORDER BY id LIMIT 1')).rows[0].id;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const grid = `${base()}/api/grids/${community}`;
    // Not measured: opens the keep-alive connection and warms the route, as any client that polls has.
    expect((await timedGet(agent, grid, api.auth('commander'))).status).toBe(200);

    const exportPath = '/api/layers/buildings/export?format=csv';
    const exports = Array.from({ length: 8 }, () => openStalled(exportPath, api.auth('admin')));
    let answeredRebalances = 0;
    const rebalances = [1, 2].map(() =>
      api.request
        .post(`/api/grids/${community}/rebalance`)
        .set(api.auth('planner'))
        .send({ targetHouseholds: 1 })
        .then((response) => {
          answeredRebalances += 1;
          return response;
        }),
    );
    // Today's code never gets a rebalance to run: the stalled exports hold every connection (it fails below).
    const rebalanceUnderWay = async () => (await running('%box_cell%')) >= 1 || answeredRebalances === 2;
    const streaming = () => answersTo(exportPath).filter((answer) => answer.headersSent && answer.statusCode === 200 && !answer.writableFinished).length;
    await waitFor('exports and a rebalance to be under way', async () => streaming() >= 2 && (await rebalanceUnderWay()), 20_000);

    const samples: Array<{ status: number; ms: number }> = [];
    // Stops early once 3 requests failed (no answer within 2 s): the p95 is lost then, and today's code would take minutes.
    for (let i = 0; i < 50 && samples.filter((sample) => sample.status !== 200).length < 3; i++) {
      samples.push(await timedGet(agent, grid, api.auth('commander')));
    }
    agent.destroy();
    const latencies = samples.map((sample) => sample.ms).sort((a, b) => a - b);
    const p95 = latencies[Math.ceil(latencies.length * 0.95) - 1];
    expect({ statuses: [...new Set(samples.map((sample) => sample.status))], count: samples.length }).toEqual({ statuses: [200], count: 50 });
    expect(p95).toBeLessThan(100);
    // Meanwhile the stalled exports held their connections, of the heavy-work pool (the stall limit here is 60 s).
    expect(api.heavy.pool.totalCount - api.heavy.pool.idleCount).toBeGreaterThanOrEqual(2);

    // Two exports stream (EXPORT_CONCURRENCY); the other six did not get a turn within HEAVY_QUEUE_WAIT_S.
    const turnedAway = () => answersTo(exportPath).filter((answer) => answer.statusCode === 503 && answer.writableFinished).length;
    await waitFor('the exports without a turn to be answered', async () => turnedAway() === 6, 10_000);
    const answers = await Promise.all(exports.map((client) => client.readAll()));
    const busy = answers.filter((answer) => answer.status === 503);
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(2);
    expect(busy).toHaveLength(6);
    for (const answer of busy) {
      expect(answer.headers['retry-after']).toBe('5');
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(answer.body).toContain('"type":"server-busy"');
    }
    // One rebalance runs (REBALANCE_CONCURRENCY), the other is turned away with 503.
    const statuses = (await Promise.all(rebalances)).map((response) => response.status).sort();
    expect(statuses).toEqual([200, 503]);
  }, 180_000);

  it('answers 503 with Retry-After, not 500, when no connection of the main pool becomes free in time', async () => {
    const { db, api } = suite;
    // The app's main pool is this one (4 connections): every connection held elsewhere.
    const held = await Promise.all(Array.from({ length: 4 }, () => db.pool.connect()));
    try {
      const response = await api.request.get('/api/grids/1').set(api.auth('commander'));
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.body).toMatchObject({ type: 'server-busy', status: 503 });
    } finally {
      held.forEach((client) => client.release());
    }
  });
});

describe('a stalled client holds no connection for longer than CLIENT_STALL_TIMEOUT_S', () => {
  const { suite, base, running, openStalled } = heavySuite({ CLIENT_STALL_TIMEOUT_S: '1', EXPORT_CONCURRENCY: '1' });

  it('disconnects an export nobody reads, and the next export gets the turn and the connection', async () => {
    const { db, api } = suite;
    const checkedOut = () => api.heavy.pool.totalCount - api.heavy.pool.idleCount;
    for (const format of ['csv', 'geojson']) {
      const stalled = openStalled(`/api/layers/buildings/export?format=${format}`, api.auth('admin'));
      await waitFor('the export to take a connection', async () => checkedOut() === 1, 10_000);
      await waitFor('the stalled export to give its connection back', async () => checkedOut() === 0, 10_000);
      const answer = await stalled.readAll();
      expect(answer.status).toBe(200);
      // Cut off: the chunked body has no final chunk.
      expect(answer.body.length).toBeGreaterThan(0);
      expect(answer.body.endsWith('0\r\n\r\n')).toBe(false);
    }
    const whole = await api.request.get('/api/layers/buildings/export?format=csv').set(api.auth('admin')).expect(200);
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM buildings');
    expect(whole.text.trim().split('\n')).toHaveLength(rows[0].n + 1);
  }, 60_000);

  it('disconnects an import whose upload stops, and stores nothing', async () => {
    const { db, api } = suite;
    const before = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM hazards')).rows[0].n;
    const { hostname, port } = new URL(base());
    const socket = net.connect(Number(port), hostname);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    const head = 'name,kind,risk_level,lon,lat\n加油站,gas_station,3,120.71,31.31\n';
    socket.write(
      `POST /api/layers/hazards/import HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: ${api.auth('admin').Authorization}\r\n` +
        `Content-Type: text/csv\r\nContent-Length: 1000000\r\n\r\n${head}`,
    );
    await closed;
    await waitFor('the import statement to end', async () => (await running('COPY%')) === 0, 10_000);
    expect((await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM hazards')).rows[0].n).toBe(before);
  }, 30_000);
});

describe('heavy work has a statement_timeout', () => {
  const suite = useTestApp({ env: { HEAVY_STATEMENT_TIMEOUT_S: '0.2' } });

  it('answers a rebalance that runs past it 503 with Retry-After, having changed nothing', async () => {
    const { db, api } = suite;
    const community = (await db.pool.query<{ id: number; version: number }>('SELECT id, version FROM grids WHERE level = 3 ORDER BY id LIMIT 1')).rows[0];
    const response = await api.request
      .post(`/api/grids/${community.id}/rebalance`)
      .set(api.auth('planner'))
      .set('If-Match', `"${community.version}"`)
      .send({ targetHouseholds: 1, commit: true });
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.body).toMatchObject({ type: 'statement-timeout', status: 503 });
    const after = (await db.pool.query<{ version: number }>('SELECT version FROM grids WHERE id = $1', [community.id])).rows[0];
    expect(after.version).toBe(community.version);
  });
});
