import type { IncomingMessage } from 'node:http';
import { parse as parseCsv } from 'csv-parse/sync';
import getRawBody from 'raw-body';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors';
import { validateBody } from '../http/route';
import { ingestBody, isPlainValidFix, maxFixesPerBatch, type PatrolFixInput, patrolFix } from './schemas';

const csvColumns = ['workerId', 't', 'lon', 'lat', 'accuracy', 'speed', 'heading'] as const;
const requiredCsvColumns = ['workerId', 't', 'lon', 'lat'];

/** Reads the request body up to `limit` (e.g. 4mb): a 413 beyond it, before anything is parsed or stored. */
async function readBody(request: IncomingMessage, limit: string): Promise<string> {
  try {
    return await getRawBody(request, { limit, encoding: 'utf-8' });
  } catch (error) {
    if ((error as { type?: string }).type === 'entity.too.large') {
      throw new PayloadTooLargeError(`The batch is larger than PATROL_BODY_LIMIT (${limit}): send it in smaller batches`, { limit });
    }
    throw new BadRequestError(`The request body could not be read: ${(error as Error).message}`);
  }
}

function tooMany(count: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`The batch holds ${count} fixes; at most ${maxFixesPerBatch} are taken per request`, { limit: maxFixesPerBatch });
}

function fromJson(text: string): PatrolFixInput[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`The body is not valid JSON: ${(error as Error).message}`);
  }
  const fixes = (value as { fixes?: unknown } | null)?.fixes;
  if (Array.isArray(fixes) && fixes.length > maxFixesPerBatch) throw tooMany(fixes.length);
  const plain = Array.isArray(fixes) && fixes.length > 0 && Object.keys(value as object).length === 1 && fixes.every(isPlainValidFix);
  return plain ? fixes : validateBody(ingestBody, value).fixes;
}

/** A CSV cell as JSON would carry it: numbers as numbers, epoch milliseconds as a number, empty as absent. */
function cellValue(column: string, text: string): unknown {
  if (text === '') return undefined;
  if (column === 'workerId') return text;
  if (column === 't') return /^\d+$/.test(text) ? Number(text) : text;
  const number = Number(text);
  return Number.isNaN(number) && text.trim() !== 'NaN' ? text : number;
}

function fromCsv(text: string): PatrolFixInput[] {
  let records: string[][];
  try {
    records = parseCsv(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: false });
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    throw new BadRequestError(`Malformed CSV${line ? ` at line ${line}` : ''}: ${(error as Error).message}`, { line });
  }
  const [header, ...rows] = records;
  const unknown = (header ?? []).filter((name) => !(csvColumns as readonly string[]).includes(name));
  const missing = requiredCsvColumns.filter((name) => !header?.includes(name));
  if (!header || unknown.length || missing.length) {
    throw new BadRequestError(`The CSV header must name workerId,t,lon,lat and optionally accuracy,speed,heading${unknown.length ? `; unknown: ${unknown.join(',')}` : ''}${missing.length ? `; missing: ${missing.join(',')}` : ''}`, { line: 1 });
  }
  if (rows.length > maxFixesPerBatch) throw tooMany(rows.length);
  if (rows.length === 0) throw new BadRequestError('The CSV holds a header but no fixes', { line: 1 });
  return rows.map((cells, index) => {
    const line = index + 2;
    const fix = Object.fromEntries(header.map((column, i) => [column, cellValue(column, cells[i])]).filter(([, value]) => value !== undefined));
    if (isPlainValidFix(fix)) return fix;
    const parsed = patrolFix.safeParse(fix);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new BadRequestError(`CSV line ${line} (fix ${index}), ${issue.path.join('.') || 'row'}: ${issue.message}`, { line, row: index, field: issue.path.join('.') });
  });
}

/** The fixes of a POST /api/patrols/points request, JSON or CSV, validated; nothing is stored yet. */
export async function readFixBatch(request: IncomingMessage, contentType: string | false, limit: string): Promise<PatrolFixInput[]> {
  if (contentType !== 'json' && contentType !== 'csv') {
    throw new UnsupportedMediaTypeError(`Send the fixes as application/json ({"fixes": [...]}) or text/csv, not ${request.headers['content-type'] ?? 'no Content-Type'}`);
  }
  const text = await readBody(request, limit);
  return contentType === 'json' ? fromJson(text) : fromCsv(text);
}
