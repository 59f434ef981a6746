import type { Role } from '../auth/roles';
import type { AppDeps } from '../deps';
import { cityExtentOf } from '../geo/extent';
import { defineRoute } from '../http/route';
import { readFixBatch } from './batch';
import { coverageOfDay, indicators, indicatorsCsv, workerSummary } from './coverage';
import { ingestFixes, type IngestSettings } from './ingest';
import { livePositions } from './live';
import { readTracks } from './playback';
import {
  coverageAnswer,
  coverageQuery,
  indicatorsAnswer,
  indicatorsQuery,
  ingestAnswer,
  ingestBody,
  liveAnswer,
  liveQuery,
  periodQuery,
  tracksGeojsonAnswer,
  tracksQuery,
  tracksTripsAnswer,
  workerParams,
  workerSummary as workerSummaryAnswer,
} from './schemas';

/** A worker's trace is personal data: the worker themself (their own only), commanders and admins. Not police. */
const traceReaders: readonly Role[] = ['grid_worker', 'commander', 'admin'];
/** Indicators per grid name no worker: planners read them too. */
const indicatorReaders: readonly Role[] = ['commander', 'admin', 'planner'];

export function patrolRoutes({ pool, clock, config }: AppDeps) {
  const zone = config.CITY_TIME_ZONE;
  const settings: IngestSettings = {
    timeZone: zone,
    city: cityExtentOf(config),
    retentionDays: config.PATROL_RETENTION_DAYS,
    positionIntervalSeconds: config.PATROL_POSITION_INTERVAL_S,
  };
  return [
    defineRoute({
      method: 'post',
      path: '/api/patrols/points',
      operationId: 'ingestPatrolFixes',
      summary:
        'GPS fixes from phones, JSON or CSV, up to 10,000 per batch, late, repeated or out of order: idempotent on (worker, time); ' +
        'inaccurate (>100 m), too fast (>40 m/s) and outside-city fixes are stored but flagged; the tracks of the touched worker-days are rebuilt. ' +
        'A grid worker posts their own fixes only',
      tag: 'patrols',
      access: ['grid_worker', 'admin'],
      rawBody: true,
      body: ingestBody,
      responses: { 200: { description: 'What the batch added', schema: ingestAnswer } },
      async handler(ctx, { writer }) {
        const format = ctx.is('application/json', 'text/csv');
        const fixes = await readFixBatch(ctx.req, format === 'application/json' ? 'json' : format === 'text/csv' ? 'csv' : false, config.PATROL_BODY_LIMIT);
        ctx.body = await ingestFixes({ pool }, clock, writer, fixes, settings);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/patrols/tracks',
      operationId: 'getPatrolTracks',
      summary:
        'Tracks of one local day (split at gaps over 10 minutes), as GeoJSON with each vertex’s time, or as deck.gl TripsLayer data ' +
        '(format=trips: path and timestamps in seconds since local midnight); optionally simplified. A grid worker reads their own only',
      tag: 'patrols',
      access: traceReaders,
      query: tracksQuery,
      responses: {
        200: { description: 'format=geojson: a FeatureCollection of LineStrings; format=trips: TripsLayer data', schema: tracksGeojsonAnswer.or(tracksTripsAnswer) },
      },
      async handler(ctx, { query, actor }) {
        ctx.body = await readTracks(pool, clock, zone, actor, query);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/patrols/live',
      operationId: 'listLivePatrolPositions',
      summary: 'Each worker’s last position, time and grid, and whether on duty (a fix in the last 15 minutes); new positions also go out on /api/incidents/stream as `position` events',
      tag: 'patrols',
      access: traceReaders,
      query: liveQuery,
      responses: { 200: { description: 'Workers with a fix in the last `hours`', schema: liveAnswer } },
      async handler(ctx, { query, actor }) {
        ctx.body = await livePositions(pool, clock, actor, query.hours);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/patrols/coverage',
      operationId: 'getPatrolCoverage',
      summary:
        'Per level-4 grid for one local day: share of road length and of buildings within 30 m of the day’s tracks, the workers who patrolled it, distance and time. ' +
        'A grid worker sees their grids',
      tag: 'patrols',
      access: traceReaders,
      query: coverageQuery,
      responses: { 200: { description: 'Coverage per grid', schema: coverageAnswer } },
      async handler(ctx, { query, actor }) {
        ctx.body = await coverageOfDay(pool, clock, zone, actor, query);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/patrols/workers/:id/summary',
      operationId: 'getPatrolWorkerSummary',
      summary: 'One worker over a period: distance, time on duty, grids covered, coverage of their own grids, reports filed on patrol. A grid worker reads their own',
      tag: 'patrols',
      access: traceReaders,
      params: workerParams,
      query: periodQuery,
      responses: { 200: { description: 'The worker’s figures', schema: workerSummaryAnswer } },
      async handler(ctx, { params, query, actor }) {
        ctx.body = await workerSummary(pool, clock, zone, actor, params.id, query);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/patrols/indicators',
      operationId: 'getPatrolIndicators',
      summary: 'Patrol indicators per grid of a level (4 grids, 3 communities, 2 streets, 1 districts) over up to 92 days: mean daily road and building coverage (巡查覆盖率), distance, time, workers, patrol reports; JSON or CSV',
      tag: 'patrols',
      access: indicatorReaders,
      query: indicatorsQuery,
      responses: {
        200: { description: 'One row per grid of the level (format=csv: the rows as CSV)', schema: indicatorsAnswer, contentType: ['application/json', 'text/csv'] },
      },
      async handler(ctx, { query }) {
        const answer = await indicators(pool, clock, zone, query);
        if (query.format === 'json') {
          ctx.body = answer;
          return;
        }
        ctx.type = 'text/csv; charset=utf-8';
        ctx.attachment(`patrol-indicators-level${answer.level}-${answer.from}-${answer.to}.csv`);
        ctx.body = indicatorsCsv(answer.rows);
      },
    }),
  ];
}
