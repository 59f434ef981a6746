import { Readable } from 'node:stream';
import type { HeavyWork } from '../db/heavy-work';
import type { PoolClient } from '../db/pool';
import type { LayerDefinition } from './registry';
import { copyLayerCsv, declareFeatureCursor, fetchFeatureTexts } from './sql';

// Rows per round trip of the GeoJSON cursor: big enough to keep PostgreSQL busy, small enough to stay flat in memory.
const fetchSize = 2000;

/** The whole layer as a GeoJSON FeatureCollection, read through a cursor in one read-only transaction. */
async function* geojsonChunks(client: PoolClient, layer: LayerDefinition): AsyncGenerator<string> {
  await client.query('BEGIN READ ONLY');
  await declareFeatureCursor(client, layer);
  yield '{"type":"FeatureCollection","features":[\n';
  let first = true;
  for (;;) {
    const features = await fetchFeatureTexts(client, fetchSize);
    if (features.length === 0) break;
    yield (first ? '' : ',\n') + features.join(',\n');
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
  const stream = format === 'csv' ? copyLayerCsv(client, layer) : Readable.from(geojsonChunks(client, layer));
  let ended = false;
  stream.once('end', () => (ended = true));
  stream.once('close', () => {
    client.release(ended ? undefined : new Error('export stopped before its end'));
    release();
  });
  return stream;
}
