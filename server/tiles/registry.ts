import { z } from 'zod';
import { allRoles, riskRoles, type Role } from '../auth/roles';
import { isoDateTime, wholeNumber } from '../http/request-schemas';

/** MVT field types as TileJSON's vector_layers name them. */
export type FieldType = 'Number' | 'String' | 'Boolean';

export interface TileFilter {
  schema: z.ZodType;
  /** The PostgreSQL type the bound value is cast to. */
  sqlType: 'text' | 'int' | 'timestamptz';
  description: string;
}

/**
 * What one layer shows over one zoom band. SQL fragments are constants of this file, never user input; a
 * `{filter}` token becomes the bound parameter of that filter (NULL when the request leaves it out), `{z}` the zoom.
 * The tile query always selects `id`, the geometry and the attributes from `from`, restricted to rows whose
 * `geometry` touches the tile (plus buffer) so the GIST index on geom_3857 does the search.
 */
export interface TileSource {
  minzoom: number;
  maxzoom: number;
  from: string;
  /** EPSG:3857 geometry expression with a GIST index. */
  geometry: string;
  id: string;
  attributes: Record<string, { sql: string; type: FieldType }>;
  where?: string;
  /** Tolerance in tile pixels (of 4096) for ST_Simplify (collapsed parts kept); lines and polygons only. */
  simplifyPixels?: number;
  /** Feature limit per tile, so no tile of a dense band grows past the size budget. */
  limit: number;
  /**
   * The features summarise rows drawn elsewhere (incident counts on grid polygons): a change may alter a feature
   * far from the change's bbox, so a change drops every cached tile of this band, unless its event names the
   * area of the summaries it alters (an incident event carries the extent of the incident's grid).
   */
  aggregate?: boolean;
  /** SQL of the row's level-4 grid: a reader limited to grids (a grid worker, gridScope) sees only rows of theirs. */
  grid?: string;
}

/**
 * A layer made in Node rather than SQL (H3 hotspot cells, which need h3-js): its tiles come from the renderer
 * registered under the layer's name (TileService), through the same cache, ETags and invalidation.
 */
export interface ComputedTiles {
  minzoom: number;
  maxzoom: number;
  fields: Record<string, FieldType>;
}

export interface TileLayer {
  name: string;
  description: string;
  access: readonly Role[];
  filters: Record<string, TileFilter>;
  /** SQL bands; empty for a computed layer. */
  sources: TileSource[];
  computed?: ComputedTiles;
  /**
   * Every feature depends on every row (Gi* compares each cell with the study area's mean and deviation): a
   * change of a layer in changedBy drops all of this layer's tiles, wherever it happened.
   */
  changesEverywhere?: boolean;
  /** Layers whose changes alter this layer's tiles (incident counts are drawn on grid polygons). */
  changedBy: string[];
  /** WGS84 table whose extent is the TileJSON bounds. */
  boundsTable: string;
}

const incidentFilters: Record<string, TileFilter> = {
  category: { schema: z.string().min(1).max(100), sqlType: 'text', description: 'Only incidents of this category' },
  status: { schema: z.string().min(1).max(50), sqlType: 'text', description: 'Only incidents in this status' },
  from: { schema: isoDateTime, sqlType: 'timestamptz', description: 'Reported at or after (ISO 8601)' },
  to: { schema: isoDateTime, sqlType: 'timestamptz', description: 'Reported before (ISO 8601)' },
};

const incidentWhere = `({category} IS NULL OR f.category = {category})
  AND ({status} IS NULL OR f.status = {status})
  AND ({from} IS NULL OR f.reported_at >= {from})
  AND ({to} IS NULL OR f.reported_at < {to})`;

const gridAttributes = {
  code: { sql: 't.code', type: 'String' },
  name: { sql: 't.name', type: 'String' },
  level: { sql: 't.level', type: 'Number' },
} as const;

/** Grid level drawn at a zoom when the request names none: districts far out, level-4 grids close in. */
function gridBand(level: number, minzoom: number, maxzoom: number): TileSource {
  return {
    minzoom,
    maxzoom,
    from: 'grids t',
    geometry: 't.geom_3857',
    id: 't.id',
    attributes: { ...gridAttributes, parent_id: { sql: 't.parent_id', type: 'Number' } },
    where: `t.level = coalesce({level}, ${level})`,
    simplifyPixels: 1,
    limit: 20_000,
  };
}

function pointSource(table: string, minzoom: number, attributes: TileSource['attributes'], limit = 20_000): TileSource {
  return { minzoom, maxzoom: 22, from: `${table} t`, geometry: 't.geom_3857', id: 't.id', attributes, limit };
}

export const tileLayers: TileLayer[] = [
  {
    name: 'land_cover',
    description: 'Water and parks (kind water|park), drawn by the basemap under the streets',
    access: allRoles,
    filters: {},
    sources: [
      {
        minzoom: 0,
        maxzoom: 22,
        from: 'land_cover t',
        geometry: 't.geom_3857',
        id: 't.id',
        attributes: { kind: { sql: 't.kind', type: 'String' }, name: { sql: 't.name', type: 'String' } },
        simplifyPixels: 1,
        limit: 20_000,
      },
    ],
    changedBy: ['land_cover'],
    boundsTable: 'land_cover',
  },
  {
    name: 'grids',
    description: 'Grid polygons; the level follows the zoom unless `level` is given',
    access: allRoles,
    filters: { level: { schema: wholeNumber({ min: 1, max: 4 }), sqlType: 'int', description: 'Grid level 1–4' } },
    sources: [gridBand(1, 0, 10), gridBand(2, 11, 12), gridBand(3, 13, 13), gridBand(4, 14, 22)],
    changedBy: ['grids'],
    boundsTable: 'grids',
  },
  {
    name: 'buildings',
    description: 'Building footprints (from z13)',
    access: allRoles,
    filters: {},
    sources: [
      {
        minzoom: 13,
        maxzoom: 22,
        from: 'buildings t',
        geometry: 't.geom_3857',
        id: 't.id',
        attributes: {
          code: { sql: 't.code', type: 'String' },
          use: { sql: 't.use', type: 'String' },
          floors: { sql: 't.floors', type: 'Number' },
          grid_id: { sql: 't.grid_id', type: 'Number' },
        },
        simplifyPixels: 0.5,
        limit: 20_000,
      },
    ],
    changedBy: ['buildings'],
    boundsTable: 'buildings',
  },
  {
    name: 'hazards',
    description: 'Hazard sources',
    access: allRoles,
    filters: {},
    sources: [
      pointSource('hazards', 0, {
        name: { sql: 't.name', type: 'String' },
        kind: { sql: 't.kind', type: 'String' },
        risk_level: { sql: 't.risk_level', type: 'Number' },
        next_inspection_due: { sql: 't.next_inspection_due::text', type: 'String' },
      }),
    ],
    changedBy: ['hazards'],
    boundsTable: 'hazards',
  },
  {
    name: 'key_places',
    description: 'Key places (schools, markets, ...)',
    access: allRoles,
    filters: {},
    sources: [
      pointSource('key_places', 0, {
        name: { sql: 't.name', type: 'String' },
        kind: { sql: 't.kind', type: 'String' },
        capacity: { sql: 't.capacity', type: 'Number' },
      }),
    ],
    changedBy: ['key_places'],
    boundsTable: 'key_places',
  },
  {
    name: 'incidents',
    description: 'Incidents: counts per level-4 grid below z15, single incidents from z15',
    access: allRoles,
    filters: incidentFilters,
    sources: [
      {
        minzoom: 0,
        maxzoom: 14,
        // Counts are whole-grid counts, so a grid shows the same number in every tile it crosses.
        from: `grids t CROSS JOIN LATERAL (
          SELECT count(*)::int AS n FROM incidents f WHERE f.grid_id = t.id AND ${incidentWhere}) c`,
        geometry: 't.geom_3857',
        id: 't.id',
        attributes: { ...gridAttributes, incident_count: { sql: 'c.n', type: 'Number' } },
        where: 't.level = 4 AND c.n > 0',
        simplifyPixels: 1,
        limit: 20_000,
        aggregate: true,
        grid: 't.id',
      },
      {
        minzoom: 15,
        maxzoom: 22,
        from: 'incidents f',
        geometry: 'f.geom_3857',
        id: 'f.id',
        attributes: {
          category: { sql: 'f.category', type: 'String' },
          status: { sql: 'f.status', type: 'String' },
          source: { sql: 'f.source', type: 'String' },
          reported_at: { sql: "to_char(f.reported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", type: 'String' },
          grid_id: { sql: 'f.grid_id', type: 'Number' },
        },
        // An imported report at a placeholder point (sql/130) has no real location to draw.
        where: `${incidentWhere} AND NOT f.location_placeholder`,
        limit: 20_000,
        grid: 'f.grid_id',
      },
    ],
    changedBy: ['incidents', 'grids'],
    boundsTable: 'incidents',
  },
  {
    name: 'hotspots',
    description: 'H3 cells with incident (or accident) count and Getis-Ord Gi* z, p and class −3…+3; resolution by zoom unless res is given',
    // Grid workers read hotspots of their own grids through /api/hotspots: tiles are cached for every caller alike.
    access: ['admin', 'planner', 'commander', 'police'],
    filters: {
      source: { schema: z.enum(['incidents', 'accidents']), sqlType: 'text', description: 'incidents (default) or accidents' },
      res: { schema: wholeNumber({ min: 6, max: 10 }), sqlType: 'int', description: 'H3 resolution 6–10 instead of the one of the zoom' },
      ...incidentFilters,
      category: { schema: z.string().min(1).max(100), sqlType: 'text', description: 'Incident category, or accident severity' },
      from: { ...incidentFilters.from, description: 'Start of the span (ISO 8601); default 30 days before to' },
      to: { ...incidentFilters.to, description: 'End of the span (ISO 8601); default now' },
      k: { schema: wholeNumber({ min: 1, max: 3 }), sqlType: 'int', description: 'Gi* neighbourhood: gridDisk(k), default 1' },
      fdr: { schema: z.enum(['true', 'false']), sqlType: 'text', description: 'Benjamini–Hochberg correction of the classes' },
      grid: { schema: wholeNumber({ min: 1 }), sqlType: 'int', description: 'Study area: this grid instead of the city' },
    },
    sources: [],
    computed: { minzoom: 8, maxzoom: 22, fields: { hex: 'String', count: 'Number', z: 'Number', p: 'Number', class: 'Number' } },
    changesEverywhere: true,
    changedBy: ['incidents', 'accidents', 'grids'],
    boundsTable: 'grids',
  },
  {
    name: 'roads',
    description: 'Roads; local roads from z13',
    access: allRoles,
    filters: {},
    sources: [
      {
        minzoom: 0,
        maxzoom: 22,
        from: 'roads t',
        geometry: 't.geom_3857',
        id: 't.id',
        attributes: {
          name: { sql: 't.name', type: 'String' },
          kind: { sql: 't.kind', type: 'String' },
          lanes: { sql: 't.lanes', type: 'Number' },
          speed_limit: { sql: 't.speed_limit', type: 'Number' },
        },
        where: "(t.kind <> 'local' OR {z} >= 13)",
        simplifyPixels: 1,
        limit: 20_000,
      },
    ],
    changedBy: ['roads'],
    boundsTable: 'roads',
  },
  {
    name: 'accidents',
    description: 'Road accidents (from z13)',
    access: allRoles,
    filters: {},
    sources: [
      pointSource('accidents', 13, {
        severity: { sql: 't.severity', type: 'String' },
        occurred_at: { sql: "to_char(t.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", type: 'String' },
        vehicles: { sql: 't.vehicles', type: 'Number' },
        casualties: { sql: 't.casualties', type: 'Number' },
        road_id: { sql: 't.road_id', type: 'Number' },
      }),
    ],
    changedBy: ['accidents'],
    boundsTable: 'accidents',
  },
  {
    name: 'risk',
    description: 'Predicted accident risk per road segment (or H3 cell) for the 2-hour window containing `at` (default: now)',
    access: riskRoles,
    filters: { at: { schema: z.iso.datetime({ offset: true }), sqlType: 'timestamptz', description: 'A time inside the predicted window (ISO 8601)' } },
    sources: [
      {
        minzoom: 0,
        maxzoom: 22,
        from: 'risk_predictions t',
        geometry: 't.geom_3857',
        id: 't.rank',
        attributes: {
          unit_key: { sql: 't.unit_key', type: 'String' },
          road_id: { sql: 't.road_id', type: 'Number' },
          expected: { sql: 't.expected', type: 'Number' },
          level: { sql: 't.level', type: 'Number' },
          rank: { sql: 't.rank', type: 'Number' },
          window_start: { sql: "to_char(t.window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", type: 'String' },
          top_feature: { sql: "t.top_features -> 0 ->> 'label'", type: 'String' },
        },
        where: 't.window_start <= coalesce({at}, now()) AND t.window_end > coalesce({at}, now()) AND (t.level >= 3 OR {z} >= 13)',
        simplifyPixels: 1,
        limit: 20_000,
      },
    ],
    changedBy: ['risk'],
    boundsTable: 'risk_predictions',
  },
  {
    name: 'patrol_tracks',
    description: 'Patrol tracks of grid workers (from z13)',
    // Where a named worker walked is staff data: not for the hotline desk, and for grid workers their grids' tracks.
    access: ['admin', 'planner', 'commander', 'police', 'grid_worker'],
    filters: {},
    sources: [
      {
        minzoom: 13,
        maxzoom: 22,
        from: 'patrol_tracks t',
        geometry: 't.geom_3857',
        id: 't.id',
        attributes: {
          worker: { sql: 't.worker', type: 'String' },
          grid_id: { sql: 't.grid_id', type: 'Number' },
          started_at: { sql: "to_char(t.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", type: 'String' },
        },
        simplifyPixels: 1,
        limit: 20_000,
        grid: 't.grid_id',
      },
    ],
    changedBy: ['patrol_tracks'],
    boundsTable: 'patrol_tracks',
  },
];

export const tileLayerByName = new Map(tileLayers.map((layer) => [layer.name, layer]));

export function sourceAtZoom(layer: TileLayer, z: number): { source: TileSource; index: number } | undefined {
  const index = layer.sources.findIndex((source) => z >= source.minzoom && z <= source.maxzoom);
  return index < 0 ? undefined : { source: layer.sources[index], index };
}

export function layerZoomRange(layer: TileLayer): { minzoom: number; maxzoom: number } {
  if (layer.computed) return { minzoom: layer.computed.minzoom, maxzoom: layer.computed.maxzoom };
  return { minzoom: Math.min(...layer.sources.map((s) => s.minzoom)), maxzoom: Math.max(...layer.sources.map((s) => s.maxzoom)) };
}
