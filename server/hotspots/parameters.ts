import { z } from 'zod';
import type { Queryable } from '../db/pool';
import type { Clock } from '../deps';
import { RequestValidationError } from '../http/problem';
import { categoryExists } from '../incidents/service';
import { statuses } from '../incidents/workflow';
import { accidentSeverities, defaultSpanDays, type HotspotFilters, maxSpanDays } from './schemas';

const dayMs = 24 * 3600 * 1000;
const minuteMs = 60 * 1000;

/** A 400 naming the query parameter, like the ones zod validation gives. */
export function invalidParameter(name: string, message: string): RequestValidationError {
  return new RequestValidationError('query', new z.ZodError([{ code: 'custom', path: [name], message, input: undefined }]));
}

/**
 * The end of a span: `to`, or now rounded up to the next whole minute, so that requests of the same minute share
 * one cached result and a report made now is inside the span.
 */
export function spanEnd(to: string | undefined, clock: Clock): Date {
  return to ? new Date(to) : new Date(Math.ceil((clock().getTime() + 1) / minuteMs) * minuteMs);
}

/** [from, to): defaults to the last 30 days; from before to; at most maxSpanDays long. */
export function resolveSpan(query: { from?: string; to?: string }, clock: Clock): { from: Date; to: Date } {
  const to = spanEnd(query.to, clock);
  const from = query.from ? new Date(query.from) : new Date(to.getTime() - defaultSpanDays * dayMs);
  if (from >= to) throw invalidParameter('from', `from must be before to (${to.toISOString()})`);
  if (to.getTime() - from.getTime() > maxSpanDays * dayMs) throw invalidParameter('from', `the span from–to may be at most ${maxSpanDays} days`);
  return { from, to };
}

/** Checks category and status against what the source has: an unknown one is a 400, not an empty answer. */
export async function checkAttributeFilters(db: Queryable, filters: Pick<HotspotFilters, 'source' | 'category' | 'status'>): Promise<void> {
  if (filters.source === 'accidents') {
    if (filters.status !== undefined) throw invalidParameter('status', 'accidents have no status; status filters incidents only');
    if (filters.category !== undefined && !(accidentSeverities as readonly string[]).includes(filters.category)) {
      throw invalidParameter('category', `for accidents, category is the severity: one of ${accidentSeverities.join(', ')}`);
    }
    return;
  }
  if (filters.status !== undefined && !(statuses as readonly string[]).includes(filters.status)) {
    throw invalidParameter('status', `unknown status; one of ${statuses.join(', ')}`);
  }
  if (filters.category === undefined) return;
  if (!(await categoryExists(db, filters.category))) throw invalidParameter('category', 'unknown incident category (GET /api/incidents/categories lists them)');
}
