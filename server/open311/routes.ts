import { bodyParser } from '@koa/bodyparser';
import type { AppDeps } from '../deps';
import { BadRequestError } from '../errors';
import { defineRoute, validateBody, writerForContent } from '../http/route';
import type { ErrorFormat, ProblemDocument } from '../http/problem';
import { open311Errors, open311RequestBody, open311RequestsQuery, requestIdParams, serviceCodeParams } from './schemas';
import { actorForApiKey, fileRequest, findRequests, getRequest, getService, listServices } from './service';

const tag = 'open311';

/** GeoReport v2 error array instead of problem+json: one entry per invalid field, else one for the problem. */
const errorFormat: ErrorFormat = {
  contentType: 'application/json',
  schema: open311Errors,
  render(problem: ProblemDocument) {
    const fieldErrors = (problem.errors ?? []) as Array<{ in: string; path: string; message: string }>;
    return fieldErrors.length
      ? fieldErrors.map((error) => ({ code: problem.status, description: `${error.in} ${error.path}: ${error.message}` }))
      : [{ code: problem.status, description: problem.detail }];
  },
};

/** The form parser keeps a field it cannot percent-decode as raw text (it would be filed as is): refused instead. */
function assertDecodableForm(raw: string): void {
  for (const pair of raw.split('&')) {
    try {
      decodeURIComponent(pair.replace(/\+/g, ' '));
    } catch {
      throw new BadRequestError(`The form field ${pair.split('=')[0].slice(0, 50)} has malformed percent-encoding`);
    }
  }
}

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
      errorFormat,
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
      errorFormat,
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
      errorFormat,
      query: open311RequestsQuery,
      async handler(ctx, { query }) {
        ctx.body = await findRequests(pool, clock, query);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/open311/v2/requests.json',
      summary: 'GeoReport v2: file a service request (becomes an incident with source open311); api_key = a citygrid token of a reporting role',
      tag,
      access: 'public',
      errorFormat,
      rawBody: true,
      idempotent: true,
      async handler(ctx, { writer }) {
        await parseBody(ctx as never, async () => undefined);
        const { rawBody } = ctx.request as { rawBody?: string };
        if (ctx.is('application/x-www-form-urlencoded') && rawBody) assertDecodableForm(rawBody);
        const body = validateBody(open311RequestBody, (ctx.request as { body?: unknown }).body ?? {});
        const actor = await actorForApiKey(pool, body.api_key);
        ctx.status = 201;
        ctx.body = await fileRequest(pool, clock, writerForContent(ctx, { ...writer, actor }, body), body);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/open311/v2/requests/:id.json',
      summary: 'GeoReport v2: one service request',
      tag,
      access: 'public',
      errorFormat,
      params: requestIdParams,
      async handler(ctx, { params }) {
        ctx.body = await getRequest(pool, clock, params.id);
      },
    }),
  ];
}
