import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureSystemPackages } from './system-packages';

const pgBin = '/usr/lib/postgresql/15/bin';

export interface EmbeddedClusterOptions {
  home: string; // project-local folder; the cluster lives in <home>/pg
  port: number;
  database: string;
  log?: (line: string) => void;
}

interface Layout {
  dataDir: string;
  socketDir: string;
  logFile: string;
}

function layoutOf(home: string): Layout {
  const root = path.join(path.resolve(home), 'pg');
  return { dataDir: path.join(root, 'data'), socketDir: path.join(root, 'run'), logFile: path.join(root, 'server.log') };
}

const isRoot = () => process.getuid?.() === 0;

/** PostgreSQL refuses to run as root, so as root every cluster command runs as the `postgres` system user. */
function pgCommand(command: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', path.join(pgBin, command), ...args]] : [path.join(pgBin, command), args];
}

function runPg(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(...pgCommand(command, args), { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

function runPgOrThrow(command: string, args: string[]): string {
  const result = runPg(command, args);
  if (result.status !== 0) throw new Error(`${command} failed (exit ${result.status}):\n${result.output}`);
  return result.output;
}

/** The postgres user must be able to walk down to the data folder (a clone under a 0700 mktemp folder cannot). */
function makeReachableByPostgres(dir: string, log: (line: string) => void): void {
  for (let current = path.dirname(dir); current !== path.dirname(current); current = path.dirname(current)) {
    const mode = fs.statSync(current).mode;
    if ((mode & 0o001) === 0) {
      log(`allowing the postgres user to traverse ${current} (chmod o+x)`);
      fs.chmodSync(current, mode | 0o001);
    }
  }
}

function prepareFolders(layout: Layout, log: (line: string) => void): void {
  for (const dir of [path.dirname(layout.dataDir), layout.dataDir, layout.socketDir]) fs.mkdirSync(dir, { recursive: true });
  if (!isRoot()) return;
  makeReachableByPostgres(layout.dataDir, log);
  execFileSync('chown', ['-R', 'postgres:postgres', path.dirname(layout.dataDir)]);
  fs.chmodSync(layout.dataDir, 0o700);
}

function isInitialised(layout: Layout): boolean {
  return fs.existsSync(path.join(layout.dataDir, 'PG_VERSION'));
}

function isRunning(layout: Layout): boolean {
  return isInitialised(layout) && runPg('pg_ctl', ['status', '-D', layout.dataDir]).status === 0;
}

function embeddedDatabaseUrl(port: number, database: string): string {
  return `postgresql://postgres@127.0.0.1:${port}/${database}`;
}

/** The port a running cluster listens on: line 4 of postmaster.pid (it may differ from the configured one). */
function runningPort(layout: Layout): number {
  return Number(fs.readFileSync(path.join(layout.dataDir, 'postmaster.pid'), 'utf8').split('\n')[3]);
}

// Another checkout's cluster (or any server) may hold the configured port; the next few are tried, and the one
// taken is read back from postmaster.pid on later calls.
const portAttempts = 10;

function startCluster(layout: Layout, port: number): { status: number | null; output: string } {
  const serverOptions = [
    `-p ${port}`,
    `-k ${layout.socketDir}`,
    "-c listen_addresses='127.0.0.1'",
    '-c shared_buffers=512MB',
    '-c work_mem=32MB',
    '-c maintenance_work_mem=256MB',
    '-c max_connections=200',
    // Write bursts (bulk imports, a busy intake) would otherwise force a checkpoint every ~1 GB of WAL, and the
    // full-page images after each one slow every write for a while; time-driven checkpoints suit this load.
    '-c max_wal_size=4GB',
    '-c checkpoint_timeout=15min',
    '-c fsync=on',
    '-c synchronous_commit=on',
  ].join(' ');
  return runPg('pg_ctl', ['start', '-w', '-t', '60', '-D', layout.dataDir, '-l', layout.logFile, '-o', serverOptions]);
}

const logTail = (layout: Layout) => (fs.existsSync(layout.logFile) ? fs.readFileSync(layout.logFile, 'utf8').split('\n').slice(-15).join('\n') : '');

/**
 * Makes sure the project's own cluster exists and runs: installs PostGIS if missing, initdb once, starts it on
 * loopback and a socket inside the folder. Reused as it is on every later start. Returns the connection URL.
 */
export function ensureEmbeddedCluster(options: EmbeddedClusterOptions): string {
  const log = options.log ?? console.log;
  const layout = layoutOf(options.home);
  ensureSystemPackages(['postgis'], log);
  if (isRunning(layout)) return embeddedDatabaseUrl(runningPort(layout), options.database);
  prepareFolders(layout, log);
  if (!isInitialised(layout)) {
    log(`initialising a PostgreSQL 15 cluster in ${layout.dataDir}`);
    runPgOrThrow('initdb', ['-D', layout.dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8']);
  }
  for (let port = options.port; port < options.port + portAttempts; port++) {
    log(`starting PostgreSQL on 127.0.0.1:${port}`);
    const started = startCluster(layout, port);
    if (started.status === 0) return embeddedDatabaseUrl(port, options.database);
    const tail = logTail(layout);
    if (!/could not bind|Address already in use/.test(tail)) throw new Error(`could not start PostgreSQL:\n${started.output}\n${tail}`);
    log(`port ${port} is taken (another cluster?); trying the next one`);
  }
  throw new Error(`could not start PostgreSQL: ports ${options.port}–${options.port + portAttempts - 1} are all taken (set CITYGRID_PG_PORT)`);
}

export function stopEmbeddedCluster(options: EmbeddedClusterOptions): boolean {
  const layout = layoutOf(options.home);
  if (!isRunning(layout)) return false;
  runPgOrThrow('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', layout.dataDir]);
  return true;
}

export function embeddedClusterStatus(options: EmbeddedClusterOptions): string {
  const layout = layoutOf(options.home);
  if (!isInitialised(layout)) return `no cluster in ${layout.dataDir}`;
  return isRunning(layout) ? `running on 127.0.0.1:${runningPort(layout)} (data: ${layout.dataDir})` : `stopped (data: ${layout.dataDir})`;
}

/**
 * Restarts a running cluster as an operator would (`pg_ctl restart -m fast`: open connections are cut), with
 * the options it was started with. Asynchronous, so a process serving requests meanwhile keeps serving them.
 */
export function restartEmbeddedCluster(options: EmbeddedClusterOptions): Promise<void> {
  const layout = layoutOf(options.home);
  const [file, argv] = pgCommand('pg_ctl', ['restart', '-w', '-t', '60', '-m', 'fast', '-D', layout.dataDir, '-l', layout.logFile]);
  return new Promise((resolve, reject) => {
    execFile(file, argv, (error, stdout, stderr) => (error ? reject(new Error(`pg_ctl restart failed: ${error.message}\n${stdout}${stderr}`)) : resolve()));
  });
}

export interface StreamingReplicaOptions {
  /** Folder of the replica's own cluster (<home>/pg), e.g. <CITYGRID_HOME>/replica. */
  home: string;
  port: number;
  /** Any database URL of the primary; the replica copies the whole cluster. */
  primaryUrl: string;
  log?: (line: string) => void;
}

/**
 * A local hot-standby replica of a PostgreSQL 15 primary, by streaming replication: copied once with
 * `pg_basebackup -R` (which writes primary_conninfo and standby.signal), then started like the embedded cluster.
 * The primary needs a replication entry in pg_hba.conf (initdb's defaults allow 127.0.0.1). Returns its URL.
 */
export function startStreamingReplica(options: StreamingReplicaOptions): string {
  const log = options.log ?? console.log;
  const layout = layoutOf(options.home);
  const primary = new URL(options.primaryUrl);
  const database = decodeURIComponent(primary.pathname.slice(1)) || 'postgres';
  if (isRunning(layout)) return embeddedDatabaseUrl(runningPort(layout), database);
  prepareFolders(layout, log);
  if (!isInitialised(layout)) {
    log(`copying ${primary.host} into a streaming replica in ${layout.dataDir}`);
    const user = decodeURIComponent(primary.username) || 'postgres';
    runPgOrThrow('pg_basebackup', ['-D', layout.dataDir, '-h', primary.hostname, '-p', primary.port || '5432', '-U', user, '-R', '-X', 'stream', '-c', 'fast']);
  }
  const started = startCluster(layout, options.port);
  if (started.status !== 0) throw new Error(`could not start the replica:\n${started.output}\n${logTail(layout)}`);
  return embeddedDatabaseUrl(options.port, database);
}

/** Stops a replica (or any cluster) in <home>/pg and deletes its data folder. */
export function removeCluster(home: string): void {
  const layout = layoutOf(home);
  if (isRunning(layout)) runPgOrThrow('pg_ctl', ['stop', '-w', '-m', 'immediate', '-D', layout.dataDir]);
  fs.rmSync(path.dirname(layout.dataDir), { recursive: true, force: true });
}
