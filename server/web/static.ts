import fs from 'node:fs';
import path from 'node:path';
import type Koa from 'koa';
import send from 'koa-send';

/** Client-side routes of the web app (web/src/screens): each is answered with index.html. */
export const screenPaths = ['/', '/wall', '/planner', '/police', '/map'];

const yearSeconds = 365 * 24 * 3600;

/**
 * Serves the built web app. Vite names every asset by its content hash, so an asset URL never changes meaning:
 * cached for a year, immutable. index.html names the current assets and is revalidated on every load (no-cache).
 * The .br and .gz files made at build time (web/vite.config.mts) are sent to clients that accept them, so nothing
 * is compressed per request.
 */
export function webApp(dist: string): Koa.Middleware {
  const isFile = (file: string) => fs.statSync(path.join(dist, path.normalize(file)), { throwIfNoEntry: false })?.isFile() ?? false;
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const asset = ctx.path.startsWith('/assets/');
    const screen = screenPaths.includes(ctx.path.replace(/\/$/, '') || '/');
    if (!asset && !screen && !isFile(ctx.path)) return next();
    ctx.vary('Accept-Encoding');
    try {
      await send(ctx, screen ? 'index.html' : ctx.path, {
        root: dist,
        brotli: true,
        gzip: true,
        ...(asset ? { maxage: yearSeconds * 1000, immutable: true } : {}),
        setHeaders: (response) => {
          if (!asset) response.setHeader('Cache-Control', 'no-cache');
        },
      });
    } catch (error) {
      if ((error as { status?: number }).status === 404) return next();
      throw error;
    }
  };
}
