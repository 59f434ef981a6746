import fs from 'node:fs';
import { gridScope } from '../auth/scope';
import type { AppDeps } from '../deps';
import { UnsupportedMediaTypeError } from '../errors';
import { binaryBody, eventStreamAnswer, idParam, jsonAnswer, notModified, versionedAnswer } from '../http/request-schemas';
import { openEventStream } from '../http/event-stream';
import { answerVersioned, ifMatchVersion } from '../http/conditional';
import { defineRoute, validateBody, writerForContent } from '../http/route';
import { overdueByDepartment } from './escalation';
import { addPhotos, findPhoto, photoLimits, receivePhotoUpload, reportWithPhotos, uploadIdentity } from './photos';
import {
  categoriesAnswer,
  categoryAnswer,
  categoryParams,
  createIncidentBody,
  incidentAnswer,
  incidentPageAnswer,
  incidentReportForm,
  incidentStatsAnswer,
  listIncidentsQuery,
  overdueAnswer,
  photoParams,
  photoUploadForm,
  statsQuery,
  streamQuery,
  transitionBody,
  updateCategoryBody,
  workerStatsAnswer,
  workerStatsQuery,
} from './schemas';
import { listCategories, listIncidents, readIncident, reportIncident, transitionIncident, updateCategory } from './service';
import { incidentStats, workerIndicators } from './stats';
import { eventsVisibleTo, followIncidentEvents, startPosition } from './stream';
import { incidentAsSeenBy } from './views';
import { followPositions } from '../patrols/live';
import { readerRoles, reporterRoles } from './workflow';

export function incidentRoutes({ pool, heavy, clock, events, config, log }: AppDeps) {
  const uploads = photoLimits(config);
  // Everyone who reads incidents except planners works on them.
  const workers = readerRoles.filter((role) => role !== 'planner');
  return [
    defineRoute({
      method: 'post',
      path: '/api/incidents',
      operationId: 'reportIncident',
      responses: jsonAnswer(incidentAnswer, 'Reported', 201),
      summary:
        'Report an incident (发现): grid, worker, department, H3 cells and deadlines assigned; near-duplicates linked. ' +
        'With photos: multipart/form-data, the JSON report in a part named report and JPEG/PNG/WebP files in parts named photos',
      tag: 'incidents',
      access: reporterRoles,
      body: createIncidentBody,
      multipart: incidentReportForm,
      idempotent: true,
      async handler(ctx, { body, writer, actor }) {
        const incident = ctx.is('multipart/form-data')
          ? await reportWithPhotos(ctx.req, uploads, (report, attach, photos) =>
              reportIncident(pool, clock, writerForContent(ctx, writer, { report, photos: uploadIdentity(photos) }), validateBody(createIncidentBody, report), attach),
            )
          : await reportIncident(pool, clock, writer, body);
        ctx.status = 201;
        ctx.set('Location', `/api/incidents/${incident.id}`);
        ctx.body = incidentAsSeenBy(actor, incident);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/incidents',
      operationId: 'listIncidents',
      responses: jsonAnswer(incidentPageAnswer),
      summary: 'Incidents, filtered and paginated by id (cursor); a grid worker sees those of their grids',
      tag: 'incidents',
      access: readerRoles,
      query: listIncidentsQuery,
      async handler(ctx, { query, actor }) {
        ctx.body = await listIncidents(pool, { ...query, grids: gridScope(actor) });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/stats/incidents',
      operationId: 'getIncidentStats',
      responses: jsonAnswer(incidentStatsAnswer),
      summary:
        'Counts by status, closure and on-time rates, mean and p90 handling hours, satisfaction; optionally grouped. ' +
        'A grid worker gets the figures of their grids, and the whole city as one row (cityWide)',
      tag: 'incidents',
      access: readerRoles,
      query: statsQuery,
      async handler(ctx, { query, actor }) {
        ctx.body = await heavy.analyse((reads) => incidentStats(reads, clock, query, gridScope(actor), config.CITY_TIME_ZONE));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/incidents/categories',
      operationId: 'listIncidentCategories',
      responses: jsonAnswer(categoriesAnswer),
      summary: 'The incident catalogue (事件清单): department, priority and deadline hours per stage',
      tag: 'incidents',
      access: readerRoles,
      async handler(ctx) {
        ctx.body = { categories: await listCategories(pool) };
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/api/incidents/categories/:name',
      operationId: 'updateIncidentCategory',
      responses: jsonAnswer(categoryAnswer),
      summary: 'Edit one catalogue entry (admin); applies to incidents reported afterwards',
      tag: 'incidents',
      access: ['admin'],
      params: categoryParams,
      body: updateCategoryBody,
      async handler(ctx, { params, body, writer }) {
        ctx.body = await updateCategory(pool, writer, params.name, body);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/incidents/stream',
      operationId: 'followIncidents',
      summary:
        'Server-Sent Events: new incidents and status changes from every server process; resumes from Last-Event-ID. ' +
        'A grid worker receives the events of incidents in their grids. Also `position` events (no id, not replayed): grid workers’ new ' +
        'positions, throttled per worker, for commanders and admins (a grid worker: their own)',
      tag: 'incidents',
      access: readerRoles,
      query: streamQuery,
      responses: eventStreamAnswer,
      async handler(ctx, { query, actor }) {
        const header = ctx.get('Last-Event-ID') || query.lastEventId;
        const lastEventId = header && /^\d{1,15}$/.test(header) ? Number(header) : null;
        // Read before the stream opens: a new client gets every event from the moment it sees the stream open, so
        // an event committed while the headers travel is sent, not skipped as "before".
        const start = await startPosition(pool, lastEventId);
        const stream = openEventStream(ctx, config.CLIENT_STALL_TIMEOUT_S, log);
        const stop = followIncidentEvents(
          pool,
          events,
          start,
          {
            send: (event) => stream.send(event.id, 'incident', event.data),
            drained: () => stream.drained(),
            end: () => stream.end(),
          },
          eventsVisibleTo(actor),
        );
        // Grid workers' positions ride the same stream (event `position`), so the wall moves its dots with one connection.
        const stopPositions = followPositions(events, actor, { send: (data) => stream.send(null, 'position', data), drained: () => stream.drained() });
        stream.onClose(() => {
          stop();
          stopPositions();
        });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/incidents/overdue',
      operationId: 'countOverdueIncidents',
      responses: jsonAnswer(overdueAnswer),
      summary: 'Open incidents past their deadline, counted by department',
      tag: 'incidents',
      access: readerRoles,
      async handler(ctx) {
        ctx.body = { departments: await overdueByDepartment(pool, clock) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/stats/incidents/workers',
      operationId: 'getWorkerStats',
      responses: jsonAnswer(workerStatsAnswer),
      summary: 'Grid worker indicators: patrol reports, valid-report rate, verified-on-time rate (a grid worker: from their grids)',
      tag: 'incidents',
      access: readerRoles,
      query: workerStatsQuery,
      async handler(ctx, { query, actor }) {
        ctx.body = { workers: await heavy.analyse((reads) => workerIndicators(reads, query, gridScope(actor))) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/incidents/:id',
      operationId: 'getIncident',
      responses: versionedAnswer(incidentAnswer),
      summary: 'One incident with its timeline of events (actorTokenId for admins); outside a grid worker\'s grids: 404',
      tag: 'incidents',
      access: readerRoles,
      params: idParam,
      async handler(ctx, { params, actor }) {
        const incident = await readIncident(pool, params.id, actor);
        answerVersioned(ctx, incident, incident.version as number);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/incidents/:id/photos',
      operationId: 'addIncidentPhotos',
      responses: jsonAnswer(incidentAnswer, 'The incident with its photos', 201),
      summary: 'Add photos to an open incident (e.g. of the handled site): multipart/form-data with JPEG/PNG/WebP files in parts named photos',
      tag: 'incidents',
      access: workers,
      params: idParam,
      multipart: photoUploadForm,
      idempotent: true,
      async handler(ctx, { params, writer, actor }) {
        if (!ctx.is('multipart/form-data')) throw new UnsupportedMediaTypeError('Photos are sent as multipart/form-data with parts named "photos"');
        const upload = await receivePhotoUpload(ctx.req, uploads);
        const incident = await addPhotos(pool, writerForContent(ctx, writer, { photos: uploadIdentity(upload.photos) }), uploads, upload, params.id, ifMatchVersion(ctx));
        answerVersioned(ctx, incidentAsSeenBy(actor, incident), incident.version as number, 201);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/incidents/:id/photos/:photoId',
      operationId: 'getIncidentPhoto',
      summary: 'A photo uploaded with the report, as stored (JPEG, PNG or WebP)',
      tag: 'incidents',
      access: readerRoles,
      params: photoParams,
      responses: { 200: { description: 'The image bytes', contentType: 'image/*', schema: binaryBody }, ...notModified },
      async handler(ctx, { params, actor }) {
        const photo = await findPhoto(pool, uploads.dir, params.id, params.photoId, actor);
        ctx.status = 200;
        ctx.set('ETag', `"${photo.sha256}"`);
        ctx.set('Cache-Control', 'private, max-age=86400, immutable');
        ctx.set('X-Content-Type-Options', 'nosniff');
        if (ctx.fresh) {
          ctx.status = 304;
          return;
        }
        ctx.type = photo.contentType;
        ctx.length = photo.bytes;
        // A bounded stream ends with its last byte, so it is done when the client has read Content-Length bytes.
        ctx.body = fs.createReadStream(photo.path, { start: 0, end: photo.bytes - 1 });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/incidents/:id/transitions',
      operationId: 'transitionIncident',
      responses: jsonAnswer(incidentAnswer),
      summary: 'Move an incident one step through the 4268 workflow; 409 lists the allowed steps',
      tag: 'incidents',
      access: workers,
      params: idParam,
      body: transitionBody,
      async handler(ctx, { params, body, writer, actor }) {
        await transitionIncident(pool, clock, writer, params.id, body, ifMatchVersion(ctx));
        const incident = await readIncident(pool, params.id, actor);
        answerVersioned(ctx, incident, incident.version as number);
      },
    }),
  ];
}
