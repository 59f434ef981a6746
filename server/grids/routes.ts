import type { AppDeps } from '../deps';
import { allRoles } from '../auth/roles';
import { featureCollection } from '../geo/schemas';
import { defineRoute } from '../http/route';
import { listGridsQuery } from './schemas';
import { listGrids } from './service';

export function gridRoutes({ pool }: AppDeps) {
  return [
    defineRoute({
      method: 'get',
      path: '/api/grids',
      summary: 'Grid polygons as a GeoJSON FeatureCollection, paginated by id',
      tag: 'grids',
      access: allRoles,
      query: listGridsQuery,
      async handler(ctx, { query }) {
        const page = await listGrids(pool, query);
        ctx.body = featureCollection(page.features, { nextCursor: page.nextCursor });
      },
    }),
  ];
}
