import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import parseUrl from 'parseurl';
import { z } from 'zod';
import type { WriteContext } from '../audit/write-context';
import type { Actor } from '../auth/roles';
import { holdsNul } from '../db/text';
import { requestFingerprint } from '../idempotency/keys';
import type { Authorize, RouteAccess } from './auth';
import { type ErrorFormat, RequestValidationError } from './problem';
import type { ApiDocument } from './openapi';
import { isPercentDecodable } from './percent-encoding';

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

export interface RouteDefinition<P extends AnySchema = AnySchema, Q extends AnySchema = AnySchema, B extends AnySchema = AnySchema> {
  method: Method;
  /** Koa path, e.g. /api/grids/:id */
  path: string;
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
  /** contentType: one media type, or several for an answer sent in the one the request asked for. */
  responses?: Record<number, { description: string; schema?: AnySchema; contentType?: string | string[] }>;
  /**
   * The route creates something and takes an Idempotency-Key header: `writer.idempotency` carries it (for a JSON
   * body; a handler that parses its body itself binds the key with writerForContent), and the write service's
   * withWriteTransaction makes a retry return what the first request's write returned. The handler must answer
   * from that return value alone (same status, headers and body), so a replay gets the first answer.
   */
  idempotent?: boolean;
  /** Errors in a format of the route's own instead of problem+json (Open311 clients expect theirs). */
  errorFormat?: ErrorFormat;
  handler: (ctx: Context, input: RouteInput<z.infer<P>, z.infer<Q>, z.infer<B>>) => Promise<void> | void;
  /**
   * GET routes only: answers on node:http before Koa builds a context, with the input the handler would get (same
   * matching, access check and zod parsing); returns false to let the route run through Koa instead. What it
   * throws (or rejects with) is answered as the same problem+json Koa would send (writeProblem), and not run
   * again: a tile that failed on the database must not be tried twice. Share the response code with `handler` so
   * both send the same thing. It sends X-Request-Id (`writer.requestId`) in its writeHead: a header set before
   * writeHead puts node:http on its slower path for every header.
   */
  fastHandler?: (input: RouteInput<z.infer<P>, z.infer<Q>, undefined>, request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;
}

/** Identity with inference: lets each route file declare its handler with typed params, query and body. */
export function defineRoute<P extends AnySchema = z.ZodObject<{}>, Q extends AnySchema = z.ZodObject<{}>, B extends AnySchema = z.ZodUndefined>(
  definition: RouteDefinition<P, Q, B>,
): RouteDefinition {
  return definition as unknown as RouteDefinition;
}

/** Validates a body a handler parsed itself (a JSON part of a multipart request) as mountRoutes does a JSON body. */
export function validateBody<T extends AnySchema>(schema: T, value: unknown): z.infer<T> {
  return parsePart('body', schema, value) as z.infer<T>;
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

function parsePart<T extends AnySchema>(location: 'params' | 'query' | 'body', schema: T | undefined, value: unknown): unknown {
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
    params: parsePart('params', definition.params, parts.params),
    query: parsePart('query', definition.query, parts.query),
    body: parseBody ? parsePart('body', definition.body, parts.body) : undefined,
    actor: parts.actor,
    writer: { actor: parts.actor, route: `${definition.method.toUpperCase()} ${definition.path}`, requestId: parts.requestId },
  } as RouteInput<never, never, never>;
}

export interface MountOptions {
  authorize: Authorize;
  bodyLimit: string;
  document: ApiDocument;
}

/** Mounts routes on a router and records each in the OpenAPI document, from the same zod schemas. */
export function mountRoutes(router: Router, routes: RouteDefinition[], options: MountOptions): void {
  const parseJson = bodyParser({ enableTypes: ['json'], jsonLimit: options.bodyLimit, encoding: 'utf-8' });
  for (const definition of routes) {
    options.document.addRoute(definition);
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
      await definition.handler(ctx, input);
    });
    router[definition.method](definition.path, ...(middlewares as Parameters<Router['get']>[1][]));
  }
}

/**
 * Answers a request without Koa (true), or leaves it to Koa (false): see RouteDefinition.fastHandler. Synchronous
 * when it can be (a cached tile for a known token): no promise is made for the commonest request of all. Throws
 * or rejects with what failed (an access refused, the database away), for the caller to answer as a problem.
 */
export interface FastAnswer {
  path: string;
  send: (response: ServerResponse, requestId: string) => boolean | Promise<boolean>;
}

/** Koa's query object: URLSearchParams, a repeated name becomes an array (koa/lib/search-params.js). */
function queryObject(search: string | null): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(search ?? '')) {
    const previous = query[name];
    query[name] = previous === undefined ? value : [previous, value].flat();
  }
  return query;
}

/** A URL resolved to a route with a fast handler: the route, the raw query (for access tokens) and the parsed input. */
interface FastTarget {
  definition: RouteDefinition;
  path: string;
  rawQuery: Readonly<Record<string, string | string[]>>;
  params: unknown;
  query: unknown;
  /** writer.route, built once. */
  route: string;
}

/** Distinct URLs remembered; past this the memory starts over (a map session asks for a few thousand tiles). */
const fastTargetLimit = 20_000;

/**
 * The routes' fast handlers, found by the router the routes are mounted on (so a path means the same route
 * here and in Koa), with the same access check and input parsing as mountRoutes. Invalid input goes through Koa,
 * which authorizes first (401/403 before 400) and then names what is wrong; access refused and failed handlers
 * are thrown to the caller, which answers them with the same problem document.
 *
 * Matching and parsing depend on the URL alone, and map clients ask for the same tile URLs again and again
 * (revalidating with If-None-Match), so both are remembered by URL: profiles of cached tiles had the router's
 * match over all routes, URL and query parsing and zod at a fifth of the server's work. The parsed input is
 * frozen, since every later request with that URL shares it.
 */
export function fastRoutes(router: Router, routes: RouteDefinition[], authorize: Authorize): (request: IncomingMessage) => FastAnswer | undefined {
  const fast = new Map(routes.filter((route) => route.fastHandler).map((route) => [route.path, route]));
  for (const route of fast.values()) {
    if (route.method !== 'get' || route.body) throw new Error(`${route.path}: only GET routes without a body have a fast handler`);
    // Its errors are written as problem+json on node:http, with no Koa context to carry another format.
    if (route.errorFormat) throw new Error(`${route.path}: a route with its own error format has no fast handler`);
  }
  const targets = new Map<string, FastTarget | null>();

  function resolveTarget(request: IncomingMessage): FastTarget | null {
    const url = parseUrl(request);
    const path = url?.pathname;
    if (!path) return null;
    // Koa runs the first route whose path and method match; only that route's fast handler may answer.
    const layer = router.match(path, 'GET').pathAndMethod.find((candidate) => candidate.methods.length > 0);
    const definition = layer && fast.get(layer.path as string);
    // Malformed percent-encoding goes to Koa too, which refuses it (URLSearchParams would read it as something else).
    if (!definition || !isPercentDecodable((url.query as string | null) ?? '')) return null;
    try {
      const rawQuery = Object.freeze(queryObject(url.query as string | null));
      const params = deepFreeze(parsePart('params', definition.params, layer.params(path, layer.captures(path))));
      const query = deepFreeze(parsePart('query', definition.query, rawQuery));
      return { definition, path, rawQuery, params, query, route: `GET ${definition.path}` };
    } catch {
      // Invalid input: Koa authorizes first (401/403 before 400) and then sends the problem document.
      return null;
    }
  }

  function targetFor(request: IncomingMessage): FastTarget | null {
    const url = request.url!;
    let target = targets.get(url);
    if (target !== undefined) return target;
    target = resolveTarget(request);
    if (targets.size >= fastTargetLimit) targets.clear();
    targets.set(url, target);
    return target;
  }

  return (request) => {
    if (fast.size === 0 || request.method !== 'GET') return undefined;
    const target = targetFor(request);
    if (!target) return undefined;
    const { definition, path, rawQuery, params, query, route } = target;
    const answer = (actor: Actor | null, response: ServerResponse, requestId: string) => {
      const input = { params, query, body: undefined, actor, writer: { actor, route, requestId } } as RouteInput<never, never, undefined>;
      return definition.fastHandler!(input, request, response);
    };
    return {
      path,
      send(response, requestId) {
        const actor = authorize({ headers: request.headers, query: rawQuery, method: 'GET', path }, definition.access);
        if (!(actor instanceof Promise)) return answer(actor, response, requestId);
        return actor.then((known) => answer(known, response, requestId));
      },
    };
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
