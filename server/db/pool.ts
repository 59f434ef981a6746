import pg from 'pg';

// Ids are bigserial and counts are bigint; both stay far below 2^53, and JSON clients want numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number.parseFloat(value));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.Pool, 'query'>;

/** How long a request waits for a free connection; then it is answered 503 (see isPoolWaitTimeout). */
const poolWaitMs = 5000;

/** pg-pool's error when no connection became free within connectionTimeoutMillis (it has no code of its own). */
export function isPoolWaitTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'timeout exceeded when trying to connect';
}

// Errors that mean the database cannot be reached now (refused, reset, shutting down, too many connections), not
// that the request or our code is wrong: the client may retry (503), and a read on a replica may go to the primary instead.
const unreachableErrorCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300']);

// node-postgres reports a connection lost under a query (a server restart, a backend terminated) or never made in
// time with these messages and no code.
const lostConnectionMessages = /^(Connection terminated( unexpectedly| due to connection timeout)?|Client has encountered a connection error and is not queryable)$/;

/** The database cannot be reached now (refused, reset, shutting down, too many connections); a retry may succeed. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string') return unreachableErrorCodes.has(code) || code.startsWith('08');
  return error instanceof Error && lostConnectionMessages.test(error.message);
}

// PostGIS functions carry high planner costs, so many short statements cross jit_above_cost and pay 0.1–1 s of
// LLVM compilation for milliseconds of work (coverage check ≈ 1 s with JIT, 6 ms without): JIT is off for
// every citygrid connection, on the embedded cluster and on DATABASE_URL servers alike.
const connectionOptions = '-c jit=off';

export interface PoolOptions {
  /** Shown in pg_stat_activity. */
  applicationName?: string;
  /** Cancels any statement of this pool's connections that runs longer (SQLSTATE 57014). */
  statementTimeoutMs?: number;
  /** How long a caller waits for a free connection before isPoolWaitTimeout's error (default 5 s). */
  waitMs?: number;
  /**
   * max_parallel_workers_per_gather of its statements (default: the server's). Request pools set 0: a tile or a page
   * of records costs milliseconds, and starting a parallel worker for it costs tens of milliseconds more on a busy
   * machine (a z15 incident tile: 5–10 ms serial, 40–100 ms with one worker, bench:load 2026-12-03), while its
   * concurrent requests already keep the cores busy. Long reads (exports, analytics) keep their parallel plans.
   */
  parallelWorkers?: number;
}

export function createPool(connectionString: string, max = 4, { applicationName = 'citygrid', statementTimeoutMs, waitMs = poolWaitMs, parallelWorkers }: PoolOptions = {}): Pool {
  const settings = [
    connectionOptions,
    ...(statementTimeoutMs ? [`-c statement_timeout=${Math.ceil(statementTimeoutMs)}`] : []),
    ...(parallelWorkers === undefined ? [] : [`-c max_parallel_workers_per_gather=${parallelWorkers}`]),
  ];
  const options = settings.join(' ');
  const pool = new pg.Pool({ connectionString, max, application_name: applicationName, connectionTimeoutMillis: waitMs, options });
  // A client losing its server (restart, db:stop, pg_terminate_backend) emits 'error', and an 'error' nobody
  // listens to ends the process. The pool listens while a client is idle; this listener covers a client checked
  // out (a transaction, an export, an import), for its whole life. Its running query fails with the same error
  // and is answered 503 (http/problem.ts); the broken client is discarded when released (pg-pool checks it).
  pool.on('connect', (client) => client.on('error', () => undefined));
  pool.on('error', () => undefined);
  return pool;
}

/** The options of the pools that serve requests (PG_POOL_MAX): see PoolOptions.parallelWorkers. */
export const requestPoolOptions = { parallelWorkers: 0 } as const satisfies PoolOptions;

/** Runs fn with a connection of the pool, released afterwards. */
export async function withConnection<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
  }
}

/**
 * Runs fn inside one transaction: committed when it returns, rolled back when it throws. `opening` statements
 * (runAsOneMessage) go in the same message as BEGIN: a transaction's settings cost no round trip of their own.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, opening: OneMessageStatement[] = []): Promise<T> {
  return withConnection(pool, async (client) => {
    try {
      await runAsOneMessage(client, [{ text: 'BEGIN', values: [] }, ...opening]);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

/** A statement of runAsOneMessage: its text with parameters $1, $2, … and their values. */
export interface OneMessageStatement {
  text: string;
  values: unknown[];
  /**
   * Prepare it once per connection (SQL PREPARE, parameters of these types) and run it by EXECUTE: parsed and
   * planned once instead of at every run (the intake batch: ≈ 2 ms of planning for 5 ms of work).
   */
  prepared?: { name: string; types: string[] };
}

/** A value as an SQL literal: strings quoted (pg's escapeLiteral), arrays as ARRAY[…], null as NULL. */
function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Array.isArray(value)) return value.length === 0 ? "'{}'" : `ARRAY[${value.map(sqlLiteral).join(', ')}]`;
  return pg.escapeLiteral(String(value));
}

/** A statement with its values written in as literals; its text holds `$` only in its parameters. */
function withLiterals({ text, values }: OneMessageStatement): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    if (Number(n) < 1 || Number(n) > values.length) throw new Error(`no value for parameter $${n}`);
    return sqlLiteral(values[Number(n) - 1]);
  });
}

/**
 * The statements each connection has prepared; `false` once one of them went missing or was there before (a
 * transaction-mode pooler hands each transaction another server session): that connection then prepares nothing.
 */
const preparedOn = new WeakMap<PoolClient, Set<string> | false>();

// "prepared statement does not exist", "prepared statement already exists"
const sessionStateErrors = new Set(['26000', '42P05']);

/**
 * Runs statements in ONE round trip: one simple-query message, the values written in as literals (a simple query
 * has no parameters). Outside a transaction the message is one implicit transaction (all commit, or none on an
 * error); each statement still takes its own snapshot (READ COMMITTED), after the statements before it. For a
 * write that holds a lock other processes wait on: between taking it and committing, nothing waits on this
 * process's event loop, which under load takes milliseconds per turn. A statement marked `prepared` is prepared in
 * the first message of each connection and executed by name afterwards; should the session not hold what this
 * connection prepared (a pooler between), the message is run again with every statement written out, which keeps
 * no state in the session — as an error rolled the implicit transaction back, nothing ran twice.
 */
export async function runAsOneMessage(client: PoolClient, statements: OneMessageStatement[]): Promise<pg.QueryResult[]> {
  const prepared = preparedOn.get(client) ?? new Set<string>();
  const parts = statements.flatMap((statement) => {
    if (!statement.prepared || prepared === false) return [{ sql: withLiterals(statement), result: true }];
    const { name, types } = statement.prepared;
    const execute = { sql: `EXECUTE ${name} (${statement.values.map(sqlLiteral).join(', ')})`, result: true };
    return prepared.has(name) ? [execute] : [{ sql: `PREPARE ${name} (${types.join(', ')}) AS ${statement.text}`, result: false }, execute];
  });
  if (prepared === false) return runMessage(client, parts);
  try {
    const results = await runMessage(client, parts);
    for (const { prepared: statement } of statements) if (statement) prepared.add(statement.name);
    preparedOn.set(client, prepared);
    return results;
  } catch (error) {
    if (!sessionStateErrors.has((error as { code?: string }).code ?? '')) throw error;
    preparedOn.set(client, false);
    return runAsOneMessage(client, statements);
  }
}

/** Sends the parts as one message; the results of those with `result`, in order. */
async function runMessage(client: PoolClient, parts: Array<{ sql: string; result: boolean }>): Promise<pg.QueryResult[]> {
  const answered = (await client.query(parts.map((part) => part.sql).join(';\n'))) as pg.QueryResult | pg.QueryResult[];
  const results = Array.isArray(answered) ? answered : [answered];
  return results.filter((_, i) => parts[i].result);
}

/** Creates the database named in the URL when it does not exist yet (used for the embedded cluster and tests). */
export async function ensureDatabaseExists(connectionString: string): Promise<void> {
  const url = new URL(connectionString);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
}
