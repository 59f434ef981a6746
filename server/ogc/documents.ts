import type { OgcCollection } from './collections';
import { type Crs, crs84 } from './crs';
import { defaultLimit, maxLimit } from './schemas';

export const geoJsonType = 'application/geo+json';
export const openApiType = 'application/vnd.oai.openapi+json;version=3.0';

export interface Link {
  href: string;
  rel: string;
  type: string;
  title?: string;
}

/**
 * Absolute links of one response. A token the request carried in its query is carried on, so that the HTML
 * view (opened from a link, no header to send) can be browsed; a bearer header stays a header.
 */
export class Linker {
  constructor(
    private readonly base: string,
    private readonly token: string | undefined,
  ) {}

  href(path: string, query: Record<string, string | number | undefined> = {}): string {
    const url = new URL(`/ogc${path}`, this.base);
    for (const [name, value] of Object.entries({ ...query, access_token: this.token })) if (value !== undefined) url.searchParams.set(name, String(value));
    return url.toString();
  }

  /** self in the format answered, alternate in the other. */
  selfAndAlternate(path: string, query: Record<string, string | number | undefined>, html: boolean, jsonType = 'application/json'): Link[] {
    const json: Link = { href: this.href(path, { ...query, f: 'json' }), rel: html ? 'alternate' : 'self', type: jsonType, title: 'This document as JSON' };
    const page: Link = { href: this.href(path, { ...query, f: 'html' }), rel: html ? 'self' : 'alternate', type: 'text/html', title: 'This document as HTML' };
    return html ? [page, json] : [json, page];
  }
}

/** The same links as an HTTP Link header (RFC 8288), for clients that page by headers. */
export function linkHeader(links: readonly Link[]): string {
  return links.map((link) => `<${link.href}>; rel="${link.rel}"; type="${link.type}"`).join(', ');
}

export const conformance = {
  conformsTo: [
    'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
    'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30',
    'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html',
    'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
    'http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs',
    'http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete',
    'http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update',
    'http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags',
  ],
};

export function landingPage(links: Linker, html: boolean) {
  return {
    title: 'citygrid · OGC API – Features',
    description: '城市网格化管理数据：网格、房屋、隐患点、重点场所、事件、交通事故、道路、巡查轨迹 · Grids and city layers for QGIS, GDAL and other OGC API clients',
    links: [
      ...links.selfAndAlternate('', {}, html),
      { href: links.href('/api'), rel: 'service-desc', type: openApiType, title: 'The API definition (OpenAPI 3.0)' },
      { href: links.href('/conformance'), rel: 'conformance', type: 'application/json', title: 'Conformance classes' },
      { href: links.href('/collections'), rel: 'data', type: 'application/json', title: 'Collections' },
    ],
  };
}

export interface Extent {
  bbox: number[] | null;
  first: Date | null;
  last: Date | null;
}

export function collectionDocument(collection: OgcCollection, extent: Extent, served: readonly Crs[], links: Linker, html: boolean) {
  const path = `/collections/${collection.id}`;
  return {
    id: collection.id,
    title: collection.title,
    description: collection.description,
    itemType: 'feature',
    crs: served.map((crs) => crs.uri),
    storageCrs: crs84.uri,
    extent: {
      spatial: { bbox: extent.bbox ? [extent.bbox] : [], crs: crs84.uri },
      ...(collection.temporal && {
        temporal: { interval: [[extent.first?.toISOString() ?? null, extent.last?.toISOString() ?? null]], trs: 'http://www.opengis.net/def/uom/ISO-8601/0/Gregorian' },
      }),
    },
    links: [
      ...links.selfAndAlternate(path, {}, html),
      { href: links.href(`${path}/items`, { f: 'json' }), rel: 'items', type: geoJsonType, title: `${collection.title}: features` },
      { href: links.href(`${path}/items`, { f: 'html' }), rel: 'items', type: 'text/html', title: `${collection.title}: features as HTML` },
    ],
  };
}

const parameter = (name: string, schema: object, description: string, where: 'query' | 'path' = 'query') => ({ name, in: where, required: where === 'path', schema, description, style: 'form', explode: false });

const exception = {
  description: 'An error: OGC API exception',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/exception' } } },
};

/**
 * The OpenAPI 3.0 definition clients read for the paths, parameters and the limit's bounds (GDAL pages by it).
 * One generic {collectionId}: which collections exist depends on who asks (/ogc/collections).
 */
export function openApiDocument(served: readonly Crs[], filters: readonly string[]) {
  const crsValues = served.map((crs) => crs.uri);
  const collectionId = parameter('collectionId', { type: 'string' }, 'A collection of /ogc/collections', 'path');
  const featureId = parameter('featureId', { type: 'integer', minimum: 1 }, 'The feature id', 'path');
  const ifMatch = { name: 'If-Match', in: 'header', schema: { type: 'string' }, description: 'The ETag read; 412 when the feature changed since (grids: required, 428 without)' };
  const contentCrs = { name: 'Content-Crs', in: 'header', schema: { type: 'string', enum: crsValues.map((uri) => `<${uri}>`) }, description: 'CRS of the coordinates sent (default CRS84)' };
  const feature = { required: true, content: { [geoJsonType]: { schema: { $ref: '#/components/schemas/feature' } }, 'application/json': { schema: { $ref: '#/components/schemas/feature' } } } };
  const ok = (description: string, type = 'application/json') => ({ description, content: { [type]: { schema: { type: 'object' } }, 'text/html': { schema: { type: 'string' } } } });
  const bearer = [{ bearer: [] }];
  return {
    openapi: '3.0.3',
    info: { title: 'citygrid OGC API – Features', version: '1.0.0', description: 'Parts 1 (Core, GeoJSON, HTML, OpenAPI 3.0), 2 (CRS) and 4 (create, replace, update, delete with ETags).' },
    servers: [{ url: '/ogc' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        exception: { type: 'object', required: ['code'], properties: { code: { type: 'string' }, description: { type: 'string' } } },
        feature: { type: 'object', required: ['type', 'geometry', 'properties'], properties: { type: { type: 'string', enum: ['Feature'] }, geometry: { type: 'object' }, properties: { type: 'object' } } },
      },
    },
    paths: {
      '/': { get: { summary: 'Landing page', operationId: 'getLandingPage', responses: { 200: ok('Landing page'), default: exception } } },
      '/conformance': { get: { summary: 'Conformance classes', operationId: 'getConformanceDeclaration', responses: { 200: ok('Conformance'), default: exception } } },
      '/api': { get: { summary: 'This document', operationId: 'getApi', responses: { 200: { description: 'OpenAPI 3.0', content: { [openApiType]: {} } } } } },
      '/collections': { get: { summary: 'The collections the caller may read', operationId: 'getCollections', security: bearer, responses: { 200: ok('Collections'), default: exception } } },
      '/collections/{collectionId}': {
        get: { summary: 'One collection', operationId: 'describeCollection', security: bearer, parameters: [collectionId], responses: { 200: ok('Collection'), 404: exception, default: exception } },
      },
      '/collections/{collectionId}/items': {
        get: {
          summary: 'Features of a collection, in id order',
          operationId: 'getFeatures',
          security: bearer,
          parameters: [
            collectionId,
            parameter('limit', { type: 'integer', minimum: 1, maximum: maxLimit, default: defaultLimit }, `Features per page (default ${defaultLimit}, at most ${maxLimit})`),
            parameter('offset', { type: 'integer', minimum: 0, default: 0 }, 'Features to skip (the next and prev links carry it)'),
            parameter('bbox', { type: 'array', minItems: 4, maxItems: 6, items: { type: 'number' } }, 'minx,miny,maxx,maxy in bbox-crs'),
            parameter('bbox-crs', { type: 'string', enum: crsValues, default: crs84.uri }, 'CRS of bbox'),
            parameter('crs', { type: 'string', enum: crsValues, default: crs84.uri }, 'CRS of the answer'),
            parameter('datetime', { type: 'string' }, 'Instant or interval (RFC 3339, open end ..); incidents, accidents and patrol tracks'),
            ...filters.map((name) => parameter(name, { type: 'string' }, `Equality filter of the collections that have property ${name}`)),
          ],
          responses: { 200: ok('A page of features (numberMatched, numberReturned, next/prev links)', geoJsonType), 400: exception, 404: exception, default: exception },
        },
        post: { summary: 'Create a feature', operationId: 'createFeature', security: bearer, parameters: [collectionId, contentCrs], requestBody: feature, responses: { 201: { description: 'Created; Location names it' }, default: exception } },
        options: { summary: 'Allowed methods (Allow)', operationId: 'optionsFeatures', security: bearer, parameters: [collectionId], responses: { 204: { description: 'Allow lists the methods' }, default: exception } },
      },
      '/collections/{collectionId}/items/{featureId}': {
        get: {
          summary: 'One feature, with its ETag',
          operationId: 'getFeature',
          security: bearer,
          parameters: [collectionId, featureId, parameter('crs', { type: 'string', enum: crsValues, default: crs84.uri }, 'CRS of the answer')],
          responses: { 200: ok('The feature', geoJsonType), 304: { description: 'Unchanged (If-None-Match)' }, 404: exception, default: exception },
        },
        put: { summary: 'Replace a feature', operationId: 'replaceFeature', security: bearer, parameters: [collectionId, featureId, ifMatch, contentCrs], requestBody: feature, responses: { 204: { description: 'Replaced; ETag is the new one' }, 412: exception, default: exception } },
        patch: { summary: 'Change some properties and/or the geometry', operationId: 'updateFeature', security: bearer, parameters: [collectionId, featureId, ifMatch, contentCrs], requestBody: feature, responses: { 204: { description: 'Changed; ETag is the new one' }, 412: exception, default: exception } },
        delete: { summary: 'Delete a feature', operationId: 'deleteFeature', security: bearer, parameters: [collectionId, featureId, ifMatch], responses: { 204: { description: 'Deleted' }, 412: exception, default: exception } },
        options: { summary: 'Allowed methods (Allow)', operationId: 'optionsFeature', security: bearer, parameters: [collectionId, featureId], responses: { 204: { description: 'Allow lists the methods' }, default: exception } },
      },
    },
  };
}
