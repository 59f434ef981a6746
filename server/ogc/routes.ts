import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import { z } from 'zod';
import { allRoles, type Actor } from '../auth/roles';
import type { AppDeps } from '../deps';
import { BadRequestError, ForbiddenError, NotFoundError, UnsupportedMediaTypeError } from '../errors';
import { cityExtentOf } from '../geo/extent';
import type { ErrorFormat, ProblemDocument } from '../http/problem';
import { RequestValidationError } from '../http/problem';
import { publicUrlFor } from '../http/public-url';
import { notModified } from '../http/request-schemas';
import { defineRoute, type RouteDefinition, validateBody, writerForContent } from '../http/route';
import { type OgcCollection, ogcCollections, readableCollections } from './collections';
import { type Crs, crs84, findCrs, servedCrs } from './crs';
import { collectionDocument, conformance, geoJsonType, type Link, Linker, landingPage, linkHeader, openApiDocument, openApiType } from './documents';
import type { EditRequest, FeatureEditor, FeatureInput } from './editing';
import { collectionHtml, collectionsHtml, conformanceHtml, itemHtml, itemsHtml, landingHtml } from './html';
import {
  collectionAnswer,
  collectionParams,
  collectionsAnswer,
  conformanceAnswer,
  documentQuery,
  exceptionSchema,
  featureBody,
  itemParams,
  itemQuery,
  itemsAnswer,
  itemsQuery,
  landingAnswer,
  ogcApiAnswer,
  ogcFeatureAnswer,
} from './schemas';
import { collectionExtent, geometryToWgs84, getItem, listItems } from './service';

export const ogcPrefix = '/ogc';

/** OGC exception codes by HTTP status, in the vocabulary of OGC web services. */
const exceptionCodes: Record<number, string> = {
  400: 'InvalidParameterValue',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  412: 'PreconditionFailed',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  422: 'InvalidValue',
  428: 'PreconditionRequired',
  503: 'ServiceUnavailable',
};

/** Every error under /ogc, as the OGC API exception document {code, description} that OGC clients show. */
export const ogcErrorFormat: ErrorFormat = {
  contentType: 'application/json',
  schema: exceptionSchema,
  render(problem: ProblemDocument) {
    const fieldErrors = (problem.errors ?? []) as Array<{ in: string; path: string; message: string }>;
    const description = fieldErrors.length > 1 ? fieldErrors.map((error) => `${error.in} ${error.path}: ${error.message}`).join('; ') : problem.detail;
    return { code: exceptionCodes[problem.status] ?? (problem.status >= 500 ? 'ServerError' : 'InvalidRequest'), description };
  },
};

const tag = 'ogc';
const orHtml = '; with ?f=html or Accept: text/html, an HTML page of the same';
const readMethods = 'GET, HEAD, OPTIONS';
const jsonTypes = ['application/json', 'application/geo+json', 'application/merge-patch+json'];

function wantsHtml(ctx: Context, f: 'json' | 'html' | undefined): boolean {
  if (f) return f === 'html';
  return ctx.accepts('application/json', geoJsonType, 'text/html') === 'text/html';
}

/** The collection if this reader may see it; any other is unknown (404), also one that exists for other roles. */
function visibleCollection(collections: readonly OgcCollection[], id: string, actor: Actor | null): OgcCollection {
  const collection = collections.find((candidate) => candidate.id === id);
  if (!collection || !actor || !collection.read.includes(actor.role)) throw new NotFoundError(`There is no collection ${id}; GET /ogc/collections lists yours`, { collectionId: id });
  return collection;
}

function crsParameter(served: readonly Crs[], name: string | undefined, parameter: string): Crs {
  if (name === undefined) return crs84;
  const crs = findCrs(served, name);
  if (!crs) throw new BadRequestError(`${parameter} ${name} is not served; use one of ${served.map((c) => c.uri).join(', ')}`, { parameter, served: served.map((c) => c.uri) });
  return crs;
}

/** The property filters of the query: the collection's own, each by its schema; any other name is refused, named. */
function propertyFilters(collection: OgcCollection, rest: Record<string, unknown>): Record<string, unknown> {
  const schema = z.object(Object.fromEntries(Object.entries(collection.filters).map(([name, filter]) => [name, filter.optional()]))).strict();
  const parsed = schema.safeParse(rest);
  if (!parsed.success) throw new RequestValidationError('query', parsed.error);
  return Object.fromEntries(Object.entries(parsed.data).filter(([, value]) => value !== undefined));
}

function checkBbox(bbox: [number, number, number, number] | undefined, crs: Crs): void {
  if (!bbox || crs.srid === 3857) return;
  const [lonMin, latMin, lonMax, latMax] = crs.latitudeFirst ? [bbox[1], bbox[0], bbox[3], bbox[2]] : bbox;
  if (lonMin < -180 || lonMax > 180 || latMin < -90 || latMax > 90) throw new BadRequestError(`bbox ${bbox.join(',')} is outside the range of degrees of ${crs.uri}`, { parameter: 'bbox' });
}

/** If-Match entity tags without quotes or W/ ("*" kept); undefined without the header. */
function ifMatchOf(ctx: Context): string[] | undefined {
  const header = ctx.get('If-Match').trim();
  if (!header) return undefined;
  return header.split(',').map((tag) => tag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1'));
}

/** The editor of a collection this writer may write, or 405 (read-only, with Allow) / 403 (role). */
function editorFor(ctx: Context, collection: OgcCollection, actor: Actor | null): FeatureEditor {
  if (!collection.editor) {
    ctx.set('Allow', readMethods);
    ctx.throw(405, `${collection.id} is read-only here${collection.changedElsewhere ? `: ${collection.changedElsewhere}` : ''}`);
  }
  if (!actor || !collection.editor.roles.includes(actor.role)) {
    ctx.set('Allow', readMethods);
    throw new ForbiddenError(`Role ${actor?.role ?? 'anonymous'} may not edit ${collection.id}`, { allowedRoles: collection.editor.roles });
  }
  return collection.editor;
}

/** A GeoJSON document, or its HTML page when asked for one, with the CRS of its coordinates in Content-Crs and its links in Link. */
function sendFeatures(ctx: Context, crs: Crs, document: { links: Link[] }, htmlPage: (() => string) | false): void {
  ctx.set('Content-Crs', `<${crs.uri}>`);
  ctx.set('Link', linkHeader(document.links));
  if (htmlPage) {
    ctx.body = htmlPage();
    return;
  }
  ctx.type = geoJsonType;
  ctx.body = document;
}

function collectionLink(links: Linker, collection: OgcCollection) {
  return { href: links.href(`/collections/${collection.id}`), rel: 'collection', type: 'application/json', title: collection.title };
}

/**
 * Reads (items, one item, counts, extents) use `reads`, the streaming replica when DATABASE_READ_URL names one: after
 * a change event it routes to the primary until the replica has replayed it. Writes and what a write answers with
 * (Location, the new ETag) run on `pool` inside the write's own transaction.
 */
export function ogcRoutes({ pool, reads, config, clock, catalogue }: AppDeps): RouteDefinition[] {
  const collections = ogcCollections(catalogue);
  const publicUrl = publicUrlFor(config.PUBLIC_URL);
  const city = cityExtentOf(config);
  const linker = (ctx: Context, token: string | undefined) => new Linker(publicUrl(ctx.get('Host') || undefined, ctx.protocol), token);
  let served: Promise<Crs[]> | undefined;
  const servedList = () =>
    (served ??= servedCrs(pool).catch((error: unknown) => {
      served = undefined;
      throw error;
    }));
  const parseJson = bodyParser({ enableTypes: ['json'], extendTypes: { json: jsonTypes }, jsonLimit: config.BODY_LIMIT, encoding: 'utf-8' });
  let apiDocument: object | undefined;

  /** The Feature a write sent, its geometry in WGS84 (Content-Crs tells the CRS it came in). */
  async function featureOf(ctx: Context, optionalType: boolean): Promise<{ feature: FeatureInput; content: unknown }> {
    if (!ctx.is(jsonTypes)) throw new UnsupportedMediaTypeError(`Content-Type must be application/geo+json or application/json, not ${ctx.get('Content-Type') || 'missing'}`);
    await parseJson(ctx as never, async () => undefined);
    const content = (ctx.request as { body?: unknown }).body;
    const schema = optionalType ? featureBody.extend({ type: z.literal('Feature').optional() }) : featureBody;
    const body = validateBody(schema, content);
    const contentCrs = ctx.get('Content-Crs').trim().replace(/^<(.*)>$/, '$1');
    const crs = contentCrs ? crsParameter(await servedList(), contentCrs, 'Content-Crs') : crs84;
    const geometry = body.geometry ? await geometryToWgs84(pool, body.geometry, crs) : body.geometry;
    return { feature: { geometry: geometry ?? undefined, properties: body.properties ?? {} }, content: { body: content, crs: crs.uri } };
  }

  const editRequest = (ctx: Context, writer: EditRequest['writer']): EditRequest => ({ pool, writer, at: clock(), city, ifMatch: ifMatchOf(ctx) });
  const common = { tag, errorFormat: ogcErrorFormat } as const;

  return [
    defineRoute({
      ...common,
      method: 'get',
      path: ogcPrefix,
      operationId: 'getOgcLandingPage',
      responses: { 200: { description: `The landing page's links${orHtml}`, schema: landingAnswer } },
      summary: 'OGC API – Features landing page (JSON or HTML)',
      access: 'public',
      query: documentQuery,
      handler(ctx, { query }) {
        const html = wantsHtml(ctx, query.f);
        const document = landingPage(linker(ctx, query.access_token), html);
        ctx.body = html ? landingHtml(document) : document;
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: `${ogcPrefix}/conformance`,
      operationId: 'getOgcConformance',
      responses: { 200: { description: `The conformance classes${orHtml}`, schema: conformanceAnswer } },
      summary: 'OGC API conformance classes: Features Parts 1, 2 and 4',
      access: 'public',
      query: documentQuery,
      handler(ctx, { query }) {
        const html = wantsHtml(ctx, query.f);
        const links = linker(ctx, query.access_token).selfAndAlternate('/conformance', {}, html);
        ctx.body = html ? conformanceHtml(conformance.conformsTo, links) : { ...conformance, links };
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: `${ogcPrefix}/api`,
      operationId: 'getOgcApiDefinition',
      responses: { 200: { description: 'The OpenAPI 3.0 definition of /ogc', schema: ogcApiAnswer, contentType: openApiType } },
      summary: 'The OGC API definition (OpenAPI 3.0)',
      access: 'public',
      query: documentQuery,
      async handler(ctx) {
        apiDocument ??= openApiDocument(await servedList(), [...new Set(collections.flatMap((collection) => Object.keys(collection.filters)))]);
        ctx.type = openApiType;
        ctx.body = apiDocument;
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: `${ogcPrefix}/collections`,
      operationId: 'listOgcCollections',
      responses: { 200: { description: `The collections${orHtml}`, schema: collectionsAnswer } },
      summary: 'The OGC API collections the caller may read',
      access: allRoles,
      query: documentQuery,
      async handler(ctx, { query, actor }) {
        const html = wantsHtml(ctx, query.f);
        const links = linker(ctx, query.access_token);
        const crs = await servedList();
        const documents = await Promise.all(
          readableCollections(collections, actor!.role).map(async (collection) => collectionDocument(collection, await collectionExtent(reads, collection, actor), crs, links, html)),
        );
        const own = links.selfAndAlternate('/collections', {}, html);
        ctx.body = html ? collectionsHtml(documents, own) : { collections: documents, links: own };
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: `${ogcPrefix}/collections/:collectionId`,
      operationId: 'getOgcCollection',
      responses: { 200: { description: `The collection${orHtml}`, schema: collectionAnswer } },
      summary: 'One OGC API collection: extent, CRSs, links',
      access: allRoles,
      params: collectionParams,
      query: documentQuery,
      async handler(ctx, { params, query, actor }) {
        const collection = visibleCollection(collections, params.collectionId, actor);
        const html = wantsHtml(ctx, query.f);
        const document = collectionDocument(collection, await collectionExtent(reads, collection, actor), await servedList(), linker(ctx, query.access_token), html);
        ctx.body = html ? collectionHtml(document) : document;
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: `${ogcPrefix}/collections/:collectionId/items`,
      operationId: 'listOgcItems',
      responses: { 200: { description: `A page of features, in the CRS of Content-Crs${orHtml}`, schema: itemsAnswer, contentType: geoJsonType } },
      summary: 'Features of an OGC API collection: bbox, datetime, property filters, limit/offset with next/prev links, crs',
      access: allRoles,
      params: collectionParams,
      query: itemsQuery,
      async handler(ctx, { params, query, actor }) {
        const collection = visibleCollection(collections, params.collectionId, actor);
        const { f, access_token: token, limit, offset, bbox, 'bbox-crs': bboxCrsName, crs: crsName, datetime, ...rest } = query;
        const served = await servedList();
        const crs = crsParameter(served, crsName, 'crs');
        const bboxCrs = crsParameter(served, bboxCrsName, 'bbox-crs');
        checkBbox(bbox, bboxCrs);
        if (datetime && !collection.temporal) throw new BadRequestError(`datetime: ${collection.id} has no time to filter by`, { parameter: 'datetime' });
        const properties = propertyFilters(collection, rest);
        const page = await listItems(reads, collection, { bbox, bboxCrs, datetime, properties }, { limit, offset, crs }, actor);
        const html = wantsHtml(ctx, f);
        const links = linker(ctx, token);
        const path = `/collections/${collection.id}/items`;
        const echoed = Object.fromEntries(Object.entries(ctx.query).filter(([name]) => !['access_token', 'f', 'offset'].includes(name))) as Record<string, string>;
        const at = (start: number) => ({ ...echoed, offset: start || undefined });
        const pageLinks = [
          ...links.selfAndAlternate(path, at(offset), html, geoJsonType),
          ...(offset + page.features.length < page.numberMatched ? [{ href: links.href(path, { ...at(offset + limit), f: html ? 'html' : 'json' }), rel: 'next', type: html ? 'text/html' : geoJsonType, title: 'Next page' }] : []),
          ...(offset > 0 ? [{ href: links.href(path, { ...at(Math.max(0, offset - limit)), f: html ? 'html' : 'json' }), rel: 'prev', type: html ? 'text/html' : geoJsonType, title: 'Previous page' }] : []),
          collectionLink(links, collection),
        ];
        const body = { type: 'FeatureCollection', features: page.features, numberMatched: page.numberMatched, numberReturned: page.features.length, timeStamp: clock().toISOString(), links: pageLinks };
        sendFeatures(ctx, crs, body, html && (() => itemsHtml(collection.title, body, (id) => links.href(`${path}/${id}`, { f: 'html', crs: crsName }))));
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: `${ogcPrefix}/collections/:collectionId/items/:featureId`,
      operationId: 'getOgcItem',
      responses: {
        200: { description: `The feature, in the CRS of Content-Crs; ETag: its version${orHtml}`, schema: ogcFeatureAnswer, contentType: geoJsonType },
        ...notModified,
      },
      summary: 'One feature of an OGC API collection, with its ETag',
      access: allRoles,
      params: itemParams,
      query: itemQuery,
      async handler(ctx, { params, query, actor }) {
        const collection = visibleCollection(collections, params.collectionId, actor);
        const crs = crsParameter(await servedList(), query.crs, 'crs');
        const { feature, etag } = await getItem(reads, collection, params.featureId, crs, actor);
        const html = wantsHtml(ctx, query.f);
        const links = linker(ctx, query.access_token);
        const path = `/collections/${collection.id}/items/${feature.id}`;
        ctx.set('ETag', `"${etag}"`);
        ctx.status = 200;
        if (ctx.fresh) {
          ctx.status = 304;
          return;
        }
        const document = { ...feature, links: [...links.selfAndAlternate(path, { crs: query.crs }, html, geoJsonType), collectionLink(links, collection)] };
        sendFeatures(ctx, crs, document, html && (() => itemHtml(collection.title, document)));
      },
    }),
    defineRoute({
      ...common,
      method: 'post',
      path: `${ogcPrefix}/collections/:collectionId/items`,
      operationId: 'createOgcItem',
      responses: { 201: { description: 'Created', headers: { Location: 'The new feature' } } },
      summary: 'Creates a feature (OGC API – Features Part 4) through the layer or grid service; Location names it',
      access: allRoles,
      idempotent: true,
      rawBody: true,
      params: collectionParams,
      async handler(ctx, { params, actor, writer }) {
        const collection = visibleCollection(collections, params.collectionId, actor);
        const editor = editorFor(ctx, collection, actor);
        const { feature, content } = await featureOf(ctx, false);
        const id = await editor.create(editRequest(ctx, writerForContent(ctx, writer, content)), feature);
        ctx.status = 201;
        ctx.set('Location', linker(ctx, undefined).href(`/collections/${collection.id}/items/${id}`));
      },
    }),
    ...(['put', 'patch'] as const).map((method) =>
      defineRoute({
        ...common,
        method,
        path: `${ogcPrefix}/collections/:collectionId/items/:featureId`,
        operationId: method === 'put' ? 'replaceOgcItem' : 'updateOgcItem',
        responses: { 204: { description: 'Changed', headers: { ETag: 'The feature’s new version' } } },
        summary: method === 'put' ? 'Replaces a feature (Part 4); If-Match with its ETag, 412 when stale' : 'Changes some properties and/or the geometry of a feature (Part 4); If-Match with its ETag',
        access: allRoles,
        rawBody: true,
        params: itemParams,
          async handler(ctx, { params, actor, writer }) {
          const collection = visibleCollection(collections, params.collectionId, actor);
          const editor = editorFor(ctx, collection, actor);
          const { feature } = await featureOf(ctx, method === 'patch');
          const request = editRequest(ctx, writer);
          const etag = await (method === 'put' ? editor.replace(request, params.featureId, feature) : editor.update(request, params.featureId, feature));
          ctx.set('ETag', `"${etag}"`);
          ctx.status = 204;
        },
      }),
    ),
    defineRoute({
      ...common,
      method: 'delete',
      path: `${ogcPrefix}/collections/:collectionId/items/:featureId`,
      operationId: 'deleteOgcItem',
      responses: { 204: { description: 'Deleted' } },
      summary: 'Deletes a feature (Part 4); If-Match with its ETag',
      access: allRoles,
      params: itemParams,
      async handler(ctx, { params, actor, writer }) {
        const collection = visibleCollection(collections, params.collectionId, actor);
        await editorFor(ctx, collection, actor).remove(editRequest(ctx, writer), params.featureId);
        ctx.status = 204;
      },
    }),
    ...[false, true].map((item) =>
      defineRoute({
        ...common,
        method: 'options',
        path: `${ogcPrefix}/collections/:collectionId/items${item ? '/:featureId' : ''}`,
        operationId: item ? 'optionsOgcItem' : 'optionsOgcItems',
        responses: { 204: { description: 'The methods allowed', headers: { Allow: 'The methods this caller may use' } } },
        summary: `The methods this caller may use on ${item ? 'a feature' : 'the features'} of a collection (Allow)`,
        access: allRoles,
        params: item ? itemParams : collectionParams,
          async handler(ctx, { params, actor }) {
          const collection = visibleCollection(collections, params.collectionId, actor);
          if ('featureId' in params) await getItem(reads, collection, params.featureId as number, crs84, actor);
          const writes = collection.editor?.roles.includes(actor!.role) ? (item ? ', PUT, PATCH, DELETE' : ', POST') : '';
          ctx.set('Allow', `${readMethods}${writes}`);
          ctx.status = 204;
        },
      }),
    ),
  ];
}
