import '../../server/http/openapi';
import { importGrids } from '../../server/grids/import';
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
