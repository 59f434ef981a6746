import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { incidentCells } from '../geo/h3';
import { from as copyFrom } from 'pg-copy-streams';
import { withWriteTransaction } from '../db/write-context';
import type { Pool } from '../db/pool';
import { BadRequestError } from '../errors';
import { copyImportSql, createImportStagingSql, type FlagPlaceholdersRow, flagPlaceholdersSql, importAuditSql, importCalendarSql, insertImportedSql, type KnownCategoriesRow, knownCategoriesSql, type UnmappedCategoriesRow, unmappedCategoriesSql } from './sql';

/** Which CSV column holds what. Times are local to timeZone unless they carry an offset. */
export interface CsvMapping {
  time: string;
  lon: string;
  lat: string;
  category: string;
  id?: string;
  department?: string;
  status?: string;
  closed?: string;
  target?: string;
  source?: string;
  description?: string;
  /** 'us' = M/D/YYYY h:mm[:ss] with AM/PM, or 24-hour without; 'iso' = YYYY-MM-DD[T ]hh:mm[:ss[.fff]][Z|±hh:mm]. */
  timeFormat: TimeFormat;
  timeZone: string;
  /** Values of the status column that mean closed; every other value is an open case in a department queue. */
  closedValues: string[];
}

export type TimeFormat = 'iso' | 'us';

export interface ImportOptions {
  /** Source category → catalogue category (from --category-map). */
  categoryMap?: Map<string, string>;
  /**
   * A point (to 5 decimals, ≈ 1 m) holding more than this share of a run's rows, and at least
   * placeholderMinRows of them, is a placeholder, not a place.
   */
  placeholderShare?: number;
  onProgress?: (rows: number) => void;
}

export const defaultPlaceholderShare = 0.02;
export const placeholderMinRows = 50;

export const boston311: CsvMapping = {
  id: 'CASE_ENQUIRY_ID',
  time: 'OPEN_DT',
  target: 'TARGET_DT',
  closed: 'CLOSED_DT',
  status: 'CASE_STATUS',
  category: 'TYPE',
  department: 'Department',
  source: 'Source',
  description: 'CASE_TITLE',
  lon: 'LONGITUDE',
  lat: 'LATITUDE',
  timeFormat: 'us',
  timeZone: 'America/New_York',
  closedValues: ['Closed'],
};

/** Where a report came from, in citygrid's five channels. */
export function channelOf(source: string | undefined): string {
  const text = (source ?? '').toLowerCase();
  if (/call|phone|hotline|12345/.test(text)) return 'hotline';
  if (/twitter|wechat|weibo/.test(text)) return 'wechat';
  if (/self service|open311|web/.test(text)) return 'open311';
  if (/worker|employee|patrol|integration/.test(text)) return 'patrol';
  return 'app';
}

const usTime = /^(\d{1,2})\/(\d{1,2})\/(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?$/;
const isoTime = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * A CSV time → ISO 8601 text PostgreSQL reads the same under every DateStyle (local wall time, or with the
 * offset it came with), or null when it is not a real time of that format.
 */
export function normalizeTime(text: string, format: TimeFormat): string | null {
  const pad = (value: number) => String(value).padStart(2, '0');
  let year: number, month: number, day: number, hour: number, minute: number, second: number;
  let fraction = '';
  let offset = '';
  if (format === 'us') {
    const m = usTime.exec(text.trim());
    if (!m) return null;
    [month, day, year, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number);
    second = Number(m[6] ?? 0);
    const half = m[7]?.toUpperCase();
    if (half) {
      if (hour < 1 || hour > 12) return null;
      hour = (hour % 12) + (half === 'PM' ? 12 : 0);
    }
  } else {
    const m = isoTime.exec(text.trim());
    if (!m) return null;
    [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number);
    second = Number(m[6] ?? 0);
    fraction = m[7] ?? '';
    offset = m[8] ? (m[8].toUpperCase() === 'Z' ? '+00:00' : m[8]) : '';
  }
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return null;
  return `${year}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}${fraction}${offset}`;
}

function copyText(value: string | number | null): string {
  if (value === null || value === '') return '\\N';
  return String(value).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** A row left out, and why: `row` counts lines of the file as a spreadsheet does (the header is row 1). */
export interface RejectedRow {
  file: string;
  row: number;
  column: string;
  value: string;
  reason: string;
}

export interface ImportResult {
  files: number;
  read: number;
  inserted: number;
  /** Rows already imported by an earlier run (same id, or the same row content without --id). */
  alreadyImported: number;
  rejected: RejectedRow[];
  /** Rows at a placeholder point: stored flagged, without grid and H3 cells, left off maps. */
  placeholders: { lon: number; lat: number; rows: number }[];
  /** Categories neither in the catalogue nor mapped onto it, with their row counts, most rows first. */
  unmappedCategories: { category: string; rows: number }[];
  timeZone: string;
  seconds: number;
}

/** Lists the CSV files of a path: the file itself, or every .csv in a directory. */
export function csvFiles(target: string): string[] {
  if (!fs.statSync(target).isDirectory()) return [target];
  return fs.readdirSync(target).filter((name) => name.toLowerCase().endsWith('.csv')).sort().map((name) => path.join(target, name));
}

/** The header of a CSV file (its first record), read without reading the rest. */
export async function csvHeader(file: string): Promise<string[]> {
  const parser = fs.createReadStream(file).pipe(parse({ bom: true, to_line: 1 }));
  for await (const record of parser) return record as string[];
  return [];
}

/** Refuses a mapping that names a column some file does not have, before any row is read. */
export async function checkColumns(files: string[], mapping: CsvMapping): Promise<void> {
  const mapped = Object.entries(mapping).filter(([key]) => !['timeFormat', 'timeZone', 'closedValues'].includes(key)) as Array<[string, string]>;
  for (const file of files) {
    const header = await csvHeader(file);
    const missing = mapped.filter(([, column]) => !header.includes(column));
    if (missing.length > 0) {
      throw new BadRequestError(
        `${path.basename(file)} has no column ${missing.map(([option, column]) => `"${column}" (--${option})`).join(', ')}; its columns are: ${header.join(', ')}`,
        { file, missing: missing.map(([, column]) => column), columns: header },
      );
    }
  }
}

/** Reads a category map CSV (columns source, category) and checks every target is in the catalogue. */
export async function readCategoryMap(pool: Pool, file: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  const parser = fs.createReadStream(file).pipe(parse({ columns: true, bom: true, skip_empty_lines: true, trim: true }));
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    if (record.source === undefined || record.category === undefined) throw new BadRequestError(`${file} needs the columns source,category`, { file });
    map.set(record.source, record.category);
  }
  const { rows } = await pool.query<KnownCategoriesRow>(knownCategoriesSql, [[...map.values()]]);
  const known = new Set(rows.map((row) => row.name));
  const unknown = [...new Set(map.values())].filter((category) => !known.has(category));
  if (unknown.length > 0) throw new BadRequestError(`${file} maps onto categories the catalogue does not have: ${unknown.join(', ')}`, { file, unknown });
  return map;
}

/** One CSV row → the staging row, or why it is rejected. */
function stagingRow(row: Record<string, string>, mapping: CsvMapping, categoryMap: Map<string, string> | undefined, key: string): { values: Array<string | number | null> } | { column: string; value: string; reason: string } {
  const field = (column: string | undefined) => (column ? (row[column] ?? '').trim() : '');
  for (const [column, bound] of [[mapping.lat, 90], [mapping.lon, 180]] as const) {
    const text = field(column);
    if (text === '') return { column, value: text, reason: 'empty coordinate' };
    if (!Number.isFinite(Number(text))) return { column, value: text, reason: 'not a number' };
    if (Math.abs(Number(text)) > bound) return { column, value: text, reason: `out of range (±${bound})` };
  }
  const lon = Number(field(mapping.lon));
  const lat = Number(field(mapping.lat));
  if (lon === 0 && lat === 0) return { column: mapping.lat, value: '0', reason: 'null island (0, 0): no location' };
  const category = field(mapping.category);
  if (category === '') return { column: mapping.category, value: '', reason: 'empty category' };
  const times: Array<string | null> = [];
  for (const [column, required] of [[mapping.time, true], [mapping.target, false], [mapping.closed, false]] as const) {
    const text = field(column);
    if (text === '' && !required) {
      times.push(null);
      continue;
    }
    const time = normalizeTime(text, mapping.timeFormat);
    if (time === null) return { column: column as string, value: text, reason: text === '' ? 'empty time' : `not a ${mapping.timeFormat} time` };
    times.push(time);
  }
  const closedFlag = mapping.status ? mapping.closedValues.includes(field(mapping.status)) : times[2] !== null;
  return {
    values: [key, times[0], times[1], times[2], closedFlag ? 't' : 'f', categoryMap?.get(category) ?? category, field(mapping.department) || null,
      channelOf(field(mapping.source)), field(mapping.description) || null, lon, lat,
      ...incidentCells(lon, lat)],
  };
}

/**
 * Without an id column a row is known by its content: a hash of its values, numbered when the same content
 * occurs again in the file (so true repeats are kept), stable from one run to the next.
 */
function contentKeys(): (row: Record<string, string>) => string {
  const seen = new Map<string, number>();
  return (row) => {
    const hash = createHash('sha256').update(JSON.stringify(Object.values(row))).digest('base64url').slice(0, 24);
    const occurrence = (seen.get(hash) ?? 0) + 1;
    seen.set(hash, occurrence);
    return `row:${hash}:${occurrence}`;
  };
}

/**
 * Bulk history import: every file's header is checked against the mapping first; rows then stream through COPY
 * into a staging table (H3 cells computed on the way; rows without a usable location, time or category are
 * rejected and listed), points holding an implausible share of the rows are marked as placeholders, and one
 * INSERT … SELECT assigns grids with grid_at and skips rows already imported (same source and external id, or
 * row content without an id column), so running it twice changes nothing. One audit row summarises the load.
 */
export async function importIncidents(pool: Pool, files: string[], mapping: CsvMapping, options: ImportOptions = {}): Promise<ImportResult> {
  const started = performance.now();
  await checkColumns(files, mapping);
  const onProgress = options.onProgress ?? (() => undefined);
  const placeholderShare = options.placeholderShare ?? defaultPlaceholderShare;
  let read = 0;
  const rejected: RejectedRow[] = [];
  const result = await withWriteTransaction(pool, { actor: null, route: 'cli import:incidents', bulk: true }, async (client) => {
    await client.query(importCalendarSql, [mapping.timeZone]);
    await client.query(createImportStagingSql);
    for (const file of files) {
      const parser = parse({ columns: true, skip_empty_lines: true, bom: true, info: true });
      const keyOf = mapping.id ? (row: Record<string, string>) => row[mapping.id as string] : contentKeys();
      const toCopy = async function* (records: AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
        let batch = '';
        for await (const { record, info } of records) {
          read++;
          const staged = stagingRow(record, mapping, options.categoryMap, keyOf(record));
          if (!('values' in staged)) {
            rejected.push({ file, row: info.lines, ...staged });
            continue;
          }
          batch += `${staged.values.map(copyText).join('\t')}\n`;
          if (batch.length > 256_000) {
            yield batch;
            onProgress(read);
            batch = '';
          }
        }
        if (batch) yield batch;
        onProgress(read);
      };
      await pipeline(fs.createReadStream(file), parser, toCopy, client.query(copyFrom(copyImportSql)));
    }
    const { rows: placeholders } = await client.query<FlagPlaceholdersRow>(
      flagPlaceholdersSql,
      [placeholderMinRows, placeholderShare],
    );
    const { rowCount } = await client.query(
      insertImportedSql,
    );
    const { rows: unmapped } = await client.query<UnmappedCategoriesRow>(
      unmappedCategoriesSql,
    );
    const inserted = rowCount ?? 0;
    await client.query(
      importAuditSql,
      [JSON.stringify({ files: files.map((f) => path.basename(f)), read, inserted, rejected: rejected.length, placeholders })],
    );
    return { inserted, placeholders, unmappedCategories: unmapped };
  });
  if (read === 0) throw new BadRequestError('No rows were read: are these files empty?');
  return {
    files: files.length,
    read,
    inserted: result.inserted,
    alreadyImported: read - rejected.length - result.inserted,
    rejected,
    placeholders: result.placeholders,
    unmappedCategories: result.unmappedCategories,
    timeZone: mapping.timeZone,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Writes the rejected rows as CSV (file, row, column, value, reason). */
export function writeRejects(file: string, rejected: RejectedRow[]): void {
  const quote = (value: string | number) => (/[",\n\r]/.test(String(value)) ? `"${String(value).replace(/"/g, '""')}"` : String(value));
  const lines = rejected.map((r) => [r.file, r.row, r.column, r.value, r.reason].map(quote).join(','));
  fs.writeFileSync(file, `file,row,column,value,reason\n${lines.join('\n')}\n`);
}
