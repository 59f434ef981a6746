import { fromGeojsonVt } from '@maplibre/vt-pbf';
import GeoJSONVT from 'geojson-vt';
import type { Clock } from '../deps';
import { cellPolygon } from '../geo/h3';
import type { TileAddress, TileFilters, TileRenderer } from '../tiles/service';
import { spanEnd } from './parameters';
import type { GiCell, HotspotService } from './service';

const tileExtent = 4096;
const layerName = 'hotspots';

/** H3 resolution drawn at a zoom when the request names none: a cell some 20–60 pixels across. */
export function resolutionAtZoom(z: number): number {
  if (z <= 9) return 6;
  if (z <= 11) return 7;
  if (z <= 12) return 8;
  if (z <= 14) return 9;
  return 10;
}

type TileIndex = GeoJSONVT;

/** One geojson-vt index per Gi* result: a result's cells are cut into tiles once, whatever tiles are asked for. */
const indexes = new WeakMap<object, TileIndex>();

function tileIndex(result: { cells: GiCell[] }): TileIndex {
  let index = indexes.get(result);
  if (!index) {
    const features = result.cells.map((cell) => ({
      type: 'Feature' as const,
      properties: { hex: cell.hex, count: cell.count, z: cell.z, p: cell.p, class: cell.class },
      geometry: cellPolygon(cell.hex),
    }));
    index = new GeoJSONVT({ type: 'FeatureCollection', features }, { maxZoom: 22, indexMaxZoom: 0, extent: tileExtent, buffer: 64, tolerance: 1 });
    indexes.set(result, index);
  }
  return index;
}

/**
 * The hotspots tile layer: Gi* cells of the whole city (or `grid`) from the same cached results as
 * /api/hotspots/gi, polygons from h3-js cellToBoundary, cut by geojson-vt and encoded by vt-pbf.
 */
export function hotspotTiles(hotspots: HotspotService, clock: Clock): TileRenderer {
  return {
    // Without `to` the span ends now (rounded to the minute): a tile cached a minute ago shows another span.
    keyOf: (filters) => (filters.to === undefined ? `@${spanEnd(undefined, clock).toISOString()}` : ''),
    async render({ z, x, y }: TileAddress, filters: TileFilters) {
      const text = (name: string) => (filters[name] === undefined ? undefined : String(filters[name]));
      const result = await hotspots.gi(null, {
        source: text('source') === 'accidents' ? 'accidents' : 'incidents',
        res: filters.res === undefined ? resolutionAtZoom(z) : Number(filters.res),
        from: text('from'),
        to: text('to'),
        category: text('category'),
        status: text('status'),
        grid: filters.grid === undefined ? undefined : Number(filters.grid),
        k: filters.k === undefined ? 1 : Number(filters.k),
        fdr: filters.fdr === 'true',
      });
      const tile = tileIndex(result).getTile(z, x, y);
      if (!tile || tile.features.length === 0) return Buffer.alloc(0);
      return Buffer.from(fromGeojsonVt({ [layerName]: tile as never }, { version: 2, extent: tileExtent }));
    },
  };
}
