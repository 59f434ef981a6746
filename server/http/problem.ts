import type { Context, Next } from 'koa';
import { type z, ZodError } from 'zod';
import {
  BadRequestError,
  ConflictError,
  DomainError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  PreconditionRequiredError,
  RuleViolationError,
  StaleVersionError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '../errors';
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
  [PreconditionRequiredError, 428, 'precondition-required'],
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

// PostgreSQL errors that mean "your input", not "our bug": bad number/text representation, out-of-range values.
const pgInputErrorCodes = new Set(['22P02', '22003', '22023', '22007', '22008', '2201B']);

function pgErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

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
  return { type: 'internal', title: 'Internal server error', status: 500, detail: 'An unexpected error occurred; it has been logged.' };
}

/** A route's own error format: the same problem, written as that route's clients expect it. */
export interface ErrorFormat {
  contentType: string;
  /** Documents the format in OpenAPI. */
  schema: z.ZodType;
  render: (problem: ProblemDocument) => unknown;
}

export function sendProblem(ctx: Context, problem: ProblemDocument): void {
  const format = ctx.state.errorFormat as ErrorFormat | undefined;
  ctx.status = problem.status;
  ctx.type = format?.contentType ?? problemContentType;
  ctx.body = format ? format.render(problem) : { ...problem, instance: ctx.path };
  if (problem.status === 401) ctx.set('WWW-Authenticate', 'Bearer');
}

/** The one error path for every route: a problem+json document, never a stack trace. */
export function problemMiddleware(log: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        sendProblem(ctx, { type: 'not-found', title: 'No such route', status: 404, detail: `${ctx.method} ${ctx.path} is not a route` });
      }
    } catch (error) {
      const problem = toProblem(error);
      if (problem.status >= 500) log.error({ err: error, requestId: ctx.state.requestId }, 'request failed');
      sendProblem(ctx, problem);
    }
  };
}
