import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { loadConfig } from '../../server/config';
import { useTestApp } from '../support/app';
import { forbidOutsideRequests, launchBrowser, listen, screenshots, shareNotBackground } from '../support/browser';

jest.setTimeout(90_000);

describe('city map in headless Chromium', () => {
  const suite = useTestApp();
  let server: Awaited<ReturnType<typeof listen>>;
  let browser: Browser;
  beforeAll(async () => {
    const webDist = loadConfig({}).WEB_DIST;
    if (!fs.existsSync(path.join(webDist, 'index.html'))) throw new Error(`${webDist} is not built: run the tests with npm test`);
    server = await listen(suite.api.listener);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('draws the city from the vector tiles of every layer the role may see, with no request leaving the machine', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const outside = await forbidOutsideRequests(page);
    const tiles: Array<{ layer: string; filtered: boolean; status: number; type: string | undefined }> = [];
    // A source that fails (a bad TileJSON URL) still lets the map go idle: only its errors tell.
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => (message.type() === 'error' ? errors.push(message.text()) : undefined));
    page.on('response', (response) => {
      const url = new URL(response.url());
      const tile = /^\/tiles\/(\w+)\/\d+\/\d+\/\d+\.mvt$/.exec(url.pathname);
      if (tile) tiles.push({ layer: tile[1], filtered: url.search !== '', status: response.status(), type: response.headers()['content-type'] });
    });
    await page.goto(`${server.url}/map?token=${suite.api.tokens.commander}`);
    await page.waitForSelector('body[data-ready]', { timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-ready')).toBe('true');

    const listed = await suite.api.request.get('/tiles').set(suite.api.auth('commander')).expect(200);
    await expect(page.textContent('#status')).resolves.toMatch(new RegExp(`^${listed.body.layers.length} 个图层 · 缩放 \\d+\\.\\d$`));
    // The legend comes from the catalogue: every listed layer with a style hint, by its Chinese title, top first.
    type Entry = { name: string; title: { zh: string }; style?: { order: number } };
    const drawn = (listed.body.layers as Entry[]).filter((entry) => entry.style).sort((a, b) => b.style!.order - a.style!.order);
    expect(drawn.length).toBeGreaterThan(5);
    await expect(page.$$eval('#legend li', (items) => items.map((item) => item.textContent))).resolves.toEqual(drawn.map((entry) => entry.title.zh));
    // Tiles of the grids (the level the zoom picks, and districts by filter) and of incident counts, all answered.
    expect(tiles.filter((t) => t.status >= 400)).toEqual([]);
    expect(errors).toEqual([]);
    for (const [layer, filtered] of [['grids', false], ['grids', true], ['incidents', false]] as const) {
      expect(tiles.some((t) => t.layer === layer && t.filtered === filtered && t.status === 200 && t.type === 'application/vnd.mapbox-vector-tile')).toBe(true);
    }

    // Where the data is (the centre of the fitted map), the picture must show grid fill, not the background.
    const shot = await page.screenshot({ clip: { x: 540, y: 300, width: 200, height: 200 } });
    // Background is #0b1726; the grid fill blends in #2f80ed, far enough from it.
    const canvasHasGrids = await shareNotBackground(page, shot, [0x0b, 0x17, 0x26]);
    expect(canvasHasGrids).toBeGreaterThan(0.5);
    expect(outside).toEqual([]);

    // The picture a commander sees on a desktop screen, for a look (test-output/screenshots).
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.waitForLoadState('networkidle');
    fs.mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: path.join(screenshots, 'map-1920x1080.png'), timeout: 120_000 });
  });

  it('tells the user how to get in when there is no token', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/map`);
    await expect(page.textContent('#status')).resolves.toMatch(/没有 API 令牌/);
  });
});
