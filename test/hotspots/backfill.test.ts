import { migrate } from '../../server/db/migrate';
import { storedCell } from '../../server/geo/h3';
import { createTestDatabase, type TestDatabase } from '../support/db';

describe('migration 140 on a database that already holds incidents and accidents', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('adds the cell column and back-fills every existing row as the write paths would', async () => {
    // Back to the schema before 140 (its own statements undone), rows kept.
    await db.pool.query(`
      DROP INDEX incidents_reported_at_cells_idx; DROP INDEX accidents_occurred_at_cells_idx;
      CREATE INDEX incidents_reported_at_idx ON incidents (reported_at); CREATE INDEX accidents_occurred_at_idx ON accidents (occurred_at);
      DROP FUNCTION h3_cell_parent(bigint, int);
      ALTER TABLE incidents DROP COLUMN h3_r10; ALTER TABLE accidents DROP COLUMN h3_r10;
      DELETE FROM schema_migrations WHERE name = '140_hotspot_cells.sql'`);
    const result = await migrate(db.pool);
    expect(result.applied).toEqual(['140_hotspot_cells.sql']);
    for (const table of ['incidents', 'accidents']) {
      const { rows } = await db.pool.query<{ cell: string | null; lon: number; lat: number }>(`SELECT h3_r10::text AS cell, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM ${table}`);
      expect(rows.length).toBeGreaterThan(500);
      expect(rows.filter((row) => row.cell !== storedCell(row.lon, row.lat))).toEqual([]);
    }
    const audit = await db.pool.query<{ entity: string }>(`SELECT entity FROM audit_log WHERE route = 'migration 140' ORDER BY entity`);
    expect(audit.rows.map((row) => row.entity)).toEqual(['accidents', 'incidents']);
  });
});
