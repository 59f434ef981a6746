import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../server/config';

/**
 * The import graph of server/ against .dependency-cruiser.cjs: no cycle, and no import from http/, db/ or geo/ up
 * into a domain (on the code before issue 14 it names http/route → audit/write-context, db/migrate →
 * hotspots/backfill and the http/openapi ⇄ http/route cycle).
 */
describe('the import graph', () => {
  it('has no cycle and no arrow from http/, db/ or geo/ up into a domain', () => {
    const depcruise = path.join(projectRoot, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
    const result = spawnSync(process.execPath, [depcruise, '--config', '.dependency-cruiser.cjs', '--output-type', 'err', 'server'], { cwd: projectRoot, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toMatch(/no dependency violations found/);
    expect(result.status).toBe(0);
  });
});
