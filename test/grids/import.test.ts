import fs from 'node:fs';
import path from 'node:path';
import '../../server/http/openapi';
import { importGrids } from '../../server/grids/import';
import { useTestApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { one, square } from './support';

const feature = (code: string, geometry: object) => ({ type: 'Feature', properties: { code, name: code }, geometry });

describe('importGrids (npm run import:grids)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await importGrids(db.pool, { features: [feature('IMP', square(122.0, 30.0, 0.02))] }, { level: 1, repair: false });
  });
  afterAll(async () => {
    await db.drop();
  });

  // Two areas that overlap, leave a gap, and stick out of their district: what real boundaries look like.
  const messy = {
    features: [
      feature('IMP-1', { type: 'Polygon', coordinates: [[[121.999, 30.0], [122.0105, 30.0], [122.0105, 30.02], [121.999, 30.02], [121.999, 30.0]]] }),
      feature('IMP-2', { type: 'Polygon', coordinates: [[[122.01, 30.0], [122.02, 30.0], [122.02, 30.019], [122.01, 30.019], [122.01, 30.0]]] }),
    ],
  };

  it('reports gaps, overlaps and protrusions with areas, and --repair makes the areas nest and tile the district', async () => {
    const report = await importGrids(db.pool, messy, { level: 2, repair: true });
    expect(report.imported).toBe(2);
    expect(report.before.gaps).toBeGreaterThan(0);
    expect(report.before.overlaps).toBe(1);
    expect(report.before.outside).toBe(1);
    expect(report.before.overlapAreaM2).toBeGreaterThan(1000);
    expect(report.after).toMatchObject({ gaps: 0, overlaps: 0 });
    const check = await one<{ parent: number; error: number }>(
      db,
      `SELECT count(DISTINCT c.parent_id)::int AS parent, ST_Area(ST_SymDifference(p.geom, ST_Union(c.geom))::geography) AS error
       FROM grids p JOIN grids c ON c.parent_id = p.id WHERE p.code = 'IMP' GROUP BY p.geom`,
    );
    expect(check.parent).toBe(1);
    expect(check.error).toBeLessThan(1);
  });

  it('refuses invalid polygons without --repair and writes nothing', async () => {
    const bowtie = { type: 'Polygon', coordinates: [[[122.001, 30.001], [122.002, 30.002], [122.002, 30.001], [122.001, 30.002], [122.001, 30.001]]] };
    await expect(importGrids(db.pool, { features: [feature('IMP-BAD', bowtie)] }, { level: 2, repair: false })).rejects.toThrow(/Self-intersection/);
    expect(await one(db, "SELECT count(*)::int AS n FROM grids WHERE code = 'IMP-BAD'")).toEqual({ n: 0 });
  });
});

// The real Hong Kong census boundaries (../shared/data, beside the worktree); the only reason to skip is their absence.
const hkFolder = path.resolve(__dirname, '../../../shared/data/hk-boundaries');
const describeHk = fs.existsSync(hkFolder) ? describe : describe.skip;
const readCollection = (file: string) => JSON.parse(fs.readFileSync(path.join(hkFolder, file), 'utf8')) as { features: unknown[] };

describeHk('importGrids on the Hong Kong boundaries (18 districts, 390 constituency areas)', () => {
  const suite = useTestApp();

  it('reports the published gaps and overlaps, and with --repair every district passes GET /coverage', async () => {
    const { db, api } = suite;
    const districts = await importGrids(db.pool, readCollection('census2001_dc_land.lowres.geo.json'), { level: 1, codeField: 'DC_CODE', nameField: 'DC_CHIN', repair: true });
    expect(districts.imported).toBe(18);
    const areas = await importGrids(db.pool, readCollection('census2001_dcca_land.lowres.geo.json'), {
      level: 2,
      parentLevel: 1,
      codeField: 'DCCA',
      nameField: 'DCCA_ENG',
      repair: true,
    });
    expect(areas.imported).toBe(390);
    expect(areas.before.parents).toBe(18);
    expect(areas.before.gaps + areas.before.overlaps + areas.before.outside).toBeGreaterThan(100);
    expect(areas.after).toMatchObject({ parents: 18, gaps: 0, overlaps: 0, outside: 0 });

    const hkDistricts = (await db.pool.query<{ id: number; children: number }>(
      `SELECT p.id, count(c.id)::int AS children FROM grids p JOIN grids c ON c.parent_id = p.id
       WHERE p.level = 1 AND p.code = ANY($1::text[]) GROUP BY p.id`,
      [readCollection('census2001_dc_land.lowres.geo.json').features.map((feature) => (feature as { properties: { DC_CODE: string } }).properties.DC_CODE)],
    )).rows;
    expect(hkDistricts.length).toBe(18);
    expect(hkDistricts.reduce((sum, district) => sum + district.children, 0)).toBe(390);
    for (const district of hkDistricts) {
      const { body } = await api.request.get(`/api/grids/${district.id}/coverage`).set(api.auth('planner')).expect(200);
      expect({ id: district.id, clean: body.clean, gaps: body.gaps.features, overlaps: body.overlaps.features, outside: body.outside.features }).toEqual({
        id: district.id,
        clean: true,
        gaps: [],
        overlaps: [],
        outside: [],
      });
    }
    // The parents' boundaries are the reference: repairing the children does not move them.
    const { rows: moved } = await db.pool.query('SELECT id FROM grids WHERE id = ANY($1::bigint[]) AND version <> 1', [hkDistricts.map((district) => district.id)]);
    expect(moved).toEqual([]);
  }, 120_000);

  it('a third level repaired under the areas leaves every area and every district clean', async () => {
    const { db, api } = suite;
    // Level 3 as real data comes: each area of three districts cut by a 0.01° square grid, one piece in three
    // grown by ~1 m and one shrunk (overlaps, gaps and pieces outside the area).
    const { rows } = await db.pool.query<{ feature: unknown }>(
      `SELECT json_build_object('type', 'Feature', 'properties', json_build_object('code', 'L3-' || id || '-' || n),
              'geometry', ST_AsGeoJSON(ST_Buffer(piece, CASE n % 3 WHEN 0 THEN 0.00001 WHEN 1 THEN -0.00001 ELSE 0 END), 9)::json) AS feature
       FROM (SELECT id, row_number() OVER (PARTITION BY id) AS n, piece
             FROM (SELECT a.id, (ST_Dump(ST_Intersection(a.geom, cell.geom))).geom AS piece
                   FROM grids a JOIN ST_SquareGrid(0.01, (SELECT ST_SetSRID(ST_Extent(geom)::geometry, 4326) FROM grids WHERE level = 2)) cell ON cell.geom && a.geom
                   WHERE a.level = 2 AND left(a.code, 2) IN ('11', '13', '32')) pieces) numbered
       WHERE ST_Area(piece) > 1e-9`,
    );
    const report = await importGrids(db.pool, { features: rows.map((row) => row.feature) }, { level: 3, repair: true });
    expect(report.before.gaps + report.before.overlaps + report.before.outside).toBeGreaterThan(100);
    expect(report.after).toMatchObject({ gaps: 0, overlaps: 0, outside: 0 });
    // Before, the areas were refitted to their repaired pieces, which left slivers against the districts.
    const { rows: parents } = await db.pool.query<{ id: number }>('SELECT DISTINCT parent_id AS id FROM grids WHERE level IN (2, 3) ORDER BY 1');
    expect(parents.length).toBeGreaterThan(report.before.parents);
    const dirty: unknown[] = [];
    for (const { id } of parents) {
      const { body } = await api.request.get(`/api/grids/${id}/coverage`).set(api.auth('planner')).expect(200);
      if (!body.clean) dirty.push({ id, gaps: body.gapAreaM2, overlaps: body.overlapAreaM2, outside: body.outsideAreaM2 });
    }
    expect(dirty).toEqual([]);
  }, 120_000);
});
