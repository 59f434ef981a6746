import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { loadConfig } from '../../server/config';
import { useTestApp } from '../support/app';
import { listen } from '../support/browser';

describe('the built web app as the server sends it', () => {
  const suite = useTestApp();
  const dist = loadConfig({}).WEB_DIST;
  const assets = fs.readdirSync(path.join(dist, 'assets'));
  const script = assets.find((name) => /^index-[\w-]+\.js$/.test(name)) as string;

  it('answers every screen path with index.html, revalidated on every load', async () => {
    const { api } = suite;
    for (const screen of ['/', '/wall', '/planner', '/police', '/map', '/wall/']) {
      const page = await api.request.get(screen).expect(200);
      expect(page.type).toBe('text/html');
      expect(page.headers['cache-control']).toBe('no-cache');
      expect(page.text).toContain('<div id="app">');
    }
    await api.request.get('/no-such-screen').expect(404);
    await api.request.get('/assets/no-such-file.js').expect(404);
  });

  it('sends hashed assets pre-compressed (brotli or gzip, as the client accepts), cached for a year and immutable', async () => {
    const server = await listen(suite.api.listener);
    const get = (encoding: string) => rawGet(`${server.url}/assets/${script}`, encoding);
    const original = fs.readFileSync(path.join(dist, 'assets', script));
    const [brotli, gzip, plain] = [await get('br, gzip'), await get('gzip'), await get('identity')];
    await server.close();
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(brotli.headers['cache-control']).toBe('max-age=31536000,immutable');
    expect(brotli.headers.vary).toMatch(/Accept-Encoding/);
    expect(brotli.headers['content-type']).toMatch(/javascript/);
    expect(zlib.brotliDecompressSync(brotli.body).equals(original)).toBe(true);
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(gzip.body).equals(original)).toBe(true);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(original)).toBe(true);
  });
});

/** A GET that leaves the body as sent (supertest would decompress it). */
function rawGet(url: string, acceptEncoding: string): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'Accept-Encoding': acceptEncoding } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => (response.statusCode === 200 ? resolve({ headers: response.headers, body: Buffer.concat(chunks) }) : reject(new Error(`status ${response.statusCode}`))));
      })
      .on('error', reject);
  });
}
