import pg from 'pg';
import { databaseUrl, requireEnv, testEnv } from './env';

export default async function globalTeardown(): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl(requireEnv(testEnv.serverUrl), 'postgres') });
  await admin.connect();
  try {
    const prefix = requireEnv(testEnv.runPrefix);
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [prefix]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
