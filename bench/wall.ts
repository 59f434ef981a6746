/**
 * npm run bench:wall — what the wall display costs the network: the bytes transferred (as sent, compressed) by the
 * first load of /wall at 1920×1080 until it is ready, and the bytes per minute while it then runs (summary,
 * cells, patrols, tiles of the tour, the event stream) over `--minutes` (default 3), with `--reports-per-minute`
 * incidents (default 30) reported through the API meanwhile. Runs the server on the database `npm start` uses
 * (loads the full demo city there first if it holds no grids) and Chromium as the tests do. Goals (issue 19):
 * first load < 3 MB, running < 1 MB per minute with 200,000 incidents in the database.
 */
import { parseArgs } from 'node:util';
import type { CDPSession, Page } from 'playwright-core';
import { createApp } from '../server/app';
import { HeavyWork } from '../server/db/heavy-work';
import { createToken, revokeToken } from '../server/auth/tokens';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool } from '../server/db/pool';
import { systemClock } from '../server/deps';
import { EventBus } from '../server/events/bus';
import { withFastPath } from '../server/http/fast-path';
import { createLogger } from '../server/logger';
import { demoShowcaseDay } from '../data/demo/activity';
import { countDemoRows, demoCityOptions, loadDemoCity } from '../data/demo/load';
import { ensureWebBuilt } from '../scripts/web-build';
import { launchBrowser, listen } from '../test/support/browser';

const kindOf = (url: string) => {
  const path = new URL(url).pathname;
  return path.startsWith('/assets/') || path === '/wall' ? 'app' : path.startsWith('/tiles/') ? 'tiles' : path.replace(/^\/api\//, '');
};

/**
 * Bytes received per request kind, as the network carried them (headers and compressed body): finished requests
 * through Playwright, which also sees the map worker's tile requests; the event stream, which never finishes, as
 * its data arrives (DevTools protocol).
 */
function countBytes(page: Page, cdp: CDPSession): { total: () => number; byKind: Map<string, number>; reset: () => void } {
  const byKind = new Map<string, number>();
  const add = (kind: string, bytes: number) => byKind.set(kind, (byKind.get(kind) ?? 0) + bytes);
  page.on('requestfinished', (request) => {
    request.sizes().then(
      (sizes) => add(kindOf(request.url()), sizes.responseHeadersSize + sizes.responseBodySize),
      () => undefined,
    );
  });
  const streams = new Set<string>();
  void cdp.send('Network.enable');
  cdp.on('Network.requestWillBeSent', ({ requestId, request }) => (kindOf(request.url) === 'incidents/stream' ? streams.add(requestId) : undefined));
  cdp.on('Network.dataReceived', ({ requestId, encodedDataLength }) => (streams.has(requestId) ? add('incidents/stream', encodedDataLength) : undefined));
  return { total: () => [...byKind.values()].reduce((a, b) => a + b, 0), byKind, reset: () => byKind.clear() };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '3' }, 'reports-per-minute': { type: 'string', default: '30' } } });
  const minutes = Number(values.minutes);
  const reportsPerMinute = Number(values['reports-per-minute']);
  const config = loadConfig(process.env);
  const databaseUrl = await resolveDatabaseUrl(config);
  const pool = createPool(databaseUrl, 4);
  await migrate(pool);
  const counts = await countDemoRows(pool);
  if (counts.grids === 0) await loadDemoCity(pool, { progress: true });
  const incidents = (await countDemoRows(pool)).incidents;
  ensureWebBuilt(config.WEB_DIST);
  const log = createLogger('silent');
  const events = new EventBus(databaseUrl, log);
  await events.start();
  const server = await listen(withFastPath(createApp({ config, pool, reads: pool, heavy: new HeavyWork(databaseUrl, config), log, clock: systemClock, events }), log));
  const commander = await createToken(pool, { role: 'commander', label: 'bench:wall' });
  const hotline = await createToken(pool, { role: 'hotline', label: 'bench:wall' });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const bytes = countBytes(page, await page.context().newCDPSession(page));
    const started = Date.now();
    await page.goto(`${server.url}/wall?token=${commander.token}&day=${demoShowcaseDay(demoCityOptions.year)}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 600_000 });
    const firstLoad = { total: bytes.total(), byKind: new Map(bytes.byKind), seconds: (Date.now() - started) / 1000 };
    bytes.reset();
    const { rows } = await pool.query<{ lon: number; lat: number }>('SELECT ST_X(ST_Centroid(geom)) AS lon, ST_Y(ST_Centroid(geom)) AS lat FROM buildings ORDER BY random() LIMIT 1000');
    const runMs = minutes * 60_000;
    const runStart = Date.now();
    let reported = 0;
    while (Date.now() - runStart < runMs) {
      const at = rows[reported % rows.length];
      await fetch(`${server.url}/api/incidents`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${hotline.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ category: '环境卫生', source: 'hotline', description: 'bench:wall', location: { type: 'Point', coordinates: [at.lon, at.lat] } }),
      });
      reported++;
      await new Promise((resolve) => setTimeout(resolve, 60_000 / reportsPerMinute));
    }
    const running = bytes.total() / minutes;
    console.log(`\nwall display, demo city with ${incidents.toLocaleString('en')} incidents (the machine was shared with other work)\n`);
    console.log('| measure | bytes | goal | ratio to goal |\n|---|---|---|---|');
    console.log(`| first load of /wall until ready (${firstLoad.seconds.toFixed(0)} s), compressed | ${kb(firstLoad.total)} | 3 MB | ${(firstLoad.total / 3 / 1024 ** 2).toFixed(2)} |`);
    console.log(`| running, per minute (${minutes} min, ${reported} reports) | ${kb(running)} | 1 MB | ${(running / 1024 ** 2).toFixed(2)} |`);
    console.log('\nfirst load by kind:', Object.fromEntries([...firstLoad.byKind].map(([k, v]) => [k, kb(v)])));
    console.log('running by kind, per minute:', Object.fromEntries([...bytes.byKind].map(([k, v]) => [k, kb(v / minutes)])));
  } finally {
    await browser.close();
    await server.close();
    await revokeToken(pool, commander.id);
    await revokeToken(pool, hotline.id);
    await events.stop();
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
