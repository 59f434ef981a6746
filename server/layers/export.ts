import { Readable } from 'node:stream';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { HeavyWork } from '../db/heavy-work';
import type { PoolClient } from '../db/pool';
import type { LayerDefinition } from './registry';

// Rows per round trip of the GeoJSON cursor: big enough to keep PostgreSQL busy, small enough to stay flat in memory.
const fetchSize = 2000;

/** Exported columns are exactly the importable ones, so an export can be imported again unchanged. */
function exportSelect(layer: LayerDefinition): string {
  const columns = layer.columns.map((column) => pg.escapeIdentifier(column));
  if (layer.geometry) columns.push('ST_AsText(geom) AS wkt');
  return `SELECT ${columns.join(', ')} FROM ${pg.escapeIdentifier(layer.table)} ORDER BY id`;
}

/** The whole layer as CSV, streamed by COPY. */
function exportCsv(client: PoolClient, layer: LayerDefinition): Readable {
  return client.query(copyTo(`COPY (${exportSelect(layer)}) TO STDOUT WITH (FORMAT csv, HEADER)`));
}

/** The whole layer as a GeoJSON FeatureCollection, read through a cursor in one read-only transaction. */
async function* geojsonChunks(client: PoolClient, layer: LayerDefinition): AsyncGenerator<string> {
  const properties = layer.columns.map((column) => `${pg.escapeLiteral(column)}, ${pg.escapeIdentifier(column)}`).join(', ');
  const geometry = layer.geometry ? 'ST_AsGeoJSON(geom, 7)::json' : 'NULL::json';
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
}

/**
 * The whole layer as CSV or GeoJSON, streamed in an export turn of the heavy-work pool (see db/heavy-work.ts).
 * The turn and the connection are taken before the answer starts, so a busy server answers 503 rather than a
 * broken stream, and given back when the stream closes, however it ends. A stream that stopped midway (its client
 * went away or stalled) leaves a statement or transaction behind: that connection is closed, not reused.
 */
export async function exportLayer(heavy: HeavyWork, layer: LayerDefinition, format: 'csv' | 'geojson'): Promise<Readable> {
  const release = await heavy.turn('export');
  let client: PoolClient;
  try {
    client = await heavy.pool.connect();
  } catch (error) {
    release();
    throw error;
  }
  const stream = format === 'csv' ? exportCsv(client, layer) : Readable.from(geojsonChunks(client, layer));
  let ended = false;
  stream.once('end', () => (ended = true));
  stream.once('close', () => {
    client.release(ended ? undefined : new Error('export stopped before its end'));
    release();
  });
  return stream;
}
