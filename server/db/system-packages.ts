import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** Debian packages the project installs for itself when it runs as root (rule: nothing installed by hand). */
export const systemPackages = {
  postgis: { pkg: 'postgresql-15-postgis-3', marker: '/usr/share/postgresql/15/extension/postgis.control' },
  chromium: { pkg: 'chromium', marker: '/usr/bin/chromium' },
  cjkFont: { pkg: 'fonts-noto-cjk', marker: '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc' },
  gdal: { pkg: 'gdal-bin', marker: '/usr/bin/ogrinfo' },
  pyqgis: { pkg: 'python3-qgis', marker: '/usr/lib/python3/dist-packages/qgis/core/__init__.py' },
} as const;

export type SystemPackage = keyof typeof systemPackages;

let aptUpdated = false;

/** Installs the missing Debian packages in one apt-get call; outside root it explains what to install instead. */
export function ensureSystemPackages(wanted: SystemPackage[], log: (line: string) => void = console.log): void {
  const missing = wanted.map((name) => systemPackages[name]).filter((p) => !fs.existsSync(p.marker));
  if (missing.length === 0) return;
  const names = missing.map((p) => p.pkg);
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages: ${names.join(' ')}. Run as root once, or: sudo apt-get install -y ${names.join(' ')}`);
  }
  log(`installing Debian packages: ${names.join(' ')} (once per machine)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    aptUpdated = true;
  }
  const result = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...names], { stdio: 'inherit', env });
  if (result.status !== 0) throw new Error(`apt-get install ${names.join(' ')} failed with exit code ${result.status}`);
}
