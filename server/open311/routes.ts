import { bodyParser } from '@koa/bodyparser';
import type { AppDeps } from '../deps';
import { ForbiddenError, UnauthorizedError } from '../errors';
import type { Authenticator } from '../http/auth';
import { reporterRoles } from '../incidents/workflow';
import { assertPercentDecodable } from '../http/percent-encoding';
import { defineRoute, validateBody, writerForContent } from '../http/route';
import type { ErrorFormat, ProblemDocument } from '../http/problem';
import {
  filedRequestAnswer,
  open311Errors,
  open311RequestBody,
  open311RequestsQuery,
  requestIdParams,
  requestsAnswer,
  serviceCodeParams,
  serviceDefinitionAnswer,
  servicesAnswer,
} from './schemas';
import { fileRequest, findRequests, getRequest, getService, listServices } from './service';
import { jsonAnswer } from '../http/request-schemas';

const tag = 'open311';

/** Where GeoReport v2 lives: every answer under it, an unknown route's too, is in GeoReport's format. */
export const open311Prefix = '/open311/v2/';

/** GeoReport v2 error array instead of problem+json: one entry per invalid field, else one for the problem. */
export const open311ErrorFormat: ErrorFormat = {
  contentType: 'application/json',
  schema: open311Errors,
  render(problem: ProblemDocument) {
    const fieldErrors = (problem.errors ?? []) as Array<{ in: string; path: string; message: string }>;
    return fieldErrors.length
      ? fieldErrors.map((error) => ({ code: problem.status, description: `${error.in} ${error.path}: ${error.message}` }))
      : [{ code: problem.status, description: problem.detail }];
  },
};

/**
 * An Open311 api_key is a citygrid API token (npm run token -- create --role hotline --label "<client>") of a role
 * that may report incidents, checked as every token is (http/auth); the incident's audit rows then name that
 * token. GeoReport v2 answers a bad api_key with 403, never 401.
 */
async function actorForApiKey(authenticator: Authenticator, apiKey: string, request: { method: string; path: string }) {
  try {
    return await authenticator.actorForToken(apiKey, reporterRoles, request);
  } catch (error) {
    if (error instanceof UnauthorizedError) throw new ForbiddenError('api_key is unknown or revoked');
    throw error;
  }
}

export function open311Routes({ pool, clock, config }: AppDeps, authenticator: Authenticator) {
  // GeoReport v2 clients post form-encoded bodies; JSON is accepted too.
  const parseBody = bodyParser({ enableTypes: ['form', 'json'], formLimit: config.BODY_LIMIT, jsonLimit: config.BODY_LIMIT });
  return [
    defineRoute({
      method: 'get',
      path: '/open311/v2/services.json',
      operationId: 'listOpen311Services',
      responses: jsonAnswer(servicesAnswer),
      summary: 'GeoReport v2 service list: one service per incident category',
      tag,
      access: 'public',
      errorFormat: open311ErrorFormat,
      async handler(ctx) {
        ctx.body = await listServices(pool);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/open311/v2/services/:code.json',
      operationId: 'getOpen311Service',
      responses: jsonAnswer(serviceDefinitionAnswer),
      summary: 'GeoReport v2 service definition (no extra attributes)',
      tag,
      access: 'public',
      errorFormat: open311ErrorFormat,
      params: serviceCodeParams,
      async handler(ctx, { params }) {
        ctx.body = await getService(pool, params.code);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/open311/v2/requests.json',
      operationId: 'listOpen311Requests',
      responses: jsonAnswer(requestsAnswer),
      summary: 'GeoReport v2 service requests with the standard filters (ids, service_code, dates, status)',
      tag,
      access: 'public',
      errorFormat: open311ErrorFormat,
      query: open311RequestsQuery,
      async handler(ctx, { query }) {
        ctx.body = await findRequests(pool, clock, query);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/open311/v2/requests.json',
      operationId: 'createOpen311Request',
      responses: jsonAnswer(filedRequestAnswer, 'Filed', 201),
      summary: 'GeoReport v2: file a service request (becomes an incident with source open311); api_key = a citygrid token of a reporting role',
      tag,
      access: 'public',
      errorFormat: open311ErrorFormat,
      rawBody: true,
      idempotent: true,
      async handler(ctx, { writer }) {
        await parseBody(ctx as never, async () => undefined);
        const { rawBody } = ctx.request as { rawBody?: string };
        // The form parser keeps a field it cannot percent-decode as raw text (it would be filed as is).
        if (ctx.is('application/x-www-form-urlencoded') && rawBody) assertPercentDecodable(rawBody, 'form field');
        const body = validateBody(open311RequestBody, (ctx.request as { body?: unknown }).body ?? {});
        const actor = await actorForApiKey(authenticator, body.api_key, ctx);
        ctx.status = 201;
        ctx.body = await fileRequest(pool, clock, writerForContent(ctx, { ...writer, actor }, body), body);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/open311/v2/requests/:id.json',
      operationId: 'getOpen311Request',
      responses: jsonAnswer(requestsAnswer),
      summary: 'GeoReport v2: one service request',
      tag,
      access: 'public',
      errorFormat: open311ErrorFormat,
      params: requestIdParams,
      async handler(ctx, { params }) {
        ctx.body = await getRequest(pool, clock, params.id);
      },
    }),
  ];
}
