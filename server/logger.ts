import cluster from 'node:cluster';
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  // Several server processes write to one output: each line then says whose it is.
  return pino({ level, base: cluster.isWorker ? { pid: process.pid } : undefined, timestamp: pino.stdTimeFunctions.isoTime });
}
