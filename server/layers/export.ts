import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { HeavyWork } from '../db/heavy-work';
import type { PoolClient } from '../db/pool';
import { BadRequestError } from '../errors';
import type { LayerDefinition } from './registry';
import { copyLayerCsv, declareFeatureCursor, exportSelect, fetchFeatureTexts } from './sql';

export type ExportFormat = 'geojson' | 'csv' | 'gpkg' | 'fgb';

/** What each format is sent as. */
export const exportFormats: Record<ExportFormat, { contentType: string; extension: string }> = {
  geojson: { contentType: 'application/geo+json', extension: 'geojson' },
  csv: { contentType: 'text/csv; charset=utf-8', extension: 'csv' },
  gpkg: { contentType: 'application/geopackage+sqlite3', extension: 'gpkg' },
  fgb: { contentType: 'application/flatgeobuf', extension: 'fgb' },
};

/**
 * GeoPackage and FlatGeobuf are written by GDAL's ogr2ogr (Debian gdal-bin), the reference writer of both formats
 * that QGIS and every GDAL client read: column types come from PostgreSQL's (integer, date, timestamptz), the CRS
 * from the geometry column (EPSG:4326), and each file gets its spatial index. Neither format can be written as a
 * stream (GeoPackage is an SQLite database, FlatGeobuf's index precedes its features), so the file is written to
 * a temporary folder first and then streamed.
 */
const gdalFormats = {
  gpkg: { driver: 'GPKG', options: ['-lco', 'FID=id', '-lco', 'SPATIAL_INDEX=YES'] },
  fgb: { driver: 'FlatGeobuf', options: ['-lco', 'SPATIAL_INDEX=YES'] },
} as const;

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

/** ogr2ogr's libpq connection: the URL's parts as libpq environment variables, so no password is in its argv. */
function libpqEnvironment(databaseUrl: string, statementTimeoutMs: number): NodeJS.ProcessEnv {
  const url = new URL(databaseUrl);
  const search = url.searchParams;
  return {
    ...process.env,
    PGHOST: url.hostname.replace(/^\[(.*)\]$/, '$1') || search.get('host') || undefined,
    PGPORT: url.port || undefined,
    PGUSER: decodeURIComponent(url.username) || undefined,
    PGPASSWORD: decodeURIComponent(url.password) || undefined,
    PGDATABASE: decodeURIComponent(url.pathname.slice(1)) || undefined,
    PGSSLMODE: search.get('sslmode') ?? undefined,
    PGAPPNAME: 'citygrid export',
    PGOPTIONS: `-c jit=off -c default_transaction_read_only=on -c statement_timeout=${Math.ceil(statementTimeoutMs)}`,
  };
}

/**
 * The SQLSTATE for what ogr2ogr's libpq reported, so the problem table answers as it does for the server's own
 * queries: a server it could not reach or that went away (08006, 503), a statement past the timeout (57014, 503).
 */
function sqlStateOf(stderr: string): string | undefined {
  if (/could not connect|Connection refused|server closed the connection|the database system is (starting up|shutting down)/i.test(stderr)) return '08006';
  if (/canceling statement due to statement timeout/i.test(stderr)) return '57014';
  return undefined;
}

/** Writes the layer into a new file of the format with ogr2ogr, reading it from PostgreSQL in one query. */
function writeWithGdal(databaseUrl: string, statementTimeoutMs: number, layer: LayerDefinition, format: keyof typeof gdalFormats, file: string): Promise<void> {
  const { driver, options } = gdalFormats[format];
  // A query result has no declared geometry type: name it, or readers see "Unknown (any)".
  const geometryType = (layer.geometry ?? 'NONE').toUpperCase();
  const args = ['-f', driver, file, 'PG:', '-sql', exportSelect(layer, 'id'), '-nln', layer.name, '-nlt', geometryType, ...options];
  return new Promise((resolve, reject) => {
    execFile('ogr2ogr', args, { env: libpqEnvironment(databaseUrl, statementTimeoutMs), maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT' ? ' (ogr2ogr is not installed: apt-get install gdal-bin)' : '';
      reject(Object.assign(new Error(`ogr2ogr could not write ${layer.name} as ${driver}${missing}: ${stderr.trim() || error.message}`), { code: sqlStateOf(stderr) }));
    });
  });
}

/** The layer as a GeoPackage or FlatGeobuf file, written whole and then streamed; the file is gone once sent. */
async function exportWithGdal(heavy: HeavyWork, layer: LayerDefinition, format: keyof typeof gdalFormats): Promise<Readable> {
  if (!layer.geometry) throw new BadRequestError(`${layer.name} have no geometry: export them as csv or geojson`, { formats: ['csv', 'geojson'] });
  const folder = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'citygrid-export-'));
  const removeFolder = () => fs.promises.rm(folder, { recursive: true, force: true });
  const file = path.join(folder, `${layer.name}.${exportFormats[format].extension}`);
  try {
    await writeWithGdal(heavy.databaseUrl, heavy.statementTimeoutMs, layer, format, file);
  } catch (error) {
    await removeFolder();
    throw error;
  }
  const stream = fs.createReadStream(file);
  stream.once('close', () => void removeFolder());
  return stream;
}

/**
 * The whole layer in the format, streamed in an export turn of the heavy-work pool (see db/heavy-work.ts); GeoPackage
 * and FlatGeobuf through ogr2ogr, whose own connection the turn also bounds.
 * The turn and the connection are taken before the answer starts, so a busy server answers 503 rather than a
 * broken stream, and given back when the stream closes, however it ends. A stream that stopped midway (its client
 * went away or stalled) leaves a statement or transaction behind: that connection is closed, not reused.
 */
export async function exportLayer(heavy: HeavyWork, layer: LayerDefinition, format: ExportFormat): Promise<Readable> {
  const release = await heavy.turn('export');
  if (format === 'gpkg' || format === 'fgb') {
    try {
      const stream = await exportWithGdal(heavy, layer, format);
      stream.once('close', release);
      return stream;
    } catch (error) {
      release();
      throw error;
    }
  }
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
