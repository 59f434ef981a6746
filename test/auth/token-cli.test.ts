import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { useTestApp } from '../support/app';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

describe('npm run token', () => {
  const suite = useTestApp();

  async function token(...args: string[]): Promise<string> {
    const { stdout } = await run(path.join(root, 'node_modules/.bin/tsx'), ['scripts/token.ts', ...args], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: suite.db.url },
    });
    return stdout.trim();
  }

  it('prints a grid worker token that opens only that grid’s people', async () => {
    const { rows } = await suite.db.pool.query<{ grid_id: number; other: number }>(
      `SELECT b.grid_id, (SELECT b2.grid_id FROM people p2 JOIN buildings b2 ON b2.id = p2.building_id WHERE b2.grid_id <> b.grid_id LIMIT 1) AS other
         FROM people p JOIN buildings b ON b.id = p.building_id WHERE b.grid_id IS NOT NULL LIMIT 1`,
    );
    const printed = await token('create', '--role', 'grid_worker', '--grids', String(rows[0].grid_id));
    expect(printed).toMatch(/^cg_\S+$/);
    const headers = { Authorization: `Bearer ${printed}` };
    expect((await suite.api.request.get('/api/layers/people').query({ grid: rows[0].grid_id }).set(headers).expect(200)).body.features.length).toBeGreaterThan(0);
    expect((await suite.api.request.get('/api/layers/people').query({ grid: rows[0].other }).set(headers).expect(200)).body.features).toEqual([]);
    const stored = await suite.db.pool.query('SELECT role FROM api_tokens WHERE token_hash = encode(sha256($1::bytea), $2)', [printed, 'hex']);
    expect(stored.rows).toEqual([{ role: 'grid_worker' }]);
  }, 60_000);

  it('refuses an unknown role', async () => {
    await expect(token('create', '--role', 'mayor')).rejects.toThrow(/expected one of/);
  }, 60_000);
});
