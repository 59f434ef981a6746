import type { Context } from 'koa';

/**
 * Opens a Server-Sent Events response on ctx and calls `follow(write)`, whose result stops following when the
 * client goes away. The response is written by hand: Koa would report a client going away as a stream error. A
 * comment line now and then keeps proxies from closing an idle stream.
 */
export async function openEventStream(ctx: Context, follow: (write: (text: string) => void) => (() => void) | Promise<() => void>): Promise<void> {
  ctx.respond = false;
  const response = ctx.res;
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no', 'X-Request-Id': String(ctx.state.requestId) });
  response.write('retry: 2000\n\n');
  const stop = await follow((text) => response.write(text));
  const keepAlive = setInterval(() => response.write(': keep-alive\n\n'), 15_000);
  const close = () => {
    clearInterval(keepAlive);
    stop();
    response.end();
  };
  if (response.destroyed) close();
  else response.on('close', close);
}
