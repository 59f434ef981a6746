import type { ServerResponse } from 'node:http';
import type { Context, Next } from 'koa';
import { type z, ZodError } from 'zod';
import {
  BadRequestError,
  ConflictError,
  DomainError,
  ForbiddenError,
  IdempotencyKeyReusedError,
  NotFoundError,
  PayloadTooLargeError,
  PreconditionRequiredError,
  RuleViolationError,
  ServerBusyError,
  StaleVersionError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '../errors';
import { isDatabaseUnavailable, isPoolWaitTimeout } from '../db/pool';
import type { Logger } from '../logger';

export const problemContentType = 'application/problem+json';

/** The one table from error class to HTTP status and problem type. */
const problemTable: Array<[new (...args: never[]) => DomainError, number, string]> = [
  [BadRequestError, 400, 'bad-request'],
  [UnauthorizedError, 401, 'unauthorized'],
  [ForbiddenError, 403, 'forbidden'],
  [NotFoundError, 404, 'not-found'],
  [ConflictError, 409, 'conflict'],
  [StaleVersionError, 412, 'stale-version'],
  [PayloadTooLargeError, 413, 'payload-too-large'],
  [UnsupportedMediaTypeError, 415, 'unsupported-media-type'],
  [RuleViolationError, 422, 'rule-violation'],
  [IdempotencyKeyReusedError, 422, 'idempotency-key-reused'],
  [PreconditionRequiredError, 428, 'precondition-required'],
  [ServerBusyError, 503, 'server-busy'],
];

/** Where a request part failed validation: zod issues of one part of the request, made readable. */
export class RequestValidationError extends Error {
  constructor(
    readonly location: 'params' | 'query' | 'body' | 'headers',
    readonly zodError: ZodError,
  ) {
    super(`invalid ${location}`);
  }
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  [member: string]: unknown;
}

// PostgreSQL errors that mean "your input", not "our bug": bad number/text representation, out-of-range values
// and time-zone offsets (the schemas refuse those first; this is for input that reaches SQL another way).
const pgInputErrorCodes = new Set(['22P02', '22003', '22023', '22007', '22008', '22009', '2201B']);

function pgErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

// statement_timeout (or a cancel request) ended the statement.
const statementCancelled = '57014';

/** Seconds a client is asked to wait (Retry-After) before trying again when the database is away. */
export const retryAfterSeconds = '5';

export function toProblem(error: unknown): ProblemDocument {
  if (error instanceof RequestValidationError) {
    const errors = error.zodError.issues.map((issue) => ({
      in: error.location,
      path: issue.path.join('.') || '(root)',
      message: issue.message,
    }));
    const first = errors[0];
    return {
      type: 'invalid-request',
      title: 'The request is invalid',
      status: 400,
      detail: `${first.in} ${first.path}: ${first.message}`,
      errors,
    };
  }
  for (const [errorClass, status, type] of problemTable) {
    if (error instanceof errorClass) return { type, title: error.message, status, detail: error.message, ...error.details };
  }
  const httpStatus = (error as { status?: unknown; expose?: unknown })?.status;
  if (typeof httpStatus === 'number' && httpStatus >= 400 && httpStatus < 500) {
    // koa / body parser errors (413 too large, 415 unsupported type, malformed JSON) carry a safe message.
    const message = (error as Error).message;
    return { type: `http-${httpStatus}`, title: message, status: httpStatus, detail: message };
  }
  const code = pgErrorCode(error);
  if (code && pgInputErrorCodes.has(code)) {
    return { type: 'invalid-value', title: 'A value is out of range or malformed', status: 400, detail: (error as Error).message };
  }
  if (isPoolWaitTimeout(error)) {
    return { type: 'server-busy', title: 'Every database connection is busy', status: 503, detail: `No connection became free in time; try again in ${retryAfterSeconds} seconds.` };
  }
  if (code === statementCancelled) {
    return {
      type: 'statement-timeout',
      title: 'The work took too long',
      status: 503,
      detail: 'A statement ran past its time limit (HEAVY_STATEMENT_TIMEOUT_S for exports, imports, rebalancing and analytics) and was cancelled; nothing was changed. Narrow the request, or try again later.',
    };
  }
  if (isDatabaseUnavailable(error)) {
    return { type: 'database-unavailable', title: 'The database is unavailable', status: 503, detail: `Try again in ${retryAfterSeconds} seconds.` };
  }
  return { type: 'internal', title: 'Internal server error', status: 500, detail: 'An unexpected error occurred; it has been logged.' };
}

/** A route's own error format: the same problem, written as that route's clients expect it. */
export interface ErrorFormat {
  contentType: string;
  /** Documents the format in OpenAPI. */
  schema: z.ZodType;
  render: (problem: ProblemDocument) => unknown;
}

/** The problem+json response: status, headers and body, the same from Koa and from node:http. */
function problemResponse(problem: ProblemDocument, instance: string) {
  const headers: Record<string, string> = { 'Content-Type': `${problemContentType}; charset=utf-8` };
  if (problem.status === 401) headers['WWW-Authenticate'] = 'Bearer';
  if (problem.status === 503) headers['Retry-After'] = retryAfterSeconds;
  return { headers, body: { ...problem, instance } };
}

export function sendProblem(ctx: Context, problem: ProblemDocument): void {
  const format = ctx.state.errorFormat as ErrorFormat | undefined;
  const { headers, body } = problemResponse(problem, ctx.path);
  ctx.status = problem.status;
  ctx.set(headers);
  if (!format) {
    ctx.body = body;
    return;
  }
  ctx.type = format.contentType;
  ctx.body = format.render(problem);
}

/** The problem for an error, logged when it is ours (5xx) with the request it failed. */
function problemOf(error: unknown, log: Logger, requestId: unknown): ProblemDocument {
  const problem = toProblem(error);
  if (problem.status >= 500) log.error({ err: error, requestId }, 'request failed');
  return problem;
}

/**
 * The one error path for every route: a problem+json document, never a stack trace. Under a path prefix with a
 * format of its own (Open311) every error is in that format, also for a path no route has.
 */
export function problemMiddleware(log: Logger, formatsByPrefix: ReadonlyArray<[string, ErrorFormat]> = []) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    const prefixFormat = formatsByPrefix.find(([prefix]) => ctx.path.startsWith(prefix));
    if (prefixFormat) ctx.state.errorFormat = prefixFormat[1];
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        sendProblem(ctx, { type: 'not-found', title: 'No such route', status: 404, detail: `${ctx.method} ${ctx.path} is not a route` });
      } else if (ctx.status === 405 && ctx.body === undefined) {
        sendProblem(ctx, { type: 'method-not-allowed', title: 'Method not allowed', status: 405, detail: `${ctx.path} takes ${ctx.response.get('Allow') || 'no other method'}` });
      }
    } catch (error) {
      sendProblem(ctx, problemOf(error, log, ctx.state.requestId));
    }
  };
}

/**
 * The same error path for a request answered on node:http (a fast route): the same problem document and headers
 * problemMiddleware sends. A response already under way cannot become a problem; its connection is cut instead,
 * so the client sees a broken response rather than a truncated one taken for whole.
 */
export function writeProblem(response: ServerResponse, error: unknown, instance: string, requestId: string, log: Logger): void {
  const problem = problemOf(error, log, requestId);
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const { headers, body } = problemResponse(problem, instance);
  response.writeHead(problem.status, { ...headers, 'X-Request-Id': requestId });
  response.end(JSON.stringify(body));
}
