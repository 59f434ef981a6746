import type { z } from 'zod';
import type { Role } from '../auth/roles';

/** Stored geometry type (PostGIS typmod); `Geometry` for a table that mixes types (risk: road lines or H3 cells). */
export type GeometryType = 'Point' | 'LineString' | 'Polygon' | 'MultiPolygon' | 'Geometry';

/**
 * How a row's level-4 grid follows from its geometry; the row keeps it in `grid_id`, set on every insert and
 * moved by every grid edit (grids/membership.ts):
 * - `point`: the grid holding the point (grid_at, sql/004);
 * - `point-on-surface`: the grid holding a point surely inside the footprint (the centroid of an L-shaped block
 *   may fall outside it);
 * - `longest-stretch`: the grid holding the longest stretch of a line (track_grid_at, sql/050).
 */
export type GridPlacement = 'point' | 'point-on-surface' | 'longest-stretch';

/** A tile query parameter: its `{name}` token in a band's SQL becomes the bound value (NULL when not given). */
export interface TileFilter {
  schema: z.ZodType;
  /** The PostgreSQL type the bound value is cast to. */
  sqlType: 'text' | 'int' | 'timestamptz';
  description: string;
}

/** MVT field types as TileJSON's vector_layers name them. */
export type FieldType = 'Number' | 'String' | 'Boolean';

/**
 * A band drawn from other rows than the layer's own (incident counts on grid polygons): its own SQL, constants of
 * the catalogue, never user input.
 */
export interface SummaryBandSource {
  from: string;
  /** EPSG:3857 geometry expression with a GIST index. */
  geometry: string;
  id: string;
  attributes: Record<string, { sql: string; type: FieldType }>;
  /** SQL of the row's level-4 grid, for readers limited to grids. */
  grid?: string;
}

/** What the layer shows over one zoom band. */
export interface TileBand {
  minzoom: number;
  maxzoom: number;
  /**
   * Extra condition on the layer's rows (alias `t`); `{filter}` tokens become that filter's bound value, `{z}` the
   * zoom.
   */
  where?: string;
  /** Tolerance in tile pixels (of 4096) for ST_Simplify (collapsed parts kept); lines and polygons only. */
  simplifyPixels?: number;
  /** Feature limit per tile, so no tile of a dense band grows past the size budget (default 20,000). */
  limit?: number;
  /**
   * The features summarise rows drawn elsewhere: a change may alter a feature far from the change's bbox, so a
   * change drops every cached tile of this band, unless its event names the area of the summaries it alters.
   */
  summary?: SummaryBandSource;
}

export interface LayerTiles {
  /** Zoom bands, in zoom order. A computed layer has one, its zoom range. */
  bands: TileBand[];
  /** Attributes written into the tiles, in order; `grid_id` for grid members. */
  fields: readonly string[];
  /** SQL (alias `t`) of fields that are not plain columns. */
  expressions?: Record<string, string>;
  /** The column that is the MVT feature id (default `id`). */
  idColumn?: string;
  filters?: Record<string, TileFilter>;
  /** Staff data: a grid worker sees only the rows of their own grids (by the row's grid). */
  gridScoped?: boolean;
  /**
   * Tiles made in Node rather than SQL (H3 hotspot cells, which need h3-js): the renderer registered under the
   * layer's name makes them, through the same cache, ETags and invalidation.
   */
  computed?: boolean;
  /** Layers whose changes alter this layer's tiles (default: the layer itself). */
  changedBy?: readonly string[];
  /** Every feature depends on every row (Gi* compares each cell with the study area): any change drops all tiles. */
  changesEverywhere?: boolean;
  /** WGS84 table whose extent is the TileJSON bounds (default: the layer's table). */
  boundsTable?: string;
}

/** Served by the generic feature API (/api/layers/<name>: list, read, create, change, delete, import, export). */
export interface FeatureApi {
  write: readonly Role[];
  /** Attributes a list may be narrowed to by equality (`?kind=school`). */
  listFilters: readonly string[];
}

/** How the web map draws the layer by default, and its legend swatch; layers without one are not on the city map. */
export interface StyleHint {
  kind: 'fill' | 'line' | 'circle';
  color: string;
  /** Drawing order on the city map, bottom (0) to top. */
  order: number;
}

/** One spatial layer, declared once: every other part of the server derives what it needs from this. */
export interface CatalogueLayer {
  /** URL name, MVT layer name, OGC collection id. */
  name: string;
  title: { zh: string; en: string };
  description: string;
  /** The table of its rows; none for a computed layer. */
  table?: string;
  /**
   * WGS84 geometry column (`geom`), and for tiled tables its EPSG:3857 copy with a GIST index (`geom_3857`).
   * null: the rows have no geometry of their own (people are located by their building).
   */
  geometry: { type: GeometryType; column: string; tileColumn?: string } | null;
  /** Attribute columns with their types and rules, named as in the table. */
  attributes: z.ZodObject;
  /** The attribute that places a row in time, if any (OGC `datetime`, temporal filters). */
  temporal?: string;
  read: readonly Role[];
  /** Personal data: readable only by admin and by grid workers of the row's grid, row by row. */
  personal?: boolean;
  /** How its rows are members of level-4 grids; absent: they are not. */
  grid?: GridPlacement;
  /**
   * Column naming the worker whose trace the row is: a grid worker reads only their own rows, in tiles and OGC
   * alike (colleagues' tracks through the same grid are theirs, not the reader's).
   */
  owner?: string;
  features?: FeatureApi;
  tiles?: LayerTiles;
  style?: StyleHint;
}
