import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type Router from '@koa/router';
import type Koa from 'koa';
import { parse as parseQuery } from 'koa/lib/search-params';
import parseUrl from 'parseurl';
import type { Actor } from '../auth/roles';
import type { Logger } from '../logger';
import type { Authorize } from './auth';
import { isPercentDecodable } from './percent-encoding';
import { writeProblem } from './problem';
import { logRequest, requestIdOf } from './request-log';
import { parseRequestPart, type RouteAnswer, type RouteDefinition, type RouteInput } from './route';

/**
 * The node:http fast path: a GET whose route declares an `answer` (a tile) is answered here, before Koa builds its
 * context and runs its middleware (which cost as much as a small tile's query), with the same route, access
 * check, input parsing and answer; everything else goes to Koa. Composed in main.ts:
 * `http.createServer(withFastPath(app, log))`.
 */
export function withFastPath(app: { koa: Koa; fastRoutes: FastRoutes }, log: Logger): RequestListener {
  const koa = app.koa.callback();
  return (request, response) => {
    const target = app.fastRoutes(request);
    if (!target) return void koa(request, response);
    const started = performance.now();
    const requestId = requestIdOf(request);
    const written = (answer: RouteAnswer) => {
      write(answer, response, requestId);
      logRequest(log, started, { requestId, method: 'GET', path: target.path, status: response.statusCode });
    };
    // A failure is answered here, once: running the request again through Koa would try the database again.
    const failed = (error: unknown) => {
      writeProblem(response, error, target.path, requestId, log);
      logRequest(log, started, { requestId, method: 'GET', path: target.path, status: response.statusCode });
    };
    try {
      const answer = target.answer(requestId);
      if (answer instanceof Promise) answer.then(written, failed);
      else written(answer);
    } catch (error) {
      failed(error);
    }
  };
}

/**
 * X-Request-Id goes into writeHead's own headers: a header set before writeHead puts node:http on its slower path
 * for every header. The answer's headers are built per request, so adding to them is safe.
 */
function write({ status, headers, body }: RouteAnswer, response: ServerResponse, requestId: string): void {
  headers['X-Request-Id'] = requestId;
  response.writeHead(status, headers).end(body);
}

/** A request the fast path answers: its path (for logs and problems) and its answer, once authorized. */
export interface FastTarget {
  path: string;
  /** Synchronous when it can be (a cached tile for a known token): no promise is made for the commonest request. */
  answer: (requestId: string) => RouteAnswer | Promise<RouteAnswer>;
}

export type FastRoutes = (request: IncomingMessage) => FastTarget | undefined;

/** A URL resolved to a route with an answer: the route, the raw query (for access tokens) and the parsed input. */
interface ResolvedUrl {
  definition: RouteDefinition;
  path: string;
  rawQuery: Readonly<Record<string, string | string[]>>;
  params: unknown;
  query: unknown;
  /** writer.route, built once. */
  route: string;
}

/** Distinct URLs remembered; past this the memory starts over (a map session asks for a few thousand tiles). */
const resolvedUrlLimit = 20_000;

/**
 * The routes' answers, found by the router the routes are mounted on (so a path means the same route here and in
 * Koa), with the same access check and input parsing as mountRoutes. Invalid input goes through Koa, which
 * authorizes first (401/403 before 400) and then names what is wrong; access refused and failed answers are
 * thrown to withFastPath, which answers them with the same problem document.
 *
 * Matching and parsing depend on the URL alone, and map clients ask for the same tile URLs again and again
 * (revalidating with If-None-Match), so both are remembered by URL: profiles of cached tiles had the router's
 * match over all routes, URL and query parsing and zod at a fifth of the server's work. The parsed input is
 * frozen, since every later request with that URL shares it.
 */
export function fastRoutes(router: Router, routes: RouteDefinition[], authorize: Authorize): FastRoutes {
  const answered = new Map(routes.filter((route) => route.answer).map((route) => [route.path, route]));
  for (const route of answered.values()) {
    if (route.method !== 'get' || route.body) throw new Error(`${route.path}: only GET routes without a body have an answer`);
    // Its errors are written as problem+json on node:http, with no Koa context to carry another format.
    if (route.errorFormat) throw new Error(`${route.path}: a route with its own error format has no answer`);
  }
  const resolved = new Map<string, ResolvedUrl | null>();

  function resolve(request: IncomingMessage): ResolvedUrl | null {
    const url = parseUrl(request);
    const path = url?.pathname;
    if (!path) return null;
    // Koa runs the first route whose path and method match; only that route's answer may be given here.
    const layer = router.match(path, 'GET').pathAndMethod.find((candidate) => candidate.methods.length > 0);
    const definition = layer && answered.get(layer.path as string);
    // Malformed percent-encoding goes to Koa too, which refuses it (URLSearchParams would read it as something else).
    if (!definition || !isPercentDecodable((url.query as string | null) ?? '')) return null;
    try {
      const rawQuery = Object.freeze(parseQuery((url.query as string | null) ?? ''));
      const params = deepFreeze(parseRequestPart('params', definition.params, layer.params(path, layer.captures(path))));
      const query = deepFreeze(parseRequestPart('query', definition.query, rawQuery));
      return { definition, path, rawQuery, params, query, route: `GET ${definition.path}` };
    } catch {
      return null;
    }
  }

  function resolveRemembered(url: string, request: IncomingMessage): ResolvedUrl | null {
    let target = resolved.get(url);
    if (target !== undefined) return target;
    target = resolve(request);
    if (resolved.size >= resolvedUrlLimit) resolved.clear();
    resolved.set(url, target);
    return target;
  }

  return (request) => {
    if (answered.size === 0 || request.method !== 'GET') return undefined;
    const target = resolveRemembered(request.url!, request);
    if (!target) return undefined;
    const { definition, path, rawQuery, params, query, route } = target;
    const answerAs = (actor: Actor | null, requestId: string) => {
      const input = { params, query, body: undefined, actor, writer: { actor, route, requestId } } as RouteInput<never, never, undefined>;
      return definition.answer!(input, request);
    };
    return {
      path,
      answer(requestId) {
        const actor = authorize({ headers: request.headers, query: rawQuery, method: 'GET', path }, definition.access);
        return actor instanceof Promise ? actor.then((known) => answerAs(known, requestId)) : answerAs(actor, requestId);
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
