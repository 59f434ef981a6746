import fs from 'node:fs';
import type pg from 'pg';

const clockTicksPerSecond = 100; // USER_HZ: the unit of /proc/<pid>/stat times on Linux

/**
 * Parent pid, user + system CPU seconds of a process, and those of its ended children it has waited for, from
 * /proc; null when it is gone or not there.
 */
export function processStat(pid: number | string): { parent: number; cpuSeconds: number; endedChildrenCpuSeconds: number } | null {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return {
      parent: Number(fields[1]),
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond,
      endedChildrenCpuSeconds: (Number(fields[13]) + Number(fields[14])) / clockTicksPerSecond,
    };
  } catch {
    return null;
  }
}

/**
 * CPU seconds used so far by every process of the database server (backends, WAL writer, checkpointer), when the
 * server runs on this machine; null otherwise. CPU time, unlike wall time, barely moves with the machine's load.
 * Backends that ended count too (the postmaster's waited-for children): a pool that closes and opens connections
 * during a step would otherwise lose their time, and did (bench:patrols read about half of what perf saw).
 */
export async function serverCpuSeconds(pool: pg.Pool): Promise<number | null> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const backend = processStat(rows[0].pid);
  if (!backend || !fs.readFileSync(`/proc/${rows[0].pid}/comm`, 'utf8').startsWith('postgres')) return null;
  const children = fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(processStat);
  const serverProcesses = children.filter((stat) => stat?.parent === backend.parent);
  const postmaster = processStat(backend.parent);
  return (postmaster?.cpuSeconds ?? 0) + (postmaster?.endedChildrenCpuSeconds ?? 0) + serverProcesses.reduce((sum, stat) => sum + (stat?.cpuSeconds ?? 0), 0);
}
