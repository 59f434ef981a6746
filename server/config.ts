import path from 'node:path';
import { z } from 'zod';

export const projectRoot = path.resolve(__dirname, '..');

/** An IANA time zone name (Asia/Shanghai, America/New_York) as the platform's time zone database knows it. */
export const timeZoneName = z.string().min(1).max(64).refine(isTimeZone, 'an IANA time zone name such as Asia/Shanghai');

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const configSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  // Unset: citygrid runs its own PostgreSQL + PostGIS cluster in CITYGRID_HOME.
  DATABASE_URL: z.string().url().optional(),
  // A streaming replica of that database (or of the embedded cluster): tiles, hotspots, wall and statistics read
  // there; every write, and every read that must see a write just made, uses the primary (db/read-pool.ts).
  DATABASE_READ_URL: z.string().url().optional(),
  // After the replica could not be reached, its reads go to the primary for this many seconds, then it is tried again.
  READ_REPLICA_RETRY_S: z.coerce.number().positive().max(3600).default(5),
  CITYGRID_HOME: z.string().default(path.join(projectRoot, '.citygrid')),
  CITYGRID_PG_PORT: z.coerce.number().int().min(1024).max(65535).default(54329),
  CITYGRID_DB_NAME: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('citygrid'),
  // 2 cores: more connections than this only queue inside PostgreSQL.
  PG_POOL_MAX: z.coerce.number().int().min(1).max(100).default(4),
  // Server processes sharing PORT (node:cluster; npm start -- --workers N says the same). Each has its own pools,
  // so the database sees WORKERS × (PG_POOL_MAX + HEAVY_POOL_MAX + 1) connections.
  WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  // Whether this process runs the schedulers (escalation, risk predictions); the supervisor turns them on in one
  // worker only (in none when set to false). Their advisory locks keep several hosts apart, so every host may
  // leave this on; false on all hosts but one runs them on that one alone.
  RUN_SCHEDULERS: z.enum(['true', 'false']).default('true').transform((value) => value === 'true'),
  // Seconds between escalation rounds (督办 of overdue incidents).
  ESCALATION_INTERVAL_S: z.coerce.number().positive().max(3600).default(60),
  // Heavy work (exports, imports, rebalancing, analytics) runs on a pool of its own, so it can never take the
  // connections every other request needs; each kind takes turns within its own limit.
  HEAVY_POOL_MAX: z.coerce.number().int().min(1).max(100).default(3),
  EXPORT_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(2),
  IMPORT_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(1),
  REBALANCE_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(1),
  ANALYTICS_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(2),
  // Seconds (decimals allowed) heavy work waits for its turn before the request is answered 503.
  HEAVY_QUEUE_WAIT_S: z.coerce.number().positive().max(3600).default(10),
  // Longest statement of heavy work; the request is then answered 503 (its transaction rolled back).
  HEAVY_STATEMENT_TIMEOUT_S: z.coerce.number().positive().max(86400).default(120),
  // A client that takes or sends no data for this long (an export or live stream it does not read, an upload that
  // stops) is disconnected, so it holds no connection or buffer; stream clients resume with Last-Event-ID.
  CLIENT_STALL_TIMEOUT_S: z.coerce.number().positive().max(3600).default(30),
  BODY_LIMIT: z.string().regex(/^\d+(kb|mb)$/i, 'a size such as 1mb or 512kb').default('1mb'),
  // Every JSON answer is checked against the schema its route documents, and a mismatch is a 500 naming it: on
  // in the tests, so the OpenAPI document (and the client types generated from it) cannot drift from the code.
  CHECK_ANSWERS: z.enum(['true', 'false']).default('false').transform((value) => value === 'true'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DEMO_SEED: z.string().default('citygrid'),
  // The city's calendar: statistics per day count local days of this zone unless a request names another.
  CITY_TIME_ZONE: timeZoneName.default('Asia/Shanghai'),
  // Gzipped vector tiles kept in memory per process; 0 turns the tile cache off (benchmarks, debugging).
  TILE_CACHE_MB: z.coerce.number().min(0).max(4096).default(64),
  WEB_DIST: z.string().default(path.join(projectRoot, 'web', 'dist')),
  // Photos uploaded with incident reports; unset: CITYGRID_HOME/uploads.
  UPLOAD_DIR: z.string().min(1).optional(),
  // Per photo (decimals allowed, e.g. 0.5) and per report.
  PHOTO_MAX_MB: z.coerce.number().positive().max(100).default(5),
  PHOTO_MAX_COUNT: z.coerce.number().int().min(1).max(20).default(6),
  // The URLs clients reach this server by (TileJSON and /tiles name them), comma-separated, the first the
  // default; unset: http://HOST:PORT. Never taken from the request's Host header (see http/public-url.ts).
  PUBLIC_URL: z.string().transform(publicUrls).optional(),
  // The city's extent, minLon,minLat,maxLon,maxLat; unset: the extent of the top-level grids. Geometry beyond it
  // (plus CITY_EXTENT_MARGIN_M) is refused.
  CITY_EXTENT: z.string().transform(cityExtent).optional(),
  CITY_EXTENT_MARGIN_M: z.coerce.number().min(0).max(100_000).default(2000),
  // Raw GPS fixes of grid workers (personal data) are deleted after this many days; tracks and indicators stay.
  PATROL_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(180),
  // Body limit of POST /api/patrols/points: 10,000 fixes of JSON are some 1.2 MB, more than BODY_LIMIT's default.
  PATROL_BODY_LIMIT: z.string().regex(/^\d+(kb|mb)$/i, 'a size such as 4mb or 512kb').default('4mb'),
  // A worker's new position goes out on the live stream at most once per this many seconds.
  PATROL_POSITION_INTERVAL_S: z.coerce.number().min(0).max(3600).default(10),
}).transform((config) => ({
  ...config,
  UPLOAD_DIR: config.UPLOAD_DIR ?? path.join(config.CITYGRID_HOME, 'uploads'),
  PUBLIC_URL: config.PUBLIC_URL ?? [`http://${wildcardHosts.has(config.HOST) ? '127.0.0.1' : config.HOST}:${config.PORT}`],
}));

// Listening on every address names no address a client could use.
const wildcardHosts = new Set(['0.0.0.0', '::', '[::]']);

function publicUrls(text: string, ctx: z.RefinementCtx): string[] {
  const urls = text.split(',').map((part) => part.trim()).filter(Boolean);
  const origins = urls.flatMap((url) => {
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    if (parsed && /^https?:$/.test(parsed.protocol) && parsed.pathname === '/' && !parsed.search && !parsed.username) return [parsed.origin];
    ctx.addIssue({ code: 'custom', message: `${url} is not an http(s) origin such as https://citygrid.example.gov` });
    return [];
  });
  if (!urls.length) ctx.addIssue({ code: 'custom', message: 'name at least one URL' });
  return origins;
}

function cityExtent(text: string, ctx: z.RefinementCtx): [number, number, number, number] {
  const parts = text.split(',').map((part) => Number(part.trim()));
  const [minLon, minLat, maxLon, maxLat] = parts;
  const valid = parts.length === 4 && parts.every(Number.isFinite) && minLon >= -180 && maxLon <= 180 && minLat >= -85 && maxLat <= 85 && minLon < maxLon && minLat < maxLat;
  if (!valid) ctx.addIssue({ code: 'custom', message: 'minLon,minLat,maxLon,maxLat in WGS84 degrees, minimum below maximum, latitudes within ±85' });
  return parts as [number, number, number, number];
}

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
