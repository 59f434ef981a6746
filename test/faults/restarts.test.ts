import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createToken } from '../../server/auth/tokens';
import { ensureEmbeddedCluster, type EmbeddedClusterOptions, restartEmbeddedCluster, stopEmbeddedCluster } from '../../server/db/embedded';
import { migrate } from '../../server/db/migrate';
import { createPool, ensureDatabaseExists, type Pool } from '../../server/db/pool';
import { loadDemoCity, testCityOptions } from '../../data/demo/load';
import { freePort } from '../support/ports';
import { startSupervisor, type Supervisor, waiter } from '../support/supervisor';

/*
 * The acceptance test of issue 13: clients keep reporting incidents with Idempotency-Keys while PostgreSQL is
 * restarted, or the server process is killed, three times; afterwards every client retries what got no answer
 * with the same key, and the database must hold every report exactly once. The server runs as in production: a
 * real process under the supervisor (server/supervisor.ts). PostgreSQL is a throw-away cluster of this file's own
 * (initdb in a temp folder, its own port), so restarting it disturbs no other test file running meanwhile.
 */

const clients = 20;
const faults = 3;
/** How long the load runs at least; the faults come one after another inside it. */
const loadMs = 8_000;

interface Report {
  key: string;
  description: string;
  /** The incident id of the answer (first answer or replay). */
  id?: number;
}

interface LoadResult {
  reports: Report[];
  statuses: Map<number, number>;
  /** 503 answers without Retry-After or not problem+json. */
  bad503: number;
  networkErrors: number;
}

/**
 * 20 clients reporting one incident after another, each with its own Idempotency-Key, until stopped. A report
 * without an answer (503, a refused or broken connection, a timeout) is kept for the retry round; a 503 makes
 * the client pause a little, as its Retry-After asks (shortened: the test is bounded).
 */
function startLoad(baseUrl: string, token: string, location: [number, number], run: string) {
  const result: LoadResult = { reports: [], statuses: new Map(), bad503: 0, networkErrors: 0 };
  const progress = waiter();
  let stopped = false;
  let acknowledged = 0;

  async function send(report: Report): Promise<void> {
    try {
      const response = await fetch(`${baseUrl}/api/incidents`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': report.key },
        body: JSON.stringify({ category: '窨井盖', source: 'app', description: report.description, location: { type: 'Point', coordinates: location } }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = await response.text();
      result.statuses.set(response.status, (result.statuses.get(response.status) ?? 0) + 1);
      if (response.status === 201) {
        report.id = (JSON.parse(body) as { id: number }).id;
        acknowledged += 1;
        progress.changed();
        return;
      }
      if (response.status === 503) {
        if (response.headers.get('retry-after') !== '5' || !response.headers.get('content-type')?.startsWith('application/problem+json')) result.bad503 += 1;
      }
    } catch {
      result.networkErrors += 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  const finished = Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let n = 0; !stopped; n++) {
        const report: Report = { key: `${run}-${client}-${n}`, description: `fault ${run} ${client} ${n}` };
        result.reports.push(report);
        await send(report);
      }
    }),
  );
  return {
    acknowledged: () => acknowledged,
    /** Waits until `more` reports more than now have been acknowledged: the server works again. */
    async progressed(more: number, what: string): Promise<void> {
      const target = acknowledged + more;
      await progress.until(() => acknowledged >= target, what);
    },
    async stop(): Promise<LoadResult> {
      stopped = true;
      await finished;
      return result;
    },
    /** Every client sends its unanswered reports again, with the same keys, until each has its answer. */
    async retryUnanswered(): Promise<void> {
      const deadline = performance.now() + 60_000;
      for (let open = result.reports.filter((report) => report.id === undefined); open.length > 0; open = open.filter((report) => report.id === undefined)) {
        if (performance.now() > deadline) throw new Error(`${open.length} reports still unanswered after a minute of retries`);
        await Promise.all(open.map((report) => send(report)));
      }
    },
  };
}

/** Each report's incidents in the database, by description. */
async function storedReports(pool: Pool, run: string): Promise<Map<string, number[]>> {
  const { rows } = await pool.query<{ description: string; ids: number[] }>(
    'SELECT description, array_agg(id ORDER BY id)::int[] AS ids FROM incidents WHERE description LIKE $1 GROUP BY description',
    [`fault ${run} %`],
  );
  return new Map(rows.map((row) => [row.description, row.ids]));
}

function expectEachStoredOnce(reports: Report[], stored: Map<string, number[]>): void {
  const wrong = reports.filter((report) => stored.get(report.description)?.length !== 1 || stored.get(report.description)![0] !== report.id);
  expect(wrong.map((report) => ({ ...report, stored: stored.get(report.description) }))).toEqual([]);
  expect(stored.size).toBe(reports.length);
}

describe('the server survives database restarts and kills, and retries with Idempotency-Keys store each report once', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-faults-'));
  let cluster: EmbeddedClusterOptions;
  let pool: Pool;
  let serverEnv: NodeJS.ProcessEnv;
  let token: string;
  let location: [number, number];

  beforeAll(async () => {
    cluster = { home, port: await freePort(), database: 'citygrid_faults', log: () => undefined };
    const url = ensureEmbeddedCluster(cluster);
    await ensureDatabaseExists(url);
    pool = createPool(url, 2);
    await migrate(pool);
    await loadDemoCity(pool, { ...testCityOptions, buildings: 500, people: 500, incidents: 200, accidents: 50, patrolWorkers: 1, patrolDays: 1, progress: false });
    token = (await createToken(pool, { role: 'hotline', label: 'fault test', gridIds: [] })).token;
    const { rows } = await pool.query<{ lon: number; lat: number }>(
      'SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM grids WHERE level = 4 ORDER BY id LIMIT 1) g',
    );
    location = [rows[0].lon, rows[0].lat];
    serverEnv = { DATABASE_URL: url, HOST: '127.0.0.1', PORT: String(await freePort()), LOG_LEVEL: 'info', CITYGRID_HOME: home, UPLOAD_DIR: path.join(home, 'uploads') };
  }, 180_000);

  afterAll(async () => {
    await pool?.end();
    if (cluster) stopEmbeddedCluster(cluster);
    fs.rmSync(home, { recursive: true, force: true });
  }, 60_000);

  /**
   * Runs the supervised server under the load of startLoad, injects `faults` faults one after another (each once
   * the server is seen working again), lets the clients retry what got no answer, and returns what they saw.
   */
  async function underFaults(run: string, inject: (supervisor: Supervisor, fault: number) => Promise<void>) {
    const supervisor = startSupervisor(serverEnv);
    try {
      await supervisor.listened(1);
      const load = startLoad(`http://127.0.0.1:${serverEnv.PORT}`, token, location, run);
      const started = performance.now();
      await load.progressed(40, 'the first reports');
      for (let fault = 1; fault <= faults; fault++) {
        await inject(supervisor, fault);
        await load.progressed(40, `reports after fault ${fault}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, loadMs - (performance.now() - started))));
      const result = await load.stop();
      await load.retryUnanswered();
      return { supervisor, result, stored: await storedReports(pool, run) };
    } finally {
      await supervisor.stop();
    }
  }

  it('keeps one server process through three PostgreSQL restarts (503 + Retry-After meanwhile); retried reports are stored once', async () => {
    const { supervisor, result, stored } = await underFaults('restart', () => restartEmbeddedCluster(cluster));
    expect(supervisor.exits()).toEqual([]);
    expect(supervisor.listening()).toHaveLength(1);
    // Only created (201) and database-unavailable (503, always with Retry-After) answers, and some of the latter.
    expect([...result.statuses.keys()].sort()).toEqual([201, 503]);
    expect(result.bad503).toBe(0);
    expect(result.networkErrors).toBe(0);
    expectEachStoredOnce(result.reports, stored);
  }, 240_000);

  it('restarts the server after three SIGKILLs; retried reports are stored once', async () => {
    const { supervisor, result, stored } = await underFaults('kill', async (running, fault) => {
      process.kill(running.listening()[fault - 1].pid!, 'SIGKILL');
      await running.listened(fault + 1);
    });
    expect(supervisor.exits().map((line) => line.signal)).toEqual(['SIGKILL', 'SIGKILL', 'SIGKILL']);
    expect(new Set(supervisor.listening().map((line) => line.pid)).size).toBe(faults + 1);
    expect(result.networkErrors).toBeGreaterThan(0);
    expect([...result.statuses.keys()].filter((status) => status !== 201 && status !== 503)).toEqual([]);
    expect(result.bad503).toBe(0);
    expectEachStoredOnce(result.reports, stored);
  }, 240_000);
});
