import { EventEmitter } from 'node:events';
import { createApp } from '../server/app';
import { loadConfig } from '../server/config';
import { HeavyWork } from '../server/db/heavy-work';
import { createPool } from '../server/db/pool';
import { systemClock } from '../server/deps';
import { EventBus } from '../server/events/bus';
import { createLogger } from '../server/logger';

/** The caches the app keeps fresh from change events are subscribed where they are made, and let go on close. */
describe('createApp and close', () => {
  it('subscribes the tile and hotspot caches to the event bus once, and close() unsubscribes them', async () => {
    const unused = 'postgresql://unused@127.0.0.1:1/unused';
    const config = loadConfig({ LOG_LEVEL: 'silent' });
    const log = createLogger('silent');
    const events = new EventBus(unused, log);
    // The bus's own emitter: its listener counts are what a subscription leaves behind.
    const emitter = (events as unknown as { emitter: EventEmitter }).emitter;
    const pool = createPool(unused, 1);
    const heavy = new HeavyWork(unused, config);
    const app = createApp({ config, pool, reads: pool, heavy, log, clock: systemClock, events });
    expect([emitter.listenerCount('change'), emitter.listenerCount('resync')]).toEqual([2, 2]);
    app.close();
    expect([emitter.listenerCount('change'), emitter.listenerCount('resync')]).toEqual([0, 0]);
    await Promise.all([pool.end(), heavy.close()]);
  });
});
