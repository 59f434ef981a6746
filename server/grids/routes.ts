import type { AppDeps } from '../deps';
import { allRoles, type Role } from '../auth/roles';
import { idParam, jsonAnswer, versionedAnswer } from '../http/request-schemas';
import { featureCollection } from '../geo/schemas';
import { answerVersioned, ifMatchVersion } from '../http/conditional';
import { defineRoute } from '../http/route';
import type { WriteContext } from '../db/write-context';
import { gridCoverage, gridStats } from './analysis';
import { listHistory } from './history';
import {
  createGridBody,
  deleteGridQuery,
  gridAnswer,
  gridChangeAnswer,
  gridCoverageAnswer,
  gridDeletedAnswer,
  gridHistoryAnswer,
  gridsAnswer,
  gridStatsAnswer,
  listGridsQuery,
  mergeGridsBody,
  rebalanceBody,
  repairQuery,
  revertGridBody,
  splitGridBody,
  updateGridBody,
} from './schemas';
import { createGrid, getGrid, listChildren, listGrids, revertGrid, updateGrid } from './service';
import { rebalanceGrid } from './rebalance';
import { deleteGrid, mergeGrids, splitGrid } from './split-merge';
import { cityExtentOf } from '../geo/extent';

const gridEditors: readonly Role[] = ['admin', 'planner'];

export function gridRoutes({ pool, heavy, clock, config }: AppDeps) {
  const city = cityExtentOf(config);
  const writeOptions = (writer: WriteContext) => ({ pool, writer, at: clock(), city });
  return [
    defineRoute({
      method: 'get',
      path: '/api/grids',
      operationId: 'listGrids',
      responses: jsonAnswer(gridsAnswer),
      summary: 'Grid polygons as a GeoJSON FeatureCollection, paginated by id',
      tag: 'grids',
      access: allRoles,
      query: listGridsQuery,
      async handler(ctx, { query }) {
        const page = await listGrids(pool, query);
        ctx.body = featureCollection(page.features, { nextCursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/grids',
      operationId: 'createGrid',
      responses: jsonAnswer(gridAnswer, 'Created', 201),
      summary: 'Create a grid (validated: WGS84 polygon, valid, inside its parent, no sibling overlap, level = parent + 1)',
      tag: 'grids',
      access: gridEditors,
      idempotent: true,
      query: repairQuery,
      body: createGridBody,
      async handler(ctx, { query, body, writer }) {
        const grid = await createGrid(writeOptions(writer), body, query.repair);
        answerVersioned(ctx, grid, grid.version, 201);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/grids/merge',
      operationId: 'mergeGrids',
      responses: jsonAnswer(gridChangeAnswer),
      summary: 'Merge adjacent sibling grids into one (a preview unless commit: true)',
      tag: 'grids',
      access: gridEditors,
      idempotent: true,
      body: mergeGridsBody,
      async handler(ctx, { body, writer }) {
        ctx.body = await mergeGrids(writeOptions(writer), body);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/grids/:id',
      operationId: 'getGrid',
      responses: versionedAnswer(gridAnswer),
      summary: 'One grid with its parent chain and child count',
      tag: 'grids',
      access: allRoles,
      params: idParam,
      async handler(ctx, { params }) {
        const grid = await getGrid(pool, params.id);
        answerVersioned(ctx, grid, grid.version);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/grids/:id/children',
      operationId: 'listGridChildren',
      responses: jsonAnswer(gridsAnswer),
      summary: 'The child grids of a grid as a FeatureCollection',
      tag: 'grids',
      access: allRoles,
      params: idParam,
      async handler(ctx, { params }) {
        ctx.body = featureCollection(await listChildren(pool, params.id));
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/api/grids/:id',
      operationId: 'updateGrid',
      responses: jsonAnswer(gridAnswer),
      summary: 'Change a grid’s geometry, attributes and/or parent (If-Match: version required)',
      tag: 'grids',
      access: gridEditors,
      params: idParam,
      query: repairQuery,
      body: updateGridBody,
      async handler(ctx, { params, query, body, writer }) {
        const grid = await updateGrid(writeOptions(writer), params.id, ifMatchVersion(ctx), body, query.repair);
        answerVersioned(ctx, grid, grid.version);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/grids/:id',
      operationId: 'deleteGrid',
      responses: jsonAnswer(gridDeletedAnswer),
      summary: 'Delete a grid (If-Match required; ?target=, an adjacent sibling, absorbs its area, children and members, with ?targetVersion= its version)',
      tag: 'grids',
      access: gridEditors,
      params: idParam,
      query: deleteGridQuery,
      async handler(ctx, { params, query, writer }) {
        ctx.body = await deleteGrid(writeOptions(writer), params.id, ifMatchVersion(ctx), query);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/grids/:id/history',
      operationId: 'listGridHistory',
      responses: jsonAnswer(gridHistoryAnswer),
      summary: 'Every change of a grid: who, when, why, before and after',
      tag: 'grids',
      access: allRoles,
      params: idParam,
      async handler(ctx, { params, actor }) {
        ctx.body = { gridId: params.id, entries: await listHistory(pool, params.id, actor) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/grids/:id/revert',
      operationId: 'revertGrid',
      responses: jsonAnswer(gridAnswer),
      summary: 'Restore a grid to an earlier version (a new version; If-Match required)',
      tag: 'grids',
      access: gridEditors,
      params: idParam,
      body: revertGridBody,
      async handler(ctx, { params, body, writer }) {
        const grid = await revertGrid(writeOptions(writer), params.id, ifMatchVersion(ctx), body.version, body.reason);
        answerVersioned(ctx, grid, grid.version);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/grids/:id/split',
      operationId: 'splitGrid',
      responses: jsonAnswer(gridChangeAnswer),
      summary: 'Cut a grid along a line into two (a preview unless commit: true, which needs If-Match)',
      tag: 'grids',
      access: gridEditors,
      idempotent: true,
      params: idParam,
      body: splitGridBody,
      async handler(ctx, { params, body, writer }) {
        ctx.body = await splitGrid(writeOptions(writer), params.id, ifMatchVersion(ctx), body);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/grids/:id/rebalance',
      operationId: 'rebalanceGrid',
      responses: jsonAnswer(gridChangeAnswer),
      summary: 'Re-cut a parent’s children into grids of about targetHouseholds each (a preview unless commit: true, which needs If-Match of the parent)',
      tag: 'grids',
      access: gridEditors,
      params: idParam,
      body: rebalanceBody,
      async handler(ctx, { params, body, writer }) {
        const expectedVersion = ifMatchVersion(ctx);
        ctx.body = await heavy.run('rebalance', (heavyPool) => rebalanceGrid({ pool: heavyPool, writer, at: clock(), city }, params.id, expectedVersion, body));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/grids/:id/coverage',
      operationId: 'getGridCoverage',
      responses: jsonAnswer(gridCoverageAnswer),
      summary: 'Gaps, overlaps and protrusions among a grid’s children, with areas in m²',
      tag: 'grids',
      access: allRoles,
      params: idParam,
      async handler(ctx, { params }) {
        ctx.body = await heavy.run('analytics', (heavyPool) => gridCoverage(heavyPool, params.id));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/grids/:id/stats',
      operationId: 'getGridStats',
      responses: jsonAnswer(gridStatsAnswer),
      summary: 'Households, people by category, buildings, rental units, hazards by risk level, key places',
      tag: 'grids',
      access: allRoles,
      params: idParam,
      async handler(ctx, { params }) {
        ctx.body = await heavy.run('analytics', (heavyPool) => gridStats(heavyPool, params.id));
      },
    }),
  ];
}
