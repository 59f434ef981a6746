import fs from 'node:fs';
import path from 'node:path';
import '../../server/http/openapi';
import { importGrids } from '../../server/grids/import';
import { createTestApp, useTestApp } from '../support/app';
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

  it('checks top-level grids against each other: the report lists overlapping pairs, --repair cuts them', async () => {
    const report = await importGrids(db.pool, { features: [feature('TOP-A', square(123.0, 30.0, 0.01)), feature('TOP-B', square(123.009, 30.0, 0.01))] }, { level: 1, repair: true });
    expect(report.siblingOverlaps).toHaveLength(1);
    expect(report.siblingOverlaps[0].codes).toEqual(['TOP-A', 'TOP-B']);
    expect(report.siblingOverlaps[0].areaM2).toBeGreaterThan(50_000);
    expect(report.before).toMatchObject({ overlaps: 1 });
    expect(report.after).toMatchObject({ overlaps: 0, overlapAreaM2: 0 });
    expect(await one(db, "SELECT ST_Area(ST_Intersection(a.geom, b.geom)) AS overlap FROM grids a, grids b WHERE a.code = 'TOP-A' AND b.code = 'TOP-B'")).toEqual({ overlap: 0 });
    // The grid that gave way lost about a tenth of its area, and the report says so.
    expect(report.areaChanges).toHaveLength(1);
    expect(report.areaChanges[0]).toMatchObject({ code: 'TOP-B' });
    expect(report.areaChanges[0].changePercent).toBeCloseTo(-10, 0);
  });

  it('serves what it accepts: a piece below the precision of GET is not stored, so GET → PATCH round-trips', async () => {
    const speck = { type: 'Polygon', coordinates: [[[123.1, 30.1], [123.1000000003, 30.1], [123.1, 30.1000000003], [123.1, 30.1]]] };
    const withSpeck = { type: 'MultiPolygon', coordinates: [square(123.05, 30.05, 0.01).coordinates, speck.coordinates] };
    await importGrids(db.pool, { features: [feature('SPECK', withSpeck)] }, { level: 1, repair: false });
    expect(await one(db, "SELECT ST_NumGeometries(geom) AS n FROM grids WHERE code = 'SPECK'")).toEqual({ n: 1 });
    const api = await createTestApp(db);
    try {
      const { id } = await one<{ id: number }>(db, "SELECT id FROM grids WHERE code = 'SPECK'");
      const got = await api.request.get(`/api/grids/${id}`).set(api.auth('planner')).expect(200);
      await api.request.patch(`/api/grids/${id}`).set(api.auth('planner')).set('If-Match', got.headers.etag).send({ geometry: got.body.feature.geometry }).expect(200);
    } finally {
      await api.close();
    }
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
    // Six pairs of districts overlap in the file (Tai Po / Sha Tin by 34,000 m²); repaired, none do.
    expect(districts.siblingOverlaps).toHaveLength(6);
    expect(districts.siblingOverlaps[0]).toMatchObject({ codes: ['P', 'R'] });
    expect(districts.siblingOverlaps[0].areaM2).toBeGreaterThan(30_000);
    expect(districts.before.overlaps).toBe(6);
    expect(districts.after).toMatchObject({ overlaps: 0, overlapAreaM2: 0 });
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
    // Repair changes many areas noticeably: the report lists them, largest relative change first.
    const changes = areas.areaChanges.map((change) => Math.abs(change.changePercent));
    expect(changes.filter((change) => change > 1).length).toBeGreaterThan(100);
    expect(changes).toEqual([...changes].sort((a, b) => b - a));

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

  it('serves what it accepts: every imported grid (districts, areas, level 3) written back unchanged with GET → PATCH is accepted and keeps its area', async () => {
    const { db, api } = suite;
    await db.pool.query(
      `CREATE TABLE roundtrip_before AS SELECT g.id, g.geom FROM grids g JOIN grids d ON d.id = coalesce((SELECT a.parent_id FROM grids a WHERE a.id = g.parent_id), g.parent_id, g.id)
       WHERE d.level = 1 AND d.code ~ '^[A-Z]$' OR g.level = 3 AND g.code LIKE 'L3-%'`,
    );
    const { rows: imported } = await db.pool.query<{ id: number }>('SELECT g.id FROM roundtrip_before b JOIN grids g USING (id) ORDER BY g.level, g.id');
    expect(imported.length).toBeGreaterThan(408);
    const refused: unknown[] = [];
    for (const grid of imported) {
      const got = await api.request.get(`/api/grids/${grid.id}`).set(api.auth('planner')).expect(200);
      const written = await api.request.patch(`/api/grids/${grid.id}`).set(api.auth('planner')).set('If-Match', got.headers.etag).send({ geometry: got.body.feature.geometry });
      if (written.status !== 200) refused.push({ code: got.body.feature.properties.code, status: written.status, detail: written.body.detail });
    }
    expect(refused).toEqual([]);
    // PATCH closes slivers up to 2 m wide against neighbours (districts have real gaps between them): areas
    // move by a few m², never by 0.1 %.
    const { rows: moved } = await db.pool.query(
      `SELECT g.id, ST_Area(g.geom::geography) AS now, ST_Area(b.geom::geography) AS before FROM grids g JOIN roundtrip_before b USING (id)
       WHERE abs(ST_Area(g.geom::geography) - ST_Area(b.geom::geography)) > 1e-3 * ST_Area(b.geom::geography)`,
    );
    expect(moved).toEqual([]);
  }, 300_000);
});
