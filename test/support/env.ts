/** Names shared by the global setup (parent process) and the test files (workers) through the environment. */
export const testEnv = {
  serverUrl: 'CITYGRID_TEST_SERVER_URL', // any database on the test server; used to create and drop databases
  template: 'CITYGRID_TEST_TEMPLATE', // migrated database with the small demo city, cloned per test file
  runPrefix: 'CITYGRID_TEST_PREFIX',
} as const;

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with npm test (jest's global setup sets it)`);
  return value;
}

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
