import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { projectRoot } from '../../server/config';
import type { TestAppContext } from './app';

/** Where browser tests leave their screenshots (for a look, and for the README's pictures). */
export const screenshots = path.join(projectRoot, 'test-output', 'screenshots');

export interface ServedBrowser {
  readonly server: Awaited<ReturnType<typeof listen>>;
  readonly browser: Browser;
}

/** Registers beforeAll/afterAll: the suite's app served on 127.0.0.1 and a headless Chromium, closed after the suite. */
export function useServedBrowser(suite: TestAppContext): ServedBrowser {
  const handles = {} as { server: ServedBrowser['server']; browser: Browser };
  beforeAll(async () => {
    handles.server = await listen(suite.api.listener);
    handles.browser = await launchBrowser();
    fs.mkdirSync(screenshots, { recursive: true });
  });
  afterAll(async () => {
    await handles.browser?.close();
    await handles.server?.close();
  });
  return handles;
}

/** Flags verified on these machines (shared/notes/web-and-browser.md): software WebGL, no outside traffic. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--enable-unsafe-swiftshader',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
    ],
  });
}

/** Any request to a host other than 127.0.0.1 is aborted and remembered, so a test can fail on it. */
export async function forbidOutsideRequests(page: Page): Promise<string[]> {
  const outside: string[] = [];
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || url.hostname === '127.0.0.1') return route.continue();
    outside.push(url.toString());
    return route.abort();
  });
  return outside;
}

/**
 * Serves the app on 127.0.0.1 (a free port, or the one given: a test restarts the server where the page expects it).
 * close() also ends open connections (a live event stream), as a stopped server process would.
 */
export async function listen(listener: http.RequestListener, port = 0): Promise<{ url: string; port: number; close: () => Promise<void> }> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * A new page that remembers console errors and blocks (and remembers) requests off 127.0.0.1, opened at `url` and
 * waited on until the screen sets body[data-ready].
 */
export async function openWatched(browser: Browser, url: string, viewport = { width: 1920, height: 1080 }): Promise<{ page: Page; errors: string[]; outside: string[] }> {
  const page = await browser.newPage({ viewport });
  const outside = await forbidOutsideRequests(page);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => (message.type() === 'error' ? errors.push(message.text()) : undefined));
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready, undefined, { polling: 500, timeout: 400_000 });
  return { page, errors, outside };
}

type Region = { x: number; y: number; width: number; height: number };

/** The share of pixels of a PNG screenshot (or of a region of it) that differ clearly from the background colour. */
export function shareNotBackground(page: Page, png: Buffer, background: [number, number, number], region?: Region): Promise<number> {
  return shareDiffering(page, png, background, region);
}

/** The share of pixels of a region that differ clearly between two screenshots of the same size. */
export function shareChanged(page: Page, before: Buffer, after: Buffer, region?: Region): Promise<number> {
  return shareDiffering(page, after, before, region);
}

/** Decoded in the page (no PNG decoder in the test process): pixels against one colour or a reference image. */
function shareDiffering(page: Page, png: Buffer, reference: [number, number, number] | Buffer, region?: Region): Promise<number> {
  return page.evaluate(
    async ({ images, colour, region }) => {
      const pixels = await Promise.all(
        images.map(async (base64) => {
          const image = new Image();
          image.src = `data:image/png;base64,${base64}`;
          await image.decode();
          const canvas = document.createElement('canvas');
          [canvas.width, canvas.height] = [image.width, image.height];
          const context = canvas.getContext('2d') as CanvasRenderingContext2D;
          context.drawImage(image, 0, 0);
          const { x, y, width, height } = region ?? { x: 0, y: 0, width: image.width, height: image.height };
          return context.getImageData(x, y, width, height).data;
        }),
      );
      const [data, other] = pixels;
      let differing = 0;
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b] = other ? [other[i], other[i + 1], other[i + 2]] : (colour as [number, number, number]);
        if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) > 40) differing++;
      }
      return differing / (data.length / 4);
    },
    Buffer.isBuffer(reference)
      ? { images: [png.toString('base64'), reference.toString('base64')], colour: null, region }
      : { images: [png.toString('base64')], colour: reference, region },
  );
}
