import supertest from 'supertest';
import { createApp } from '../../server/app';
import { HeavyWork } from '../../server/db/heavy-work';
import { loadConfig } from '../../server/config';
import { createPool } from '../../server/db/pool';
import { systemClock } from '../../server/deps';
import { EventBus } from '../../server/events/bus';
import { withFastPath } from '../../server/http/fast-path';
import { createLogger } from '../../server/logger';

/** Every route of the OpenAPI document while the database is away: 503 with Retry-After, never a 500. */
describe('every route while the database is away', () => {
  // Nothing listens on port 1: every connection is refused.
  const url = 'postgresql://postgres@127.0.0.1:1/none';
  const log = createLogger('silent');
  const pool = createPool(url, 2);
  const config = loadConfig({ LOG_LEVEL: 'silent' });
  const heavy = new HeavyWork(url, config);
  const app = createApp({ config, pool, reads: pool, heavy, log, clock: systemClock, events: new EventBus(url, log) });
  const request = supertest(withFastPath(app, log));
  afterAll(() => Promise.all([pool.end(), heavy.close()]));

  it('answers 503 with Retry-After on every route that needs the database', async () => {
    const document = (await request.get('/api').expect(200)).body as { paths: Record<string, Record<string, unknown>> };
    const answers: string[] = [];
    for (const [route, operations] of Object.entries(document.paths)) {
      // Path parameters filled with values of the right shape: the request reaches the database, not validation.
      const path = route.replace(/\{(\w+)\}/g, (_, name: string) => (['z', 'x', 'y'].includes(name) ? '14' : name === 'code' || name === 'name' ? 'x' : '1'));
      for (const method of Object.keys(operations)) {
        // Open311 validates its form before it reads api_key; the other routes authorize first.
        const body = path.startsWith('/open311/') ? { service_code: 'x', lat: '31.3', long: '120.7', api_key: 'some-token' } : {};
        const response = await request[method as 'get'](path).set('Authorization', 'Bearer some-token').set('Idempotency-Key', 'k').send(body);
        const fine = response.status === 503 && response.headers['retry-after'] === '5';
        if (!fine) answers.push(`${method.toUpperCase()} ${path}: ${response.status} ${response.headers['retry-after'] ?? ''}`);
      }
    }
    // The documents that are constants need no database: this one, and the OGC landing page and conformance.
    const constant = ['GET /api: 200', 'GET /ogc: 200', 'GET /ogc/conformance: 200'];
    expect(answers.filter((answer) => !constant.some((prefix) => answer.startsWith(prefix)))).toEqual([]);
  });
});
