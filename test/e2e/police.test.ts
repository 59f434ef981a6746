import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { projectRoot } from '../../server/config';
import { issuePredictions, trainFromDatabase } from '../../server/risk/service';
import { useTestApp } from '../support/app';
import { launchBrowser, listen, openWatched, shareChanged } from '../support/browser';

jest.setTimeout(480_000);

const screenshots = path.join(projectRoot, 'test-output', 'screenshots');
// Inside the demo city's year of accidents (as in test/risk/serving.test.ts); the clock runs on from there.
const offsetMs = Date.now() - Date.parse('2025-10-15T09:30:00+08:00');
const clock = () => new Date(Date.now() - offsetMs);
const mapRegion = { x: 0, y: 70, width: 1380, height: 1000 };

interface ApiUnit {
  unitKey: string;
  geometry: { type: string; coordinates: number[][] };
}

describe('the police view in headless Chromium', () => {
  const suite = useTestApp({ clock });
  let server: Awaited<ReturnType<typeof listen>>;
  let browser: Browser;
  let page: Page;
  let outside: string[];
  let errors: string[];

  beforeAll(async () => {
    await trainFromDatabase(suite.db.pool, clock);
    await issuePredictions(suite.db.pool, clock);
    server = await listen(suite.api.listener);
    browser = await launchBrowser();
    fs.mkdirSync(screenshots, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const api = async (route: string) => (await suite.api.request.get(route).set(suite.api.auth('police')).expect(200)).body;
  const listed = () => page.locator('#top-list li').evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.unitKey));
  const settled = async () => {
    await page.waitForFunction(() => !document.getElementById('app')?.dataset.loading, undefined, { polling: 200, timeout: 60_000 });
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  };
  it('loads with no console error and no request leaving 127.0.0.1, listing the API top 20 of the current window', async () => {
    ({ page, errors, outside } = await openWatched(browser, `${server.url}/police?token=${suite.api.tokens.police}`));
    expect(await page.getAttribute('body', 'data-ready')).toBe('true');
    await page.screenshot({ path: path.join(screenshots, 'police-1920x1080.png'), timeout: 120_000 });
    const current = await api('/api/risk/segments?limit=20');
    expect(await listed()).toEqual(current.units.map((unit: ApiUnit) => unit.unitKey));
    expect(await page.textContent('#model-version')).toBe(`v${current.modelVersion}`);
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
  });

  it('moving the slider recolours the segments and lists the API top 20 of that window', async () => {
    const before = await page.screenshot({ timeout: 120_000 });
    await page.locator('#window-slider').fill('4');
    await page.waitForFunction(() => document.getElementById('app')?.dataset.windowStart !== undefined);
    await settled();
    const start = await page.getAttribute('#app', 'data-window-start');
    const window4 = await api(`/api/risk/segments?limit=20&at=${encodeURIComponent(new Date(Date.parse(start!) + 3600_000).toISOString())}`);
    const first = await api('/api/risk/segments?limit=1');
    expect(Date.parse(start!) - Date.parse(first.windowStart)).toBe(4 * 2 * 3600_000);
    expect(await listed()).toEqual(window4.units.map((unit: ApiUnit) => unit.unitKey));
    const after = await page.screenshot({ timeout: 120_000 });
    expect(await shareChanged(page, before, after, mapRegion)).toBeGreaterThan(0.0005);
  });

  it('clicking a list entry flies the map there', async () => {
    const third = page.locator('#top-list li').nth(2);
    const key = await third.getAttribute('data-unit-key');
    const start = await page.getAttribute('#app', 'data-window-start');
    const { units } = await api(`/api/risk/segments?limit=20&at=${encodeURIComponent(new Date(Date.parse(start!) + 3600_000).toISOString())}`);
    const unit = units.find((candidate: ApiUnit) => candidate.unitKey === key) as ApiUnit;
    await third.click();
    const coordinates = unit.geometry.coordinates;
    const [lon, lat] = coordinates[Math.floor(coordinates.length / 2)];
    await page.waitForFunction(
      ([x, y]) => {
        const center = JSON.parse(document.getElementById('app')?.dataset.center ?? '[0,0]');
        return Math.abs(center[0] - x) < 1e-4 && Math.abs(center[1] - y) < 1e-4;
      },
      [lon, lat],
      { polling: 200, timeout: 30_000 },
    );
  });

  it('places the deployment points the API gives for N = 5 and shows their covered share', async () => {
    await page.locator('#deployment-units').fill('5');
    await page.locator('#deployment-units').dispatchEvent('change');
    await settled();
    const start = await page.getAttribute('#app', 'data-window-start');
    const at = encodeURIComponent(new Date(Date.parse(start!) + 3600_000).toISOString());
    const answer = await api(`/api/risk/deployment?at=${at}&units=5&radius_m=1500`);
    expect(JSON.parse((await page.getAttribute('#app', 'data-deployment'))!)).toEqual(answer.points.map((point: { lon: number; lat: number }) => [point.lon, point.lat]));
    expect(await page.textContent('#deployment-share')).toBe(`${(answer.coveredShare * 100).toFixed(1)}%`);
  });

  it('redraws when a new prediction is stored, without a reload', async () => {
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const before = await page.getAttribute('#app', 'data-issued-at');
    const issue = await issuePredictions(suite.db.pool, clock);
    await page.waitForFunction((old) => document.getElementById('app')?.dataset.issuedAt !== old, before, { polling: 200, timeout: 60_000 });
    expect(Date.parse((await page.getAttribute('#app', 'data-issued-at'))!)).toBe(Date.parse(issue!.issuedAt));
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(errors).toEqual([]);
  });
});
