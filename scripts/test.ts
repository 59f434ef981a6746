// npm test: sets up what the tests need on this machine (Debian packages, database, web bundle), then jest.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { loadConfig, projectRoot } from '../server/config';
import { ensureSystemPackages } from '../server/db/system-packages';
import { ensureWebBuilt } from './web-build';

const config = loadConfig();
// PostGIS for every test, Chromium and a CJK font for the browser tests, GDAL and PyQGIS as real OGC API clients.
ensureSystemPackages(config.DATABASE_URL ? ['chromium', 'cjkFont', 'gdal', 'pyqgis'] : ['postgis', 'chromium', 'cjkFont', 'gdal', 'pyqgis']);
ensureWebBuilt(config.WEB_DIST);
const jest = path.join(projectRoot, 'node_modules', 'jest', 'bin', 'jest.js');
const result = spawnSync(process.execPath, [jest, ...process.argv.slice(2)], { stdio: 'inherit', cwd: projectRoot });
process.exit(result.status ?? 1);
