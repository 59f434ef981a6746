import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { projectRoot } from '../../server/config';

export interface ChildServer {
  url: string;
  pid: number;
  /** The server's log lines so far (pino JSON, parsed). */
  logs: Array<{ msg: string; [field: string]: unknown }>;
  /** Resident memory of the server process now, in MB (from /proc). */
  rssMb: () => number;
  stop: () => Promise<void>;
}

/**
 * The server as `npm run server` runs it, in a process of its own (so its memory can be measured apart from jest's),
 * on the given database, on a free port, with photo uploads in a temporary folder.
 */
export async function startChildServer(databaseUrl: string, env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
  const uploads = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-child-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'server', 'main.ts')], {
    cwd: projectRoot,
    env: { ...process.env, LOG_LEVEL: 'info', ...env, DATABASE_URL: databaseUrl, HOST: '127.0.0.1', PORT: '0', UPLOAD_DIR: uploads },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: ChildServer['logs'] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as ChildServer['logs'][number];
      logs.push(entry);
      if (entry.msg === 'citygrid listening') resolve(String(entry.url));
    });
  });
  const pid = child.pid as number;
  return {
    url,
    pid,
    logs,
    rssMb: () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(uploads, { recursive: true, force: true });
    },
  };
}
