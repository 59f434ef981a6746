import { z } from 'zod';
import type { AppDeps } from '../deps';
import { allRoles, type Role } from '../auth/roles';
import { idParam, jsonAnswer, versionedAnswer } from '../http/request-schemas';
import { featureCollection } from '../geo/schemas';
import { answerVersioned, ifMatchVersion } from '../http/conditional';
import { defineRoute, type RouteResponses } from '../http/route';
import type { WriteContext } from '../db/write-context';
import { gridCoverage, gridStats } from './analysis';
import { listHistory } from './history';
import {
  createGridBody,
  deleteGridQuery,
  dryRunQuery,
  gridImportReport,
  gridWriteQuery,
  importGridsBody,
  importGridsQuery,
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
  revertGridBody,
  splitGridBody,
  updateGridBody,
} from './schemas';
import { changeGrid, createGrid, getGrid, insertGrid, listChildren, listGrids, revertChange, revertGrid, updateGrid } from './service';
import { gridPlace, gridWriteDryRun, gridWriteVerdict } from './dry-run';
import { importGrids } from './import';
import { rebalanceGrid } from './rebalance';
import { deleteGrid, mergeGrids, splitGrid } from './split-merge';
import { cityExtentOf } from '../geo/extent';

const gridEditors: readonly Role[] = ['admin', 'planner'];

/** A grid write answers the grid it wrote, or with ?dryRun=true (always 200) its verdict. */
function verdictResponses(status: 200 | 201, description: string): RouteResponses {
  const verdict = { description: 'With ?dryRun=true: what the write would do', schema: gridWriteVerdict };
  if (status === 201) return { 201: { description, schema: gridAnswer }, 200: verdict };
  return { 200: { description: `${description}, or with ?dryRun=true the verdict`, schema: z.union([gridAnswer, gridWriteVerdict]) } };
}

export function gridRoutes({ pool, heavy, clock, config, catalogue }: AppDeps) {
  const city = cityExtentOf(config);
  const writeOptions = (writer: WriteContext) => ({ pool, members: catalogue.gridMembers, writer, at: clock(), city });
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
      summary: 'Create a grid (validated: WGS84 polygon, valid, inside its parent, no sibling overlap, level = parent + 1; ?dryRun=true: the verdict only)',
      tag: 'grids',
      access: gridEditors,
      idempotent: true,
      query: gridWriteQuery,
      body: createGridBody,
      responses: verdictResponses(201, 'The created grid'),
      async handler(ctx, { query, body, writer }) {
        const options = writeOptions(writer);
        if (query.dryRun) {
          const place = { id: null, level: body.level, parentId: body.parentId ?? null };
          ctx.body = await gridWriteDryRun(options, place, { geometry: body.geometry, repair: query.repair }, (client) => insertGrid(client, options, body, query.repair));
          return;
        }
        const grid = await createGrid(options, body, query.repair);
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
      method: 'post',
      path: '/api/grids/import',
      operationId: 'importGrids',
      summary: 'Import boundaries of one level from a GeoJSON FeatureCollection, with the coverage report (?dryRun=true: the report only)',
      tag: 'grids',
      access: gridEditors,
      query: importGridsQuery,
      body: importGridsBody,
      responses: { 200: { description: 'The import report', schema: gridImportReport } },
      async handler(ctx, { query, body, writer }) {
        const options = { ...query, city, writer, at: clock() };
        const report = await heavy.run('import', (heavyPool) => importGrids(heavyPool, body, options));
        ctx.body = { ...report, dryRun: query.dryRun };
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
      summary: 'Change a grid’s geometry, attributes and/or parent (If-Match: version required; ?dryRun=true: the verdict only)',
      tag: 'grids',
      access: gridEditors,
      params: idParam,
      query: gridWriteQuery,
      body: updateGridBody,
      responses: verdictResponses(200, 'The changed grid'),
      async handler(ctx, { params, query, body, writer }) {
        const options = writeOptions(writer);
        const version = ifMatchVersion(ctx);
        if (query.dryRun) {
          const place = await gridPlace(pool, params.id, body.parentId);
          const drawn = body.geometry ? { geometry: body.geometry, repair: query.repair } : null;
          ctx.body = await gridWriteDryRun(options, place, drawn, (client) => changeGrid(client, options, params.id, version, body, query.repair));
          return;
        }
        const grid = await updateGrid(options, params.id, version, body, query.repair);
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
      summary: 'Restore a grid to an earlier version (a new version; If-Match required; ?dryRun=true: the verdict only)',
      tag: 'grids',
      access: gridEditors,
      params: idParam,
      query: dryRunQuery,
      body: revertGridBody,
      responses: verdictResponses(200, 'The reverted grid'),
      async handler(ctx, { params, query, body, writer }) {
        const options = writeOptions(writer);
        const version = ifMatchVersion(ctx);
        if (query.dryRun) {
          const change = await revertChange(pool, params.id, body.version, body.reason);
          const place = await gridPlace(pool, params.id, change.parentId);
          ctx.body = await gridWriteDryRun(options, place, { geometry: change.geometry, repair: false }, (client) => changeGrid(client, options, params.id, version, change, false));
          return;
        }
        const grid = await revertGrid(options, params.id, version, body.version, body.reason);
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
        ctx.body = await heavy.run('rebalance', (heavyPool) => rebalanceGrid({ ...writeOptions(writer), pool: heavyPool }, params.id, expectedVersion, body));
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
        ctx.body = await heavy.analyse((reads) => gridCoverage(reads, params.id));
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
        ctx.body = await heavy.analyse((reads) => gridStats(reads, params.id));
      },
    }),
  ];
}
