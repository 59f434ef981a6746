import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../logger';

/**
 * What a client-chosen X-Request-Id may be: it goes into every log line and audit row of the request, so it is
 * short and of a safe alphabet (a UUID, a ULID, a trace id), nothing that could forge a log line or fill a table.
 */
const clientRequestId = /^[A-Za-z0-9._:-]{1,64}$/;

/** The client's X-Request-Id if it is a safe one, else a new one: every response carries it and every log line of the request. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && clientRequestId.test(given) ? given : randomUUID();
}

export function logRequest(log: Logger, started: number, fields: { requestId: string; method: string; path: string; status: number }): void {
  // Checked first: this runs for every request, and building the line costs more than serving a cached tile.
  if (!log.isLevelEnabled('debug')) return;
  // The path only: query strings may carry access tokens.
  log.debug({ ...fields, ms: Math.round(performance.now() - started) }, 'request');
}
