import path from 'node:path';
import { z } from 'zod';

export const projectRoot = path.resolve(__dirname, '..');

const configSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  // Unset: citygrid runs its own PostgreSQL + PostGIS cluster in CITYGRID_HOME.
  DATABASE_URL: z.string().url().optional(),
  CITYGRID_HOME: z.string().default(path.join(projectRoot, '.citygrid')),
  CITYGRID_PG_PORT: z.coerce.number().int().min(1024).max(65535).default(54329),
  CITYGRID_DB_NAME: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('citygrid'),
  // 2 cores: more connections than this only queue inside PostgreSQL.
  PG_POOL_MAX: z.coerce.number().int().min(1).max(100).default(4),
  BODY_LIMIT: z.string().regex(/^\d+(kb|mb)$/i, 'a size such as 1mb or 512kb').default('1mb'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DEMO_SEED: z.string().default('citygrid'),
  // Gzipped vector tiles kept in memory per process; 0 turns the tile cache off (benchmarks, debugging).
  TILE_CACHE_MB: z.coerce.number().min(0).max(4096).default(64),
  WEB_DIST: z.string().default(path.join(projectRoot, 'web', 'dist')),
  // Photos uploaded with incident reports; unset: CITYGRID_HOME/uploads.
  UPLOAD_DIR: z.string().min(1).optional(),
  // Per photo (decimals allowed, e.g. 0.5) and per report.
  PHOTO_MAX_MB: z.coerce.number().positive().max(100).default(5),
  PHOTO_MAX_COUNT: z.coerce.number().int().min(1).max(20).default(6),
}).transform((config) => ({ ...config, UPLOAD_DIR: config.UPLOAD_DIR ?? path.join(config.CITYGRID_HOME, 'uploads') }));

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {}

/** Ends a process whose start failed: a bad configuration as its message alone, anything else in full. */
export function exitWithStartError(error: unknown): never {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}

/** Parses the environment once; every problem is named by its variable so a bad start-up says what to fix. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(`invalid configuration in the environment:\n${lines.join('\n')}`);
}
