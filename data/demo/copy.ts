import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { SingleBar, Presets } from 'cli-progress';
import { from as copyFrom } from 'pg-copy-streams';
import type { PoolClient } from '../../server/db/pool';

export type CopyValue = string | number | boolean | null | Date | string[];

/** One value in PostgreSQL's COPY text format. */
function copyText(value: CopyValue): string {
  if (value === null) return '\\N';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return copyText(`{${value.map((item) => `"${item.replace(/["\\]/g, '\\$&')}"`).join(',')}}`);
  return String(value).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

export interface Progress {
  start(label: string, total: number): void;
  increment(by: number): void;
  stop(): void;
}

export const silentProgress: Progress = { start() {}, increment() {}, stop() {} };

/** A terminal progress bar per table (rows/s and ETA), for loads that take more than a moment. */
export function terminalProgress(): Progress {
  let bar: SingleBar | undefined;
  return {
    start(label, total) {
      bar = new SingleBar({ format: `${label.padEnd(14)} [{bar}] {percentage}% | {value}/{total} rows | {eta_formatted} left`, hideCursor: true }, Presets.shades_classic);
      bar.start(total, 0);
    },
    increment(by) {
      bar?.increment(by);
    },
    stop() {
      bar?.stop();
    },
  };
}

/** Streams rows into a table with COPY: the fastest way into PostgreSQL, and nothing held twice in memory. */
export async function copyRows<T>(
  client: PoolClient,
  table: string,
  columns: string[],
  rows: readonly T[],
  toValues: (row: T) => CopyValue[],
  progress: Progress,
): Promise<void> {
  progress.start(table, rows.length);
  const batch = 2000;
  async function* lines() {
    for (let start = 0; start < rows.length; start += batch) {
      const chunk = rows.slice(start, start + batch).map((row) => `${toValues(row).map(copyText).join('\t')}\n`);
      yield chunk.join('');
      progress.increment(chunk.length);
    }
  }
  const copy = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`)) as Writable;
  await pipeline(Readable.from(lines()), copy);
  progress.stop();
}
