import { Readable } from 'node:stream';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Pool } from '../db/pool';
import type { LayerDefinition } from './registry';

// Rows per round trip of the GeoJSON cursor: big enough to keep PostgreSQL busy, small enough to stay flat in memory.
const fetchSize = 2000;

/** Exported columns are exactly the importable ones, so an export can be imported again unchanged. */
function exportSelect(layer: LayerDefinition): string {
  const columns = layer.columns.map((column) => pg.escapeIdentifier(column));
  if (layer.geometry) columns.push('ST_AsText(geom) AS wkt');
  return `SELECT ${columns.join(', ')} FROM ${pg.escapeIdentifier(layer.table)} ORDER BY id`;
}

/** The whole layer as CSV, streamed by COPY; the connection goes back to the pool when the stream ends. */
export async function exportCsv(pool: Pool, layer: LayerDefinition): Promise<Readable> {
  const client = await pool.connect();
  const stream = client.query(copyTo(`COPY (${exportSelect(layer)}) TO STDOUT WITH (FORMAT csv, HEADER)`));
  let released = false;
  const release = (error?: Error) => {
    if (released) return;
    released = true;
    client.release(error);
  };
  stream.on('end', () => release());
  stream.on('error', (error) => release(error));
  stream.on('close', () => release());
  return stream;
}

async function* geojsonChunks(pool: Pool, layer: LayerDefinition): AsyncGenerator<string> {
  const client = await pool.connect();
  const properties = layer.columns.map((column) => `${pg.escapeLiteral(column)}, ${pg.escapeIdentifier(column)}`).join(', ');
  const geometry = layer.geometry ? 'ST_AsGeoJSON(geom, 7)::json' : 'NULL::json';
  let failed: Error | undefined;
  try {
    await client.query('BEGIN READ ONLY');
    await client.query(
      `DECLARE layer_export NO SCROLL CURSOR FOR
       SELECT json_build_object('type', 'Feature', 'id', id, 'geometry', ${geometry}, 'properties', json_build_object(${properties}))::text AS feature
         FROM ${pg.escapeIdentifier(layer.table)} ORDER BY id`,
    );
    yield '{"type":"FeatureCollection","features":[\n';
    let first = true;
    for (;;) {
      const { rows } = await client.query<{ feature: string }>(`FETCH ${fetchSize} FROM layer_export`);
      if (rows.length === 0) break;
      yield (first ? '' : ',\n') + rows.map((row) => row.feature).join(',\n');
      first = false;
    }
    yield '\n]}\n';
    await client.query('COMMIT');
  } catch (error) {
    failed = error as Error;
    throw error;
  } finally {
    // A client left inside an aborted export (the caller went away) is not reused.
    client.release(failed ?? (await client.query('ROLLBACK').then(() => undefined, (error: Error) => error)));
  }
}

export function exportGeoJson(pool: Pool, layer: LayerDefinition): Readable {
  return Readable.from(geojsonChunks(pool, layer));
}
