import { z } from 'zod';
import { timeZoneName } from '../config';
import { idParam, isoDateTime, pageQuery, wholeNumber } from '../http/request-schemas';
import { pointGeometry } from '../geo/schemas';
import { statuses } from './workflow';

export const incidentSources = ['app', 'hotline', 'wechat', 'patrol', 'open311'] as const;

/** Text PostgreSQL can store: a NUL character would fail the statement (and so the whole intake batch). */
const storableText = (max: number, min = 0) => z.string().min(min).max(max).refine((text) => !text.includes('\u0000'), 'must not contain NUL characters');

export const createIncidentBody = z
  .object({
    category: storableText(50, 1),
    location: pointGeometry,
    description: storableText(4000).optional(),
    source: z.enum(incidentSources),
    reporterContact: storableText(200).optional(),
    photos: z.array(z.string().url().max(2000).refine((url) => /^https?:\/\//.test(url), 'photos must be http(s) URLs')).max(10).default([]),
  })
  .strict();
export type CreateIncidentInput = z.infer<typeof createIncidentBody>;

/** The multipart form of a report with photos (what a phone app sends in one request). */
export const incidentReportForm = z.object({
  report: z.string().openapi({ description: 'The JSON report: the same fields as the application/json body' }),
  photos: z
    .array(z.string().openapi({ type: 'string', format: 'binary' }))
    .optional()
    .openapi({ description: 'JPEG, PNG or WebP files (checked by their bytes); size and count limits: PHOTO_MAX_MB, PHOTO_MAX_COUNT' }),
});

export const photoUploadForm = incidentReportForm.pick({ photos: true }).required();

export const photoParams = idParam.extend({ photoId: wholeNumber({ min: 1 }) }).strict();

export const listIncidentsQuery = z
  .object({
    status: z.enum(statuses).optional(),
    category: z.string().max(50).optional(),
    department: z.string().max(50).optional(),
    grid: wholeNumber({ min: 1 }).optional(),
    from: isoDateTime.optional(),
    to: isoDateTime.optional(),
    ...pageQuery,
    limit: wholeNumber({ min: 1, max: 1000 }).default(100),
  })
  .strict();
export type ListIncidentsQuery = z.infer<typeof listIncidentsQuery>;

export const transitionBody = z
  .object({
    to: z.enum(statuses),
    comment: z.string().max(2000).optional(),
    /** Dispatch and reassignment name the department; defaults to the catalogue's. */
    department: z.string().min(1).max(50).optional(),
    /** The reporter's evaluation, recorded when closing (评价). */
    satisfaction: z.number().int().min(1).max(5).optional(),
  })
  .strict();
export type TransitionInput = z.infer<typeof transitionBody>;

export const statsQuery = z
  .object({
    from: isoDateTime.optional(),
    to: isoDateTime.optional(),
    grid: wholeNumber({ min: 1 }).optional(),
    category: z.string().max(50).optional(),
    department: z.string().max(50).optional(),
    groupBy: z.enum(['day', 'grid', 'category', 'department', 'source']).optional(),
    tz: timeZoneName.optional().openapi({ description: 'Time zone whose calendar days groupBy=day counts (IANA name); default: the setting CITY_TIME_ZONE' }),
  })
  .strict();
export type StatsQuery = z.infer<typeof statsQuery>;

export const workerStatsQuery = statsQuery.pick({ from: true, to: true, grid: true }).strict();

/** EventSource cannot set headers: the token and the resume point may come in the query string. */
export const streamQuery = z.object({ access_token: z.string().optional(), lastEventId: z.string().regex(/^\d{1,15}$/, 'an event id (digits)').optional() }).strict();

const hours = z.number().positive().max(24 * 365);
export const categoryParams = z.object({ name: z.string().min(1).max(50) }).strict();
export const updateCategoryBody = z
  .object({
    department: z.string().min(1).max(50).optional(),
    priority: z.number().int().min(1).max(4).optional(),
    accept_hours: hours.optional(),
    dispatch_hours: hours.optional(),
    handle_hours: hours.optional(),
    feedback_hours: hours.optional(),
    supervise_hours: hours.optional(),
    /** Public reads (Open311) show reports of this category only approximately located (README: Privacy). */
    sensitive: z.boolean().optional(),
  })
  .strict();

// Answers.
const incidentFields = {
  id: z.number().int(),
  category: z.string(),
  source: z.string(),
  status: z.enum(statuses),
  description: z.string().nullable(),
  location: z.object({ type: z.literal('Point'), coordinates: z.array(z.number()) }),
  gridId: z.number().int().nullable(),
  department: z.string().nullable(),
  priority: z.number().int().nullable(),
  assignedWorker: z.string().nullable(),
  duplicateOf: z.number().int().nullable(),
  photos: z.array(z.string()),
  h3: z.object({ r7: z.string().nullable(), r8: z.string().nullable(), r9: z.string().nullable() }),
  reportedAt: z.string(),
  dueAt: z.string().nullable(),
  stageDueAt: z.string().nullable(),
  escalatedAt: z.string().nullable(),
  escalationLevel: z.number().int(),
  closedAt: z.string().nullable(),
  satisfaction: z.number().int().nullable(),
  /** Also the ETag of GET /api/incidents/:id, for If-Match. */
  version: z.number().int(),
};

export const incidentSummaryAnswer = z.object(incidentFields);

/** One incident with its duplicates, uploaded photos and timeline (actorTokenId for admins only). */
export const incidentAnswer = z.object({
  ...incidentFields,
  duplicates: z.array(z.number().int()),
  uploadedPhotos: z.array(z.object({ id: z.number().int(), url: z.string(), contentType: z.string(), bytes: z.number().int(), sha256: z.string(), name: z.string().nullable() })),
  timeline: z.array(
    z.object({
      id: z.number().int(),
      at: z.string(),
      kind: z.string(),
      from: z.string().nullable(),
      to: z.string().nullable(),
      actorRole: z.string().nullable(),
      actorTokenId: z.number().int().nullable().optional(),
      comment: z.string().nullable(),
      details: z.unknown(),
    }),
  ),
});

export const incidentPageAnswer = z.object({ items: z.array(incidentSummaryAnswer), nextCursor: z.number().int().nullable() });

const statsRow = z.object({ key: z.string().nullable(), total: z.number(), byStatus: z.record(z.string(), z.number()) }).passthrough();

export const incidentStatsAnswer = z.object({ groupBy: z.string(), timeZone: z.string(), onTimeRule: z.string(), groups: z.array(statsRow), cityWide: statsRow.optional() });

export const categoryAnswer = z.object({
  name: z.string(),
  code: z.string(),
  department: z.string(),
  priority: z.number().int(),
  sensitive: z.boolean(),
  accept_hours: z.number(),
  dispatch_hours: z.number(),
  handle_hours: z.number(),
  feedback_hours: z.number(),
  supervise_hours: z.number(),
});

export const categoriesAnswer = z.object({ categories: z.array(categoryAnswer) });

export const overdueAnswer = z.object({ departments: z.array(z.object({ department: z.string().nullable(), overdue: z.number().int(), stageOverdue: z.number().int() }).passthrough()) });

export const workerStatsAnswer = z.object({ workers: z.array(z.object({ worker: z.string() }).passthrough()) });
