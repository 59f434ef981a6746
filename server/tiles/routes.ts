import type { IncomingMessage } from 'node:http';
import accepts from 'accepts';
import type { Context } from 'koa';
import { type Actor, allRoles } from '../auth/roles';
import { readerScope } from '../auth/scope';
import type { AppDeps } from '../deps';
import { publicUrlFor } from '../http/public-url';
import { defineRoute, type RouteAnswer } from '../http/route';
import { layerParams, tileFilterQuery, tileParams, type TileParams, tokenOnlyQuery, tileJsonAnswer, tileLayersAnswer } from './schemas';
import { listLayers, type TileBody, type TileEncoding, type TileFilters, type TileService, tileJson, visibleLayer } from './service';
import { binaryBody, jsonAnswer, notModified } from '../http/request-schemas';

function withoutToken(query: Record<string, unknown>): TileFilters {
  const { access_token: _token, ...filters } = query;
  return filters as TileFilters;
}

/** What the tile route serves for these params and this caller: the layer (403/404 otherwise), address, filters. */
function tileRequest(tiles: TileService, { layer, ...address }: TileParams, query: Record<string, unknown>, actor: Actor | null) {
  return { layer: visibleLayer(tiles.layers, layer, actor), address, filters: withoutToken(query) };
}

/**
 * Koa's negotiation (ctx.acceptsEncodings, the `accepts` package) on the bare request, so the fast path agrees
 * with Koa. A map client sends the same header with every tile, and negotiating it anew showed in profiles of
 * cached tiles: the last header's answer is remembered (per route set, not per module).
 */
function encodingNegotiator(): (request: IncomingMessage) => TileEncoding {
  let last: { header: string | undefined; encoding: TileEncoding } = { header: '\0', encoding: 'identity' };
  return (request) => {
    const header = request.headers['accept-encoding'];
    if (header === last.header) return last.encoding;
    const encoding = accepts(request).encoding(['gzip', 'identity']) === 'gzip' ? 'gzip' : 'identity';
    last = { header, encoding };
    return encoding;
  };
}

const noCache = 'private, no-cache';
const mvtType = 'application/vnd.mapbox-vector-tile';

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  return ifNoneMatch !== undefined && ifNoneMatch.split(',').some((candidate) => candidate.trim() === etag || candidate.trim() === '*');
}

/**
 * Status, headers and body for a tile: the one answer both the Koa route and the fast handler send. Headers as
 * literals, no spreads: on the fast path this object is a good part of the work.
 */
function tileResponse({ etag, body }: TileBody, encoding: TileEncoding, ifNoneMatch: string | undefined): RouteAnswer {
  // Edits must show on the next request: clients revalidate every time, and a 304 costs nothing.
  if (matches(ifNoneMatch, etag)) return { status: 304, headers: { 'Cache-Control': noCache, ETag: etag, Vary: 'Accept-Encoding' } };
  if (body.length === 0) return { status: 204, headers: { 'Cache-Control': noCache, ETag: etag, Vary: 'Accept-Encoding' } };
  const length = String(body.length);
  const headers: Record<string, string> =
    encoding === 'gzip'
      ? { 'Cache-Control': noCache, ETag: etag, Vary: 'Accept-Encoding', 'Content-Type': mvtType, 'Content-Encoding': 'gzip', 'Content-Length': length }
      : { 'Cache-Control': noCache, ETag: etag, Vary: 'Accept-Encoding', 'Content-Type': mvtType, 'Content-Length': length };
  return { status: 200, headers, body };
}

/** `tiles`: the app's tile service, whose cache the app keeps subscribed to change events. */
export function tileRoutes({ reads, config }: AppDeps, tiles: TileService) {
  const { layers } = tiles;
  const encodingFor = encodingNegotiator();
  // This server's URL for the URLs inside TileJSON; not `ctx.origin` (since Koa 3 the request's Origin header).
  const publicUrl = publicUrlFor(config.PUBLIC_URL);
  const baseUrl = (ctx: Context) => publicUrl(ctx.get('Host') || undefined, ctx.protocol);
  return [
    defineRoute({
      method: 'get',
      path: '/tiles',
      operationId: 'listTileLayers',
      responses: jsonAnswer(tileLayersAnswer),
      summary: 'The vector tile layers this role may see',
      tag: 'tiles',
      access: allRoles,
      query: tokenOnlyQuery,
      handler(ctx, { actor }) {
        ctx.body = { layers: listLayers(layers, actor, baseUrl(ctx)) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/tiles/:layer.json',
      operationId: 'getTileJson',
      responses: jsonAnswer(tileJsonAnswer),
      summary: 'TileJSON 3.0.0 for one layer (filters go into the tile URL)',
      tag: 'tiles',
      access: allRoles,
      params: layerParams(layers),
      query: tileFilterQuery(layers),
      async handler(ctx, { params, query, actor }) {
        ctx.body = await tileJson(reads, visibleLayer(layers, params.layer, actor), baseUrl(ctx), withoutToken(query));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/tiles/:layer/:z/:x/:y.mvt',
      operationId: 'getTile',
      summary: 'One Mapbox Vector Tile (gzip); 204 when empty, 304 when the ETag matches',
      tag: 'tiles',
      access: allRoles,
      params: tileParams(layers),
      query: tileFilterQuery(layers),
      responses: {
        200: { description: 'The tile', contentType: 'application/vnd.mapbox-vector-tile', schema: binaryBody },
        204: { description: 'Nothing in this tile' },
        ...notModified,
      },
      // Every tile is answered on the fast path, before Koa (see http/fast-path.ts): from the cache without a
      // promise, its commonest case, else from the database.
      answer({ params, query, actor }, request) {
        const { layer, address, filters } = tileRequest(tiles, params, query, actor);
        const encoding = encodingFor(request);
        const ifNoneMatch = request.headers['if-none-match'];
        const scope = readerScope(actor);
        const cached = tiles.cached(layer, address, filters, encoding, scope);
        if (cached) return tileResponse(cached, encoding, ifNoneMatch);
        return tiles.tile(layer, address, filters, encoding, scope).then((body) => tileResponse(body, encoding, ifNoneMatch));
      },
    }),
  ];
}
