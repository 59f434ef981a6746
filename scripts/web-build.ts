import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../server/config';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** Builds web/ with Vite when the bundle is missing or older than its sources. */
export function ensureWebBuilt(webDist: string): void {
  const index = path.join(webDist, 'index.html');
  const sources = path.join(projectRoot, 'web');
  if (fs.existsSync(index) && fs.statSync(index).mtimeMs >= newestMtime(path.join(sources, 'src'))) return;
  console.log('building the web UI (vite build web)...');
  execFileSync(process.execPath, [path.join(projectRoot, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', sources, '--logLevel', 'warn'], { stdio: 'inherit', cwd: projectRoot });
}
