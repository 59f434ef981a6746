import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Context } from 'koa';
import { allRoles } from '../auth/roles';
import type { AppDeps } from '../deps';
import { defineRoute } from '../http/route';
import { layerParams, tileFilterQuery, tileParams, tokenOnlyQuery } from './schemas';
import { listLayers, type TileFilters, TileService, tileJson, visibleLayer } from './service';

const gunzip = promisify(zlib.gunzip);

function withoutToken(query: Record<string, unknown>): TileFilters {
  const { access_token: _token, ...filters } = query;
  return filters as TileFilters;
}

function notModified(ctx: Context, etag: string): boolean {
  const header = ctx.get('If-None-Match');
  return header.split(',').some((candidate) => candidate.trim() === etag || candidate.trim() === '*');
}

export function tileRoutes({ pool, config, events }: AppDeps) {
  const tiles = new TileService(pool, config.TILE_CACHE_MB * 1024 * 1024);
  tiles.listen(events);
  return [
    defineRoute({
      method: 'get',
      path: '/tiles',
      summary: 'The vector tile layers this role may see',
      tag: 'tiles',
      access: allRoles,
      query: tokenOnlyQuery,
      handler(ctx, { actor }) {
        ctx.body = { layers: listLayers(actor, ctx.origin) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/tiles/:layer.json',
      summary: 'TileJSON 3.0.0 for one layer (filters go into the tile URL)',
      tag: 'tiles',
      access: allRoles,
      params: layerParams,
      query: tileFilterQuery,
      async handler(ctx, { params, query, actor }) {
        ctx.body = await tileJson(pool, visibleLayer(params.layer, actor), ctx.origin, withoutToken(query));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/tiles/:layer/:z/:x/:y.mvt',
      summary: 'One Mapbox Vector Tile (gzip); 204 when empty, 304 when the ETag matches',
      tag: 'tiles',
      access: allRoles,
      params: tileParams,
      query: tileFilterQuery,
      responses: {
        200: { description: 'The tile', contentType: 'application/vnd.mapbox-vector-tile' },
        204: { description: 'Nothing in this tile' },
        304: { description: 'Unchanged since the ETag given in If-None-Match' },
      },
      async handler(ctx, { params, query, actor }) {
        const { layer, ...address } = params;
        const tile = await tiles.tile(visibleLayer(layer, actor), address, withoutToken(query));
        // Edits must show on the next request: clients revalidate every time, and a 304 costs nothing.
        ctx.set('Cache-Control', 'private, no-cache');
        ctx.set('ETag', tile.etag);
        ctx.set('Vary', 'Accept-Encoding');
        if (notModified(ctx, tile.etag)) {
          ctx.status = 304;
          return;
        }
        if (tile.gzip.length === 0) {
          ctx.status = 204;
          return;
        }
        ctx.type = 'application/vnd.mapbox-vector-tile';
        if (ctx.acceptsEncodings('gzip', 'identity') === 'gzip') {
          ctx.set('Content-Encoding', 'gzip');
          ctx.body = tile.gzip;
        } else {
          ctx.body = await gunzip(tile.gzip);
        }
      },
    }),
  ];
}
