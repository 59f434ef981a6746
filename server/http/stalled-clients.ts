import type { Context } from 'koa';
import type { Logger } from '../logger';

/**
 * Disconnects the client when its socket carries no data for `seconds` while this request is under way: an export
 * it stopped reading, an upload it stopped sending. Destroying the socket ends the request's streams, and with
 * them the database connection they hold, so a stalled client cannot keep one for longer than that.
 * `uploadOnly`: the limit ends with the request body (an import's database work afterwards may be silent for long).
 */
export function disconnectWhenStalled(ctx: Context, seconds: number, log: Logger, { uploadOnly = false } = {}): void {
  const response = ctx.res;
  response.setTimeout(seconds * 1000, () => {
    log.warn({ requestId: ctx.state.requestId, path: ctx.path, seconds }, 'client stalled: disconnected');
    response.destroy();
  });
  if (uploadOnly) ctx.req.once('end', () => response.setTimeout(0));
}
