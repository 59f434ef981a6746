import fs from 'node:fs';
import path from 'node:path';
import { roles, type Role } from '../server/auth/roles';
import { createToken, findActorByToken } from '../server/auth/tokens';
import type { Pool } from '../server/db/pool';

/**
 * One demo token per role, kept (in plain text, git-ignored) so every `npm start` prints the same working ones.
 * The database stores only hashes; tokens missing there (a reset database) are made anew.
 */
export async function ensureDemoTokens(pool: Pool, file: string): Promise<Record<Role, string>> {
  const saved: Partial<Record<Role, string>> = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  const tokens = {} as Record<Role, string>;
  const firstGrid = (await pool.query<{ id: number }>('SELECT id FROM grids WHERE level = 4 ORDER BY id LIMIT 1')).rows[0]?.id;
  for (const role of roles) {
    const existing = saved[role];
    if (existing && (await findActorByToken(pool, existing))) {
      tokens[role] = existing;
      continue;
    }
    const gridIds = role === 'grid_worker' && firstGrid ? [firstGrid] : [];
    tokens[role] = (await createToken(pool, { role, label: `demo ${role}`, gridIds })).token;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  return tokens;
}
