import { useTestApp } from '../support/app';

describe('incidents and Open311 in the OpenAPI document', () => {
  const suite = useTestApp();

  it('documents every incident route', async () => {
    const { api } = suite;
    const document = (await api.request.get('/api').expect(200)).body;
    const paths = Object.keys(document.paths);
    for (const expected of ['/api/incidents', '/api/incidents/{id}', '/api/incidents/{id}/transitions', '/api/stats/incidents', '/api/incidents/stream', '/open311/v2/services.json', '/open311/v2/requests.json']) {
      expect(paths).toContain(expected);
    }
  });
});
