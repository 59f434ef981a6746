import supertest from 'supertest';
import { createApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { HeavyWork } from '../../server/db/heavy-work';
import { createPool } from '../../server/db/pool';
import { systemClock } from '../../server/deps';
import { EventBus } from '../../server/events/bus';
import { withFastPath } from '../../server/http/fast-path';
import { createLogger } from '../../server/logger';
import { useTestApp } from '../support/app';

describe('GET /health', () => {
  const suite = useTestApp();

  it('is 200 with the PostGIS version when the database answers', async () => {
    const response = await suite.api.request.get('/health').expect(200);
    expect(response.body.status).toBe('ok');
    expect(response.body.database.up).toBe(true);
    expect(response.body.database.postgis).toMatch(/^3\./);
    expect(response.body.reads).toBe('primary');
  });

  it('is 503 and says the database is down when it cannot be reached', async () => {
    const config = loadConfig({ LOG_LEVEL: 'silent' });
    // Nothing listens on port 1: every query fails to connect.
    const deadPool = createPool('postgresql://postgres@127.0.0.1:1/none', 1);
    const log = createLogger('silent');
    const heavy = new HeavyWork('postgresql://postgres@127.0.0.1:1/none', config);
    const app = createApp({ config, pool: deadPool, reads: deadPool, heavy, log, clock: systemClock, events: new EventBus('postgresql://127.0.0.1:1/none', log) });
    const response = await supertest(withFastPath(app, log)).get('/health').expect(503);
    expect(response.body).toMatchObject({ status: 'degraded', database: { up: false } });
    expect(response.body.database.error).toEqual(expect.any(String));
    await deadPool.end();
  });
});
