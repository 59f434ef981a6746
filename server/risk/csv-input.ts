import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { formatUtcOffset } from './windows';

/** Bad evaluation input: the message names what is wrong and where (file, row, column). */
export class RiskInputError extends Error {}

export interface AccidentColumns {
  time: string;
  lat: string;
  lon: string;
}

export interface AccidentPoint {
  epochMs: number;
  lat: number;
  lon: number;
}

export interface AccidentFile {
  accidents: AccidentPoint[];
  rows: number;
  /** Rows whose coordinates are empty, NA, non-numeric, out of range or exactly 0,0: counted, never placed. */
  withoutCoordinates: number;
}

const localTime = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$/;
const zonedTime = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/**
 * Reads a date or date-time: with an explicit offset (Z, +08:00) as written, without one as local time at
 * `offsetMinutes` east of UTC. Null when it is not a valid ISO date or date-time.
 */
export function parseLocalTime(text: string, offsetMinutes: number): number | null {
  const trimmed = text.trim();
  if (zonedTime.test(trimmed)) {
    const value = Date.parse(trimmed.replace(' ', 'T'));
    return Number.isNaN(value) ? null : value;
  }
  const match = localTime.exec(trimmed);
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0));
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(utc);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return null;
  return utc - offsetMinutes * 60_000;
}

export function readAccidentCsv(file: string, columns: AccidentColumns, offsetMinutes: number): AccidentFile {
  let text: string;
  try {
    const raw = readFileSync(file);
    text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  } catch (error) {
    throw new RiskInputError(`${file}: cannot be read (${(error as Error).message})`);
  }
  const records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: true }) as string[][];
  const header = records[0] ?? [];
  const position = (column: string): number => {
    const index = header.indexOf(column);
    if (index < 0) throw new RiskInputError(`${file}: no column "${column}" (columns: ${header.join(', ')})`);
    return index;
  };
  const [timeAt, latAt, lonAt] = [position(columns.time), position(columns.lat), position(columns.lon)];
  const accidents: AccidentPoint[] = [];
  let withoutCoordinates = 0;
  for (let row = 1; row < records.length; row++) {
    const record = records[row];
    const epochMs = parseLocalTime(record[timeAt] ?? '', offsetMinutes);
    if (epochMs === null) {
      throw new RiskInputError(`${file}: row ${row + 1}, column "${columns.time}": "${record[timeAt] ?? ''}" is not an ISO date-time (read as local time at ${formatUtcOffset(offsetMinutes)} without an offset)`);
    }
    const lat = coordinate(record[latAt], 90);
    const lon = coordinate(record[lonAt], 180);
    if (lat === null || lon === null || (lat === 0 && lon === 0)) {
      withoutCoordinates++;
      continue;
    }
    accidents.push({ epochMs, lat, lon });
  }
  return { accidents, rows: records.length - 1, withoutCoordinates };
}

function coordinate(text: string | undefined, limit: number): number | null {
  if (text === undefined || !text.trim()) return null;
  const value = Number(text);
  return Number.isFinite(value) && Math.abs(value) <= limit ? value : null;
}
