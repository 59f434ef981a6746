import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../server/config';
import { resolveDatabaseUrl } from '../../server/db/connect';
import { requireEnv, testEnv } from '../support/env';

describe('choosing the database', () => {
  it('uses DATABASE_URL as it is and starts no local cluster', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-home-'));
    const external = requireEnv(testEnv.serverUrl);
    const config = loadConfig({ DATABASE_URL: external, CITYGRID_HOME: home, CITYGRID_PG_PORT: '59999' });
    const log: string[] = [];
    await expect(resolveDatabaseUrl(config, (line) => log.push(line))).resolves.toBe(external);
    expect(fs.readdirSync(home)).toEqual([]); // no cluster folder was made
    expect(log).toEqual([]);
    fs.rmSync(home, { recursive: true });
  });
});
