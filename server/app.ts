import fs from 'node:fs';
import Router from '@koa/router';
import Koa from 'koa';
import { z } from 'zod';
import { cityCatalogue } from './catalogue/city';
import type { AppDeps, AppInput } from './deps';
import { type Authenticator, createAuthenticator } from './http/auth';
import { ApiDocument } from './http/openapi';
import { jsonAnswer } from './http/request-schemas';
import { assertPercentDecodable } from './http/percent-encoding';
import { type FastRoutes, fastRoutes } from './http/fast-path';
import { problemMiddleware } from './http/problem';
import { logRequest, requestIdOf } from './http/request-log';
import { mountRoutes, type RouteDefinition, defineRoute } from './http/route';
import { gridRoutes } from './grids/routes';
import { healthRoutes } from './health/routes';
import { layerRoutes } from './layers/routes';
import { auditRoutes } from './audit/routes';
import { incidentRoutes } from './incidents/routes';
import { tileRoutes } from './tiles/routes';
import { tileLayersOf } from './tiles/registry';
import { TileService } from './tiles/service';
import { hotspotRoutes } from './hotspots/routes';
import { HotspotService } from './hotspots/service';
import { hotspotTiles } from './hotspots/tiles';
import { open311ErrorFormat, open311Prefix, open311Routes } from './open311/routes';
import { ogcErrorFormat, ogcPrefix, ogcRoutes } from './ogc/routes';
import { sessionRoutes } from './auth/routes';
import { wallRoutes } from './wall/routes';
import { riskRoutes } from './risk/routes';
import { patrolRoutes } from './patrols/routes';
import { webApp } from './web/static';

/**
 * What routes share, made once per app because each holds a cache: hotspot results feed both their JSON routes and
 * their tiles, the tile cache serves every tile layer (both kept fresh by the event bus), the authenticator
 * remembers resolved tokens.
 */
interface SharedServices {
  hotspots: HotspotService;
  tiles: TileService;
  /** For a route whose token comes in its body (Open311's api_key): checked as every bearer token is. */
  authenticator: Authenticator;
}

/** Every domain contributes its routes here; adding a domain is one line. */
const domainRoutes: Array<(deps: AppDeps, shared: SharedServices) => RouteDefinition[]> = [
  healthRoutes,
  sessionRoutes,
  gridRoutes,
  layerRoutes,
  auditRoutes,
  incidentRoutes,
  (deps, { authenticator }) => open311Routes(deps, authenticator),
  riskRoutes,
  (deps, { hotspots }) => hotspotRoutes(deps, hotspots),
  (deps, { tiles }) => tileRoutes(deps, tiles),
  wallRoutes,
  patrolRoutes,
  ogcRoutes,
];

/**
 * The API: Koa with every domain's routes, and the same routes' answers for the node:http fast path
 * (http/fast-path.ts), which main.ts composes in front of Koa.
 */
export interface CitygridApp {
  koa: Koa;
  fastRoutes: FastRoutes;
  /** The OpenAPI document GET /api serves (and scripts/api-types.ts makes the web client's types from). */
  apiDocument: () => object;
  /** Stops the app's caches listening to the event bus. */
  close: () => void;
}

/** The shared services; the caches kept fresh by change events are subscribed here, where they are made. */
function sharedServices({ pool, reads, clock, config, events, catalogue, tilePeers }: AppDeps): { shared: SharedServices; stopListening: () => void } {
  const authenticator = createAuthenticator(pool);
  const hotspots = new HotspotService(reads, clock);
  const tiles = new TileService(reads, tileLayersOf(catalogue), config.TILE_CACHE_MB * 1024 * 1024, { hotspots: hotspotTiles(hotspots, clock) }, tilePeers);
  const stops = [hotspots.listen(events), tiles.listen(events)];
  return { shared: { hotspots, tiles, authenticator }, stopListening: () => stops.forEach((stop) => stop()) };
}

export function createApp(input: AppInput): CitygridApp {
  const deps: AppDeps = { ...input, catalogue: input.catalogue ?? cityCatalogue };
  const document = new ApiDocument();
  const router = new Router();
  const { shared, stopListening } = sharedServices(deps);
  const routes = domainRoutes.flatMap((build) => build(deps, shared));
  routes.push(
    defineRoute({
      method: 'get',
      path: '/api',
      operationId: 'getApiDocument',
      summary: 'This OpenAPI 3 document',
      responses: jsonAnswer(z.object({ openapi: z.string(), info: z.unknown(), paths: z.record(z.string(), z.unknown()) }).passthrough()),
      tag: 'meta',
      access: 'public',
      handler(ctx) {
        ctx.body = document.build();
      },
    }),
  );
  const { authorize } = shared.authenticator;
  // The OpenAPI document is built from the same definitions and zod schemas the router validates with.
  for (const route of routes) document.addRoute(route);
  mountRoutes(router, routes, { authorize, bodyLimit: deps.config.BODY_LIMIT, checkAnswers: deps.config.CHECK_ANSWERS });
  const app = new Koa({ proxy: false });
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
  return { koa: app, fastRoutes: fastRoutes(router, routes, authorize), apiDocument: () => document.build(), close: stopListening };
}
