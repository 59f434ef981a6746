import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { zxyToTileId } from 'pmtiles';
import { roles } from '../auth/roles';
import type { Queryable } from '../db/pool';
import { BadRequestError } from '../errors';
import { type ArchiveSummary, PmtilesWriter } from './pmtiles';
import { cityCatalogue } from '../catalogue/city';
import { type TileLayer, tileLayersOf } from './registry';
import { type TileAddress, filterValues, queryTile, vectorLayerOf } from './service';

/**
 * Layers an archive may hold: anyone holding the file sees everything in it, so only layers every role reads in
 * full (no band limited to a reader's grids, nothing computed per request) are archived.
 */
const tileLayerByName = tileLayersOf(cityCatalogue);

export const publicTileLayers: TileLayer[] = [...tileLayerByName.values()].filter(
  (layer) => roles.every((role) => layer.access.includes(role)) && !layer.computed && layer.sources.every((source) => !source.grid),
);

export interface TileArchiveOptions {
  layers: string[];
  minZoom: number;
  maxZoom: number;
  out: string;
  /** Tile queries in flight at once (one connection each). */
  concurrency: number;
  onZoom?: (zoom: number, tiles: number) => void;
}

/** The layers named, in the order given; a layer that is not public (or does not exist) is refused by name. */
export function archiveLayers(names: string[]): TileLayer[] {
  const wanted = names.length > 0 ? names : publicTileLayers.map((layer) => layer.name);
  const refused = wanted.filter((name) => !publicTileLayers.some((layer) => layer.name === name));
  if (refused.length > 0) {
    throw new BadRequestError(`Not public tile layers: ${refused.join(', ')}; an archive may hold ${publicTileLayers.map((layer) => layer.name).join(', ')}`);
  }
  return [...new Set(wanted)].map((name) => tileLayerByName.get(name)!);
}

type Bounds = [number, number, number, number];

/** Where the layers have data, in WGS84: the tiles outside it are empty. */
async function dataBounds(db: Queryable, layers: TileLayer[]): Promise<Bounds> {
  // boundsTable is a registry constant, never input.
  const extents = layers.map((layer) => `SELECT ST_Extent(geom) AS e FROM ${layer.boundsTable}`).join(' UNION ALL ');
  const { rows } = await db.query<{ bounds: Bounds | null }>(
    `SELECT CASE WHEN e IS NULL THEN NULL ELSE ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] END AS bounds
     FROM (SELECT ST_Extent(e) AS e FROM (${extents}) layer_extents) extent`,
  );
  const bounds = rows[0]?.bounds;
  if (!bounds) throw new BadRequestError(`The layers ${layers.map((layer) => layer.name).join(', ')} hold no geometry: nothing to archive`);
  return bounds;
}

const maxLatitude = 85.0511287798;

function tileColumn(lon: number, zoom: number): number {
  return Math.min(2 ** zoom - 1, Math.max(0, Math.floor(((lon + 180) / 360) * 2 ** zoom)));
}

function tileRow(lat: number, zoom: number): number {
  const rad = (Math.max(-maxLatitude, Math.min(maxLatitude, lat)) * Math.PI) / 180;
  const row = Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * 2 ** zoom);
  return Math.min(2 ** zoom - 1, Math.max(0, row));
}

/** Every tile of the zoom touching the bounds, in ascending tile id (the order a clustered archive stores them). */
function tilesOf(bounds: Bounds, zoom: number): Array<TileAddress & { id: number }> {
  const tiles: Array<TileAddress & { id: number }> = [];
  for (let x = tileColumn(bounds[0], zoom); x <= tileColumn(bounds[2], zoom); x++) {
    for (let y = tileRow(bounds[3], zoom); y <= tileRow(bounds[1], zoom); y++) tiles.push({ z: zoom, x, y, id: zxyToTileId(zoom, x, y) });
  }
  return tiles.sort((a, b) => a.id - b.id);
}

/**
 * One archive tile: the layers' tiles as the server makes them (queryTile, no filters), one after the other. An
 * MVT tile is a list of layers, so the concatenation of single-layer tiles is the tile holding all of them.
 */
async function combinedTile(db: Queryable, layers: TileLayer[], address: TileAddress): Promise<Buffer> {
  const parts = await Promise.all(layers.map((layer) => queryTile(db, layer, address, filterValues(layer, {}))));
  return Buffer.concat(parts);
}

/** Adds the tiles that hold anything, `concurrency` queries at a time; returns how many. */
async function addZoom(db: Queryable, writer: PmtilesWriter, layers: TileLayer[], tiles: Array<TileAddress & { id: number }>, concurrency: number): Promise<number> {
  let added = 0;
  for (let start = 0; start < tiles.length; start += concurrency) {
    const batch = tiles.slice(start, start + concurrency);
    const bodies = await Promise.all(batch.map((tile) => combinedTile(db, layers, tile)));
    batch.forEach((tile, index) => {
      if (bodies[index].length === 0) return;
      writer.addTile(tile.id, zlib.gzipSync(bodies[index]));
      added++;
    });
  }
  return added;
}

/**
 * Writes the layers' tiles of every zoom from minZoom to maxZoom over the data's extent into a PMTiles v3 archive
 * (see pmtiles.ts); empty tiles are left out, as readers expect.
 */
export async function writeTileArchive(db: Queryable, options: TileArchiveOptions): Promise<ArchiveSummary & { layers: string[] }> {
  const layers = archiveLayers(options.layers);
  const bounds = await dataBounds(db, layers);
  const writer = new PmtilesWriter(path.join(os.tmpdir(), `citygrid-pmtiles-${process.pid}-${Date.now()}.data`));
  try {
    for (let zoom = options.minZoom; zoom <= options.maxZoom; zoom++) options.onZoom?.(zoom, await addZoom(db, writer, layers, tilesOf(bounds, zoom), options.concurrency));
  } catch (error) {
    writer.discard();
    throw error;
  }
  const centerZoom = Math.max(options.minZoom, Math.min(options.maxZoom, 13));
  const summary = await writer.finish(options.out, {
    minZoom: options.minZoom,
    maxZoom: options.maxZoom,
    bounds,
    center: [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, centerZoom],
    metadata: {
      name: 'citygrid',
      description: `citygrid public map layers: ${layers.map((layer) => layer.name).join(', ')}`,
      type: 'overlay',
      vector_layers: layers.map((layer) => vectorLayerOf(layer)),
    },
  });
  return { ...summary, layers: layers.map((layer) => layer.name) };
}
