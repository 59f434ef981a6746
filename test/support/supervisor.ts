import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { projectRoot } from '../../server/config';

/** Resolves when `condition` holds, checked whenever `changed` is called; rejects after timeoutMs. */
export function waiter() {
  const waiting = new Set<() => void>();
  return {
    changed: () => waiting.forEach((check) => check()),
    until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(check);
          reject(new Error(`timed out waiting for ${what}`));
        }, timeoutMs);
        const check = () => {
          if (!condition()) return;
          clearTimeout(timer);
          waiting.delete(check);
          resolve();
        };
        waiting.add(check);
        check();
      });
    },
  };
}

export interface LogLine {
  msg?: string;
  pid?: number;
  url?: string;
  signal?: string | null;
  [field: string]: unknown;
}

export type Supervisor = ReturnType<typeof startSupervisor>;

/** The supervisor as `npm run server` runs it, with its log lines (its own and its server's) collected. */
export function startSupervisor(env: NodeJS.ProcessEnv, args: string[] = []) {
  const lines: LogLine[] = [];
  const changes = waiter();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'server', 'supervisor.ts'), ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    // IPC: should this test die, the supervisor and its server end with it.
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      lines.push({ msg: line });
    }
    changes.changed();
  });
  const listening = () => lines.filter((line) => line.msg === 'citygrid listening');
  return {
    lines,
    listening,
    exits: () => lines.filter((line) => line.msg === 'server process exited unexpectedly; starting it again'),
    /** Waits until the log lines so far satisfy `condition`. */
    logged: (condition: (lines: LogLine[]) => boolean, what: string) => changes.until(() => condition(lines), what),
    /** Waits for the n-th time a server process listens; returns that process's pid. */
    async listened(n: number): Promise<number> {
      await changes.until(() => listening().length >= n, `server start number ${n}`);
      return listening()[n - 1].pid!;
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

