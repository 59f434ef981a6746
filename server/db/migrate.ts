import fs from 'node:fs';
import path from 'node:path';
import type { Pool, PoolClient } from './pool';
import { projectRoot } from '../config';
import { backfillHotspotCells } from './backfill-hotspot-cells';

export const migrationsDir = path.join(projectRoot, 'sql');

// Any constant works; it only has to be the same for every process that migrates this database.
const migrationLockKey = 4_242_001;

/** Data steps that need Node (H3 has no SQL implementation here), run in the transaction of their migration. */
const dataSteps: Record<string, (client: PoolClient) => Promise<unknown>> = {
  '140_hotspot_cells.sql': backfillHotspotCells,
};

export interface MigrationResult {
  applied: string[];
  skipped: number;
}

export function listMigrationFiles(dir = migrationsDir): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => /^\d{3}_[\w-]+\.sql$/.test(name))
    .sort();
}

/**
 * Applies the numbered files in sql/ that have not run yet, each in its own transaction, and records them.
 * An advisory lock lets several processes (test workers, server copies) start at once safely.
 */
export async function migrate(pool: Pool, dir = migrationsDir): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [migrationLockKey]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    const pending = listMigrationFiles(dir).filter((name) => !done.has(name));
    for (const name of pending) {
      const sql = fs.readFileSync(path.join(dir, name), 'utf8');
      try {
        await client.query('BEGIN');
        await client.query(sql);
        await dataSteps[name]?.(client);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${name} failed: ${(error as Error).message}`);
      }
    }
    return { applied: pending, skipped: done.size };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [migrationLockKey]).catch(() => undefined);
    client.release();
  }
}
