import { riskRoles } from '../auth/roles';
import type { AppDeps } from '../deps';
import { NotFoundError } from '../errors';
import { openEventStream } from '../http/event-stream';
import { defineRoute } from '../http/route';
import { deploymentFor } from './deployment';
import { deploymentQuery, riskStreamQuery, segmentsQuery, deploymentAnswer, modelAnswer, rankedWindowAnswer } from './schemas';
import { latestModel, rankedWindow } from './store';
import { eventStreamAnswer, jsonAnswer } from '../http/request-schemas';

/** What was read for the window containing `at`, or a 404 when that window was not predicted. */
function predicted<T>(found: T | null, at: Date): T {
  if (!found) throw new NotFoundError(`no risk predictions for the window containing ${at.toISOString()}`, { at: at.toISOString() });
  return found;
}

export function riskRoutes({ pool, clock, events, config, log }: AppDeps) {
  return [
    defineRoute({
      method: 'get',
      path: '/api/risk/segments',
      operationId: 'listRiskSegments',
      responses: jsonAnswer(rankedWindowAnswer),
      summary: 'Road segments (H3 cells without roads) ranked by expected injury accidents in the 2-hour window containing `at`: risk level 1–4, top features, geometry',
      tag: 'risk',
      access: riskRoles,
      query: segmentsQuery,
      async handler(ctx, { query }) {
        const at = query.at ? new Date(query.at) : clock();
        ctx.body = predicted(await rankedWindow(pool, at, query.limit, query.offset), at);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/risk/deployment',
      operationId: 'getRiskDeployment',
      responses: jsonAnswer(deploymentAnswer),
      summary: 'Suggested patrol points: `units` points (segment midpoints / cell centres) that cover the most predicted risk within `radius_m` in the window containing `at` (greedy maximal coverage), with catchments and the share covered',
      tag: 'risk',
      access: riskRoles,
      query: deploymentQuery,
      async handler(ctx, { query }) {
        const at = query.at ? new Date(query.at) : clock();
        ctx.body = predicted(await deploymentFor(pool, at, query.units, query.radius_m), at);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/risk/model',
      operationId: 'getRiskModel',
      responses: jsonAnswer(modelAnswer),
      summary: 'The model in use: version, training span, features and weights, hold-out evaluation against the historical average',
      tag: 'risk',
      access: riskRoles,
      async handler(ctx) {
        const model = await latestModel(pool);
        if (!model) throw new NotFoundError('no risk model trained yet (npm run risk:train)');
        ctx.body = model;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/risk/stream',
      operationId: 'followRiskPredictions',
      summary: 'Server-Sent Events: an event `risk` each time new predictions are stored (model version, windows)',
      tag: 'risk',
      access: riskRoles,
      query: riskStreamQuery,
      responses: eventStreamAnswer,
      async handler(ctx) {
        const stream = openEventStream(ctx, config.CLIENT_STALL_TIMEOUT_S, log);
        // An announcement every two hours: nothing to pace, and a client that misses one reads /api/risk/segments.
        const stop = events.onChange((change) => {
          if (change.kind !== 'risk-predicted') return;
          const { kind: _kind, ...issue } = change;
          stream.send(null, 'risk', JSON.stringify(issue));
        });
        stream.onClose(stop);
      },
    }),
  ];
}
