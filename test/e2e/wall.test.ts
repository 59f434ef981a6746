import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { projectRoot } from '../../server/config';
import { useTestApp } from '../support/app';
import { forbidOutsideRequests, launchBrowser, listen, shareNotBackground } from '../support/browser';

// Software WebGL on two shared cores: the first frame of every layer type takes seconds.
jest.setTimeout(480_000);

const screenshots = path.join(projectRoot, 'test-output', 'screenshots');
// The test city's patrols walk on 2 June 2025, 09:00–13:00 Asia/Shanghai: the wall's clock runs from 10:30 that day.
const offsetMs = Date.now() - Date.parse('2025-06-02T02:30:00.000Z');
const clock = () => new Date(Date.now() - offsetMs);
const background: [number, number, number] = [0x05, 0x0d, 0x18];

describe('the wall display in headless Chromium', () => {
  const suite = useTestApp({ clock });
  let server: Awaited<ReturnType<typeof listen>>;
  let browser: Browser;
  let page: Page;
  let outside: string[];
  const errors: string[] = [];
  let places: Array<[number, number]>;

  beforeAll(async () => {
    server = await listen(suite.api.listener);
    browser = await launchBrowser();
    fs.mkdirSync(screenshots, { recursive: true });
    const { rows } = await suite.db.pool.query<{ lon: number; lat: number }>(
      'SELECT ST_X(ST_Centroid(geom)) AS lon, ST_Y(ST_Centroid(geom)) AS lat FROM buildings ORDER BY id LIMIT 3 OFFSET 500',
    );
    places = rows.map((row) => [row.lon, row.lat]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function openWall(width: number, height: number): Promise<Page> {
    const opened = await browser.newPage({ viewport: { width, height } });
    await opened.goto(`${server.url}/wall?token=${suite.api.tokens.commander}`);
    await opened.waitForFunction(() => document.body.dataset.ready, undefined, { polling: 500, timeout: 400_000 });
    expect(await opened.getAttribute('body', 'data-ready')).toBe('true');
    return opened;
  }

  function waitForState(on: Page, state: string, timeout: number) {
    return on.waitForFunction((expected) => document.getElementById('wall-connection')?.dataset.state === expected, state, { polling: 200, timeout });
  }

  function kpiFigureHeight(on: Page): Promise<number> {
    return on.evaluate(() => (document.querySelector('[data-kpi="reports"] b') as HTMLElement).getBoundingClientRect().height);
  }

  async function report(category: string, at: [number, number]): Promise<number> {
    const { api } = suite;
    const created = await api.request
      .post('/api/incidents')
      .set(api.auth('hotline'))
      .send({ category, source: 'hotline', description: 'wall test', location: { type: 'Point', coordinates: at } })
      .expect(201);
    return created.body.id;
  }

  it('loads with no console error and no request leaving 127.0.0.1, and draws data on the map', async () => {
    page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    outside = await forbidOutsideRequests(page);
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => (message.type() === 'error' ? errors.push(message.text()) : undefined));
    await page.goto(`${server.url}/wall?token=${suite.api.tokens.commander}`);
    await page.waitForFunction(() => document.body.dataset.ready, undefined, { polling: 500, timeout: 400_000 });
    expect(await page.getAttribute('body', 'data-ready')).toBe('true');
    const shot = await page.screenshot({ path: path.join(screenshots, 'wall-1920x1080.png'), timeout: 120_000 });

    // The middle of the map, between the side panels: heat, hexagons, roads and water, not the background.
    expect(await shareNotBackground(page, shot, background, { x: 760, y: 340, width: 400, height: 400 })).toBeGreaterThan(0.3);
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
  });

  it('shows every KPI as the stats API gives it', async () => {
    const { api } = suite;
    const stats = async (query: Record<string, string>) => (await api.request.get('/api/stats/incidents').query(query).set(api.auth('commander')).expect(200)).body.groups[0];
    const dayStart = Date.parse('2025-06-01T16:00:00.000Z');
    const iso = (ms: number) => new Date(ms).toISOString();
    const [today, month, city] = await Promise.all([
      stats({ from: iso(dayStart), to: iso(dayStart + 86_400_000) }),
      stats({ from: iso(dayStart - 29 * 86_400_000), to: iso(dayStart + 86_400_000) }),
      stats({}),
    ]);
    const kpi = async (name: string) => {
      const cell = page.locator(`[data-kpi="${name}"]`);
      return { value: await cell.getAttribute('data-value'), text: (await cell.locator('b').textContent()) as string };
    };
    const expectCount = async (name: string, expected: number) => {
      const shown = await kpi(name);
      expect([name, Number(shown.value)]).toEqual([name, expected]);
      expect([name, Number(shown.text.replace(/,/g, ''))]).toEqual([name, expected]);
    };
    const expectRate = async (name: string, expected: number) => {
      const shown = await kpi(name);
      expect([name, Number(shown.value)]).toEqual([name, expected]);
      expect([name, shown.text]).toEqual([name, `${(expected * 100).toFixed(1)}%`]);
    };
    expect(today.total).toBeGreaterThan(0);
    await expectCount('reports', today.total);
    await expectRate('closureRate', month.closureRate);
    await expectRate('onTimeRate', month.onTimeRate);
    await expectCount('overdue', city.overdueOpen);
    await expectCount('supervising', city.byStatus.supervising ?? 0);
    // Workers on patrol: those with an accepted GPS fix in the five minutes before the wall's moment.
    const at = new Date(clock().getTime());
    const { rows } = await suite.db.pool.query<{ n: number }>(
      `SELECT count(DISTINCT worker)::int AS n FROM patrol_points WHERE flag IS NULL AND recorded_at BETWEEN $1::timestamptz - interval '5 minutes' AND $1`,
      [at],
    );
    expect(rows[0].n).toBeGreaterThan(0);
    const workers = Number((await kpi('workersOnPatrol')).value);
    expect(Math.abs(workers - rows[0].n)).toBeLessThanOrEqual(1); // the wall read a few seconds earlier
  });

  /** When the wall put the incident in its ticker (page clock; the test's clock is the same machine's). */
  async function shownAt(id: number): Promise<number> {
    // Polled by timer, not by animation frame (software WebGL makes frames rare); the page's own time is what counts.
    const shown = await page.waitForFunction((incident) => document.querySelector<HTMLElement>(`#ticker li[data-incident-id="${incident}"]`)?.dataset.shownAt, id, { polling: 200, timeout: 30_000 });
    return Number(await shown.jsonValue());
  }

  it('shows an incident reported through the API within 2 seconds', async () => {
    const before = Date.now();
    const id = await report('窨井盖', places[0]);
    expect((await shownAt(id)) - before).toBeLessThan(2000);
  });

  it('says it is reconnecting while the server is down, and shows live events again after a restart, without a reload', async () => {
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    await server.close();
    await waitForState(page, 'reconnecting', 30_000);
    server = await listen(suite.api.listener, server.port);
    await waitForState(page, 'live', 60_000);
    // The first event after a restart also waits for the stream's first read on the new server.
    const before = Date.now();
    const id = await report('道路破损', places[1]);
    expect((await shownAt(id)) - before).toBeLessThan(10_000);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  });

  it('switches the panel titles to English and back', async () => {
    const title = page.locator('h2[data-text="trendTitle"]');
    await expect(title.textContent()).resolves.toBe('近7日上报与结案');
    await page.dispatchEvent('#language-toggle', 'click');
    await expect(title.textContent()).resolves.toBe('Reports and closures, 7 days');
    await expect(page.locator('[data-kpi="reports"] span').textContent()).resolves.toBe('Reports today');
    await page.dispatchEvent('#language-toggle', 'click');
    await expect(title.textContent()).resolves.toBe('近7日上报与结案');
  });

  it('fills a 3840×2160 wall', async () => {
    const figureHeight = await kpiFigureHeight(page);
    // One wall at a time: two animated pages on software WebGL would starve each other.
    await page.close();
    const large = await openWall(3840, 2160);
    const largeHeight = await kpiFigureHeight(large);
    const shot = await large.screenshot({ path: path.join(screenshots, 'wall-3840x2160.png'), timeout: 120_000 });
    expect(await shareNotBackground(large, shot, background, { x: 1520, y: 680, width: 800, height: 800 })).toBeGreaterThan(0.3);
    // Text scales with the screen: a KPI figure is about twice as tall as at 1920×1080.
    expect(largeHeight / figureHeight).toBeGreaterThan(1.8);
    await large.close();
  });
});
