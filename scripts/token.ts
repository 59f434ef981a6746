// npm run token -- create --role planner [--grids 1,2] [--label text] [--worker W]   prints one new bearer token
//   (--worker: the worker id a grid worker's phone posts GPS fixes as, one of grids.workers)
// npm run token -- demo                                               prints a new token for every role
// npm run token -- revoke <id>
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { roles } from '../server/auth/roles';
import { createToken, revokeToken } from '../server/auth/tokens';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { type Pool, createPool } from '../server/db/pool';

const gridList = z
  .string()
  .regex(/^\d+(,\d+)*$/, '--grids is a comma-separated list of grid ids')
  .transform((text) => text.split(',').map(Number));

async function run(pool: Pool, args: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { role: { type: 'string' }, grids: { type: 'string' }, label: { type: 'string' }, worker: { type: 'string' } },
  });
  const [command, argument] = positionals;
  if (command === 'create') {
    const role = z.enum(roles).parse(values.role);
    const gridIds = values.grids === undefined ? [] : gridList.parse(values.grids);
    const created = await createToken(pool, { role, gridIds, label: values.label, worker: values.worker });
    console.log(created.token);
    return;
  }
  if (command === 'demo') {
    // A demo grid worker serves the first level-4 grid, so its people are visible to it, and is that grid's first
    // worker, so it posts and reads that worker's patrols.
    const { rows } = await pool.query<{ id: number; worker: string | null }>('SELECT id, workers[1] AS worker FROM grids WHERE level = 4 ORDER BY id LIMIT 1');
    for (const role of roles) {
      const gridIds = role === 'grid_worker' ? rows.map((row) => row.id) : [];
      const worker = role === 'grid_worker' ? rows[0]?.worker ?? undefined : undefined;
      const created = await createToken(pool, { role, gridIds, label: `demo ${role}`, worker });
      console.log(`${role.padEnd(12)} ${created.token}${gridIds.length ? `  (grids ${gridIds.join(',')})` : ''}`);
    }
    return;
  }
  if (command === 'revoke') {
    const id = z.coerce.number().int().positive().parse(argument);
    console.log((await revokeToken(pool, id)) ? `token ${id} revoked` : `no active token ${id}`);
    return;
  }
  throw new Error('usage: npm run token -- create --role <role> [--grids 1,2] [--label text] [--worker W] | demo | revoke <id>');
}

async function main(): Promise<void> {
  const pool = createPool(await resolveDatabaseUrl(loadConfig(), (line) => console.error(line)), 1);
  try {
    await migrate(pool);
    await run(pool, process.argv.slice(2));
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof z.ZodError ? error.issues.map((issue) => issue.message).join('\n') : (error as Error).message);
  process.exit(1);
});
