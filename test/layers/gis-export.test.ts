import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { createTestApp, useTestApp } from '../support/app';
import { useTempFolder } from '../support/temp-folder';
import { binary } from '../support/tiles';

/** GeoPackage and FlatGeobuf exports, read back by GDAL (ogrinfo, ogr2ogr) as QGIS would read them. */
describe('layer export as GeoPackage and FlatGeobuf', () => {
  const suite = useTestApp();
  const temp = useTempFolder('citygrid-gis-export-');

  async function download(layer: string, format: string): Promise<string> {
    const response = await suite.api.request.get(`/api/layers/${layer}/export?format=${format}`).set(suite.api.auth('planner')).buffer(true).parse(binary).expect(200);
    expect(response.headers['content-disposition']).toBe(`attachment; filename="${layer}.${format}"`);
    const file = path.join(temp.path, `${layer}.${format}`);
    fs.writeFileSync(file, response.body as Buffer);
    return file;
  }

  /**
   * Every feature of the file as GDAL reads it: its attributes and its geometry as WKT. The id is a field of the
   * FlatGeobuf and the feature id (FID) of the GeoPackage, which OGR SQL names FID.
   */
  function readBack(file: string, layer: string): Array<Record<string, string>> {
    const sql = `SELECT *, FID AS feature_id FROM ${layer}`;
    const csv = execFileSync('ogr2ogr', ['-f', 'CSV', '/vsistdout/', file, '-dialect', 'OGRSQL', '-sql', sql, '-lco', 'GEOMETRY=AS_WKT'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    return (parse(csv, { columns: true }) as Array<Record<string, string>>).map(({ feature_id, ...row }) => ({ ...row, id: row.id ?? feature_id }));
  }

  /** How many of the rows read back have the stored geometry of the same id (same shape, area within 1e-9). */
  async function sameGeometries(table: string, rows: Array<Record<string, string>>): Promise<number> {
    const { rows: matched } = await suite.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM unnest($1::bigint[], $2::text[]) AS v (id, wkt) JOIN ${table} t USING (id)
       WHERE ST_Equals(t.geom, ST_GeomFromText(v.wkt, 4326))
         AND abs(ST_Area(t.geom) - ST_Area(ST_GeomFromText(v.wkt, 4326))) <= 1e-9 * greatest(ST_Area(t.geom), 1e-12)`,
      [rows.map((row) => Number(row.id)), rows.map((row) => row.WKT)],
    );
    return matched[0].n;
  }

  it.each(['gpkg', 'fgb'])('exports every building with its id, attributes, EPSG:4326 and exact geometry as %s', async (format) => {
    const layer = 'buildings';
    const file = await download(layer, format);
    const info = execFileSync('ogrinfo', ['-ro', '-so', '-al', file], { encoding: 'utf8' });
    const { rows } = await suite.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM buildings');
    expect(info).toMatch(new RegExp(`Feature Count: ${rows[0].n}\\b`));
    expect(info).toMatch(/Geometry: Multi Polygon/);
    expect(info).toMatch(/ID\["EPSG",4326\]/);
    const features = readBack(file, layer);
    expect(features).toHaveLength(rows[0].n);
    expect(await sameGeometries('buildings', features)).toBe(rows[0].n);
    const stored = await suite.db.pool.query<{ id: number; code: string | null; floors: number }>('SELECT id, code, floors FROM buildings ORDER BY id LIMIT 50');
    const byId = new Map(features.map((feature) => [Number(feature.id), feature]));
    for (const building of stored.rows) {
      expect(byId.get(building.id)).toMatchObject({ code: building.code ?? '', floors: String(building.floors) });
    }
  });

  it.each(['gpkg', 'fgb'])('exports points with their attribute types (key places as %s)', async (format) => {
    const layer = 'key_places';
    const file = await download(layer, format);
    const info = execFileSync('ogrinfo', ['-ro', '-so', '-al', file], { encoding: 'utf8' });
    expect(info).toMatch(/Geometry: Point/);
    expect(info).toMatch(/capacity: Integer/);
    const features = readBack(file, layer);
    const { rows } = await suite.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM key_places');
    expect(features).toHaveLength(rows[0].n);
    expect(await sameGeometries('key_places', features)).toBe(rows[0].n);
  });

  it('refuses GeoPackage and FlatGeobuf for people, who have no geometry (400), and keeps them from non-admins (403)', async () => {
    const refused = await suite.api.request.get('/api/layers/people/export?format=gpkg').set(suite.api.auth('admin')).expect(400);
    expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(refused.body.formats).toEqual(['csv', 'geojson']);
    await suite.api.request.get('/api/layers/people/export?format=fgb').set(suite.api.auth('planner')).expect(403);
    await suite.api.request.get('/api/layers/buildings/export?format=shp').set(suite.api.auth('planner')).expect(400);
  });

  it('answers 503 statement-timeout, not 500, when ogr2ogr\'s query runs past HEAVY_STATEMENT_TIMEOUT_S, leaving no file behind', async () => {
    const impatient = await createTestApp(suite.db, { env: { HEAVY_STATEMENT_TIMEOUT_S: '0.3' } });
    const before = fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('citygrid-export-')).length;
    // A writer holding the table makes ogr2ogr's read wait, so the timeout fires however fast the machine is.
    const writer = await suite.db.pool.connect();
    try {
      await writer.query('BEGIN');
      await writer.query('LOCK TABLE buildings IN ACCESS EXCLUSIVE MODE');
      const response = await impatient.request.get('/api/layers/buildings/export?format=gpkg').set(impatient.auth('planner')).expect(503);
      expect(response.body.type).toMatch(/statement-timeout/);
    } finally {
      await writer.query('ROLLBACK');
      writer.release();
      await impatient.close();
    }
    expect(fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('citygrid-export-')).length).toBeLessThanOrEqual(before);
  });
});
