import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { exitWithStartError, loadConfig } from './config';
import { resolveDatabaseUrl } from './db/connect';
import { createLogger, type Logger } from './logger';

/** What server/main.ts tells its supervisor over the IPC channel once it listens. */
export interface ListeningMessage {
  type: 'listening';
  url: string;
}

export interface SupervisedServer {
  /** The first server process's URL, once it listens. */
  ready: Promise<string>;
  /** Stops the server process (SIGTERM, then SIGKILL after a grace period) and does not start it again. */
  stop: () => Promise<void>;
}

const mainScript = path.join(__dirname, 'main.ts');

/** Pause before starting again: doubles with every quick failure, up to a cap; a run this long resets it. */
const firstPauseMs = 250;
const longestPauseMs = 15_000;
const stableRunMs = 30_000;
const stopGraceMs = 10_000;

/**
 * Keeps one server process (server/main.ts) running: starts it as a child and starts it again whenever it ends
 * without being asked to (a crash, an out-of-memory kill, kill -9), so that no failure leaves the city without
 * its API. A server that keeps failing at once (say the database is still away when it starts) is retried with
 * a growing pause. The child runs with this process's Node options (the tsx loader), in a process group of its
 * own (a Ctrl-C reaches the supervisor, which stops it, instead of racing it), and exits by itself when its
 * supervisor disappears (the IPC channel closes), so no server outlives its supervisor.
 */
export function superviseServer(env: NodeJS.ProcessEnv, log: Logger): SupervisedServer {
  let child: ChildProcess | undefined;
  let stopping = false;
  let pauseMs = firstPauseMs;
  let restartTimer: NodeJS.Timeout | undefined;
  let markReady: (url: string) => void = () => undefined;
  const ready = new Promise<string>((resolve) => {
    markReady = resolve;
  });

  function start(): void {
    const startedAt = performance.now();
    const server = spawn(process.execPath, [...process.execArgv, mainScript], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
    child = server;
    log.info({ pid: server.pid }, 'server process started');
    server.on('message', (message: ListeningMessage) => {
      if (message?.type === 'listening') markReady(message.url);
    });
    server.on('error', (error) => log.error({ err: error }, 'server process could not be started'));
    server.on('exit', (code, signal) => {
      child = undefined;
      if (stopping) return;
      if (performance.now() - startedAt > stableRunMs) pauseMs = firstPauseMs;
      log.error({ pid: server.pid, code, signal, restartInMs: pauseMs }, 'server process exited unexpectedly; starting it again');
      restartTimer = setTimeout(start, pauseMs);
      pauseMs = Math.min(pauseMs * 2, longestPauseMs);
    });
  }

  start();
  return {
    ready,
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      const running = child;
      if (!running) return;
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill('SIGTERM');
      const forced = setTimeout(() => running.kill('SIGKILL'), stopGraceMs);
      await exited;
      clearTimeout(forced);
    },
  };
}

/**
 * The production command (`npm run server`): resolves the database once (starting the embedded cluster when
 * DATABASE_URL is unset), then supervises the server. SIGTERM or SIGINT stop both.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  const databaseUrl = await resolveDatabaseUrl(config, (line) => log.info(line));
  const server = superviseServer({ ...process.env, DATABASE_URL: databaseUrl }, log);
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
  process.once('SIGINT', once);
  if (process.send) process.once('disconnect', once);
}

/** Stops the supervised server when this process is asked to stop, then exits. */
export function stopOnSignals(server: SupervisedServer): void {
  whenAskedToStop(() => void server.stop().then(() => process.exit(0)));
}

if (require.main === module) main().catch(exitWithStartError);
