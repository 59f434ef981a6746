import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { latLngToCell } from 'h3-js';
import { storedCell } from '../geo/h3';
import { from as copyFrom } from 'pg-copy-streams';
import { withWriteTransaction } from '../audit/write-context';
import type { Pool } from '../db/pool';
import { BadRequestError } from '../errors';

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
  /** 'us' = MM/DD/YYYY hh:mm:ss AM; 'iso' = anything PostgreSQL reads as a timestamp. */
  timeFormat: 'iso' | 'us';
  timeZone: string;
  /** Values of the status column that mean closed; every other value is an open case in a department queue. */
  closedValues: string[];
}

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

function copyText(value: string | number | null): string {
  if (value === null || value === '') return '\\N';
  return String(value).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

const stagingColumns = ['external_id', 'reported', 'target', 'closed', 'closed_flag', 'category', 'department', 'source', 'description', 'lon', 'lat', 'h3_r7', 'h3_r8', 'h3_r9', 'h3_r10'];

export interface ImportResult {
  files: number;
  read: number;
  inserted: number;
  skipped: number;
  seconds: number;
}

/** Lists the CSV files of a path: the file itself, or every .csv in a directory. */
export function csvFiles(target: string): string[] {
  if (!fs.statSync(target).isDirectory()) return [target];
  return fs.readdirSync(target).filter((name) => name.toLowerCase().endsWith('.csv')).sort().map((name) => path.join(target, name));
}

/**
 * Bulk history import: every file streams through COPY into a staging table (H3 cells computed on the way),
 * then one INSERT … SELECT parses times, assigns grids with grid_at and skips rows already imported (same source
 * and external id), so running it twice changes nothing. One audit row summarises the load.
 */
export async function importIncidents(pool: Pool, files: string[], mapping: CsvMapping, onProgress: (rows: number) => void = () => undefined): Promise<ImportResult> {
  const started = performance.now();
  let read = 0;
  let skipped = 0;
  const inserted = await withWriteTransaction(pool, { actor: null, route: 'cli import:incidents', bulk: true }, async (client) => {
    await client.query(`SELECT set_config('TimeZone', $1, true)`, [mapping.timeZone]);
    await client.query(`CREATE TEMP TABLE incident_import (${stagingColumns.map((c) => `${c} ${c === 'lon' || c === 'lat' ? 'float8' : c === 'closed_flag' ? 'boolean' : 'text'}`).join(', ')}) ON COMMIT DROP`);
    for (const file of files) {
      const parser = parse({ columns: true, skip_empty_lines: true, bom: true });
      const toCopy = async function* (rows: AsyncIterable<Record<string, string>>) {
        let batch = '';
        for await (const row of rows) {
          read++;
          const lon = Number(row[mapping.lon]);
          const lat = Number(row[mapping.lat]);
          if (!row[mapping.time] || !row[mapping.category] || !Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lat) > 90 || Math.abs(lon) > 180 || (lon === 0 && lat === 0)) {
            skipped++;
            continue;
          }
          const field = (column: string | undefined) => (column ? (row[column] ?? null) : null);
          const closedFlag = mapping.status ? mapping.closedValues.includes(row[mapping.status]) : Boolean(field(mapping.closed));
          const values = [field(mapping.id), row[mapping.time], field(mapping.target), field(mapping.closed), closedFlag ? 't' : 'f', row[mapping.category],
            field(mapping.department), channelOf(field(mapping.source) ?? undefined), field(mapping.description), lon, lat,
            latLngToCell(lat, lon, 7), latLngToCell(lat, lon, 8), latLngToCell(lat, lon, 9), storedCell(lon, lat)];
          batch += `${values.map(copyText).join('\t')}\n`;
          if (batch.length > 256_000) {
            yield batch;
            onProgress(read);
            batch = '';
          }
        }
        if (batch) yield batch;
        onProgress(read);
      };
      await pipeline(fs.createReadStream(file), parser, toCopy, client.query(copyFrom(`COPY incident_import (${stagingColumns.join(', ')}) FROM STDIN`)));
    }
    const time = (column: string) =>
      mapping.timeFormat === 'us' ? `to_timestamp(nullif(${column}, ''), 'MM/DD/YYYY HH12:MI:SS AM')` : `nullif(${column}, '')::timestamptz`;
    const { rowCount } = await client.query(
      `INSERT INTO incidents (external_id, category, source, status, description, reported_at, due_at, closed_at, department, geom, grid_id, h3_r7, h3_r8, h3_r9, h3_r10)
       SELECT s.external_id, s.category, s.source, CASE WHEN s.closed_flag THEN 'closed' ELSE 'dispatched' END, s.description,
              ${time('s.reported')}, ${time('s.target')}, CASE WHEN s.closed_flag THEN ${time('s.closed')} END, s.department,
              p.geom, grid_at(p.geom), s.h3_r7, s.h3_r8, s.h3_r9, s.h3_r10::bigint
       FROM incident_import s CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS geom) p
       ON CONFLICT (source, external_id) WHERE external_id IS NOT NULL DO NOTHING`,
    );
    await client.query(
      `INSERT INTO audit_log (route, entity, action, after) VALUES ('cli import:incidents', 'incidents', 'insert', $1)`,
      [JSON.stringify({ files: files.map((f) => path.basename(f)), read, inserted: rowCount, skipped })],
    );
    return rowCount ?? 0;
  });
  if (read === 0) throw new BadRequestError('No rows were read: is the mapping right for these files?');
  return { files: files.length, read, inserted, skipped, seconds: (performance.now() - started) / 1000 };
}
