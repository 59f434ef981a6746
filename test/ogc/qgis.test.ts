import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { createToken } from '../../server/auth/tokens';
import { ensureSystemPackages } from '../../server/db/system-packages';
import { type ChildServer, startChildServer } from '../support/child-server';
import { createTestDatabase, type TestDatabase } from '../support/db';

interface QgisAnswer {
  version: number;
  valid: boolean;
  features?: Array<{ code: string; name: string; areaM2: number }>;
  canChangeAttributes?: boolean;
  committed?: boolean;
  commitErrors?: string[];
}

/** QGIS from the first release whose OAPIF provider edits through OGC API – Features Part 4. */
const qgisEditsOapifFrom = 33200;

/** A real desktop GIS: PyQGIS (Debian python3-qgis, headless) opens the level-4 grids through /ogc as a planner. */
describe('QGIS opens /ogc', () => {
  let db: TestDatabase;
  let server: ChildServer;
  let token: string;

  beforeAll(async () => {
    ensureSystemPackages(['pyqgis']);
    db = await createTestDatabase();
    server = await startChildServer(db.url);
    ({ token } = await createToken(db.pool, { role: 'planner', label: 'qgis' }));
  }, 600_000);
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  const runQgis = (code: string, newName: string): QgisAnswer =>
    JSON.parse(
      execFileSync('/usr/bin/python3', [path.join(__dirname, 'qgis-oapif.py'), server.url, token, 'grids_level_4', code, newName], {
        encoding: 'utf8',
        env: { ...process.env, QT_QPA_PLATFORM: 'offscreen' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ) as QgisAnswer;

  it('reads every level-4 grid with its name and shape, and renames one through the layer where its QGIS can edit OAPIF', async () => {
    const { rows } = await db.pool.query<{ code: string; name: string; area: number }>('SELECT code, name, ST_Area(geom) AS area FROM grids WHERE level = 4 ORDER BY code');
    const target = rows[0];
    const answer = runQgis(target.code, `${target.name}（QGIS）`);
    expect(answer.valid).toBe(true);
    const read = [...(answer.features ?? [])].sort((a, b) => (a.code < b.code ? -1 : 1));
    expect(read.map(({ code, name }) => ({ code, name }))).toEqual(rows.map(({ code, name }) => ({ code, name })));
    read.forEach((feature, i) => expect(Math.abs(feature.areaM2 - rows[i].area) / rows[i].area).toBeLessThan(1e-6));

    const stored = async () => (await db.pool.query<{ name: string }>('SELECT name FROM grids WHERE code = $1', [target.code])).rows[0].name;
    if (answer.version < qgisEditsOapifFrom) {
      // Debian 12's QGIS 3.22: its OAPIF provider offers no editing at all (README: QGIS and OGC API clients).
      expect(answer.canChangeAttributes).toBe(false);
      expect(await stored()).toBe(target.name);
      return;
    }
    expect({ canChangeAttributes: answer.canChangeAttributes, committed: answer.committed, errors: answer.commitErrors }).toEqual({ canChangeAttributes: true, committed: true, errors: [] });
    expect(await stored()).toBe(`${target.name}（QGIS）`);
    const { rows: audit } = await db.pool.query<{ role: string; route: string }>(
      `SELECT a.role, a.route FROM audit_log a JOIN grids g ON g.id = a.entity_id WHERE a.entity = 'grids' AND g.code = $1 ORDER BY a.id DESC LIMIT 1`,
      [target.code],
    );
    expect(audit[0].role).toBe('planner');
  });
});
