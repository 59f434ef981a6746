import { bodyParser } from '@koa/bodyparser';
import type { AppDeps } from '../deps';
import { defineRoute } from '../http/route';
import { RequestValidationError } from '../http/problem';
import { open311RequestBody, open311RequestsQuery, requestIdParams, serviceCodeParams } from './schemas';
import { fileRequest, findRequests, getRequest, getService, listServices } from './service';

const tag = 'open311';

export function open311Routes({ pool, clock, config }: AppDeps) {
  // GeoReport v2 clients post form-encoded bodies; JSON is accepted too.
  const parseBody = bodyParser({ enableTypes: ['form', 'json'], formLimit: config.BODY_LIMIT, jsonLimit: config.BODY_LIMIT });
  return [
    defineRoute({
      method: 'get',
      path: '/open311/v2/services.json',
      summary: 'GeoReport v2 service list: one service per incident category',
      tag,
      access: 'public',
      async handler(ctx) {
        ctx.body = await listServices(pool);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/open311/v2/services/:code.json',
      summary: 'GeoReport v2 service definition (no extra attributes)',
      tag,
      access: 'public',
      params: serviceCodeParams,
      async handler(ctx, { params }) {
        ctx.body = await getService(pool, params.code);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/open311/v2/requests.json',
      summary: 'GeoReport v2 service requests with the standard filters (ids, service_code, dates, status)',
      tag,
      access: 'public',
      query: open311RequestsQuery,
      async handler(ctx, { query }) {
        ctx.body = await findRequests(pool, clock, query);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/open311/v2/requests.json',
      summary: 'GeoReport v2: file a service request (becomes an incident with source open311)',
      tag,
      access: 'public',
      rawBody: true,
      async handler(ctx) {
        await parseBody(ctx as never, async () => undefined);
        const parsed = open311RequestBody.safeParse((ctx.request as { body?: unknown }).body ?? {});
        if (!parsed.success) throw new RequestValidationError('body', parsed.error);
        ctx.status = 201;
        ctx.body = await fileRequest(pool, clock, parsed.data);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/open311/v2/requests/:id.json',
      summary: 'GeoReport v2: one service request',
      tag,
      access: 'public',
      params: requestIdParams,
      async handler(ctx, { params }) {
        ctx.body = await getRequest(pool, clock, params.id);
      },
    }),
  ];
}
