import http from 'node:http';
import cluster from 'node:cluster';
import { createApp } from './app';
import { type Config, exitWithStartError, loadConfig } from './config';
import { resolveDatabaseUrl } from './db/connect';
import { migrate } from './db/migrate';
import { HeavyWork } from './db/heavy-work';
import { createPool, type Pool, requestPoolOptions } from './db/pool';
import { openReads } from './db/read-pool';
import { systemClock } from './deps';
import { EventBus } from './events/bus';
import { withFastPath } from './http/fast-path';
import { startEscalationScheduler } from './incidents/escalation';
import { removeOrphanPhotos } from './incidents/photos';
import { createLogger, type Logger } from './logger';
import { startRiskScheduler } from './risk/service';
import { startPatrolRetentionScheduler } from './patrols/retention';
import { type ListeningMessage, whenAskedToStop } from './supervisor';
import { clusterTilePeers } from './tiles/peers';

export interface RunningServer {
  url: string;
  close: () => Promise<void>;
}

/** Starts one server process: config → database → migrations → app → listen. */
export async function startServer(env: NodeJS.ProcessEnv = process.env): Promise<RunningServer> {
  const config = loadConfig(env);
  const log = createLogger(config.LOG_LEVEL);
  const databaseUrl = await resolveDatabaseUrl(config, (line) => log.info(line));
  const pool = createPool(databaseUrl, config.PG_POOL_MAX, requestPoolOptions);
  const migrations = await migrate(pool);
  if (migrations.applied.length > 0) log.info({ applied: migrations.applied }, 'migrations applied');
  const events = new EventBus(databaseUrl, log);
  await events.start();
  const reads = openReads(config, pool, events, log);
  const heavy = new HeavyWork(databaseUrl, config, reads);
  const app = createApp({ config, pool, reads: reads.reads, heavy, log, clock: systemClock, events, tilePeers: cluster.isWorker ? clusterTilePeers() : undefined });
  const stopSchedulers = config.RUN_SCHEDULERS ? startSchedulers(pool, log, config) : () => undefined;
  const server = http.createServer(withFastPath(app, log));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${config.PORT} on ${config.HOST} is in use: stop the other server or set PORT`) : error),
    );
    server.listen(config.PORT, config.HOST, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://${config.HOST}:${port}`;
  log.info({ url, pid: process.pid }, 'citygrid listening');
  // After listening, not before: the sweep reads the whole upload folder, which may hold millions of files.
  void removeOrphanPhotos(pool, config.UPLOAD_DIR, systemClock()).then(
    (orphans) => orphans.length > 0 && log.info({ removed: orphans.length, dir: config.UPLOAD_DIR }, 'removed photo files no incident references'),
    (error: unknown) => log.warn({ err: error }, 'sweeping orphaned photo files failed'),
  );
  return {
    url,
    close: async () => {
      stopSchedulers();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      app.close();
      await reads.close();
      await events.stop();
      await heavy.close();
      await pool.end();
    },
  };
}

function startSchedulers(pool: Pool, log: Logger, config: Pick<Config, 'ESCALATION_INTERVAL_S' | 'PATROL_RETENTION_DAYS'>): () => void {
  const stopEscalation = startEscalationScheduler(pool, systemClock, log, config.ESCALATION_INTERVAL_S * 1000);
  const stopRisk = startRiskScheduler(pool, systemClock, log);
  const stopPatrolRetention = startPatrolRetentionScheduler(pool, systemClock, log, config.PATROL_RETENTION_DAYS);
  return () => {
    stopEscalation();
    stopRisk();
    stopPatrolRetention();
  };
}

/**
 * Run as a process (by the supervisor, server/supervisor.ts): tells the supervisor its URL, closes cleanly on
 * SIGTERM/SIGINT, and ends when the supervisor is gone (its IPC channel closes), so no server is left orphaned.
 */
async function runProcess(): Promise<void> {
  const server = await startServer();
  const message: ListeningMessage = { type: 'listening', url: server.url };
  process.send?.(message);
  whenAskedToStop(() => {
    // Open keep-alive and SSE connections would hold close() up; the supervisor's grace period bounds it too.
    setTimeout(() => process.exit(0), 5000).unref();
    void server.close().then(() => process.exit(0));
  });
}

if (require.main === module) runProcess().catch(exitWithStartError);
