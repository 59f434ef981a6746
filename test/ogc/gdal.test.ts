import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createToken } from '../../server/auth/tokens';
import { ensureSystemPackages } from '../../server/db/system-packages';
import { type ChildServer, startChildServer } from '../support/child-server';
import { createTestDatabase, type TestDatabase } from '../support/db';

/** Real clients: GDAL's OAPIF driver (ogrinfo, ogr2ogr, Debian gdal-bin) against the running server. */
describe('GDAL reads /ogc', () => {
  let db: TestDatabase;
  let server: ChildServer;
  let folder: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ensureSystemPackages(['gdal']);
    db = await createTestDatabase();
    server = await startChildServer(db.url);
    const { token } = await createToken(db.pool, { role: 'admin', label: 'gdal', gridIds: [] });
    // GDAL sends this header with every request it makes (GDAL ≥ 3.6).
    env = { ...process.env, GDAL_HTTP_HEADERS: `Authorization: Bearer ${token}` };
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-gdal-'));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
    fs.rmSync(folder, { recursive: true, force: true });
  });

  const gdal = (tool: string, args: string[]) => execFileSync(tool, args, { encoding: 'utf8', env, maxBuffer: 256 * 1024 * 1024 });
  const source = () => `OAPIF:${server.url}/ogc`;

  async function countOf(sql: string): Promise<number> {
    return Number((await db.pool.query(`SELECT count(*) AS n FROM ${sql}`)).rows[0].n);
  }

  it('ogrinfo lists every collection with its feature count', async () => {
    const listing = gdal('ogrinfo', ['-ro', '-q', source()]);
    const expected: Record<string, number> = {
      grids_level_1: await countOf('grids WHERE level = 1'),
      grids_level_2: await countOf('grids WHERE level = 2'),
      grids_level_3: await countOf('grids WHERE level = 3'),
      grids_level_4: await countOf('grids WHERE level = 4'),
      buildings: await countOf('buildings'),
      hazards: await countOf('hazards'),
      key_places: await countOf('key_places'),
      incidents: await countOf('incidents WHERE NOT location_placeholder'),
      accidents: await countOf('accidents'),
      roads: await countOf('roads'),
      patrol_tracks: await countOf('patrol_tracks'),
    };
    const layers = [...listing.matchAll(/^\d+: (\w+) /gm)].map((match) => match[1]);
    expect(layers).toEqual(Object.keys(expected));
    for (const [layer, count] of Object.entries(expected)) {
      expect(count).toBeGreaterThan(0);
      const summary = gdal('ogrinfo', ['-ro', '-so', source(), layer]);
      expect(`${layer}: ${/Feature Count: (\d+)/.exec(summary)?.[1]}`).toBe(`${layer}: ${count}`);
    }
  });

  it('ogr2ogr copies grids to GeoPackage and FlatGeobuf with the same geometries', async () => {
    const copies = [
      { file: path.join(folder, 'grids.gpkg'), args: ['-f', 'GPKG'] },
      // FlatGeobuf has no list fields: a grid's workers become one text field.
      { file: path.join(folder, 'grids.fgb'), args: ['-f', 'FlatGeobuf', '-mapFieldType', 'StringList=String'] },
    ];
    for (const copy of copies) {
      gdal('ogr2ogr', [...copy.args, copy.file, source(), 'grids_level_4']);
      const exported = JSON.parse(gdal('ogr2ogr', ['-f', 'GeoJSON', '-lco', 'COORDINATE_PRECISION=15', '/vsistdout/', copy.file])) as {
        features: Array<{ properties: { code: string }; geometry: unknown }>;
      };
      const { rows } = await db.pool.query<{ code: string; relative: number | null }>(
        `SELECT g.code, abs(ST_Area(ST_SetSRID(ST_GeomFromGeoJSON(c.geometry), 4326)::geography) - ST_Area(g.geom::geography)) / ST_Area(g.geom::geography) AS relative
           FROM grids g LEFT JOIN jsonb_to_recordset($1::jsonb) AS c(code text, geometry text) ON c.code = g.code
          WHERE g.level = 4`,
        [JSON.stringify(exported.features.map((feature) => ({ code: feature.properties.code, geometry: JSON.stringify(feature.geometry) })))],
      );
      expect(exported.features.length).toBe(rows.length);
      const worst = Math.max(...rows.map((row) => row.relative ?? Infinity));
      expect(`${path.extname(copy.file)} worst relative area difference ${worst < 1e-6 ? '< 1e-6' : worst}`).toBe(`${path.extname(copy.file)} worst relative area difference < 1e-6`);
    }
  });

  it('ogrinfo reads a citygrid MVT tile over HTTP', async () => {
    const { rows } = await db.pool.query<{ x: number; y: number }>(
      `SELECT floor((ST_X(p) + 180) / 360 * 2 ^ 15)::int AS x, floor((1 - ln(tan(radians(ST_Y(p))) + 1 / cos(radians(ST_Y(p)))) / pi()) / 2 * 2 ^ 15)::int AS y
         FROM (SELECT ST_PointOnSurface(geom) AS p FROM buildings ORDER BY id LIMIT 1) b`,
    );
    const listing = gdal('ogrinfo', ['-ro', '-q', `/vsicurl/${server.url}/tiles/buildings/15/${rows[0].x}/${rows[0].y}.mvt`]);
    expect(listing).toMatch(/1: buildings \((Multi)?Polygon\)/);
  });
});
