import type { IncomingMessage, ServerResponse } from 'node:http';
import accepts from 'accepts';
import type { Context } from 'koa';
import { type Actor, allRoles } from '../auth/roles';
import { gridScope } from '../auth/scope';
import type { AppDeps } from '../deps';
import { publicUrlFor } from '../http/public-url';
import { defineRoute } from '../http/route';
import { tileLayersOf } from './registry';
import { layerParams, tileFilterQuery, tileParams, type TileParams, tokenOnlyQuery } from './schemas';
import { listLayers, type TileBody, type TileEncoding, type TileFilters, type TileRenderer, TileService, tileJson, visibleLayer } from './service';


function withoutToken(query: Record<string, unknown>): TileFilters {
  const { access_token: _token, ...filters } = query;
  return filters as TileFilters;
}

/** What the tile route serves for these params and this caller: the layer (403/404 otherwise), address, filters. */
function tileRequest(tiles: TileService, { layer, ...address }: TileParams, query: Record<string, unknown>, actor: Actor | null) {
  return { layer: visibleLayer(tiles.layers, layer, actor), address, filters: withoutToken(query) };
}

/** Koa's negotiation (ctx.acceptsEncodings) on the bare request, so the fast path agrees with the route. */
function encodingFor(request: IncomingMessage): TileEncoding {
  const header = request.headers['accept-encoding'];
  // A map client sends the same header with every tile; negotiating it anew showed in profiles of cached tiles.
  if (header === lastAcceptEncoding.header) return lastAcceptEncoding.encoding;
  const encoding = accepts(request).encoding(['gzip', 'identity']) === 'gzip' ? 'gzip' : 'identity';
  lastAcceptEncoding = { header, encoding };
  return encoding;
}

let lastAcceptEncoding: { header: string | undefined; encoding: TileEncoding } = { header: '\0', encoding: 'identity' };

interface TileResponse {
  status: 200 | 204 | 304;
  headers: Record<string, string>;
  body?: Buffer;
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
function tileResponse({ etag, body }: TileBody, encoding: TileEncoding, ifNoneMatch: string | undefined): TileResponse {
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

/**
 * The one answer for a tile request, in the encoding the client accepts: from the cache without a promise (the
 * fast path's commonest case), else from the database.
 */
function answerTile(tiles: TileService, params: TileParams, query: Record<string, unknown>, actor: Actor | null, request: IncomingMessage): TileResponse | Promise<TileResponse> {
  const { layer, address, filters } = tileRequest(tiles, params, query, actor);
  const encoding = encodingFor(request);
  const ifNoneMatch = request.headers['if-none-match'];
  const grids = gridScope(actor);
  const cached = tiles.cached(layer, address, filters, encoding, grids);
  if (cached) return tileResponse(cached, encoding, ifNoneMatch);
  return tiles.tile(layer, address, filters, encoding, grids).then((body) => tileResponse(body, encoding, ifNoneMatch));
}

function send({ status, headers, body }: TileResponse, response: ServerResponse, requestId: string): true {
  headers['X-Request-Id'] = requestId;
  response.writeHead(status, headers).end(body);
  return true;
}

/** `renderers`: the makers of the computed layers' tiles, by layer name (hotspots). */
export function tileRoutes({ reads, config, events, catalogue }: AppDeps, renderers: Record<string, TileRenderer> = {}) {
  const layers = tileLayersOf(catalogue);
  const tiles = new TileService(reads, layers, config.TILE_CACHE_MB * 1024 * 1024, renderers);
  tiles.listen(events);
  // This server's URL for the URLs inside TileJSON; not `ctx.origin` (since Koa 3 the request's Origin header).
  const publicUrl = publicUrlFor(config.PUBLIC_URL);
  const baseUrl = (ctx: Context) => publicUrl(ctx.get('Host') || undefined, ctx.protocol);
  return [
    defineRoute({
      method: 'get',
      path: '/tiles',
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
      summary: 'One Mapbox Vector Tile (gzip); 204 when empty, 304 when the ETag matches',
      tag: 'tiles',
      access: allRoles,
      params: tileParams(layers),
      query: tileFilterQuery(layers),
      responses: {
        200: { description: 'The tile', contentType: 'application/vnd.mapbox-vector-tile' },
        204: { description: 'Nothing in this tile' },
        304: { description: 'Unchanged since the ETag given in If-None-Match' },
      },
      async handler(ctx, { params, query, actor }) {
        const { status, headers, body } = await answerTile(tiles, params, query, actor, ctx.req);
        ctx.status = status;
        ctx.set(headers);
        if (body) ctx.body = body;
      },
      // Every tile is answered before Koa (its context and middleware cost as much as a small tile's query); a
      // tile that fails (the database away) is answered with the same problem+json, once.
      fastHandler({ params, query, actor, writer }, request, response) {
        const answer = answerTile(tiles, params, query, actor, request);
        if (answer instanceof Promise) return answer.then((sent) => send(sent, response, writer.requestId!));
        return send(answer, response, writer.requestId!);
      },
    }),
  ];
}
