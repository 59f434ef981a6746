import type { Browser } from 'playwright-core';
import { useTestApp } from '../support/app';
import { forbidOutsideRequests, launchBrowser, listen } from '../support/browser';

jest.setTimeout(120_000);

describe('the web shell: sign-in and the screens of each role', () => {
  const suite = useTestApp();
  let server: Awaited<ReturnType<typeof listen>>;
  let browser: Browser;
  beforeAll(async () => {
    server = await listen(suite.api.listener);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('signs in with a token kept for the session, and lists the screens of its role', async () => {
    const page = await browser.newPage();
    const outside = await forbidOutsideRequests(page);
    await page.goto(`${server.url}/`);
    await page.waitForSelector('form#sign-in');
    await page.fill('input[name=token]', suite.api.tokens.commander);
    await page.click('form#sign-in button[type=submit]');
    await page.waitForSelector('#screens');
    await expect(page.textContent('#role')).resolves.toBe('commander');
    expect(await page.locator('#screens a').evaluateAll((links) => links.map((a) => a.getAttribute('href')))).toEqual(['/wall', '/police', '/map']);
    // The token stays for this tab's session: a reload still knows it, a new browser context does not.
    await page.reload();
    await page.waitForSelector('#screens');
    const fresh = await (await browser.newContext()).newPage();
    await fresh.goto(`${server.url}/`);
    await fresh.waitForSelector('form#sign-in');
    expect(outside).toEqual([]);
  });

  it('lists the planning screen for a planner, which opens in Chinese with an English toggle, and refuses an unknown token', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/?token=${suite.api.tokens.planner}`);
    await page.waitForSelector('#screens');
    expect(await page.locator('#screens a').evaluateAll((links) => links.map((a) => a.getAttribute('href')))).toEqual(['/planner', '/map']);
    await page.click('#screens a[href="/planner"]');
    await page.waitForSelector('.planner-header h1');
    await expect(page.textContent('.planner-header h1')).resolves.toBe('网格规划编辑');
    await page.click('#language-toggle');
    await expect(page.textContent('.planner-header h1')).resolves.toBe('Grid planning editor');
    const stranger = await browser.newPage();
    await stranger.goto(`${server.url}/?token=cg_not_a_token`);
    await stranger.waitForSelector('form#sign-in .error');
  });
});
