import type { Config } from '../config';
import { ensureEmbeddedCluster } from './embedded';
import { ensureDatabaseExists } from './pool';

/** DATABASE_URL when set (nothing local is started); otherwise the project's own cluster, started if needed. */
export async function resolveDatabaseUrl(config: Config, log: (line: string) => void = console.log): Promise<string> {
  if (config.DATABASE_URL) return config.DATABASE_URL;
  const url = ensureEmbeddedCluster({ home: config.CITYGRID_HOME, port: config.CITYGRID_PG_PORT, database: config.CITYGRID_DB_NAME, log });
  await ensureDatabaseExists(url);
  return url;
}
