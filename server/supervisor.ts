import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exitWithStartError, loadConfig } from './config';
import { resolveDatabaseUrl } from './db/connect';
import { createLogger, type Logger } from './logger';
import { relayTiles } from './tiles/peers';

/** What server/main.ts tells its supervisor over the IPC channel once it listens. */
export interface ListeningMessage {
  type: 'listening';
  url: string;
}

export interface SupervisedServer {
  /** The server's URL, once every server process listens. */
  ready: Promise<string>;
  /** Stops the server processes (SIGTERM, then SIGKILL after a grace period) and does not start them again. */
  stop: () => Promise<void>;
}

const mainScript = path.join(__dirname, 'main.ts');

/** Pause before starting again: doubles with every quick failure, up to a cap; a run this long resets it. */
const firstPauseMs = 250;
const longestPauseMs = 15_000;
const stableRunMs = 30_000;
const stopGraceMs = 10_000;

/**
 * Keeps `workers` server processes (server/main.ts) running on one port, as node:cluster workers of this
 * process: the primary accepts connections and hands them to the workers in turn. Each process is started again
 * whenever it ends without being asked to (a crash, an out-of-memory kill, kill -9), so that no failure leaves the
 * city without its API; one that keeps failing at once (say the database is still away) is retried with a
 * growing pause. Worker 1 (and whoever replaces it) alone runs the schedulers (escalation, risk predictions), so
 * a job runs once however many processes serve; their advisory locks still keep several hosts apart. The workers
 * run with this process's Node options (the tsx loader) and exit by themselves when the primary disappears (their
 * IPC channel closes), so no server outlives its supervisor.
 */
export function superviseServer(env: NodeJS.ProcessEnv, log: Logger, workers = 1): SupervisedServer {
  const running = new Map<number, Worker>();
  const pauses = new Map<number, number>();
  const restartTimers = new Set<NodeJS.Timeout>();
  const listening = new Set<number>();
  let stopping = false;
  let markReady: (url: string) => void = () => undefined;
  const ready = new Promise<string>((resolve) => {
    markReady = resolve;
  });
  // 'advanced': the tiles the workers hand each other (tiles/peers.ts) pass as bytes, not as JSON arrays of numbers.
  cluster.setupPrimary({ exec: mainScript, execArgv: process.execArgv, args: [], serialization: 'advanced' });

  function start(slot: number): void {
    const startedAt = performance.now();
    // A host told not to run the schedulers (RUN_SCHEDULERS=false) runs them in no worker.
    const worker = cluster.fork({ ...env, RUN_SCHEDULERS: String(slot === 1 && env.RUN_SCHEDULERS !== 'false') });
    const pid = worker.process.pid;
    running.set(slot, worker);
    log.info({ pid, worker: slot }, 'server process started');
    worker.on('message', (message: ListeningMessage) => {
      if (relayTiles(worker.id, message) || message?.type !== 'listening') return;
      listening.add(slot);
      if (listening.size === workers) markReady(message.url);
    });
    worker.on('error', (error) => log.error({ err: error, worker: slot }, 'server process could not be started'));
    worker.on('exit', (code, signal) => {
      running.delete(slot);
      if (stopping) return;
      let pauseMs = pauses.get(slot) ?? firstPauseMs;
      if (performance.now() - startedAt > stableRunMs) pauseMs = firstPauseMs;
      log.error({ pid, worker: slot, code, signal, restartInMs: pauseMs }, 'server process exited unexpectedly; starting it again');
      const timer = setTimeout(() => {
        restartTimers.delete(timer);
        start(slot);
      }, pauseMs);
      restartTimers.add(timer);
      pauses.set(slot, Math.min(pauseMs * 2, longestPauseMs));
    });
  }

  for (let slot = 1; slot <= workers; slot++) start(slot);
  return {
    ready,
    async stop() {
      stopping = true;
      restartTimers.forEach(clearTimeout);
      await Promise.all([...running.values()].map(stopWorker));
    },
  };
}

async function stopWorker(worker: Worker): Promise<void> {
  if (worker.isDead()) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.process.kill('SIGTERM');
  const forced = setTimeout(() => worker.process.kill('SIGKILL'), stopGraceMs);
  await exited;
  clearTimeout(forced);
}

/** `--workers N` on the command line, else WORKERS from the configuration. */
export function workersWanted(args: string[], configured: number): number {
  const { values } = parseArgs({ args, options: { workers: { type: 'string' } }, strict: false });
  if (values.workers === undefined) return configured;
  const workers = typeof values.workers === 'string' && /^\d{1,2}$/.test(values.workers) ? Number(values.workers) : 0;
  if (workers < 1 || workers > 64) throw new Error(`--workers ${values.workers === true ? '' : values.workers}: give the number of server processes, 1 to 64 (e.g. --workers 2)`);
  return workers;
}

/**
 * The production command (`npm run server`): resolves the database once (starting the embedded cluster when
 * DATABASE_URL is unset), then supervises the server. SIGTERM or SIGINT stop both.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  const databaseUrl = await resolveDatabaseUrl(config, (line) => log.info(line));
  const server = superviseServer({ ...process.env, DATABASE_URL: databaseUrl }, log, workersWanted(process.argv.slice(2), config.WORKERS));
  stopOnSignals(server);
  await server.ready;
}

/** Calls `stop` once, on SIGTERM, SIGINT, or when the parent that started this process over IPC goes away. */
export function whenAskedToStop(stop: () => void): void {
  let asked = false;
  const once = () => {
    if (asked) return;
    asked = true;
    stop();
  };
  process.once('SIGTERM', once);
  // A Ctrl-C reaches every process of the terminal's group: a worker leaves it to its primary, which stops it
  // (and does not mistake its exit for a crash to restart).
  if (cluster.isWorker) process.on('SIGINT', () => undefined);
  else process.once('SIGINT', once);
  if (process.send) process.once('disconnect', once);
}

/** Stops the supervised server when this process is asked to stop, then exits. */
export function stopOnSignals(server: SupervisedServer): void {
  whenAskedToStop(() => void server.stop().then(() => process.exit(0)));
}

if (require.main === module) main().catch(exitWithStartError);
