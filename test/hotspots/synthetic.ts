import { cellToLatLng, gridDisk } from 'h3-js';
import type { Pool } from '../../server/db/pool';
import type { ChangeEvent } from '../../server/events/bus';
import { storedCell } from '../../server/geo/h3';
import type { TestApp } from '../support/app';

/** A small seeded generator, so a "random" field is the same on every run. */
export function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/** The cells of the whole test city's study area at a resolution, as /api/hotspots/gi lists them (count 0 in a span without data). */
export async function studyCells(api: TestApp, res: number): Promise<string[]> {
  const { body } = await api.request.get('/api/hotspots/gi').query({ res, from: '2040-01-01T00:00:00Z', to: '2040-01-02T00:00:00Z' }).set(api.auth('admin')).expect(200);
  return body.cells.map((cell: { hex: string }) => cell.hex);
}

/** A cell well inside the study area: its whole gridDisk(2) belongs to it. */
export function innerCell(cells: string[], skip = 0): string {
  const known = new Set(cells);
  return cells.filter((cell) => gridDisk(cell, 2).every((other) => known.has(other)))[skip];
}

/** Inserts `count` incidents at the centre of `cell` reported at `at`, for each entry. */
export async function insertIncidents(pool: Pool, entries: Array<{ cell: string; at: Date; count: number }>): Promise<void> {
  const rows = entries.flatMap(({ cell, at, count }) => {
    const [lat, lon] = cellToLatLng(cell);
    return Array.from({ length: count }, () => ({ lon, lat, at: at.toISOString(), h3: storedCell(lon, lat) }));
  });
  await pool.query(
    `INSERT INTO incidents (category, source, status, reported_at, geom, h3_r10)
     SELECT (SELECT name FROM incident_categories ORDER BY name LIMIT 1), 'app', 'reported', r.at, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326), r.h3
     FROM jsonb_to_recordset($1::jsonb) AS r (lon float8, lat float8, at timestamptz, h3 bigint)`,
    [JSON.stringify(rows)],
  );
}

/** The next change event the app hears (its own listeners, registered first, have run when this resolves). */
export function nextChange(api: TestApp): Promise<ChangeEvent> {
  return new Promise((resolve) => {
    const stop = api.events.onChange((event) => {
      stop();
      resolve(event);
    });
  });
}
