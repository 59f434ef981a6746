import net, { type AddressInfo } from 'node:net';
import supertest from 'supertest';
import { createApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { HeavyWork } from '../../server/db/heavy-work';
import { createPool } from '../../server/db/pool';
import { systemClock } from '../../server/deps';
import { EventBus } from '../../server/events/bus';
import { withFastPath } from '../../server/http/fast-path';
import { createLogger } from '../../server/logger';

/** The real app on a database URL that fails: nothing there, or a server that hangs up on every connection. */
function appOn(url: string) {
  const log = createLogger('silent');
  const pool = createPool(url, 2);
  const config = loadConfig({ LOG_LEVEL: 'silent' });
  const app = createApp({ config, pool, reads: pool, heavy: new HeavyWork(url, config), log, clock: systemClock, events: new EventBus(url, log) });
  return { request: supertest(withFastPath(app, log)), pool };
}

describe('tiles while the database is away', () => {
  it('answers 503 problem+json with Retry-After when nothing listens', async () => {
    // Nothing listens on port 1: every connection is refused.
    const { request, pool } = appOn('postgresql://postgres@127.0.0.1:1/none');
    const response = await request.get('/tiles/grids/14/13700/6700.mvt').set('Authorization', 'Bearer some-token').expect(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.body).toMatchObject({ type: 'database-unavailable', status: 503, instance: '/tiles/grids/14/13700/6700.mvt' });
    expect(response.headers['x-request-id']).toEqual(expect.any(String));
    await pool.end();
  });

  it('tries the database once per tile request, not once more through Koa', async () => {
    let connections = 0;
    const hangUp = net.createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    const { request, pool } = appOn(`postgresql://postgres@127.0.0.1:${(hangUp.address() as AddressInfo).port}/none`);
    for (const path of ['/tiles/grids/14/13700/6700.mvt', '/tiles/incidents/12/3425/1675.mvt']) {
      const before = connections;
      // A server that hangs up is as unavailable as one that refuses: 503, the client may retry.
      const response = await request.get(path).set('Authorization', 'Bearer another-token').expect(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.body).toMatchObject({ type: 'database-unavailable', instance: path });
      expect(connections - before).toBe(1);
    }
    await pool.end();
    await new Promise((resolve) => hangUp.close(resolve));
  });
});
