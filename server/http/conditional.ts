import type { Context } from 'koa';
import { BadRequestError } from '../errors';

/**
 * Conditional requests for versioned resources (grids, incidents, layer features): every single-resource GET and
 * write answers with the resource's version as its ETag, a GET whose If-None-Match holds it is a 304, and a write
 * may send it back as If-Match (db/versions.ts checks it in the write's transaction: 412 when stale).
 */
export function answerVersioned(ctx: Context, resource: object, version: string | number, status = 200): void {
  ctx.status = status;
  ctx.set('ETag', `"${version}"`);
  if (ctx.method === 'GET' && ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.body = resource;
}

/** If-Match: 3, "3" or W/"3" → "3"; absent → undefined. A version is digits (a counter, or a timestamp in µs). */
export function ifMatchVersion(ctx: Context): string | undefined {
  const header = ctx.get('If-Match').trim();
  if (!header) return undefined;
  const match = /^(?:W\/)?"?(\d{1,20})"?$/.exec(header);
  if (!match) throw new BadRequestError('If-Match must be the ETag you last read, e.g. If-Match: "3"', { header });
  return match[1];
}
