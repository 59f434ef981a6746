import { createTestApp, type TestApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/db';

describe('incidents and Open311 in the OpenAPI document', () => {
  let db: TestDatabase;
  let api: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    api = await createTestApp(db);
  });
  afterAll(async () => {
    await api.close();
    await db.drop();
  });

  it('documents every incident route', async () => {
    const document = (await api.request.get('/api').expect(200)).body;
    const paths = Object.keys(document.paths);
    for (const expected of ['/api/incidents', '/api/incidents/{id}', '/api/incidents/{id}/transitions', '/api/stats/incidents', '/api/incidents/stream', '/open311/v2/services.json', '/open311/v2/requests.json']) {
      expect(paths).toContain(expected);
    }
  });
});
