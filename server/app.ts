import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import Router from '@koa/router';
import Koa from 'koa';
import serve from 'koa-static';
import type { AppDeps } from './deps';
import { createAuthenticator } from './http/auth';
import { ApiDocument } from './http/openapi';
import { problemMiddleware } from './http/problem';
import { mountRoutes, type RouteDefinition, defineRoute } from './http/route';
import { gridRoutes } from './grids/routes';
import { healthRoutes } from './health/routes';
import { layerRoutes } from './layers/routes';
import { auditRoutes } from './audit/routes';
import { incidentRoutes } from './incidents/routes';
import { tileRoutes } from './tiles/routes';
import { open311Routes } from './open311/routes';

/** Every domain contributes its routes here; adding a domain is one line. */
const domainRoutes: Array<(deps: AppDeps) => RouteDefinition[]> = [healthRoutes, gridRoutes, layerRoutes, auditRoutes, incidentRoutes, open311Routes, tileRoutes];

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: false });
  // Errors Koa sees outside the routes (a client breaking off an upload or a download) go to the log, not stderr.
  app.on('error', (error: Error, ctx?: Koa.Context) => deps.log.warn({ err: error, requestId: ctx?.state.requestId }, 'request ended with an error'));
  const document = new ApiDocument();
  const router = new Router();
  const routes = domainRoutes.flatMap((build) => build(deps));
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
  mountRoutes(router, routes, { authorize: createAuthenticator(deps.pool), bodyLimit: deps.config.BODY_LIMIT, document });

  app.use(async (ctx, next) => {
    const requestId = ctx.get('X-Request-Id') || randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    await next();
    // The path only: query strings may carry access tokens.
    deps.log.debug({ requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
  });
  app.use(problemMiddleware(deps.log));
  app.use(router.routes());
  app.use(router.allowedMethods());
  if (fs.existsSync(deps.config.WEB_DIST)) app.use(serve(deps.config.WEB_DIST, { maxage: 0 }));
  return app;
}
