import pg from 'pg';
import { withTransaction } from '../../server/db/pool';
import { toProblem } from '../../server/http/problem';
import { useTestApp } from '../support/app';
import { databaseUrl } from '../support/env';

/**
 * What a PostgreSQL restart does to a busy server, one database at a time: every backend is terminated (the
 * same FATAL 57P01 a fast shutdown sends), including those of clients checked out of the pool in the middle of
 * a transaction. Before the fix, such a client emitted an 'error' nobody listened to and the process ended.
 */
describe('a database connection lost under a checked-out client', () => {
  const ctx = useTestApp();

  async function terminateBackends(applicationName: string): Promise<number> {
    const admin = new pg.Client({ connectionString: databaseUrl(ctx.db.url, 'postgres') });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ n: number }>(
        'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
        [new URL(ctx.db.url).pathname.slice(1), applicationName],
      );
      return rows[0].n;
    } finally {
      await admin.end();
    }
  }

  it('fails only the statement (503), keeps the process alive, and the pool serves the next request', async () => {
    const inTransaction = withTransaction(ctx.db.pool, async (client) => {
      await client.query('SELECT 1');
      return client.query('SELECT pg_sleep(30)');
    });
    const failed = inTransaction.then(
      () => undefined,
      (error: unknown) => error,
    );
    // Wait on the server's own view: the sleeping statement is running.
    for (let seen = 0; seen === 0; ) {
      seen = (await ctx.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'")).rows[0].n;
    }
    expect(await terminateBackends('citygrid')).toBeGreaterThan(0);
    const error = await failed;
    expect(toProblem(error)).toMatchObject({ status: 503, type: 'database-unavailable' });
    // Idle and checked-out clients alike were cut; the pool opens new ones.
    const incidents = await ctx.api.request.get('/api/incidents?limit=1').set(ctx.api.auth('admin')).expect(200);
    expect(incidents.body.incidents ?? incidents.body).toBeDefined();
  });

  it('answers 503 with Retry-After to the messages node-postgres gives a lost connection', () => {
    for (const message of ['Connection terminated unexpectedly', 'Connection terminated', 'Client has encountered a connection error and is not queryable']) {
      expect(toProblem(new Error(message))).toMatchObject({ status: 503, type: 'database-unavailable' });
    }
    expect(toProblem(new Error('Connection terminated by a bug of ours?'))).toMatchObject({ status: 500 });
  });
});
