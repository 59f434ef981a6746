import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { IncomingMessage, type ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import Router from '@koa/router';
import Koa from 'koa';
import { cityCatalogue } from './catalogue/city';
import type { AppDeps, AppInput } from './deps';
import { createAuthenticator } from './http/auth';
import { ApiDocument } from './http/openapi';
import { assertPercentDecodable } from './http/percent-encoding';
import { problemMiddleware, writeProblem } from './http/problem';
import { type FastAnswer, fastRoutes, mountRoutes, type RouteDefinition, defineRoute } from './http/route';
import { gridRoutes } from './grids/routes';
import { healthRoutes } from './health/routes';
import { layerRoutes } from './layers/routes';
import { auditRoutes } from './audit/routes';
import { incidentRoutes } from './incidents/routes';
import { tileRoutes } from './tiles/routes';
import { hotspotRoutes } from './hotspots/routes';
import { HotspotService } from './hotspots/service';
import { hotspotTiles } from './hotspots/tiles';
import { open311ErrorFormat, open311Prefix, open311Routes } from './open311/routes';
import { ogcErrorFormat, ogcPrefix, ogcRoutes } from './ogc/routes';
import { sessionRoutes } from './auth/routes';
import { wallRoutes } from './wall/routes';
import { riskRoutes } from './risk/routes';
import { patrolRoutes } from './patrols/routes';
import type { Logger } from './logger';
import { webApp } from './web/static';

/** Services more than one domain's routes use: hotspot results feed both their JSON routes and their tiles. */
interface SharedServices {
  hotspots: HotspotService;
}

/** Every domain contributes its routes here; adding a domain is one line. */
const domainRoutes: Array<(deps: AppDeps, shared: SharedServices) => RouteDefinition[]> = [
  healthRoutes,
  sessionRoutes,
  gridRoutes,
  layerRoutes,
  auditRoutes,
  incidentRoutes,
  open311Routes,
  riskRoutes,
  (deps, { hotspots }) => hotspotRoutes(deps, hotspots),
  (deps, { hotspots }) => tileRoutes(deps, { hotspots: hotspotTiles(hotspots, deps.clock) }),
  wallRoutes,
  patrolRoutes,
  ogcRoutes,
];

/**
 * What a client-chosen X-Request-Id may be: it goes into every log line and audit row of the request, so it is
 * short and of a safe alphabet (a UUID, a ULID, a trace id), nothing that could forge a log line or fill a table.
 */
const clientRequestId = /^[A-Za-z0-9._:-]{1,64}$/;

/** The client's X-Request-Id if it is a safe one, else a new one: every response carries it and every log line of the request. */
function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && clientRequestId.test(given) ? given : randomUUID();
}

function logRequest(log: Logger, started: number, fields: { requestId: string; method: string; path: string; status: number }): void {
  // Checked first: this runs for every request, and building the line costs more than serving a cached tile.
  if (!log.isLevelEnabled('debug')) return;
  // The path only: query strings may carry access tokens.
  log.debug({ ...fields, ms: Math.round(performance.now() - started) }, 'request');
}

// Koa's callback returns a promise; a request answered synchronously returns this one instead of a new one.
const answeredAlready = Promise.resolve();

/**
 * Koa, except that a request one of the routes' fast handlers can answer (a tile) is answered on
 * node:http before Koa builds its context and runs the middleware: same route, access rule, validation and
 * headers, a fraction of the work (see fastRoutes in http/route.ts).
 */
class CitygridApp extends Koa {
  constructor(
    private readonly fastAnswerFor: (request: IncomingMessage) => FastAnswer | undefined,
    private readonly log: Logger,
  ) {
    super({ proxy: false });
  }

  override callback() {
    const handle = super.callback();
    return (request: IncomingMessage | Http2ServerRequest, response: ServerResponse | Http2ServerResponse): Promise<void> => {
      const answer = request instanceof IncomingMessage ? this.fastAnswerFor(request) : undefined;
      if (!answer) return handle(request, response);
      const started = performance.now();
      const requestId = requestIdOf(request as IncomingMessage);
      // If Koa ends up answering, its request-id middleware keeps this id.
      request.headers['x-request-id'] = requestId;
      const answered = (sent: boolean): Promise<void> => {
        if (!sent) return handle(request, response);
        logRequest(this.log, started, { requestId, method: 'GET', path: answer.path, status: response.statusCode });
        return answeredAlready;
      };
      // A failure is answered here, once: running the request again through Koa would try the database again.
      const failed = (error: unknown): Promise<void> => {
        writeProblem(response as ServerResponse, error, answer.path, requestId, this.log);
        return answered(true);
      };
      let sent: boolean | Promise<boolean>;
      try {
        sent = answer.send(response as ServerResponse, requestId);
      } catch (error) {
        return failed(error);
      }
      return typeof sent === 'boolean' ? answered(sent) : sent.then(answered, failed);
    };
  }
}

export function createApp(input: AppInput): Koa {
  const deps: AppDeps = { ...input, catalogue: input.catalogue ?? cityCatalogue };
  const document = new ApiDocument();
  const router = new Router();
  const hotspots = new HotspotService(deps.reads, deps.clock);
  hotspots.listen(deps.events);
  const routes = domainRoutes.flatMap((build) => build(deps, { hotspots }));
  let builtDocument: object | undefined;
  routes.push(
    defineRoute({
      method: 'get',
      path: '/api',
      summary: 'This OpenAPI 3 document',
      tag: 'meta',
      access: 'public',
      handler(ctx) {
        builtDocument ??= document.build();
        ctx.body = builtDocument;
      },
    }),
  );
  const authorize = createAuthenticator(deps.pool);
  mountRoutes(router, routes, { authorize, bodyLimit: deps.config.BODY_LIMIT, document });
  const app = new CitygridApp(fastRoutes(router, routes, authorize), deps.log);
  // Errors Koa sees outside the routes (a client breaking off an upload or a download) go to the log, not stderr.
  app.on('error', (error: Error, ctx?: Koa.Context) => deps.log.warn({ err: error, requestId: ctx?.state.requestId }, 'request ended with an error'));

  app.use(async (ctx, next) => {
    const requestId = requestIdOf(ctx.req);
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    await next();
    logRequest(deps.log, started, { requestId, method: ctx.method, path: ctx.path, status: ctx.status });
  });
  app.use(problemMiddleware(deps.log, [
      [open311Prefix, open311ErrorFormat],
      [ogcPrefix, ogcErrorFormat],
    ]));
  app.use((ctx, next) => {
    assertPercentDecodable(ctx.querystring, 'query parameter');
    return next();
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  if (fs.existsSync(deps.config.WEB_DIST)) app.use(webApp(deps.config.WEB_DIST));
  return app;
}
