import type { Context } from 'koa';
import type { Logger } from '../logger';

// A comment line now and then keeps proxies from closing an idle stream.
const keepAliveMs = 15_000;
// How long an EventSource waits before reconnecting (with Last-Event-ID) after the stream ends.
const reconnectMs = 2000;

export interface EventStream {
  /**
   * Writes one event (data: its JSON text; id: where a reconnecting client resumes, null for a stream without
   * replay); false when the client's buffer is full: wait for drained() before sending more.
   */
  send(id: number | null, event: string, data: string): boolean;
  /**
   * Resolves true once the client has taken what was written, false when it is gone or has not read for the
   * stall limit (it is then disconnected and resumes with Last-Event-ID): the stream is over.
   */
  drained(): Promise<boolean>;
  /** Ends the stream (a failure on our side): the client reconnects and resumes with Last-Event-ID. */
  end(): void;
  /** Called once when the stream is over, however it ended. */
  onClose(listener: () => void): void;
}

/**
 * Opens a Server-Sent Events response written by hand (Koa would report a client going away as a stream error).
 * Whoever sends waits for drained() whenever send() says the buffer is full, so a client that reads slowly holds
 * at most one buffer's worth (the socket's high-water mark) in this process, and one that stops reading for
 * `stallSeconds` is disconnected.
 */
export function openEventStream(ctx: Context, stallSeconds: number, log: Logger): EventStream {
  const response = ctx.res;
  ctx.respond = false;
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  response.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
    'X-Request-Id': String(ctx.state.requestId),
  });
  response.write(`retry: ${reconnectMs}\n\n`);
  const keepAlive = setInterval(() => response.write(': keep-alive\n\n'), keepAliveMs);
  response.once('close', () => clearInterval(keepAlive));

  const drained = (): Promise<boolean> => {
    if (response.destroyed) return Promise.resolve(false);
    if (!response.writableNeedDrain) return Promise.resolve(true);
    return new Promise((resolve) => {
      const settle = (taken: boolean) => {
        clearTimeout(stalled);
        response.off('drain', onDrain).off('close', onClose);
        resolve(taken);
      };
      const onDrain = () => settle(true);
      const onClose = () => settle(false);
      const stalled = setTimeout(() => {
        log.warn({ requestId: ctx.state.requestId, path: ctx.path, seconds: stallSeconds }, 'event stream client too slow: disconnected');
        settle(false);
        response.destroy();
      }, stallSeconds * 1000);
      response.once('drain', onDrain).once('close', onClose);
    });
  };

  return {
    send: (id, event, data) => response.write(`${id === null ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`),
    drained,
    end: () => response.end(),
    onClose(listener) {
      if (response.destroyed) listener();
      else response.once('close', listener);
    },
  };
}
