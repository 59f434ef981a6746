import { listMigrationFiles, migrate } from '../../server/db/migrate';
import { createTestDatabase, type TestDatabase } from '../support/db';

describe('migration runner', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
  });
  afterAll(async () => db.drop());

  it('applies every numbered file once, in order, and a second run is a no-op', async () => {
    const files = listMigrationFiles();
    const first = await migrate(db.pool);
    expect(first.applied).toEqual(files);
    const tablesAfterFirst = await db.pool.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");

    const second = await migrate(db.pool);
    expect(second.applied).toEqual([]);
    expect(second.skipped).toBe(files.length);
    const tablesAfterSecond = await db.pool.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    expect(tablesAfterSecond.rows[0].n).toBe(tablesAfterFirst.rows[0].n);
    const recorded = await db.pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
    expect(recorded.rows.map((r) => r.name)).toEqual(files);
  });

  it('has PostGIS and a GIST index led by every geometry column, on every row but for raw GPS fixes (those no grid holds, sql/230)', async () => {
    const { rows } = await db.pool.query<{ table_name: string; column_name: string }>(`
      SELECT c.f_table_name AS table_name, c.f_geometry_column AS column_name
      FROM geometry_columns c
      WHERE c.f_table_schema = 'public' AND NOT EXISTS (
        SELECT 1 FROM pg_indexes i
        WHERE i.tablename = c.f_table_name AND i.indexdef ~* ('USING gist \\(' || c.f_geometry_column || '[,)]')
          AND (i.indexdef !~* ' WHERE ' OR c.f_table_name = 'patrol_points'))`);
    expect(rows).toEqual([]);
  });
});
