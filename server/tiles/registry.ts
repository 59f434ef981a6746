// The tile layers, derived from the layer catalogue: each band's SQL is built here once, at start-up.
import type { Role } from '../auth/roles';
import { attributeFields, attributeSql, fieldType } from '../catalogue/attributes';
import type { Catalogue } from '../catalogue/catalogue';
import type { CatalogueLayer, FieldType, GeometryType, StyleHint, TileBand, TileFilter } from '../catalogue/types';
import { identifier, tableAs } from '../db/identifiers';
import { buildTileQuery, type TileQuery, type TileSource } from './sql';

export type { FieldType, TileFilter } from '../catalogue/types';

/** A band with its prepared query. */
export interface TileBandSource extends TileSource {
  query: TileQuery;
}

export interface TileLayer {
  name: string;
  title: { zh: string; en: string };
  description: string;
  geometryType: GeometryType;
  access: readonly Role[];
  filters: Record<string, TileFilter>;
  /** SQL bands; empty for a computed layer. */
  sources: TileBandSource[];
  /** A layer made in Node (catalogue: tiles.computed): its zoom range and fields. */
  computed?: { minzoom: number; maxzoom: number; fields: Record<string, FieldType> };
  changesEverywhere?: boolean;
  /** Layers whose changes alter this layer's tiles (incident counts are drawn on grid polygons). */
  changedBy: readonly string[];
  /** WGS84 table whose extent is the TileJSON bounds. */
  boundsTable: string;
  style?: StyleHint;
}

const defaultLimit = 20_000;

/** Name → type of every field the layer's tiles carry (grid_id and expressions included). */
function tileFields(layer: CatalogueLayer): Record<string, FieldType> {
  const types = new Map(attributeFields(layer.attributes).map((field) => [field.name, field.type]));
  return Object.fromEntries(
    (layer.tiles?.fields ?? []).map((name) => [name, name === 'grid_id' ? 'Number' : fieldType(types.get(name) ?? 'string')]),
  );
}

/** The layer's own rows over one band: columns of its table, alias `t`. */
function ownRows(layer: CatalogueLayer, band: TileBand): TileSource {
  const tiles = layer.tiles!;
  const types = new Map(attributeFields(layer.attributes).map((field) => [field.name, field.type]));
  const column = (name: string) => `t.${identifier(name)}`;
  const attributes = Object.fromEntries(
    Object.entries(tileFields(layer)).map(([name, type]) => {
      const sql = tiles.expressions?.[name] ?? (name === 'grid_id' ? column(name) : attributeSql(types.get(name) ?? 'string', column(name)));
      return [name, { sql, type }];
    }),
  );
  return {
    minzoom: band.minzoom,
    maxzoom: band.maxzoom,
    from: tableAs(layer.table!, 't'),
    geometry: column(layer.geometry!.tileColumn!),
    id: column(tiles.idColumn ?? 'id'),
    attributes,
    where: band.where,
    simplifyPixels: band.simplifyPixels,
    limit: band.limit ?? defaultLimit,
    grid: tiles.gridScoped ? column('grid_id') : undefined,
    owner: layer.owner ? column(layer.owner) : undefined,
  };
}

function bandSource(layer: CatalogueLayer, band: TileBand): TileSource {
  if (!band.summary) return ownRows(layer, band);
  const { summary, minzoom, maxzoom, where, simplifyPixels, limit } = band;
  return { ...summary, minzoom, maxzoom, where, simplifyPixels, limit: limit ?? defaultLimit, aggregate: true };
}

function tileLayerOf(layer: CatalogueLayer): TileLayer {
  const tiles = layer.tiles!;
  const filters = tiles.filters ?? {};
  return {
    name: layer.name,
    title: layer.title,
    description: layer.description,
    geometryType: layer.geometry?.type ?? 'Geometry',
    access: layer.read,
    filters,
    sources: tiles.computed
      ? []
      : tiles.bands.map((band, index) => {
          const source = bandSource(layer, band);
          return { ...source, query: buildTileQuery(layer.name, filters, source, index) };
        }),
    computed: tiles.computed ? { minzoom: tiles.bands[0].minzoom, maxzoom: tiles.bands[tiles.bands.length - 1].maxzoom, fields: tileFields(layer) } : undefined,
    changesEverywhere: tiles.changesEverywhere,
    changedBy: tiles.changedBy ?? [layer.name],
    boundsTable: tiles.boundsTable ?? layer.table!,
    style: layer.style,
  };
}

/** Every tiled layer of the catalogue by name, in catalogue order. */
export function tileLayersOf(catalogue: Catalogue): Map<string, TileLayer> {
  return new Map(catalogue.layers.filter((layer) => layer.tiles).map((layer) => [layer.name, tileLayerOf(layer)]));
}

export function sourceAtZoom(layer: TileLayer, z: number): { source: TileBandSource; index: number } | undefined {
  const index = layer.sources.findIndex((source) => z >= source.minzoom && z <= source.maxzoom);
  return index < 0 ? undefined : { source: layer.sources[index], index };
}

export function layerZoomRange(layer: TileLayer): { minzoom: number; maxzoom: number } {
  if (layer.computed) return { minzoom: layer.computed.minzoom, maxzoom: layer.computed.maxzoom };
  return { minzoom: Math.min(...layer.sources.map((s) => s.minzoom)), maxzoom: Math.max(...layer.sources.map((s) => s.maxzoom)) };
}

/** The TileJSON `fields` of a layer: every attribute of every band. */
export function layerFields(layer: TileLayer): Record<string, FieldType> {
  return layer.computed?.fields ?? Object.fromEntries(layer.sources.flatMap((source) => Object.entries(source.attributes).map(([name, a]) => [name, a.type])));
}
