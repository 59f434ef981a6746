import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import type { WriteContext } from '../audit/write-context';
import type { Actor } from '../auth/roles';
import type { Authorize, RouteAccess } from './auth';
import { type ErrorFormat, RequestValidationError } from './problem';
import type { ApiDocument } from './openapi';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
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
  /** The route reads ctx.req itself (streamed uploads); no JSON body parsing. */
  rawBody?: boolean;
  /**
   * The route also takes multipart/form-data, whose parts this schema documents. For such a request nothing is
   * parsed or validated here: body is undefined and the handler reads ctx.req (files go to disk as they arrive).
   */
  multipart?: AnySchema;
  responses?: Record<number, { description: string; schema?: AnySchema; contentType?: string }>;
  /** Errors in a format of the route's own instead of problem+json (Open311 clients expect theirs). */
  errorFormat?: ErrorFormat;
  handler: (ctx: Context, input: RouteInput<z.infer<P>, z.infer<Q>, z.infer<B>>) => Promise<void> | void;
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

function parsePart<T extends AnySchema>(location: 'params' | 'query' | 'body', schema: T | undefined, value: unknown): unknown {
  if (!schema) return location === 'body' ? undefined : {};
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new RequestValidationError(location, parsed.error);
  return parsed.data;
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
      const input = {
        params: parsePart('params', definition.params, ctx.params),
        query: parsePart('query', definition.query, ctx.query),
        body: isMultipart(ctx) ? undefined : parsePart('body', definition.body, (ctx.request as { body?: unknown }).body),
        actor: ctx.state.actor as Actor | null,
        writer: { actor: ctx.state.actor as Actor | null, route: `${definition.method.toUpperCase()} ${definition.path}`, requestId: ctx.state.requestId as string },
      };
      await definition.handler(ctx, input as RouteInput<never, never, never>);
    });
    router[definition.method](definition.path, ...(middlewares as Parameters<Router['get']>[1][]));
  }
}
