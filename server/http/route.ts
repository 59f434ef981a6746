import type { IncomingMessage } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import type { WriteContext } from '../db/write-context';
import type { Actor } from '../auth/roles';
import { holdsNul } from '../db/text';
import { requestFingerprint } from '../idempotency/keys';
import type { Authorize, RouteAccess } from './auth';
import { type ErrorFormat, RequestValidationError } from './problem';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'options';
type AnySchema = z.ZodType;

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  actor: Actor | null;
  /** Pass to write services: the audit trigger records this actor and route with every changed row. */
  writer: WriteContext;
}

/**
 * contentType: one media type, or several for an answer sent in the one the request asked for. headers: response
 * headers by name, with what they say (an answer without a body, such as 201 Created with Location, is its headers).
 */
export type RouteResponses = Record<number, { description: string; schema?: AnySchema; contentType?: string | string[]; headers?: Record<string, string> }>;

/** A whole response: the one answer of a route both Koa and the fast path write (see RouteDefinition.answer). */
export interface RouteAnswer {
  status: number;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface RouteDefinition<P extends AnySchema = AnySchema, Q extends AnySchema = AnySchema, B extends AnySchema = AnySchema> {
  method: Method;
  /** Koa path, e.g. /api/grids/:id */
  path: string;
  /** The operation's name in the OpenAPI document and in clients generated from it: camelCase verbNoun (listGrids). */
  operationId: string;
  summary: string;
  tag: string;
  /** Who may call it; there is no default, so a new route cannot be open by accident. */
  access: RouteAccess;
  params?: P;
  query?: Q;
  body?: B;
  /** The route reads ctx.req itself (streamed uploads); no JSON body parsing. A `body` then only documents the JSON form. */
  rawBody?: boolean;
  /**
   * The route also takes multipart/form-data, whose parts this schema documents. For such a request nothing is
   * parsed or validated here: body is undefined and the handler reads ctx.req (files go to disk as they arrive).
   */
  multipart?: AnySchema;
  /**
   * What the route answers, by status: at least one 2xx, with the schema of its body (none for 204 and 304); JSON
   * unless contentType says otherwise. Errors are documented for every route (problem+json or errorFormat).
   */
  responses: RouteResponses;
  /**
   * The route creates something and takes an Idempotency-Key header: `writer.idempotency` carries it (for a JSON
   * body; a handler that parses its body itself binds the key with writerForContent), and the write service's
   * withWriteTransaction makes a retry return what the first request's write returned. The handler must answer
   * from that return value alone (same status, headers and body), so a replay gets the first answer.
   */
  idempotent?: boolean;
  /** Errors in a format of the route's own instead of problem+json (Open311 clients expect theirs). */
  errorFormat?: ErrorFormat;
  /** What the route does with a request; a route with an `answer` has none (mountRoutes writes the answer). */
  handler?: (ctx: Context, input: RouteInput<z.infer<P>, z.infer<Q>, z.infer<B>>) => Promise<void> | void;
  /**
   * GET routes only: the route's one answer, as status, headers and body, which Koa (mountRoutes) and the node:http
   * fast path (http/fast-path.ts) both write. The fast path answers such a route before Koa builds a context,
   * with the input the handler would get (same matching, access check and zod parsing). Synchronous when it can
   * be (a cached tile): no promise is made for the commonest request of all.
   */
  answer?: (input: RouteInput<z.infer<P>, z.infer<Q>, undefined>, request: IncomingMessage) => RouteAnswer | Promise<RouteAnswer>;
}

/** Identity with inference: lets each route file declare its handler with typed params, query and body. */
export function defineRoute<P extends AnySchema = z.ZodObject<{}>, Q extends AnySchema = z.ZodObject<{}>, B extends AnySchema = z.ZodUndefined>(
  definition: RouteDefinition<P, Q, B>,
): RouteDefinition {
  return definition as unknown as RouteDefinition;
}

/** Validates a body a handler parsed itself (a JSON part of a multipart request) as mountRoutes does a JSON body. */
export function validateBody<T extends AnySchema>(schema: T, value: unknown): z.infer<T> {
  return parseRequestPart('body', schema, value) as z.infer<T>;
}

/**
 * Where a request part holds a NUL character. PostgreSQL text cannot: the statement would fail (a 500) instead
 * of the request being refused here, named. Iterative, so a deeply nested body cannot overflow the stack.
 */
function nulCharacters(value: unknown): z.core.$ZodIssue[] {
  const issues: z.core.$ZodIssue[] = [];
  const pending: Array<[unknown, PropertyKey[]]> = [[value, []]];
  for (let next = pending.pop(); next && issues.length < 10; next = pending.pop()) {
    const [item, path] = next;
    if (typeof item === 'string' && item.includes('\u0000')) issues.push({ code: 'custom', path, message: 'must not contain NUL characters', input: item });
    else if (item && typeof item === 'object') for (const [key, child] of Object.entries(item)) pending.push([child, [...path, key]]);
  }
  return issues;
}

export function parseRequestPart<T extends AnySchema>(location: 'params' | 'query' | 'body', schema: T | undefined, value: unknown): unknown {
  if (!schema) return location === 'body' ? undefined : {};
  if (holdsNul(value)) throw new RequestValidationError(location, new z.ZodError(nulCharacters(value)));
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new RequestValidationError(location, parsed.error);
  return parsed.data;
}

/** An Idempotency-Key: visible ASCII (a UUID, say), optionally quoted as a structured-field string. */
export const idempotencyKeyHeader = z
  .string()
  .transform((value) => value.replace(/^"(.*)"$/, '$1'))
  .pipe(z.string().regex(/^[\x21-\x7E]{1,255}$/, 'must be 1–255 visible ASCII characters, e.g. a UUID'));

const keyHeaders = z.object({ 'idempotency-key': idempotencyKeyHeader.optional() });

/** The request's Idempotency-Key on an idempotent route, validated; undefined when it sent none. */
function idempotencyKeyOf(ctx: Context, definition: RouteDefinition): string | undefined {
  if (!definition.idempotent) return undefined;
  const parsed = keyHeaders.safeParse({ 'idempotency-key': ctx.get('Idempotency-Key') || undefined });
  if (!parsed.success) throw new RequestValidationError('headers', parsed.error);
  return parsed.data['idempotency-key'];
}

/**
 * The writer of a request whose body the handler parsed itself (a multipart report, an Open311 form), with the
 * request's Idempotency-Key bound to that content: what identifies the request for its key.
 */
export function writerForContent(ctx: Context, writer: WriteContext, content: unknown): WriteContext {
  const key = ctx.state.idempotencyKey as string | undefined;
  if (!key) return writer;
  return { ...writer, idempotency: { key, fingerprint: requestFingerprint({ method: ctx.method, path: ctx.path, query: ctx.query, content }) } };
}

/** The handler's input, parsed by the route's schemas; a multipart body is left to the handler (parseBody false). */
function routeInput(definition: RouteDefinition, parts: { params: unknown; query: unknown; body: unknown; actor: Actor | null; requestId: string }, parseBody = true) {
  return {
    params: parseRequestPart('params', definition.params, parts.params),
    query: parseRequestPart('query', definition.query, parts.query),
    body: parseBody ? parseRequestPart('body', definition.body, parts.body) : undefined,
    actor: parts.actor,
    writer: { actor: parts.actor, route: `${definition.method.toUpperCase()} ${definition.path}`, requestId: parts.requestId },
  } as RouteInput<never, never, never>;
}

/** The route's handler, or one that writes its answer to the Koa response. */
function handlerOf(definition: RouteDefinition): NonNullable<RouteDefinition['handler']> {
  if (definition.handler) return definition.handler;
  const answer = definition.answer;
  if (!answer) throw new Error(`${definition.method.toUpperCase()} ${definition.path}: a route has a handler or an answer`);
  return async (ctx, input) => {
    const { status, headers, body } = await answer({ ...input, body: undefined }, ctx.req);
    ctx.status = status;
    ctx.set(headers);
    if (body) ctx.body = body;
  };
}

export interface MountOptions {
  authorize: Authorize;
  bodyLimit: string;
  /** Check each JSON answer against the route's documented schema (config CHECK_ANSWERS). */
  checkAnswers?: boolean;
}

/** A JSON answer that does not match the schema its route documents for that status: our bug, so a 500. */
function checkAnswer(ctx: Context, definition: RouteDefinition): void {
  const schema = definition.responses[ctx.status]?.schema;
  const body: unknown = ctx.body;
  if (!schema || body === null || typeof body !== 'object' || Buffer.isBuffer(body) || typeof (body as { pipe?: unknown }).pipe === 'function') return;
  // As the client reads it: dates as ISO strings, and nothing undefined.
  const checked = schema.safeParse(JSON.parse(JSON.stringify(body)));
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new Error(`${definition.method.toUpperCase()} ${definition.path} answered ${ctx.status} unlike its schema: ${issue.path.join('.')}: ${issue.message}`);
  }
}

/** Mounts routes on a router: authorization, body parsing and zod validation in front of each handler. */
export function mountRoutes(router: Router, routes: RouteDefinition[], options: MountOptions): void {
  const parseJson = bodyParser({ enableTypes: ['json'], jsonLimit: options.bodyLimit, encoding: 'utf-8' });
  for (const definition of routes) {
    const handler = handlerOf(definition);
    const middlewares: Middleware[] = [];
    middlewares.push(async (ctx, next) => {
      if (definition.errorFormat) ctx.state.errorFormat = definition.errorFormat;
      ctx.state.actor = await options.authorize(ctx, definition.access);
      await next();
    });
    const isMultipart = (ctx: Context) => definition.multipart !== undefined && ctx.is('multipart/form-data') === 'multipart/form-data';
    if (definition.body && !definition.rawBody) {
      middlewares.push(async (ctx, next) => {
        if (isMultipart(ctx)) return next();
        if (!ctx.is('application/json') && ctx.request.length) {
          ctx.throw(415, `Content-Type must be application/json, not ${ctx.get('Content-Type') || 'missing'}`);
        }
        await next();
      });
      middlewares.push((ctx, next) => (isMultipart(ctx) ? next() : (parseJson as unknown as Middleware)(ctx, next)));
    }
    middlewares.push(async (ctx) => {
      const { params, query, state } = ctx;
      const parts = { params, query, body: (ctx.request as { body?: unknown }).body, actor: state.actor as Actor | null, requestId: state.requestId as string };
      state.idempotencyKey = idempotencyKeyOf(ctx, definition);
      const input = routeInput(definition, parts, !isMultipart(ctx) && !definition.rawBody);
      // A JSON body is the request's content; a handler parsing its own body binds the key to what it parsed.
      if (input.body !== undefined) input.writer = writerForContent(ctx, input.writer, input.body);
      await handler(ctx, input);
      if (options.checkAnswers) checkAnswer(ctx, definition);
    });
    router[definition.method](definition.path, ...(middlewares as Parameters<Router['get']>[1][]));
  }
}
